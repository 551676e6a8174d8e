package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory/access"
)

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r0 := e.codeFlow(e.browser(), nil)
		r1 := e.refresh(e.public, r0.str("refresh_token"), nil)
		if r1.status != 200 {
			t.Fatalf("%d %v", r1.status, r1.body)
		}
		r2 := e.refresh(e.public, r1.str("refresh_token"), nil)
		if r2.status != 200 {
			t.Fatalf("%d %v", r2.status, r2.body)
		}
		// The first token again: reuse.
		if r := e.refresh(e.public, r0.str("refresh_token"), nil); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("reuse: %d %v", r.status, r.body)
		}
		// The whole family is gone, including the newest token.
		if r := e.refresh(e.public, r2.str("refresh_token"), nil); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("newest token after reuse: %d %v", r.status, r.body)
		}
	})
}

func TestConcurrentRefreshesOfOneTokenLeaveNoSurvivor(t *testing.T) {
	// Strict rotation (docs/security.md; Hydra #3604): at most one of many
	// concurrent refreshes of one token succeeds, and the reuse revokes
	// the family, the winner's new token included.
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r0 := e.codeFlow(e.browser(), nil)
		var wg sync.WaitGroup
		results := make([]tokenResponse, 8)
		for i := range results {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = e.refresh(e.public, r0.str("refresh_token"), nil) }()
		}
		wg.Wait()
		var winners []string
		for _, r := range results {
			if r.status == 200 {
				winners = append(winners, r.str("refresh_token"))
			} else if r.str("error") != "invalid_grant" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		}
		if len(winners) > 1 {
			t.Fatalf("%d concurrent refreshes succeeded", len(winners))
		}
		for _, w := range winners {
			if r := e.refresh(e.public, w, nil); r.status != 400 {
				t.Fatalf("the winner's token survived the reuse: %d", r.status)
			}
		}
	})
}

func TestRefreshScopeMayNarrowNeverWiden(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r0 := e.codeFlow(e.browser(), url.Values{"scope": {"openid email offline_access"}})
		r1 := e.refresh(e.public, r0.str("refresh_token"), url.Values{"scope": {"email"}})
		if r1.status != 200 || r1.str("scope") != "email" || r1.str("id_token") != "" {
			t.Fatalf("narrowed: %d %v", r1.status, r1.body)
		}
		if _, c := claimsOf(t, r1.str("access_token")); c.Scope != "email" {
			t.Errorf("scope claim %q", c.Scope)
		}
		// The family keeps its scope: the next refresh without scope gets it all.
		r2 := e.refresh(e.public, r1.str("refresh_token"), nil)
		if r2.status != 200 || r2.str("scope") != "openid email offline_access" || r2.str("id_token") == "" {
			t.Fatalf("full scope again: %d %v", r2.status, r2.body)
		}
		r3 := e.refresh(e.public, r2.str("refresh_token"), url.Values{"scope": {"openid profile"}})
		if r3.status != 400 || r3.str("error") != "invalid_scope" {
			t.Fatalf("widened: %d %v", r3.status, r3.body)
		}
		// A refused widening does not spend the token.
		if r := e.refresh(e.public, r2.str("refresh_token"), nil); r.status != 200 {
			t.Fatalf("after a refused widening: %d %v", r.status, r.body)
		}
	})
}

func TestRefreshRechecksMembershipOrgAndConnection(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		t.Run("member removed", func(t *testing.T) {
			u := e.newMember(e.org.ID, "grace-"+randomSuffix()+"@acme.example", "Grace Hopper", access.RolePlatformMember)
			e.setSignIn(func(id *identity) { id.userID = u.ID })
			defer e.setSignIn(func(id *identity) { id.userID = e.user.ID })
			b := e.browser()
			r0 := e.codeFlow(b, nil)
			if err := e.store.RemoveMember(ctx, "system:test", e.org.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			if r := e.refresh(e.public, r0.str("refresh_token"), nil); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("refresh after removal: %d %v", r.status, r.body)
			}
			// Re-adding the member does not revive the family.
			if _, err := e.store.AddMember(ctx, "system:test", e.org.ID, u.ID, access.RolePlatformMember); err != nil {
				t.Fatal(err)
			}
			if r := e.refresh(e.public, r0.str("refresh_token"), nil); r.status != 400 {
				t.Fatalf("family revived: %d %v", r.status, r.body)
			}
			if err := e.store.RemoveMember(ctx, "system:test", e.org.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			// The browser's session no longer gets a code without signing in.
			n := e.loginCount()
			_, challenge := pkce()
			o := b.navigate(e.authzURL(e.public, spaRedirectURI, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s"}}))
			if e.loginCount() != n+1 || o.param("error") != "access_denied" || o.param("state") != "s" {
				t.Fatalf("removed member's session: logins %d→%d, %v", n, e.loginCount(), o.callback)
			}
		})
		t.Run("connection disabled", func(t *testing.T) {
			conn := e.newConnection(e.org.ID)
			e.setSignIn(func(id *identity) { id.connID = conn.ID })
			defer e.setSignIn(func(id *identity) { id.connID = e.conn.ID })
			r0 := e.codeFlow(e.browser(), nil)
			at := r0.str("access_token")
			if resp, _ := e.userinfo(http.MethodGet, at); resp.StatusCode != http.StatusOK {
				t.Fatalf("userinfo before disabling: %d", resp.StatusCode)
			}
			conn.Enabled = false
			if _, err := e.store.UpdateConnection(ctx, "system:test", conn); err != nil {
				t.Fatal(err)
			}
			// The access token is refused at once wherever the broker accepts it.
			if resp, _ := e.userinfo(http.MethodGet, at); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("userinfo through a disabled connection: %d", resp.StatusCode)
			}
			if _, err := e.issuer.VerifyAccessToken(ctx, at); !errors.Is(err, tokens.ErrInvalidAccessToken) {
				t.Fatalf("VerifyAccessToken through a disabled connection: %v", err)
			}
			if r := e.refresh(e.public, r0.str("refresh_token"), nil); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("refresh through a disabled connection: %d %v", r.status, r.body)
			}
			conn.Enabled = true
			if _, err := e.store.UpdateConnection(ctx, "system:test", conn); err != nil {
				t.Fatal(err)
			}
			if r := e.refresh(e.public, r0.str("refresh_token"), nil); r.status != 400 {
				t.Fatalf("family revived by re-enabling: %d", r.status)
			}
		})
		t.Run("connection deleted", func(t *testing.T) {
			conn := e.newConnection(e.org.ID)
			e.setSignIn(func(id *identity) { id.connID = conn.ID })
			defer e.setSignIn(func(id *identity) { id.connID = e.conn.ID })
			r0 := e.codeFlow(e.browser(), nil)
			if err := e.store.DeleteConnection(ctx, "system:test", e.org.ID, conn.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.issuer.VerifyAccessToken(ctx, r0.str("access_token")); !errors.Is(err, tokens.ErrInvalidAccessToken) {
				t.Fatalf("VerifyAccessToken through a deleted connection: %v", err)
			}
			if r := e.refresh(e.public, r0.str("refresh_token"), nil); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
		t.Run("connection disabled before the code is redeemed", func(t *testing.T) {
			conn := e.newConnection(e.org.ID)
			e.setSignIn(func(id *identity) { id.connID = conn.ID })
			defer e.setSignIn(func(id *identity) { id.connID = e.conn.ID })
			verifier, challenge := pkce()
			o := e.login(e.browser(), e.public, spaRedirectURI, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})
			conn.Enabled = false
			if _, err := e.store.UpdateConnection(ctx, "system:test", conn); err != nil {
				t.Fatal(err)
			}
			if r := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
		t.Run("roles are read at every refresh", func(t *testing.T) {
			r0 := e.codeFlow(e.browser(), nil)
			if _, err := e.store.SetMemberRole(ctx, "system:test", e.org.ID, e.user.ID, access.RoleViewOnly, 0); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_, _ = e.store.SetMemberRole(ctx, "system:test", e.org.ID, e.user.ID, access.RolePlatformMember, 0)
			}()
			r1 := e.refresh(e.public, r0.str("refresh_token"), nil)
			if _, c := claimsOf(t, r1.str("access_token")); c.Org.Role != access.RoleViewOnly {
				t.Fatalf("role %s", c.Org.Role)
			}
		})
	})
}

func TestRefreshTokenIsBoundToItsClient(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r0 := e.codeFlow(e.browser(), nil)
		other, _ := e.newClient(true, nil, spaRedirectURI)
		if r := e.refresh(other, r0.str("refresh_token"), nil); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("%d %v", r.status, r.body)
		}
		// A token presented by another client has leaked: its family is revoked.
		if r := e.refresh(e.public, r0.str("refresh_token"), nil); r.status != 400 {
			t.Fatalf("family survived a foreign client: %d", r.status)
		}
		for _, tok := range []string{"", "garbage", "rf_x." + tokens.RandomToken(), strings.Repeat("a", 5000)} {
			r := e.refresh(e.public, tok, nil)
			if r.status != 400 || (r.str("error") != "invalid_grant" && r.str("error") != "invalid_request") {
				t.Fatalf("%q: %d %v", tok[:min(len(tok), 10)], r.status, r.body)
			}
		}
	})
}

func TestRefreshTokensLiveThirtyDaysByDefault(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r0 := e.codeFlow(e.browser(), nil)
		fam, err := e.sessions.GetRefresh(context.Background(), r0.str("refresh_token"))
		if err != nil {
			t.Fatal(err)
		}
		if d := fam.ExpiresAt.Sub(fam.CreatedAt); d < tokens.DefaultRefreshTokenTTL-time.Minute || d > tokens.DefaultRefreshTokenTTL+time.Minute {
			t.Fatalf("family lives %v", d)
		}
		if fam.ClientID != e.public.ID || fam.UserID != e.user.ID || fam.OrgID != e.org.ID || fam.Scope != "openid profile email offline_access" {
			t.Fatalf("%+v", fam)
		}
		if resp, _ := e.userinfo(http.MethodGet, r0.str("access_token")); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
	})
}

package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens"
)

// twoOrgs is a user of the env's org who is also a member of a second org.
type twoOrgs struct {
	b   directory.Organization
	wsB directory.Workspace
	// stranger is an org the user is not a member of.
	stranger directory.Organization
}

func (e *oidcEnv) secondOrg(role access.OrgRole) twoOrgs {
	e.t.Helper()
	ctx := context.Background()
	var o twoOrgs
	var err error
	if o.b, o.wsB, err = e.store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Beta " + randomSuffix()}); err != nil {
		e.t.Fatal(err)
	}
	// An admin who stays, so that the user may leave.
	e.newMember(o.b.ID, "root-"+randomSuffix()+"@beta.example", "Root", access.RoleAdmin)
	if _, err := e.store.AddMember(ctx, "system:test", o.b.ID, e.user.ID, role); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.PutWorkspaceMember(ctx, "system:test", o.b.ID, o.wsB.ID, e.user.ID, access.Membership{Role: access.WorkspaceMember}); err != nil {
		e.t.Fatal(err)
	}
	if o.stranger, _, err = e.store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Gamma " + randomSuffix()}); err != nil {
		e.t.Fatal(err)
	}
	return o
}

// exchangeAs posts a token exchange of subject (of type typ) as client.
func (e *oidcEnv) exchangeAs(client directory.Client, subject, typ string, extra url.Values) tokenResponse {
	e.t.Helper()
	form := url.Values{"grant_type": {tokens.GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {typ}}
	for k, v := range extra {
		form[k] = v
	}
	if client.Public {
		form.Set("client_id", client.ID)
		return e.token(form, "", "")
	}
	return e.token(form, client.ID, e.secret)
}

func wantOAuthError(t *testing.T, r tokenResponse, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("want %d %s, got %d %v", status, code, r.status, r.body)
	}
}

// TestTokenExchangeSwitchesOrganization proves RFC 8693 token exchange
// with our own tokens (docs/org-switching.md) on SQLite with in-process
// sessions and on PostgreSQL with Redis.
func TestTokenExchangeSwitchesOrganization(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		o := e.secondOrg(access.RoleOpikMember)
		r := e.codeFlow(e.browser(), nil)
		at, rt := r.str("access_token"), r.str("refresh_token")
		_, subject := claimsOf(t, at)

		t.Run("an access token switches to the other org by id or by name", func(t *testing.T) {
			for _, ref := range []string{o.b.ID, o.b.Name} {
				x := e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {ref}})
				if x.status != http.StatusOK {
					t.Fatalf("exchange to %s: %d %v", ref, x.status, x.body)
				}
				if x.str("issued_token_type") != tokens.TokenTypeAccessToken || x.str("token_type") != "Bearer" || x.str("refresh_token") != "" {
					t.Fatalf("answer = %v", x.body)
				}
				_, c := claimsOf(t, x.str("access_token"))
				if c.Org.ID != o.b.ID || c.Org.Role != access.RoleOpikMember || c.Subject != e.user.ID || c.ClientID != e.public.ID ||
					c.IdP != e.conn.ID || c.SessionID != subject.SessionID {
					t.Fatalf("exchanged claims = %+v", c)
				}
				if c.ExpiresAt > subject.ExpiresAt {
					t.Fatalf("exchanged exp %d outlives the subject's %d", c.ExpiresAt, subject.ExpiresAt)
				}
				// The broker accepts it as its own (signature, issuer, jti).
				if resp, _ := e.userinfo(http.MethodGet, x.str("access_token")); resp.StatusCode != http.StatusOK {
					t.Fatalf("userinfo with the exchanged token: %d", resp.StatusCode)
				}
			}
		})

		t.Run("the switched token switches back, and narrows to a workspace", func(t *testing.T) {
			x := e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}})
			back := e.exchangeAs(e.public, x.str("access_token"), tokens.TokenTypeAccessToken, url.Values{"organization": {e.org.ID}, "workspace": {e.ws.Name}})
			if back.status != http.StatusOK {
				t.Fatalf("switch back: %d %v", back.status, back.body)
			}
			_, c := claimsOf(t, back.str("access_token"))
			if c.Org.ID != e.org.ID || c.Narrowed == nil || c.Narrowed.ID != e.ws.ID || len(c.Workspaces) != 1 {
				t.Fatalf("switched back claims = %+v", c)
			}
			// A narrowed token stays narrowed: no other org or workspace.
			wantOAuthError(t, e.exchangeAs(e.public, back.str("access_token"), tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidTarget)
		})

		t.Run("narrowing to a workspace of the other org in the same exchange", func(t *testing.T) {
			x := e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}, "workspace": {o.wsB.Name}})
			if x.status != http.StatusOK {
				t.Fatalf("exchange: %d %v", x.status, x.body)
			}
			_, c := claimsOf(t, x.str("access_token"))
			if c.Org.ID != o.b.ID || c.Narrowed == nil || c.Narrowed.ID != o.wsB.ID {
				t.Fatalf("claims = %+v", c)
			}
			// A workspace of the org the token is NOT for is not a target.
			wantOAuthError(t, e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}, "workspace": {e.ws.Name}}),
				http.StatusBadRequest, tokens.CodeInvalidTarget)
		})

		t.Run("a refresh token switches and gets a refresh token of a new family with the same bound", func(t *testing.T) {
			x := e.exchangeAs(e.public, rt, tokens.TokenTypeRefreshToken, url.Values{"organization": {o.b.Name}})
			if x.status != http.StatusOK || x.str("refresh_token") == "" || x.str("issued_token_type") != tokens.TokenTypeAccessToken {
				t.Fatalf("exchange: %d %v", x.status, x.body)
			}
			ctx := context.Background()
			subjectFam, err := e.sessions.GetRefresh(ctx, rt)
			if err != nil {
				t.Fatalf("the subject refresh token must stay usable: %v", err)
			}
			newFam, err := e.sessions.GetRefresh(ctx, x.str("refresh_token"))
			if err != nil {
				t.Fatal(err)
			}
			if newFam.ID == subjectFam.ID || newFam.OrgID != o.b.ID || newFam.SessionID != subjectFam.SessionID ||
				!newFam.ExpiresAt.Equal(subjectFam.ExpiresAt) || newFam.Scope != subjectFam.Scope {
				t.Fatalf("new family %+v, subject family %+v", newFam, subjectFam)
			}
			// The new family refreshes into org B tokens.
			rr := e.refresh(e.public, x.str("refresh_token"), nil)
			if rr.status != http.StatusOK {
				t.Fatalf("refresh of the exchanged family: %d %v", rr.status, rr.body)
			}
			if _, c := claimsOf(t, rr.str("access_token")); c.Org.ID != o.b.ID {
				t.Fatalf("refreshed org = %s", c.Org.ID)
			}
		})

		t.Run("not a member is invalid_target, an unknown org too", func(t *testing.T) {
			for _, ref := range []string{o.stranger.ID, o.stranger.Name, "org_doesnotexist", "no-such-org"} {
				wantOAuthError(t, e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {ref}}),
					http.StatusBadRequest, tokens.CodeInvalidTarget)
			}
		})

		t.Run("scope may narrow, never widen; the admin scope is never gained", func(t *testing.T) {
			x := e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}, "scope": {"openid email"}})
			if x.status != http.StatusOK || x.str("scope") != "openid email" {
				t.Fatalf("narrowed: %d %v", x.status, x.body)
			}
			if _, c := claimsOf(t, x.str("access_token")); c.Scope != "openid email" {
				t.Fatalf("narrowed token scope %q", c.Scope)
			}
			wantOAuthError(t, e.exchangeAs(e.public, x.str("access_token"), tokens.TokenTypeAccessToken, url.Values{"scope": {"openid profile"}}),
				http.StatusBadRequest, tokens.CodeInvalidScope)
			wantOAuthError(t, e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"scope": {"openid " + tokens.ScopeAdmin}}),
				http.StatusBadRequest, tokens.CodeInvalidScope)
		})

		t.Run("another client's tokens are refused; its refresh family is revoked", func(t *testing.T) {
			wantOAuthError(t, e.exchangeAs(e.confidential, at, tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidRequest)
			r2 := e.codeFlow(e.browser(), nil)
			wantOAuthError(t, e.exchangeAs(e.confidential, r2.str("refresh_token"), tokens.TokenTypeRefreshToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidRequest)
			wantOAuthError(t, e.refresh(e.public, r2.str("refresh_token"), nil), http.StatusBadRequest, tokens.CodeInvalidGrant)
			// A wrong secret is a failed client authentication, not an exchange.
			form := url.Values{"grant_type": {tokens.GrantTokenExchange}, "subject_token": {at}, "subject_token_type": {tokens.TokenTypeAccessToken}}
			wantOAuthError(t, e.token(form, e.confidential.ID, "wrong"), http.StatusUnauthorized, tokens.CodeInvalidClient)
		})

		t.Run("a revoked family, a rotated refresh token and a revoked access token are refused", func(t *testing.T) {
			r2 := e.codeFlow(e.browser(), nil)
			postRevoke(t, e, e.public, r2.str("refresh_token"))
			wantOAuthError(t, e.exchangeAs(e.public, r2.str("refresh_token"), tokens.TokenTypeRefreshToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidRequest)

			r3 := e.codeFlow(e.browser(), nil)
			rot := e.refresh(e.public, r3.str("refresh_token"), nil)
			wantOAuthError(t, e.exchangeAs(e.public, r3.str("refresh_token"), tokens.TokenTypeRefreshToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidRequest)
			// Presenting the rotated token was a reuse: the family is gone.
			wantOAuthError(t, e.refresh(e.public, rot.str("refresh_token"), nil), http.StatusBadRequest, tokens.CodeInvalidGrant)

			postRevoke(t, e, e.public, r3.str("access_token"))
			wantOAuthError(t, e.exchangeAs(e.public, r3.str("access_token"), tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidRequest)
		})

		t.Run("malformed and unsupported requests", func(t *testing.T) {
			for name, c := range map[string]struct {
				typ   string
				extra url.Values
				code  string
			}{
				"no subject_token_type":        {"", nil, tokens.CodeInvalidRequest},
				"an ID token type":             {"urn:ietf:params:oauth:token-type:id_token", nil, tokens.CodeInvalidRequest},
				"an external JWT (not yet)":    {tokens.TokenTypeJWT, nil, tokens.CodeInvalidRequest},
				"delegation":                   {tokens.TokenTypeAccessToken, url.Values{"actor_token": {at}, "actor_token_type": {tokens.TokenTypeAccessToken}}, tokens.CodeInvalidRequest},
				"a refresh token asked for":    {tokens.TokenTypeAccessToken, url.Values{"requested_token_type": {tokens.TokenTypeRefreshToken}}, tokens.CodeInvalidRequest},
				"another audience":             {tokens.TokenTypeAccessToken, url.Values{"audience": {"https://api.other.example"}}, tokens.CodeInvalidTarget},
				"a resource":                   {tokens.TokenTypeAccessToken, url.Values{"resource": {"https://api.example"}}, tokens.CodeInvalidTarget},
				"a refresh token typed access": {tokens.TokenTypeAccessToken, url.Values{"subject_token": {rt}}, tokens.CodeInvalidRequest},
				"garbage":                      {tokens.TokenTypeRefreshToken, url.Values{"subject_token": {"nonsense"}}, tokens.CodeInvalidRequest},
			} {
				t.Run(name, func(t *testing.T) {
					wantOAuthError(t, e.exchangeAs(e.public, at, c.typ, c.extra), http.StatusBadRequest, c.code)
				})
			}
			// The client itself as audience is fine.
			if x := e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"audience": {e.public.ID}}); x.status != http.StatusOK {
				t.Fatalf("audience = client: %d %v", x.status, x.body)
			}
		})

		t.Run("an org the user left a second ago is refused at once", func(t *testing.T) {
			x := e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}})
			if x.status != http.StatusOK {
				t.Fatalf("before leaving: %d %v", x.status, x.body)
			}
			if err := e.store.RemoveMember(context.Background(), "system:test", o.b.ID, e.user.ID); err != nil {
				t.Fatal(err)
			}
			wantOAuthError(t, e.exchangeAs(e.public, at, tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidTarget)
			wantOAuthError(t, e.exchangeAs(e.public, rt, tokens.TokenTypeRefreshToken, url.Values{"organization": {o.b.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidTarget)
			// The token already switched to B is no longer a valid subject.
			wantOAuthError(t, e.exchangeAs(e.public, x.str("access_token"), tokens.TokenTypeAccessToken, url.Values{"organization": {e.org.ID}}),
				http.StatusBadRequest, tokens.CodeInvalidRequest)
		})
	})
}

// postRevoke revokes tok at the revocation endpoint as the public client.
func postRevoke(t *testing.T, e *oidcEnv, client directory.Client, tok string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.iss+tokens.PathRevoke,
		strings.NewReader(url.Values{"token": {tok}, "client_id": {client.ID}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
}

// TestTokenExchangeNeverExtendsLifetime proves the exchanged access token's
// exp is capped by the subject's family bound: the access token's exp for
// an access subject, the family's absolute expiry for a refresh subject.
func TestTokenExchangeNeverExtendsLifetime(t *testing.T) {
	for _, st := range stacks(false) {
		t.Run(st.name, func(t *testing.T) {
			testExchangeLifetime(t, newOIDCEnv(t, st.dir(t), st.sessions(t), func(s *oidcSetup) { s.provider.RefreshTokenTTL = 2 * time.Minute }))
		})
	}
}

func testExchangeLifetime(t *testing.T, e *oidcEnv) {
	{
		o := e.secondOrg(access.RolePlatformMember)
		r := e.codeFlow(e.browser(), nil)
		_, subject := claimsOf(t, r.str("access_token"))

		e.clock.Advance(7 * time.Minute) // 3 minutes of the subject's 10 are left
		x := e.exchangeAs(e.public, r.str("access_token"), tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}})
		if x.status != http.StatusOK {
			t.Fatalf("exchange: %d %v", x.status, x.body)
		}
		_, c := claimsOf(t, x.str("access_token"))
		if c.ExpiresAt != subject.ExpiresAt {
			t.Fatalf("exchanged exp %d, subject exp %d: must be equal (capped)", c.ExpiresAt, subject.ExpiresAt)
		}
		if in, _ := x.body["expires_in"].(float64); in > 3*60+1 || in < 3*60-5 {
			t.Fatalf("expires_in = %v, want about 180", in)
		}
		e.clock.Advance(-7 * time.Minute)

		// The refresh family ends in 2 minutes, before a 10-minute token.
		fam, err := e.sessions.GetRefresh(context.Background(), r.str("refresh_token"))
		if err != nil {
			t.Fatal(err)
		}
		x = e.exchangeAs(e.public, r.str("refresh_token"), tokens.TokenTypeRefreshToken, url.Values{"organization": {o.b.ID}})
		if x.status != http.StatusOK {
			t.Fatalf("exchange: %d %v", x.status, x.body)
		}
		_, c = claimsOf(t, x.str("access_token"))
		if c.ExpiresAt > fam.ExpiresAt.Unix() {
			t.Fatalf("exchanged exp %d outlives the family's end %d", c.ExpiresAt, fam.ExpiresAt.Unix())
		}

		// A subject expired by the clock is refused.
		e.clock.Advance(11 * time.Minute)
		wantOAuthError(t, e.exchangeAs(e.public, r.str("access_token"), tokens.TokenTypeAccessToken, url.Values{"organization": {o.b.ID}}),
			http.StatusBadRequest, tokens.CodeInvalidRequest)
	}
}

// TestTokenExchangeRefusesServiceAccounts: a service account is not a
// registered client, so it cannot even authenticate for an exchange; its
// tokens belong to one organization.
func TestTokenExchangeRefusesServiceAccounts(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		sa, err := e.store.CreateServiceAccount(ctx, "system:test", directory.NewServiceAccount{OrgID: e.org.ID, Name: "bot-" + randomSuffix(), Role: access.RolePlatformMember})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.store.CreateAPIKey(ctx, "system:test", e.org.ID, sa.ID)
		if err != nil {
			t.Fatal(err)
		}
		cc := e.token(url.Values{"grant_type": {"client_credentials"}}, sa.ID, key)
		if cc.status != http.StatusOK {
			t.Fatalf("client_credentials: %d %v", cc.status, cc.body)
		}
		form := url.Values{"grant_type": {tokens.GrantTokenExchange}, "subject_token": {cc.str("access_token")},
			"subject_token_type": {tokens.TokenTypeAccessToken}, "organization": {e.org.ID}}
		wantOAuthError(t, e.token(form, sa.ID, key), http.StatusUnauthorized, tokens.CodeInvalidClient)
		// Presented by a registered client, it is another client's token.
		wantOAuthError(t, e.exchangeAs(e.public, cc.str("access_token"), tokens.TokenTypeAccessToken, nil),
			http.StatusBadRequest, tokens.CodeInvalidRequest)
	})
}

// TestTokenExchangeInDiscovery: the grant is advertised.
func TestTokenExchangeInDiscovery(t *testing.T) {
	d := tokens.BuildDiscovery("https://sso.example", tokens.Features{AuthorizationCode: true, TokenExchange: true}, nil)
	found := false
	for _, g := range d.GrantTypesSupported {
		found = found || g == tokens.GrantTokenExchange
	}
	if !found {
		t.Fatalf("grant_types_supported = %v", d.GrantTypesSupported)
	}
}

// TestExchangedTokenSizeForManyOrgUser: a user who is a member of 1,000
// orgs, in 40 long-named workspaces of the org switched to, gets a token
// under tokens.MaxAccessTokenBytes (8 kB): a token names one org, and the
// workspace list is capped (workspaces_truncated), so it does not grow
// with the number of orgs or workspaces.
func TestExchangedTokenSizeForManyOrgUser(t *testing.T) {
	e := newManyOrgEnv(t, 1000)
	ctx := context.Background()
	target := e.seed.Orgs[777]
	for range 40 {
		name := "w" + randomSuffix() + strings.Repeat("x", 60)
		ws, err := e.store.CreateWorkspace(ctx, "system:test", target.ID, name[:62], "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.PutWorkspaceMember(ctx, "system:test", target.ID, ws.ID, e.seed.ManyOrgUser,
			access.Membership{Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.access); n >= tokens.MaxAccessTokenBytes {
		t.Fatalf("the many-org user's own token is %d bytes", n)
	}
	x := e.exchangeAs(e.public, e.access, tokens.TokenTypeAccessToken, url.Values{"organization": {target.ID}})
	if x.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", x.status, x.body)
	}
	tok := x.str("access_token")
	m, c := claimsOf(t, tok)
	if c.Org.ID != target.ID || m["workspaces_truncated"] != true {
		t.Fatalf("claims: org %s, truncated %v", c.Org.ID, m["workspaces_truncated"])
	}
	if len(tok) >= tokens.MaxAccessTokenBytes {
		t.Fatalf("exchanged token is %d bytes, bound %d", len(tok), tokens.MaxAccessTokenBytes)
	}
	t.Logf("many-org user (1,000 orgs): token %d bytes signed in; %d bytes switched to an org where they hold 41 workspaces (%d listed)",
		len(e.access), len(tok), len(c.Workspaces))
}

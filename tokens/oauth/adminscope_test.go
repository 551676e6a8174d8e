package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// withdrawable lets a test take a client's admin-API permission away (the
// directory has no client update yet): GetClient reports AdminAPI false for
// the client named in withdrawn.
type withdrawable struct {
	tokens.ProviderDirectory
	withdrawn atomic.Value // string: a client id
}

func (w *withdrawable) GetClient(ctx context.Context, id string) (directory.Client, error) {
	c, err := w.ProviderDirectory.GetClient(ctx, id)
	if v, _ := w.withdrawn.Load().(string); err == nil && v == id {
		c.AdminAPI = false
	}
	return c, err
}

// adminBearer is cmd/ssobroker's bearerVerifier: the admin API's view of
// our access tokens.
type adminBearer struct{ i *tokens.Issuer }

func (b adminBearer) VerifyAccessToken(ctx context.Context, token string) (adminapi.TokenPrincipal, error) {
	c, err := b.i.VerifyAccessToken(ctx, token)
	if err != nil {
		if errors.Is(err, tokens.ErrInvalidAccessToken) {
			return adminapi.TokenPrincipal{}, err
		}
		return adminapi.TokenPrincipal{}, fmt.Errorf("%w: %v", adminapi.ErrVerifierUnavailable, err)
	}
	return adminapi.TokenPrincipal{Subject: c.Subject, OrgID: c.Org.ID, AdminAPI: b.i.IssuedForAdminAPI(c)}, nil
}

// TestAdminAPINeedsAnAdminToken: a user's access token from any client —
// here a public single-page app — is refused by the admin API (403
// insufficient_scope); only a client the operator allowed may ask for
// ssobroker:admin, and its token (scope, and aud naming the admin API)
// passes. Service-account tokens and API keys pass as before. A refresh
// keeps the scope only while the client is still allowed it.
func TestAdminAPINeedsAnAdminToken(t *testing.T) {
	for _, st := range stacks(false) {
		t.Run(st.name, func(t *testing.T) {
			w := &withdrawable{}
			w.withdrawn.Store("")
			e := newOIDCEnv(t, st.dir(t), st.sessions(t), func(s *oidcSetup) {
				s.dir = func(d tokens.ProviderDirectory) tokens.ProviderDirectory { w.ProviderDirectory = d; return w }
			})
			ctx := context.Background()
			// The signed-in user is an org admin: the power a leaked token would carry.
			if _, err := e.store.SetMemberRole(ctx, "system:test", e.org.ID, e.user.ID, access.RoleAdmin, 0); err != nil {
				t.Fatal(err)
			}
			const cliRedirect = "http://127.0.0.1:8765/cb"
			cli, _, err := e.store.CreateClient(ctx, "system:test", directory.NewClient{Name: "console-cli", Public: true, AdminAPI: true,
				RedirectURIs: []string{cliRedirect}})
			if err != nil {
				t.Fatal(err)
			}
			api := http.NewServeMux()
			admin, err := adminapi.New(adminapi.Config{Store: e.store, Tokens: adminBearer{e.issuer}})
			if err != nil {
				t.Fatal(err)
			}
			admin.Routes(api)
			call := func(auth string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/orgs/"+e.org.ID, nil)
				req.Header.Set("Authorization", auth)
				rec := httptest.NewRecorder()
				api.ServeHTTP(rec, req)
				return rec
			}
			flow := func(client directory.Client, redirect, scope string) tokenResponse {
				t.Helper()
				verifier, challenge := pkce()
				o := e.login(e.browser(), client, redirect, url.Values{"scope": {scope}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}})
				r := e.exchange(client, o.param("code"), redirect, verifier)
				if r.status != 200 {
					t.Fatalf("code exchange: %d %v", r.status, r.body)
				}
				return r
			}

			// The SPA's token: a valid access token of an org admin, and no admin power.
			spa := e.codeFlow(e.browser(), nil)
			_, sc := claimsOf(t, spa.str("access_token"))
			if e.issuer.IssuedForAdminAPI(sc) || hasScope(sc.Scope, tokens.ScopeAdmin) || !slices.Equal(sc.Audience, verify.Audience{e.public.ID}) {
				t.Fatalf("SPA token: scope %q aud %v", sc.Scope, sc.Audience)
			}
			rec := call("Bearer " + spa.str("access_token"))
			if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"code":"insufficient_scope"`) ||
				rec.Header().Get("WWW-Authenticate") != `Bearer realm="ssobroker", error="insufficient_scope", scope="ssobroker:admin"` {
				t.Fatalf("SPA token on /api/v1: %d %s %q", rec.Code, rec.Body, rec.Header().Get("WWW-Authenticate"))
			}

			// The SPA may not ask for the scope: invalid_scope at authorization, no sign-in.
			_, challenge := pkce()
			n := e.loginCount()
			o := e.browser().navigate(e.authzURL(e.public, spaRedirectURI, url.Values{"scope": {"openid " + tokens.ScopeAdmin},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s1"}}))
			if o.param("error") != tokens.CodeInvalidScope || o.param("state") != "s1" || o.param("code") != "" || e.loginCount() != n {
				t.Fatalf("SPA asking for %s: %v (logins %d→%d)", tokens.ScopeAdmin, o.callback, n, e.loginCount())
			}

			// The allowed client's token carries the scope and names the admin API.
			adm := flow(cli, cliRedirect, "openid offline_access "+tokens.ScopeAdmin)
			m, ac := claimsOf(t, adm.str("access_token"))
			wantAud := verify.Audience{cli.ID, e.iss + tokens.AdminAPIPath}
			if !hasScope(ac.Scope, tokens.ScopeAdmin) || !slices.Equal(ac.Audience, wantAud) || !e.issuer.IssuedForAdminAPI(ac) || !hasScope(adm.str("scope"), tokens.ScopeAdmin) {
				t.Fatalf("admin token: scope %q aud %v (raw %v), response scope %q", ac.Scope, ac.Audience, m["aud"], adm.str("scope"))
			}
			if _, idc := idClaims(t, adm.str("id_token")); idc.Audience != cli.ID {
				t.Fatalf("the ID token's aud is the client alone, got %q", idc.Audience)
			}
			if rec := call("Bearer " + adm.str("access_token")); rec.Code != 200 {
				t.Fatalf("admin token on /api/v1: %d %s", rec.Code, rec.Body)
			}
			// The same client without the scope gets an ordinary token.
			plain := flow(cli, cliRedirect, "openid")
			if rec := call("Bearer " + plain.str("access_token")); rec.Code != 403 {
				t.Fatalf("the allowed client's token without the scope: %d", rec.Code)
			}

			// Refresh keeps the scope while allowed, drops it once withdrawn.
			r1 := e.refresh(cli, adm.str("refresh_token"), nil)
			if _, c := claimsOf(t, r1.str("access_token")); r1.status != 200 || !e.issuer.IssuedForAdminAPI(c) {
				t.Fatalf("refresh while allowed: %d scope %q", r1.status, c.Scope)
			}
			w.withdrawn.Store(cli.ID)
			r2 := e.refresh(cli, r1.str("refresh_token"), nil)
			_, c2 := claimsOf(t, r2.str("access_token"))
			if r2.status != 200 || hasScope(c2.Scope, tokens.ScopeAdmin) || e.issuer.IssuedForAdminAPI(c2) || hasScope(r2.str("scope"), tokens.ScopeAdmin) ||
				!hasScope(c2.Scope, tokens.ScopeOfflineAccess) || !slices.Equal(c2.Audience, verify.Audience{cli.ID}) {
				t.Fatalf("refresh after withdrawal: %d scope %q aud %v", r2.status, c2.Scope, c2.Audience)
			}
			if rec := call("Bearer " + r2.str("access_token")); rec.Code != 403 {
				t.Fatalf("token refreshed after withdrawal on /api/v1: %d", rec.Code)
			}
			w.withdrawn.Store("")

			// Service accounts: their token and their API key, no scope needed.
			sa, err := e.store.CreateServiceAccount(ctx, "system:test", directory.NewServiceAccount{OrgID: e.org.ID, Name: "robot", Role: access.RoleAdmin})
			if err != nil {
				t.Fatal(err)
			}
			_, key, err := e.store.CreateAPIKey(ctx, "system:test", e.org.ID, sa.ID)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := e.issuer.ClientCredentials(ctx, tokens.ClientCredentialsRequest{ClientID: sa.ID, ClientSecret: key})
			if err != nil {
				t.Fatal(err)
			}
			for what, auth := range map[string]string{"service-account token": "Bearer " + tok.AccessToken, "API key": "Bearer " + key} {
				if rec := call(auth); rec.Code != 200 {
					t.Fatalf("%s on /api/v1: %d %s", what, rec.Code, rec.Body)
				}
			}
		})
	}
}

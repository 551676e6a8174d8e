package oauth

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/session"
)

// revokeAs posts to /oauth2/revoke as client: a confidential client with
// its secret (Basic, or in the body with post), a public one with
// client_id alone.
func (e *oidcEnv) revokeAs(client directory.Client, secret, token string, post bool) answer {
	e.t.Helper()
	form := url.Values{"token": {token}}
	switch {
	case client.Public:
		form.Set("client_id", client.ID)
		return postFrom(e.t, e.iss, tokens.PathRevoke, "", form, "", "")
	case post:
		form.Set("client_id", client.ID)
		form.Set("client_secret", secret)
		return postFrom(e.t, e.iss, tokens.PathRevoke, "", form, "", "")
	}
	return postFrom(e.t, e.iss, tokens.PathRevoke, "", form, client.ID, secret)
}

// TestRevocationForEveryClientType: issue 11 — /oauth2/revoke refused
// registered OAuth clients (401 invalid_client), so an app could not end a
// user's 30-day refresh token. Now confidential clients (Basic or post) and
// public clients revoke their own refresh tokens (the family ends) and
// access tokens (introspection says inactive, userinfo refuses).
func TestRevocationForEveryClientType(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		saID, saSecret := newEnvLikeServiceAccount(t, e)
		confidentialTokens := func(t *testing.T) tokenResponse {
			t.Helper()
			o := e.login(e.browser(), e.confidential, appRedirect, nil)
			r := e.exchange(e.confidential, o.param("code"), appRedirect, "")
			if r.status != http.StatusOK || r.str("refresh_token") == "" {
				t.Fatalf("code exchange: %d %v", r.status, r.body)
			}
			return r
		}
		introspect := func(t *testing.T, tok string) any {
			t.Helper()
			a := postFrom(t, e.iss, tokens.PathIntrospect, "", url.Values{"token": {tok}}, saID, saSecret)
			if a.status != http.StatusOK {
				t.Fatalf("introspect: %v", a)
			}
			return a.body["active"]
		}

		for _, post := range []bool{false, true} {
			name := map[bool]string{false: "client_secret_basic", true: "client_secret_post"}[post]
			t.Run("confidential client, refresh token, "+name, func(t *testing.T) {
				r := confidentialTokens(t)
				if a := e.revokeAs(e.confidential, e.secret, r.str("refresh_token"), post); a.status != http.StatusOK || len(a.body) != 0 ||
					a.header.Get("Cache-Control") != "no-store" {
					t.Fatalf("revoke: %v %v", a, a.header)
				}
				if rr := e.refresh(e.confidential, r.str("refresh_token"), nil); rr.status != http.StatusBadRequest || rr.str("error") != tokens.CodeInvalidGrant {
					t.Fatalf("refresh after revocation: %d %v", rr.status, rr.body)
				}
				// Revoking again, or an unknown token: 200 (RFC 7009 §2.2).
				if a := e.revokeAs(e.confidential, e.secret, r.str("refresh_token"), post); a.status != http.StatusOK {
					t.Fatalf("revoke again: %v", a)
				}
			})
		}
		t.Run("confidential client, access token", func(t *testing.T) {
			r := confidentialTokens(t)
			at := r.str("access_token")
			if introspect(t, at) != true {
				t.Fatal("fresh token inactive")
			}
			if a := e.revokeAs(e.confidential, e.secret, at, false); a.status != http.StatusOK {
				t.Fatalf("revoke: %v", a)
			}
			if introspect(t, at) != false {
				t.Fatal("revoked access token still active at introspection")
			}
			if resp, _ := e.userinfo(http.MethodGet, at); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("userinfo with a revoked token: %d", resp.StatusCode)
			}
			// The refresh token is another grant's credential: still usable.
			if rr := e.refresh(e.confidential, r.str("refresh_token"), nil); rr.status != http.StatusOK {
				t.Fatalf("refresh after revoking the access token: %d %v", rr.status, rr.body)
			}
		})
		t.Run("public client with client_id alone", func(t *testing.T) {
			r := e.codeFlow(e.browser(), nil)
			if a := e.revokeAs(e.public, "", r.str("access_token"), false); a.status != http.StatusOK {
				t.Fatalf("revoke access token: %v", a)
			}
			if introspect(t, r.str("access_token")) != false {
				t.Fatal("revoked access token still active")
			}
			if a := e.revokeAs(e.public, "", r.str("refresh_token"), false); a.status != http.StatusOK {
				t.Fatalf("revoke refresh token: %v", a)
			}
			if rr := e.refresh(e.public, r.str("refresh_token"), nil); rr.status != http.StatusBadRequest {
				t.Fatalf("refresh after revocation: %d %v", rr.status, rr.body)
			}
		})
		t.Run("another client's tokens", func(t *testing.T) {
			r := e.codeFlow(e.browser(), nil) // the public client's
			a := e.revokeAs(e.confidential, e.secret, r.str("access_token"), false)
			if a.status != http.StatusBadRequest || a.body["error"] != tokens.CodeUnauthorizedClient {
				t.Fatalf("revoking another client's access token: %v", a)
			}
			if introspect(t, r.str("access_token")) != true {
				t.Fatal("another client's access token was revoked")
			}
			// A refresh token in another client's hands has leaked: its family
			// ends, as at the token endpoint.
			if a := e.revokeAs(e.confidential, e.secret, r.str("refresh_token"), false); a.status != http.StatusOK {
				t.Fatalf("revoking another client's refresh token: %v", a)
			}
			if _, err := e.sessions.GetRefresh(ctx, r.str("refresh_token")); err == nil {
				t.Fatal("a leaked refresh token's family was kept")
			}
		})
		t.Run("service accounts as before", func(t *testing.T) {
			cc := postFrom(t, e.iss, tokens.PathToken, "", url.Values{"grant_type": {"client_credentials"}}, saID, saSecret)
			tok, _ := cc.body["access_token"].(string)
			if a := postFrom(t, e.iss, tokens.PathRevoke, "", url.Values{"token": {tok}}, saID, saSecret); a.status != http.StatusOK {
				t.Fatalf("revoke: %v", a)
			}
			if introspect(t, tok) != false {
				t.Fatal("revoked service-account token still active")
			}
		})
		t.Run("unknown tokens and failed authentication", func(t *testing.T) {
			for _, tok := range []string{"junk", "a.b.c", "rf_x." + tokens.RandomToken()} {
				if a := e.revokeAs(e.confidential, e.secret, tok, false); a.status != http.StatusOK {
					t.Fatalf("%q: %v", tok, a)
				}
			}
			r := confidentialTokens(t)
			for _, c := range []struct {
				name     string
				id, pass string
			}{{"wrong secret", e.confidential.ID, "ssbc_wrong"}, {"unknown client", "cli_nobody", "x"}, {"public client sending a secret", e.public.ID, "x"}} {
				a := postFrom(t, e.iss, tokens.PathRevoke, "", url.Values{"token": {r.str("refresh_token")}}, c.id, c.pass)
				if a.status != http.StatusUnauthorized || a.body["error"] != tokens.CodeInvalidClient {
					t.Fatalf("%s: %v", c.name, a)
				}
			}
			if a := postFrom(t, e.iss, tokens.PathRevoke, "", url.Values{"token": {r.str("refresh_token")}}, "", ""); a.status != http.StatusUnauthorized {
				t.Fatalf("no client: %v", a)
			}
			if a := e.revokeAs(e.confidential, e.secret, "", false); a.status != http.StatusBadRequest || a.body["error"] != tokens.CodeInvalidRequest {
				t.Fatalf("no token: %v", a)
			}
			if rr := e.refresh(e.confidential, r.str("refresh_token"), nil); rr.status != http.StatusOK {
				t.Fatalf("a refused revocation revoked: %d %v", rr.status, rr.body)
			}
		})
	})
}

// TestRevocationFailuresAreLimitedNeverLockingOut: failed authentications
// at /oauth2/revoke count in the same limiter as the token endpoint's; the
// correct secret still revokes.
func TestRevocationFailuresAreLimitedNeverLockingOut(t *testing.T) {
	sessions := memorySessions(t)
	e := newOIDCEnv(t, directorytest.SQLite(t), sessions, withFailureCounter(sessions))
	base := proxied(t, e.keys, e.issuer, e.provider)
	o := e.login(e.browser(), e.confidential, appRedirect, nil)
	r := e.exchange(e.confidential, o.param("code"), appRedirect, "")
	form := url.Values{"token": {r.str("refresh_token")}}
	var last answer
	for range tokens.DefaultFailedAuthLimit + 1 {
		last = postFrom(t, base, tokens.PathRevoke, attackerIP, form, e.confidential.ID, "ssbc_wrong")
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("failed revocations not limited: %v", last)
	}
	if a := postFrom(t, base, tokens.PathRevoke, attackerIP, form, e.confidential.ID, e.secret); a.status != http.StatusOK {
		t.Fatalf("the correct secret was refused: %v", a)
	}
	if _, err := sessions.GetRefresh(context.Background(), r.str("refresh_token")); err == nil {
		t.Fatal("not revoked")
	}
}

// TestDiscoveryRevocationAuthMethods: public clients revoke with "none".
func TestDiscoveryRevocationAuthMethods(t *testing.T) {
	oidc := tokens.BuildDiscovery("https://sso.example", tokens.Features{Revocation: true, AuthorizationCode: true}, nil)
	if !slices.Equal(oidc.RevocationEndpointAuthMethodsSupported, []string{tokens.AuthClientSecretBasic, tokens.AuthClientSecretPost, tokens.AuthNone}) {
		t.Fatalf("with the provider: %v", oidc.RevocationEndpointAuthMethodsSupported)
	}
	sa := tokens.BuildDiscovery("https://sso.example", tokens.Features{Revocation: true, ClientCredentials: true}, nil)
	if slices.Contains(sa.RevocationEndpointAuthMethodsSupported, tokens.AuthNone) {
		t.Fatalf("service accounts only: %v", sa.RevocationEndpointAuthMethodsSupported)
	}
}

// sessionHandle returns the Handle of the session whose cookie value is id.
func sessionHandle(t *testing.T, s session.Store, id string) string {
	t.Helper()
	sess, err := s.GetSession(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sess.Handle
}

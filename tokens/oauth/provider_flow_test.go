package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/session"
)

func TestCodeFlowWithPKCEIssuesAccessIDAndRefreshTokens(t *testing.T) {
	forEachStack(t, true, func(t *testing.T, e *oidcEnv) {
		b := e.browser()
		verifier, challenge := pkce()
		state, nonce := "state-"+randomSuffix(), "nonce-"+randomSuffix()
		o := b.navigate(e.authzURL(e.public, spaRedirectURI, url.Values{"code_challenge": {challenge},
			"code_challenge_method": {"S256"}, "state": {state}, "nonce": {nonce}}))
		if o.callback == nil {
			t.Fatalf("no callback: %d %v %s", o.status, o.hops, o.body)
		}
		if !slices.Equal(o.hops, []string{tokens.PathAuthorize, tokens.PathLogin, tokens.PathAuthorizeContinue}) {
			t.Errorf("hops %v", o.hops)
		}
		if got := o.callback.Scheme + "://" + o.callback.Host + o.callback.Path; got != spaRedirectURI {
			t.Fatalf("callback %s", o.callback)
		}
		if o.param("state") != state || o.param("iss") != e.iss || len(o.param("code")) != 43 {
			t.Fatalf("callback parameters %v", o.callback.Query())
		}
		if login := e.lastLogin(); login.Get("authz") == "" || login.Has("prompt") {
			t.Errorf("login request %v", login)
		}

		r := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier)
		if r.status != 200 || r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(600) ||
			r.str("scope") != "openid profile email offline_access" || r.str("refresh_token") == "" || r.str("id_token") == "" {
			t.Fatalf("token response %d %v", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
		}

		// The access token: RFC 9068 with the user claims of README.md ("Access tokens").
		at := r.str("access_token")
		if h := headerOf(t, at); h["typ"] != "at+jwt" || h["alg"] != "ES256" {
			t.Errorf("access token header %v", h)
		}
		m, c := claimsOf(t, at)
		if c.Subject != e.user.ID || c.ClientID != e.public.ID || !c.Audience.Contains(e.public.ID) || c.Email != e.user.Email ||
			c.Name != "Ada Lovelace" || c.IdP != e.conn.ID || !slices.Equal(c.AMR, []string{"oidc"}) || c.SessionID == "" ||
			c.Org.ID != e.org.ID || c.Org.Role != "platform_member" || c.DefaultWorkspace != e.ws.Name ||
			len(c.Workspaces) != 1 || c.Workspaces[0].Role != "owner" || c.Scope != "openid profile email offline_access" {
			t.Errorf("access token claims %v", m)
		}
		if _, ok := m["principal_type"]; ok {
			t.Error("user token has principal_type")
		}
		if got, err := e.issuer.VerifyAccessToken(context.Background(), at); err != nil || got.Subject != e.user.ID {
			t.Errorf("our own verifier: %v", err)
		}

		// The ID token: OIDC Core §2 and §3.1.3.6.
		idt := r.str("id_token")
		if h := headerOf(t, idt); h["typ"] != "JWT" || h["alg"] != "RS256" || h["kid"] != idTokenKID(e.keys) {
			t.Errorf("ID token header %v", h)
		}
		im, ic := idClaims(t, idt)
		sum := sha256.Sum256([]byte(at))
		if ic.Issuer != e.iss || ic.Subject != e.user.ID || ic.Audience != e.public.ID || ic.AuthorizedParty != e.public.ID ||
			ic.Nonce != nonce || ic.AccessTokenHash != base64.RawURLEncoding.EncodeToString(sum[:16]) ||
			ic.ExpiresAt-ic.IssuedAt != 600 || ic.AuthTime == 0 || ic.SessionID != c.SessionID ||
			ic.Email != e.user.Email || ic.EmailVerified == nil || !*ic.EmailVerified || ic.Name != "Ada Lovelace" ||
			ic.Org == nil || ic.Org.ID != e.org.ID || !slices.Equal(ic.AMR, []string{"oidc"}) {
			t.Errorf("ID token claims %v", im)
		}

		// The refresh token rotates.
		r2 := e.refresh(e.public, r.str("refresh_token"), nil)
		if r2.status != 200 || r2.str("refresh_token") == "" || r2.str("refresh_token") == r.str("refresh_token") || r2.str("id_token") == "" {
			t.Fatalf("refresh: %d %v", r2.status, r2.body)
		}
		_, ic2 := idClaims(t, r2.str("id_token"))
		if ic2.Nonce != "" || ic2.AuthTime != ic.AuthTime || ic2.Subject != ic.Subject || ic2.SessionID != ic.SessionID {
			t.Errorf("refreshed ID token %+v", ic2)
		}
		if _, c2 := claimsOf(t, r2.str("access_token")); c2.JWTID == c.JWTID || c2.SessionID != c.SessionID || c2.IdP != e.conn.ID {
			t.Errorf("refreshed access token %+v", c2)
		}

		// userinfo answers for the access token.
		resp, info := e.userinfo(http.MethodGet, r2.str("access_token"))
		if resp.StatusCode != 200 || info["sub"] != e.user.ID || info["email"] != e.user.Email || info["email_verified"] != true ||
			info["name"] != "Ada Lovelace" || info["default_workspace"] != e.ws.Name {
			t.Errorf("userinfo %d %v", resp.StatusCode, info)
		}
	})
}

func TestConfidentialClientAuthenticatesWithBasicOrPost(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		for _, how := range []string{"basic", "post"} {
			t.Run(how, func(t *testing.T) {
				b := e.browser()
				o := e.login(b, e.confidential, appRedirect, nil) // no PKCE: accepted for confidential clients
				form := url.Values{"grant_type": {"authorization_code"}, "code": {o.param("code")}, "redirect_uri": {appRedirect}}
				var r tokenResponse
				if how == "basic" {
					r = e.token(form, e.confidential.ID, e.secret)
				} else {
					form.Set("client_id", e.confidential.ID)
					form.Set("client_secret", e.secret)
					r = e.token(form, "", "")
				}
				if r.status != 200 || r.str("access_token") == "" || r.str("id_token") == "" || r.str("refresh_token") == "" {
					t.Fatalf("%d %v", r.status, r.body)
				}
				if _, c := claimsOf(t, r.str("access_token")); !c.Audience.Contains(e.confidential.ID) || c.ClientID != e.confidential.ID {
					t.Errorf("aud %v client_id %s", c.Audience, c.ClientID)
				}
			})
		}
		t.Run("wrong secret", func(t *testing.T) {
			o := e.login(e.browser(), e.confidential, appRedirect, nil)
			r := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {o.param("code")}, "redirect_uri": {appRedirect}},
				e.confidential.ID, e.secret+"x")
			if r.status != 401 || r.str("error") != "invalid_client" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("%d %v %v", r.status, r.body, r.header)
			}
		})
		t.Run("confidential client without secret", func(t *testing.T) {
			o := e.login(e.browser(), e.confidential, appRedirect, nil)
			r := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {o.param("code")}, "redirect_uri": {appRedirect},
				"client_id": {e.confidential.ID}}, "", "")
			if r.status != 401 || r.str("error") != "invalid_client" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
		t.Run("public client with a secret", func(t *testing.T) {
			r := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {tokens.RandomToken()}, "redirect_uri": {spaRedirectURI}},
				e.public.ID, "anything")
			if r.status != 401 || r.str("error") != "invalid_client" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
		t.Run("registered query of the redirect URI is kept", func(t *testing.T) {
			o := e.login(e.browser(), e.confidential, appRedirectQ, nil)
			if o.param("tenant") != "acme" || !strings.HasPrefix(o.callback.String(), appRedirectQ+"&") {
				t.Fatalf("callback %s", o.callback)
			}
			r := e.exchange(e.confidential, o.param("code"), appRedirectQ, "")
			if r.status != 200 {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
	})
}

func TestASessionGetsItsCodeWithoutSigningInAgain(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		b := e.browser()
		e.codeFlow(b, nil)
		n := e.loginCount()
		second := e.codeFlow(b, url.Values{"prompt": {"none"}})
		if e.loginCount() != n {
			t.Fatal("a usable session was sent to sign in again")
		}
		if second.str("id_token") == "" {
			t.Fatal("no ID token")
		}
		// Consent is not asked: prompt=consent is satisfied at once.
		e.codeFlow(b, url.Values{"prompt": {"consent"}})
		if e.loginCount() != n {
			t.Fatal("prompt=consent sent the user to sign in")
		}
	})
}

func TestOpenIDScopeDecidesTheIDTokenAndOfflineAccessTheRefreshToken(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		b := e.browser()
		r := e.codeFlow(b, url.Values{"scope": {"profile"}, "nonce": {""}})
		if r.str("id_token") != "" || r.str("refresh_token") != "" || r.str("scope") != "profile" {
			t.Fatalf("plain OAuth without openid/offline_access: %v", r.body)
		}
		r = e.codeFlow(b, url.Values{"scope": {""}, "nonce": {""}})
		if r.str("id_token") != "" || r.str("access_token") == "" {
			t.Fatalf("no scope: %v", r.body)
		}
		if _, c := claimsOf(t, r.str("access_token")); c.Scope != "" || c.Email == "" {
			t.Errorf("claims %+v", c)
		}
		// A client not allowed refresh tokens gets none, offline_access or not.
		noRefresh, _ := e.newClient(true, []string{"authorization_code"}, spaRedirectURI)
		verifier, challenge := pkce()
		o := e.login(b, noRefresh, spaRedirectURI, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})
		r = e.exchange(noRefresh, o.param("code"), spaRedirectURI, verifier)
		if r.status != 200 || r.str("refresh_token") != "" || r.str("scope") != "openid profile email" {
			t.Fatalf("%d %v", r.status, r.body)
		}
		rr := e.refresh(noRefresh, "rf_x."+tokens.RandomToken(), nil)
		if rr.status != 400 || rr.str("error") != "unauthorized_client" {
			t.Fatalf("refresh grant of a client without it: %d %v", rr.status, rr.body)
		}
	})
}

func TestIDTokenClaimsFollowTheScope(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r := e.codeFlow(e.browser(), url.Values{"scope": {"openid"}})
		m, c := idClaims(t, r.str("id_token"))
		if c.Email != "" || c.EmailVerified != nil || c.Name != "" || c.Org == nil {
			t.Fatalf("openid alone: %v", m)
		}
		for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid", "amr"} {
			if _, ok := m[k]; !ok {
				t.Errorf("ID token lacks %s", k)
			}
		}
	})
}

func TestWorkspaceNarrowingAtAuthorization(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		r := e.codeFlow(e.browser(), url.Values{"workspace": {e.ws.Name}})
		_, c := claimsOf(t, r.str("access_token"))
		if c.Narrowed == nil || c.Narrowed.Name != e.ws.Name {
			t.Fatalf("not narrowed: %+v", c)
		}
		// The narrowing survives refresh.
		r2 := e.refresh(e.public, r.str("refresh_token"), nil)
		if _, c2 := claimsOf(t, r2.str("access_token")); c2.Narrowed == nil || c2.Narrowed.Name != e.ws.Name {
			t.Fatalf("refresh lost the narrowing: %+v", c2)
		}
		// A workspace the user is not in: invalid_scope to the redirect URI.
		other, err := e.store.CreateWorkspace(context.Background(), "system:test", e.org.ID, "other-"+randomSuffix(), "")
		if err != nil {
			t.Fatal(err)
		}
		_, challenge := pkce()
		o := e.browser().navigate(e.authzURL(e.public, spaRedirectURI, url.Values{"workspace": {other.Name},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s1"}}))
		if o.param("error") != "invalid_scope" || o.param("state") != "s1" || o.param("code") != "" {
			t.Fatalf("%v", o.callback)
		}
	})
}

func TestSessionIsReadFromTheSessionStore(t *testing.T) {
	// The ID token's sid and the access token's sid are the session
	// store's Handle, never the cookie value.
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		b := e.browser()
		r := e.codeFlow(b, nil)
		cookie := b.cookie(session.CookieName)
		sess, err := e.sessions.GetSession(context.Background(), cookie)
		if err != nil {
			t.Fatal(err)
		}
		_, c := claimsOf(t, r.str("access_token"))
		if c.SessionID != sess.Handle || c.SessionID == cookie || strings.Contains(r.str("id_token"), cookie) {
			t.Fatalf("sid %q, handle %q", c.SessionID, sess.Handle)
		}
	})
}

package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/session"
)

func TestUntrustedClientOrRedirectURIGetsAPageNeverARedirect(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		for name, extra := range map[string]url.Values{
			"redirect_uri not registered":        {"redirect_uri": {"https://evil.example/callback"}},
			"redirect_uri differs only in case":  {"redirect_uri": {strings.ToUpper(spaRedirectURI[:4]) + spaRedirectURI[4:]}},
			"redirect_uri with an extra slash":   {"redirect_uri": {spaRedirectURI + "/"}},
			"redirect_uri with an added query":   {"redirect_uri": {spaRedirectURI + "?x=1"}},
			"redirect_uri of another client":     {"redirect_uri": {appRedirect}},
			"redirect_uri missing":               {"redirect_uri": {""}},
			"unregistered client":                {"client_id": {"cli_doesnotexist"}},
			"client_id of a service account":     {"client_id": {"sa_whatever"}},
			"client_id missing":                  {"client_id": {""}},
			"client_id repeated":                 {"client_id": {"cli_a", "cli_b"}},
			"redirect_uri repeated":              {"redirect_uri": {spaRedirectURI, spaRedirectURI}},
			"error that would be redirected too": {"redirect_uri": {"https://evil.example/cb"}, "response_type": {"token"}},
		} {
			t.Run(name, func(t *testing.T) {
				resp, body := getNoFollow(t, e.authzURL(e.public, spaRedirectURI, extra))
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("%d Location %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
					!strings.Contains(body, "<h1>") {
					t.Fatalf("not an error page: %v %s", resp.Header, body)
				}
			})
		}
	})
}

func getNoFollow(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = bufCopy(buf, resp)
	return resp, buf.String()
}

func bufCopy(b *strings.Builder, resp *http.Response) (int64, error) {
	var n int64
	p := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(p)
		b.Write(p[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

func TestErrorsAfterValidationGoBackToTheClientWithStateAndIss(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		_, challenge := pkce()
		withPKCE := func(v url.Values) url.Values {
			out := url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			for k, x := range v {
				out[k] = x
			}
			return out
		}
		for _, c := range []struct {
			name  string
			extra url.Values
			want  string
		}{
			{"response_type missing", withPKCE(url.Values{"response_type": {""}}), "invalid_request"},
			{"implicit flow", withPKCE(url.Values{"response_type": {"token"}}), "unsupported_response_type"},
			{"hybrid flow", withPKCE(url.Values{"response_type": {"code id_token"}}), "unsupported_response_type"},
			{"unknown scope", withPKCE(url.Values{"scope": {"openid admin"}}), "invalid_scope"},
			{"public client without PKCE", url.Values{}, "invalid_request"},
			{"PKCE plain", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"plain"}}, "invalid_request"},
			{"PKCE method missing (plain by default)", url.Values{"code_challenge": {challenge}}, "invalid_request"},
			{"PKCE method without challenge", url.Values{"code_challenge_method": {"S256"}}, "invalid_request"},
			{"PKCE challenge malformed", url.Values{"code_challenge": {"short"}, "code_challenge_method": {"S256"}}, "invalid_request"},
			{"request object", withPKCE(url.Values{"request": {"eyJ.x.y"}}), "request_not_supported"},
			{"request_uri", withPKCE(url.Values{"request_uri": {"https://x.example/r"}}), "request_uri_not_supported"},
			{"repeated parameter", withPKCE(url.Values{"scope": {"openid", "email"}}), "invalid_request"},
			{"prompt none with login", withPKCE(url.Values{"prompt": {"none login"}}), "invalid_request"},
			{"unknown prompt", withPKCE(url.Values{"prompt": {"sometimes"}}), "invalid_request"},
			{"max_age not a number", withPKCE(url.Values{"max_age": {"soon"}}), "invalid_request"},
			{"max_age negative", withPKCE(url.Values{"max_age": {"-1"}}), "invalid_request"},
			{"response_mode fragment", withPKCE(url.Values{"response_mode": {"fragment"}}), "invalid_request"},
			{"unknown organization", withPKCE(url.Values{"organization": {"no-such-org-" + randomSuffix()}}), "invalid_request"},
			{"malformed workspace", withPKCE(url.Values{"workspace": {"Not A Name"}}), "invalid_scope"},
			{"prompt none without session", withPKCE(url.Values{"prompt": {"none"}}), "login_required"},
		} {
			t.Run(c.name, func(t *testing.T) {
				extra := url.Values{"state": {"xyz"}}
				for k, v := range c.extra {
					extra[k] = v
				}
				o := e.browser().navigate(e.authzURL(e.public, spaRedirectURI, extra))
				if o.callback == nil || !strings.HasPrefix(o.callback.String(), spaRedirectURI+"?") {
					t.Fatalf("no redirect to the client: %d %s", o.status, o.body)
				}
				if o.param("error") != c.want || o.param("state") != "xyz" || o.param("iss") != e.iss || o.param("code") != "" {
					t.Fatalf("callback %v, want error %s", o.callback.Query(), c.want)
				}
			})
		}
		t.Run("client not allowed the code flow", func(t *testing.T) {
			// The directory only knows the two browser grants; a client
			// registered for refresh_token alone may not start a sign-in.
			c, _ := e.newClient(true, []string{"refresh_token"}, spaRedirectURI)
			o := e.browser().navigate(e.authzURL(c, spaRedirectURI, withPKCE(url.Values{"state": {"s"}})))
			if o.param("error") != "unauthorized_client" || o.param("state") != "s" {
				t.Fatalf("%v", o.callback)
			}
		})
	})
}

func TestPKCEIsEnforcedAtTheTokenEndpoint(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		verifier, challenge := pkce()
		other, _ := pkce()
		for name, v := range map[string]string{
			"wrong verifier":        other,
			"missing verifier":      "",
			"malformed verifier":    "short",
			"challenge as verifier": challenge,
		} {
			t.Run(name, func(t *testing.T) {
				o := e.login(e.browser(), e.public, spaRedirectURI, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})
				r := e.exchange(e.public, o.param("code"), spaRedirectURI, v)
				if r.status != 400 || r.str("error") != "invalid_grant" || r.str("access_token") != "" {
					t.Fatalf("%d %v", r.status, r.body)
				}
				// The code is spent: the right verifier no longer helps.
				if r := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier); r.status != 400 {
					t.Fatalf("code reusable after a failed PKCE check: %d", r.status)
				}
			})
		}
		t.Run("verifier for a code issued without challenge", func(t *testing.T) {
			o := e.login(e.browser(), e.confidential, appRedirect, nil)
			if r := e.exchange(e.confidential, o.param("code"), appRedirect, verifier); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("PKCE downgrade accepted: %d %v", r.status, r.body)
			}
		})
		t.Run("confidential client with PKCE", func(t *testing.T) {
			o := e.login(e.browser(), e.confidential, appRedirect, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})
			if r := e.exchange(e.confidential, o.param("code"), appRedirect, verifier); r.status != 200 {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
	})
}

func TestCodeIsBoundToClientRedirectURIAndLifetime(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		verifier, challenge := pkce()
		pk := url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		t.Run("code used by another client", func(t *testing.T) {
			o := e.login(e.browser(), e.public, spaRedirectURI, pk)
			other, _ := e.newClient(true, nil, spaRedirectURI)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {o.param("code")}, "redirect_uri": {spaRedirectURI},
				"code_verifier": {verifier}, "client_id": {other.ID}}
			if r := e.token(form, "", ""); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("%d %v", r.status, r.body)
			}
			// The confidential client cannot use it either, and the code is spent.
			if r := e.exchange(e.confidential, o.param("code"), spaRedirectURI, verifier); r.status != 400 {
				t.Fatalf("%d %v", r.status, r.body)
			}
			if r := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier); r.status != 400 {
				t.Fatalf("spent code redeemed: %d", r.status)
			}
		})
		t.Run("other redirect_uri", func(t *testing.T) {
			o := e.login(e.browser(), e.confidential, appRedirect, nil)
			if r := e.exchange(e.confidential, o.param("code"), appRedirectQ, ""); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
		t.Run("redirect_uri missing", func(t *testing.T) {
			o := e.login(e.browser(), e.confidential, appRedirect, nil)
			r := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {o.param("code")}}, e.confidential.ID, e.secret)
			if r.status != 400 || r.str("error") != "invalid_request" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
		t.Run("expired after 60 seconds", func(t *testing.T) {
			o := e.login(e.browser(), e.public, spaRedirectURI, pk)
			e.clock.Advance(61 * time.Second)
			defer e.clock.Advance(-61 * time.Second)
			if r := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
		t.Run("unknown code", func(t *testing.T) {
			if r := e.exchange(e.public, tokens.RandomToken(), spaRedirectURI, verifier); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
	})
}

func TestReplayedCodeRevokesWhatTheFirstRedemptionIssued(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		verifier, challenge := pkce()
		o := e.login(e.browser(), e.public, spaRedirectURI, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})
		first := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier)
		if first.status != 200 {
			t.Fatalf("%d %v", first.status, first.body)
		}
		if resp, _ := e.userinfo(http.MethodGet, first.str("access_token")); resp.StatusCode != 200 {
			t.Fatalf("userinfo before the replay: %d", resp.StatusCode)
		}
		replay := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier)
		if replay.status != 400 || replay.str("error") != "invalid_grant" || replay.str("access_token") != "" {
			t.Fatalf("replay: %d %v", replay.status, replay.body)
		}
		// The first access token is revoked ...
		if _, err := e.issuer.VerifyAccessToken(context.Background(), first.str("access_token")); err == nil {
			t.Error("access token of a replayed code still valid")
		}
		resp, _ := e.userinfo(http.MethodGet, first.str("access_token"))
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("userinfo after the replay: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		// ... and so is its refresh-token family.
		if r := e.refresh(e.public, first.str("refresh_token"), nil); r.status != 400 || r.str("error") != "invalid_grant" {
			t.Errorf("refresh after the replay: %d %v", r.status, r.body)
		}
	})
}

func TestContinuationChecksTheBrowserAndTheRecord(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		_, challenge := pkce()
		start := func(b *browser) string {
			c := &http.Client{Jar: b.c.Jar, CheckRedirect: b.c.CheckRedirect}
			resp, err := c.Get(e.authzURL(e.public, spaRedirectURI, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc.Path != tokens.PathLogin || loc.Query().Get("authz") == "" {
				t.Fatalf("not sent to sign in: %d %s", resp.StatusCode, loc)
			}
			return loc.Query().Get("authz")
		}
		t.Run("another browser", func(t *testing.T) {
			authz := start(e.browser())
			attacker := e.browser()
			o := attacker.navigate(e.iss + tokens.PathLogin + "?authz=" + authz) // signs in, then continues
			if o.status != 400 || o.callback != nil || !strings.Contains(o.body, "another browser") {
				t.Fatalf("%d %v %s", o.status, o.callback, o.body)
			}
		})
		t.Run("used twice", func(t *testing.T) {
			b := e.browser()
			authz := start(b)
			if o := b.navigate(e.iss + tokens.PathLogin + "?authz=" + authz); o.param("code") == "" {
				t.Fatalf("first continuation: %d %s", o.status, o.body)
			}
			o := b.navigate(e.iss + tokens.PathAuthorizeContinue + "?authz=" + authz)
			if o.status != 400 || o.callback != nil {
				t.Fatalf("second continuation: %d %v", o.status, o.callback)
			}
		})
		t.Run("unknown or malformed", func(t *testing.T) {
			for _, authz := range []string{tokens.RandomToken(), "x", ""} {
				if o := e.browser().navigate(e.iss + tokens.PathAuthorizeContinue + "?authz=" + authz); o.status != 400 || o.callback != nil {
					t.Fatalf("%q: %d %v", authz, o.status, o.callback)
				}
			}
		})
		t.Run("no session after sign-in", func(t *testing.T) {
			e.mu.Lock()
			e.skipSignIn = true
			e.mu.Unlock()
			defer func() { e.mu.Lock(); e.skipSignIn = false; e.mu.Unlock() }()
			o := e.browser().navigate(e.authzURL(e.public, spaRedirectURI, url.Values{"code_challenge": {challenge},
				"code_challenge_method": {"S256"}, "state": {"s2"}}))
			if o.param("error") != "access_denied" || o.param("state") != "s2" {
				t.Fatalf("%d %v %s", o.status, o.callback, o.body)
			}
		})
		t.Run("binding cookie is scoped to the authorization endpoint", func(t *testing.T) {
			b := e.browser()
			start(b)
			u, _ := url.Parse(e.iss + tokens.PathAuthorizeContinue)
			found := false
			for _, c := range b.c.Jar.Cookies(u) {
				found = found || c.Name == tokens.AuthzCookie
			}
			u, _ = url.Parse(e.iss + tokens.PathToken)
			for _, c := range b.c.Jar.Cookies(u) {
				if c.Name == tokens.AuthzCookie {
					t.Fatal("binding cookie sent to the token endpoint")
				}
			}
			if !found {
				t.Fatal("binding cookie not sent to the continuation")
			}
		})
	})
}

func TestPromptMaxAgeAndOrganizationDecideWhetherToSignIn(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		_, challenge := pkce()
		pk := func(v url.Values) url.Values {
			v.Set("code_challenge", challenge)
			v.Set("code_challenge_method", "S256")
			return v
		}
		// A browser whose session authenticated two hours ago.
		oldSession := func() *browser {
			b := e.browser()
			sess, err := e.sessions.CreateSession(ctx, session.Session{UserID: e.user.ID, OrgID: e.org.ID, ConnectionID: e.conn.ID,
				AMR: []string{"oidc"}, AuthTime: time.Now().Add(-2 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(e.iss)
			b.c.Jar.SetCookies(u, []*http.Cookie{session.Cookie(session.CookieName, sess.ID, false, 0)})
			return b
		}
		t.Run("prompt=none with a usable session", func(t *testing.T) {
			n := e.loginCount()
			o := oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"prompt": {"none"}})))
			if o.param("code") == "" || e.loginCount() != n {
				t.Fatalf("%v", o.callback)
			}
		})
		t.Run("max_age forces a new sign-in", func(t *testing.T) {
			o := oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"max_age": {"60"}})))
			if o.param("code") == "" || e.lastLogin().Get("prompt") != "login" {
				t.Fatalf("%v %v", o.callback, e.lastLogin())
			}
		})
		t.Run("max_age with prompt=none and an old session", func(t *testing.T) {
			o := oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"max_age": {"60"}, "prompt": {"none"}})))
			if o.param("error") != "login_required" {
				t.Fatalf("%v", o.callback)
			}
		})
		t.Run("max_age the session satisfies", func(t *testing.T) {
			n := e.loginCount()
			o := oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"max_age": {"86400"}})))
			if o.param("code") == "" || e.loginCount() != n {
				t.Fatalf("%v", o.callback)
			}
		})
		t.Run("prompt=login forces a new sign-in", func(t *testing.T) {
			o := oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"prompt": {"login"}})))
			if o.param("code") == "" || e.lastLogin().Get("prompt") != "login" {
				t.Fatalf("%v", o.callback)
			}
		})
		t.Run("prompt=login answered with the old session", func(t *testing.T) {
			e.mu.Lock()
			e.skipSignIn = true
			e.mu.Unlock()
			defer func() { e.mu.Lock(); e.skipSignIn = false; e.mu.Unlock() }()
			o := oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"prompt": {"login"}, "state": {"s3"}})))
			if o.param("error") != "login_required" || o.param("state") != "s3" {
				t.Fatalf("%v", o.callback)
			}
		})
		t.Run("organization other than the session's", func(t *testing.T) {
			other, _, err := e.store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Other " + randomSuffix()})
			if err != nil {
				t.Fatal(err)
			}
			o := oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"organization": {other.Name}, "prompt": {"none"}})))
			if o.param("error") != "login_required" {
				t.Fatalf("prompt=none: %v", o.callback)
			}
			// Sent to sign in for that org; the sign-in returns a session of the first org.
			o = oldSession().navigate(e.authzURL(e.public, spaRedirectURI, pk(url.Values{"organization": {other.Name},
				"login_hint": {"ada@acme.example"}})))
			if e.lastLogin().Get("organization") != other.ID || e.lastLogin().Get("login_hint") != "ada@acme.example" {
				t.Fatalf("login request %v", e.lastLogin())
			}
			if o.param("error") != "access_denied" {
				t.Fatalf("session of another org accepted: %v", o.callback)
			}
			// Signing in to that org (the user is a member there) works.
			conn := e.newConnection(other.ID)
			if _, err := e.store.AddMember(ctx, "system:test", other.ID, e.user.ID, access.RoleOpikMember); err != nil {
				t.Fatal(err)
			}
			e.setSignIn(func(id *identity) { id.orgID, id.connID = other.ID, conn.ID })
			defer e.setSignIn(func(id *identity) { id.orgID, id.connID = e.org.ID, e.conn.ID })
			verifier, challenge2 := pkce()
			o = e.login(oldSession(), e.public, spaRedirectURI, url.Values{"organization": {other.ID},
				"code_challenge": {challenge2}, "code_challenge_method": {"S256"}})
			r := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier)
			if _, c := claimsOf(t, r.str("access_token")); c.Org.ID != other.ID || c.Org.Role != access.RoleOpikMember {
				t.Fatalf("token for %+v", c.Org)
			}
		})
	})
}

func TestClientSecretGuessingIsThrottledPerClient(t *testing.T) {
	e := newOIDCEnv(t, directorytest.SQLite(t), memorySessions(t))
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rf_x." + tokens.RandomToken()}}
	// A failure, then the right secret: it keeps working while the client
	// is throttled (the limiter remembers secrets that succeeded since the
	// failures began).
	e.token(form, e.confidential.ID, "ssbc_guess")
	if r := e.token(form, e.confidential.ID, e.secret); r.str("error") != "invalid_grant" {
		t.Fatalf("%d %v", r.status, r.body)
	}
	var last tokenResponse
	for range tokens.DefaultFailedAuthLimit + 1 {
		last = e.token(form, e.confidential.ID, "ssbc_guess")
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("guessing not throttled: %d %v", last.status, last.body)
	}
	if r := e.token(form, e.confidential.ID, e.secret); r.str("error") != "invalid_grant" {
		t.Fatalf("the real client is locked out: %d %v", r.status, r.body)
	}
	// A public client has no secret to guess: sending secrets never locks it out.
	for range tokens.DefaultFailedAuthLimit + 1 {
		e.token(form, e.public.ID, "whatever")
	}
	pub := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rf_x." + tokens.RandomToken()}, "client_id": {e.public.ID}}
	if r := e.token(pub, "", ""); r.str("error") != "invalid_grant" {
		t.Fatalf("public client locked out: %d %v", r.status, r.body)
	}
}

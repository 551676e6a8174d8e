package oauth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

func TestClientCredentialsIssuesRFC9068AccessToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		for _, basic := range []bool{true, false} {
			form := url.Values{"grant_type": {"client_credentials"}}
			user, pass := e.sa.ID, e.secret
			if !basic {
				form.Set("client_id", e.sa.ID)
				form.Set("client_secret", e.secret)
				user, pass = "", ""
			}
			resp, body := e.post(tokens.PathToken, form, user, pass)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("basic=%v: status %d %v", basic, resp.StatusCode, body)
			}
			for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(600) {
				t.Errorf("response %v", body)
			}
			if _, ok := body["scope"]; ok {
				t.Errorf("scope in response although none was asked for: %v", body)
			}
			tok := body["access_token"].(string)
			h := headerOf(t, tok)
			if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] != accessTokenKID(e.keys) || len(h) != 3 {
				t.Errorf("header %v", h)
			}
			set, err := jwk.Parse(e.keys.JWKS().Body)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithRequireKid(true))); err != nil {
				t.Fatalf("signature does not verify with the published JWKS: %v", err)
			}
			m, c := claimsOf(t, tok)
			if c.Issuer != e.http.URL || c.Subject != e.sa.ID || c.ClientID != e.sa.ID || len(c.Audience) != 1 || c.Audience[0] != e.sa.ID {
				t.Errorf("iss/sub/client_id/aud: %v", m)
			}
			if c.ExpiresAt-c.IssuedAt != 600 || abs(c.IssuedAt-time.Now().Unix()) > 5 {
				t.Errorf("iat %d exp %d", c.IssuedAt, c.ExpiresAt)
			}
			if jti, err := base64.RawURLEncoding.DecodeString(c.JWTID); err != nil || len(jti) != 16 {
				t.Errorf("jti %q is not 128 random bits", c.JWTID)
			}
			if c.PrincipalType != "service_account" || c.Name != "ci-bot" {
				t.Errorf("principal_type/name: %v", m)
			}
			wantOrg := verify.Org{ID: e.org.ID, Name: e.org.Name, Role: access.RolePlatformMember}
			if c.Org != wantOrg {
				t.Errorf("org = %+v, want %+v", c.Org, wantOrg)
			}
			if len(c.Workspaces) != 1 || c.Workspaces[0] != (verify.Workspace{ID: e.defaultWS.ID, Name: e.defaultWS.Name, Role: access.WorkspaceMember}) {
				t.Errorf("workspaces = %+v", c.Workspaces)
			}
			if c.DefaultWorkspace != e.defaultWS.Name || c.Narrowed != nil || c.WorkspacesTruncated {
				t.Errorf("default_workspace/workspace: %v", m)
			}
		}
	})
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestTokenEndpointErrorsFollowRFC6749(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		other, otherSecret := e.newServiceAccount(e.org.ID, "other-bot", access.RoleViewOnly)
		cc := func(kv ...string) url.Values {
			v := url.Values{"grant_type": {"client_credentials"}}
			for i := 0; i < len(kv); i += 2 {
				v.Add(kv[i], kv[i+1])
			}
			return v
		}
		cases := []struct {
			name        string
			form        url.Values
			user, pass  string
			status      int
			code        string
			wwwAuth     bool
			contentType string
		}{
			{name: "both basic and post credentials", form: cc("client_id", e.sa.ID, "client_secret", e.secret), user: e.sa.ID, pass: e.secret,
				status: 400, code: tokens.CodeInvalidRequest},
			{name: "wrong secret with basic", form: cc(), user: e.sa.ID, pass: "ssb_" + strings.Repeat("x", 43), status: 401, code: tokens.CodeInvalidClient, wwwAuth: true},
			{name: "wrong secret with post", form: cc("client_id", e.sa.ID, "client_secret", "nope"), status: 401, code: tokens.CodeInvalidClient},
			{name: "another account's key", form: cc(), user: e.sa.ID, pass: otherSecret, status: 401, code: tokens.CodeInvalidClient, wwwAuth: true},
			{name: "key of the account under another id", form: cc("client_id", other.ID, "client_secret", e.secret), status: 401, code: tokens.CodeInvalidClient},
			{name: "not a service account", form: cc(), user: "cli_123", pass: e.secret, status: 401, code: tokens.CodeInvalidClient, wwwAuth: true},
			{name: "no credentials", form: cc(), status: 401, code: tokens.CodeInvalidClient, wwwAuth: true},
			{name: "secret without client_id", form: cc("client_secret", e.secret), status: 400, code: tokens.CodeInvalidRequest},
			{name: "basic and a different client_id", form: cc("client_id", other.ID), user: e.sa.ID, pass: e.secret, status: 400, code: tokens.CodeInvalidRequest},
			{name: "missing grant_type", form: url.Values{}, user: e.sa.ID, pass: e.secret, status: 400, code: tokens.CodeInvalidRequest},
			{name: "unsupported grant_type", form: url.Values{"grant_type": {"password"}}, user: e.sa.ID, pass: e.secret, status: 400, code: tokens.CodeUnsupportedGrantType},
			{name: "repeated parameter", form: url.Values{"grant_type": {"client_credentials", "client_credentials"}}, user: e.sa.ID, pass: e.secret,
				status: 400, code: tokens.CodeInvalidRequest},
			{name: "scope not allowed", form: cc("scope", "admin"), user: e.sa.ID, pass: e.secret, status: 400, code: tokens.CodeInvalidScope},
			{name: "JSON body", form: cc(), user: e.sa.ID, pass: e.secret, contentType: "application/json", status: 400, code: tokens.CodeInvalidRequest},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, e.http.URL+tokens.PathToken, strings.NewReader(tc.form.Encode()))
				ct := tc.contentType
				if ct == "" {
					ct = "application/x-www-form-urlencoded"
				}
				req.Header.Set("Content-Type", ct)
				if tc.user != "" {
					req.SetBasicAuth(url.QueryEscape(tc.user), url.QueryEscape(tc.pass))
				}
				resp, body := e.do(req)
				if resp.StatusCode != tc.status || body["error"] != tc.code {
					t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, tc.status, tc.code)
				}
				if got := resp.Header.Get("WWW-Authenticate") != ""; got != tc.wwwAuth {
					t.Errorf("WWW-Authenticate present = %v, want %v", got, tc.wwwAuth)
				}
				if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
					t.Errorf("error responses must not be cached: %v", resp.Header)
				}
				if _, ok := body["access_token"]; ok {
					t.Error("token in an error response")
				}
			})
		}
		t.Run("GET is not allowed", func(t *testing.T) {
			resp, err := http.Get(e.http.URL + tokens.PathToken)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
		t.Run("secret in the query string", func(t *testing.T) {
			resp, body := e.post(tokens.PathToken+"?client_secret="+e.secret, cc(), e.sa.ID, e.secret)
			if resp.StatusCode != 400 || body["error"] != tokens.CodeInvalidRequest {
				t.Fatalf("got %d %v", resp.StatusCode, body)
			}
		})
	})
}

func TestBasicCredentialsAreFormURLDecoded(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	// Percent-encode every character, as RFC 6749 §2.3.1 allows a client to.
	enc := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString("%" + strings.ToUpper(encodeByte(s[i])))
		}
		return b.String()
	}
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+tokens.PathToken, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	req.SetBasicAuth(enc(e.sa.ID), enc(e.secret))
	resp, body := e.do(req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
}

func encodeByte(c byte) string {
	const h = "0123456789abcdef"
	return string([]byte{h[c>>4], h[c&15]})
}

func TestAllowedScopeIsGrantedAndEchoed(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t), withIssuerConfig(func(c *tokens.IssuerConfig) { c.ServiceAccountScopes = []string{"opik", "experiments"} }))
	resp, body := e.post(tokens.PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"opik experiments"}}, e.sa.ID, e.secret)
	if resp.StatusCode != 200 || body["scope"] != "opik experiments" {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	if _, c := claimsOf(t, body["access_token"].(string)); c.Scope != "opik experiments" {
		t.Fatalf("scope claim %q", c.Scope)
	}
	resp, body = e.post(tokens.PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"opik admin"}}, e.sa.ID, e.secret)
	if resp.StatusCode != 400 || body["error"] != tokens.CodeInvalidScope {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
}

func TestRevokedAPIKeyFailsTheNextTokenRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		e.token(nil) // warms the store's cache with this key
		kp, err := e.store.LookupAPIKey(context.Background(), e.secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.RevokeAPIKey(context.Background(), "system:test", e.org.ID, kp.Key.ID); err != nil {
			t.Fatal(err)
		}
		resp, body := e.post(tokens.PathToken, url.Values{"grant_type": {"client_credentials"}}, e.sa.ID, e.secret)
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != tokens.CodeInvalidClient {
			t.Fatalf("after revocation: %d %v", resp.StatusCode, body)
		}
	})
}

func TestDeletedServiceAccountGetsNoToken(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	e.token(nil)
	if err := e.store.DeleteServiceAccount(context.Background(), "system:test", e.org.ID, e.sa.ID); err != nil {
		t.Fatal(err)
	}
	resp, body := e.post(tokens.PathToken, url.Values{"grant_type": {"client_credentials"}}, e.sa.ID, e.secret)
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != tokens.CodeInvalidClient {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
}

func TestRepeatedFailuresAreThrottledPerClient(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t), withIssuerConfig(func(c *tokens.IssuerConfig) { c.FailedAuthLimit = 3; c.FailedAuthWindow = 10 * time.Second }))
	victim, victimSecret := e.newServiceAccount(e.org.ID, "victim", access.RolePlatformMember)
	bad := url.Values{"grant_type": {"client_credentials"}}
	ok := func(id, secret string) (int, map[string]any) {
		resp, body := e.post(tokens.PathToken, bad, id, secret)
		return resp.StatusCode, body
	}

	// Three failures are answered normally…
	for range 3 {
		if st, body := ok(e.sa.ID, "ssb_wrong"); st != 401 {
			t.Fatalf("failure within the burst: %d %v", st, body)
		}
	}
	// …then the client is refused before any lookup, with Retry-After.
	resp, body := e.post(tokens.PathToken, bad, e.sa.ID, "ssb_wrong")
	if resp.StatusCode != http.StatusTooManyRequests || body["error"] != tokens.CodeTemporarilyUnavailable {
		t.Fatalf("after the burst: %d %v", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	// Other clients are not affected.
	if st, body := ok(victim.ID, victimSecret); st != 200 {
		t.Fatalf("another client: %d %v", st, body)
	}
	// A client that authenticated since its failures began passes while throttled.
	for range 2 {
		ok(victim.ID, "ssb_wrong")
	}
	if st, _ := ok(victim.ID, victimSecret); st != 200 {
		t.Fatal("victim locked out before its bucket was empty")
	}
	ok(victim.ID, "ssb_wrong") // empties the bucket
	if st, body := ok(victim.ID, "ssb_wrong"); st != 429 {
		t.Fatalf("victim not throttled: %d %v", st, body)
	}
	if st, body := ok(victim.ID, victimSecret); st != 200 {
		t.Fatalf("remembered good secret refused while throttled: %d %v", st, body)
	}
	// Refill restores attempts.
	e.clock.Advance(10 * time.Second)
	if st, body := ok(e.sa.ID, e.secret); st != 200 {
		t.Fatalf("after refill: %d %v", st, body)
	}
}

package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// serve runs one request through Middleware (and extra middleware) in front
// of a handler that echoes the subject from the context.
func serve(t *testing.T, v *Verifier, headers []string, extra ...func(http.Handler) http.Handler) (*httptest.ResponseRecorder, errorJSON) {
	t.Helper()
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := FromContext(r.Context())
		if !ok {
			t.Error("handler reached without claims")
			return
		}
		_, _ = w.Write([]byte(c.Subject))
	})
	for i := len(extra) - 1; i >= 0; i-- {
		h = extra[i](h)
	}
	h = Middleware(v)(h)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/things", nil)
	for _, v := range headers {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body errorJSON
	if rec.Code != http.StatusOK {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("error Content-Type %q", ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
		}
	}
	return rec, body
}

func TestMiddlewareAcceptsBearerInAnyCaseAndBareTokens(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, staticKeys(k), nil)
	tok := signToken(t, k, validClaims(), nil)
	for _, h := range []string{"Bearer " + tok, "bearer " + tok, "BEARER " + tok, "Bearer   " + tok + " ", "Bearer\t" + tok, tok, " " + tok} {
		rec, _ := serve(t, v, []string{h})
		if rec.Code != http.StatusOK || rec.Body.String() != "usr_ada" {
			t.Errorf("%.20q…: %d %s", h, rec.Code, rec.Body)
		}
	}
}

func TestMiddlewareChallengesRequestsWithoutToken(t *testing.T) {
	v := newTestVerifier(t, staticKeys(), nil)
	for _, headers := range [][]string{nil, {""}, {"Bearer"}, {"Bearer   "}} {
		rec, body := serve(t, v, headers)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%q: status %d", headers, rec.Code)
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="ssobroker"` {
			t.Errorf("%q: WWW-Authenticate %q (RFC 6750: no error code without a token)", headers, got)
		}
		if body.Error.Code != "unauthorized" || body.Error.Message == "" {
			t.Errorf("%q: body %+v", headers, body)
		}
	}
}

func TestMiddlewareRefusesInvalidTokens(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, staticKeys(k), func(c *Config) { c.Realm = "opik" })
	expired := validClaims()
	expired.ExpiresAt = testNow.Add(-time.Hour).Unix()
	cases := []struct {
		header, reason string
	}{
		{"Bearer " + signToken(t, k, expired, nil), "token expired"},
		{signToken(t, k, expired, nil), "token expired"},
		{"Bearer not-a-jwt", "malformed token"},
		{`Bearer a"b\c.d.e`, "malformed token"},
		{"Basic dXNlcjpwYXNz", "unsupported authorization scheme; use Bearer"},
		{"Bearer " + signToken(t, k, validClaims(), map[string]any{"typ": "JWT"}), "wrong token type"},
	}
	for _, tc := range cases {
		rec, body := serve(t, v, []string{tc.header})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%.30q: status %d", tc.header, rec.Code)
		}
		want := `Bearer realm="opik", error="invalid_token", error_description="` + tc.reason + `"`
		if got := rec.Header().Get("WWW-Authenticate"); got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
		if body.Error.Code != "invalid_token" || body.Error.Message != tc.reason {
			t.Errorf("body %+v, want invalid_token %q", body, tc.reason)
		}
	}
}

func TestMiddlewareRefusesTwoAuthorizationHeaders(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, staticKeys(k), nil)
	tok := signToken(t, k, validClaims(), nil)
	rec, body := serve(t, v, []string{"Bearer " + tok, "Bearer " + tok})
	if rec.Code != http.StatusBadRequest || body.Error.Code != "invalid_request" ||
		!strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_request"`) {
		t.Fatalf("%d %+v %q", rec.Code, body, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestMiddlewareAnswers503WhenKeysAreUnavailable(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, KeySourceFunc(func(context.Context, string) (jwk.Key, error) {
		return nil, errors.Join(ErrKeysUnavailable, errors.New("connection refused"))
	}), nil)
	rec, body := serve(t, v, []string{"Bearer " + signToken(t, k, validClaims(), nil)})
	if rec.Code != http.StatusServiceUnavailable || body.Error.Code != "unavailable" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %+v", rec.Code, body)
	}
}

func TestQuotableStripsWhatCouldBreakTheChallenge(t *testing.T) {
	if got := quotable("a\"b\\c\r\nd\x00é"); got != "abcd" {
		t.Fatalf("quotable = %q", got)
	}
}

func TestRequirePermission(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, staticKeys(k), nil)
	member := signToken(t, k, validClaims(), nil) // platform member, owner of research, member of prod
	adminClaims := validClaims()
	adminClaims.Org.Role = access.RoleAdmin
	adminClaims.Workspaces = nil
	admin := signToken(t, k, adminClaims, nil)
	fromHeader := func(r *http.Request) string { return r.Header.Get("Comet-Workspace") }

	cases := []struct {
		rule  string
		token string
		p     access.Permission
		ws    string
		want  int
	}{
		{"owner configures own workspace", member, access.WorkspaceConfigure, "research", 200},
		{"member cannot configure", member, access.WorkspaceConfigure, "prod", 403},
		{"non-member cannot read", member, access.WorkspaceRead, "secret", 403},
		{"default workspace resolves", member, access.WorkspaceConfigure, "default", 200},
		{"admin reads any workspace", admin, access.WorkspaceRead, "secret", 200},
		{"org permission without workspace", member, access.OrgCreateWorkspace, "", 200},
		{"org.admin refused to members", member, access.OrgAdmin, "", 403},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			h := Middleware(v)(RequirePermission(tc.p, fromHeader)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			req.Header.Set("Comet-Workspace", tc.ws)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == 403 {
				var body errorJSON
				must(t, json.Unmarshal(rec.Body.Bytes(), &body))
				if body.Error.Code != "forbidden" || !strings.Contains(body.Error.Message, tc.p.String()) {
					t.Fatalf("403 body %+v does not name %s", body, tc.p)
				}
			}
		})
	}

	t.Run("no claims in context", func(t *testing.T) {
		h := RequirePermission(access.WorkspaceRead, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			t.Error("reached handler")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func TestFromContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("claims in an empty context")
	}
	c := validClaims()
	if got, ok := FromContext(WithClaims(context.Background(), c)); !ok || got != c {
		t.Fatal("WithClaims/FromContext lost the claims")
	}
	if _, ok := FromContext(WithClaims(context.Background(), nil)); ok {
		t.Fatal("nil claims reported present")
	}
}

package templates_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/templates"
)

func load(t *testing.T) *templates.Set {
	t.Helper()
	s, err := templates.Load()
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

// pageData has every field any page reads, so each page can render.
var pageData = map[string]any{
	"Action": "/login", "CSRF": "tok", "Authz": "az_1", "ReturnTo": "/x", "Prompt": "login",
	"Email": "ada@acme.test", "Error": "", "OrgName": "Acme", "Name": "Ada",
	"Choices": []map[string]string{{"Name": "Okta", "URL": "/login/acme?connection=conn_1"}},
	"URL":     "https://idp.example/auth?a=1&b=2", "Title": "T", "Message": "M", "Ref": "r1",
	"LinkURL": "/login", "LinkText": "Back", "SignedIn": true, "LogoutAction": "/logout", "LoginURL": "/login",
	"Fields": []templates.Field{{Name: "SAMLRequest", Value: "PD94"}}, "Script": templates.AutoPostScript,
}

func TestEveryPageRendersWithTheLayout(t *testing.T) {
	s := load(t)
	want := []string{"choose", "done", "login", "message", "post", "redirect"}
	var signIn []string
	for _, n := range s.Names() {
		if !strings.HasPrefix(n, "console/") { // console pages are rendered by idp/console's tests
			signIn = append(signIn, n)
		}
	}
	if got := strings.Join(signIn, ","); got != strings.Join(want, ",") {
		t.Fatalf("pages %s, want %s", got, strings.Join(want, ","))
	}
	for _, name := range signIn {
		var b strings.Builder
		if err := s.Execute(&b, name, pageData); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := b.String()
		if !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, "</html>") || !strings.Contains(out, "· ssobroker</title>") ||
			!strings.Contains(out, `<link rel="stylesheet" href="/static/base.css?v=`) || strings.Contains(out, "<style") {
			t.Fatalf("%s is not wrapped in the layout:\n%s", name, out)
		}
	}
}

func TestRenderSetsStatusAndSecurityHeaders(t *testing.T) {
	s := load(t)
	rec := httptest.NewRecorder()
	if err := s.Render(rec, http.StatusNotFound, "message", pageData); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
	h := rec.Header()
	for k, v := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": templates.ContentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if !strings.HasPrefix(templates.ContentSecurityPolicy, "default-src 'none'; style-src 'self'; script-src 'self';") ||
		!strings.Contains(templates.ContentSecurityPolicy, "form-action 'self'") || strings.Contains(templates.ContentSecurityPolicy, "unsafe-inline") {
		t.Errorf("CSP %q lost a required directive", templates.ContentSecurityPolicy)
	}
}

func TestACallerSetHeaderIsKept(t *testing.T) {
	s := load(t)
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Security-Policy", "default-src 'self'")
	_ = s.Render(rec, http.StatusOK, "message", pageData)
	if got := rec.Header().Get("Content-Security-Policy"); got != "default-src 'self'" {
		t.Fatalf("CSP %q replaced the caller's", got)
	}
}

func TestUnknownPageIsA500WithoutHalfAPage(t *testing.T) {
	s := load(t)
	rec := httptest.NewRecorder()
	err := s.Render(rec, http.StatusOK, "nope", nil)
	if !errors.Is(err, templates.ErrUnknownPage) || rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "<html") {
		t.Fatalf("err %v, status %d, body %q", err, rec.Code, rec.Body.String())
	}
}

func TestDataIsEscaped(t *testing.T) {
	s := load(t)
	data := map[string]any{"Title": `<script>alert(1)</script>`, "Message": `"><img src=x>`, "LinkURL": "javascript:alert(1)", "LinkText": "x"}
	var b strings.Builder
	if err := s.Execute(&b, "message", data); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>alert", "<img src=x>", `href="javascript:`} {
		if strings.Contains(out, bad) {
			t.Fatalf("unescaped %q in:\n%s", bad, out)
		}
	}
}

func TestRedirectPageNavigatesWithoutScript(t *testing.T) {
	s := load(t)
	var b strings.Builder
	if err := s.Execute(&b, "redirect", map[string]any{"URL": "https://idp.example/auth?a=1&b=2", "Name": "Okta"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, `<meta http-equiv="refresh" content="0; url=https://idp.example/auth?a=1&amp;b=2">`) {
		t.Fatalf("no meta refresh in:\n%s", out)
	}
	if strings.Contains(out, "<script") {
		t.Fatal("the redirect page uses a script; the CSP forbids it")
	}
}

func TestAutoPostPolicyAllowsExactlyItsScript(t *testing.T) {
	s := load(t)
	page := templates.NewAutoPost("https://idp.example/sso", "Taking you to Okta…",
		map[string][]string{"SAMLRequest": {"PD94bWw+"}, "RelayState": {`"><script>alert(1)</script>`}})
	var b strings.Builder
	if err := s.Execute(&b, "post", page); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	m := regexp.MustCompile(`<script>([^<]*)</script>`).FindAllStringSubmatch(out, -1)
	if len(m) != 1 || m[0][1] != templates.AutoPostScript {
		t.Fatalf("scripts on the page: %q", m)
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	policy := templates.AutoPostPolicy("https://idp.example")
	if !strings.Contains(policy, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") ||
		!strings.Contains(policy, "form-action https://idp.example;") || !strings.Contains(policy, "default-src 'none'") {
		t.Fatalf("policy %q does not allow exactly the page's script and form", policy)
	}
	if !strings.Contains(out, `action="https://idp.example/sso"`) || strings.Contains(out, "<script>alert") ||
		strings.Index(out, `name="RelayState"`) > strings.Index(out, `name="SAMLRequest"`) {
		t.Fatalf("form not as expected (fields sorted, values escaped):\n%s", out)
	}
}

func TestStaticFilesAreServedAndNamedByHash(t *testing.T) {
	h := templates.StaticHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/base.css?v=x", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") || !strings.Contains(rec.Body.String(), "font-family") {
		t.Fatalf("base.css: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, p := range []string{"/static/", "/static/nope.css", "/static/../templates.go", "/static/.hidden"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 404 {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
	}
}

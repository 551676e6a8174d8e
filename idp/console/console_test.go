package console_test

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

func esc(s string) string { return template.HTMLEscapeString(s) }

func TestNotSignedInGoesToSignInAndBack(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		r := f.get(person{}, f.path("/users?after=x"))
		wantStatus(t, r, http.StatusSeeOther)
		want := "/login?" + url.Values{"return_to": {f.path("/users?after=x")}}.Encode()
		if r.Header().Get("Location") != want {
			t.Fatalf("Location %q, want %q", r.Header().Get("Location"), want)
		}
		// A bearer token is never accepted.
		req := f.get(person{cookie: "x=y"}, "/account")
		wantStatus(t, req, http.StatusSeeOther)
	})
}

func TestEveryPageRendersForAnAdmin(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		r := f.get(f.admin, "/admin")
		wantStatus(t, r, http.StatusSeeOther)
		if r.Header().Get("Location") != f.path("/general") {
			t.Fatalf("/admin sends to %q", r.Header().Get("Location"))
		}
		sa, err := f.store.CreateServiceAccount(bg, "test", directory.NewServiceAccount{OrgID: f.org.ID, Name: "ci", Role: access.RolePlatformMember})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/general", "/workspaces", "/workspaces?q=main", "/workspaces/" + f.ws0.ID, "/users", "/users/" + f.admin.id,
			"/settings", "/service-accounts", "/service-accounts/" + sa.ID, "/billing", "/audit", "/audit?actor=test&since=2020-01-01",
			"/connections", "/domains"} {
			r := f.get(f.admin, f.path(p))
			wantStatus(t, r, http.StatusOK)
			wantBody(t, r, `<nav class="tabs" aria-label="Admin console">`, `aria-current="page"`, `<main id="main"`)
			if strings.Contains(r.body(), "<script>") || strings.Contains(r.body(), "<style") || strings.Contains(r.body(), " style=") {
				t.Fatalf("%s has inline script or style", p)
			}
			if got := r.Header().Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
				t.Fatalf("%s CSP %q", p, got)
			}
		}
		wantStatus(t, f.get(f.admin, "/account"), http.StatusOK)
	})
}

package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// setupBrowser opens a setup link: its cookie and the page's CSRF token.
func setupBrowser(t *testing.T, f *fixture, path string) (person, string) {
	t.Helper()
	r := f.get(person{}, path)
	wantStatus(t, r, http.StatusOK)
	if got := r.Header().Get("Referrer-Policy"); got != "no-referrer" {
		t.Fatalf("Referrer-Policy %q: the token must not leak through Referer", got)
	}
	var p person
	for _, c := range r.Result().Cookies() {
		if c.Name == "ssb_setup_csrf" {
			p.cookie = c.Name + "=" + c.Value
		}
	}
	m := csrfField.FindStringSubmatch(r.body())
	if p.cookie == "" || m == nil {
		t.Fatalf("no CSRF cookie or token:\n%s", r.body())
	}
	return p, m[1]
}

func TestSetupLinkPage(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		s := newSelfService(t, f)
		l, token, err := f.store.CreateSetupLink(bg, f.admin.id, f.org.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		base := "/setup/" + token
		r := f.get(person{}, base)
		wantBody(t, r, "Set up single sign-on for acme", "Okta", "Microsoft Entra ID", "Google Workspace", "OpenID Connect")
		b, csrf := setupBrowser(t, f, base+"?idp=oidc")
		post := func(path string, form url.Values) resp {
			form.Set("csrf", csrf)
			return f.post(b, path, form, true)
		}

		// No CSRF token, or another link's: refused, nothing created.
		wantStatus(t, f.post(b, base+"/start", url.Values{"idp": {"oidc"}}, true), http.StatusForbidden)
		_, other, _ := f.store.CreateSetupLink(bg, f.admin.id, f.org.ID, time.Hour)
		form := url.Values{"idp": {"oidc"}, "csrf": {csrf}}
		wantStatus(t, f.post(b, "/setup/"+other+"/start", form, true), http.StatusForbidden)

		// A consumer mail domain: the field and a sentence, what was typed
		// kept, nothing stored.
		r = post(base+"/start", url.Values{"idp": {"oidc"}, "name": {"Corp login"}, "domain": {"gmail.com"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `id="start-domain" name="domain" type="text" maxlength="253" autocomplete="off" value="gmail.com" aria-invalid="true"`, `value="Corp login"`)
		if cs, _ := f.store.ListConnections(bg, f.org.ID); len(cs) != 0 {
			t.Fatalf("a refused start created %v", cs)
		}

		r = post(base+"/start", url.Values{"idp": {"oidc"}, "name": {"Corp login"}, "domain": {"corp-setup.test"}})
		wantStatus(t, r, http.StatusSeeOther)
		cs, _ := f.store.ListConnections(bg, f.org.ID)
		if len(cs) != 1 || cs[0].Enabled || cs[0].Name != "Corp login" {
			t.Fatalf("connections after start: %+v", cs)
		}
		c := cs[0]
		r = f.get(b, base+"?idp=oidc")
		wantBody(t, r, "http://sso.test/sso/oidc/"+c.ID+"/callback", "_ssobroker-challenge.corp-setup.test", "ssobroker-verify=")

		// An issuer that answers nothing: the field, its sentence, the
		// typed values kept, nothing saved.
		r = post(base+"/connections/"+c.ID+"/settings", url.Values{"idp": {"oidc"}, "issuer": {"http://127.0.0.1:1/nothing"},
			"client_id": {"broker"}, "client_secret": {"s3cret"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `value="http://127.0.0.1:1/nothing" aria-invalid="true"`, `value="broker"`)
		if strings.Contains(r.body(), "s3cret") {
			t.Fatal("the secret is echoed")
		}
		issuer := discoveryServer(t, nil)
		wantStatus(t, post(base+"/connections/"+c.ID+"/settings", url.Values{"idp": {"oidc"}, "issuer": {issuer},
			"client_id": {"broker"}, "client_secret": {"s3cret"}}), http.StatusSeeOther)

		// The test sign-in: the browser goes to the one-time URL.
		r = post(base+"/connections/"+c.ID+"/test", url.Values{})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header().Get("Location"); !strings.HasPrefix(loc, "http://sso.test"+idp.TestStartPath) {
			t.Fatalf("test sent to %q", loc)
		}

		// Only this org's connections: another org's is not found and
		// stays as it was.
		o2, _, err := f.store.CreateOrg(bg, "test", directory.NewOrg{Name: "other-org"})
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := f.store.CreateConnection(bg, "test", directory.Connection{OrgID: o2.ID, Type: directory.ConnectionOIDC, Name: "theirs"})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, post(base+"/connections/"+foreign.ID+"/activate", url.Values{}), http.StatusNotFound)
		if got, _ := f.store.GetConnection(bg, o2.ID, foreign.ID); got.Enabled {
			t.Fatal("a setup link enabled another org's connection")
		}

		wantStatus(t, post(base+"/connections/"+c.ID+"/activate", url.Values{}), http.StatusSeeOther)
		if got, _ := f.store.GetConnection(bg, f.org.ID, c.ID); !got.Enabled {
			t.Fatal("activation did not enable the connection")
		}
		// Every change is audited with the link as actor.
		events, _, err := f.store.ListAudit(bg, f.org.ID, directory.AuditFilter{Actor: directory.SetupLinkActor(l.ID)})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]bool{}
		for _, e := range events {
			actions[e.Action] = true
		}
		if !actions["domain.add"] || !actions["connection.create"] || !actions["connection.update"] {
			t.Fatalf("audit by the link: %+v", events)
		}

		// Revoked, unknown: a page saying which, no form.
		if err := f.store.RevokeSetupLink(bg, f.admin.id, f.org.ID, l.ID); err != nil {
			t.Fatal(err)
		}
		r = f.get(person{}, base)
		wantStatus(t, r, http.StatusGone)
		wantBody(t, r, "This setup link was revoked")
		wantStatus(t, post(base+"/connections/"+c.ID+"/activate", url.Values{}), http.StatusGone)
		r = f.get(person{}, "/setup/ssbs_"+strings.Repeat("x", 40))
		wantStatus(t, r, http.StatusNotFound)
		wantBody(t, r, "Unknown setup link")
		_ = s
	})
}

package console_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/idp"
)

// TestAccountSwitchesOrg proves /account's org switcher
// (docs/org-switching.md): a member of two orgs moves the browser session
// to the other one without signing in again (a new session cookie, the old
// session gone); someone who left the org a moment ago stays where they
// are with a page saying why; the form needs its CSRF token.
func TestAccountSwitchesOrg(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		beta, _, err := f.store.CreateOrg(bg, "test", directory.NewOrg{Name: "beta"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AddMember(bg, "test", beta.ID, f.admin.id, access.RolePlatformMember); err != nil {
			t.Fatal(err)
		}
		page := f.get(f.admin, "/account")
		wantStatus(t, page, http.StatusOK)
		wantBody(t, page, `action="/account/switch"`, `name="org" value="`+beta.ID+`"`)

		wantStatus(t, f.post(f.admin, "/account/switch", url.Values{"org": {beta.ID}}, true), http.StatusForbidden)

		r := f.post(f.admin, "/account/switch", url.Values{"org": {beta.ID}})
		var next string
		for _, c := range r.Result().Cookies() {
			if c.Name == idp.SessionCookie && c.Value != "" {
				next = c.Value
			}
		}
		if next == "" {
			t.Fatalf("no new session cookie; status %d", r.Code)
		}
		moved := person{id: f.admin.id, cookie: idp.SessionCookie + "=" + next + "; " + idp.CSRFCookie + "=" + csrfValue}
		after := f.follow(moved, r)
		wantBody(t, after, "You switched to beta", "Signed in to</dt><dd>beta")
		// The old session is gone: that browser is sent to sign in.
		if old := f.get(f.admin, "/account"); old.Code != http.StatusSeeOther && old.Code != http.StatusFound {
			t.Fatalf("old session still works: %d", old.Code)
		}
		// Back to acme, then leave beta and try again: refused at once.
		r = f.post(moved, "/account/switch", url.Values{"org": {f.org.ID}})
		for _, c := range r.Result().Cookies() {
			if c.Name == idp.SessionCookie && c.Value != "" {
				next = c.Value
			}
		}
		home := person{id: f.admin.id, cookie: idp.SessionCookie + "=" + next + "; " + idp.CSRFCookie + "=" + csrfValue}
		wantBody(t, f.follow(home, r), "You switched to acme")
		other := f.member("root@beta.test", "Root", access.RoleAdmin)
		if _, err := f.store.AddMember(bg, "test", beta.ID, other.id, access.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if err := f.store.RemoveMember(bg, "test", beta.ID, f.admin.id); err != nil {
			t.Fatal(err)
		}
		refused := f.post(home, "/account/switch", url.Values{"org": {beta.ID}})
		wantStatus(t, refused, http.StatusForbidden)
		wantBody(t, refused, "not a member of that organization", "still signed in to acme")
	})
}

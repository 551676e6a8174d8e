package console_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/console"
)

// TestBadLinksSayWhichAndWhatToDo walks issue 12's "Bad input" for links:
// an expired, a used and an unknown sign-in link, and an invitation link
// that was accepted, revoked or has expired, each get a page saying which
// and what to do, and change nothing.
func TestBadLinksSayWhichAndWhatToDo(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		browser := person{cookie: idp.CSRFCookie + "=" + csrfValue}
		f.links.tokens["late"] = console.RedeemedLink{OrgID: f.org.ID, UserID: f.admin.id}
		f.links.expired["late"] = true
		r := f.post(browser, "/admin/sign-in/late", nil)
		wantStatus(t, r, http.StatusGone)
		wantBody(t, r, "This sign-in link has expired", "ssobroker admin sign-in-link")
		for _, c := range r.Result().Cookies() {
			if c.Name == idp.SessionCookie && c.Value != "" {
				t.Fatal("an expired link opened a session")
			}
		}
		f.links.tokens["once"] = console.RedeemedLink{OrgID: f.org.ID, UserID: f.admin.id}
		wantStatus(t, f.post(browser, "/admin/sign-in/once", nil), http.StatusSeeOther)
		r = f.post(browser, "/admin/sign-in/once", nil)
		wantStatus(t, r, http.StatusGone)
		wantBody(t, r, "This sign-in link was already used")
		r = f.post(browser, "/admin/sign-in/never-made", nil)
		wantStatus(t, r, http.StatusNotFound)
		wantBody(t, r, "This sign-in link is not valid.")

		invite := func(email string, ttl time.Duration) directory.Invitation {
			inv, err := f.store.CreateInvitation(bg, f.admin.id, directory.NewInvitation{OrgID: f.org.ID, Email: email, Role: access.RolePlatformMember, TTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			return inv
		}
		pending := invite("pat@acme.test", 0)
		r = f.get(person{}, "/invite/"+pending.ID)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, `id="accept"`, "pat@acme.test")

		revoked := invite("rex@acme.test", 0)
		f.follow(f.admin, f.post(f.admin, f.path("/invitations/"+revoked.ID+"/revoke"), nil))
		r = f.get(person{}, "/invite/"+revoked.ID)
		wantStatus(t, r, http.StatusGone)
		wantBody(t, r, "This invitation was revoked.", "Ask Ada Admin for a new invitation.")

		accepted := invite("acc@acme.test", 0)
		u, err := f.store.CreateUser(bg, "test", directory.NewUser{Email: "acc@acme.test", EmailVerified: true, Name: "Acc"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AcceptInvitation(bg, f.org.ID, accepted.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		r = f.get(person{}, "/invite/"+accepted.ID)
		wantStatus(t, r, http.StatusGone)
		wantBody(t, r, "This invitation was already accepted.", "Sign in to acme as usual.")

		expired := invite("exp@acme.test", time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		r = f.get(person{}, "/invite/"+expired.ID)
		wantStatus(t, r, http.StatusGone)
		wantBody(t, r, "This invitation has expired.", "Ask Ada Admin for a new invitation.")
		// Resending an expired invitation is refused with its state; it
		// stays as it was.
		r = f.follow(f.admin, f.post(f.admin, f.path("/invitations/"+expired.ID+"/resend"), nil))
		wantBody(t, r, "exp@acme.test is expired: only a pending invitation can be sent again.")
		wantStatus(t, f.get(person{}, "/invite/not-an-invitation"), http.StatusNotFound)
	})
}

// TestRefusedFormsKeepWhatWasTypedAndChangeNothing: forms refused by
// validation or a grant rule show their sentence above the form with the
// typed values, and the directory is unchanged; a form without its CSRF
// token is refused whatever it carries.
func TestRefusedFormsKeepWhatWasTypedAndChangeNothing(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		// An invitation naming an unknown workspace keeps the email typed.
		r := f.post(f.admin, f.path("/invitations"), url.Values{"email": {"kim@acme.test"}, "role": {"platform_member"}, "workspaces": {"nope-ws"}})
		wantStatus(t, r, http.StatusNotFound)
		wantBody(t, r, `value="kim@acme.test"`, `value="nope-ws"`, `id="form-error"`, "nope-ws")
		// An invalid email, a role that does not exist.
		r = f.post(f.admin, f.path("/invitations"), url.Values{"email": {"not-an-email"}, "role": {"platform_member"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `value="not-an-email"`, `id="form-error"`)
		r = f.post(f.admin, f.path("/invitations"), url.Values{"email": {"kim@acme.test"}, "role": {"emperor"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "Choose the role the invitation grants.", `value="kim@acme.test"`)
		// More than 50 workspaces.
		many := ""
		for i := 0; i < 51; i++ {
			many += "ws" + string(rune('a'+i%26)) + ","
		}
		r = f.post(f.admin, f.path("/invitations"), url.Values{"email": {"kim@acme.test"}, "role": {"platform_member"}, "workspaces": {many}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "Name at most 50 workspaces.")
		if invs, _, err := f.store.ListInvitations(bg, f.org.ID, directory.Page{}); err != nil || len(invs) != 0 {
			t.Fatalf("refused invitations left %d invitations (%v)", len(invs), err)
		}
		// A service account with a bad workspace role keeps its name.
		r = f.post(f.admin, f.path("/service-accounts"), url.Values{"name": {"ci-bot"}, "role": {"platform_member"}, "workspaces": {"acme-main"}, "workspace_role": {"boss"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `The workspace role must be &#34;owner&#34; or &#34;member&#34;.`, `value="ci-bot"`)
		if sas, _, err := f.store.ListServiceAccounts(bg, f.org.ID, directory.Page{}); err != nil || len(sas) != 0 {
			t.Fatalf("a refused service account was created: %d (%v)", len(sas), err)
		}
		// Without CSRF nothing is created, whatever the form says.
		wantStatus(t, f.post(f.admin, f.path("/invitations"), url.Values{"email": {"kim@acme.test"}, "role": {"platform_member"}}, true), http.StatusForbidden)
		wantStatus(t, f.post(f.admin, f.path("/service-accounts"), url.Values{"name": {"ci-bot"}, "role": {"platform_member"}}, true), http.StatusForbidden)
		wantStatus(t, f.post(f.admin, f.path("/workspaces"), url.Values{"name": {"sneaky"}}, true), http.StatusForbidden)
		if invs, _, _ := f.store.ListInvitations(bg, f.org.ID, directory.Page{}); len(invs) != 0 {
			t.Fatal("a form without CSRF created an invitation")
		}
		if _, err := f.store.GetWorkspace(bg, f.org.ID, "sneaky"); err == nil {
			t.Fatal("a form without CSRF created a workspace")
		}
	})
}

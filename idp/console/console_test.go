package console_test

import (
	"errors"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/console"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// esc is a directory sentence as a page shows it: escaped, its first letter
// capitalised (so it is matched from the second).
func esc(s string) string { return template.HTMLEscapeString(s[1:]) }

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

func TestActionsChangeWhatTheyShouldAndNeedCSRF(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		// Without the CSRF token: a 403 page and nothing changes.
		r := f.post(f.admin, f.path("/general"), url.Values{"name": {"globex"}}, true)
		wantStatus(t, r, http.StatusForbidden)
		wantBody(t, r, "nothing was changed")
		if o, _ := f.store.GetOrg(bg, f.org.ID); o.Name != "acme" {
			t.Fatalf("renamed without CSRF: %q", o.Name)
		}
		// A wrong token is refused as well.
		form := url.Values{"name": {"globex"}, "csrf": {strings.Repeat("B", 43)}}
		wantStatus(t, f.post(f.admin, f.path("/general"), form, true), http.StatusForbidden)

		// Rename, with the flash after the redirect.
		page := f.follow(f.admin, f.post(f.admin, f.path("/general"), url.Values{"name": {"acme-corp"}}))
		wantBody(t, page, "The organization is now named acme-corp.", `role="status"`)
		if o, _ := f.store.GetOrg(bg, f.org.ID); o.Name != "acme-corp" {
			t.Fatalf("name %q", o.Name)
		}

		// Create a workspace: the creator is its owner (the badge).
		page = f.follow(f.admin, f.post(f.admin, f.path("/workspaces"), url.Values{"name": {"research"}}))
		wantBody(t, page, "Workspace research created", "Member: owner")
		ws, err := f.store.GetWorkspace(bg, f.org.ID, "research")
		if err != nil {
			t.Fatal(err)
		}
		// Search on the server.
		r = f.get(f.admin, f.path("/workspaces?q=resea"))
		wantBody(t, r, `id="ws-research"`)
		if strings.Contains(r.body(), `id="ws-acme-main"`) {
			t.Fatal("search kept a workspace that does not match")
		}
		// Mark default.
		f.follow(f.admin, f.post(f.admin, f.path("/workspaces/"+ws.ID+"/default"), nil))
		if o, _ := f.store.GetOrg(bg, f.org.ID); o.Settings.DefaultWorkspace != ws.ID {
			t.Fatal("default not changed")
		}
		// Settings.
		page = f.follow(f.admin, f.post(f.admin, f.path("/settings"), url.Values{"only_admins_can_invite": {"on"}, "jit_mode": {"approval"},
			"default_org_role": {"opik_member"}, "default_workspace": {"acme-main"}}))
		wantBody(t, page, "Organization settings saved.")
		o, _ := f.store.GetOrg(bg, f.org.ID)
		if !o.Settings.OnlyAdminsCanInvite || o.Settings.JITMode != directory.JITApproval || o.Settings.DefaultOrgRole != access.RoleOpikMember || o.Settings.DefaultWorkspace != f.ws0.ID {
			t.Fatalf("settings %+v", o.Settings)
		}

		// Workspace members: add, update flags, remove.
		bob := f.member("bob@acme.test", "Bob", access.RolePlatformMember)
		f.follow(f.admin, f.post(f.admin, f.path("/workspaces/"+ws.ID+"/members"), url.Values{"principal": {bob.id}, "role": {"member"}, "can_invite": {"on"}}))
		if m := membership(t, f, ws.ID, bob.id); m == nil || m.Role != access.WorkspaceMember || !m.CanInvite {
			t.Fatalf("membership %+v", m)
		}
		f.follow(f.admin, f.post(f.admin, f.path("/workspaces/"+ws.ID+"/members/"+bob.id+"/update"), url.Values{"role": {"owner"}}))
		if m := membership(t, f, ws.ID, bob.id); m == nil || m.Role != access.WorkspaceOwner {
			t.Fatalf("membership %+v", m)
		}
		f.follow(f.admin, f.post(f.admin, f.path("/workspaces/"+ws.ID+"/members/"+bob.id+"/remove"), nil))
		if m := membership(t, f, ws.ID, bob.id); m != nil {
			t.Fatal("not removed")
		}

		// Members: role change, sign out everywhere, removal.
		page = f.follow(f.admin, f.post(f.admin, f.path("/users/"+bob.id+"/role"), url.Values{"role": {"view_only_platform_member"}}))
		wantBody(t, page, "is now view_only_platform_member")
		if m, _ := f.store.GetMember(bg, f.org.ID, bob.id); m.Role != access.RoleViewOnly {
			t.Fatalf("role %q", m.Role)
		}
		wantBody(t, f.get(f.admin, f.path("/users/"+bob.id)), "Active sessions", "link")
		f.follow(f.admin, f.post(f.admin, f.path("/users/"+bob.id+"/signout"), nil))
		if ss, _ := f.sessions.ListUserSessions(bg, bob.id); len(ss) != 0 {
			t.Fatalf("sessions left: %d", len(ss))
		}
		wantStatus(t, f.get(bob, "/account"), http.StatusSeeOther) // signed out
		f.follow(f.admin, f.post(f.admin, f.path("/users/"+bob.id+"/remove"), nil))
		if _, err := f.store.GetMember(bg, f.org.ID, bob.id); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("member still there: %v", err)
		}

		// Delete a workspace (not the default).
		f.follow(f.admin, f.post(f.admin, f.path("/workspaces/"+ws.ID+"/delete"), nil))
		if _, err := f.store.GetWorkspace(bg, f.org.ID, ws.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Fatal("workspace not deleted")
		}
	})
}

func membership(t *testing.T, f *fixture, wsID, principal string) *access.Membership {
	t.Helper()
	wms, err := f.store.PrincipalWorkspaces(bg, f.org.ID, principal)
	if err != nil {
		t.Fatal(err)
	}
	for _, wm := range wms {
		if wm.WorkspaceID == wsID {
			return &wm.Membership
		}
	}
	return nil
}

func TestInvariantRefusalsShowTheSentenceAndChangeNothing(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		// The only workspace.
		r := f.post(f.admin, f.path("/workspaces/"+f.ws0.ID+"/delete"), url.Values{"new_default": {"nope"}})
		wantStatus(t, r, http.StatusConflict)
		wantBody(t, r, esc(`workspace "acme-main" is the organization's only workspace and cannot be deleted`))
		// The default workspace needs a new default first; the typed value stays.
		if _, err := f.store.CreateWorkspace(bg, "test", f.org.ID, "second", ""); err != nil {
			t.Fatal(err)
		}
		r = f.post(f.admin, f.path("/workspaces/"+f.ws0.ID+"/delete"), nil)
		wantStatus(t, r, http.StatusConflict)
		wantBody(t, r, esc(`workspace "acme-main" is the default workspace: name a new default workspace to delete it`), `id="new_default"`)
		r = f.post(f.admin, f.path("/workspaces/"+f.ws0.ID+"/delete"), url.Values{"new_default": {"acme-main"}})
		wantStatus(t, r, http.StatusConflict)
		wantBody(t, r, `value="acme-main"`)
		if _, err := f.store.GetWorkspace(bg, f.org.ID, f.ws0.ID); err != nil {
			t.Fatalf("workspace gone: %v", err)
		}
		// ...and with it, the default moves and the workspace goes.
		f.follow(f.admin, f.post(f.admin, f.path("/workspaces/"+f.ws0.ID+"/delete"), url.Values{"new_default": {"second"}}))
		if _, err := f.store.GetWorkspace(bg, f.org.ID, f.ws0.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Fatal("not deleted")
		}

		// Taken and reserved names keep what was typed.
		if _, _, err := f.store.CreateOrg(bg, "test", directory.NewOrg{Name: "globex", WorkspaceName: "globex-ws"}); err != nil {
			t.Fatal(err)
		}
		r = f.post(f.admin, f.path("/workspaces"), url.Values{"name": {"globex-ws"}})
		wantStatus(t, r, http.StatusConflict)
		wantBody(t, r, `value="globex-ws"`, `role="alert"`, "globex-ws")
		r = f.post(f.admin, f.path("/workspaces"), url.Values{"name": {"default"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "is reserved", `value="default"`)

		// Self-demotion and self-removal.
		r = f.post(f.admin, f.path("/users/"+f.admin.id+"/role"), url.Values{"role": {"platform_member"}})
		wantStatus(t, r, http.StatusConflict)
		wantBody(t, r, esc("you cannot change your own organization role; ask another admin"))
		r = f.follow(f.admin, f.post(f.admin, f.path("/users/"+f.admin.id+"/remove"), nil))
		wantBody(t, r, esc("you cannot remove yourself from the organization; ask another admin"), `role="alert"`)
		if m, err := f.store.GetMember(bg, f.org.ID, f.admin.id); err != nil || m.Role != access.RoleAdmin {
			t.Fatalf("admin changed: %+v %v", m, err)
		}
		// A refused rename keeps the typed name.
		r = f.post(f.admin, f.path("/general"), url.Values{"name": {""}})
		if r.Code != http.StatusUnprocessableEntity && r.Code != http.StatusConflict {
			t.Fatalf("status %d", r.Code)
		}
		wantBody(t, r, `role="alert"`)
		if o, _ := f.store.GetOrg(bg, f.org.ID); o.Name != "acme" {
			t.Fatal("renamed")
		}
	})
}

func TestNonAdminsAndOtherOrgs(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		bob := f.member("bob@acme.test", "Bob", access.RolePlatformMember)
		for _, p := range []string{"/general", "/users", "/billing", "/audit"} {
			r := f.get(bob, f.path(p))
			wantStatus(t, r, http.StatusForbidden)
			wantBody(t, r, "needs the org.admin permission: ask an admin of acme")
		}
		r := f.post(bob, f.path("/general"), url.Values{"name": {"bobcorp"}})
		wantStatus(t, r, http.StatusForbidden)
		if o, _ := f.store.GetOrg(bg, f.org.ID); o.Name != "acme" {
			t.Fatal("renamed by a non-admin")
		}
		wantStatus(t, f.get(bob, "/admin"), http.StatusForbidden)
		wantStatus(t, f.get(bob, "/account"), http.StatusOK)

		// An admin of another org asking for acme: 404, as if it did not exist.
		other, _, err := f.store.CreateOrg(bg, "test", directory.NewOrg{Name: "globex"})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := f.store.CreateUser(bg, "test", directory.NewUser{Email: "gina@globex.test", EmailVerified: true})
		if _, err := f.store.AddMember(bg, "test", other.ID, u.ID, access.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		gina := f.signIn(u.ID, other.ID, "gina@globex.test")
		for _, p := range []string{"/general", "/users", "/workspaces/" + f.ws0.ID} {
			wantStatus(t, f.get(gina, f.path(p)), http.StatusNotFound)
		}
		wantStatus(t, f.post(gina, f.path("/general"), url.Values{"name": {"x"}}), http.StatusNotFound)
		wantStatus(t, f.get(gina, "/admin/"+other.ID+"/general"), http.StatusOK)
		// By name as well.
		wantStatus(t, f.get(gina, "/admin/acme/general"), http.StatusNotFound)

		// A session whose member was removed has no standing any more.
		if err := f.store.RemoveMember(bg, f.admin.id, f.org.ID, bob.id); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, f.get(bob, "/account"), http.StatusForbidden)
	})
}

func TestInvitationsJoinRequestsServiceAccounts(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		r := f.post(f.admin, f.path("/invitations"), url.Values{"email": {"carol@acme.test"}, "role": {"platform_member"},
			"workspaces": {"acme-main"}, "workspace_role": {"member"}})
		wantStatus(t, r, http.StatusCreated)
		wantBody(t, r, `id="accept-url"`, "http://sso.test/invite/inv_", "It was mailed to them.")
		if len(f.mailer.sent) != 1 || !strings.HasPrefix(f.mailer.sent[0], "carol@acme.test http://sso.test/invite/") {
			t.Fatalf("mail %v", f.mailer.sent)
		}
		invs, _, _ := f.store.ListInvitations(bg, f.org.ID, directory.Page{})
		if len(invs) != 1 || invs[0].Role != access.RolePlatformMember || len(invs[0].Workspaces) != 1 {
			t.Fatalf("invitations %+v", invs)
		}
		// The invitation page.
		p := f.get(person{}, "/invite/"+invs[0].ID)
		wantStatus(t, p, http.StatusOK)
		wantBody(t, p, "Ada Admin invited you to acme as Platform member", "/login/"+f.org.ID+"?login_hint=carol%40acme.test")
		// Resend, then revoke.
		f.follow(f.admin, f.post(f.admin, f.path("/invitations/"+invs[0].ID+"/resend"), nil))
		if len(f.mailer.sent) != 2 {
			t.Fatal("not resent")
		}
		page := f.follow(f.admin, f.post(f.admin, f.path("/invitations/"+invs[0].ID+"/revoke"), nil))
		wantBody(t, page, "Invitation for carol@acme.test revoked.")
		if inv, _ := f.store.GetInvitation(bg, f.org.ID, invs[0].ID); inv.State != directory.InvitationRevoked {
			t.Fatalf("state %q", inv.State)
		}
		wantStatus(t, f.get(person{}, "/invite/"+invs[0].ID), http.StatusGone)
		// A refused invitation keeps what was typed.
		r = f.post(f.admin, f.path("/invitations"), url.Values{"email": {"not-an-email"}, "role": {"opik_member"}, "workspaces": {"nope-ws"}})
		if r.Code != http.StatusNotFound && r.Code != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", r.Code)
		}
		wantBody(t, r, `value="not-an-email"`, `value="nope-ws"`, `<option value="opik_member" selected>`)

		// Join requests: approve and deny.
		u1, _ := f.store.CreateUser(bg, "test", directory.NewUser{Email: "dan@acme.test", EmailVerified: true})
		u2, _ := f.store.CreateUser(bg, "test", directory.NewUser{Email: "eve@acme.test", EmailVerified: true})
		j1, _ := f.store.CreateJoinRequest(bg, f.org.ID, u1.ID)
		j2, _ := f.store.CreateJoinRequest(bg, f.org.ID, u2.ID)
		wantBody(t, f.get(f.admin, f.path("/billing")), `<dd id="billing-pending">2</dd>`, `<dd id="billing-admins">1</dd>`)
		f.follow(f.admin, f.post(f.admin, f.path("/requests/"+j1.ID+"/approve"), nil))
		f.follow(f.admin, f.post(f.admin, f.path("/requests/"+j2.ID+"/deny"), nil))
		if _, err := f.store.GetMember(bg, f.org.ID, u1.ID); err != nil {
			t.Fatalf("approved user not a member: %v", err)
		}
		if _, err := f.store.GetMember(bg, f.org.ID, u2.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Fatal("denied user is a member")
		}

		// Service account, key shown once, revoke.
		r = f.post(f.admin, f.path("/service-accounts"), url.Values{"name": {"ci-bot"}, "role": {"platform_member"}, "workspaces": {"acme-main"}})
		wantStatus(t, r, http.StatusSeeOther)
		sas, _, _ := f.store.ListServiceAccounts(bg, f.org.ID, directory.Page{})
		if len(sas) != 1 || sas[0].Name != "ci-bot" {
			t.Fatalf("service accounts %+v", sas)
		}
		r = f.post(f.admin, f.path("/service-accounts/"+sas[0].ID+"/keys"), nil)
		wantStatus(t, r, http.StatusCreated)
		wantBody(t, r, `id="api-key"`, `value="ssb_`, "shown only this once")
		keys, _ := f.store.ListAPIKeys(bg, f.org.ID, sas[0].ID)
		if len(keys) != 1 {
			t.Fatalf("keys %d", len(keys))
		}
		if strings.Contains(f.get(f.admin, f.path("/service-accounts/"+sas[0].ID)).body(), `value="ssb_`) {
			t.Fatal("the secret is shown again")
		}
		f.follow(f.admin, f.post(f.admin, f.path("/service-accounts/"+sas[0].ID+"/keys/"+keys[0].ID+"/revoke"), nil))
		if keys, _ := f.store.ListAPIKeys(bg, f.org.ID, sas[0].ID); keys[0].RevokedAt == nil {
			t.Fatal("key not revoked")
		}
		// A duplicate name keeps the form.
		r = f.post(f.admin, f.path("/service-accounts"), url.Values{"name": {""}, "role": {"platform_member"}})
		if r.Code != http.StatusUnprocessableEntity && r.Code != http.StatusConflict {
			t.Fatalf("status %d: %s", r.Code, r.body())
		}

		// The audit log shows what the console did, filtered.
		a := f.get(f.admin, f.path("/audit?action=invitation.revoke"))
		wantStatus(t, a, http.StatusOK)
		wantBody(t, a, "invitation.revoke")
	})
}

func TestWorkspaceOwnerPage(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		owner := f.member("olga@acme.test", "Olga", access.RolePlatformMember)
		inviter := f.member("ivan@acme.test", "Ivan", access.RolePlatformMember)
		plain := f.member("paul@acme.test", "Paul", access.RolePlatformMember)
		newbie := f.member("nina@acme.test", "Nina", access.RoleViewOnly)
		ws, err := f.store.CreateWorkspace(bg, "test", f.org.ID, "lab", owner.id)
		if err != nil {
			t.Fatal(err)
		}
		put := func(p person, m access.Membership) {
			if _, err := f.store.PutWorkspaceMember(bg, "test", f.org.ID, ws.ID, p.id, m); err != nil {
				t.Fatal(err)
			}
		}
		put(inviter, access.Membership{Role: access.WorkspaceMember, CanInvite: true})
		put(plain, access.Membership{Role: access.WorkspaceMember})

		acc := f.get(owner, "/account")
		wantBody(t, acc, "/account/workspaces/"+ws.ID, "Olga")
		base := "/account/workspaces/" + ws.ID
		wantStatus(t, f.get(owner, base), http.StatusOK)
		wantStatus(t, f.get(plain, base), http.StatusForbidden)
		wantBody(t, f.get(plain, base), "needs the workspace.invite permission")

		// A member with can_invite adds a plain member, but not an owner.
		// She finds the newcomer with the search (no script needed).
		search := f.get(inviter, base+"?q=nin")
		wantBody(t, search, `id="candidate-`+newbie.id+`"`, "nina@acme.test")
		if strings.Contains(search.body(), `id="candidate-`+plain.id+`"`) {
			t.Fatal("the search offers someone who is already a member")
		}
		r := f.post(inviter, base+"/members", url.Values{"principal": {newbie.id}, "role": {"owner"}, "q": {"nin"}})
		wantStatus(t, r, http.StatusForbidden)
		// The refused form is shown again with the search it came from.
		wantBody(t, r, "You cannot grant this membership", `id="candidate-`+newbie.id+`"`, `value="nin"`)
		if membership(t, f, ws.ID, newbie.id) != nil {
			t.Fatal("added despite the refusal")
		}
		f.follow(inviter, f.post(inviter, base+"/members", url.Values{"principal": {newbie.id}, "role": {"member"}}))
		if m := membership(t, f, ws.ID, newbie.id); m == nil || m.Role != access.WorkspaceMember {
			t.Fatalf("membership %+v", m)
		}
		// Removing needs the owner.
		r = f.follow(inviter, f.post(inviter, base+"/members/"+newbie.id+"/remove", nil))
		wantBody(t, r, "needs the workspace.configure permission")
		f.follow(owner, f.post(owner, base+"/members/"+newbie.id+"/remove", nil))
		if membership(t, f, ws.ID, newbie.id) != nil {
			t.Fatal("not removed by the owner")
		}
		// The owner sets flags.
		f.follow(owner, f.post(owner, base+"/members/"+plain.id+"/update", url.Values{"role": {"member"}, "can_make_public": {"on"}}))
		if m := membership(t, f, ws.ID, plain.id); m == nil || !m.CanMakePublic {
			t.Fatalf("membership %+v", m)
		}
		// Without CSRF nothing changes.
		wantStatus(t, f.post(owner, base+"/members/"+plain.id+"/remove", nil, true), http.StatusForbidden)
		if membership(t, f, ws.ID, plain.id) == nil {
			t.Fatal("removed without CSRF")
		}
	})
}

func TestSignInLink(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.links.tokens["tok123"] = console.RedeemedLink{OrgID: f.org.ID, UserID: f.admin.id}
		r := f.get(person{}, "/admin/sign-in/tok123")
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, `id="redeem-link"`)
		// GET does not burn it; POST without CSRF neither.
		wantStatus(t, f.post(person{cookie: idp.CSRFCookie + "=" + csrfValue}, "/admin/sign-in/tok123", nil, true), http.StatusForbidden)
		r = f.post(person{cookie: idp.CSRFCookie + "=" + csrfValue}, "/admin/sign-in/tok123", nil)
		wantStatus(t, r, http.StatusSeeOther)
		if r.Header().Get("Location") != f.path("/general") {
			t.Fatalf("Location %q", r.Header().Get("Location"))
		}
		var sid string
		for _, c := range r.Result().Cookies() {
			if c.Name == idp.SessionCookie {
				sid = c.Value
			}
		}
		s, err := f.sessions.GetSession(bg, sid)
		if err != nil || s.UserID != f.admin.id || s.ConnectionID != directory.LinkConnection {
			t.Fatalf("session %+v %v", s, err)
		}
		wantStatus(t, f.get(person{cookie: idp.SessionCookie + "=" + sid}, f.path("/general")), http.StatusOK)
		// Used once.
		r = f.post(person{cookie: idp.CSRFCookie + "=" + csrfValue}, "/admin/sign-in/tok123", nil)
		wantStatus(t, r, http.StatusGone)
		wantBody(t, r, "already used", "ssobroker admin sign-in-link")
		wantStatus(t, f.post(person{cookie: idp.CSRFCookie + "=" + csrfValue}, "/admin/sign-in/unknown", nil), http.StatusNotFound)
	})
}

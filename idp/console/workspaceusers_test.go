package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// TestWorkspaceUsersWithoutScript drives the "manage users" panel as a
// browser without JavaScript does: the Workspaces tab links to the
// workspace's page (the script turns that link into a dialog), whose search
// finds org members by name or email on the server, page by page, and whose
// forms add them with a role and flags.
func TestWorkspaceUsersWithoutScript(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		ws, err := f.store.CreateWorkspace(bg, "test", f.org.ID, "lab", "")
		if err != nil {
			t.Fatal(err)
		}
		tab := f.get(f.admin, f.path("/workspaces"))
		wantStatus(t, tab, http.StatusOK)
		wantBody(t, tab, `href="`+f.path("/workspaces/"+ws.ID)+`" data-dialog="Users of workspace lab"`,
			`<dialog id="panel-dialog" aria-labelledby="panel-dialog-title">`)

		// 25 people named Carol, one already in the workspace, and Dave.
		var carols []person
		for i := range 25 {
			carols = append(carols, f.member(fmt.Sprintf("carol%02d@acme.test", i), fmt.Sprintf("Carol %02d", i), access.RolePlatformMember))
		}
		dave := f.member("dave@acme.test", "Dave", access.RolePlatformMember)
		if _, err := f.store.PutWorkspaceMember(bg, "test", f.org.ID, ws.ID, carols[0].id, access.Membership{Role: access.WorkspaceMember}); err != nil {
			t.Fatal(err)
		}
		base := f.path("/workspaces/" + ws.ID)
		page := f.get(f.admin, base)
		wantStatus(t, page, http.StatusOK)
		wantBody(t, page, `id="workspace-panel"`, `id="member-search"`)
		if strings.Contains(page.body(), `id="candidates"`) {
			t.Fatal("the panel lists the org's members before anyone searched")
		}

		// The search is case-insensitive, leaves out the workspace's members
		// and pages by 20.
		first := f.get(f.admin, base+"?q=CAROL")
		wantStatus(t, first, http.StatusOK)
		if n := strings.Count(first.body(), `id="candidate-`); n != 20 {
			t.Fatalf("first page of the search: %d candidates, want 20", n)
		}
		if strings.Contains(first.body(), `id="candidate-`+carols[0].id+`"`) || strings.Contains(first.body(), `id="candidate-`+dave.id+`"`) {
			t.Fatal("the search offers a member of the workspace or someone who does not match")
		}
		next := between(first.body(), `<nav class="pager" aria-label="Search results pages">`, `</nav>`)
		href := between(next, `href="`, `" rel="next"`)
		if href == "" {
			t.Fatalf("no next page of results: %q", next)
		}
		second := f.get(f.admin, strings.ReplaceAll(href, "&amp;", "&"))
		if n := strings.Count(second.body(), `id="candidate-`); n != 4 {
			t.Fatalf("second page of the search: %d candidates, want 4", n)
		}
		wantBody(t, f.get(f.admin, base+"?q=nobody-here"), `id="no-candidates"`)
		// A search longer than the bound is cut, not an error.
		wantStatus(t, f.get(f.admin, base+"?q="+strings.Repeat("x", 300)), http.StatusOK)

		// Add Dave from his search result as a member with can_make_public;
		// the answer goes back to the same search.
		r := f.post(f.admin, base+"/members", url.Values{"principal": {dave.id}, "role": {"member"}, "can_make_public": {"on"}, "q": {"dav"}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header().Get("Location"); loc != base+"?q=dav" {
			t.Fatalf("after adding: Location %q", loc)
		}
		after := f.follow(f.admin, r)
		wantBody(t, after, "Dave added to workspace lab as member.", `id="no-candidates"`, `id="member-`+dave.id+`"`)
		if m := membership(t, f, ws.ID, dave.id); m == nil || m.Role != access.WorkspaceMember || m.CanInvite || !m.CanMakePublic {
			t.Fatalf("Dave's membership %+v", m)
		}
		// Then owner (owners hold both flags).
		f.follow(f.admin, f.post(f.admin, base+"/members/"+dave.id+"/update", url.Values{"role": {"owner"}}))
		if m := membership(t, f, ws.ID, dave.id); m == nil || m.Role != access.WorkspaceOwner || !m.CanInvite || !m.CanMakePublic {
			t.Fatalf("Dave's membership after making him owner %+v", m)
		}

		// A forged id of someone outside the org: refused with its sentence,
		// the search kept, nothing added.
		outsider, err := f.store.CreateUser(bg, "test", directory.NewUser{Email: "eve@else.test", EmailVerified: true, Name: "Eve"})
		if err != nil {
			t.Fatal(err)
		}
		r = f.post(f.admin, base+"/members", url.Values{"principal": {outsider.ID}, "role": {"member"}, "q": {"carol 1"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "only members of the organization can be added to its workspaces", `value="carol 1"`, `id="candidate-`+carols[10].id+`"`)
		if membership(t, f, ws.ID, outsider.ID) != nil {
			t.Fatal("an outsider was added")
		}
		// No member chosen, or an unknown role.
		wantStatus(t, f.post(f.admin, base+"/members", url.Values{"role": {"member"}}), http.StatusUnprocessableEntity)
		r = f.post(f.admin, base+"/members", url.Values{"principal": {carols[1].id}, "role": {"boss"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `The workspace role must be &#34;owner&#34; or &#34;member&#34;.`)
		// Without the CSRF token nothing happens.
		wantStatus(t, f.post(f.admin, base+"/members", url.Values{"principal": {carols[1].id}, "role": {"member"}}, true), http.StatusForbidden)
		if membership(t, f, ws.ID, carols[1].id) != nil {
			t.Fatal("a form without the CSRF token added a member")
		}
	})
}

// TestUsersAndBillingLists: the Users tab searches members on the server
// and shows each one's workspaces; Billing counts without listing.
func TestUsersAndBillingLists(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		bob := f.member("bob@acme.test", "Bob Builder", access.RolePlatformMember)
		f.member("erin@acme.test", "Erin", access.RoleAdmin)
		if _, err := f.store.PutWorkspaceMember(bg, "test", f.org.ID, f.ws0.ID, bob.id, access.Membership{Role: access.WorkspaceOwner}); err != nil {
			t.Fatal(err)
		}
		r := f.get(f.admin, f.path("/users?q=BUILDER"))
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, `id="member-`+bob.id+`"`, "acme-main (owner)", `value="BUILDER"`)
		if strings.Contains(r.body(), `id="member-`+f.admin.id+`"`) {
			t.Fatal("the search lists a member who does not match")
		}
		wantBody(t, f.get(f.admin, f.path("/users?q=zzz")), `id="no-members"`, "No member’s name or email contains")
		all := f.get(f.admin, f.path("/users"))
		wantBody(t, all, `id="member-`+bob.id+`"`, `id="member-`+f.admin.id+`"`)

		// Invitations and join requests have searches of their own, which
		// the other lists' searches keep.
		for _, e := range []string{"zoe@acme.test", "zack@acme.test", "yan@acme.test"} {
			wantStatus(t, f.post(f.admin, f.path("/invitations"), url.Values{"email": {e}, "role": {"platform_member"}}), http.StatusCreated)
		}
		inv := f.get(f.admin, f.path("/users?inv_q=ZA&q=bob"))
		wantBody(t, inv, "zack@acme.test", `id="member-`+bob.id+`"`, `<input type="hidden" name="inv_q" value="ZA">`)
		if strings.Contains(inv.body(), "zoe@acme.test") || strings.Contains(inv.body(), "yan@acme.test") {
			t.Fatal("the invitation search lists invitations that do not match")
		}
		wantBody(t, f.get(f.admin, f.path("/users?inv_q=nobody")), `id="no-invitations"`)
		wantBody(t, f.get(f.admin, f.path("/service-accounts?q=nobody")), `id="no-service-accounts"`)

		u, err := f.store.CreateUser(bg, "test", directory.NewUser{Email: "req@acme.test", EmailVerified: true, Name: "Req"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.CreateJoinRequest(bg, f.org.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		wantBody(t, f.get(f.admin, f.path("/users?req_q=REQ")), `id="join-requests"`, "req@acme.test")
		wantBody(t, f.get(f.admin, f.path("/users?req_q=zzz")), `id="no-requests"`)
		if _, err := f.store.CreateServiceAccount(bg, "test", directory.NewServiceAccount{OrgID: f.org.ID, Name: "robot", Role: access.RoleOpikMember}); err != nil {
			t.Fatal(err)
		}
		wantBody(t, f.get(f.admin, f.path("/service-accounts?q=ROB")), `id="service-accounts"`, "robot")
		b := f.get(f.admin, f.path("/billing"))
		wantBody(t, b, `<dd id="billing-members">3</dd>`, `<dd id="billing-admins">2</dd>`, `<dd id="billing-pending">1</dd>`, `<dt>Service accounts</dt><dd>1</dd>`)
	})
}

// between returns the text of s between the first from and the next to.
func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(after, to)
	return in
}

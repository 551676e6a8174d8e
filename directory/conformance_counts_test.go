package directory_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// testMemberQueries proves the console's list queries: searching members,
// counting them in one query, and the workspaces of a page of members.
func testMemberQueries(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("members are counted by kind, with admins and pending requests", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		other, _ := newOrg(t, s)
		got := must[directory.MemberCounts](t)(s.CountMembers(bg, o.ID))
		if got != (directory.MemberCounts{}) {
			t.Fatalf("an empty org counts %+v", got)
		}
		newMember(t, s, o.ID, access.RoleAdmin)
		newMember(t, s, o.ID, access.RoleAdmin)
		newMember(t, s, o.ID, access.RolePlatformMember)
		newMember(t, s, other.ID, access.RoleAdmin) // another org's
		newServiceAccount(t, s, o.ID, access.RoleAdmin)
		newServiceAccount(t, s, o.ID, access.RoleOpikMember)
		r1, r2 := newUser(t, s), newUser(t, s)
		must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, r1.ID))
		j2 := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, r2.ID))
		noErr(t, s.DenyJoinRequest(bg, actorSystem, o.ID, j2.ID))
		got = must[directory.MemberCounts](t)(s.CountMembers(bg, o.ID))
		want := directory.MemberCounts{Users: 3, ServiceAccounts: 2, Admins: 2, PendingRequests: 1}
		if got != want {
			t.Fatalf("CountMembers = %+v, want %+v", got, want)
		}
		if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != got.Admins {
			t.Fatalf("CountAdmins = %d, CountMembers.Admins = %d", n, got.Admins)
		}
	})

	t.Run("members are searched by name or email, page by page", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		mk := func(email, name string) string {
			u := must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: email + "-" + tok() + "@example.com", EmailVerified: true, Name: name}))
			must[directory.Member](t)(s.AddMember(bg, actorSystem, o.ID, u.ID, access.RolePlatformMember))
			return u.ID
		}
		ada := mk("ada", "Ada Lovelace")
		grace := mk("grace", "Grace Hopper")
		lovelace := mk("countess", "Augusta Ada King")
		mk("alan", "Alan Turing")
		pct := mk("percent", "100% Sure")
		sa := must[directory.ServiceAccount](t)(s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{OrgID: o.ID, Name: "ada-robot-" + tok(), Role: access.RoleOpikMember}))
		outsider, _ := newOrg(t, s)
		must[directory.Member](t)(s.AddMember(bg, actorSystem, outsider.ID, must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: "ada-" + tok() + "@example.com", Name: "Ada Elsewhere"})).ID, access.RoleAdmin))

		all := func(f directory.MemberFilter) []string {
			t.Helper()
			return pagedIDs(t, func(after string) ([]directory.Member, string, error) {
				f.After, f.Limit = after, 1
				return s.SearchMembers(bg, o.ID, f)
			}, func(m directory.Member) string { return m.PrincipalID })
		}
		sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
		if got, want := all(directory.MemberFilter{Q: "ADA"}), sorted(ada, lovelace, sa.ID); !slices.Equal(got, want) {
			t.Fatalf("search ADA = %v, want %v (name or email, any case, this org only, service accounts too)", got, want)
		}
		if got, want := all(directory.MemberFilter{Q: "hopper"}), sorted(grace); !slices.Equal(got, want) {
			t.Fatalf("search hopper = %v, want %v", got, want)
		}
		if got, want := all(directory.MemberFilter{Q: "%"}), sorted(pct); !slices.Equal(got, want) {
			t.Fatalf("search %% = %v, want %v (LIKE wildcards are literal)", got, want)
		}
		if got := all(directory.MemberFilter{Q: "_"}); len(got) != 0 {
			t.Fatalf("search _ = %v, want none (LIKE wildcards are literal)", got)
		}
		if got := all(directory.MemberFilter{}); len(got) != 6 {
			t.Fatalf("an empty search lists %d members, want 6", len(got))
		}
		ws := newWorkspace(t, s, o.ID)
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, ws.ID, ada, access.Membership{Role: access.WorkspaceMember}))
		if got, want := all(directory.MemberFilter{Q: "ada", NotInWorkspace: ws.ID}), sorted(lovelace, sa.ID); !slices.Equal(got, want) {
			t.Fatalf("search ada outside %s = %v, want %v", ws.Name, got, want)
		}
		_, _, err := s.SearchMembers(bg, o.ID, directory.MemberFilter{Q: strings.Repeat("a", directory.MaxSearchLen+1)})
		wantInvalid(t, err, "q")
	})

	t.Run("the workspaces of a page of members come in one call", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u1 := newMember(t, s, o.ID, access.RolePlatformMember)
		u2 := newMember(t, s, o.ID, access.RolePlatformMember)
		u3 := newMember(t, s, o.ID, access.RolePlatformMember)
		wb := must[directory.Workspace](t)(s.CreateWorkspace(bg, actorSystem, o.ID, "b-"+tok(), ""))
		wa := must[directory.Workspace](t)(s.CreateWorkspace(bg, actorSystem, o.ID, "a-"+tok(), ""))
		other, _ := newOrg(t, s)
		must[directory.Member](t)(s.AddMember(bg, actorSystem, other.ID, u1.ID, access.RolePlatformMember))
		wo := newWorkspace(t, s, other.ID)
		put := func(orgID, wsID, p string, m access.Membership) {
			must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, orgID, wsID, p, m))
		}
		put(o.ID, wb.ID, u1.ID, access.Membership{Role: access.WorkspaceMember, CanInvite: true})
		put(o.ID, wa.ID, u1.ID, access.Membership{Role: access.WorkspaceOwner})
		put(o.ID, wb.ID, u2.ID, access.Membership{Role: access.WorkspaceMember})
		put(other.ID, wo.ID, u1.ID, access.Membership{Role: access.WorkspaceOwner})
		got := must[map[string][]directory.WorkspaceMember](t)(s.WorkspacesOfPrincipals(bg, o.ID, []string{u1.ID, u2.ID, u3.ID}))
		for _, p := range []string{u1.ID, u2.ID, u3.ID} {
			one := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, p))
			if len(one) != len(got[p]) {
				t.Fatalf("%s: WorkspacesOfPrincipals = %+v, PrincipalWorkspaces = %+v", p, got[p], one)
			}
			for i := range one {
				if one[i] != got[p][i] {
					t.Fatalf("%s[%d]: WorkspacesOfPrincipals = %+v, PrincipalWorkspaces = %+v", p, i, got[p][i], one[i])
				}
			}
		}
		if len(got[u1.ID]) != 2 || got[u1.ID][0].WorkspaceID != wa.ID || !got[u1.ID][1].CanInvite || len(got[u3.ID]) != 0 {
			t.Fatalf("WorkspacesOfPrincipals = %+v (by name, this org only)", got)
		}
		empty := must[map[string][]directory.WorkspaceMember](t)(s.WorkspacesOfPrincipals(bg, o.ID, nil))
		if len(empty) != 0 {
			t.Fatalf("no principals: %+v", empty)
		}
		_, err := s.WorkspacesOfPrincipals(bg, o.ID, make([]string, directory.MaxPrincipalsPerCall+1))
		wantInvalid(t, err, "principals")
	})

	t.Run("invitations, join requests and service accounts are searched, page by page", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		other, _ := newOrg(t, s)
		id := tok()
		invite := func(orgID, email string) string {
			return must[directory.Invitation](t)(s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: orgID, Email: email, Role: access.RolePlatformMember})).ID
		}
		i1 := invite(o.ID, "Zed-"+id+"@example.com")
		i2 := invite(o.ID, "zed2-"+id+"@example.com")
		invite(o.ID, "amy-"+id+"@example.com")
		invite(other.ID, "zed3-"+id+"@example.com")
		got := pagedIDs(t, func(after string) ([]directory.Invitation, string, error) {
			return s.SearchInvitations(bg, o.ID, directory.ListFilter{Q: "ZED", Page: directory.Page{After: after, Limit: 1}})
		}, func(i directory.Invitation) string { return i.ID })
		wantInv := []string{i1, i2}
		slices.Sort(wantInv)
		if !slices.Equal(got, wantInv) {
			t.Fatalf("invitations matching ZED = %v, want %v (any case, this org only)", got, wantInv)
		}

		req := func(email, name string) string {
			u := must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: email + "-" + id + "@example.com", EmailVerified: true, Name: name}))
			return must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, u.ID)).ID
		}
		rq := req("quinn", "Quinn Q")
		req("rosa", "Rosa R")
		rn := req("sam", "Samuel Quill")
		js, _, err := s.SearchJoinRequests(bg, o.ID, directory.ListFilter{Q: "qu"})
		noErr(t, err)
		var jids []string
		for _, j := range js {
			jids = append(jids, j.ID)
		}
		slices.Sort(jids)
		want := []string{rq, rn}
		slices.Sort(want)
		if !slices.Equal(jids, want) {
			t.Fatalf("join requests matching qu = %v, want %v (email or name)", jids, want)
		}
		all, _, err := s.SearchJoinRequests(bg, o.ID, directory.ListFilter{})
		noErr(t, err)
		if len(all) != 3 {
			t.Fatalf("an empty search lists %d join requests, want 3", len(all))
		}

		robot := must[directory.ServiceAccount](t)(s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{OrgID: o.ID, Name: "Deploy Robot " + id, Role: access.RoleOpikMember}))
		newServiceAccount(t, s, o.ID, access.RoleOpikMember)
		sas, _, err := s.SearchServiceAccounts(bg, o.ID, directory.ListFilter{Q: "deploy robot"})
		noErr(t, err)
		if len(sas) != 1 || sas[0].ID != robot.ID || sas[0].Role != access.RoleOpikMember {
			t.Fatalf("service accounts matching deploy robot = %+v", sas)
		}
		for _, q := range []string{"%", "_"} {
			sas, _, err = s.SearchServiceAccounts(bg, o.ID, directory.ListFilter{Q: q})
			noErr(t, err)
			if len(sas) != 0 {
				t.Fatalf("service accounts matching %q = %+v (LIKE wildcards are literal)", q, sas)
			}
		}
		long := strings.Repeat("x", directory.MaxSearchLen+1)
		_, _, err = s.SearchInvitations(bg, o.ID, directory.ListFilter{Q: long})
		wantInvalid(t, err, "q")
		_, _, err = s.SearchJoinRequests(bg, o.ID, directory.ListFilter{Q: long})
		wantInvalid(t, err, "q")
		_, _, err = s.SearchServiceAccounts(bg, o.ID, directory.ListFilter{Q: long})
		wantInvalid(t, err, "q")
	})
}

// pagedIDs reads every page of a list, one item a page, and returns the
// items' ids sorted.
func pagedIDs[T any](t *testing.T, list func(after string) ([]T, string, error), id func(T) string) []string {
	t.Helper()
	var ids []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
		items, next, err := list(after)
		noErr(t, err)
		for _, it := range items {
			ids = append(ids, id(it))
		}
		if next == "" {
			break
		}
		after = next
	}
	slices.Sort(ids)
	return ids
}

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
			var ids []string
			f.Limit = 1
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				ms, next, err := s.SearchMembers(bg, o.ID, f)
				noErr(t, err)
				for _, m := range ms {
					ids = append(ids, m.PrincipalID)
				}
				if next == "" {
					break
				}
				f.After = next
			}
			slices.Sort(ids)
			return ids
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
}

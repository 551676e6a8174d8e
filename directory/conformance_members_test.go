package directory_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

func testMembers(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("a user becomes a member with a role", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newUser(t, s)
		m := must[directory.Member](t)(s.AddMember(bg, actorSystem, o.ID, u.ID, access.RoleViewOnly))
		if m.OrgID != o.ID || m.PrincipalID != u.ID || m.Type != directory.PrincipalUser || m.Role != access.RoleViewOnly ||
			m.Email != u.Email || m.Name != u.Name || m.Version != 1 {
			t.Fatalf("member = %+v", m)
		}
		if got := must[directory.Member](t)(s.GetMember(bg, o.ID, u.ID)); got != m {
			t.Fatalf("GetMember = %+v, AddMember returned %+v", got, m)
		}
	})

	t.Run("adding a member twice is a conflict", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		_, err := s.AddMember(bg, actorSystem, o.ID, u.ID, access.RoleAdmin)
		wantConflict(t, err)
		if m := must[directory.Member](t)(s.GetMember(bg, o.ID, u.ID)); m.Role != access.RolePlatformMember {
			t.Fatalf("a refused add changed the role to %s", m.Role)
		}
		sa := newServiceAccount(t, s, o.ID, access.RoleOpikMember)
		_, err = s.AddMember(bg, actorSystem, o.ID, sa.ID, access.RoleOpikMember)
		wantConflict(t, err) // a service account is a member from its creation
	})

	t.Run("unknown principals, orgs and roles are refused", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		_, err := s.AddMember(bg, actorSystem, o.ID, "usr_nobody", access.RolePlatformMember)
		wantNotFound(t, err, "usr_nobody")
		_, err = s.AddMember(bg, actorSystem, o.ID, "sa_nobody", access.RolePlatformMember)
		wantNotFound(t, err, "sa_nobody")
		u := newUser(t, s)
		_, err = s.AddMember(bg, actorSystem, "org_nope", u.ID, access.RolePlatformMember)
		wantNotFound(t, err, "org_nope")
		_, err = s.AddMember(bg, actorSystem, o.ID, u.ID, "owner")
		wantInvalid(t, err, "role")
		_, err = s.GetMember(bg, o.ID, u.ID)
		wantNotFound(t, err, u.ID)
		_, err = s.GetUser(bg, "usr_nobody")
		wantNotFound(t, err, "usr_nobody")
	})

	t.Run("members are listed with users and service accounts, page by page", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		var want []string
		for range 4 {
			want = append(want, newMember(t, s, o.ID, access.RolePlatformMember).ID)
		}
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		want = append(want, sa.ID)
		var got []string
		p := directory.Page{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			ms, next, err := s.ListMembers(bg, o.ID, p)
			noErr(t, err)
			for _, m := range ms {
				got = append(got, m.PrincipalID)
				if m.PrincipalID == sa.ID && (m.Type != directory.PrincipalServiceAccount || m.Name != sa.Name || m.Email != "") {
					t.Fatalf("service account member = %+v", m)
				}
			}
			if next == "" {
				break
			}
			p.After = next
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
	})

	t.Run("a principal's orgs are listed", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		u := newMember(t, s, a.ID, access.RoleAdmin)
		must[directory.Member](t)(s.AddMember(bg, actorSystem, b.ID, u.ID, access.RoleOpikMember))
		ms := must[[]directory.Member](t)(s.ListPrincipalOrgs(bg, u.ID))
		roles := map[string]access.OrgRole{}
		for _, m := range ms {
			roles[m.OrgID] = m.Role
		}
		if len(ms) != 2 || roles[a.ID] != access.RoleAdmin || roles[b.ID] != access.RoleOpikMember {
			t.Fatalf("orgs of user: %+v", ms)
		}
	})

	t.Run("nobody changes their own org role", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		a := newMember(t, s, o.ID, access.RoleAdmin)
		newMember(t, s, o.ID, access.RoleAdmin)
		p := newMember(t, s, o.ID, access.RolePlatformMember)
		_, err := s.SetMemberRole(bg, a.ID, o.ID, a.ID, access.RolePlatformMember, 0)
		wantInvariant(t, err, directory.RuleSelfRoleChange)
		_, err = s.SetMemberRole(bg, p.ID, o.ID, p.ID, access.RoleAdmin, 0)
		wantInvariant(t, err, directory.RuleSelfRoleChange)
		if m := must[directory.Member](t)(s.GetMember(bg, o.ID, p.ID)); m.Role != access.RolePlatformMember {
			t.Fatalf("self promotion happened: %s", m.Role)
		}
	})

	t.Run("admin cannot demote the last admin", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		a := newMember(t, s, o.ID, access.RoleAdmin)
		other := newMember(t, s, o.ID, access.RolePlatformMember)
		newServiceAccount(t, s, o.ID, access.RoleAdmin) // a robot admin does not keep the org administrable
		_, err := s.SetMemberRole(bg, other.ID, o.ID, a.ID, access.RolePlatformMember, 0)
		wantInvariant(t, err, directory.RuleLastAdmin)
		_, err = s.SetMemberRole(bg, actorSystem, o.ID, a.ID, access.RoleViewOnly, 0)
		wantInvariant(t, err, directory.RuleLastAdmin)
		if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 1 {
			t.Fatalf("admins = %d", n)
		}
	})

	t.Run("with two admins one can demote the other", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		a := newMember(t, s, o.ID, access.RoleAdmin)
		b := newMember(t, s, o.ID, access.RoleAdmin)
		m := must[directory.Member](t)(s.SetMemberRole(bg, a.ID, o.ID, b.ID, access.RolePlatformMember, 0))
		if m.Role != access.RolePlatformMember || m.Version != 2 {
			t.Fatalf("demoted member = %+v", m)
		}
		if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 1 {
			t.Fatalf("admins = %d", n)
		}
		_, err := s.SetMemberRole(bg, b.ID, o.ID, a.ID, access.RolePlatformMember, 0)
		wantInvariant(t, err, directory.RuleLastAdmin)
	})

	t.Run("setting a role checks the member's version", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		a := newMember(t, s, o.ID, access.RoleAdmin)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		m := must[directory.Member](t)(s.SetMemberRole(bg, a.ID, o.ID, u.ID, access.RoleOpikMember, 1))
		if m.Version != 2 {
			t.Fatalf("version after change = %d, want 2", m.Version)
		}
		_, err := s.SetMemberRole(bg, a.ID, o.ID, u.ID, access.RoleViewOnly, 1)
		wantIs(t, err, directory.ErrVersionMismatch)
		if got := must[directory.Member](t)(s.GetMember(bg, o.ID, u.ID)); got.Role != access.RoleOpikMember || got.Version != 2 {
			t.Fatalf("after a stale update: %+v", got)
		}
		same := must[directory.Member](t)(s.SetMemberRole(bg, a.ID, o.ID, u.ID, access.RoleOpikMember, 2))
		if same.Version != 2 {
			t.Fatalf("setting the same role moved the version to %d", same.Version)
		}
		_, err = s.SetMemberRole(bg, a.ID, o.ID, u.ID, "superuser", 0)
		wantInvalid(t, err, "role")
		_, err = s.SetMemberRole(bg, a.ID, o.ID, "usr_nobody", access.RoleOpikMember, 0)
		wantNotFound(t, err, "usr_nobody")
	})

	t.Run("nobody removes themselves", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		a := newMember(t, s, o.ID, access.RoleAdmin)
		newMember(t, s, o.ID, access.RoleAdmin)
		wantInvariant(t, s.RemoveMember(bg, a.ID, o.ID, a.ID), directory.RuleSelfRemoval)
		must[directory.Member](t)(s.GetMember(bg, o.ID, a.ID))
	})

	t.Run("the last admin cannot be removed", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		a := newMember(t, s, o.ID, access.RoleAdmin)
		newServiceAccount(t, s, o.ID, access.RoleAdmin)
		wantInvariant(t, s.RemoveMember(bg, actorSystem, o.ID, a.ID), directory.RuleLastAdmin)
		must[directory.Member](t)(s.GetMember(bg, o.ID, a.ID))
	})

	t.Run("a removed member loses its workspace memberships", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		a := newMember(t, s, o.ID, access.RoleAdmin)
		b := newMember(t, s, o.ID, access.RoleAdmin)
		w := must[directory.Workspace](t)(s.CreateWorkspace(bg, b.ID, o.ID, "gone-"+tok(), b.ID))
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, a.ID, o.ID, def.ID, b.ID, access.Membership{Role: access.WorkspaceMember}))
		noErr(t, s.RemoveMember(bg, a.ID, o.ID, b.ID))
		_, err := s.GetMember(bg, o.ID, b.ID)
		wantNotFound(t, err, b.ID)
		if ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, b.ID)); len(ws) != 0 {
			t.Fatalf("removed member still in %v", wsMemberNames(ws))
		}
		if ms, _, _ := s.ListWorkspaceMembers(bg, o.ID, w.ID, directory.Page{}); len(ms) != 0 {
			t.Fatalf("workspace still lists %+v", ms)
		}
		if orgs := must[[]directory.Member](t)(s.ListPrincipalOrgs(bg, b.ID)); len(orgs) != 0 {
			t.Fatalf("removed member still in orgs %+v", orgs)
		}
		wantNotFound(t, s.RemoveMember(bg, a.ID, o.ID, b.ID), b.ID)
		// Re-adding starts from nothing.
		must[directory.Member](t)(s.AddMember(bg, a.ID, o.ID, b.ID, access.RolePlatformMember))
		if ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, b.ID)); len(ws) != 0 {
			t.Fatalf("re-added member got back %v", wsMemberNames(ws))
		}
	})

	t.Run("service accounts leave only by being deleted", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		wantIs(t, s.RemoveMember(bg, actorSystem, o.ID, sa.ID), directory.ErrInvalid)
		must[directory.Member](t)(s.GetMember(bg, o.ID, sa.ID))
	})

	t.Run("only human admins are counted", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 0 {
			t.Fatalf("a new org has %d admins", n)
		}
		newMember(t, s, o.ID, access.RoleAdmin)
		newMember(t, s, o.ID, access.RoleAdmin)
		newMember(t, s, o.ID, access.RolePlatformMember)
		newServiceAccount(t, s, o.ID, access.RoleAdmin)
		if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 2 {
			t.Fatalf("admins = %d, want 2", n)
		}
	})
}

// testConcurrency proves the invariants hold when requests race: the org row
// lock (PostgreSQL) or the write lock (SQLite) must serialize them.
func testConcurrency(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	demote := func(actor, orgID, target string) error {
		_, err := s.SetMemberRole(bg, actor, orgID, target, access.RolePlatformMember, 0)
		return err
	}
	remove := func(actor, orgID, target string) error { return s.RemoveMember(bg, actor, orgID, target) }
	for _, r := range []struct {
		name   string
		first  func(actor, orgID, target string) error
		second func(actor, orgID, target string) error
	}{
		{"two admins demoting each other at once leave exactly one admin", demote, demote},
		{"two admins removing each other at once leave exactly one admin", remove, remove},
		{"an admin demoting another who removes them at once leave exactly one admin", demote, remove},
	} {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			for round := range 20 {
				o, _ := newOrg(t, s)
				a := newMember(t, s, o.ID, access.RoleAdmin)
				b := newMember(t, s, o.ID, access.RoleAdmin)
				var errs [2]error
				start := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() { <-start; errs[0] = r.first(a.ID, o.ID, b.ID) })
				wg.Go(func() { <-start; errs[1] = r.second(b.ID, o.ID, a.ID) })
				close(start)
				wg.Wait()
				failed := 0
				for _, err := range errs {
					if err != nil {
						wantInvariant(t, err, directory.RuleLastAdmin)
						failed++
					}
				}
				if failed != 1 {
					t.Fatalf("round %d: %d of the two calls failed (%v), want exactly one", round, failed, errs)
				}
				if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 1 {
					t.Fatalf("round %d: %d admins left, want 1", round, n)
				}
				// The survivor is the one whose call failed.
				survivor := a.ID
				if errs[0] != nil {
					survivor = b.ID
				}
				if m, err := s.GetMember(bg, o.ID, survivor); err != nil || m.Role != access.RoleAdmin {
					t.Fatalf("round %d: survivor %s is %+v, %v", round, survivor, m, err)
				}
			}
		})
	}

	t.Run("orgs created at once with names of one slug each get a suffixed workspace", func(t *testing.T) {
		t.Parallel()
		for round := range 5 {
			x := tok()
			names := []string{"Race " + x + "!", "Race " + x + "?", "race " + x + "."}
			var errs [3]error
			var ws [3]directory.Workspace
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, n := range names {
				wg.Go(func() { <-start; _, ws[i], errs[i] = s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: n}) })
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d: creating %q: %v; the workspace name was not the caller's choice, so a suffix must be found", round, names[i], err)
				}
			}
			got := wsNames(ws[:])
			slices.Sort(got)
			if want := []string{"race-" + x, "race-" + x + "-2", "race-" + x + "-3"}; !slices.Equal(got, want) {
				t.Fatalf("round %d: workspaces %v, want %v", round, got, want)
			}
		}
	})

	t.Run("a join request approved and denied at once is decided once", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		for round := range 20 {
			u := newUser(t, s)
			j := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, u.ID))
			var approveErr, denyErr error
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { <-start; _, approveErr = s.ApproveJoinRequest(bg, actorSystem, o.ID, j.ID) })
			wg.Go(func() { <-start; denyErr = s.DenyJoinRequest(bg, actorSystem, o.ID, j.ID) })
			close(start)
			wg.Wait()
			if (approveErr == nil) == (denyErr == nil) {
				t.Fatalf("round %d: approve: %v, deny: %v; want exactly one to succeed", round, approveErr, denyErr)
			}
			list, _, err := s.ListJoinRequests(bg, o.ID, directory.Page{Limit: 500})
			noErr(t, err)
			i := slices.IndexFunc(list, func(r directory.JoinRequest) bool { return r.ID == j.ID })
			_, memberErr := s.GetMember(bg, o.ID, u.ID)
			if approved := approveErr == nil; (list[i].State == directory.JoinApproved) != approved || (memberErr == nil) != approved {
				t.Fatalf("round %d: approve err %v, state %s, membership err %v", round, approveErr, list[i].State, memberErr)
			}
		}
	})

	t.Run("an invitation accepted and revoked at once is either, never both", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		for round := range 20 {
			email := "race-" + tok() + "@example.com"
			inv := must[directory.Invitation](t)(s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: email, Role: access.RolePlatformMember}))
			u := must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: email, EmailVerified: true}))
			var acceptErr, revokeErr error
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { <-start; _, acceptErr = s.AcceptInvitation(bg, o.ID, inv.ID, u.ID) })
			wg.Go(func() { <-start; revokeErr = s.RevokeInvitation(bg, actorSystem, o.ID, inv.ID) })
			close(start)
			wg.Wait()
			if (acceptErr == nil) == (revokeErr == nil) {
				t.Fatalf("round %d: accept: %v, revoke: %v; want exactly one to succeed", round, acceptErr, revokeErr)
			}
			got := must[directory.Invitation](t)(s.GetInvitation(bg, o.ID, inv.ID))
			_, memberErr := s.GetMember(bg, o.ID, u.ID)
			if accepted := acceptErr == nil; (got.State == directory.InvitationAccepted) != accepted || (memberErr == nil) != accepted {
				t.Fatalf("round %d: accept err %v, state %s, membership err %v", round, acceptErr, got.State, memberErr)
			}
		}
	})

	t.Run("concurrent creations of one workspace name in two orgs create one", func(t *testing.T) {
		t.Parallel()
		for round := range 10 {
			a, _ := newOrg(t, s)
			b, _ := newOrg(t, s)
			name := "contended-" + tok()
			var errs [2]error
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, o := range []directory.Organization{a, b} {
				wg.Go(func() { <-start; _, errs[i] = s.CreateWorkspace(bg, actorSystem, o.ID, name, "") })
			}
			close(start)
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("round %d: errors %v, want exactly one failure", round, errs)
			}
			for _, err := range errs {
				if err != nil {
					wantConflict(t, err)
				}
			}
		}
	})
}

func testWorkspaceMembers(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("owners always have both flags, members keep the flags they are given", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		put := func(m access.Membership) access.Membership {
			t.Helper()
			wm := must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, def.ID, u.ID, m))
			if wm.PrincipalID != u.ID || wm.WorkspaceID != def.ID || wm.WorkspaceName != def.Name || wm.Email != u.Email {
				t.Fatalf("workspace member = %+v", wm)
			}
			return wm.Membership
		}
		for _, c := range []struct{ in, want access.Membership }{
			{access.Membership{Role: access.WorkspaceOwner}, access.Membership{Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}},
			{access.Membership{Role: access.WorkspaceMember}, access.Membership{Role: access.WorkspaceMember}},
			{access.Membership{Role: access.WorkspaceMember, CanInvite: true}, access.Membership{Role: access.WorkspaceMember, CanInvite: true}},
			{access.Membership{Role: access.WorkspaceMember, CanMakePublic: true}, access.Membership{Role: access.WorkspaceMember, CanMakePublic: true}},
			{access.Membership{Role: access.WorkspaceOwner, CanInvite: false, CanMakePublic: true}, access.Membership{Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}},
		} {
			if got := put(c.in); got != c.want {
				t.Fatalf("put %+v stored %+v, want %+v", c.in, got, c.want)
			}
			ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, u.ID))
			if len(ws) != 1 || ws[0].Membership != c.want {
				t.Fatalf("after put %+v: %+v", c.in, ws)
			}
		}
	})

	t.Run("only org members join workspaces, with a valid role", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		stranger := newUser(t, s)
		_, err := s.PutWorkspaceMember(bg, actorSystem, o.ID, def.ID, stranger.ID, access.Membership{Role: access.WorkspaceMember})
		wantNotFound(t, err, stranger.ID)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		_, err = s.PutWorkspaceMember(bg, actorSystem, o.ID, def.ID, u.ID, access.Membership{Role: "admin"})
		wantInvalid(t, err, "role")
		_, err = s.PutWorkspaceMember(bg, actorSystem, o.ID, "ws_nope", u.ID, access.Membership{Role: access.WorkspaceMember})
		wantNotFound(t, err, "ws_nope")
		if ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, u.ID)); len(ws) != 0 {
			t.Fatalf("refused puts left %+v", ws)
		}
	})

	t.Run("service accounts are workspace members like users", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RoleOpikMember)
		wm := must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, def.Name, sa.ID, access.Membership{Role: access.WorkspaceMember, CanInvite: true}))
		if wm.Name != sa.Name || wm.Email != "" || !wm.CanInvite {
			t.Fatalf("service account workspace member = %+v", wm)
		}
	})

	t.Run("workspace members are listed and removed", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		w := newWorkspace(t, s, o.ID)
		var want []string
		for range 3 {
			u := newMember(t, s, o.ID, access.RolePlatformMember)
			must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, w.ID, u.ID, access.Membership{Role: access.WorkspaceMember}))
			want = append(want, u.ID)
		}
		slices.Sort(want)
		var got []string
		p := directory.Page{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("pagination does not end")
			}
			ms, next, err := s.ListWorkspaceMembers(bg, o.ID, w.ID, p)
			noErr(t, err)
			for _, m := range ms {
				got = append(got, m.PrincipalID)
			}
			if next == "" {
				break
			}
			p.After = next
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		noErr(t, s.RemoveWorkspaceMember(bg, actorSystem, o.ID, w.ID, want[0]))
		ms, _, err := s.ListWorkspaceMembers(bg, o.ID, w.ID, directory.Page{})
		noErr(t, err)
		if len(ms) != 2 || slices.ContainsFunc(ms, func(m directory.WorkspaceMember) bool { return m.PrincipalID == want[0] }) {
			t.Fatalf("after removal: %+v", ms)
		}
		wantNotFound(t, s.RemoveWorkspaceMember(bg, actorSystem, o.ID, w.ID, want[0]), want[0])
		must[directory.Member](t)(s.GetMember(bg, o.ID, want[0])) // still an org member
	})

	t.Run("a principal's workspaces are listed with their roles", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		owned := must[directory.Workspace](t)(s.CreateWorkspace(bg, u.ID, o.ID, "owned-"+tok(), u.ID))
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, def.ID, u.ID, access.Membership{Role: access.WorkspaceMember}))
		newWorkspace(t, s, o.ID) // not a member
		other, _ := newOrg(t, s)
		must[directory.Member](t)(s.AddMember(bg, actorSystem, other.ID, u.ID, access.RolePlatformMember))
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, other.ID, newWorkspace(t, s, other.ID).ID, u.ID, access.Membership{Role: access.WorkspaceOwner}))
		ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, u.ID))
		roles := map[string]access.WorkspaceRole{}
		for _, w := range ws {
			roles[w.WorkspaceID] = w.Role
		}
		if len(ws) != 2 || roles[owned.ID] != access.WorkspaceOwner || roles[def.ID] != access.WorkspaceMember {
			t.Fatalf("workspaces of the user in the org: %+v", ws)
		}
	})
}

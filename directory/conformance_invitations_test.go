package directory_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

func testInvitations(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	invite := func(t *testing.T, orgID, email string, role access.OrgRole, ws ...directory.InvitationWorkspace) directory.Invitation {
		t.Helper()
		return must[directory.Invitation](t)(s.CreateInvitation(bg, "usr_inviter", directory.NewInvitation{
			OrgID: orgID, Email: email, Role: role, Workspaces: ws,
		}))
	}
	userWith := func(t *testing.T, email string) directory.User {
		t.Helper()
		return must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: email, EmailVerified: true, Name: email}))
	}

	t.Run("an invitation is pending for seven days by default", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		email := "new-" + tok() + "@example.com"
		before := time.Now()
		inv := invite(t, o.ID, email, access.RolePlatformMember)
		if !strings.HasPrefix(inv.ID, "inv_") || inv.OrgID != o.ID || inv.Email != email || inv.Role != access.RolePlatformMember ||
			inv.State != directory.InvitationPending || inv.InvitedBy != "usr_inviter" || inv.Workspaces == nil {
			t.Fatalf("invitation = %+v", inv)
		}
		if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != 7*24*time.Hour {
			t.Fatalf("expires after %v, want 7 days", d)
		}
		if inv.CreatedAt.Before(before.Add(-time.Second)) || inv.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("created at %v", inv.CreatedAt)
		}
		got := must[directory.Invitation](t)(s.GetInvitation(bg, o.ID, inv.ID))
		if got.ID != inv.ID || got.State != inv.State || !got.ExpiresAt.Equal(inv.ExpiresAt) || got.Email != inv.Email {
			t.Fatalf("stored %+v, returned %+v", got, inv)
		}
		pending := must[[]directory.Invitation](t)(s.PendingInvitations(bg, strings.ToUpper(email)))
		if len(pending) != 1 || pending[0].ID != inv.ID {
			t.Fatalf("pending for %s: %+v", email, pending)
		}
		list, _, err := s.ListInvitations(bg, o.ID, directory.Page{})
		noErr(t, err)
		if len(list) != 1 || list[0].ID != inv.ID {
			t.Fatalf("listed %+v", list)
		}
	})

	t.Run("re-inviting an email replaces its pending invitation", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		email := "again-" + tok() + "@example.com"
		first := invite(t, o.ID, email, access.RoleViewOnly)
		second := invite(t, o.ID, strings.ToUpper(email[:1])+email[1:], access.RoleAdmin)
		if got := must[directory.Invitation](t)(s.GetInvitation(bg, o.ID, first.ID)); got.State != directory.InvitationRevoked {
			t.Fatalf("the replaced invitation is %s, want revoked", got.State)
		}
		pending := must[[]directory.Invitation](t)(s.PendingInvitations(bg, email))
		if len(pending) != 1 || pending[0].ID != second.ID || pending[0].Role != access.RoleAdmin {
			t.Fatalf("pending = %+v", pending)
		}
	})

	t.Run("inviting a member's email is a conflict", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		_, err := s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: strings.ToUpper(u.Email), Role: access.RoleAdmin})
		wantConflict(t, err)
	})

	t.Run("invalid emails, roles, expiries and workspaces are refused", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		other, _ := newOrg(t, s)
		foreign := newWorkspace(t, s, other.ID)
		ok := "ok-" + tok() + "@example.com"
		for _, email := range []string{"", "not-an-email", "Ada <ada@example.com>", "@example.com", "ada@"} {
			_, err := s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: email, Role: access.RolePlatformMember})
			wantInvalid(t, err, "email")
		}
		_, err := s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: ok, Role: "owner"})
		wantInvalid(t, err, "role")
		_, err = s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: ok, Role: access.RoleOpikMember, TTL: 365 * 24 * time.Hour})
		wantInvalid(t, err, "expires_in")
		_, err = s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: ok, Role: access.RoleOpikMember,
			Workspaces: []directory.InvitationWorkspace{{WorkspaceID: foreign.ID, Role: access.WorkspaceMember}}})
		wantNotFound(t, err, foreign.ID)
		_, err = s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: ok, Role: access.RoleOpikMember,
			Workspaces: []directory.InvitationWorkspace{{WorkspaceID: def.ID, Role: "admin"}}})
		wantInvalid(t, err, "workspaces")
		_, err = s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: ok, Role: access.RoleOpikMember,
			Workspaces: []directory.InvitationWorkspace{{WorkspaceID: def.ID, Role: access.WorkspaceMember}, {WorkspaceID: def.Name, Role: access.WorkspaceOwner}}})
		wantInvalid(t, err, "workspaces")
		_, err = s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: "org_nope", Email: ok, Role: access.RoleOpikMember})
		wantNotFound(t, err, "org_nope")
		if p := must[[]directory.Invitation](t)(s.PendingInvitations(bg, ok)); len(p) != 0 {
			t.Fatalf("refused invitations were stored: %+v", p)
		}
	})

	t.Run("accepting adds the member to the invitation's workspaces", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		w1 := newWorkspace(t, s, o.ID)
		w2 := newWorkspace(t, s, o.ID)
		email := "Ada-" + tok() + "@Example.com"
		inv := invite(t, o.ID, email, access.RoleViewOnly,
			directory.InvitationWorkspace{WorkspaceID: w1.ID, Role: access.WorkspaceOwner},
			directory.InvitationWorkspace{WorkspaceID: w2.Name, Role: access.WorkspaceMember})
		if inv.Workspaces[1].WorkspaceID != w2.ID {
			t.Fatalf("a workspace granted by name is stored as %q, want its id", inv.Workspaces[1].WorkspaceID)
		}
		u := userWith(t, strings.ToLower(email)) // the same address, in another case
		m := must[directory.Member](t)(s.AcceptInvitation(bg, o.ID, inv.ID, u.ID))
		if m.Role != access.RoleViewOnly || m.PrincipalID != u.ID {
			t.Fatalf("member = %+v", m)
		}
		ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, u.ID))
		roles := map[string]access.WorkspaceRole{}
		for _, w := range ws {
			roles[w.WorkspaceID] = w.Role
		}
		if len(ws) != 2 || roles[w1.ID] != access.WorkspaceOwner || roles[w2.ID] != access.WorkspaceMember || roles[def.ID] != "" {
			t.Fatalf("workspaces after accept: %+v", ws)
		}
		if got := must[directory.Invitation](t)(s.GetInvitation(bg, o.ID, inv.ID)); got.State != directory.InvitationAccepted {
			t.Fatalf("state after accept = %s", got.State)
		}
		if p := must[[]directory.Invitation](t)(s.PendingInvitations(bg, email)); len(p) != 0 {
			t.Fatalf("an accepted invitation is still pending: %+v", p)
		}
	})

	t.Run("an invitation without workspaces grants the default workspace", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		email := "plain-" + tok() + "@example.com"
		inv := invite(t, o.ID, email, access.RolePlatformMember)
		u := userWith(t, email)
		must[directory.Member](t)(s.AcceptInvitation(bg, o.ID, inv.ID, u.ID))
		ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, u.ID))
		if len(ws) != 1 || ws[0].WorkspaceID != def.ID || ws[0].Role != access.WorkspaceMember {
			t.Fatalf("workspaces after accept: %+v", ws)
		}
	})

	t.Run("only the invited email can accept, and only once", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		email := "once-" + tok() + "@example.com"
		inv := invite(t, o.ID, email, access.RolePlatformMember)
		intruder := newUser(t, s)
		_, err := s.AcceptInvitation(bg, o.ID, inv.ID, intruder.ID)
		wantNotFound(t, err, inv.ID)
		_, err = s.GetMember(bg, o.ID, intruder.ID)
		wantNotFound(t, err, intruder.ID)
		_, err = s.AcceptInvitation(bg, o.ID, inv.ID, "usr_nobody")
		wantNotFound(t, err, "")
		u := userWith(t, email)
		must[directory.Member](t)(s.AcceptInvitation(bg, o.ID, inv.ID, u.ID))
		_, err = s.AcceptInvitation(bg, o.ID, inv.ID, u.ID)
		wantNotFound(t, err, inv.ID)
		twin := userWith(t, email) // a second identity with the same address
		_, err = s.AcceptInvitation(bg, o.ID, inv.ID, twin.ID)
		wantNotFound(t, err, inv.ID)
		_, err = s.GetMember(bg, o.ID, twin.ID)
		wantNotFound(t, err, twin.ID)
	})

	t.Run("an expired invitation cannot be accepted", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		email := "late-" + tok() + "@example.com"
		inv := must[directory.Invitation](t)(s.CreateInvitation(bg, actorSystem, directory.NewInvitation{
			OrgID: o.ID, Email: email, Role: access.RolePlatformMember, TTL: time.Millisecond,
		}))
		time.Sleep(5 * time.Millisecond)
		if got := must[directory.Invitation](t)(s.GetInvitation(bg, o.ID, inv.ID)); got.State != directory.InvitationExpired {
			t.Fatalf("state = %s, want expired", got.State)
		}
		if p := must[[]directory.Invitation](t)(s.PendingInvitations(bg, email)); len(p) != 0 {
			t.Fatalf("an expired invitation is pending: %+v", p)
		}
		u := userWith(t, email)
		_, err := s.AcceptInvitation(bg, o.ID, inv.ID, u.ID)
		wantNotFound(t, err, inv.ID)
		_, err = s.GetMember(bg, o.ID, u.ID)
		wantNotFound(t, err, u.ID)
	})

	t.Run("a revoked invitation cannot be accepted or revoked again", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		email := "revoked-" + tok() + "@example.com"
		inv := invite(t, o.ID, email, access.RolePlatformMember)
		noErr(t, s.RevokeInvitation(bg, actorSystem, o.ID, inv.ID))
		if got := must[directory.Invitation](t)(s.GetInvitation(bg, o.ID, inv.ID)); got.State != directory.InvitationRevoked {
			t.Fatalf("state = %s", got.State)
		}
		wantConflict(t, s.RevokeInvitation(bg, actorSystem, o.ID, inv.ID))
		u := userWith(t, email)
		_, err := s.AcceptInvitation(bg, o.ID, inv.ID, u.ID)
		wantNotFound(t, err, inv.ID)
		wantNotFound(t, s.RevokeInvitation(bg, actorSystem, o.ID, "inv_nope"), "inv_nope")
	})

	t.Run("pending invitations are found across orgs", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		email := "both-" + tok() + "@example.com"
		ia := invite(t, a.ID, email, access.RolePlatformMember)
		ib := invite(t, b.ID, email, access.RoleOpikMember)
		var ids []string
		for _, inv := range must[[]directory.Invitation](t)(s.PendingInvitations(bg, email)) {
			ids = append(ids, inv.ID)
		}
		want := []string{ia.ID, ib.ID}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("pending = %v, want %v", ids, want)
		}
	})
}

func testJoinRequests(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("a join request is created once while pending", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newUser(t, s)
		j := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, u.ID))
		if !strings.HasPrefix(j.ID, "req_") || j.OrgID != o.ID || j.UserID != u.ID || j.Email != u.Email || j.State != directory.JoinPending {
			t.Fatalf("join request = %+v", j)
		}
		again := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, u.ID))
		if again.ID != j.ID {
			t.Fatalf("a second request %s while %s is pending", again.ID, j.ID)
		}
		list, _, err := s.ListJoinRequests(bg, o.ID, directory.Page{})
		noErr(t, err)
		if len(list) != 1 || list[0].ID != j.ID {
			t.Fatalf("listed %+v", list)
		}
	})

	t.Run("an approved request makes a member with the default role in the default workspace", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		must[directory.Organization](t)(s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{DefaultOrgRole: ptr(access.RoleOpikMember)}))
		admin := newMember(t, s, o.ID, access.RoleAdmin)
		u := newUser(t, s)
		j := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, u.ID))
		m := must[directory.Member](t)(s.ApproveJoinRequest(bg, admin.ID, o.ID, j.ID))
		if m.PrincipalID != u.ID || m.Role != access.RoleOpikMember {
			t.Fatalf("member = %+v", m)
		}
		ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, u.ID))
		if len(ws) != 1 || ws[0].WorkspaceID != def.ID || ws[0].Role != access.WorkspaceMember {
			t.Fatalf("workspaces = %+v", ws)
		}
		list, _, err := s.ListJoinRequests(bg, o.ID, directory.Page{})
		noErr(t, err)
		if len(list) != 1 || list[0].State != directory.JoinApproved {
			t.Fatalf("after approval: %+v", list)
		}
		_, err = s.ApproveJoinRequest(bg, admin.ID, o.ID, j.ID)
		wantConflict(t, err)
		wantConflict(t, s.DenyJoinRequest(bg, admin.ID, o.ID, j.ID))
		_, err = s.CreateJoinRequest(bg, o.ID, u.ID)
		wantConflict(t, err) // already a member
	})

	t.Run("a denied request makes no member and cannot be decided again", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newUser(t, s)
		j := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, u.ID))
		noErr(t, s.DenyJoinRequest(bg, actorSystem, o.ID, j.ID))
		_, err := s.GetMember(bg, o.ID, u.ID)
		wantNotFound(t, err, u.ID)
		wantConflict(t, s.DenyJoinRequest(bg, actorSystem, o.ID, j.ID))
		_, err = s.ApproveJoinRequest(bg, actorSystem, o.ID, j.ID)
		wantConflict(t, err)
		next := must[directory.JoinRequest](t)(s.CreateJoinRequest(bg, o.ID, u.ID))
		if next.ID == j.ID || next.State != directory.JoinPending {
			t.Fatalf("a request after a denial = %+v", next)
		}
	})

	t.Run("unknown requests, users and orgs are not found", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		_, err := s.ApproveJoinRequest(bg, actorSystem, o.ID, "req_nope")
		wantNotFound(t, err, "req_nope")
		wantNotFound(t, s.DenyJoinRequest(bg, actorSystem, o.ID, "req_nope"), "req_nope")
		_, err = s.CreateJoinRequest(bg, "org_nope", newUser(t, s).ID)
		wantNotFound(t, err, "org_nope")
		_, err = s.CreateJoinRequest(bg, o.ID, "usr_nobody")
		wantNotFound(t, err, "usr_nobody")
	})
}

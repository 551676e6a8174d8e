package directory_test

import (
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// provisionOrg makes an org in jit mode with one enabled OIDC connection.
func provisionOrg(t *testing.T, s directory.Store, mode directory.JITMode) (directory.Organization, directory.Workspace, directory.Connection) {
	t.Helper()
	o, w := newOrg(t, s)
	o = must[directory.Organization](t)(s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{JITMode: &mode}))
	c := must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "corp " + tok(), Enabled: true}))
	return o, w, c
}

func login(o directory.Organization, c directory.Connection, subject, email string) directory.LoginIdentity {
	return directory.LoginIdentity{OrgID: o.ID, ConnectionID: c.ID, Issuer: "https://idp.example.com", Subject: subject,
		Email: email, EmailVerified: true, Name: "Ada"}
}

func testProvisioning(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("auto mode makes a first-time user a member with the default role in the default workspace", func(t *testing.T) {
		o, w, c := provisionOrg(t, s, directory.JITAuto)
		out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-1", "ada-"+tok()+"@acme.com")))
		if out.Status != directory.LoginMember || !out.NewUser || out.Member == nil || out.Member.Role != access.RolePlatformMember {
			t.Fatalf("outcome %+v", out)
		}
		ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, out.User.ID))
		if len(ws) != 1 || ws[0].WorkspaceID != w.ID || ws[0].Role != access.WorkspaceMember {
			t.Fatalf("workspaces %+v, want member of the default workspace", ws)
		}
		again := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-1", out.User.Email)))
		if again.NewUser || again.User.ID != out.User.ID {
			t.Fatalf("second login made another user: %+v", again)
		}
	})
	t.Run("approval mode creates one pending join request and admits nobody", func(t *testing.T) {
		o, _, c := provisionOrg(t, s, directory.JITApproval)
		first := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-2", "bob-"+tok()+"@acme.com")))
		second := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-2", first.User.Email)))
		if first.Status != directory.LoginPendingApproval || first.JoinRequest == nil || second.JoinRequest.ID != first.JoinRequest.ID {
			t.Fatalf("outcomes %+v / %+v", first, second)
		}
		if _, err := s.GetMember(bg, o.ID, first.User.ID); err == nil {
			t.Fatal("a user waiting for approval is a member")
		}
		must[directory.Member](t)(s.ApproveJoinRequest(bg, actorSystem, o.ID, first.JoinRequest.ID))
		third := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-2", first.User.Email)))
		if third.Status != directory.LoginMember {
			t.Fatalf("after approval: %+v", third)
		}
	})
	t.Run("invite-only mode refuses the uninvited and admits the invited with the invitation's role", func(t *testing.T) {
		o, w, c := provisionOrg(t, s, directory.JITInviteOnly)
		ws2 := newWorkspace(t, s, o.ID)
		out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-3", "eve-"+tok()+"@acme.com")))
		if out.Status != directory.LoginNotInvited || out.Member != nil {
			t.Fatalf("uninvited: %+v", out)
		}
		email := "grace-" + tok() + "@acme.com"
		inv := must[directory.Invitation](t)(s.CreateInvitation(bg, actorSystem, directory.NewInvitation{OrgID: o.ID, Email: email,
			Role: access.RoleOpikMember, Workspaces: []directory.InvitationWorkspace{{WorkspaceID: ws2.ID, Role: access.WorkspaceOwner}}}))
		in := login(o, c, "sub-4", email)
		in.EmailVerified = false
		out = must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		if out.Status != directory.LoginNotInvited {
			t.Fatalf("an unverified email accepted an invitation: %+v", out)
		}
		out = must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-4", email)))
		if out.Status != directory.LoginMember || out.Member.Role != access.RoleOpikMember {
			t.Fatalf("invited: %+v", out)
		}
		if got := must[directory.Invitation](t)(s.GetInvitation(bg, o.ID, inv.ID)); got.State != directory.InvitationAccepted {
			t.Fatalf("invitation state %s", got.State)
		}
		ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, out.User.ID))
		if len(ws) != 1 || ws[0].WorkspaceID != ws2.ID || ws[0].Role != access.WorkspaceOwner || ws[0].WorkspaceID == w.ID {
			t.Fatalf("workspaces %+v", ws)
		}
	})
	t.Run("the same email through another connection is another user", func(t *testing.T) {
		o, _, c := provisionOrg(t, s, directory.JITAuto)
		c2 := must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{OrgID: o.ID, Type: directory.ConnectionSAML, Name: "other " + tok(), Enabled: true}))
		email := "same-" + tok() + "@acme.com"
		a := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "x", email)))
		b := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c2, "x", email)))
		if a.User.ID == b.User.ID {
			t.Fatal("two connections asserting one email were merged into one account")
		}
	})
	t.Run("a disabled or foreign connection admits nobody", func(t *testing.T) {
		o, _, c := provisionOrg(t, s, directory.JITAuto)
		c.Enabled = false
		must[directory.Connection](t)(s.UpdateConnection(bg, actorSystem, c))
		_, err := s.ProvisionLogin(bg, login(o, c, "x", "x-"+tok()+"@acme.com"))
		wantIs(t, err, directory.ErrNotFound)
		o2, _, c2 := provisionOrg(t, s, directory.JITAuto)
		_ = o2
		_, err = s.ProvisionLogin(bg, login(o, c2, "x", "x-"+tok()+"@acme.com"))
		wantIs(t, err, directory.ErrNotFound)
	})
	t.Run("group mapping re-syncs mapped roles and never touches manual memberships", func(t *testing.T) {
		o, _, c := provisionOrg(t, s, directory.JITAuto)
		a, b, manual := newWorkspace(t, s, o.ID), newWorkspace(t, s, o.ID), newWorkspace(t, s, o.ID)
		in := login(o, c, "mapped", "map-"+tok()+"@acme.com")
		in.MappedOrgRole = access.RoleViewOnly
		in.MappedWorkspaces = map[string]access.WorkspaceRole{a.Name: access.WorkspaceOwner, b.ID: access.WorkspaceMember}
		out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		if out.Member.Role != access.RoleViewOnly {
			t.Fatalf("mapped org role not applied: %s", out.Member.Role)
		}
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, manual.ID, out.User.ID, access.Membership{Role: access.WorkspaceMember}))
		in.MappedOrgRole = access.RolePlatformMember
		in.MappedWorkspaces = map[string]access.WorkspaceRole{b.Name: access.WorkspaceOwner}
		out = must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		if out.Member.Role != access.RolePlatformMember {
			t.Fatalf("mapped org role not re-synced: %s", out.Member.Role)
		}
		roles := map[string]access.WorkspaceRole{}
		for _, m := range must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, out.User.ID)) {
			roles[m.WorkspaceID] = m.Role
		}
		if _, ok := roles[a.ID]; ok {
			t.Error("a mapped membership the IdP no longer asserts was kept")
		}
		if roles[b.ID] != access.WorkspaceOwner {
			t.Errorf("mapped role change not applied: %v", roles[b.ID])
		}
		if roles[manual.ID] != access.WorkspaceMember {
			t.Error("a manually granted membership was touched by the mapping")
		}
	})
	t.Run("group mapping never demotes the last admin", func(t *testing.T) {
		o, _, c := provisionOrg(t, s, directory.JITAuto)
		in := login(o, c, "boss", "boss-"+tok()+"@acme.com")
		in.MappedOrgRole = access.RoleAdmin
		must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		in.MappedOrgRole = access.RolePlatformMember
		out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		if out.Member.Role != access.RoleAdmin || len(out.Notes) == 0 {
			t.Fatalf("last admin demoted by mapping: %+v", out)
		}
	})
	t.Run("a login without subject or with a bad email is refused", func(t *testing.T) {
		o, _, c := provisionOrg(t, s, directory.JITAuto)
		_, err := s.ProvisionLogin(bg, login(o, c, "", "a@acme.com"))
		wantInvalid(t, err, "subject")
		_, err = s.ProvisionLogin(bg, login(o, c, "s", "not an email"))
		wantInvalid(t, err, "email")
	})
}

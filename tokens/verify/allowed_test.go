package verify_test

import (
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// Allowed answers every cell of the seed-001 table as access.Effective does,
// from the claims alone, and refuses what is not a single permission.
func TestAllowedFollowsTheOnePermissionFunction(t *testing.T) {
	for _, role := range access.OrgRoles() {
		for _, ws := range []*verify.Workspace{nil,
			{Name: "research", Role: access.WorkspaceMember},
			{Name: "research", Role: access.WorkspaceMember, CanInvite: true, CanMakePublic: true},
			{Name: "research", Role: access.WorkspaceOwner}} {
			for _, onlyAdmins := range []bool{false, true} {
				c := &verify.Claims{Org: verify.Org{ID: "org_1", Role: role, OnlyAdminsCanInvite: onlyAdmins}}
				var m *access.Membership
				if ws != nil {
					c.Workspaces = []verify.Workspace{*ws}
					m = &access.Membership{Role: ws.Role, CanInvite: ws.CanInvite, CanMakePublic: ws.CanMakePublic}
				}
				want := access.Effective(role, m, access.Settings{OnlyAdminsCanInvite: onlyAdmins})
				for _, p := range access.AllPermissions() {
					if got := verify.Allowed(c, "research", p); got != want.Has(p) {
						t.Errorf("%s, membership %+v, only_admins_can_invite=%v: Allowed(research, %s) = %v, want %v", role, ws, onlyAdmins, p, got, want.Has(p))
					}
				}
			}
		}
	}
	admin := &verify.Claims{Org: verify.Org{ID: "org_1", Role: access.RoleAdmin}}
	for _, c := range []struct {
		rule   string
		claims *verify.Claims
		ws     string
		p      access.Permission
	}{
		{"nil claims", nil, "research", access.WorkspaceRead},
		{"no permission", admin, "research", 0},
		{"two permissions at once", admin, "research", access.WorkspaceRead | access.WorkspaceWrite},
		{"a workspace permission without a workspace", admin, "", access.WorkspaceRead},
		{"a narrowed token elsewhere", &verify.Claims{Org: verify.Org{ID: "org_1", Role: access.RoleAdmin},
			Narrowed: &verify.WorkspaceRef{ID: "ws_1", Name: "research"}}, "other", access.WorkspaceRead},
	} {
		if verify.Allowed(c.claims, c.ws, c.p) {
			t.Errorf("%s: allowed", c.rule)
		}
	}
	if !verify.Allowed(admin, "", access.OrgAdmin) {
		t.Errorf("an admin's org-scoped permission is refused")
	}
}

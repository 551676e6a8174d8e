package opik_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/opik"
)

func TestParsePermissionMap(t *testing.T) {
	pm, err := opik.ParsePermissionMap(" new_log = workspace.write ,new_view=experiment_view,, new_admin=org.admin ")
	if err != nil {
		t.Fatal(err)
	}
	if got := pm.String(); got != "new_admin=org.admin,new_log=workspace.write,new_view=workspace.read" {
		t.Fatalf("parsed %q", got)
	}
	if pm, err := opik.ParsePermissionMap(""); err != nil || pm.Len() != 0 {
		t.Fatalf("the empty map: %v, %d", err, pm.Len())
	}
	for _, c := range []struct{ in, want string }{
		{"new_log", "is not opik_permission=our_permission"},
		{"=workspace.write", "is not opik_permission=our_permission"},
		{"new_log=", "is not opik_permission=our_permission"},
		{"NewLog=workspace.write", "lower snake case"},
		{"new-log=workspace.write", "lower snake case"},
		{"trace_span_thread_log=workspace.read", "already mapped to workspace.write"},
		{"new_log=workspace.everything", "neither one of our permissions"},
		{"new_log=launch_rockets", "neither one of our permissions"},
		{"new_log=workspace.write,new_log=workspace.read", "mapped twice"},
	} {
		if _, err := opik.ParsePermissionMap(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePermissionMap(%q) = %v, want an error naming %q", c.in, err, c.want)
		}
	}
	// Every problem at once.
	_, err = opik.ParsePermissionMap("a=nope,B=workspace.read,ok_one=workspace.read")
	if err == nil || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"B"`) {
		t.Fatalf("want both bad items named: %v", err)
	}
}

// An Opik permission neither the table nor the operator maps: held by whoever
// holds every permission (org admins, by access.Effective), refused to anyone
// else, through each way of authenticating.
func TestUnknownOpikPermissionIsAnAdminsOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		body := authBody(researchName, "experiment_view", "launch_rockets")
		for _, c := range []struct {
			who    string
			header []string
			status int
		}{
			{"an admin's API key", []string{"Authorization", f.callers[saAdmin].key}, 200},
			{"an admin's session", []string{"Cookie", "sessionToken=" + f.callers[userAdmin].cookie}, 200},
			{"an admin's token narrowed to the workspace", []string{"Authorization", "Bearer " + f.token(saAdmin, researchName)}, 200},
			{"a platform member", []string{"Authorization", f.callers[saPlatform].key}, 403},
			{"a platform member's session", []string{"Cookie", "sessionToken=" + f.callers[userPlatform].cookie}, 403},
			{"an opik owner of the workspace", []string{"Authorization", f.callers[saOpikOwner].key}, 403},
			{"a view-only member", []string{"Authorization", f.callers[saViewOnly].key}, 403},
		} {
			path := opik.PathAuth
			if c.header[0] == "Cookie" {
				path = opik.PathAuthSession
			}
			a := f.call(http.MethodPost, path, body, c.header...)
			if c.status == 200 {
				if a.status != 200 || a.str("workspaceId") != f.research.ID {
					t.Errorf("%s: %d %s, want 200 for research", c.who, a.status, a.body)
				}
				continue
			}
			wantError(t, a, c.status)
			if !strings.Contains(a.str("msg"), "launch_rockets") {
				t.Errorf("%s: the refusal %q does not name the permission", c.who, a.str("msg"))
			}
		}
		// An admin of another org holds nothing here.
		wantError(t, f.call(http.MethodPost, opik.PathAuth, body, "Authorization", f.callers[saOtherAdmin].key), 403)
	})
}

// A name the operator maps follows the permission it is mapped to, for every
// role, at /opik/auth and in /opik/workspace-permissions.
func TestMappedOpikPermissionFollowsItsPermission(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		pm, err := opik.ParsePermissionMap("agent_insights_view=workspace.read,agent_insights_log=trace_span_thread_log," +
			"agent_insights_configure=workspace.configure,agent_insights_experiments=experiments.write")
		if err != nil {
			t.Fatal(err)
		}
		f.mount(opik.Config{Permissions: pm})
		mapped := map[string]access.Permission{"agent_insights_view": access.WorkspaceRead, "agent_insights_log": access.WorkspaceWrite,
			"agent_insights_configure": access.WorkspaceConfigure, "agent_insights_experiments": access.ExperimentsWrite}
		member := &access.Membership{Role: access.WorkspaceMember}
		owner := &access.Membership{Role: access.WorkspaceOwner}
		for _, c := range []struct {
			label string
			role  access.OrgRole
			m     *access.Membership
		}{
			{saAdmin, access.RoleAdmin, nil},
			{saPlatform, access.RolePlatformMember, member},
			{saViewOnly, access.RoleViewOnly, member},
			{saOpik, access.RoleOpikMember, member},
			{saOpikOwner, access.RoleOpikMember, owner},
		} {
			want := access.Effective(c.role, c.m, access.Settings{})
			perms, _ := permissionsOf(t, f.call(http.MethodPost, opik.PathWorkspacePermissions, `{"workspaceName":"research"}`,
				"Authorization", f.callers[c.label].key))
			for name, perm := range mapped {
				a := f.call(http.MethodPost, opik.PathAuth, authBody(researchName, name), "Authorization", f.callers[c.label].key)
				if got := a.status == 200; got != want.Has(perm) {
					t.Errorf("%s asking for %s (mapped to %s): status %d, want allowed=%v", c.label, name, perm, a.status, want.Has(perm))
				}
				if exp := map[bool]string{true: "true", false: "false"}[want.Has(perm)]; perms[name] != exp {
					t.Errorf("%s: workspace-permissions lists %s = %q, want %q", c.label, name, perms[name], exp)
				}
			}
		}
		// A case the enum spelling folds, like the table's names.
		if a := f.call(http.MethodPost, opik.PathAuth, authBody(researchName, "AGENT_INSIGHTS_LOG"), "Authorization", f.callers[saOpik].key); a.status != 200 {
			t.Errorf("AGENT_INSIGHTS_LOG for an opik member: %d %s", a.status, a.body)
		}
		// Names still unmapped stay admins-only beside the map.
		wantError(t, f.call(http.MethodPost, opik.PathAuth, authBody(researchName, "launch_rockets"), "Authorization", f.callers[saPlatform].key), 403)
	})
}

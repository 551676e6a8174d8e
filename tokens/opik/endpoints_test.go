package opik_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/opik"
)

// permissionsOf decodes a workspace-permissions answer into name → "true"/"false".
func permissionsOf(t testing.TB, a answer) (map[string]string, []string) {
	t.Helper()
	var body struct {
		UserName      string `json:"userName"`
		WorkspaceName string `json:"workspaceName"`
		Permissions   []struct {
			Name  string `json:"permissionName"`
			Value string `json:"permissionValue"`
		} `json:"permissions"`
	}
	if err := json.Unmarshal(a.body, &body); err != nil {
		t.Fatalf("%d %s: %v", a.status, a.body, err)
	}
	m, order := map[string]string{}, []string{}
	for _, p := range body.Permissions {
		m[p.Name] = p.Value
		order = append(order, p.Name)
	}
	return m, order
}

// Every Opik permission is listed, and each value is what access.Effective
// says for the caller's role and membership.
func TestWorkspacePermissionsMatchTheOnePermissionFunction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		member := &access.Membership{Role: access.WorkspaceMember}
		owner := &access.Membership{Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}
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
			t.Run(c.label, func(t *testing.T) {
				a := f.call(http.MethodPost, opik.PathWorkspacePermissions, `{"workspaceName":"research"}`, "Authorization", f.callers[c.label].key)
				if a.status != 200 || a.str("userName") != c.label || a.str("workspaceName") != researchName {
					t.Fatalf("%d %s", a.status, a.body)
				}
				got, order := permissionsOf(t, a)
				if !slices.Equal(order, opik.PermissionNames()) {
					t.Fatalf("listed %v, want every Opik permission %v", order, opik.PermissionNames())
				}
				want := access.Effective(c.role, c.m, access.Settings{})
				for _, name := range order {
					perm, _ := opik.Permission(name)
					if exp := map[bool]string{true: "true", false: "false"}[want.Has(perm)]; got[name] != exp {
						t.Errorf("%s: %s = %q, want %q (%s)", c.label, name, got[name], exp, perm)
					}
				}
			})
		}
		// The same answer through the session and "default".
		a := f.call(http.MethodPost, opik.PathWorkspacePermissionsSess, `{"workspaceName":"default"}`, "Cookie", "$Version=1;sessionToken="+f.callers[userViewOnly].cookie)
		got, _ := permissionsOf(t, a)
		if a.status != 200 || a.str("workspaceName") != researchName || got["experiment_view"] != "true" || got["trace_span_thread_log"] != "false" {
			t.Fatalf("session: %d %s", a.status, a.body)
		}
		// A workspace the caller may not use is refused, as for /opik/auth.
		wantError(t, f.call(http.MethodPost, opik.PathWorkspacePermissions, `{"workspaceName":"research"}`, "Authorization", f.callers[saAcmeOnly].key), 403)
		wantError(t, f.call(http.MethodPost, opik.PathWorkspacePermissions, `{"workspaceName":"globex-lab"}`, "Authorization", f.callers[saAdmin].key), 403)
		wantError(t, f.call(http.MethodPost, opik.PathWorkspacePermissions, `{"workspaceName":"research"}`, "Authorization", "ssb_nope"), 401)
		wantError(t, f.call(http.MethodPost, opik.PathWorkspacePermissions, `{"workspace":"research"}`, "Authorization", f.callers[saAdmin].key), 400)
	})
}

func TestWorkspacePermissionsByUsername(t *testing.T) {
	f := newFixture(t, backends[0].open(t), backends[0].sessions(t), true)
	a := f.call(http.MethodPost, opik.PathWorkspacePermissionsUser, `{"workspaceName":"research"}`, opik.UsernameHeader, f.callers[userPlatform].name)
	got, _ := permissionsOf(t, a)
	if a.status != 200 || got["trace_span_thread_log"] != "true" || got["workspace_settings_configure"] != "false" {
		t.Fatalf("%d %s", a.status, a.body)
	}
}

// Every Opik permission of the table in README.md ("Opik compatibility") is
// mapped, onto the permission the table names; anything else is refused.
func TestTheOpikPermissionTable(t *testing.T) {
	read := []string{"project_data_view", "dashboard_view", "experiment_view", "dataset_view", "annotation_queue_view", "optimization_run_view"}
	write := []string{"trace_span_thread_log", "trace_span_thread_annotate", "trace_tag", "comment_write", "trace_delete", "project_create",
		"project_delete", "dashboard_create", "dashboard_edit", "dashboard_delete", "experiment_create", "dataset_create", "dataset_edit",
		"dataset_delete", "annotation_queue_create", "annotation_queue_annotate", "annotation_queue_edit", "annotation_queue_delete",
		"annotation_queue_results_export", "prompt_delete", "optimization_run_delete", "optimization_studio_use",
		"online_evaluation_rule_update", "alert_update"}
	configure := []string{"workspace_settings_configure", "ai_provider_update", "original_data_view"}
	n := 0
	for perm, names := range map[access.Permission][]string{access.WorkspaceRead: read, access.WorkspaceWrite: write, access.WorkspaceConfigure: configure} {
		for _, name := range names {
			n++
			if got, ok := opik.Permission(name); !ok || got != perm {
				t.Errorf("%s maps to %v (%v), want %s", name, got, ok, perm)
			}
		}
	}
	if len(opik.PermissionNames()) != n {
		t.Errorf("the table has %d permissions, this test %d", len(opik.PermissionNames()), n)
	}
	if p, ok := opik.Permission("TRACE_SPAN_THREAD_LOG"); !ok || p != access.WorkspaceWrite {
		t.Errorf("the enum-constant spelling is not folded")
	}
	for _, name := range []string{"", "workspace.write", "trace_span_thread_log ", "admin", "experiment_view,trace_delete"} {
		if _, ok := opik.Permission(name); ok {
			t.Errorf("%q is mapped; it must be refused", name)
		}
	}
}

// GET /workspaces (Opik's UI, session cookie) lists the caller's workspaces.
func TestWorkspacesList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		list := func(h ...string) (int, []map[string]string) {
			a := f.call(http.MethodGet, opik.PathWorkspaces+"?withoutExtendedData=true", "", h...)
			var out []map[string]string
			if a.status == 200 {
				if err := json.Unmarshal(a.body, &out); err != nil {
					t.Fatalf("%s: %v", a.body, err)
				}
			} else {
				wantError(t, a, a.status)
			}
			return a.status, out
		}
		entry := func(ws directory.Workspace) map[string]string {
			return map[string]string{"workspaceId": ws.ID, "workspaceName": ws.Name}
		}
		same := func(got []map[string]string, want ...directory.Workspace) bool {
			return slices.EqualFunc(got, want, func(g map[string]string, w directory.Workspace) bool {
				return g["workspaceId"] == entry(w)["workspaceId"] && g["workspaceName"] == w.Name
			})
		}
		if st, got := list("Cookie", "$Version=1;sessionToken="+f.callers[userPlatform].cookie); st != 200 || !same(got, f.research) {
			t.Errorf("a member's workspaces: %d %v", st, got)
		}
		if st, got := list("Cookie", "sessionToken="+f.callers[userAdmin].cookie); st != 200 || !same(got, f.acmeWS, f.research) {
			t.Errorf("an admin's workspaces are every workspace of the org: %d %v", st, got)
		}
		if st, got := list("Cookie", "sessionToken="+f.callers[userNoWS].cookie); st != 200 || len(got) != 0 || got == nil {
			t.Errorf("a member of no workspace: %d %v (want [])", st, got)
		}
		if st, got := list("Authorization", "Bearer "+f.token(saAdmin, researchName)); st != 200 || !same(got, f.research) {
			t.Errorf("a narrowed token lists its one workspace: %d %v", st, got)
		}
		if st, _ := list(); st != 401 {
			t.Errorf("no credentials: %d", st)
		}
	})
}

// GET /workspaces/workspace-id?name= answers without credentials, in plain text.
func TestWorkspaceID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := f.call(http.MethodGet, opik.PathWorkspaceID+"?name=research", "")
		if a.status != 200 || string(a.body) != f.research.ID || a.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("existing: %d %q %s", a.status, a.body, a.header.Get("Content-Type"))
		}
		if a := f.call(http.MethodGet, opik.PathWorkspaceID+"?name=globex-lab", ""); string(a.body) != f.globexLab.ID {
			t.Fatalf("any org's workspace: %d %q", a.status, a.body)
		}
		for _, q := range []string{"?name=no-such-workspace", "?name=default", "?name=Bad%20Name", ""} {
			wantError(t, f.call(http.MethodGet, opik.PathWorkspaceID+q, ""), 400)
		}
	})
}

// The Opik SDK's `opik configure` calls, at the host root.
func TestAccountDetailsAndWorkspacesForTheSDK(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, c := range []struct {
			label, def string
			names      []string
		}{
			{saAdmin, "acme", []string{"acme", researchName}},
			{saPlatform, researchName, []string{researchName}},
			{saAcmeOnly, "acme", []string{"acme"}},
		} {
			key := f.callers[c.label].key
			a := f.call(http.MethodGet, opik.PathAccountDetails, "", "Authorization", key)
			if a.status != 200 || a.str("userName") != c.label || a.str("defaultWorkspaceName") != c.def {
				t.Errorf("%s account details: %d %s", c.label, a.status, a.body)
			}
			a = f.call(http.MethodGet, opik.PathAccountWorkspaces, "", "Authorization", key)
			var body struct {
				WorkspaceNames []string `json:"workspaceNames"`
			}
			if err := json.Unmarshal(a.body, &body); err != nil || a.status != 200 || !slices.Equal(body.WorkspaceNames, c.names) {
				t.Errorf("%s workspaces: %d %s", c.label, a.status, a.body)
			}
		}
		wantError(t, f.call(http.MethodGet, opik.PathAccountDetails, "", "Authorization", "ssb_0000000000000000000000000000000000000000000"), 401)
		wantError(t, f.call(http.MethodGet, opik.PathAccountWorkspaces, "", "Authorization", "nonsense"), 401)
		wantError(t, f.call(http.MethodGet, opik.PathAccountDetails, ""), 401)
	})
}

func TestHeadRootAnswers(t *testing.T) {
	f := newFixture(t, backends[0].open(t), backends[0].sessions(t), false)
	if a := f.call(http.MethodHead, "/", ""); a.status != 200 {
		t.Fatalf("HEAD / = %d", a.status)
	}
	if a := f.call(http.MethodHead, "/elsewhere", ""); a.status != 404 {
		t.Fatalf("HEAD /elsewhere = %d: only the root answers", a.status)
	}
}

// 503 only when a store is away: Opik retries it, and turns anything else
// it does not expect into a 500.
func TestStoreDownIs503(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		// A key never looked up, so no cache can answer for it.
		sa, err := f.store.CreateServiceAccount(ctx, actor, directory.NewServiceAccount{OrgID: f.acme.ID, Name: "late", Role: access.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := f.store.CreateAPIKey(ctx, actor, f.acme.ID, sa.ID)
		if err != nil {
			t.Fatal(err)
		}
		cookie := f.callers[userPlatform].cookie
		f.store.Close()
		for _, c := range []struct {
			what, method, path, body string
			h                        []string
		}{
			{"API key lookup", http.MethodPost, opik.PathAuth, authBody(researchName), []string{"Authorization", key}},
			{"workspace lookup", http.MethodGet, opik.PathWorkspaceID + "?name=research", "", nil},
			{"workspace-permissions", http.MethodPost, opik.PathWorkspacePermissions, authBody(researchName), []string{"Authorization", key}},
			{"account details", http.MethodGet, opik.PathAccountDetails, "", []string{"Authorization", key}},
		} {
			a := f.call(c.method, c.path, c.body, c.h...)
			wantError(t, a, 503)
			if a.header.Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", c.what)
			}
		}
		// A refusal needs no store and stays what it is.
		wantError(t, f.call(http.MethodPost, opik.PathAuth, `{`, "Authorization", key), 400)

		_ = f.sessions.Close()
		wantError(t, f.call(http.MethodPost, opik.PathAuthSession, authBody(researchName), "Cookie", "sessionToken="+cookie), 503)
	})
}

package opik

import (
	"strings"

	"github.com/ssobroker/ssobroker/directory/access"
)

// opikPermissions is the table of README.md ("Opik compatibility"): each Opik
// workspace permission and the permission of ours that grants it, in the
// order /opik/workspace-permissions lists them. A name that is not here is
// refused, so a permission a newer Opik invents is denied until it is mapped.
var opikPermissions = [...]struct {
	name string
	perm access.Permission
}{
	{"project_data_view", access.WorkspaceRead},
	{"dashboard_view", access.WorkspaceRead},
	{"experiment_view", access.WorkspaceRead},
	{"dataset_view", access.WorkspaceRead},
	{"annotation_queue_view", access.WorkspaceRead},
	{"optimization_run_view", access.WorkspaceRead},

	{"trace_span_thread_log", access.WorkspaceWrite},
	{"trace_span_thread_annotate", access.WorkspaceWrite},
	{"trace_tag", access.WorkspaceWrite},
	{"comment_write", access.WorkspaceWrite},
	{"trace_delete", access.WorkspaceWrite},
	{"project_create", access.WorkspaceWrite},
	{"project_delete", access.WorkspaceWrite},
	{"dashboard_create", access.WorkspaceWrite},
	{"dashboard_edit", access.WorkspaceWrite},
	{"dashboard_delete", access.WorkspaceWrite},
	{"experiment_create", access.WorkspaceWrite},
	{"dataset_create", access.WorkspaceWrite},
	{"dataset_edit", access.WorkspaceWrite},
	{"dataset_delete", access.WorkspaceWrite},
	{"annotation_queue_create", access.WorkspaceWrite},
	{"annotation_queue_annotate", access.WorkspaceWrite},
	{"annotation_queue_edit", access.WorkspaceWrite},
	{"annotation_queue_delete", access.WorkspaceWrite},
	{"annotation_queue_results_export", access.WorkspaceWrite},
	{"prompt_delete", access.WorkspaceWrite},
	{"optimization_run_delete", access.WorkspaceWrite},
	{"optimization_studio_use", access.WorkspaceWrite},
	{"online_evaluation_rule_update", access.WorkspaceWrite},
	{"alert_update", access.WorkspaceWrite},

	{"workspace_settings_configure", access.WorkspaceConfigure},
	{"ai_provider_update", access.WorkspaceConfigure},
	{"original_data_view", access.WorkspaceConfigure},
}

var opikPermissionIndex = func() map[string]access.Permission {
	m := make(map[string]access.Permission, len(opikPermissions))
	for _, p := range opikPermissions {
		m[p.name] = p.perm
	}
	return m
}()

// Permission returns the permission of ours that grants the Opik
// permission name (lower snake case; other cases are folded), and false for
// a name the table does not map, which callers must refuse.
func Permission(name string) (access.Permission, bool) {
	p, ok := opikPermissionIndex[name]
	if !ok {
		p, ok = opikPermissionIndex[strings.ToLower(name)]
	}
	return p, ok
}

// PermissionNames lists every Opik permission the table maps, in the
// order /opik/workspace-permissions answers them.
func PermissionNames() []string {
	out := make([]string, len(opikPermissions))
	for i, p := range opikPermissions {
		out[i] = p.name
	}
	return out
}

package opik

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/ssobroker/ssobroker/directory/access"
)

// opikPermissions is the table of README.md ("Opik compatibility"): each Opik
// workspace permission and the permission of ours that grants it, in the
// order /opik/workspace-permissions lists them. A name that is neither here
// nor in the operator's PermissionMap is granted to whoever holds every
// permission (org admins) and refused to everyone else, so a permission a
// newer Opik invents blocks no admin and opens nothing to others until it
// is mapped.
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

// everything is every permission of ours: who holds it all (an org admin,
// access.Effective) is granted an Opik permission no one has mapped.
var everything = func() access.Set {
	var s access.Set
	for _, p := range access.AllPermissions() {
		s |= access.Set(p)
	}
	return s
}()

// PermissionMap maps Opik permission names ssobroker's table does not know
// onto our permissions, so an operator can follow a newer Opik without a
// release (SSOBROKER_OPIK_PERMISSION_MAP). Build it with
// ParsePermissionMap; the zero value maps nothing.
type PermissionMap struct {
	m     map[string]access.Permission
	names []string // sorted, for /opik/workspace-permissions
}

// ParsePermissionMap reads "opik_name=ours,…": each left side a lower snake
// case Opik permission name the built-in table does not map, each right
// side one of our permissions ("workspace.write", docs/permissions.md) or an
// Opik name the table maps ("trace_span_thread_log"), which stands for its
// permission. Spaces around items are ignored; "" is the empty map. Every
// problem is reported at once, naming the item.
func ParsePermissionMap(s string) (PermissionMap, error) {
	var pm PermissionMap
	var errs []error
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, target, ok := strings.Cut(item, "=")
		name, target = strings.TrimSpace(name), strings.TrimSpace(target)
		switch {
		case !ok || name == "" || target == "":
			errs = append(errs, fmt.Errorf("%q is not opik_permission=our_permission", item))
			continue
		case !isSnakeName(name):
			errs = append(errs, fmt.Errorf("%q: Opik permission names are lower snake case, such as trace_span_thread_log", name))
			continue
		}
		if perm, known := opikPermissionIndex[name]; known {
			errs = append(errs, fmt.Errorf("%q is already mapped to %s by ssobroker; the map is for names ssobroker does not know", name, perm))
			continue
		}
		if _, dup := pm.m[name]; dup {
			errs = append(errs, fmt.Errorf("%q is mapped twice", name))
			continue
		}
		perm, ok := access.ParsePermission(target)
		if !ok {
			perm, ok = opikPermissionIndex[target]
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%q: %q is neither one of our permissions (%s) nor an Opik permission ssobroker maps", name, target,
				strings.Join(everything.Names(), ", ")))
			continue
		}
		if pm.m == nil {
			pm.m = map[string]access.Permission{}
		}
		pm.m[name] = perm
		pm.names = append(pm.names, name)
	}
	if err := errors.Join(errs...); err != nil {
		return PermissionMap{}, err
	}
	slices.Sort(pm.names)
	return pm, nil
}

// Len is the number of names the map adds.
func (pm PermissionMap) Len() int { return len(pm.names) }

// String is the map in ParsePermissionMap's form, sorted.
func (pm PermissionMap) String() string {
	parts := make([]string, len(pm.names))
	for i, n := range pm.names {
		parts[i] = n + "=" + pm.m[n].String()
	}
	return strings.Join(parts, ",")
}

// lookup is the permission of ours the Opik name stands for: the built-in
// table first, then the operator's map; false for a name neither knows.
func (pm PermissionMap) lookup(name string) (access.Permission, bool) {
	if p, ok := Permission(name); ok {
		return p, true
	}
	p, ok := pm.m[name]
	if !ok && len(pm.m) > 0 {
		p, ok = pm.m[strings.ToLower(name)]
	}
	return p, ok
}

func isSnakeName(s string) bool {
	if len(s) > 100 || s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// maxUnknownNames bounds the unknown permission names remembered for the
// log: the names come from request bodies.
const maxUnknownNames = 64

// unknownNames tells the operator, once per name, that Opik asked for a
// permission nobody maps.
type unknownNames struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (u *unknownNames) note(ctx context.Context, log *slog.Logger, name string) {
	if len(name) > 100 {
		name = name[:100] + "…"
	}
	u.mu.Lock()
	first := !u.seen[name] && len(u.seen) < maxUnknownNames
	if first {
		u.seen[name] = true
	}
	u.mu.Unlock()
	if first {
		log.WarnContext(ctx, "opik: Opik asked for a permission ssobroker does not know; org admins hold it, everyone else is refused until it is mapped (SSOBROKER_OPIK_PERMISSION_MAP=name=workspace.write,…)",
			"permission", name)
	}
}

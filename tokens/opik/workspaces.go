package opik

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// errNotAllowed is the one answer for a workspace the caller may not use,
// whether it does not exist, belongs to another org, or the caller is no
// member: the answer never tells them apart.
var errNotAllowed = forbidden("User not allowed to access workspace")

// defaultName is the reserved workspace name meaning "the caller's default
// workspace", matched in any case.
const defaultName = "default"

func isDefault(name string) bool { return strings.EqualFold(name, defaultName) }

// grant is a workspace the caller may use and its permissions there.
type grant struct {
	ws  directory.Workspace
	set access.Set
}

// authorize resolves the workspace called name for p and checks that p may
// read it and holds every Opik permission in required. It refuses with 403:
// a workspace p may not use (errNotAllowed), an Opik permission p lacks
// there, or one neither the table nor the operator's map knows unless p
// holds every permission there.
func (s *Service) authorize(ctx context.Context, p *principal, name string, required []string) (grant, error) {
	ws, m, err := s.resolve(ctx, p, name)
	if err != nil {
		return grant{}, err
	}
	g := grant{ws: ws, set: p.permissions(ws, m)}
	if !g.set.Has(access.WorkspaceRead) {
		return grant{}, errNotAllowed
	}
	for _, op := range required {
		perm, ok := s.perms.lookup(op)
		if !ok {
			// A name a newer Opik invented: whoever holds every permission
			// (an org admin) holds it too; anyone else is refused until the
			// operator maps it.
			s.unknown.note(ctx, s.log, op)
			if g.set&everything == everything {
				continue
			}
			return grant{}, forbidden("permission " + quote(op) + " is unknown to ssobroker: only org admins hold it until the operator maps it (SSOBROKER_OPIK_PERMISSION_MAP)")
		}
		if !g.set.Has(perm) {
			return grant{}, forbidden("missing permission " + op + " (" + perm.String() + ") in workspace " + ws.Name)
		}
	}
	return g, nil
}

// resolve finds the workspace called name (or the caller's default for
// "default") in p's org, with p's membership of it (nil: none). Members'
// workspaces come from the cached standing; only an admin naming a workspace
// it is no member of needs a lookup, served from the name cache once warm.
func (s *Service) resolve(ctx context.Context, p *principal, name string) (directory.Workspace, *access.Membership, error) {
	if isDefault(name) {
		return s.resolveDefault(ctx, p)
	}
	pa := &p.access
	for i := range pa.Workspaces {
		if wm := &pa.Workspaces[i]; wm.WorkspaceName == name {
			return directory.Workspace{ID: wm.WorkspaceID, OrgID: pa.Org.ID, Name: wm.WorkspaceName}, &wm.Membership, nil
		}
	}
	if !p.isAdmin() || name == "" {
		return directory.Workspace{}, nil, errNotAllowed
	}
	if name == pa.DefaultWorkspace.Name {
		return pa.DefaultWorkspace, nil, nil
	}
	ws, err := s.workspaceNamed(ctx, name)
	if err != nil {
		return directory.Workspace{}, nil, storeError(err, errNotAllowed)
	}
	if ws.OrgID != pa.Org.ID {
		return directory.Workspace{}, nil, errNotAllowed
	}
	return ws, nil, nil
}

// resolveDefault finds the caller's default workspace by the rule its access
// token's default_workspace follows: a narrowed token's workspace; else the
// org's default workspace when the caller is an admin or a member of it; else
// its first membership by name. A caller with none of these is refused.
func (s *Service) resolveDefault(ctx context.Context, p *principal) (directory.Workspace, *access.Membership, error) {
	pa := &p.access
	id := ""
	switch {
	case p.narrowed != nil:
		id = p.narrowed.ID
	case pa.DefaultWorkspace.ID != "" && (p.isAdmin() || membership(pa, pa.DefaultWorkspace.ID) != nil):
		id = pa.DefaultWorkspace.ID
	case len(pa.Workspaces) > 0:
		id = pa.Workspaces[0].WorkspaceID
	default:
		return directory.Workspace{}, nil, forbidden("no default workspace: the caller is a member of no workspace")
	}
	if wm := membership(pa, id); wm != nil {
		return directory.Workspace{ID: wm.WorkspaceID, OrgID: pa.Org.ID, Name: wm.WorkspaceName}, &wm.Membership, nil
	}
	if id == pa.DefaultWorkspace.ID {
		return pa.DefaultWorkspace, nil, nil
	}
	// An admin's token narrowed to a workspace it is no member of.
	ws, err := s.workspaceNamed(ctx, p.narrowed.Name)
	if err != nil {
		return directory.Workspace{}, nil, storeError(err, errNotAllowed)
	}
	if ws.ID != id || ws.OrgID != pa.Org.ID {
		return directory.Workspace{}, nil, errNotAllowed
	}
	return ws, nil, nil
}

func membership(pa *directory.PrincipalAccess, wsID string) *directory.WorkspaceMember {
	for i := range pa.Workspaces {
		if pa.Workspaces[i].WorkspaceID == wsID {
			return &pa.Workspaces[i]
		}
	}
	return nil
}

// defaultWorkspaceName is the name "default" stands for, or "" when the
// caller has none.
func (s *Service) defaultWorkspaceName(ctx context.Context, p *principal) (string, error) {
	ws, _, err := s.resolveDefault(ctx, p)
	if err != nil && !isUnavailable(err) {
		return "", nil
	}
	return ws.Name, err
}

// workspaces lists the workspaces the caller can use, by name: an admin's
// every workspace of the org, anyone else's memberships, a narrowed token's
// one workspace.
func (s *Service) workspaces(ctx context.Context, p *principal) ([]directory.Workspace, error) {
	pa := &p.access
	if p.narrowed != nil {
		ws, _, err := s.resolveDefault(ctx, p)
		if err != nil {
			return nil, err
		}
		return []directory.Workspace{ws}, nil
	}
	if !p.isAdmin() {
		out := make([]directory.Workspace, len(pa.Workspaces))
		for i, wm := range pa.Workspaces {
			out[i] = directory.Workspace{ID: wm.WorkspaceID, OrgID: pa.Org.ID, Name: wm.WorkspaceName}
		}
		return out, nil
	}
	var out []directory.Workspace
	f := directory.WorkspaceFilter{Page: directory.Page{Limit: 500}}
	for {
		page, next, err := s.dir.ListWorkspaces(ctx, pa.Org.ID, f)
		if err != nil {
			return nil, unavailable(err)
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		f.After = next
	}
}

// workspaceNamed finds a workspace by its deployment-wide unique name,
// through the name cache. directory.ErrNotFound for an unknown or malformed
// name (which is never looked up).
func (s *Service) workspaceNamed(ctx context.Context, name string) (directory.Workspace, error) {
	if directory.ValidateWorkspaceName(name) != nil {
		return directory.Workspace{}, directory.ErrNotFound
	}
	g := s.names.current()
	if v, ok := g.workspaces.Load(name); ok {
		return v.(directory.Workspace), nil
	}
	ws, err := s.dir.FindWorkspace(ctx, name)
	if err != nil {
		return ws, err
	}
	g.workspaces.Store(name, ws)
	return ws, nil
}

// memberNamed finds the one member of org whose UserName is name (emails
// compared without case). No member, or several, is errUnknownUser.
func (s *Service) memberNamed(ctx context.Context, orgID, name string) (string, error) {
	g := s.names.current()
	var idx map[string]string
	if v, ok := g.members.Load(orgID); ok {
		idx = v.(map[string]string)
	} else {
		var err error
		if idx, err = s.loadMemberIndex(ctx, orgID); err != nil {
			return "", unavailable(err)
		}
		g.members.Store(orgID, idx)
	}
	if id := idx[userNameKey(name)]; id != "" {
		return id, nil
	}
	return "", errUnknownUser
}

// loadMemberIndex maps every member's UserName key to its principal id, or
// to "" when several members share it.
func (s *Service) loadMemberIndex(ctx context.Context, orgID string) (map[string]string, error) {
	idx := map[string]string{}
	p := directory.Page{Limit: 500}
	for {
		members, next, err := s.dir.ListMembers(ctx, orgID, p)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			k := userNameKey(UserName(m))
			if _, dup := idx[k]; dup {
				idx[k] = ""
			} else {
				idx[k] = m.PrincipalID
			}
		}
		if next == "" {
			return idx, nil
		}
		p.After = next
	}
}

// userNameKey folds the case of emails, which are compared without case.
func userNameKey(name string) string {
	if strings.Contains(name, "@") {
		return strings.ToLower(name)
	}
	return name
}

// nameCacheTTL bounds how long a cached name is trusted without a change
// notification. Changes drop the cache at once; the bound only matters while
// the directory cannot tell this process about other replicas' changes (its
// PostgreSQL listener is reconnecting), and matches the 5 s for which Opik
// itself caches API-key answers.
const nameCacheTTL = 5 * time.Second

// nameCache holds what the directory does not cache for us: workspaces by
// name (for admins outside their memberships and /workspaces/workspace-id)
// and, per org, members by Opik user name (for the by-username path). Every
// directory change replaces the whole generation, as the directory does with
// its own cache: a load that raced a change stores into the generation that
// change replaced, so it is never served.
type nameCache struct {
	now func() time.Time
	cur atomic.Pointer[nameGen]
}

type nameGen struct {
	born       time.Time
	workspaces sync.Map // name → directory.Workspace
	members    sync.Map // org id → map[string]string (userNameKey → principal id, "" when ambiguous)
}

func newNameCache(now func() time.Time) *nameCache {
	c := &nameCache{now: now}
	c.drop()
	return c
}

func (c *nameCache) drop() { c.cur.Store(&nameGen{born: c.now()}) }

func (c *nameCache) current() *nameGen {
	g := c.cur.Load()
	if c.now().Sub(g.born) < nameCacheTTL {
		return g
	}
	fresh := &nameGen{born: c.now()}
	if c.cur.CompareAndSwap(g, fresh) {
		return fresh
	}
	return c.cur.Load()
}

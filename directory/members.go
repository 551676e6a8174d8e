package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

const userCols = `id, email, email_verified, name, created_at`

func scanUser(r row) (User, error) {
	var u User
	var created int64
	err := r.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &created)
	u.CreatedAt = fromTS(created)
	return u, err
}

// CreateUser creates a user. Emails are not unique: the same address coming
// through two connections is two identities until an admin links them.
func (s *SQLStore) CreateUser(ctx context.Context, actor string, in NewUser) (User, error) {
	email, key, err := normalizeEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	if len(in.Name) > 200 {
		return User{}, invalid("name", "name must be at most 200 characters")
	}
	u := User{ID: newID("usr"), Email: email, EmailVerified: in.EmailVerified, Name: in.Name, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	err = s.mutate(ctx, func(q querier) error {
		_, err := q.exec(ctx, `INSERT INTO users (id, email, email_key, email_verified, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.Email, key, u.EmailVerified, u.Name, ts(u.CreatedAt))
		if err != nil {
			return err
		}
		return audit(ctx, q, "", actor, "user.create", u.ID, nil, u)
	})
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// GetUser finds a user by id.
func (s *SQLStore) GetUser(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err == errNoRows {
		return u, notFound("user", id)
	}
	return u, err
}

const memberCols = `m.org_id, m.principal_id, m.principal_type, m.role, m.created_at, m.version, COALESCE(u.name, sa.name, ''), COALESCE(u.email, '')`
const memberFrom = ` FROM org_members m LEFT JOIN users u ON u.id = m.principal_id LEFT JOIN service_accounts sa ON sa.id = m.principal_id`

func scanMember(r row) (Member, error) {
	var m Member
	var typ, role string
	var created int64
	err := r.Scan(&m.OrgID, &m.PrincipalID, &typ, &role, &created, &m.Version, &m.Name, &m.Email)
	m.Type, m.Role, m.CreatedAt = PrincipalType(typ), access.OrgRole(role), fromTS(created)
	return m, err
}

func getMember(ctx context.Context, q querier, orgID, principalID string) (Member, error) {
	m, err := scanMember(q.queryRow(ctx, `SELECT `+memberCols+memberFrom+` WHERE m.org_id = $1 AND m.principal_id = $2`, orgID, principalID))
	if err == errNoRows {
		return m, notFound("member", principalID)
	}
	return m, err
}

// ErrGrantNotAllowed is wrapped by a grant a member may not make: a role,
// workspace role or flag beyond their own permissions (docs/security.md,
// "Grants and tenant inputs").
var ErrGrantNotAllowed = errors.New("grant beyond the granter's own permissions")

// GrantError is a refused grant, with a message meant for a person.
type GrantError struct{ Message string }

func (e *GrantError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrGrantNotAllowed) true.
func (e *GrantError) Unwrap() error { return ErrGrantNotAllowed }

// granter is the standing of the actor of a grant in the org.
type granter struct {
	role     access.OrgRole
	settings access.Settings
	member   bool
}

// granterOf loads actor's org role for a grant check. An actor who is not a
// member of the org (the operator's CLI, the system, a test) has authorised
// the change by other means and is not checked here; a member is, whatever
// path their request took (admin API, console).
func granterOf(ctx context.Context, q querier, org Organization, actor string) (granter, error) {
	g := granter{settings: org.Settings.Access()}
	m, err := getMember(ctx, q, org.ID, actor)
	if isNotFound(err) {
		return g, nil
	}
	if err != nil {
		return g, err
	}
	g.role, g.member = m.Role, true
	return g, nil
}

// mayGrantOrgRole refuses an org role beyond the granter's own
// (access.Covers). Whether the granter may invite at all (org.invite) or
// change roles (org.admin) is the caller's check, as for every permission.
func (g granter) mayGrantOrgRole(role access.OrgRole) error {
	if !g.member || access.Covers(g.role, role, g.settings) {
		return nil
	}
	return &GrantError{Message: fmt.Sprintf("a %s cannot grant the role %s: a member may grant only a role whose permissions they hold themselves", g.role, role)}
}

// mayGrantWorkspace refuses a workspace membership beyond the granter's own
// permissions in workspace w.
func (g granter) mayGrantWorkspace(ctx context.Context, q querier, actor string, w Workspace, grant access.WorkspaceGrant) error {
	if !g.member || g.role == access.RoleAdmin {
		return nil
	}
	var own *access.Membership
	wm, err := getWorkspaceMember(ctx, q, w.ID, actor)
	switch {
	case err == nil:
		own = &wm.Membership
	case !isNotFound(err):
		return err
	}
	if access.MayGrantWorkspace(g.role, own, grant) {
		return nil
	}
	return &GrantError{Message: fmt.Sprintf("this membership of workspace %q would give a %s permissions the granter does not hold there", w.Name, grant.Grantee)}
}

// principalExists checks that a user exists, or that a service account belongs to the org.
func principalExists(ctx context.Context, q querier, orgID, principalID string) error {
	var n int
	var err error
	if PrincipalTypeOf(principalID) == PrincipalServiceAccount {
		err = q.queryRow(ctx, `SELECT count(*) FROM service_accounts WHERE id = $1 AND org_id = $2`, principalID, orgID).Scan(&n)
	} else {
		err = q.queryRow(ctx, `SELECT count(*) FROM users WHERE id = $1`, principalID).Scan(&n)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(string(PrincipalTypeOf(principalID)), principalID)
	}
	return nil
}

func addMember(ctx context.Context, q querier, orgID, principalID string, role access.OrgRole) (Member, error) {
	if !role.Valid() {
		return Member{}, invalid("role", "org role %q is not one of admin, platform_member, opik_member, view_only_platform_member", role)
	}
	if err := principalExists(ctx, q, orgID, principalID); err != nil {
		return Member{}, err
	}
	_, err := q.exec(ctx, `INSERT INTO org_members (org_id, principal_id, principal_type, role, created_at, version) VALUES ($1, $2, $3, $4, $5, 1)`,
		orgID, principalID, string(PrincipalTypeOf(principalID)), string(role), ts(time.Now()))
	if isUnique(err) {
		return Member{}, conflict("%s is already a member of the organization", principalID)
	}
	if err != nil {
		return Member{}, err
	}
	return getMember(ctx, q, orgID, principalID)
}

// AddMember makes a principal a member of the org.
func (s *SQLStore) AddMember(ctx context.Context, actor, orgID, principalID string, role access.OrgRole) (Member, error) {
	var m Member
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		var err error
		if m, err = addMember(ctx, q, orgID, principalID, role); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "member.add", principalID, nil, map[string]any{"role": role})
	})
	if err != nil {
		return Member{}, fmt.Errorf("add member: %w", err)
	}
	return m, nil
}

// GetMember returns a principal's membership of the org.
func (s *SQLStore) GetMember(ctx context.Context, orgID, principalID string) (Member, error) {
	return getMember(ctx, s.db, orgID, principalID)
}

// ListMembers lists the org's members (users and service accounts) by id.
func (s *SQLStore) ListMembers(ctx context.Context, orgID string, p Page) ([]Member, string, error) {
	return s.SearchMembers(ctx, orgID, MemberFilter{Page: p})
}

// MemberFilter narrows SearchMembers.
type MemberFilter struct {
	// Q matches a substring of the member's name or email, case-insensitively
	// (at most MaxSearchLen characters).
	Q string
	// NotInWorkspace, when set, leaves out the members of that workspace (by
	// id): the people a workspace's "add a member" search offers.
	NotInWorkspace string
	Page
}

// SearchMembers lists the org's members (users and service accounts) whose
// name or email contains f.Q, by principal id, one page at a time. An empty
// Q lists every member, as ListMembers does.
func (s *SQLStore) SearchMembers(ctx context.Context, orgID string, f MemberFilter) ([]Member, string, error) {
	lq := listQuery{selectFrom: `SELECT ` + memberCols + memberFrom, org: "m.org_id", key: "m.principal_id",
		match: []string{"COALESCE(u.name, sa.name, '')", "COALESCE(u.email, '')"}}
	if f.NotInWorkspace != "" {
		lq.extra = `NOT EXISTS (SELECT 1 FROM workspace_members x WHERE x.workspace_id = $%d AND x.principal_id = m.principal_id)`
		lq.extraArg = f.NotInWorkspace
	}
	return searchPage(ctx, s.db, lq, orgID, ListFilter{Q: f.Q, Page: f.Page}, scanMember, func(m Member) string { return m.PrincipalID })
}

// MemberCounts are an org's head counts (the Billing overview).
type MemberCounts struct {
	// Users and ServiceAccounts are the org's members of each kind.
	Users, ServiceAccounts int
	// Admins are the human admins (as CountAdmins).
	Admins int
	// PendingRequests are the join requests waiting for a decision.
	PendingRequests int
}

// CountMembers counts the org's members, admins and pending join requests
// in one query, whatever the org's size.
func (s *SQLStore) CountMembers(ctx context.Context, orgID string) (MemberCounts, error) {
	var c MemberCounts
	err := s.db.queryRow(ctx, `SELECT
		(SELECT count(*) FROM org_members WHERE org_id = $1 AND principal_type = 'user'),
		(SELECT count(*) FROM org_members WHERE org_id = $1 AND principal_type = 'service_account'),
		(SELECT count(*) FROM org_members WHERE org_id = $1 AND principal_type = 'user' AND role = 'admin'),
		(SELECT count(*) FROM join_requests WHERE org_id = $1 AND state = 'pending')`, orgID).
		Scan(&c.Users, &c.ServiceAccounts, &c.Admins, &c.PendingRequests)
	if err != nil {
		return MemberCounts{}, fmt.Errorf("count members: %w", err)
	}
	return c, nil
}

// ListPrincipalOrgs lists a principal's org memberships.
func (s *SQLStore) ListPrincipalOrgs(ctx context.Context, principalID string) ([]Member, error) {
	r, err := s.db.query(ctx, `SELECT `+memberCols+memberFrom+` WHERE m.principal_id = $1 ORDER BY m.org_id`, principalID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanMember)
}

func countAdmins(ctx context.Context, q querier, orgID string) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM org_members WHERE org_id = $1 AND role = 'admin' AND principal_type = 'user'`, orgID).Scan(&n)
	return n, err
}

// CountAdmins counts the org's human admins.
func (s *SQLStore) CountAdmins(ctx context.Context, orgID string) (int, error) {
	return countAdmins(ctx, s.db, orgID)
}

// SetMemberRole changes a member's org role, keeping at least one human admin.
func (s *SQLStore) SetMemberRole(ctx context.Context, actor, orgID, principalID string, role access.OrgRole, ifVersion int64) (Member, error) {
	if !role.Valid() {
		return Member{}, invalid("role", "org role %q is not one of admin, platform_member, opik_member, view_only_platform_member", role)
	}
	if actor == principalID {
		return Member{}, invariant(RuleSelfRoleChange, "you cannot change your own organization role; ask another admin")
	}
	var after Member
	err := s.mutate(ctx, func(q querier) error {
		org, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		g, err := granterOf(ctx, q, org, actor)
		if err != nil {
			return err
		}
		if err := g.mayGrantOrgRole(role); err != nil {
			return err
		}
		before, err := getMember(ctx, q, orgID, principalID)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != before.Version {
			return fmt.Errorf("member %s changed since version %d: %w", principalID, ifVersion, ErrVersionMismatch)
		}
		after = before
		if before.Role == role {
			return nil
		}
		if before.Role == access.RoleAdmin && before.Type == PrincipalUser {
			n, err := countAdmins(ctx, q, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return invariant(RuleLastAdmin, "%s is the organization's last admin; make someone else admin first", displayName(before))
			}
		}
		after.Role, after.Version = role, before.Version+1
		if _, err := q.exec(ctx, `UPDATE org_members SET role = $1, version = $2 WHERE org_id = $3 AND principal_id = $4`, string(role), after.Version, orgID, principalID); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "member.role", principalID, map[string]any{"role": before.Role}, map[string]any{"role": role})
	})
	if err != nil {
		return Member{}, fmt.Errorf("set member role: %w", err)
	}
	return after, nil
}

func displayName(m Member) string {
	if m.Email != "" {
		return m.Email
	}
	if m.Name != "" {
		return m.Name
	}
	return m.PrincipalID
}

// RemoveMember removes a user and its workspace memberships from the org.
func (s *SQLStore) RemoveMember(ctx context.Context, actor, orgID, principalID string) error {
	if actor == principalID {
		return invariant(RuleSelfRemoval, "you cannot remove yourself from the organization; ask another admin")
	}
	if PrincipalTypeOf(principalID) == PrincipalServiceAccount {
		return invalid("principal", "service accounts leave an organization by being deleted")
	}
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		m, err := getMember(ctx, q, orgID, principalID)
		if err != nil {
			return err
		}
		if m.Role == access.RoleAdmin {
			n, err := countAdmins(ctx, q, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return invariant(RuleLastAdmin, "%s is the organization's last admin and cannot be removed", displayName(m))
			}
		}
		if _, err := q.exec(ctx, `DELETE FROM workspace_members WHERE org_id = $1 AND principal_id = $2`, orgID, principalID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM org_members WHERE org_id = $1 AND principal_id = $2`, orgID, principalID); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "member.remove", principalID, map[string]any{"role": m.Role, "email": m.Email}, nil)
	})
	if err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	return nil
}

const wsMemberCols = `wm.workspace_id, w.name, wm.principal_id, COALESCE(u.name, sa.name, ''), COALESCE(u.email, ''), wm.role, wm.can_invite, wm.can_make_public`
const wsMemberFrom = ` FROM workspace_members wm JOIN workspaces w ON w.id = wm.workspace_id LEFT JOIN users u ON u.id = wm.principal_id LEFT JOIN service_accounts sa ON sa.id = wm.principal_id`

func scanWorkspaceMember(r row) (WorkspaceMember, error) {
	var m WorkspaceMember
	var role string
	err := r.Scan(&m.WorkspaceID, &m.WorkspaceName, &m.PrincipalID, &m.Name, &m.Email, &role, &m.CanInvite, &m.CanMakePublic)
	m.Role = access.WorkspaceRole(role)
	return m, err
}

func putWorkspaceMember(ctx context.Context, q querier, w Workspace, principalID string, m access.Membership) error {
	if m.Role == access.WorkspaceOwner {
		m.CanInvite, m.CanMakePublic = true, true // owners always have both
	}
	_, err := q.exec(ctx, `INSERT INTO workspace_members (workspace_id, org_id, principal_id, role, can_invite, can_make_public, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (workspace_id, principal_id) DO UPDATE SET role = excluded.role, can_invite = excluded.can_invite, can_make_public = excluded.can_make_public`,
		w.ID, w.OrgID, principalID, string(m.Role), m.CanInvite, m.CanMakePublic, ts(time.Now()))
	return err
}

// PutWorkspaceMember adds a member of the org to a workspace or changes its
// workspace role and flags.
func (s *SQLStore) PutWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string, m access.Membership) (WorkspaceMember, error) {
	if !m.Role.Valid() {
		return WorkspaceMember{}, invalid("role", "workspace role %q is not owner or member", m.Role)
	}
	var out WorkspaceMember
	err := s.mutate(ctx, func(q querier) error {
		org, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		w, err := getWorkspace(ctx, q, orgID, wsID)
		if err != nil {
			return err
		}
		grantee, err := getMember(ctx, q, orgID, principalID)
		if err != nil {
			return err
		}
		before, err := getWorkspaceMember(ctx, q, w.ID, principalID)
		if err != nil && !isNotFound(err) {
			return err
		}
		g, err := granterOf(ctx, q, org, actor)
		if err != nil {
			return err
		}
		grant := access.WorkspaceGrant{Grantee: grantee.Role, Membership: m}
		if before.PrincipalID != "" {
			grant.Current = &before.Membership
		}
		if err := g.mayGrantWorkspace(ctx, q, actor, w, grant); err != nil {
			return err
		}
		if err := putWorkspaceMember(ctx, q, w, principalID, m); err != nil {
			return err
		}
		if out, err = getWorkspaceMember(ctx, q, w.ID, principalID); err != nil {
			return err
		}
		if before.Membership == out.Membership {
			return nil
		}
		var b any
		if before.PrincipalID != "" {
			b = before.Membership
		}
		return audit(ctx, q, orgID, actor, "workspace.member.put", w.ID+"/"+principalID, b, out.Membership)
	})
	if err != nil {
		return WorkspaceMember{}, fmt.Errorf("put workspace member: %w", err)
	}
	return out, nil
}

func getWorkspaceMember(ctx context.Context, q querier, wsID, principalID string) (WorkspaceMember, error) {
	m, err := scanWorkspaceMember(q.queryRow(ctx, `SELECT `+wsMemberCols+wsMemberFrom+` WHERE wm.workspace_id = $1 AND wm.principal_id = $2`, wsID, principalID))
	if err == errNoRows {
		return m, notFound("workspace member", principalID)
	}
	return m, err
}

// RemoveWorkspaceMember removes a principal from a workspace.
func (s *SQLStore) RemoveWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string) error {
	err := s.mutate(ctx, func(q querier) error {
		w, err := getWorkspace(ctx, q, orgID, wsID)
		if err != nil {
			return err
		}
		before, err := getWorkspaceMember(ctx, q, w.ID, principalID)
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND principal_id = $2`, w.ID, principalID); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "workspace.member.remove", w.ID+"/"+principalID, before.Membership, nil)
	})
	if err != nil {
		return fmt.Errorf("remove workspace member: %w", err)
	}
	return nil
}

// ListWorkspaceMembers lists a workspace's members by principal id.
func (s *SQLStore) ListWorkspaceMembers(ctx context.Context, orgID, wsID string, p Page) ([]WorkspaceMember, string, error) {
	w, err := getWorkspace(ctx, s.db, orgID, wsID)
	if err != nil {
		return nil, "", err
	}
	limit := limitOf(p)
	r, err := s.db.query(ctx, `SELECT `+wsMemberCols+wsMemberFrom+` WHERE wm.workspace_id = $1 AND wm.principal_id > $2 ORDER BY wm.principal_id LIMIT $3`, w.ID, p.After, limit)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(r, scanWorkspaceMember)
	if err != nil || len(out) == 0 {
		return out, "", err
	}
	return out, nextCursor(len(out), limit, out[len(out)-1].PrincipalID), nil
}

// PrincipalWorkspaces lists every workspace membership of a principal in the org, by workspace name.
func (s *SQLStore) PrincipalWorkspaces(ctx context.Context, orgID, principalID string) ([]WorkspaceMember, error) {
	return principalWorkspaces(ctx, s.db, orgID, principalID)
}

// MaxPrincipalsPerCall bounds WorkspacesOfPrincipals (a page of a list).
const MaxPrincipalsPerCall = 500

// WorkspacesOfPrincipals returns the workspace memberships in the org of
// each of principals (at most MaxPrincipalsPerCall), by workspace name, in
// one query: the workspaces column of a page of members. A principal with
// no membership has no entry.
func (s *SQLStore) WorkspacesOfPrincipals(ctx context.Context, orgID string, principals []string) (map[string][]WorkspaceMember, error) {
	if len(principals) > MaxPrincipalsPerCall {
		return nil, invalid("principals", "at most %d principals a call", MaxPrincipalsPerCall)
	}
	out := map[string][]WorkspaceMember{}
	if len(principals) == 0 {
		return out, nil
	}
	args := []any{orgID}
	in := make([]string, len(principals))
	for i, p := range principals {
		args = append(args, p)
		in[i] = fmt.Sprintf("$%d", i+2)
	}
	r, err := s.db.query(ctx, `SELECT `+wsMemberCols+wsMemberFrom+` WHERE wm.org_id = $1 AND wm.principal_id IN (`+strings.Join(in, ", ")+`) ORDER BY wm.principal_id, w.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("workspaces of principals: %w", err)
	}
	all, err := collect(r, scanWorkspaceMember)
	if err != nil {
		return nil, fmt.Errorf("workspaces of principals: %w", err)
	}
	for _, wm := range all {
		out[wm.PrincipalID] = append(out[wm.PrincipalID], wm)
	}
	return out, nil
}

func principalWorkspaces(ctx context.Context, q querier, orgID, principalID string) ([]WorkspaceMember, error) {
	r, err := q.query(ctx, `SELECT `+wsMemberCols+wsMemberFrom+` WHERE wm.org_id = $1 AND wm.principal_id = $2 ORDER BY w.name`, orgID, principalID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanWorkspaceMember)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

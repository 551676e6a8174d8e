package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

const orgCols = `id, name, plan, plan_started_at, only_admins_can_invite, jit_mode, default_org_role, default_workspace_id, created_at, version`

func scanOrg(r row) (Organization, error) {
	var o Organization
	var started, created int64
	var plan, jit, role string
	err := r.Scan(&o.ID, &o.Name, &plan, &started, &o.Settings.OnlyAdminsCanInvite, &jit, &role,
		&o.Settings.DefaultWorkspace, &created, &o.Version)
	o.Plan, o.Settings.JITMode, o.Settings.DefaultOrgRole = Plan(plan), JITMode(jit), access.OrgRole(role)
	o.PlanStartedAt, o.CreatedAt = fromTS(started), fromTS(created)
	return o, err
}

// audit appends one entry to the audit log inside the caller's transaction.
func audit(ctx context.Context, q querier, orgID, actor, action, target string, before, after any) error {
	summary := func(v any) string {
		if v == nil {
			return ""
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("%v", v)
		}
		return string(b)
	}
	_, err := q.exec(ctx, `INSERT INTO audit_log (org_id, actor, action, target, at, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		orgID, actor, action, target, ts(time.Now()), summary(before), summary(after))
	return err
}

// lockOrg takes the org's row lock for the rest of the transaction, so that
// invariants over its members and workspaces hold under concurrent changes.
func lockOrg(ctx context.Context, q querier, orgID string) (Organization, error) {
	o, err := scanOrg(q.queryRow(ctx, `SELECT `+orgCols+` FROM orgs WHERE id = $1 FOR UPDATE`, orgID))
	if err == errNoRows {
		return o, notFound("organization", orgID)
	}
	return o, err
}

// CreateOrg creates an organization and its first, default workspace.
func (s *SQLStore) CreateOrg(ctx context.Context, actor string, in NewOrg) (Organization, Workspace, error) {
	in.Name = normalizeOrgName(in.Name)
	if err := validateOrgName(in.Name); err != nil {
		return Organization{}, Workspace{}, err
	}
	if in.Plan == "" {
		in.Plan = PlanCommunity
	}
	if !in.Plan.Valid() {
		return Organization{}, Workspace{}, invalid("plan", "plan %q is not one of community, starter, enterprise", in.Plan)
	}
	if in.WorkspaceName != "" {
		if err := ValidateWorkspaceName(in.WorkspaceName); err != nil {
			return Organization{}, Workspace{}, err
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	org := Organization{
		ID: newID("org"), Name: in.Name, Plan: in.Plan, PlanStartedAt: now, CreatedAt: now, Version: 1,
		Settings: OrgSettings{JITMode: JITInviteOnly, DefaultOrgRole: access.RolePlatformMember},
	}
	ws := Workspace{ID: newID("ws"), OrgID: org.ID, Default: true, CreatedAt: now}
	org.Settings.DefaultWorkspace = ws.ID
	// A generated workspace name can be taken by a concurrent transaction
	// between the check and the insert; try again with a fresh check.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.createOrg(ctx, actor, in, &org, &ws, now)
		if !errors.Is(err, errGeneratedNameTaken) {
			break
		}
	}
	if errors.Is(err, errGeneratedNameTaken) {
		err = conflict("workspace name %q is taken", ws.Name)
	}
	if err != nil {
		return Organization{}, Workspace{}, fmt.Errorf("create organization: %w", err)
	}
	return org, ws, nil
}

// errGeneratedNameTaken marks a lost race for a generated workspace name.
var errGeneratedNameTaken = errors.New("generated workspace name taken")

func (s *SQLStore) createOrg(ctx context.Context, actor string, in NewOrg, org *Organization, ws *Workspace, now time.Time) error {
	return s.mutate(ctx, func(q querier) error {
		name, err := freeWorkspaceName(ctx, q, in.WorkspaceName, in.Name)
		if err != nil {
			return err
		}
		ws.Name = name
		_, err = q.exec(ctx, `INSERT INTO orgs (`+orgCols+`, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			org.ID, org.Name, string(org.Plan), ts(now), false, string(org.Settings.JITMode), string(org.Settings.DefaultOrgRole),
			ws.ID, ts(now), org.Version, strings.ToLower(org.Name))
		if isUnique(err) {
			return conflict("an organization named %q already exists", in.Name)
		}
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `INSERT INTO workspaces (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)`, ws.ID, org.ID, ws.Name, ts(now)); err != nil {
			if isUnique(err) && in.WorkspaceName == "" {
				return errGeneratedNameTaken
			}
			if isUnique(err) {
				return conflict("workspace name %q is taken", ws.Name)
			}
			return err
		}
		if err := audit(ctx, q, org.ID, actor, "org.create", org.ID, nil, *org); err != nil {
			return err
		}
		return audit(ctx, q, org.ID, actor, "workspace.create", ws.ID, nil, *ws)
	})
}

// freeWorkspaceName returns want if given (taken → conflict), else the first
// free name among slug(orgName), slug-2, slug-3, …
func freeWorkspaceName(ctx context.Context, q querier, want, orgName string) (string, error) {
	taken := func(n string) (bool, error) {
		var c int
		err := q.queryRow(ctx, `SELECT count(*) FROM workspaces WHERE name = $1`, n).Scan(&c)
		return c > 0, err
	}
	if want != "" {
		t, err := taken(want)
		if err == nil && t {
			err = conflict("workspace name %q is taken", want)
		}
		return want, err
	}
	base := slugify(orgName)
	for i := 1; i < 10000; i++ {
		n := base
		if i > 1 {
			n = fmt.Sprintf("%s-%d", base, i)
		}
		t, err := taken(n)
		if err != nil {
			return "", err
		}
		if !t {
			return n, nil
		}
	}
	return "", conflict("no free workspace name for %q", orgName)
}

// GetOrg finds an organization by id or (case-insensitive) name.
func (s *SQLStore) GetOrg(ctx context.Context, ref string) (Organization, error) {
	col := "name_key"
	key := strings.ToLower(ref)
	if strings.HasPrefix(ref, "org_") {
		col, key = "id", ref
	}
	o, err := scanOrg(s.db.queryRow(ctx, `SELECT `+orgCols+` FROM orgs WHERE `+col+` = $1`, key))
	if err == errNoRows {
		return o, notFound("organization", ref)
	}
	return o, err
}

// ListOrgs lists organizations by id.
func (s *SQLStore) ListOrgs(ctx context.Context, p Page) ([]Organization, string, error) {
	limit := limitOf(p)
	r, err := s.db.query(ctx, `SELECT `+orgCols+` FROM orgs WHERE id > $1 ORDER BY id LIMIT $2`, p.After, limit)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(r, scanOrg)
	if err != nil || len(out) == 0 {
		return out, "", err
	}
	return out, nextCursor(len(out), limit, out[len(out)-1].ID), nil
}

// UpdateOrg renames an organization or changes its settings.
func (s *SQLStore) UpdateOrg(ctx context.Context, actor, orgID string, u OrgUpdate) (Organization, error) {
	if u.Name != nil {
		name := normalizeOrgName(*u.Name)
		if err := validateOrgName(name); err != nil {
			return Organization{}, err
		}
		u.Name = &name
	}
	if u.JITMode != nil && !u.JITMode.Valid() {
		return Organization{}, invalid("jit_mode", "jit_mode %q is not one of auto, approval, invite_only", *u.JITMode)
	}
	if u.DefaultOrgRole != nil && (!u.DefaultOrgRole.Valid() || *u.DefaultOrgRole == access.RoleAdmin) {
		return Organization{}, invalid("default_org_role", "default_org_role %q must be platform_member, opik_member or view_only_platform_member", *u.DefaultOrgRole)
	}
	var after Organization
	err := s.mutate(ctx, func(q querier) error {
		before, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		if u.IfVersion != 0 && u.IfVersion != before.Version {
			return fmt.Errorf("organization %s changed since version %d: %w", orgID, u.IfVersion, ErrVersionMismatch)
		}
		after = before
		if u.Name != nil {
			after.Name = *u.Name
		}
		if u.OnlyAdminsCanInvite != nil {
			after.Settings.OnlyAdminsCanInvite = *u.OnlyAdminsCanInvite
		}
		if u.JITMode != nil {
			after.Settings.JITMode = *u.JITMode
		}
		if u.DefaultOrgRole != nil {
			after.Settings.DefaultOrgRole = *u.DefaultOrgRole
		}
		if after == before {
			return nil // idempotent: nothing to record
		}
		after.Version++
		_, err = q.exec(ctx, `UPDATE orgs SET name = $1, name_key = $2, only_admins_can_invite = $3, jit_mode = $4, default_org_role = $5, version = $6 WHERE id = $7`,
			after.Name, strings.ToLower(after.Name), after.Settings.OnlyAdminsCanInvite, string(after.Settings.JITMode),
			string(after.Settings.DefaultOrgRole), after.Version, orgID)
		if isUnique(err) {
			return conflict("an organization named %q already exists", after.Name)
		}
		if err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "org.update", orgID, before, after)
	})
	if err != nil {
		return Organization{}, fmt.Errorf("update organization: %w", err)
	}
	return after, nil
}

// collect scans every row with scan and closes r.
func collect[T any](r rows, scan func(row) (T, error)) ([]T, error) {
	defer r.Close()
	var out []T
	for r.Next() {
		v, err := scan(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, r.Err()
}

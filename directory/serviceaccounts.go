package directory

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ssobroker/ssobroker/directory/access"
)

const saCols = `sa.id, sa.org_id, sa.name, COALESCE(m.role, ''), sa.created_by, sa.created_at`
const saFrom = ` FROM service_accounts sa LEFT JOIN org_members m ON m.org_id = sa.org_id AND m.principal_id = sa.id`

func scanServiceAccount(r row) (ServiceAccount, error) {
	var a ServiceAccount
	var role string
	var created int64
	err := r.Scan(&a.ID, &a.OrgID, &a.Name, &role, &a.CreatedBy, &created)
	a.Role, a.CreatedAt = access.OrgRole(role), fromTS(created)
	return a, err
}

func getServiceAccount(ctx context.Context, q querier, orgID, id string) (ServiceAccount, error) {
	a, err := scanServiceAccount(q.queryRow(ctx, `SELECT `+saCols+saFrom+` WHERE sa.org_id = $1 AND sa.id = $2`, orgID, id))
	if err == errNoRows {
		return a, notFound("service account", id)
	}
	return a, err
}

func validateAccountName(name string) error {
	if strings.TrimSpace(name) != name || name == "" || utf8.RuneCountInString(name) > 100 {
		return invalid("name", "service account name must be 1-100 characters without leading or trailing spaces")
	}
	return nil
}

// CreateServiceAccount creates a service account with an org role and workspace memberships.
func (s *SQLStore) CreateServiceAccount(ctx context.Context, actor string, in NewServiceAccount) (ServiceAccount, error) {
	if err := validateAccountName(in.Name); err != nil {
		return ServiceAccount{}, err
	}
	if !in.Role.Valid() {
		return ServiceAccount{}, invalid("role", "org role %q is not one of admin, platform_member, opik_member, view_only_platform_member", in.Role)
	}
	a := ServiceAccount{ID: newID("sa"), OrgID: in.OrgID, Name: in.Name, Role: in.Role, CreatedBy: actor, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, in.OrgID); err != nil {
			return err
		}
		grants, err := validateGrants(ctx, q, in.OrgID, in.Workspaces)
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, `INSERT INTO service_accounts (id, org_id, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)`,
			a.ID, a.OrgID, a.Name, actor, ts(a.CreatedAt))
		if isUnique(err) {
			return conflict("a service account named %q already exists", in.Name)
		}
		if err != nil {
			return err
		}
		if _, err := addMember(ctx, q, a.OrgID, a.ID, a.Role); err != nil {
			return err
		}
		for _, g := range grants {
			w, err := getWorkspace(ctx, q, a.OrgID, g.WorkspaceID)
			if err != nil {
				return err
			}
			if err := putWorkspaceMember(ctx, q, w, a.ID, access.Membership{Role: g.Role}); err != nil {
				return err
			}
		}
		return audit(ctx, q, a.OrgID, actor, "service_account.create", a.ID, nil, map[string]any{"name": a.Name, "role": a.Role, "workspaces": grants})
	})
	if err != nil {
		return ServiceAccount{}, fmt.Errorf("create service account: %w", err)
	}
	return a, nil
}

// GetServiceAccount finds a service account of the org.
func (s *SQLStore) GetServiceAccount(ctx context.Context, orgID, id string) (ServiceAccount, error) {
	return getServiceAccount(ctx, s.db, orgID, id)
}

// ListServiceAccounts lists the org's service accounts by id.
func (s *SQLStore) ListServiceAccounts(ctx context.Context, orgID string, p Page) ([]ServiceAccount, string, error) {
	return s.SearchServiceAccounts(ctx, orgID, ListFilter{Page: p})
}

// RenameServiceAccount renames a service account.
func (s *SQLStore) RenameServiceAccount(ctx context.Context, actor, orgID, id, name string) (ServiceAccount, error) {
	if err := validateAccountName(name); err != nil {
		return ServiceAccount{}, err
	}
	var a ServiceAccount
	err := s.mutate(ctx, func(q querier) error {
		before, err := getServiceAccount(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		a = before
		if before.Name == name {
			return nil
		}
		a.Name = name
		_, err = q.exec(ctx, `UPDATE service_accounts SET name = $1 WHERE id = $2`, name, id)
		if isUnique(err) {
			return conflict("a service account named %q already exists", name)
		}
		if err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "service_account.rename", id, map[string]any{"name": before.Name}, map[string]any{"name": name})
	})
	if err != nil {
		return ServiceAccount{}, fmt.Errorf("rename service account: %w", err)
	}
	return a, nil
}

// DeleteServiceAccount deletes an account, its memberships and its keys; its
// keys stop working at once in every replica.
func (s *SQLStore) DeleteServiceAccount(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		a, err := getServiceAccount(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		for _, stmt := range []string{
			`DELETE FROM api_keys WHERE service_account_id = $1`,
			`DELETE FROM jwt_issuers WHERE service_account_id = $1`,
			`DELETE FROM workspace_members WHERE principal_id = $1`,
			`DELETE FROM org_members WHERE principal_id = $1`,
			`DELETE FROM service_accounts WHERE id = $1`,
		} {
			if _, err := q.exec(ctx, stmt, id); err != nil {
				return err
			}
		}
		return audit(ctx, q, orgID, actor, "service_account.delete", id, map[string]any{"name": a.Name, "role": a.Role}, nil)
	})
	if err != nil {
		return fmt.Errorf("delete service account: %w", err)
	}
	return nil
}

const keyCols = `k.id, k.service_account_id, k.org_id, k.prefix, k.created_at, k.last_used_at, k.revoked_at`

func scanAPIKey(r row) (APIKey, error) {
	var k APIKey
	var created int64
	var used, revoked *int64
	err := r.Scan(&k.ID, &k.ServiceAccountID, &k.OrgID, &k.Prefix, &created, &used, &revoked)
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromTS(created), fromNullTS(used), fromNullTS(revoked)
	return k, err
}

// CreateAPIKey creates a key for a service account and returns its secret once.
func (s *SQLStore) CreateAPIKey(ctx context.Context, actor, orgID, serviceAccountID string) (APIKey, string, error) {
	secret := newAPIKeySecret()
	k := APIKey{ID: newID("key"), ServiceAccountID: serviceAccountID, OrgID: orgID, Prefix: secret[:apiKeyShownLen], CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	err := s.mutate(ctx, func(q querier) error {
		if _, err := getServiceAccount(ctx, q, orgID, serviceAccountID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `INSERT INTO api_keys (id, org_id, service_account_id, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			k.ID, orgID, serviceAccountID, k.Prefix, HashSecret(secret), ts(k.CreatedAt)); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "api_key.create", k.ID, nil, map[string]any{"service_account": serviceAccountID, "prefix": k.Prefix})
	})
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create API key: %w", err)
	}
	return k, secret, nil
}

// ListAPIKeys lists a service account's keys, revoked ones included.
func (s *SQLStore) ListAPIKeys(ctx context.Context, orgID, serviceAccountID string) ([]APIKey, error) {
	if _, err := getServiceAccount(ctx, s.db, orgID, serviceAccountID); err != nil {
		return nil, err
	}
	r, err := s.db.query(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.org_id = $1 AND k.service_account_id = $2 ORDER BY k.created_at, k.id`, orgID, serviceAccountID)
	if err != nil {
		return nil, err
	}
	keys, err := collect(r, scanAPIKey)
	for i := range keys {
		if t, ok := s.pendingTouch(keys[i].ID); ok && (keys[i].LastUsedAt == nil || t.After(*keys[i].LastUsedAt)) {
			t := t.UTC()
			keys[i].LastUsedAt = &t
		}
	}
	return keys, err
}

// RevokeAPIKey revokes a key; it stops working at once in every replica.
func (s *SQLStore) RevokeAPIKey(ctx context.Context, actor, orgID, keyID string) error {
	err := s.mutate(ctx, func(q querier) error {
		k, err := scanAPIKey(q.queryRow(ctx, `SELECT `+keyCols+` FROM api_keys k WHERE k.org_id = $1 AND k.id = $2`, orgID, keyID))
		if err == errNoRows {
			return notFound("API key", keyID)
		}
		if err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return nil // idempotent
		}
		if _, err := q.exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2`, ts(time.Now()), keyID); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "api_key.revoke", keyID, map[string]any{"prefix": k.Prefix}, map[string]any{"revoked": true})
	})
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	return nil
}

// LookupAPIKey finds the live key whose secret is secret.
func (s *SQLStore) LookupAPIKey(ctx context.Context, secret string) (KeyPrincipal, error) {
	if !WellFormedAPIKey(secret) {
		return KeyPrincipal{}, notFound("API key", "(malformed)")
	}
	hash := HashSecret(secret)
	c := s.cache.Load()
	if c != nil {
		if v, ok := c.keys.Load(string(hash)); ok {
			return v.(KeyPrincipal), nil
		}
	}
	var kp KeyPrincipal
	var created int64
	var used *int64
	var storedHash []byte
	var role string
	var saCreated int64
	err := s.db.queryRow(ctx, `SELECT k.id, k.service_account_id, k.org_id, k.prefix, k.created_at, k.last_used_at, k.hash,
			sa.name, COALESCE(m.role, ''), sa.created_by, sa.created_at
		FROM api_keys k JOIN service_accounts sa ON sa.id = k.service_account_id
		LEFT JOIN org_members m ON m.org_id = sa.org_id AND m.principal_id = sa.id
		WHERE k.hash = $1 AND k.revoked_at IS NULL`, hash).Scan(
		&kp.Key.ID, &kp.Key.ServiceAccountID, &kp.Key.OrgID, &kp.Key.Prefix, &created, &used, &storedHash,
		&kp.Account.Name, &role, &kp.Account.CreatedBy, &saCreated)
	if err == errNoRows {
		return KeyPrincipal{}, notFound("API key", secret[:apiKeyShownLen]+"…")
	}
	if err != nil {
		return KeyPrincipal{}, fmt.Errorf("look up API key: %w", err)
	}
	// The index found the row; compare anyway in constant time, so equality is
	// never decided by a byte-by-byte comparison.
	if subtle.ConstantTimeCompare(storedHash, hash) != 1 {
		return KeyPrincipal{}, notFound("API key", secret[:apiKeyShownLen]+"…")
	}
	kp.Key.CreatedAt, kp.Key.LastUsedAt = fromTS(created), fromNullTS(used)
	kp.Account.ID, kp.Account.OrgID, kp.Account.Role, kp.Account.CreatedAt = kp.Key.ServiceAccountID, kp.Key.OrgID, access.OrgRole(role), fromTS(saCreated)
	if c != nil {
		c.keys.Store(string(hash), kp)
	}
	return kp, nil
}

// PrincipalAccess returns a principal's org, membership and workspace memberships, from cache when warm.
func (s *SQLStore) PrincipalAccess(ctx context.Context, orgID, principalID string) (PrincipalAccess, error) {
	return cached(s, func(c *lookupCache) *sync.Map { return &c.access }, orgID+"\x00"+principalID, func() (PrincipalAccess, error) {
		return s.loadPrincipalAccess(ctx, orgID, principalID)
	})
}

// principalAccessQuery reads all of PrincipalAccess in one round trip: the
// org, the principal's membership and the org's default workspace, once per
// workspace membership of the principal (one row with empty workspace
// columns when there is none). Each join follows a primary key or the
// (org_id, principal_id) index of workspace_members, so its cost does not
// grow with the number of orgs (docs/operations.md, "Scaling").
const principalAccessQuery = `SELECT o.id, o.name, o.plan, o.plan_started_at, o.only_admins_can_invite, o.jit_mode,
		o.default_org_role, o.default_workspace_id, o.created_at, o.version,
		COALESCE(m.principal_id, ''), COALESCE(m.principal_type, ''), COALESCE(m.role, ''), COALESCE(m.created_at, 0),
		COALESCE(m.version, 0), COALESCE(u.name, sa.name, ''), COALESCE(u.email, ''),
		COALESCE(dw.id, ''), COALESCE(dw.name, ''), COALESCE(dw.created_at, 0),
		COALESCE(wm.workspace_id, ''), COALESCE(w.name, ''), COALESCE(wm.role, ''),
		COALESCE(wm.can_invite, FALSE), COALESCE(wm.can_make_public, FALSE)
	FROM orgs o
	LEFT JOIN org_members m ON m.org_id = o.id AND m.principal_id = $2
	LEFT JOIN users u ON u.id = m.principal_id
	LEFT JOIN service_accounts sa ON sa.id = m.principal_id
	LEFT JOIN workspaces dw ON dw.id = o.default_workspace_id AND dw.org_id = o.id
	LEFT JOIN workspace_members wm ON wm.org_id = m.org_id AND wm.principal_id = m.principal_id
	LEFT JOIN workspaces w ON w.id = wm.workspace_id
	WHERE o.id = $1
	ORDER BY w.name`

func (s *SQLStore) loadPrincipalAccess(ctx context.Context, orgID, principalID string) (PrincipalAccess, error) {
	var pa PrincipalAccess
	if !strings.HasPrefix(orgID, "org_") {
		return pa, notFound("organization", orgID)
	}
	r, err := s.db.query(ctx, principalAccessQuery, orgID, principalID)
	if err != nil {
		return pa, err
	}
	defer r.Close()
	found := false
	for r.Next() {
		var (
			o                        Organization
			started, created         int64
			plan, jit, role          string
			m                        Member
			mType, mRole             string
			mCreated                 int64
			dw                       Workspace
			dwCreated                int64
			wm                       WorkspaceMember
			wmRole                   string
			canInvite, canMakePublic bool
		)
		if err := r.Scan(&o.ID, &o.Name, &plan, &started, &o.Settings.OnlyAdminsCanInvite, &jit, &role,
			&o.Settings.DefaultWorkspace, &created, &o.Version,
			&m.PrincipalID, &mType, &mRole, &mCreated, &m.Version, &m.Name, &m.Email,
			&dw.ID, &dw.Name, &dwCreated,
			&wm.WorkspaceID, &wm.WorkspaceName, &wmRole, &canInvite, &canMakePublic); err != nil {
			return pa, err
		}
		if !found {
			found = true
			o.Plan, o.Settings.JITMode, o.Settings.DefaultOrgRole = Plan(plan), JITMode(jit), access.OrgRole(role)
			o.PlanStartedAt, o.CreatedAt = fromTS(started), fromTS(created)
			m.OrgID, m.Type, m.Role, m.CreatedAt = o.ID, PrincipalType(mType), access.OrgRole(mRole), fromTS(mCreated)
			dw.OrgID, dw.CreatedAt, dw.Default = o.ID, fromTS(dwCreated), true
			pa.Org, pa.Member, pa.DefaultWorkspace = o, m, dw
		}
		if wm.WorkspaceID != "" {
			wm.PrincipalID, wm.Name, wm.Email = pa.Member.PrincipalID, pa.Member.Name, pa.Member.Email
			wm.Role, wm.CanInvite, wm.CanMakePublic = access.WorkspaceRole(wmRole), canInvite, canMakePublic
			pa.Workspaces = append(pa.Workspaces, wm)
		}
	}
	if err := r.Err(); err != nil {
		return PrincipalAccess{}, err
	}
	switch {
	case !found:
		return PrincipalAccess{}, notFound("organization", orgID)
	case pa.Member.PrincipalID == "":
		return PrincipalAccess{}, notFound("member", principalID)
	case pa.DefaultWorkspace.ID == "":
		return PrincipalAccess{}, notFound("workspace", pa.Org.Settings.DefaultWorkspace)
	}
	return pa, nil
}

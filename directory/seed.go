package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory/access"
)

// SeedSpec sizes a synthetic tenant population for scale benchmarks and
// their regression tests (bench/seed, docs/bench/README.md). Every org has
// the same shape, so an operation on one org can be compared between a
// directory of one org and one of thousands.
type SeedSpec struct {
	// Orgs is the number of organizations to create (at least 1).
	Orgs int
	// UsersPerOrg users per org (default 10); the first is the org's admin,
	// the others platform members. Every user has an upstream identity
	// through the org's connection and is a member of its default workspace.
	UsersPerOrg int
	// WorkspacesPerOrg workspaces per org, the default one included (default 5).
	WorkspacesPerOrg int
	// ServiceAccountsPerOrg service accounts per org (default 1), platform
	// members of the org with one API key each (SeedOrg.APIKeys).
	ServiceAccountsPerOrg int
	// ManyOrgUserOrgs makes one more user a platform member of that many
	// orgs (the first ones, at most Orgs) and of each one's default workspace.
	ManyOrgUserOrgs int
	// Prefix keeps the names of one seeding apart from another's (workspace
	// and org names are unique in the deployment); default "seed".
	Prefix string
}

// SeedOrg is one seeded organization.
type SeedOrg struct {
	ID           string
	Name         string
	ConnectionID string
	Issuer       string // the upstream issuer of its users' identities
	// Users are the org's users in order (Users[0] is the admin); user i's
	// upstream subject is SeedSubject(i).
	Users      []string
	Workspaces []string // Workspaces[0] is the default one
	// ServiceAccounts and the secrets of their API keys, in the same order.
	ServiceAccounts []string
	APIKeys         []string
}

// SeedResult names what SeedTenants created.
type SeedResult struct {
	Orgs []SeedOrg
	// ManyOrgUser is the user who is a member of ManyOrgUserOrgs orgs ("" when none).
	ManyOrgUser string
}

// SeedSubject is the upstream subject of a seeded org's user i.
func SeedSubject(i int) string { return fmt.Sprintf("u%d", i) }

// SeedTenants creates spec's population in bulk, bypassing the per-row
// invariant checks and audit entries of the Store methods (benchmark
// fixtures only, never production data): COPY on PostgreSQL, multi-row
// inserts in one transaction on SQLite. It then refreshes the planner's
// statistics so that the plans measured afterwards are the ones a live
// directory of that size gets. Seeded connections are OIDC connections with
// an empty configuration, enabled, for sign-ins recorded through
// ProvisionLogin; they cannot reach any IdP.
func (s *SQLStore) SeedTenants(ctx context.Context, spec SeedSpec) (SeedResult, error) {
	if spec.Orgs < 1 {
		return SeedResult{}, invalid("orgs", "seed at least one organization")
	}
	if spec.UsersPerOrg <= 0 {
		spec.UsersPerOrg = 10
	}
	if spec.ServiceAccountsPerOrg <= 0 {
		spec.ServiceAccountsPerOrg = 1
	}
	if spec.WorkspacesPerOrg <= 0 {
		spec.WorkspacesPerOrg = 5
	}
	spec.ManyOrgUserOrgs = min(spec.ManyOrgUserOrgs, spec.Orgs)
	if spec.Prefix == "" {
		spec.Prefix = "seed"
	}
	if err := ValidateWorkspaceName(spec.Prefix + "-0-0"); err != nil {
		return SeedResult{}, fmt.Errorf("seed prefix: %w", err)
	}
	now := ts(time.Now().UTC())
	t := seedTables{}
	res := SeedResult{Orgs: make([]SeedOrg, spec.Orgs)}
	for i := range spec.Orgs {
		o := SeedOrg{ID: newID("org"), Name: fmt.Sprintf("%s org %d", spec.Prefix, i), ConnectionID: newID("conn"),
			Issuer: fmt.Sprintf("https://idp-%d.%s.example", i, spec.Prefix)}
		for j := range spec.WorkspacesPerOrg {
			o.Workspaces = append(o.Workspaces, newID("ws"))
			t.workspaces = append(t.workspaces, []any{o.Workspaces[j], o.ID, fmt.Sprintf("%s-%d-%d", spec.Prefix, i, j), now})
		}
		t.orgs = append(t.orgs, []any{o.ID, o.Name, strings.ToLower(o.Name), string(PlanCommunity), now, false,
			string(JITInviteOnly), string(access.RolePlatformMember), o.Workspaces[0], now, int64(1)})
		t.connections = append(t.connections, []any{o.ConnectionID, o.ID, string(ConnectionOIDC), "seed", true, []byte("{}"), now})
		for j := range spec.UsersPerOrg {
			uid := newID("usr")
			o.Users = append(o.Users, uid)
			email := fmt.Sprintf("u%d@org%d.%s.example", j, i, spec.Prefix)
			role := access.RolePlatformMember
			if j == 0 {
				role = access.RoleAdmin
			}
			t.user(uid, email, now)
			t.identities = append(t.identities, []any{o.ConnectionID, o.Issuer, SeedSubject(j), uid, o.ID, email, now, now})
			t.member(o, uid, role, now)
		}
		for j := range spec.ServiceAccountsPerOrg {
			sa, secret := newID("sa"), newAPIKeySecret()
			o.ServiceAccounts, o.APIKeys = append(o.ServiceAccounts, sa), append(o.APIKeys, secret)
			t.serviceAccounts = append(t.serviceAccounts, []any{sa, o.ID, fmt.Sprintf("robot %d", j), "system:seed", now})
			t.apiKeys = append(t.apiKeys, []any{newID("key"), o.ID, sa, secret[:apiKeyShownLen], HashSecret(secret), now})
			t.orgMembers = append(t.orgMembers, []any{o.ID, sa, string(PrincipalServiceAccount), string(access.RolePlatformMember), now, int64(1)})
		}
		res.Orgs[i] = o
	}
	if spec.ManyOrgUserOrgs > 0 {
		res.ManyOrgUser = newID("usr")
		t.user(res.ManyOrgUser, "many-orgs@"+spec.Prefix+".example", now)
		o := res.Orgs[0]
		t.identities = append(t.identities, []any{o.ConnectionID, o.Issuer, "many-orgs", res.ManyOrgUser, o.ID, "many-orgs@" + spec.Prefix + ".example", now, now})
		for i := range spec.ManyOrgUserOrgs {
			t.member(res.Orgs[i], res.ManyOrgUser, access.RolePlatformMember, now)
		}
	}
	err := s.mutate(ctx, func(q querier) error {
		for _, tb := range []struct {
			name string
			cols []string
			rows [][]any
		}{
			// Parents first: the foreign keys are checked row by row.
			{"orgs", []string{"id", "name", "name_key", "plan", "plan_started_at", "only_admins_can_invite", "jit_mode", "default_org_role", "default_workspace_id", "created_at", "version"}, t.orgs},
			{"workspaces", []string{"id", "org_id", "name", "created_at"}, t.workspaces},
			{"users", []string{"id", "email", "email_key", "email_verified", "name", "created_at"}, t.users},
			{"connections", []string{"id", "org_id", "type", "name", "enabled", "config", "created_at"}, t.connections},
			{"service_accounts", []string{"id", "org_id", "name", "created_by", "created_at"}, t.serviceAccounts},
			{"api_keys", []string{"id", "org_id", "service_account_id", "prefix", "hash", "created_at"}, t.apiKeys},
			{"identities", []string{"connection_id", "issuer", "subject", "user_id", "org_id", "email", "created_at", "last_login_at"}, t.identities},
			{"org_members", []string{"org_id", "principal_id", "principal_type", "role", "created_at", "version"}, t.orgMembers},
			{"workspace_members", []string{"workspace_id", "org_id", "principal_id", "role", "can_invite", "can_make_public", "created_at"}, t.wsMembers},
		} {
			if err := bulkInsert(ctx, q, tb.name, tb.cols, tb.rows); err != nil {
				return fmt.Errorf("seed %s: %w", tb.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return SeedResult{}, err
	}
	// Fresh statistics, as autovacuum (PostgreSQL) or the optimizer's own
	// sampling (SQLite) would have after a while.
	if _, err := s.db.exec(ctx, `ANALYZE`); err != nil {
		return SeedResult{}, fmt.Errorf("seed: analyze: %w", err)
	}
	return res, nil
}

type seedTables struct {
	orgs, workspaces, users, connections, identities, orgMembers, wsMembers [][]any
	serviceAccounts, apiKeys                                                [][]any
}

func (t *seedTables) user(id, email string, now int64) {
	t.users = append(t.users, []any{id, email, strings.ToLower(email), true, email[:strings.IndexByte(email, '@')], now})
}

// member makes uid a member of o with role and a member of its default workspace.
func (t *seedTables) member(o SeedOrg, uid string, role access.OrgRole, now int64) {
	t.orgMembers = append(t.orgMembers, []any{o.ID, uid, string(PrincipalUser), string(role), now, int64(1)})
	t.wsMembers = append(t.wsMembers, []any{o.Workspaces[0], o.ID, uid, string(access.WorkspaceMember), false, false, now})
}

// bulkInsert writes rows into table: COPY on PostgreSQL, inserts of up to
// 500 rows (under SQLite's 32,766 parameters) on SQLite.
func bulkInsert(ctx context.Context, q querier, table string, cols []string, rows [][]any) error {
	if pq, ok := q.(pgQuerier); ok {
		tx, ok := pq.q.(pgx.Tx)
		if !ok {
			return errors.New("bulk insert outside a transaction")
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		return pgErr(err)
	}
	const batch = 500
	for start := 0; start < len(rows); start += batch {
		part := rows[start:min(start+batch, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(part)*len(cols))
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := range r {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", len(args)+j+1)
			}
			b.WriteByte(')')
			args = append(args, r...)
		}
		if _, err := q.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

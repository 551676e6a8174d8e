package directory_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestSeedTenants proves the bulk seeding that the scale benchmarks start
// from (bench/seed): the population it reports is what the Store methods
// read back, and a bad or colliding seeding writes nothing.
func TestSeedTenants(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			prefix := "s" + tok()
			res := must[directory.SeedResult](t)(s.SeedTenants(bg, directory.SeedSpec{Orgs: 30, ManyOrgUserOrgs: 20, Prefix: prefix}))
			if len(res.Orgs) != 30 || res.ManyOrgUser == "" {
				t.Fatalf("seeded %d orgs, many-org user %q", len(res.Orgs), res.ManyOrgUser)
			}
			o := res.Orgs[3]
			members, _, err := s.ListMembers(bg, o.ID, directory.Page{Limit: 100})
			noErr(t, err)
			if len(members) != 12 {
				t.Errorf("org 3 (inside the many-org user's 20) has %d members, want 10 users, a service account and the many-org user", len(members))
			}
			admin := must[directory.Member](t)(s.GetMember(bg, o.ID, o.Users[0]))
			if admin.Role != access.RoleAdmin {
				t.Errorf("the first user is %s, want admin", admin.Role)
			}
			if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 1 {
				t.Errorf("%d admins, want 1", n)
			}
			last := res.Orgs[29]
			if members, _, err := s.ListMembers(bg, last.ID, directory.Page{Limit: 100}); err != nil || len(members) != 11 {
				t.Errorf("org 29 (outside the many-org user's) has %d members (%v), want 10 users and a service account", len(members), err)
			}
			ws, _, err := s.ListWorkspaces(bg, o.ID, directory.WorkspaceFilter{})
			noErr(t, err)
			if len(ws) != 5 {
				t.Errorf("%d workspaces, want 5", len(ws))
			}
			org := must[directory.Organization](t)(s.GetOrg(bg, o.ID))
			if org.Settings.DefaultWorkspace != o.Workspaces[0] || org.Name != o.Name {
				t.Errorf("org read back as %+v, seeded %+v", org, o)
			}
			if orgs := must[[]directory.Member](t)(s.ListPrincipalOrgs(bg, res.ManyOrgUser)); len(orgs) != 20 {
				t.Errorf("the many-org user is in %d orgs, want 20", len(orgs))
			}
			pa := must[directory.PrincipalAccess](t)(s.PrincipalAccess(bg, res.Orgs[19].ID, res.ManyOrgUser))
			if pa.Member.Role != access.RolePlatformMember || len(pa.Workspaces) != 1 || pa.Workspaces[0].WorkspaceID != res.Orgs[19].Workspaces[0] {
				t.Errorf("the many-org user's access in org 19: %+v", pa)
			}
			out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, directory.LoginIdentity{OrgID: o.ID, ConnectionID: o.ConnectionID,
				Issuer: o.Issuer, Subject: directory.SeedSubject(4), Email: fmt.Sprintf("u4@org3.%s.example", prefix), EmailVerified: true, Name: "u4"}))
			if out.Status != directory.LoginMember || out.NewUser || out.User.ID != o.Users[4] {
				t.Errorf("a seeded user's sign-in: %+v, want the existing member %s", out, o.Users[4])
			}

			_, err = s.SeedTenants(bg, directory.SeedSpec{Orgs: 0})
			if !errors.Is(err, directory.ErrInvalid) {
				t.Errorf("seeding no org: %v, want ErrInvalid", err)
			}
			before := countOrgs(t, s)
			_, err = s.SeedTenants(bg, directory.SeedSpec{Orgs: 2, Prefix: prefix})
			if !errors.Is(err, directory.ErrConflict) && (err == nil || !strings.Contains(err.Error(), "unique")) {
				t.Errorf("seeding the same prefix again: %v, want a unique violation", err)
			}
			if after := countOrgs(t, s); after != before {
				t.Errorf("a failed seeding left %d orgs behind", after-before)
			}
		})
	}
}

func countOrgs(t *testing.T, s directory.Store) int {
	t.Helper()
	n, after := 0, ""
	for {
		page, next := mustPage(t, s, after)
		n += page
		if next == "" {
			return n
		}
		after = next
	}
}

func mustPage(t *testing.T, s directory.Store, after string) (int, string) {
	t.Helper()
	orgs, next, err := s.ListOrgs(bg, directory.Page{After: after, Limit: 500})
	noErr(t, err)
	return len(orgs), next
}

// scaleTables are the tables that grow with the number of tenants: a
// statement on the hot paths must reach them through an index, never by
// reading them whole (docs/bench/README.md, "Tenant scale").
var scaleTables = []string{"orgs", "workspaces", "users", "org_members", "workspace_members", "identities",
	"connections", "service_accounts", "api_keys", "audit_log", "invitations", "join_requests", "domains"}

// TestTenantScalePlans is the regression check of tenant scale that runs in
// go test ./...: on a directory of 1,000 seeded orgs (10,000 users, 5,000
// workspaces, a user in 100 orgs) it records every statement of the
// operations the scale benchmark times (admin API, sign-in, token, Opik
// auth, org switch) and asks each engine for its plan. No statement may read
// a tenant table whole: that is what would make the cost grow with the
// number of orgs. It asserts plans, not time (docs/testing.md).
func TestTenantScalePlans(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			res := must[directory.SeedResult](t)(s.SeedTenants(bg, directory.SeedSpec{Orgs: 1000, ManyOrgUserOrgs: 100, Prefix: "p" + tok()}))
			o := res.Orgs[500]
			sa := newServiceAccount(t, s, o.ID, access.RoleAdmin)
			_, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
			noErr(t, err)
			doomed := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
			must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, o.Workspaces[1], doomed.ID, access.Membership{Role: access.WorkspaceMember}))

			v, rec, release := directory.RecordingView(s)
			defer release()
			ops := []struct {
				name string
				run  func() error
			}{
				{"admin: list members", func() error { _, _, err := v.ListMembers(bg, o.ID, directory.Page{}); return err }},
				{"admin: list workspaces", func() error { _, _, err := v.ListWorkspaces(bg, o.ID, directory.WorkspaceFilter{}); return err }},
				{"admin: list a member's workspaces", func() error {
					_, _, err := v.ListWorkspaces(bg, o.ID, directory.WorkspaceFilter{MemberOf: o.Users[1]})
					return err
				}},
				{"admin: get a workspace", func() error { _, err := v.GetWorkspace(bg, o.ID, o.Workspaces[2]); return err }},
				{"admin: change a role", func() error {
					_, err := v.SetMemberRole(bg, "usr_admin", o.ID, o.Users[2], access.RoleViewOnly, 0)
					return err
				}},
				{"admin: count admins", func() error { _, err := v.CountAdmins(bg, o.ID); return err }},
				{"admin: remove a member", func() error { return v.RemoveMember(bg, "usr_admin", o.ID, o.Users[9]) }},
				{"admin: delete a service account", func() error { return v.DeleteServiceAccount(bg, "usr_admin", o.ID, doomed.ID) }},
				{"sign-in: provision an existing member", func() error {
					_, err := v.ProvisionLogin(bg, directory.LoginIdentity{OrgID: o.ID, ConnectionID: o.ConnectionID, Issuer: o.Issuer,
						Subject: directory.SeedSubject(3), Email: fmt.Sprintf("u3@org500.%s.example", o.Name[:strings.IndexByte(o.Name, ' ')]), EmailVerified: true, Name: "u3"})
					return err
				}},
				{"sign-in: session standing", func() error { _, err := v.SessionStanding(bg, o.ID, o.Users[3], o.ConnectionID); return err }},
				{"token: API key", func() error { _, err := v.LookupAPIKey(bg, secret); return err }},
				{"token: principal access", func() error { _, err := v.PrincipalAccess(bg, o.ID, sa.ID); return err }},
				{"opik: workspace by name", func() error {
					w, err := v.GetWorkspace(bg, o.ID, o.Workspaces[1])
					if err == nil {
						_, err = v.FindWorkspace(bg, w.Name)
					}
					return err
				}},
				{"opik: principal workspaces", func() error { _, err := v.PrincipalWorkspaces(bg, o.ID, o.Users[1]); return err }},
				{"org switch: the many-org user's orgs", func() error { _, err := v.ListPrincipalOrgs(bg, res.ManyOrgUser); return err }},
				{"org switch: access in the target org", func() error { _, err := v.PrincipalAccess(bg, res.Orgs[77].ID, res.ManyOrgUser); return err }},
			}
			checked := 0
			for _, op := range ops {
				if err := op.run(); err != nil {
					t.Fatalf("%s: %v", op.name, err)
				}
				for _, q := range rec.Take() {
					plan, err := directory.ExplainQuery(bg, s, q)
					if err != nil {
						t.Fatalf("%s: %v", op.name, err)
					}
					checked++
					for _, n := range plan {
						if n.Whole && slices.Contains(scaleTables, n.Table) {
							t.Errorf("%s reads the tenant table %s whole (%s):\n  %s\n  plan: %v", op.name, n.Table, n.Detail, q.SQL, plan)
						}
					}
				}
			}
			if checked < len(ops) {
				t.Fatalf("only %d statements recorded for %d operations", checked, len(ops))
			}
			t.Logf("%d statements of %d operations use indexes on every tenant table", checked, len(ops))
		})
	}
}

package access_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
)

// Everything expected below is transcribed by hand from the product's
// permission table (docs/permissions.md generates its tables from the code;
// these are not generated): role and permission names are string
// literals, never the package's constants, so a typo or a wrong group in
// access.go cannot make its own test pass.

// Marks of the workspace table: ✓ always, I only with can_invite, P only with
// can_make_public, – never.
const (
	always       = "✓"
	withInvite   = "I"
	withMakePub  = "P"
	never        = "–"
	adminCol     = 0 // admin (any ws, member or not)
	platformMbr  = 1 // platform member: member
	platformOwn  = 2 // platform: owner
	viewOnlyMbr  = 3 // view-only platform: member
	viewOnlyOwn  = 4 // view-only: owner
	opikMbr      = 5 // opik member: member
	opikOwn      = 6 // opik: owner
	nonMemberCol = 7 // any non-admin, not a member
)

// workspaceTable is the product's "Workspace-scoped permissions" table
// (docs/permissions.md), row for row, column for column.
var workspaceTable = []struct {
	perm  string
	marks [8]string
}{
	//                        admin  pm:m   pm:o   vo:m   vo:o   op:m   op:o   non-member
	{"workspace.read", [8]string{"✓", "✓", "✓", "✓", "✓", "✓", "✓", "–"}},
	{"workspace.write", [8]string{"✓", "✓", "✓", "–", "–", "✓", "✓", "–"}},
	{"experiments.read", [8]string{"✓", "✓", "✓", "✓", "✓", "–", "–", "–"}},
	{"experiments.write", [8]string{"✓", "✓", "✓", "–", "–", "–", "–", "–"}},
	{"registry.propose", [8]string{"✓", "✓", "✓", "✓", "✓", "–", "–", "–"}},
	{"registry.approve", [8]string{"✓", "–", "✓", "–", "✓", "–", "–", "–"}},
	{"registry.webhooks", [8]string{"✓", "–", "✓", "–", "✓", "–", "–", "–"}},
	{"artifacts.manage", [8]string{"✓", "✓", "✓", "✓", "✓", "–", "–", "–"}},
	{"monitoring.manage", [8]string{"✓", "✓", "✓", "✓", "✓", "–", "–", "–"}},
	{"project.make_public", [8]string{"✓", "P", "✓", "P", "✓", "P", "✓", "–"}},
	{"workspace.invite", [8]string{"✓", "I", "✓", "I", "✓", "I", "✓", "–"}},
	{"workspace.configure", [8]string{"✓", "–", "✓", "–", "✓", "–", "✓", "–"}},
}

// orgTable is the "Org-scoped permissions" table: "✓", "–", or "U" for
// "✓ unless only_admins_can_invite".
const unlessOnlyAdmins = "U"

var orgTable = []struct {
	perm  string
	marks map[string]string
}{
	{"org.create_workspace", map[string]string{
		"admin": "✓", "platform_member": "✓", "view_only_platform_member": "✓", "opik_member": "✓"}},
	{"org.invite", map[string]string{
		"admin": "✓", "platform_member": "U", "view_only_platform_member": "U", "opik_member": "U"}},
	{"org.admin", map[string]string{
		"admin": "✓", "platform_member": "–", "view_only_platform_member": "–", "opik_member": "–"}},
}

// allNames are the fifteen permission names of the API in the order of the
// two tables: workspace-scoped first, then org-scoped.
var allNames = []string{
	"workspace.read", "workspace.write", "experiments.read", "experiments.write",
	"registry.propose", "registry.approve", "registry.webhooks", "artifacts.manage",
	"monitoring.manage", "project.make_public", "workspace.invite", "workspace.configure",
	"org.create_workspace", "org.invite", "org.admin",
}

var (
	orgRoleNames  = []string{"admin", "platform_member", "view_only_platform_member", "opik_member"}
	workspaceOnly = allNames[:12]
	orgOnly       = allNames[12:]
)

// situation is one workspace situation of a principal: its org role, and its
// membership of the workspace (nil: not a member) with the table column that
// applies.
type situation struct {
	role   string
	label  string
	m      *access.Membership
	column int
}

// flagCombos are the four settings of can_invite and can_make_public.
var flagCombos = []struct{ invite, makePublic bool }{
	{false, false}, {true, false}, {false, true}, {true, true},
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// situations enumerates every column of the workspace table: for admins
// non-member, member and owner; for every non-admin role member, owner and not
// a member; memberships with every combination of the two flags.
func situations() []situation {
	columns := map[string][3]int{ // role → member column, owner column, non-member column
		"admin":                     {adminCol, adminCol, adminCol},
		"platform_member":           {platformMbr, platformOwn, nonMemberCol},
		"view_only_platform_member": {viewOnlyMbr, viewOnlyOwn, nonMemberCol},
		"opik_member":               {opikMbr, opikOwn, nonMemberCol},
	}
	var out []situation
	for _, role := range orgRoleNames {
		cols := columns[role]
		out = append(out, situation{role: role, label: "not a member", column: cols[2]})
		for i, wsRole := range []string{"member", "owner"} {
			for _, f := range flagCombos {
				out = append(out, situation{
					role:   role,
					label:  fmt.Sprintf("%s can_invite=%s can_make_public=%s", wsRole, onOff(f.invite), onOff(f.makePublic)),
					m:      &access.Membership{Role: access.WorkspaceRole(wsRole), CanInvite: f.invite, CanMakePublic: f.makePublic},
					column: cols[i],
				})
			}
		}
	}
	return out
}

// expectation turns a mark into whether the permission is granted in that
// membership, and a rule-like sentence for the subtest name.
func expectation(perm, mark string, m *access.Membership) (bool, string) {
	switch mark {
	case always:
		return true, perm + " is always granted"
	case never:
		return false, perm + " is never granted"
	case withInvite:
		if m.CanInvite {
			return true, perm + " is granted by can_invite"
		}
		return false, perm + " is not granted without can_invite"
	case withMakePub:
		if m.CanMakePublic {
			return true, perm + " is granted by can_make_public"
		}
		return false, perm + " is not granted without can_make_public"
	}
	panic("unknown mark " + mark)
}

// permission resolves a transcribed name; the round trip of names is proven
// separately in TestPermissionNamesRoundTrip.
func permission(t *testing.T, name string) access.Permission {
	t.Helper()
	p, ok := access.ParsePermission(name)
	if !ok {
		t.Fatalf("ParsePermission(%q) found no permission", name)
	}
	return p
}

// assertGranted checks presence both through Has and through Names, so that
// the bit layout and the names agree on every cell.
func assertGranted(t *testing.T, what string, s access.Set, name string, want bool) {
	t.Helper()
	p := permission(t, name)
	if got := s.Has(p); got != want {
		t.Errorf("%s: Has(%s) = %v, want %v (set: %s)", what, name, got, want, s)
	}
	if got := slices.Contains(s.Names(), name); got != want {
		t.Errorf("%s: Names() contains %s = %v, want %v (set: %s)", what, name, got, want, s)
	}
}

func TestWorkspacePermissionTable(t *testing.T) {
	for _, sit := range situations() {
		t.Run(sit.role+"/"+sit.label, func(t *testing.T) {
			role := access.OrgRole(sit.role)
			for _, row := range workspaceTable {
				want, rule := expectation(row.perm, row.marks[sit.column], sit.m)
				t.Run(rule, func(t *testing.T) {
					assertGranted(t, "WorkspacePermissions", access.WorkspacePermissions(role, sit.m), row.perm, want)
					for _, only := range []bool{false, true} {
						s := access.Effective(role, sit.m, access.Settings{OnlyAdminsCanInvite: only})
						assertGranted(t, fmt.Sprintf("Effective(only_admins_can_invite=%v)", only), s, row.perm, want)
					}
				})
			}
		})
	}
}

func TestOrgPermissionTable(t *testing.T) {
	for _, role := range orgRoleNames {
		for _, only := range []bool{false, true} {
			settings := access.Settings{OnlyAdminsCanInvite: only}
			t.Run(fmt.Sprintf("%s/only_admins_can_invite=%v", role, only), func(t *testing.T) {
				for _, row := range orgTable {
					var want bool
					var rule string
					switch row.marks[role] {
					case always:
						want, rule = true, row.perm+" is always granted"
					case never:
						want, rule = false, row.perm+" is never granted"
					case unlessOnlyAdmins:
						if only {
							want, rule = false, row.perm+" is withheld when only admins can invite"
						} else {
							want, rule = true, row.perm+" is granted while anyone can invite"
						}
					default:
						t.Fatalf("no mark for %s/%s", role, row.perm)
					}
					t.Run(rule, func(t *testing.T) {
						assertGranted(t, "OrgPermissions", access.OrgPermissions(access.OrgRole(role), settings), row.perm, want)
						// Org permissions do not depend on any workspace membership.
						for _, m := range []*access.Membership{nil, {Role: "member"}, {Role: "owner", CanInvite: true, CanMakePublic: true}} {
							assertGranted(t, fmt.Sprintf("Effective(%v)", m), access.Effective(access.OrgRole(role), m, settings), row.perm, want)
						}
					})
				}
			})
		}
	}
}

// every enumerates all combinations of org role (valid and not), membership
// (none, each workspace role valid or not, each flag) and settings.
func every(f func(role access.OrgRole, m *access.Membership, s access.Settings)) {
	roles := []string{"admin", "platform_member", "view_only_platform_member", "opik_member",
		"", "Admin", "superadmin", "platform member", "owner"}
	wsRoles := []string{"member", "owner", "", "Owner", "admin", "viewer"}
	for _, r := range roles {
		for _, only := range []bool{false, true} {
			s := access.Settings{OnlyAdminsCanInvite: only}
			f(access.OrgRole(r), nil, s)
			for _, w := range wsRoles {
				for _, fl := range flagCombos {
					f(access.OrgRole(r), &access.Membership{Role: access.WorkspaceRole(w), CanInvite: fl.invite, CanMakePublic: fl.makePublic}, s)
				}
			}
		}
	}
}

func describe(role access.OrgRole, m *access.Membership, s access.Settings) string {
	if m == nil {
		return fmt.Sprintf("role=%q no membership %+v", role, s)
	}
	return fmt.Sprintf("role=%q membership=%+v %+v", role, *m, s)
}

func hasAny(s access.Set, names []string) []string {
	var found []string
	for _, n := range s.Names() {
		if slices.Contains(names, n) {
			found = append(found, n)
		}
	}
	return found
}

func TestPermissionProperties(t *testing.T) {
	t.Run("view_only_platform_member never has workspace.write or experiments.write", func(t *testing.T) {
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			if role != "view_only_platform_member" {
				return
			}
			if got := hasAny(access.Effective(role, m, s), []string{"workspace.write", "experiments.write"}); len(got) > 0 {
				t.Errorf("%s: has %v", describe(role, m, s), got)
			}
		})
	})
	t.Run("opik_member never has experiment-management, registry, artifacts or monitoring permissions, even as owner", func(t *testing.T) {
		banned := []string{"experiments.read", "experiments.write", "registry.propose", "registry.approve",
			"registry.webhooks", "artifacts.manage", "monitoring.manage"}
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			if role != "opik_member" {
				return
			}
			if got := hasAny(access.Effective(role, m, s), banned); len(got) > 0 {
				t.Errorf("%s: has %v", describe(role, m, s), got)
			}
		})
	})
	t.Run("a non-admin who is not a member has no workspace permission", func(t *testing.T) {
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			if role == "admin" || m != nil {
				return
			}
			if got := hasAny(access.Effective(role, m, s), workspaceOnly); len(got) > 0 {
				t.Errorf("%s: has %v", describe(role, m, s), got)
			}
			if ws := access.WorkspacePermissions(role, m); ws != 0 {
				t.Errorf("%s: WorkspacePermissions = %s, want none", describe(role, m, s), ws)
			}
		})
	})
	t.Run("an unknown or empty org role gets nothing at all", func(t *testing.T) {
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			if slices.Contains(orgRoleNames, string(role)) {
				return
			}
			if role.Valid() {
				t.Errorf("OrgRole(%q).Valid() = true", role)
			}
			if e := access.Effective(role, m, s); e != 0 {
				t.Errorf("%s: Effective = %s, want nothing", describe(role, m, s), e)
			}
		})
	})
	t.Run("a non-admin with an invalid workspace role gets no workspace permission", func(t *testing.T) {
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			if role == "admin" || m == nil || m.Role == "owner" || m.Role == "member" {
				return
			}
			if m.Role.Valid() {
				t.Errorf("WorkspaceRole(%q).Valid() = true", m.Role)
			}
			if got := hasAny(access.Effective(role, m, s), workspaceOnly); len(got) > 0 {
				t.Errorf("%s: has %v", describe(role, m, s), got)
			}
		})
	})
	t.Run("an admin has every workspace permission whatever the membership", func(t *testing.T) {
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			if role != "admin" {
				return
			}
			if got := access.WorkspacePermissions(role, m).Names(); !slices.Equal(got, workspaceOnly) {
				t.Errorf("%s: WorkspacePermissions = %v, want %v", describe(role, m, s), got, workspaceOnly)
			}
		})
	})
	t.Run("workspace permissions never include org permissions and org permissions never include workspace ones", func(t *testing.T) {
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			ws, org := access.WorkspacePermissions(role, m), access.OrgPermissions(role, s)
			if got := hasAny(ws, orgOnly); len(got) > 0 {
				t.Errorf("%s: WorkspacePermissions has %v", describe(role, m, s), got)
			}
			if got := hasAny(org, workspaceOnly); len(got) > 0 {
				t.Errorf("%s: OrgPermissions has %v", describe(role, m, s), got)
			}
			if e := access.Effective(role, m, s); e != ws|org {
				t.Errorf("%s: Effective = %s, want WorkspacePermissions ∪ OrgPermissions = %s", describe(role, m, s), e, ws|org)
			}
		})
	})
	t.Run("flags never take away a permission and only add workspace.invite or project.make_public", func(t *testing.T) {
		every(func(role access.OrgRole, m *access.Membership, s access.Settings) {
			if m == nil {
				return
			}
			plain := access.Effective(role, &access.Membership{Role: m.Role}, s)
			got := access.Effective(role, m, s)
			if got&plain != plain {
				t.Errorf("%s: flags removed %s", describe(role, m, s), plain&^got)
			}
			for _, n := range (got &^ plain).Names() {
				if !(n == "workspace.invite" && m.CanInvite) && !(n == "project.make_public" && m.CanMakePublic) {
					t.Errorf("%s: flags added %s", describe(role, m, s), n)
				}
			}
		})
	})
}

func TestPermissionNamesRoundTrip(t *testing.T) {
	seen := map[access.Permission]string{}
	for _, name := range allNames {
		t.Run(name+" parses and prints back to itself", func(t *testing.T) {
			p, ok := access.ParsePermission(name)
			if !ok {
				t.Fatalf("ParsePermission(%q) found nothing", name)
			}
			if p == 0 || p&(p-1) != 0 {
				t.Fatalf("ParsePermission(%q) = %#x, want a single bit", name, uint32(p))
			}
			if other, dup := seen[p]; dup {
				t.Fatalf("%q and %q parse to the same permission", name, other)
			}
			seen[p] = name
			if got := p.String(); got != name {
				t.Errorf("String() = %q, want %q", got, name)
			}
			if got := access.Set(p).Names(); !slices.Equal(got, []string{name}) {
				t.Errorf("Set(p).Names() = %v, want [%s]", got, name)
			}
		})
	}
	t.Run("AllPermissions lists the fifteen permissions in table order", func(t *testing.T) {
		var got []string
		for _, p := range access.AllPermissions() {
			got = append(got, p.String())
		}
		if !slices.Equal(got, allNames) {
			t.Errorf("AllPermissions = %v, want %v", got, allNames)
		}
	})
	for _, bad := range []string{"", "workspace", "Workspace.Read", "workspace.read ", "org.*", "invalid"} {
		t.Run(fmt.Sprintf("%q is not a permission", bad), func(t *testing.T) {
			if p, ok := access.ParsePermission(bad); ok || p != 0 {
				t.Errorf("ParsePermission(%q) = %v, %v; want 0, false", bad, p, ok)
			}
		})
	}
	for _, bad := range []access.Permission{0, 3, 1 << 15, 1 << 31} {
		t.Run(fmt.Sprintf("%#x prints as invalid", uint32(bad)), func(t *testing.T) {
			if got := bad.String(); got != "invalid" {
				t.Errorf("String() = %q, want invalid", got)
			}
		})
	}
}

func TestSetNames(t *testing.T) {
	t.Run("the empty set has no names", func(t *testing.T) {
		var s access.Set
		if got := s.Names(); len(got) != 0 {
			t.Errorf("Names() = %v, want none", got)
		}
		if got := s.String(); got != "" {
			t.Errorf("String() = %q, want empty", got)
		}
	})
	t.Run("names come in table order whatever order the set was built in", func(t *testing.T) {
		var s access.Set
		for i := len(allNames) - 1; i >= 0; i-- {
			s |= access.Set(permission(t, allNames[i]))
		}
		if got := s.Names(); !slices.Equal(got, allNames) {
			t.Errorf("Names() = %v, want %v", got, allNames)
		}
	})
	t.Run("a partial set keeps table order and String joins with commas", func(t *testing.T) {
		s := access.Set(permission(t, "org.admin")) | access.Set(permission(t, "workspace.invite")) |
			access.Set(permission(t, "workspace.read"))
		want := []string{"workspace.read", "workspace.invite", "org.admin"}
		if got := s.Names(); !slices.Equal(got, want) {
			t.Errorf("Names() = %v, want %v", got, want)
		}
		if got := s.String(); got != "workspace.read,workspace.invite,org.admin" {
			t.Errorf("String() = %q", got)
		}
	})
	t.Run("Has of several permissions needs all of them", func(t *testing.T) {
		read, write := permission(t, "workspace.read"), permission(t, "workspace.write")
		if access.Set(read).Has(read | write) {
			t.Error("a set with only workspace.read claims workspace.read|workspace.write")
		}
		if !access.Set(read | write).Has(read | write) {
			t.Error("a set with both does not have both")
		}
	})
}

func TestOrgRoles(t *testing.T) {
	t.Run("OrgRoles lists exactly the four roles of the API, each valid", func(t *testing.T) {
		var got []string
		for _, r := range access.OrgRoles() {
			if !r.Valid() {
				t.Errorf("%q is listed but not Valid", r)
			}
			got = append(got, string(r))
		}
		slices.Sort(got)
		want := slices.Clone(orgRoleNames)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("OrgRoles = %v, want %v", got, want)
		}
	})
}

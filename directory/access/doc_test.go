package access_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
)

// docs/permissions.md's tables are rendered from Effective by this test; the
// text around them is written by hand and kept as it is. Regenerate with
//
//	go test ./directory/access -run TestPermissionsDoc -update
var update = flag.Bool("update", false, "rewrite the generated part of docs/permissions.md")

const (
	permissionsDoc = "../../docs/permissions.md"
	beginGenerated = "<!-- BEGIN GENERATED: go test ./directory/access -run TestPermissionsDoc -update; do not edit by hand -->"
	endGenerated   = "<!-- END GENERATED -->"
)

// permissionMeaning says what each permission lets a principal do; a new
// permission fails the test until it has a line here.
var permissionMeaning = map[string]string{
	"workspace.read":       "see the workspace and what is in it",
	"workspace.write":      "log data (traces, spans, datasets…) through the SDK or API",
	"experiments.read":     "see the experiment-management part",
	"experiments.write":    "log experiment data through the SDK or API",
	"registry.propose":     "propose model status changes",
	"registry.approve":     "approve status changes, delete models and versions",
	"registry.webhooks":    "manage model-registry webhooks",
	"artifacts.manage":     "manage artifacts",
	"monitoring.manage":    "manage model production monitoring",
	"project.make_public":  "make a project public",
	"workspace.invite":     "add existing org members to the workspace",
	"workspace.configure":  "workspace settings (AI providers, feedback definitions), Opik's unredacted data, owners and flags",
	"org.create_workspace": "create a workspace (its creator becomes its owner)",
	"org.invite":           "invite new users into the org",
	"org.admin":            "org settings, billing, org roles, removal, service accounts, connections, domains, JWT issuers, join requests, audit",
}

// mark says when a permission is held, from the eight combinations of the
// org setting only_admins_can_invite and the two membership flags:
// ✓ always, – never, I only with can_invite, P only with can_make_public,
// "✓ unless only_admins_can_invite", or an explicit list of the
// combinations for any other shape.
func mark(held func(onlyAdmins, canInvite, canMakePublic bool) bool) string {
	type combo struct{ oa, inv, pub bool }
	var all []combo
	for _, oa := range []bool{false, true} {
		for _, inv := range []bool{false, true} {
			for _, pub := range []bool{false, true} {
				all = append(all, combo{oa, inv, pub})
			}
		}
	}
	matches := func(f func(c combo) bool) bool {
		for _, c := range all {
			if held(c.oa, c.inv, c.pub) != f(c) {
				return false
			}
		}
		return true
	}
	switch {
	case matches(func(combo) bool { return true }):
		return "✓"
	case matches(func(combo) bool { return false }):
		return "–"
	case matches(func(c combo) bool { return c.inv }):
		return "I"
	case matches(func(c combo) bool { return c.pub }):
		return "P"
	case matches(func(c combo) bool { return !c.oa }):
		return "✓ unless `only_admins_can_invite`"
	}
	var when []string
	for _, c := range all {
		if held(c.oa, c.inv, c.pub) {
			when = append(when, fmt.Sprintf("oaci=%t,inv=%t,pub=%t", c.oa, c.inv, c.pub))
		}
	}
	return "only with " + strings.Join(when, " / ")
}

// column is one column of the workspace table: an org role with a workspace
// membership (nil: not a member).
type column struct {
	header string
	role   access.OrgRole
	ws     *access.WorkspaceRole
}

// cell renders permission p for a column.
func (c column) cell(p access.Permission) string {
	return mark(func(oa, inv, pub bool) bool {
		var m *access.Membership
		if c.ws != nil {
			m = &access.Membership{Role: *c.ws, CanInvite: inv, CanMakePublic: pub}
		}
		return access.Effective(c.role, m, access.Settings{OnlyAdminsCanInvite: oa}).Has(p)
	})
}

func roleWords(r access.OrgRole) string { return "`" + string(r) + "`" }

func orgScoped(p access.Permission) bool { return strings.HasPrefix(p.String(), "org.") }

// workspaceColumns lists every role × (not a member, member, owner), then
// merges columns that are equal in every row: an admin's three, and the
// non-members of every other role.
func workspaceColumns(perms []access.Permission) []column {
	member, owner := access.WorkspaceMember, access.WorkspaceOwner
	same := func(cols []column) bool {
		for _, p := range perms {
			for _, c := range cols[1:] {
				if c.cell(p) != cols[0].cell(p) {
					return false
				}
			}
		}
		return true
	}
	var out, nonMembers []column
	for _, r := range access.OrgRoles() {
		trio := []column{
			{roleWords(r) + ": not a member", r, nil},
			{roleWords(r) + ": member", r, &member},
			{roleWords(r) + ": owner", r, &owner},
		}
		switch {
		case r == access.RoleAdmin && same(trio):
			out = append(out, column{"admin (any workspace of the org, member or not)", r, nil})
		case r == access.RoleAdmin:
			out = append(out, trio...)
		default:
			nonMembers = append(nonMembers, trio[0])
			out = append(out, trio[1:]...)
		}
	}
	if same(nonMembers) {
		nonMembers[0].header = "any other role, not a member"
		return append(out, nonMembers[0])
	}
	return append(out, nonMembers...)
}

// renderPermissionTables renders the generated part of docs/permissions.md.
func renderPermissionTables(t *testing.T) string {
	var ws, org []access.Permission
	for _, p := range access.AllPermissions() {
		if permissionMeaning[p.String()] == "" {
			t.Errorf("permission %s has no line in permissionMeaning", p)
		}
		if orgScoped(p) {
			org = append(org, p)
		} else {
			ws = append(ws, p)
		}
	}
	var b strings.Builder
	row := func(cells ...string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | ")) }
	rule := func(n int) { row(slices.Repeat([]string{"---"}, n)...) }

	b.WriteString("### Workspace-scoped permissions\n\n")
	b.WriteString("In one workspace. ✓ always · I only with `can_invite` · P only with `can_make_public` · – never. ")
	b.WriteString("Each cell was computed with `only_admins_can_invite` off and on and with each flag off and on.\n\n")
	cols := workspaceColumns(ws)
	headers := []string{"permission"}
	for _, c := range cols {
		headers = append(headers, c.header)
	}
	row(headers...)
	rule(len(headers))
	for _, p := range ws {
		cells := []string{fmt.Sprintf("`%s`: %s", p, permissionMeaning[p.String()])}
		for _, c := range cols {
			cells = append(cells, c.cell(p))
		}
		row(cells...)
	}

	b.WriteString("\n### Org-scoped permissions\n\n")
	b.WriteString("Whatever the workspace membership. Each cell was computed with `only_admins_can_invite` off and on.\n\n")
	headers = []string{"permission"}
	for _, r := range access.OrgRoles() {
		headers = append(headers, roleWords(r))
	}
	row(headers...)
	rule(len(headers))
	for _, p := range org {
		cells := []string{fmt.Sprintf("`%s`: %s", p, permissionMeaning[p.String()])}
		for _, r := range access.OrgRoles() {
			cell := column{role: r}.cell(p)
			for _, ws := range []access.WorkspaceRole{access.WorkspaceMember, access.WorkspaceOwner} {
				if c := (column{role: r, ws: &ws}).cell(p); c != cell {
					t.Errorf("org-scoped %s for %s depends on the workspace membership (%q as %s, %q as none): the org table cannot show it", p, r, c, ws, cell)
				}
			}
			cells = append(cells, cell)
		}
		row(cells...)
	}
	return b.String()
}

// TestPermissionsDocMatchesCode fails when the tables in docs/permissions.md
// are not what access.Effective computes.
func TestPermissionsDocMatchesCode(t *testing.T) {
	raw, err := os.ReadFile(permissionsDoc)
	if err != nil {
		t.Fatalf("read %s: %v", permissionsDoc, err)
	}
	doc := string(raw)
	before, rest, ok1 := strings.Cut(doc, beginGenerated+"\n")
	current, after, ok2 := strings.Cut(rest, endGenerated)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers\n%s\n%s", permissionsDoc, beginGenerated, endGenerated)
	}
	want := renderPermissionTables(t)
	if current == want {
		return
	}
	if *update {
		path, _ := filepath.Abs(permissionsDoc)
		if err := os.WriteFile(permissionsDoc, []byte(before+beginGenerated+"\n"+want+endGenerated+after), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the generated tables of %s", path)
		return
	}
	got, exp := strings.Split(current, "\n"), strings.Split(want, "\n")
	for i := range max(len(got), len(exp)) {
		g, e := "", ""
		if i < len(got) {
			g = got[i]
		}
		if i < len(exp) {
			e = exp[i]
		}
		if g != e {
			t.Fatalf("docs/permissions.md differs from access.Effective at generated line %d:\n doc:  %s\n code: %s\nrun: go test ./directory/access -run TestPermissionsDoc -update", i+1, g, e)
		}
	}
}

// The renderer reads the marks right: the shapes the table uses are told
// apart, and anything else is spelled out rather than rounded to a mark.
func TestPermissionsDocMarks(t *testing.T) {
	cases := []struct {
		name string
		held func(oa, inv, pub bool) bool
		want string
	}{
		{"always", func(_, _, _ bool) bool { return true }, "✓"},
		{"never", func(_, _, _ bool) bool { return false }, "–"},
		{"with can_invite", func(_, inv, _ bool) bool { return inv }, "I"},
		{"with can_make_public", func(_, _, pub bool) bool { return pub }, "P"},
		{"unless only admins invite", func(oa, _, _ bool) bool { return !oa }, "✓ unless `only_admins_can_invite`"},
		{"any other shape", func(oa, inv, _ bool) bool { return inv && !oa }, "only with oaci=false,inv=true,pub=false / oaci=false,inv=true,pub=true"},
	}
	for _, c := range cases {
		if got := mark(c.held); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

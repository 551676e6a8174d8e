package access_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
)

// The expectations below come from decision 6 of the permission table (and
// decision 4 for workspace memberships), transcribed by hand; the workspace
// oracle recomputes permissions from the transcribed workspaceTable, never
// from the package's own functions.

// grantsByHand is decision 6: which org roles each org role may grant.
var grantsByHand = map[string][]string{
	"admin":                     {"admin", "platform_member", "view_only_platform_member", "opik_member"},
	"platform_member":           {"platform_member", "view_only_platform_member", "opik_member"},
	"view_only_platform_member": {"view_only_platform_member"},
	"opik_member":               {"opik_member"},
}

func TestMayGrantOrgRole(t *testing.T) {
	for _, onlyAdmins := range []bool{false, true} {
		s := access.Settings{OnlyAdminsCanInvite: onlyAdmins}
		for _, granter := range orgRoleNames {
			for _, grant := range orgRoleNames {
				want := slices.Contains(grantsByHand[granter], grant)
				if onlyAdmins && granter != "admin" {
					want = false // without org.invite nobody but an admin grants anything
				}
				verb := "may"
				if !want {
					verb = "may not"
				}
				t.Run(fmt.Sprintf("only_admins_can_invite=%s/%s %s grant %s", onOff(onlyAdmins), granter, verb, grant), func(t *testing.T) {
					if got := access.MayGrantOrgRole(access.OrgRole(granter), s, access.OrgRole(grant)); got != want {
						t.Errorf("MayGrantOrgRole = %v, want %v", got, want)
					}
				})
			}
		}
	}
	for _, bad := range []string{"", "Admin", "superadmin", "owner"} {
		for _, valid := range orgRoleNames {
			t.Run(fmt.Sprintf("%s may not grant unknown role %q and %q may not grant it", valid, bad, bad), func(t *testing.T) {
				if access.MayGrantOrgRole(access.OrgRole(valid), access.Settings{}, access.OrgRole(bad)) {
					t.Error("granting an unknown role allowed")
				}
				if access.MayGrantOrgRole(access.OrgRole(bad), access.Settings{}, access.OrgRole(valid)) {
					t.Error("an unknown role may grant")
				}
			})
		}
	}
}

func TestCoversIsThePartialOrderOfDecision6(t *testing.T) {
	// covers[a] lists the roles a covers, by hand.
	covers := map[string][]string{
		"admin":                     {"admin", "platform_member", "view_only_platform_member", "opik_member"},
		"platform_member":           {"platform_member", "view_only_platform_member", "opik_member"},
		"view_only_platform_member": {"view_only_platform_member"},
		"opik_member":               {"opik_member"},
	}
	for _, onlyAdmins := range []bool{false, true} {
		for _, a := range orgRoleNames {
			for _, b := range orgRoleNames {
				want := slices.Contains(covers[a], b)
				if got := access.Covers(access.OrgRole(a), access.OrgRole(b), access.Settings{OnlyAdminsCanInvite: onlyAdmins}); got != want {
					t.Errorf("only_admins_can_invite=%v: Covers(%s, %s) = %v, want %v", onlyAdmins, a, b, got, want)
				}
			}
		}
	}
	if access.Covers("", "", access.Settings{}) || access.Covers("admin", "root", access.Settings{}) {
		t.Error("an unknown role takes part in the order")
	}
}

func TestStrongerForGroupMapping(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"admin", "platform_member", "admin"},
		{"admin", "opik_member", "admin"},
		{"platform_member", "view_only_platform_member", "platform_member"},
		{"platform_member", "opik_member", "platform_member"},
		// Neither covers the other: the documented precedence picks view-only.
		{"view_only_platform_member", "opik_member", "view_only_platform_member"},
		{"opik_member", "view_only_platform_member", "view_only_platform_member"},
		{"opik_member", "opik_member", "opik_member"},
		{"", "opik_member", "opik_member"},
		{"opik_member", "bogus", "opik_member"},
		{"bogus", "", ""},
	} {
		if got := access.Stronger(access.OrgRole(tc.a), access.OrgRole(tc.b)); got != access.OrgRole(tc.want) {
			t.Errorf("Stronger(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

// oracleColumn is the column of workspaceTable for role and membership m.
func oracleColumn(role string, m *access.Membership) int {
	if role == "admin" {
		return adminCol
	}
	if m == nil {
		return nonMemberCol
	}
	cols := map[string][2]int{
		"platform_member":           {platformMbr, platformOwn},
		"view_only_platform_member": {viewOnlyMbr, viewOnlyOwn},
		"opik_member":               {opikMbr, opikOwn},
	}[role]
	if m.Role == "owner" {
		return cols[1]
	}
	return cols[0]
}

// oraclePerms lists, from the transcribed table, the workspace permissions of
// role with membership m.
func oraclePerms(role string, m *access.Membership) []string {
	var out []string
	col := oracleColumn(role, m)
	for _, row := range workspaceTable {
		if ok, _ := expectationOrNone(row.perm, row.marks[col], m); ok {
			out = append(out, row.perm)
		}
	}
	return out
}

func expectationOrNone(perm, mark string, m *access.Membership) (bool, string) {
	if m == nil && (mark == withInvite || mark == withMakePub) {
		return false, ""
	}
	return expectation(perm, mark, m)
}

// oracleMayGrant is decisions 4 and 6 spelled out over the oracle.
func oracleMayGrant(granter string, own *access.Membership, grantee string, current *access.Membership, grant access.Membership) bool {
	if granter == "admin" {
		return true
	}
	mine := oraclePerms(granter, own)
	plain := access.Membership{Role: "member"}
	need := "workspace.configure"
	if grant == plain && (current == nil || *current == plain) {
		need = "workspace.invite"
	}
	if !slices.Contains(mine, need) {
		return false
	}
	before := oraclePerms(grantee, current)
	for _, p := range oraclePerms(grantee, &grant) {
		if !slices.Contains(before, p) && !slices.Contains(mine, p) {
			return false
		}
	}
	return true
}

// shapes is every membership a grant can set, and nil (none) for own and current.
func shapes() []*access.Membership {
	out := []*access.Membership{nil}
	for _, r := range []string{"member", "owner"} {
		for _, f := range flagCombos {
			out = append(out, &access.Membership{Role: access.WorkspaceRole(r), CanInvite: f.invite, CanMakePublic: f.makePublic})
		}
	}
	return out
}

func describeM(m *access.Membership) string {
	if m == nil {
		return "none"
	}
	return fmt.Sprintf("%s(invite=%s,public=%s)", m.Role, onOff(m.CanInvite), onOff(m.CanMakePublic))
}

func TestMayGrantWorkspaceAgreesWithTheTableEverywhere(t *testing.T) {
	allowed, refused := 0, 0
	for _, granter := range orgRoleNames {
		for _, own := range shapes() {
			for _, grantee := range orgRoleNames {
				for _, current := range shapes() {
					for _, grant := range shapes()[1:] {
						want := oracleMayGrant(granter, own, grantee, current, *grant)
						got := access.MayGrantWorkspace(access.OrgRole(granter), own,
							access.WorkspaceGrant{Grantee: access.OrgRole(grantee), Current: current, Membership: *grant})
						if got != want {
							t.Errorf("%s with %s granting %s (now %s) %s: got %v, want %v",
								granter, describeM(own), grantee, describeM(current), describeM(grant), got, want)
						}
						if want {
							allowed++
						} else {
							refused++
						}
					}
				}
			}
		}
	}
	// Both outcomes occur, so the comparison above cannot pass vacuously.
	if allowed == 0 || refused == 0 {
		t.Fatalf("allowed %d, refused %d", allowed, refused)
	}
}

func TestMayGrantWorkspaceNamedCases(t *testing.T) {
	owner := &access.Membership{Role: "owner"}
	plain := access.Membership{Role: "member"}
	inviter := &access.Membership{Role: "member", CanInvite: true}
	for _, tc := range []struct {
		name    string
		granter string
		own     *access.Membership
		grant   access.WorkspaceGrant
		want    bool
	}{
		{"an admin grants anything, member or not", "admin", nil,
			access.WorkspaceGrant{Grantee: "platform_member", Membership: access.Membership{Role: "owner", CanInvite: true}}, true},
		{"a member with can_invite adds a plain member", "platform_member", inviter,
			access.WorkspaceGrant{Grantee: "platform_member", Membership: plain}, true},
		{"a member with can_invite may not set can_invite", "platform_member", inviter,
			access.WorkspaceGrant{Grantee: "platform_member", Membership: access.Membership{Role: "member", CanInvite: true}}, false},
		{"a member with can_invite may not set a flag they lack", "platform_member", inviter,
			access.WorkspaceGrant{Grantee: "platform_member", Membership: access.Membership{Role: "member", CanMakePublic: true}}, false},
		{"a member with can_invite may not demote a flagged member", "platform_member", inviter,
			access.WorkspaceGrant{Grantee: "platform_member", Current: &access.Membership{Role: "member", CanMakePublic: true}, Membership: plain}, false},
		{"a plain member adds nobody", "platform_member", &plain,
			access.WorkspaceGrant{Grantee: "opik_member", Membership: plain}, false},
		{"a non-member adds nobody", "platform_member", nil,
			access.WorkspaceGrant{Grantee: "opik_member", Membership: plain}, false},
		{"a platform owner makes anyone owner", "platform_member", owner,
			access.WorkspaceGrant{Grantee: "view_only_platform_member", Membership: access.Membership{Role: "owner"}}, true},
		{"a view-only owner adds a view-only member", "view_only_platform_member", owner,
			access.WorkspaceGrant{Grantee: "view_only_platform_member", Membership: plain}, true},
		{"a view-only owner may not add a member who logs data (opik)", "view_only_platform_member", owner,
			access.WorkspaceGrant{Grantee: "opik_member", Membership: plain}, false},
		{"a view-only owner may not add a member who logs data (platform)", "view_only_platform_member", owner,
			access.WorkspaceGrant{Grantee: "platform_member", Membership: plain}, false},
		{"a view-only owner may take flags off a platform member (adds nothing)", "view_only_platform_member", owner,
			access.WorkspaceGrant{Grantee: "platform_member", Current: &access.Membership{Role: "member", CanInvite: true}, Membership: plain}, true},
		{"an opik owner may not add a view-only member (experiment management)", "opik_member", owner,
			access.WorkspaceGrant{Grantee: "view_only_platform_member", Membership: plain}, false},
		{"an opik owner makes an opik member owner", "opik_member", owner,
			access.WorkspaceGrant{Grantee: "opik_member", Membership: access.Membership{Role: "owner"}}, true},
		{"an unknown grantee role is refused", "platform_member", owner,
			access.WorkspaceGrant{Grantee: "root", Membership: plain}, false},
		{"an unknown workspace role is refused", "admin", nil,
			access.WorkspaceGrant{Grantee: "platform_member", Membership: access.Membership{Role: "admin"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := access.MayGrantWorkspace(access.OrgRole(tc.granter), tc.own, tc.grant); got != tc.want {
				t.Errorf("MayGrantWorkspace = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBeyondNamesWhatAGrantWouldHandOut(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want []string
	}{
		{"view_only_platform_member", "opik_member", []string{"workspace.write"}},
		{"opik_member", "view_only_platform_member", []string{"experiments.read", "registry.propose", "registry.approve",
			"registry.webhooks", "artifacts.manage", "monitoring.manage"}},
		{"platform_member", "opik_member", nil},
		{"opik_member", "platform_member", []string{"experiments.read", "experiments.write", "registry.propose", "registry.approve",
			"registry.webhooks", "artifacts.manage", "monitoring.manage"}},
		// Everything in a workspace the platform member is not a member of, and org.admin.
		{"platform_member", "admin", append(allNames[:12:12], "org.admin")},
	} {
		got := access.Beyond(access.OrgRole(tc.a), access.OrgRole(tc.b), access.Settings{}).Names()
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Beyond(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

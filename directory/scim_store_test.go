package directory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestSCIMStore proves the SCIM store methods (scim_store.go) on every
// backend; the PostgreSQL run fails, never skips, without a server.
func TestSCIMStore(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSCIMStore(t, open(t))
		})
	}
}

func sp(s string) *string { return &s }

func testSCIMStore(t *testing.T, s *directory.SQLStore) {
	noMap := directory.GroupMapping{}

	t.Run("a user SCIM deactivated is refused at sign-in, not re-admitted by JIT", func(t *testing.T) {
		t.Parallel()
		for _, mode := range []directory.JITMode{directory.JITAuto, directory.JITApproval} {
			o, _, c := provisionOrg(t, s, mode)
			email := "gone-" + tok() + "@acme.com"
			u := must[directory.SCIMUser](t)(s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: email, Active: true}, noMap))
			must[directory.SCIMUser](t)(s.ReplaceSCIMUser(bg, "scim:t", o.ID, u.ID, directory.SCIMUserInput{UserName: email, Active: false}, 0, noMap))
			out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-gone-"+tok(), email)))
			if out.Status != directory.LoginNotInvited || out.Member != nil || out.JoinRequest != nil {
				t.Fatalf("%s: sign-in of a SCIM-deactivated user: %+v", mode, out)
			}
			if _, err := s.GetMember(bg, o.ID, out.User.ID); !errors.Is(err, directory.ErrNotFound) {
				t.Fatalf("%s: the SCIM-deactivated user is a member again: %v", mode, err)
			}
		}
	})

	t.Run("tokens: shown once, found by secret, scoped, revocable", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		other, _ := newOrg(t, s)
		tk, secret, err := s.CreateSCIMToken(bg, actorSystem, o.ID, "Entra ID")
		noErr(t, err)
		if !strings.HasPrefix(secret, "scim_") || !directory.WellFormedSCIMToken(secret) || !strings.HasPrefix(secret, tk.Prefix) || len(tk.Prefix) >= len(secret) {
			t.Fatalf("token %+v secret %q", tk, secret)
		}
		got := must[directory.SCIMToken](t)(s.LookupSCIMToken(bg, secret))
		if got.ID != tk.ID || got.OrgID != o.ID {
			t.Fatalf("lookup = %+v", got)
		}
		// Another last character (one secret in 62 already ends in "x").
		last := "x"
		if strings.HasSuffix(secret, last) {
			last = "y"
		}
		_, err = s.LookupSCIMToken(bg, secret[:len(secret)-1]+last)
		wantNotFound(t, err, "")
		_, err = s.LookupSCIMToken(bg, "ssb_"+secret[5:])
		wantNotFound(t, err, "")
		wantNotFound(t, s.RevokeSCIMToken(bg, actorSystem, other.ID, tk.ID), tk.ID)
		list := must[[]directory.SCIMToken](t)(s.ListSCIMTokens(bg, o.ID))
		if len(list) != 1 || list[0].ID != tk.ID {
			t.Fatalf("list = %+v", list)
		}
		if l := must[[]directory.SCIMToken](t)(s.ListSCIMTokens(bg, other.ID)); len(l) != 0 {
			t.Fatalf("another org lists %+v", l)
		}
		noErr(t, s.RevokeSCIMToken(bg, actorSystem, o.ID, tk.ID))
		_, err = s.LookupSCIMToken(bg, secret)
		wantNotFound(t, err, "")
	})

	t.Run("users: members who signed in before are found by userName; create, conflict, deactivate, reactivate, delete", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		old := newMember(t, s, o.ID, access.RoleAdmin) // keeps an admin in the org
		list, total, err := s.ListSCIMUsers(bg, o.ID, directory.SCIMUserFilter{UserName: sp(strings.ToUpper(old.Email)), Limit: 10})
		noErr(t, err)
		if total != 1 || len(list) != 1 || list[0].ID != old.ID || !list[0].Active || list[0].Version != 1 || list[0].UserName != old.Email {
			t.Fatalf("userName eq %s = %d %+v", old.Email, total, list)
		}
		_, err = s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: old.Email, Active: true}, noMap)
		wantConflict(t, err)

		email := "new-" + tok() + "@example.com"
		u, err := s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: email, ExternalID: "ext-1", GivenName: "Ada", FamilyName: "L", Active: true}, noMap)
		noErr(t, err)
		if !u.Active || u.Version != 1 || u.ExternalID != "ext-1" {
			t.Fatalf("created %+v", u)
		}
		m := must[directory.Member](t)(s.GetMember(bg, o.ID, u.ID))
		if m.Role != o.Settings.DefaultOrgRole {
			t.Fatalf("role %s, want the default %s", m.Role, o.Settings.DefaultOrgRole)
		}
		_, err = s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: "x-" + email, ExternalID: "ext-1", Active: true}, noMap)
		wantConflict(t, err)
		byExt, _, err := s.ListSCIMUsers(bg, o.ID, directory.SCIMUserFilter{ExternalID: sp("ext-1"), Limit: 10})
		noErr(t, err)
		if len(byExt) != 1 || byExt[0].ID != u.ID {
			t.Fatalf("externalId eq = %+v", byExt)
		}
		// A userName that is not an address needs an email.
		_, err = s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: "Test_User_1", Active: true}, noMap)
		if !errors.Is(err, directory.ErrInvalid) {
			t.Fatalf("no address: %v", err)
		}
		nonAddr := must[directory.SCIMUser](t)(s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: "Test_User_" + tok(), Email: "t-" + tok() + "@example.com", Active: false}, noMap))
		if nonAddr.Active {
			t.Fatal("created inactive user is active")
		}
		if _, err := s.GetMember(bg, o.ID, nonAddr.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("an inactive user is a member: %v", err)
		}

		in := directory.SCIMUserInput{UserName: email, ExternalID: "ext-1", Active: false}
		_, err = s.ReplaceSCIMUser(bg, "scim:t", o.ID, u.ID, in, u.Version+5, noMap)
		if !errors.Is(err, directory.ErrVersionMismatch) {
			t.Fatalf("stale version: %v", err)
		}
		off := must[directory.SCIMUser](t)(s.ReplaceSCIMUser(bg, "scim:t", o.ID, u.ID, in, u.Version, noMap))
		if off.Active || off.Version != 2 || off.GivenName != "" {
			t.Fatalf("deactivated = %+v", off)
		}
		if _, err := s.GetMember(bg, o.ID, u.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("deactivated user is still a member: %v", err)
		}
		if _, err := s.SessionStanding(bg, o.ID, u.ID, directory.LinkConnection); !errors.Is(err, directory.ErrNoStanding) {
			t.Fatalf("standing of a deactivated user: %v", err)
		}
		if d := must[bool](t)(s.SCIMDeactivated(bg, o.ID, "", strings.ToLower(email))); !d {
			t.Fatal("SCIMDeactivated does not see the deactivated user by email")
		}
		in.Active = true
		on := must[directory.SCIMUser](t)(s.ReplaceSCIMUser(bg, "scim:t", o.ID, u.ID, in, 0, noMap))
		if !on.Active {
			t.Fatal("reactivation failed")
		}
		if m := must[directory.Member](t)(s.GetMember(bg, o.ID, u.ID)); m.Role != o.Settings.DefaultOrgRole {
			t.Fatalf("reactivated with %s", m.Role)
		}
		// Writing a member SCIM had not written starts at version 2.
		oldIn := directory.SCIMUserInput{UserName: old.Email, ExternalID: "ext-old", Active: true}
		w := must[directory.SCIMUser](t)(s.ReplaceSCIMUser(bg, "scim:t", o.ID, old.ID, oldIn, 1, noMap))
		if w.Version != 2 || w.ExternalID != "ext-old" {
			t.Fatalf("claimed member = %+v", w)
		}
		// The last admin cannot be deactivated.
		oldIn.Active = false
		_, err = s.ReplaceSCIMUser(bg, "scim:t", o.ID, old.ID, oldIn, 0, noMap)
		wantInvariant(t, err, directory.RuleLastAdmin)

		all, total, err := s.ListSCIMUsers(bg, o.ID, directory.SCIMUserFilter{Offset: 1, Limit: 1})
		noErr(t, err)
		if total != 3 || len(all) != 1 {
			t.Fatalf("page 2 of 1: total %d, %d items", total, len(all))
		}
		noErr(t, s.DeleteSCIMUser(bg, "scim:t", o.ID, u.ID, 0))
		_, err = s.GetSCIMUser(bg, o.ID, u.ID)
		wantNotFound(t, err, u.ID)
		if _, err := s.GetMember(bg, o.ID, u.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("deleted user is still a member: %v", err)
		}
	})

	t.Run("tenant isolation: another org's users and groups are not found", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		u := must[directory.SCIMUser](t)(s.CreateSCIMUser(bg, "scim:t", a.ID, directory.SCIMUserInput{UserName: "iso-" + tok() + "@example.com", Active: true}, noMap))
		_, err := s.GetSCIMUser(bg, b.ID, u.ID)
		wantNotFound(t, err, u.ID)
		_, err = s.ReplaceSCIMUser(bg, "scim:t", b.ID, u.ID, directory.SCIMUserInput{UserName: "x@example.com"}, 0, noMap)
		wantNotFound(t, err, u.ID)
		wantNotFound(t, s.DeleteSCIMUser(bg, "scim:t", b.ID, u.ID, 0), u.ID)
		g := must[directory.SCIMGroup](t)(s.CreateSCIMGroup(bg, "scim:t", a.ID, "Team", "", []string{u.ID}, noMap))
		_, err = s.GetSCIMGroup(bg, b.ID, g.ID, true)
		wantNotFound(t, err, g.ID)
		// A user of org a cannot be put in a group of org b.
		_, err = s.CreateSCIMGroup(bg, "scim:t", b.ID, "Team", "", []string{u.ID}, noMap)
		if !errors.Is(err, directory.ErrInvalid) {
			t.Fatalf("foreign member: %v", err)
		}
	})

	t.Run("groups map to roles by display name, strongest wins, the last admin stays", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		ws := newWorkspace(t, s, o.ID)
		m := directory.GroupMapping{
			Roles:      map[string]access.OrgRole{"Admins": access.RoleAdmin, "Viewers": access.RoleViewOnly},
			Workspaces: map[string]map[string]access.WorkspaceRole{"Admins": {ws.Name: access.WorkspaceOwner}},
		}
		a := must[directory.SCIMUser](t)(s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: "a-" + tok() + "@example.com", Active: true}, m))
		b := must[directory.SCIMUser](t)(s.CreateSCIMUser(bg, "scim:t", o.ID, directory.SCIMUserInput{UserName: "b-" + tok() + "@example.com", Active: true}, m))
		admins := must[directory.SCIMGroup](t)(s.CreateSCIMGroup(bg, "scim:t", o.ID, "Admins", "g1", []string{a.ID}, m))
		viewers := must[directory.SCIMGroup](t)(s.CreateSCIMGroup(bg, "scim:t", o.ID, "Viewers", "", []string{a.ID, b.ID}, m))
		_, err := s.CreateSCIMGroup(bg, "scim:t", o.ID, "admins", "", nil, m)
		wantConflict(t, err)
		role := func(id string) access.OrgRole {
			return must[directory.Member](t)(s.GetMember(bg, o.ID, id)).Role
		}
		if role(a.ID) != access.RoleAdmin || role(b.ID) != access.RoleViewOnly {
			t.Fatalf("roles a=%s b=%s", role(a.ID), role(b.ID))
		}
		if wm, err := s.PrincipalWorkspaces(bg, o.ID, a.ID); err != nil || !hasWorkspace(wm, ws.ID, access.WorkspaceOwner) {
			t.Fatalf("mapped workspace: %+v %v", wm, err)
		}
		// b joins Admins: two admins; a leaves: a falls to Viewers' role.
		must[directory.SCIMGroup](t)(s.UpdateSCIMGroup(bg, "scim:t", o.ID, admins.ID, directory.SCIMGroupChange{Add: []string{b.ID}, Remove: []string{a.ID}}, 0, m))
		if role(a.ID) != access.RoleViewOnly || role(b.ID) != access.RoleAdmin {
			t.Fatalf("after the swap a=%s b=%s", role(a.ID), role(b.ID))
		}
		if wm, _ := s.PrincipalWorkspaces(bg, o.ID, a.ID); hasWorkspace(wm, ws.ID, access.WorkspaceOwner) {
			t.Fatal("the mapped workspace membership stayed after leaving the group")
		}
		got := must[directory.SCIMGroup](t)(s.GetSCIMGroup(bg, o.ID, admins.ID, true))
		if len(got.Members) != 1 || got.Members[0].UserID != b.ID || got.Version != 2 {
			t.Fatalf("group = %+v", got)
		}
		// b is the last admin: emptying Admins keeps b admin.
		empty := []string{}
		must[directory.SCIMGroup](t)(s.UpdateSCIMGroup(bg, "scim:t", o.ID, admins.ID, directory.SCIMGroupChange{Members: &empty}, 0, m))
		if role(b.ID) != access.RoleAdmin {
			t.Fatalf("the last admin was demoted to %s", role(b.ID))
		}
		_, err = s.UpdateSCIMGroup(bg, "scim:t", o.ID, viewers.ID, directory.SCIMGroupChange{DisplayName: sp("Renamed")}, 99, m)
		if !errors.Is(err, directory.ErrVersionMismatch) {
			t.Fatalf("stale group version: %v", err)
		}
		noErr(t, s.DeleteSCIMGroup(bg, "scim:t", o.ID, viewers.ID, 0, m))
		if role(a.ID) != o.Settings.DefaultOrgRole {
			t.Fatalf("with no mapped group a has %s, want the default", role(a.ID))
		}
		list, total, err := s.ListSCIMGroups(bg, o.ID, directory.SCIMGroupFilter{DisplayName: sp("admins"), Limit: 10, WithMembers: true})
		noErr(t, err)
		if total != 1 || list[0].ID != admins.ID || list[0].ExternalID != "g1" {
			t.Fatalf("displayName eq = %d %+v", total, list)
		}
	})
}

func hasWorkspace(wm []directory.WorkspaceMember, wsID string, role access.WorkspaceRole) bool {
	for _, m := range wm {
		if m.WorkspaceID == wsID && m.Role == role {
			return true
		}
	}
	return false
}

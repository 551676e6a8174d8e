package directory_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

func testOrganizations(t *testing.T, s directory.Store, open func(testing.TB) directory.Store) {
	t.Run("a new org's default workspace is named by a slug of its name, with a numeric suffix when taken", func(t *testing.T) {
		t.Parallel()
		s := open(t) // the names below are deployment-wide
		o1, w1, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Acme Corp"})
		noErr(t, err)
		if w1.Name != "acme-corp" || !w1.Default || w1.OrgID != o1.ID || o1.Settings.DefaultWorkspace != w1.ID {
			t.Fatalf("first org: workspace %+v, org settings %+v", w1, o1.Settings)
		}
		_, w2, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Acme  corp!"})
		noErr(t, err)
		if w2.Name != "acme-corp-2" {
			t.Fatalf("second org's workspace = %q, want acme-corp-2", w2.Name)
		}
		_, w3, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "ACME-corp"})
		noErr(t, err)
		if w3.Name != "acme-corp-3" {
			t.Fatalf("third org's workspace = %q, want acme-corp-3", w3.Name)
		}
		_, w4, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Default"})
		noErr(t, err)
		if w4.Name == "default" || directory.ValidateWorkspaceName(w4.Name) != nil {
			t.Fatalf(`org "Default" got workspace %q; "default" is reserved`, w4.Name)
		}
		_, w5, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Named", WorkspaceName: "research"})
		noErr(t, err)
		if w5.Name != "research" {
			t.Fatalf("explicit workspace name = %q, want research", w5.Name)
		}
		_, _, err = s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Named Again", WorkspaceName: "research"})
		wantConflict(t, err)
		if _, err := s.GetOrg(bg, "Named Again"); err == nil {
			t.Fatal("an org whose workspace name was taken was created anyway")
		}
	})

	t.Run("org names are unique case-insensitively", func(t *testing.T) {
		t.Parallel()
		name := "Unique Org " + tok()
		_, _, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: name})
		noErr(t, err)
		_, _, err = s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: strings.ToUpper(name)})
		wantConflict(t, err)
		other, _ := newOrg(t, s)
		_, err = s.UpdateOrg(bg, actorSystem, other.ID, directory.OrgUpdate{Name: ptr(strings.ToLower(name))})
		wantConflict(t, err)
	})

	t.Run("invalid org names are refused", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"", " padded", "padded ", "org_lookslikeanid", "tab\there", strings.Repeat("x", 101)} {
			_, _, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: name})
			wantInvalid(t, err, "name")
		}
		_, _, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Bad WS " + tok(), WorkspaceName: "Bad"})
		wantInvalid(t, err, "name")
		_, _, err = s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Bad WS " + tok(), WorkspaceName: "default"})
		wantInvalid(t, err, "name")
	})

	t.Run("plan defaults to community and must be a known plan", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		if o.Plan != directory.PlanCommunity || o.PlanStartedAt.IsZero() {
			t.Fatalf("plan = %q started %v, want community", o.Plan, o.PlanStartedAt)
		}
		e, _, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Big " + tok(), Plan: directory.PlanEnterprise})
		noErr(t, err)
		if e.Plan != directory.PlanEnterprise {
			t.Fatalf("plan = %q, want enterprise", e.Plan)
		}
		_, _, err = s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Gold " + tok(), Plan: "gold"})
		wantInvalid(t, err, "plan")
	})

	t.Run("a new org has the contract's default settings", func(t *testing.T) {
		t.Parallel()
		o, w := newOrg(t, s)
		want := directory.OrgSettings{OnlyAdminsCanInvite: false, JITMode: directory.JITInviteOnly,
			DefaultOrgRole: access.RolePlatformMember, DefaultWorkspace: w.ID}
		if o.Settings != want || o.Version != 1 {
			t.Fatalf("settings %+v version %d, want %+v version 1", o.Settings, o.Version, want)
		}
	})

	t.Run("an org is found by id and by name in any case, as it was created", func(t *testing.T) {
		t.Parallel()
		o, w := newOrg(t, s)
		byID := must[directory.Organization](t)(s.GetOrg(bg, o.ID))
		byName := must[directory.Organization](t)(s.GetOrg(bg, strings.ToUpper(o.Name)))
		if !reflect.DeepEqual(byID, o) || !reflect.DeepEqual(byName, o) {
			t.Fatalf("created %+v\nby id   %+v\nby name %+v", o, byID, byName)
		}
		gw := must[directory.Workspace](t)(s.GetWorkspace(bg, o.ID, w.ID))
		if !reflect.DeepEqual(gw, w) {
			t.Fatalf("created workspace %+v, got %+v", w, gw)
		}
	})

	t.Run("an unknown org is a not-found error naming it", func(t *testing.T) {
		t.Parallel()
		_, err := s.GetOrg(bg, "org_doesnotexist")
		wantNotFound(t, err, "org_doesnotexist")
		_, err = s.GetOrg(bg, "No Such Org "+tok())
		wantNotFound(t, err, "")
		_, err = s.UpdateOrg(bg, actorSystem, "org_doesnotexist", directory.OrgUpdate{Name: ptr("x" + tok())})
		wantNotFound(t, err, "org_doesnotexist")
		_, err = s.CreateWorkspace(bg, actorSystem, "org_doesnotexist", "ws-"+tok(), "")
		wantNotFound(t, err, "org_doesnotexist")
	})

	t.Run("updating name and settings bumps the version", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		newName := "Renamed " + tok()
		u, err := s.UpdateOrg(bg, "usr_actor", o.ID, directory.OrgUpdate{
			Name: &newName, OnlyAdminsCanInvite: ptr(true), JITMode: ptr(directory.JITApproval),
			DefaultOrgRole: ptr(access.RoleOpikMember), IfVersion: o.Version,
		})
		noErr(t, err)
		if u.Name != newName || !u.Settings.OnlyAdminsCanInvite || u.Settings.JITMode != directory.JITApproval ||
			u.Settings.DefaultOrgRole != access.RoleOpikMember || u.Version != o.Version+1 {
			t.Fatalf("updated org %+v", u)
		}
		if got := must[directory.Organization](t)(s.GetOrg(bg, newName)); !reflect.DeepEqual(got, u) {
			t.Fatalf("stored %+v, returned %+v", got, u)
		}
		if _, err := s.GetOrg(bg, o.Name); err == nil {
			t.Fatal("the old name still finds the org")
		}
		same, err := s.UpdateOrg(bg, "usr_actor", o.ID, directory.OrgUpdate{JITMode: ptr(directory.JITApproval)})
		noErr(t, err)
		if same.Version != u.Version {
			t.Fatalf("an update that changes nothing moved the version %d → %d", u.Version, same.Version)
		}
	})

	t.Run("an update at a stale version fails with ErrVersionMismatch and changes nothing", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		must[directory.Organization](t)(s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{OnlyAdminsCanInvite: ptr(true)}))
		_, err := s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{JITMode: ptr(directory.JITAuto), IfVersion: o.Version})
		wantIs(t, err, directory.ErrVersionMismatch)
		if got := must[directory.Organization](t)(s.GetOrg(bg, o.ID)); got.Settings.JITMode != directory.JITInviteOnly {
			t.Fatalf("a refused update changed jit_mode to %q", got.Settings.JITMode)
		}
	})

	t.Run("invalid settings name the field", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		_, err := s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{JITMode: ptr(directory.JITMode("sometimes"))})
		wantInvalid(t, err, "jit_mode")
		_, err = s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{DefaultOrgRole: ptr(access.RoleAdmin)})
		wantInvalid(t, err, "default_org_role")
		_, err = s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{DefaultOrgRole: ptr(access.OrgRole("boss"))})
		wantInvalid(t, err, "default_org_role")
		_, err = s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{Name: ptr("")})
		wantInvalid(t, err, "name")
	})

	t.Run("orgs are listed page by page", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var want []string
		for range 5 {
			o, _ := newOrg(t, s)
			want = append(want, o.ID)
		}
		var got []string
		p := directory.Page{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			orgs, next, err := s.ListOrgs(bg, p)
			noErr(t, err)
			for _, o := range orgs {
				got = append(got, o.ID)
			}
			if next == "" {
				break
			}
			p.After = next
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
	})
}

func testWorkspaces(t *testing.T, s directory.Store, open func(testing.TB) directory.Store) {
	t.Run("workspace names follow the pattern and default is reserved", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		x := tok()
		for _, name := range []string{"", "-" + x, "A" + x, "ws-" + x + "X", "ws_" + x, "ws " + x, "ws." + x, "default",
			strings.Repeat("a", 54) + x, "é" + x} {
			_, err := s.CreateWorkspace(bg, actorSystem, o.ID, name, "")
			wantInvalid(t, err, "name")
		}
		for _, name := range []string{x, "0" + x, x + "-", x + "--a", strings.Repeat("b", 53) + x} {
			w, err := s.CreateWorkspace(bg, actorSystem, o.ID, name, "")
			noErr(t, err)
			if w.Name != name || w.Default || w.OrgID != o.ID || !strings.HasPrefix(w.ID, "ws_") {
				t.Fatalf("created %+v for name %q", w, name)
			}
		}
		ws := newWorkspace(t, s, o.ID)
		_, err := s.RenameWorkspace(bg, actorSystem, o.ID, ws.ID, "default")
		wantInvalid(t, err, "name")
		_, err = s.RenameWorkspace(bg, actorSystem, o.ID, ws.ID, "Upper"+x)
		wantInvalid(t, err, "name")
	})

	t.Run("workspace names are unique across the deployment and a conflict does not reveal the other org", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		wa := newWorkspace(t, s, a.ID)
		check := func(err error) {
			t.Helper()
			wantConflict(t, err)
			for _, secret := range []string{a.ID, a.Name, wa.ID} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("conflict %q reveals %q", err, secret)
				}
			}
		}
		_, err := s.CreateWorkspace(bg, actorSystem, b.ID, wa.Name, "")
		check(err)
		_, err = s.CreateWorkspace(bg, actorSystem, a.ID, wa.Name, "")
		wantConflict(t, err)
		wb := newWorkspace(t, s, b.ID)
		_, err = s.RenameWorkspace(bg, actorSystem, b.ID, wb.ID, wa.Name)
		check(err)
		_, _, err = s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Taker " + tok(), WorkspaceName: wa.Name})
		check(err)
		found := must[directory.Workspace](t)(s.FindWorkspace(bg, wa.Name))
		if found.ID != wa.ID || found.OrgID != a.ID {
			t.Fatalf("FindWorkspace(%q) = %+v, want %s of %s", wa.Name, found, wa.ID, a.ID)
		}
	})

	t.Run("a workspace is found by id or name only within its org", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		w := newWorkspace(t, s, a.ID)
		for _, ref := range []string{w.ID, w.Name} {
			got := must[directory.Workspace](t)(s.GetWorkspace(bg, a.ID, ref))
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("GetWorkspace(%s) = %+v, want %+v", ref, got, w)
			}
			_, err := s.GetWorkspace(bg, b.ID, ref)
			wantNotFound(t, err, ref)
		}
		_, err := s.GetWorkspace(bg, a.ID, "ws_nope")
		wantNotFound(t, err, "ws_nope")
		_, err = s.FindWorkspace(bg, "nope-"+tok())
		wantNotFound(t, err, "")
	})

	t.Run("listing filters by a case-insensitive literal substring and by membership, page by page", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		x := tok()
		names := []string{"alpha-" + x, "beta-" + x, "abc-" + x, "alphabet-" + x, "gamma-" + x, "delta-" + x, "omega-" + x}
		for i, n := range names {
			owner := ""
			if i%3 == 0 {
				owner = u.ID
			}
			must[directory.Workspace](t)(s.CreateWorkspace(bg, actorSystem, o.ID, n, owner))
		}
		// Compared as sets: the order is the database's collation of names.
		list := func(f directory.WorkspaceFilter) []string {
			t.Helper()
			ws, _, err := s.ListWorkspaces(bg, o.ID, f)
			noErr(t, err)
			names := wsNames(ws)
			slices.Sort(names)
			return names
		}
		all := append(slices.Clone(names), def.Name)
		slices.Sort(all)
		if got := list(directory.WorkspaceFilter{}); !slices.Equal(got, all) {
			t.Fatalf("all = %v, want %v", got, all)
		}
		if got := list(directory.WorkspaceFilter{Q: "ALPHA"}); !slices.Equal(got, []string{"alpha-" + x, "alphabet-" + x}) {
			t.Fatalf("q=ALPHA → %v", got)
		}
		for _, q := range []string{"%", "_", "a_c", "a%c", `\`} {
			if got := list(directory.WorkspaceFilter{Q: q}); len(got) != 0 {
				t.Fatalf("q=%q must match literally, got %v", q, got)
			}
		}
		if got := list(directory.WorkspaceFilter{MemberOf: u.ID}); !slices.Equal(got, []string{"alpha-" + x, "alphabet-" + x, "omega-" + x}) {
			t.Fatalf("member-of → %v", got)
		}
		if got := list(directory.WorkspaceFilter{MemberOf: u.ID, Q: "ALP"}); !slices.Equal(got, []string{"alpha-" + x, "alphabet-" + x}) {
			t.Fatalf("member-of and q → %v", got)
		}
		var paged []string
		f := directory.WorkspaceFilter{Page: directory.Page{Limit: 3}}
		for pages := 1; ; pages++ {
			ws, next, err := s.ListWorkspaces(bg, o.ID, f)
			noErr(t, err)
			if len(ws) > 3 {
				t.Fatalf("page of %d items with limit 3", len(ws))
			}
			paged = append(paged, wsNames(ws)...)
			if next == "" {
				if pages != 3 {
					t.Fatalf("8 workspaces in pages of 3 took %d pages", pages)
				}
				break
			}
			if pages > 3 {
				t.Fatal("pagination does not end")
			}
			f.After = next
		}
		unpaged, _, err := s.ListWorkspaces(bg, o.ID, directory.WorkspaceFilter{})
		noErr(t, err)
		if !slices.Equal(paged, wsNames(unpaged)) {
			t.Fatalf("paged = %v, want %v", paged, wsNames(unpaged))
		}
		for _, w := range unpaged {
			if w.Default != (w.ID == def.ID) {
				t.Fatalf("workspace %s default=%v", w.Name, w.Default)
			}
		}
	})

	t.Run("a workspace can be renamed and its old name is free again", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		w := newWorkspace(t, s, o.ID)
		newName := "renamed-" + tok()
		r := must[directory.Workspace](t)(s.RenameWorkspace(bg, actorSystem, o.ID, w.ID, newName))
		if r.Name != newName || r.ID != w.ID {
			t.Fatalf("renamed = %+v", r)
		}
		if got := must[directory.Workspace](t)(s.GetWorkspace(bg, o.ID, newName)); got.ID != w.ID {
			t.Fatalf("new name finds %s", got.ID)
		}
		_, err := s.GetWorkspace(bg, o.ID, w.Name)
		wantNotFound(t, err, w.Name)
		other, _ := newOrg(t, s)
		must[directory.Workspace](t)(s.CreateWorkspace(bg, actorSystem, other.ID, w.Name, ""))
	})

	t.Run("setting the default workspace moves the default flag", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		w := newWorkspace(t, s, o.ID)
		noErr(t, s.SetDefaultWorkspace(bg, actorSystem, o.ID, w.Name))
		got := must[directory.Organization](t)(s.GetOrg(bg, o.ID))
		if got.Settings.DefaultWorkspace != w.ID || got.Version <= o.Version {
			t.Fatalf("org after set default: %+v", got)
		}
		if !must[directory.Workspace](t)(s.GetWorkspace(bg, o.ID, w.ID)).Default ||
			must[directory.Workspace](t)(s.GetWorkspace(bg, o.ID, def.ID)).Default {
			t.Fatal("default flags did not move")
		}
		_, err := s.GetWorkspace(bg, o.ID, "ws_nope")
		wantNotFound(t, err, "ws_nope")
		wantNotFound(t, s.SetDefaultWorkspace(bg, actorSystem, o.ID, "ws_nope"), "ws_nope")
	})

	t.Run("the org's only workspace cannot be deleted", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		wantInvariant(t, s.DeleteWorkspace(bg, actorSystem, o.ID, def.ID, ""), directory.RuleOnlyWorkspace)
		must[directory.Workspace](t)(s.GetWorkspace(bg, o.ID, def.ID))
	})

	t.Run("deleting the default workspace requires naming another default", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		w := newWorkspace(t, s, o.ID)
		other, _ := newOrg(t, s)
		foreign := newWorkspace(t, s, other.ID)
		wantInvariant(t, s.DeleteWorkspace(bg, actorSystem, o.ID, def.ID, ""), directory.RuleDefaultWorkspace)
		wantInvariant(t, s.DeleteWorkspace(bg, actorSystem, o.ID, def.ID, def.ID), directory.RuleDefaultWorkspace)
		wantNotFound(t, s.DeleteWorkspace(bg, actorSystem, o.ID, def.ID, foreign.ID), foreign.ID)
		must[directory.Workspace](t)(s.GetWorkspace(bg, o.ID, def.ID))

		noErr(t, s.DeleteWorkspace(bg, actorSystem, o.ID, def.ID, w.Name))
		_, err := s.GetWorkspace(bg, o.ID, def.ID)
		wantNotFound(t, err, def.ID)
		got := must[directory.Organization](t)(s.GetOrg(bg, o.ID))
		if got.Settings.DefaultWorkspace != w.ID {
			t.Fatalf("default is %s, want %s", got.Settings.DefaultWorkspace, w.ID)
		}
		if !must[directory.Workspace](t)(s.GetWorkspace(bg, o.ID, w.ID)).Default {
			t.Fatal("the new default is not flagged default")
		}
		wantInvariant(t, s.DeleteWorkspace(bg, actorSystem, o.ID, w.ID, ""), directory.RuleOnlyWorkspace)
	})

	t.Run("deleting a workspace removes its memberships and frees its name", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		w := must[directory.Workspace](t)(s.CreateWorkspace(bg, actorSystem, o.ID, "doomed-"+tok(), u.ID))
		must[directory.WorkspaceMember](t)(s.PutWorkspaceMember(bg, actorSystem, o.ID, def.ID, u.ID, access.Membership{Role: access.WorkspaceMember}))
		noErr(t, s.DeleteWorkspace(bg, actorSystem, o.ID, w.ID, ""))
		got := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, u.ID))
		if names := wsMemberNames(got); !slices.Equal(names, []string{def.Name}) {
			t.Fatalf("memberships after delete: %v", names)
		}
		_, _, err := s.ListWorkspaceMembers(bg, o.ID, w.ID, directory.Page{})
		wantNotFound(t, err, w.ID)
		wantNotFound(t, s.DeleteWorkspace(bg, actorSystem, o.ID, w.ID, ""), w.ID)
		must[directory.Workspace](t)(s.CreateWorkspace(bg, actorSystem, o.ID, w.Name, ""))
	})

	t.Run("creating a workspace with an owner who is not a member creates nothing", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		stranger := newUser(t, s)
		name := "orphan-" + tok()
		_, err := s.CreateWorkspace(bg, actorSystem, o.ID, name, stranger.ID)
		wantNotFound(t, err, stranger.ID)
		_, err = s.FindWorkspace(bg, name)
		wantNotFound(t, err, name)
	})

	t.Run("the creator of a workspace becomes its owner", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleOpikMember)
		w := must[directory.Workspace](t)(s.CreateWorkspace(bg, u.ID, o.ID, "mine-"+tok(), u.ID))
		ms, _, err := s.ListWorkspaceMembers(bg, o.ID, w.ID, directory.Page{})
		noErr(t, err)
		want := access.Membership{Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}
		if len(ms) != 1 || ms[0].PrincipalID != u.ID || ms[0].Membership != want {
			t.Fatalf("members of a new workspace: %+v", ms)
		}
	})
}

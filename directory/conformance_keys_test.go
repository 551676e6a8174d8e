package directory_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

var apiKeyRE = regexp.MustCompile(`^ssb_[0-9A-Za-z]{43}$`)

func testServiceAccounts(t *testing.T, s directory.Store, _ func(testing.TB) directory.Store) {
	t.Run("a service account has an org role and workspace memberships", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		w := newWorkspace(t, s, o.ID)
		sa := must[directory.ServiceAccount](t)(s.CreateServiceAccount(bg, "usr_creator", directory.NewServiceAccount{
			OrgID: o.ID, Name: "ci bot", Role: access.RoleViewOnly,
			Workspaces: []directory.InvitationWorkspace{{WorkspaceID: def.ID, Role: access.WorkspaceMember}, {WorkspaceID: w.Name, Role: access.WorkspaceOwner}},
		}))
		if !strings.HasPrefix(sa.ID, "sa_") || sa.OrgID != o.ID || sa.Name != "ci bot" || sa.Role != access.RoleViewOnly || sa.CreatedBy != "usr_creator" {
			t.Fatalf("service account = %+v", sa)
		}
		if got := must[directory.ServiceAccount](t)(s.GetServiceAccount(bg, o.ID, sa.ID)); !reflect.DeepEqual(got, sa) {
			t.Fatalf("stored %+v, returned %+v", got, sa)
		}
		m := must[directory.Member](t)(s.GetMember(bg, o.ID, sa.ID))
		if m.Type != directory.PrincipalServiceAccount || m.Role != access.RoleViewOnly {
			t.Fatalf("membership = %+v", m)
		}
		ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, sa.ID))
		roles := map[string]access.WorkspaceRole{}
		for _, x := range ws {
			roles[x.WorkspaceID] = x.Role
		}
		if len(ws) != 2 || roles[def.ID] != access.WorkspaceMember || roles[w.ID] != access.WorkspaceOwner {
			t.Fatalf("workspaces = %+v", ws)
		}
		list, _, err := s.ListServiceAccounts(bg, o.ID, directory.Page{})
		noErr(t, err)
		if len(list) != 1 || list[0].ID != sa.ID {
			t.Fatalf("listed %+v", list)
		}
		must[directory.Member](t)(s.SetMemberRole(bg, actorSystem, o.ID, sa.ID, access.RoleOpikMember, 0))
		if got := must[directory.ServiceAccount](t)(s.GetServiceAccount(bg, o.ID, sa.ID)); got.Role != access.RoleOpikMember {
			t.Fatalf("role after change = %s", got.Role)
		}
	})

	t.Run("service account names are valid and unique per org", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		other, _ := newOrg(t, s)
		foreign := newWorkspace(t, s, other.ID)
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		_, err := s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{OrgID: o.ID, Name: sa.Name, Role: access.RolePlatformMember})
		wantConflict(t, err)
		must[directory.ServiceAccount](t)(s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{OrgID: other.ID, Name: sa.Name, Role: access.RolePlatformMember}))
		for _, name := range []string{"", " x", strings.Repeat("x", 101)} {
			_, err = s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{OrgID: o.ID, Name: name, Role: access.RolePlatformMember})
			wantInvalid(t, err, "name")
		}
		_, err = s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{OrgID: o.ID, Name: "r " + tok(), Role: "robot"})
		wantInvalid(t, err, "role")
		name := "lost " + tok()
		_, err = s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{OrgID: o.ID, Name: name, Role: access.RolePlatformMember,
			Workspaces: []directory.InvitationWorkspace{{WorkspaceID: foreign.ID, Role: access.WorkspaceMember}}})
		wantNotFound(t, err, foreign.ID)
		list, _, err := s.ListServiceAccounts(bg, o.ID, directory.Page{})
		noErr(t, err)
		if len(list) != 1 {
			t.Fatalf("refused creations left accounts: %+v", list)
		}
		second := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		_, err = s.RenameServiceAccount(bg, actorSystem, o.ID, second.ID, sa.Name)
		wantConflict(t, err)
		r := must[directory.ServiceAccount](t)(s.RenameServiceAccount(bg, actorSystem, o.ID, second.ID, "renamed "+tok()))
		if got := must[directory.ServiceAccount](t)(s.GetServiceAccount(bg, o.ID, second.ID)); got.Name != r.Name {
			t.Fatalf("name after rename = %q, want %q", got.Name, r.Name)
		}
	})

	t.Run("an API key is ssb_ and 43 base62 characters, shown once with a 12-character prefix", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		seen := map[string]bool{}
		for range 20 {
			k, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
			noErr(t, err)
			if !apiKeyRE.MatchString(secret) || !directory.WellFormedAPIKey(secret) {
				t.Fatalf("key %q is not ssb_ + 43 base62 characters", secret)
			}
			if k.Prefix != secret[:12] || !strings.HasPrefix(k.ID, "key_") || k.ServiceAccountID != sa.ID || k.OrgID != o.ID ||
				k.RevokedAt != nil || k.LastUsedAt != nil {
				t.Fatalf("key record = %+v for %s", k, secret)
			}
			if seen[secret] {
				t.Fatal("a key secret repeated")
			}
			seen[secret] = true
		}
	})

	t.Run("the key's secret is in no record, listing or audit entry", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		k, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
		noErr(t, err)
		for _, f := range reflect.VisibleFields(reflect.TypeFor[directory.APIKey]()) {
			if n := strings.ToLower(f.Name); strings.Contains(n, "secret") || strings.Contains(n, "hash") {
				t.Fatalf("APIKey has a field %s", f.Name)
			}
		}
		keys := must[[]directory.APIKey](t)(s.ListAPIKeys(bg, o.ID, sa.ID))
		kp := must[directory.KeyPrincipal](t)(s.LookupAPIKey(bg, secret))
		for _, v := range []any{k, keys, kp} {
			b, _ := json.Marshal(v)
			if strings.Contains(string(b), secret[4:]) {
				t.Fatalf("%T carries the secret: %s", v, b)
			}
		}
		noErr(t, s.RevokeAPIKey(bg, actorSystem, o.ID, k.ID))
		events, _, err := s.ListAudit(bg, o.ID, directory.AuditFilter{})
		noErr(t, err)
		for _, e := range events {
			if strings.Contains(e.Before+e.After+e.Target, secret[4:]) {
				t.Fatalf("audit entry %s carries the secret: %+v", e.Action, e)
			}
		}
	})

	t.Run("several live keys per account, each found by its secret", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RoleOpikMember)
		ids := map[string]string{}
		for range 3 {
			k, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
			noErr(t, err)
			ids[secret] = k.ID
		}
		for secret, id := range ids {
			kp := must[directory.KeyPrincipal](t)(s.LookupAPIKey(bg, secret))
			if kp.Key.ID != id || kp.Account.ID != sa.ID || kp.Account.OrgID != o.ID || kp.Account.Role != access.RoleOpikMember ||
				kp.Account.Name != sa.Name || kp.Key.Prefix != secret[:12] {
				t.Fatalf("lookup = %+v", kp)
			}
		}
		keys := must[[]directory.APIKey](t)(s.ListAPIKeys(bg, o.ID, sa.ID))
		if len(keys) != 3 {
			t.Fatalf("listed %d keys, want 3", len(keys))
		}
	})

	t.Run("malformed and unknown keys are not found", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		_, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
		noErr(t, err)
		flipped := []byte(secret)
		if flipped[20] == 'a' {
			flipped[20] = 'b'
		} else {
			flipped[20] = 'a'
		}
		for _, bad := range []string{"", "ssb_", "ssb_short", secret + "x", secret[:len(secret)-1], "xyz_" + secret[4:],
			secret[:10] + "-" + secret[11:], " " + secret[1:], strings.ToUpper(secret[:4]) + secret[4:], string(flipped)} {
			_, err := s.LookupAPIKey(bg, bad)
			wantNotFound(t, err, "")
			if bad != "" && strings.Contains(err.Error(), bad[min(len(bad), 12):]) && len(bad) > 12 {
				t.Fatalf("not-found error %q repeats the presented secret", err)
			}
		}
	})

	t.Run("a revoked key stops working at once", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		k, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
		noErr(t, err)
		_, other, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
		noErr(t, err)
		for range 3 { // warm any cache
			must[directory.KeyPrincipal](t)(s.LookupAPIKey(bg, secret))
		}
		noErr(t, s.RevokeAPIKey(bg, actorSystem, o.ID, k.ID))
		_, err = s.LookupAPIKey(bg, secret)
		wantNotFound(t, err, "")
		must[directory.KeyPrincipal](t)(s.LookupAPIKey(bg, other))
		noErr(t, s.RevokeAPIKey(bg, actorSystem, o.ID, k.ID)) // idempotent
		for _, x := range must[[]directory.APIKey](t)(s.ListAPIKeys(bg, o.ID, sa.ID)) {
			if (x.ID == k.ID) != (x.RevokedAt != nil) {
				t.Fatalf("key %s revoked at %v", x.ID, x.RevokedAt)
			}
		}
		wantNotFound(t, s.RevokeAPIKey(bg, actorSystem, o.ID, "key_nope"), "key_nope")
	})

	t.Run("deleting an account stops all its keys at once and removes its memberships", func(t *testing.T) {
		t.Parallel()
		o, def := newOrg(t, s)
		sa := must[directory.ServiceAccount](t)(s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{
			OrgID: o.ID, Name: "doomed " + tok(), Role: access.RoleAdmin,
			Workspaces: []directory.InvitationWorkspace{{WorkspaceID: def.ID, Role: access.WorkspaceOwner}},
		}))
		keep := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		_, kept, err := s.CreateAPIKey(bg, actorSystem, o.ID, keep.ID)
		noErr(t, err)
		var secrets []string
		for range 3 {
			_, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
			noErr(t, err)
			must[directory.KeyPrincipal](t)(s.LookupAPIKey(bg, secret)) // warm any cache
			secrets = append(secrets, secret)
		}
		must[directory.PrincipalAccess](t)(s.PrincipalAccess(bg, o.ID, sa.ID))
		noErr(t, s.DeleteServiceAccount(bg, actorSystem, o.ID, sa.ID))
		for _, secret := range secrets {
			_, err := s.LookupAPIKey(bg, secret)
			wantNotFound(t, err, "")
		}
		must[directory.KeyPrincipal](t)(s.LookupAPIKey(bg, kept))
		_, err = s.GetServiceAccount(bg, o.ID, sa.ID)
		wantNotFound(t, err, sa.ID)
		_, err = s.GetMember(bg, o.ID, sa.ID)
		wantNotFound(t, err, sa.ID)
		_, err = s.PrincipalAccess(bg, o.ID, sa.ID)
		wantNotFound(t, err, sa.ID)
		if ws := must[[]directory.WorkspaceMember](t)(s.PrincipalWorkspaces(bg, o.ID, sa.ID)); len(ws) != 0 {
			t.Fatalf("deleted account is still in %v", wsMemberNames(ws))
		}
		_, err = s.ListAPIKeys(bg, o.ID, sa.ID)
		wantNotFound(t, err, sa.ID)
		_, _, err = s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
		wantNotFound(t, err, sa.ID)
		wantNotFound(t, s.DeleteServiceAccount(bg, actorSystem, o.ID, sa.ID), sa.ID)
	})

	t.Run("a key's last use shows in the listing", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
		k, _, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
		noErr(t, err)
		at := time.Now().UTC().Truncate(time.Millisecond)
		noErr(t, s.TouchAPIKey(bg, k.ID, at.Add(-time.Minute)))
		noErr(t, s.TouchAPIKey(bg, k.ID, at))
		noErr(t, s.TouchAPIKey(bg, k.ID, at.Add(-time.Hour))) // older: ignored
		keys := must[[]directory.APIKey](t)(s.ListAPIKeys(bg, o.ID, sa.ID))
		if len(keys) != 1 || keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(at) {
			t.Fatalf("last used = %v, want %v", keys[0].LastUsedAt, at)
		}
	})
}

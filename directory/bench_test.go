package directory_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// benchBackends runs bench against each backend in a stable order.
func benchBackends(b *testing.B, bench func(b *testing.B, s *directory.SQLStore)) {
	backends := directorytest.Backends()
	names := make([]string, 0, len(backends))
	for name := range backends {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b.Run(name, func(b *testing.B) { bench(b, backends[name](b)) })
	}
}

// waitCacheOn waits until s serves lookups from its cache (PostgreSQL turns
// it on once its change listener is connected).
func waitCacheOn(b *testing.B, s *directory.SQLStore) {
	b.Helper()
	if !eventually(5*time.Second, func() bool { return directory.LookupCacheOn(s) }) {
		b.Fatal("the lookup cache never turned on")
	}
}

// BenchmarkPrincipalWorkspaces100 measures the membership lookup of a user
// who is in 100 workspaces; it always reads the database.
func BenchmarkPrincipalWorkspaces100(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *directory.SQLStore) {
		o, _ := newOrg(b, s)
		u := newMember(b, s, o.ID, access.RolePlatformMember)
		for i := range 99 {
			must[directory.Workspace](b)(s.CreateWorkspace(bg, actorSystem, o.ID, fmt.Sprintf("bench-%s-%03d", tok(), i), u.ID))
		}
		must[directory.WorkspaceMember](b)(s.PutWorkspaceMember(bg, actorSystem, o.ID, o.Settings.DefaultWorkspace, u.ID, access.Membership{Role: access.WorkspaceMember}))
		b.ReportAllocs()
		for b.Loop() {
			ws, err := s.PrincipalWorkspaces(bg, o.ID, u.ID)
			if err != nil || len(ws) != 100 {
				b.Fatalf("%d workspaces, %v", len(ws), err)
			}
		}
	})
}

// BenchmarkLookupAPIKey measures API-key authentication: warm (served from
// the cache) and cold (the cache emptied before every lookup).
func BenchmarkLookupAPIKey(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *directory.SQLStore) {
		o, _ := newOrg(b, s)
		sa := newServiceAccount(b, s, o.ID, access.RolePlatformMember)
		_, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
		noErr(b, err)
		waitCacheOn(b, s)
		b.Run("warm", func(b *testing.B) {
			must[directory.KeyPrincipal](b)(s.LookupAPIKey(bg, secret))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.LookupAPIKey(bg, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				directory.DropLookupCache(s)
				if _, err := s.LookupAPIKey(bg, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkPrincipalAccess measures what minting a token reads: the org, the
// membership and ten workspace memberships, warm and cold.
func BenchmarkPrincipalAccess(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *directory.SQLStore) {
		o, _ := newOrg(b, s)
		u := newMember(b, s, o.ID, access.RolePlatformMember)
		for i := range 10 {
			must[directory.Workspace](b)(s.CreateWorkspace(bg, actorSystem, o.ID, fmt.Sprintf("pa-%s-%02d", tok(), i), u.ID))
		}
		waitCacheOn(b, s)
		b.Run("warm", func(b *testing.B) {
			must[directory.PrincipalAccess](b)(s.PrincipalAccess(bg, o.ID, u.ID))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.PrincipalAccess(bg, o.ID, u.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				directory.DropLookupCache(s)
				if _, err := s.PrincipalAccess(bg, o.ID, u.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkEffectivePermissions measures the permission function (target:
// under 1µs, no allocations).
func BenchmarkEffectivePermissions(b *testing.B) {
	m := &access.Membership{Role: access.WorkspaceMember, CanInvite: true}
	settings := access.Settings{OnlyAdminsCanInvite: true}
	roles := access.OrgRoles()
	b.ReportAllocs()
	var sink access.Set
	i := 0
	for b.Loop() {
		sink |= access.Effective(roles[i&3], m, settings)
		i++
	}
	if sink == 0 {
		b.Fatal("no permissions at all")
	}
}

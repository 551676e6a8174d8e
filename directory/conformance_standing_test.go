package directory_test

import (
	"errors"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestSessionStanding proves the one validity check of browser sessions on
// both engines: every rule refuses with ErrNoStanding at the next call after
// the change (the cached verdict is dropped), and a broken store is not a
// refusal.
func TestSessionStanding(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			testSessionStanding(t, s)
			t.Run("a store that cannot answer is an error, not a refusal", func(t *testing.T) {
				s2 := open(t)
				o, _ := newOrg(t, s2)
				u := newMember(t, s2, o.ID, access.RolePlatformMember)
				s2.Close()
				_, err := s2.SessionStanding(bg, o.ID, u.ID, directory.LinkConnection)
				if err == nil || errors.Is(err, directory.ErrNoStanding) {
					t.Fatalf("closed store: want a store error, got %v", err)
				}
			})
		})
	}
}

func testSessionStanding(t *testing.T, s *directory.SQLStore) {
	check := func(t *testing.T, orgID, userID, connID string) error {
		t.Helper()
		pa, err := s.SessionStanding(bg, orgID, userID, connID)
		if err == nil && (pa.Org.ID != orgID || pa.Member.PrincipalID != userID) {
			t.Fatalf("standing of %s in %s names %s in %s", userID, orgID, pa.Member.PrincipalID, pa.Org.ID)
		}
		return err
	}
	refused := func(t *testing.T, err error, what string) {
		t.Helper()
		if !errors.Is(err, directory.ErrNoStanding) {
			t.Fatalf("%s: want ErrNoStanding, got %v", what, err)
		}
	}
	newConn := func(t *testing.T, orgID string) directory.Connection {
		t.Helper()
		return must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{
			OrgID: orgID, Type: directory.ConnectionOIDC, Name: "IdP " + tok(), Enabled: true}))
	}

	t.Run("a member through an enabled connection of the org stands, with current access", func(t *testing.T) {
		t.Parallel()
		o, ws := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		c := newConn(t, o.ID)
		pa := must[directory.PrincipalAccess](t)(s.SessionStanding(bg, o.ID, u.ID, c.ID))
		if pa.Member.Role != access.RolePlatformMember || pa.DefaultWorkspace.ID != ws.ID {
			t.Fatalf("standing = %+v", pa)
		}
		// Warm: the same again, and a role change shows at once.
		noErr(t, check(t, o.ID, u.ID, c.ID))
		must[directory.Member](t)(s.SetMemberRole(bg, actorSystem, o.ID, u.ID, access.RoleOpikMember, 0))
		pa = must[directory.PrincipalAccess](t)(s.SessionStanding(bg, o.ID, u.ID, c.ID))
		if pa.Member.Role != access.RoleOpikMember {
			t.Fatalf("after a role change the standing still says %s", pa.Member.Role)
		}
	})

	t.Run("disabling the connection refuses at once; enabling it again restores", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		c := newConn(t, o.ID)
		noErr(t, check(t, o.ID, u.ID, c.ID)) // warm the cache
		c.Enabled = false
		must[directory.Connection](t)(s.UpdateConnection(bg, actorSystem, c))
		refused(t, check(t, o.ID, u.ID, c.ID), "disabled connection")
		refused(t, check(t, o.ID, u.ID, c.ID), "disabled connection, cached refusal")
		c.Enabled = true
		must[directory.Connection](t)(s.UpdateConnection(bg, actorSystem, c))
		noErr(t, check(t, o.ID, u.ID, c.ID))
	})

	t.Run("deleting the connection refuses at once", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		c := newConn(t, o.ID)
		noErr(t, check(t, o.ID, u.ID, c.ID))
		noErr(t, s.DeleteConnection(bg, actorSystem, o.ID, c.ID))
		refused(t, check(t, o.ID, u.ID, c.ID), "deleted connection")
	})

	t.Run("removing the member refuses at once, whatever the connection", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		newMember(t, s, o.ID, access.RoleAdmin) // keeps an admin
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		c := newConn(t, o.ID)
		noErr(t, check(t, o.ID, u.ID, c.ID))
		noErr(t, check(t, o.ID, u.ID, directory.LinkConnection))
		noErr(t, s.RemoveMember(bg, actorSystem, o.ID, u.ID))
		refused(t, check(t, o.ID, u.ID, c.ID), "removed member")
		refused(t, check(t, o.ID, u.ID, directory.LinkConnection), "removed member, link session")
	})

	t.Run("another organization's connection stands only while the user is a member of both (a switched sign-in)", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		newMember(t, s, a.ID, access.RoleAdmin) // keeps an admin
		newMember(t, s, b.ID, access.RoleAdmin)
		u := newMember(t, s, a.ID, access.RolePlatformMember)
		must[directory.Member](t)(s.AddMember(bg, actorSystem, b.ID, u.ID, access.RolePlatformMember))
		cb := newConn(t, b.ID)
		noErr(t, check(t, b.ID, u.ID, cb.ID))
		noErr(t, check(t, a.ID, u.ID, cb.ID))
		stranger := newMember(t, s, b.ID, access.RolePlatformMember)
		refused(t, check(t, a.ID, stranger.ID, cb.ID), "connection of another org, not a member of the target")
		// Leaving the org signed in to ends the switched sign-in too.
		noErr(t, s.RemoveMember(bg, actorSystem, b.ID, u.ID))
		refused(t, check(t, a.ID, u.ID, cb.ID), "left the org signed in to")
	})

	t.Run("SwitchStanding re-checks the target's membership now, by id or name", func(t *testing.T) {
		t.Parallel()
		a, _ := newOrg(t, s)
		b, _ := newOrg(t, s)
		newMember(t, s, b.ID, access.RoleAdmin) // keeps an admin
		u := newMember(t, s, a.ID, access.RoleAdmin)
		must[directory.Member](t)(s.AddMember(bg, actorSystem, b.ID, u.ID, access.RoleOpikMember))
		ca := newConn(t, a.ID)
		for _, ref := range []string{b.ID, b.Name} {
			pa := must[directory.PrincipalAccess](t)(s.SwitchStanding(bg, a.ID, u.ID, ca.ID, ref))
			if pa.Org.ID != b.ID || pa.Member.Role != access.RoleOpikMember {
				t.Fatalf("switch to %s: %+v", ref, pa)
			}
		}
		if _, err := s.SwitchStanding(bg, a.ID, u.ID, ca.ID, "org_doesnotexist"); !errors.Is(err, directory.ErrNotMember) {
			t.Fatalf("unknown org: want ErrNotMember, got %v", err)
		}
		if _, err := s.SwitchStanding(bg, a.ID, u.ID, ca.ID, "no-such-org-"+tok()); !errors.Is(err, directory.ErrNotMember) {
			t.Fatalf("unknown org name: want ErrNotMember, got %v", err)
		}
		noErr(t, s.RemoveMember(bg, actorSystem, b.ID, u.ID))
		if _, err := s.SwitchStanding(bg, a.ID, u.ID, ca.ID, b.ID); !errors.Is(err, directory.ErrNotMember) {
			t.Fatalf("left a moment ago: want ErrNotMember, got %v", err)
		}
		ca.Enabled = false
		must[directory.Connection](t)(s.UpdateConnection(bg, actorSystem, ca))
		if _, err := s.SwitchStanding(bg, a.ID, u.ID, ca.ID, a.ID); !errors.Is(err, directory.ErrNoStanding) {
			t.Fatalf("sign-in through a disabled connection: want ErrNoStanding, got %v", err)
		}
	})

	t.Run("a sign-in link session needs no connection; a non-member or unknown org does not stand", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		stranger := newUser(t, s)
		noErr(t, check(t, o.ID, u.ID, directory.LinkConnection))
		refused(t, check(t, o.ID, stranger.ID, directory.LinkConnection), "not a member")
		refused(t, check(t, "org_doesnotexist", u.ID, directory.LinkConnection), "unknown org")
		refused(t, check(t, o.ID, u.ID, "conn_doesnotexist"), "unknown connection")
	})

	t.Run("only a user's sign-in stands", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		sa := newServiceAccount(t, s, o.ID, access.RoleAdmin)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		refused(t, check(t, o.ID, sa.ID, directory.LinkConnection), "service account")
		refused(t, check(t, "", u.ID, directory.LinkConnection), "no org")
		refused(t, check(t, o.ID, "", directory.LinkConnection), "no user")
		refused(t, check(t, o.ID, u.ID, ""), "no connection")
	})
}

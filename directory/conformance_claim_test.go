package directory_test

import (
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestIdentityClaim proves the claiming rule on both engines: the first
// sign-in of the person `admin bootstrap` made (a member with no upstream
// identity) attaches to that member when the IdP asserts the email verified
// and the org has verified the domain — and in no other case.
func TestIdentityClaim(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testIdentityClaim(t, open(t))
		})
	}
}

func testIdentityClaim(t *testing.T, s *directory.SQLStore) {
	// setup makes an invite-only org with a connection, a domain (verified
	// or not) and a bootstrap admin in that domain.
	setup := func(t *testing.T, verified bool) (directory.Organization, directory.Connection, directory.Member) {
		t.Helper()
		o, _, c := provisionOrg(t, s, directory.JITInviteOnly)
		domain := "claim-" + tok() + ".test"
		must[directory.Domain](t)(s.AddDomain(bg, actorSystem, o.ID, domain))
		if verified {
			must[directory.Domain](t)(s.MarkDomainVerified(bg, actorSystem, o.ID, domain))
		}
		m, created, err := s.EnsureAdmin(bg, "cli:ops", o.ID, "Ada@"+domain)
		noErr(t, err)
		if !created {
			t.Fatal("EnsureAdmin found an existing member in a new org")
		}
		return o, c, m
	}
	audited := func(t *testing.T, orgID, action string) int {
		t.Helper()
		events, _, err := s.ListAudit(bg, orgID, directory.AuditFilter{Action: action})
		noErr(t, err)
		return len(events)
	}

	t.Run("claimed: the first verified sign-in is the same member, not a second admin", func(t *testing.T) {
		t.Parallel()
		o, c, m := setup(t, true)
		in := login(o, c, "sub-"+tok(), "ada@"+m.Email[len("Ada@"):]) // the IdP may spell the address differently
		out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		if out.Status != directory.LoginMember || out.NewUser || out.User.ID != m.PrincipalID || out.Member == nil || out.Member.Role != access.RoleAdmin {
			t.Fatalf("outcome %+v, want the bootstrap admin %s", out, m.PrincipalID)
		}
		if !out.User.EmailVerified || out.User.Name != in.Name {
			t.Fatalf("the claimed user's profile was not taken from the IdP: %+v", out.User)
		}
		if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 1 {
			t.Fatalf("%d admins after the claim, want 1", n)
		}
		members, _, err := s.ListMembers(bg, o.ID, directory.Page{})
		noErr(t, err)
		if len(members) != 1 {
			t.Fatalf("%d members after the claim, want 1: %+v", len(members), members)
		}
		if n := audited(t, o.ID, "identity.claim"); n != 1 {
			t.Fatalf("%d identity.claim audit entries, want 1", n)
		}
		again := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		if again.User.ID != m.PrincipalID || again.NewUser {
			t.Fatalf("second sign-in: %+v", again)
		}
		if n := audited(t, o.ID, "identity.claim"); n != 1 {
			t.Fatalf("a second sign-in claimed again: %d identity.claim entries", n)
		}
	})

	notClaimed := func(t *testing.T, o directory.Organization, m directory.Member, out directory.LoginOutcome) {
		t.Helper()
		if out.User.ID == m.PrincipalID || !out.NewUser {
			t.Fatalf("the sign-in claimed the bootstrap admin %s: %+v", m.PrincipalID, out)
		}
		if out.Status != directory.LoginNotInvited {
			t.Fatalf("an unclaimed stranger in an invite-only org got %s", out.Status)
		}
		if n := audited(t, o.ID, "identity.claim"); n != 0 {
			t.Fatalf("%d identity.claim entries, want none", n)
		}
	}

	t.Run("not claimed when the IdP does not assert the email verified", func(t *testing.T) {
		t.Parallel()
		o, c, m := setup(t, true)
		in := login(o, c, "sub-"+tok(), m.Email)
		in.EmailVerified = false
		notClaimed(t, o, m, must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in)))
	})

	t.Run("not claimed when the org has not verified the domain", func(t *testing.T) {
		t.Parallel()
		o, c, m := setup(t, false)
		notClaimed(t, o, m, must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-"+tok(), m.Email))))
	})

	t.Run("not claimed when the user already has an identity", func(t *testing.T) {
		t.Parallel()
		o, c, m := setup(t, true)
		first := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-"+tok(), m.Email)))
		if first.User.ID != m.PrincipalID {
			t.Fatalf("the first sign-in did not claim: %+v", first)
		}
		// Another subject with the same address (a second IdP account, or a
		// reassigned mailbox) must not take over the claimed member.
		second := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-"+tok(), m.Email)))
		if second.User.ID == m.PrincipalID || !second.NewUser || second.Status != directory.LoginNotInvited {
			t.Fatalf("a second identity took over the claimed member: %+v", second)
		}
	})

	t.Run("a login says whether it created the join request, so admins are told once", func(t *testing.T) {
		t.Parallel()
		o, _, c := provisionOrg(t, s, directory.JITApproval)
		in := login(o, c, "sub-"+tok(), "asker-"+tok()+"@example.com")
		first := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		second := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, in))
		if first.Status != directory.LoginPendingApproval || !first.NewJoinRequest || second.NewJoinRequest || second.JoinRequest.ID != first.JoinRequest.ID {
			t.Fatalf("first %+v, second %+v", first, second)
		}
	})

	t.Run("not claimed when the identity-less user is not a member of the org", func(t *testing.T) {
		t.Parallel()
		o, c, m := setup(t, true)
		other, _ := newOrg(t, s)
		// The same address made an identity-less admin of another org too;
		// signing in to o claims o's member, never the other org's user.
		om, _, err := s.EnsureAdmin(bg, "cli:ops", other.ID, m.Email)
		noErr(t, err)
		newMember(t, s, o.ID, access.RoleAdmin) // the org keeps an admin
		noErr(t, s.RemoveMember(bg, actorSystem, o.ID, m.PrincipalID))
		out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, c, "sub-"+tok(), m.Email)))
		if out.User.ID == m.PrincipalID || out.User.ID == om.PrincipalID || !out.NewUser {
			t.Fatalf("a non-member was claimed: %+v", out)
		}
	})
}

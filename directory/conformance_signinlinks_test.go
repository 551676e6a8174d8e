package directory_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestSignInLinks proves the operator's one-time console sign-in links on
// both engines: single use under concurrency, expiry, the 15-minute limit,
// members only, the org kept by id, and the audit trail.
func TestSignInLinks(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSignInLinks(t, open(t))
		})
	}
}

func testSignInLinks(t *testing.T, s *directory.SQLStore) {
	const operator = "cli:ops"
	link := func(t *testing.T, orgID, email string, ttl time.Duration) (directory.SignInLink, string) {
		t.Helper()
		l, token, err := s.CreateSignInLink(bg, operator, orgID, email, ttl)
		noErr(t, err)
		return l, token
	}

	t.Run("a link is for the member with that email, shown once, and redeemed once", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		before := time.Now()
		l, token := link(t, o.ID, strings.ToUpper(u.Email), 15*time.Minute)
		if !strings.HasPrefix(l.ID, "sil_") || l.OrgID != o.ID || l.UserID != u.ID || l.Email != u.Email || l.CreatedBy != operator || l.UsedAt != nil {
			t.Fatalf("link = %+v", l)
		}
		if d := l.ExpiresAt.Sub(l.CreatedAt); d != 15*time.Minute || l.CreatedAt.Before(before.Add(-time.Second)) {
			t.Fatalf("created %v, expires %v", l.CreatedAt, l.ExpiresAt)
		}
		if len(token) < 40 || strings.Contains(token, l.ID) {
			t.Fatalf("token %q is not a long random secret", token)
		}
		got, err := s.RedeemSignInLink(bg, token)
		noErr(t, err)
		if got.ID != l.ID || got.UserID != u.ID || got.OrgID != o.ID || got.UsedAt == nil {
			t.Fatalf("redeemed %+v", got)
		}
		_, err = s.RedeemSignInLink(bg, token)
		wantIs(t, err, directory.ErrLinkUsed)
	})

	t.Run("two concurrent redemptions: exactly one wins, the other is told the link was used", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		for round := 0; round < 5; round++ {
			_, token := link(t, o.ID, u.Email, 5*time.Minute)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = s.RedeemSignInLink(bg, token)
				}()
			}
			close(start)
			wg.Wait()
			won, used := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, directory.ErrLinkUsed):
					used++
				default:
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			if won != 1 || used != 1 {
				t.Fatalf("round %d: %d redemptions succeeded and %d were told used, want 1 and 1", round, won, used)
			}
		}
	})

	t.Run("an expired link is refused as expired and stays unused", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		_, token := link(t, o.ID, u.Email, time.Millisecond)
		time.Sleep(20 * time.Millisecond) // the link can only be further past its expiry
		_, err := s.RedeemSignInLink(bg, token)
		wantIs(t, err, directory.ErrLinkExpired)
		_, err = s.RedeemSignInLink(bg, token)
		wantIs(t, err, directory.ErrLinkExpired)
	})

	t.Run("unknown and malformed tokens are not found", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		_, token := link(t, o.ID, u.Email, time.Minute)
		other := token[:len(token)-1] + map[bool]string{true: "A", false: "B"}[token[len(token)-1] != 'A']
		for _, bad := range []string{other, "", "x", strings.Repeat("a", 4096), token + "/", "../" + token[3:]} {
			_, err := s.RedeemSignInLink(bg, bad)
			if !errors.Is(err, directory.ErrNotFound) {
				t.Fatalf("token %.20q: want ErrNotFound, got %v", bad, err)
			}
		}
		// The real token still works: failed attempts do not burn it.
		_, err := s.RedeemSignInLink(bg, token)
		noErr(t, err)
	})

	t.Run("a validity beyond 15 minutes, or none, is refused", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		for _, ttl := range []time.Duration{15*time.Minute + time.Second, time.Hour, 0, -time.Minute} {
			_, _, err := s.CreateSignInLink(bg, operator, o.ID, u.Email, ttl)
			wantInvalid(t, err, "ttl")
		}
	})

	t.Run("only a member of the org gets a link", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		other, _ := newOrg(t, s)
		outsider := newMember(t, s, other.ID, access.RoleAdmin)
		_, _, err := s.CreateSignInLink(bg, operator, o.ID, outsider.Email, time.Minute)
		wantNotFound(t, err, outsider.Email)
		_, _, err = s.CreateSignInLink(bg, operator, o.ID, "nobody-"+tok()+"@example.com", time.Minute)
		wantIs(t, err, directory.ErrNotFound)
		_, _, err = s.CreateSignInLink(bg, operator, "org_missing", outsider.Email, time.Minute)
		wantIs(t, err, directory.ErrNotFound)
		_, _, err = s.CreateSignInLink(bg, operator, o.ID, "not an email", time.Minute)
		wantInvalid(t, err, "email")
	})

	t.Run("a member removed after the link was made cannot redeem it", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		newMember(t, s, o.ID, access.RoleAdmin) // the org keeps an admin
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		_, token := link(t, o.ID, u.Email, time.Minute)
		noErr(t, s.RemoveMember(bg, actorSystem, o.ID, u.ID))
		_, err := s.RedeemSignInLink(bg, token)
		wantIs(t, err, directory.ErrNotFound)
	})

	t.Run("the link keeps its org by id across a rename", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		_, token := link(t, o.ID, u.Email, time.Minute)
		renamed := "Renamed " + tok()
		must[directory.Organization](t)(s.UpdateOrg(bg, actorSystem, o.ID, directory.OrgUpdate{Name: &renamed}))
		got, err := s.RedeemSignInLink(bg, token)
		noErr(t, err)
		if got.OrgID != o.ID {
			t.Fatalf("redeemed for org %s, want %s", got.OrgID, o.ID)
		}
	})

	t.Run("creation and redemption are audited: the operator, then the user", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		u := newMember(t, s, o.ID, access.RoleAdmin)
		l, token := link(t, o.ID, u.Email, time.Minute)
		must[directory.SignInLink](t)(s.RedeemSignInLink(bg, token))
		events, _, err := s.ListAudit(bg, o.ID, directory.AuditFilter{})
		noErr(t, err)
		seen := map[string]string{}
		for _, e := range events {
			if e.Target == l.ID {
				seen[e.Action] = e.Actor
			}
		}
		if seen["signin_link.create"] != operator || seen["signin_link.redeem"] != u.ID {
			t.Fatalf("audit of link %s: %v, want create by %s and redeem by %s", l.ID, seen, operator, u.ID)
		}
		for _, e := range events {
			if strings.Contains(e.Before+e.After, token) {
				t.Fatalf("the audit log holds the link's token: %+v", e)
			}
		}
	})

	t.Run("EnsureAdmin makes one identity-less admin per email and changes nothing on a second call", func(t *testing.T) {
		t.Parallel()
		o, _ := newOrg(t, s)
		email := "first-" + tok() + "@example.com"
		m, created, err := s.EnsureAdmin(bg, operator, o.ID, email)
		noErr(t, err)
		if !created || m.Role != access.RoleAdmin || m.Email != email || m.Type != directory.PrincipalUser {
			t.Fatalf("first call: created %v, member %+v", created, m)
		}
		again, created, err := s.EnsureAdmin(bg, operator, o.ID, strings.ToUpper(email))
		noErr(t, err)
		if created || again.PrincipalID != m.PrincipalID {
			t.Fatalf("second call: created %v, member %+v (first %s)", created, again, m.PrincipalID)
		}
		if n := must[int](t)(s.CountAdmins(bg, o.ID)); n != 1 {
			t.Fatalf("%d admins, want 1", n)
		}
	})
}

package directory_test

import (
	"fmt"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestJWTIssuerMappings proves, on both engines, the widened mapping of a
// trusted JWT issuer (docs/jwt-issuers.md): the round-1 service-account
// shape still works, a user claim maps to a member by verified email or by
// upstream identity, a role claim needs a cap, and refusals are kept per
// issuer, bounded.
func TestJWTIssuerMappings(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testJWTIssuerMappings(t, open(t))
		})
	}
}

func testJWTIssuerMappings(t *testing.T, s *directory.SQLStore) {
	o, _, conn := provisionOrg(t, s, directory.JITAuto)
	sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
	iss := "https://ci-" + tok() + ".example.com"

	t.Run("the round-1 shape: a service account, found by issuer", func(t *testing.T) {
		j := must[directory.JWTIssuer](t)(s.CreateJWTIssuer(bg, actorSystem, directory.JWTIssuer{OrgID: o.ID, Name: "ci",
			Issuer: iss, Audience: "ssobroker", Subject: "repo:acme/app", ServiceAccountID: sa.ID}))
		got := must[[]directory.JWTIssuer](t)(s.FindJWTIssuers(bg, iss))
		if len(got) != 1 || got[0].ServiceAccountID != sa.ID || got[0].UserClaim != "" || got[0].MaxRole != "" || !got[0].CreatedAt.Equal(j.CreatedAt) {
			t.Fatalf("found %+v, want %+v", got, j)
		}
		one := must[directory.JWTIssuer](t)(s.GetJWTIssuer(bg, o.ID, j.ID))
		if one.ID != j.ID || one.Subject != "repo:acme/app" {
			t.Fatalf("get %+v", one)
		}
	})
	t.Run("a user mapping with a capped role claim; the same issuer and subject for another audience", func(t *testing.T) {
		j := must[directory.JWTIssuer](t)(s.CreateJWTIssuer(bg, actorSystem, directory.JWTIssuer{OrgID: o.ID, Name: "people",
			Issuer: iss, Audience: "ssobroker-users", Subject: "repo:acme/app", UserClaim: "email", RoleClaim: "ssb_role", MaxRole: access.RoleOpikMember}))
		if j.UserMatch != directory.JWTMatchEmail || j.ServiceAccountID != "" {
			t.Fatalf("created %+v, want user_match email and no service account", j)
		}
		got := must[directory.JWTIssuer](t)(s.GetJWTIssuer(bg, o.ID, j.ID))
		if got.UserClaim != "email" || got.UserMatch != directory.JWTMatchEmail || got.RoleClaim != "ssb_role" || got.MaxRole != access.RoleOpikMember || got.ServiceAccountID != "" {
			t.Fatalf("stored %+v", got)
		}
		sub := must[directory.JWTIssuer](t)(s.CreateJWTIssuer(bg, actorSystem, directory.JWTIssuer{OrgID: o.ID, Name: "by sub",
			Issuer: iss, Audience: "ssobroker-sub", UserClaim: "sub"}))
		if sub.UserMatch != directory.JWTMatchIdentity {
			t.Fatalf("user_claim sub defaults to %q, want identity", sub.UserMatch)
		}
		if n := len(must[[]directory.JWTIssuer](t)(s.ListJWTIssuers(bg, o.ID))); n != 3 {
			t.Fatalf("listed %d issuers, want 3", n)
		}
	})
	t.Run("the same issuer, audience and subject twice is a conflict", func(t *testing.T) {
		_, err := s.CreateJWTIssuer(bg, actorSystem, directory.JWTIssuer{OrgID: o.ID, Name: "again",
			Issuer: iss, Audience: "ssobroker", Subject: "repo:acme/app", ServiceAccountID: sa.ID})
		wantConflict(t, err)
	})
	t.Run("bad mappings are refused, naming the field", func(t *testing.T) {
		base := directory.JWTIssuer{OrgID: o.ID, Name: "bad", Issuer: iss, Audience: "aud-" + tok()}
		for _, tc := range []struct {
			name  string
			edit  func(j *directory.JWTIssuer)
			field string
		}{
			{"no principal", func(j *directory.JWTIssuer) {}, "service_account_id"},
			{"both principals", func(j *directory.JWTIssuer) { j.ServiceAccountID, j.UserClaim = sa.ID, "email" }, "user_claim"},
			{"user_match without user_claim", func(j *directory.JWTIssuer) { j.ServiceAccountID, j.UserMatch = sa.ID, "email" }, "user_match"},
			{"unknown user_match", func(j *directory.JWTIssuer) { j.UserClaim, j.UserMatch = "email", "name" }, "user_match"},
			{"role claim without a cap", func(j *directory.JWTIssuer) { j.ServiceAccountID, j.RoleClaim = sa.ID, "role" }, "max_role"},
			{"unknown max_role", func(j *directory.JWTIssuer) { j.ServiceAccountID, j.MaxRole = sa.ID, "owner" }, "max_role"},
			{"control character in a claim name", func(j *directory.JWTIssuer) { j.UserClaim = "em\nail" }, "user_claim"},
			{"claim name with spaces around", func(j *directory.JWTIssuer) {
				j.ServiceAccountID, j.RoleClaim, j.MaxRole = sa.ID, " role", access.RoleViewOnly
			}, "role_claim"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				j := base
				tc.edit(&j)
				_, err := s.CreateJWTIssuer(bg, actorSystem, j)
				wantInvalid(t, err, tc.field)
			})
		}
		_, err := s.CreateJWTIssuer(bg, actorSystem, directory.JWTIssuer{OrgID: o.ID, Name: "ghost", Issuer: iss, Audience: "x", ServiceAccountID: "sa_missing"})
		wantNotFound(t, err, "sa_missing")
	})
	t.Run("a user is found by verified email or by upstream identity, in this org only", func(t *testing.T) {
		u := newMember(t, s, o.ID, access.RolePlatformMember)
		m := must[directory.Member](t)(s.FindJWTUser(bg, o.ID, directory.JWTMatchEmail, iss, u.Email))
		if m.PrincipalID != u.ID {
			t.Fatalf("by email: %+v, want %s", m, u.ID)
		}
		other, _ := newOrg(t, s)
		_, err := s.FindJWTUser(bg, other.ID, directory.JWTMatchEmail, iss, u.Email)
		wantNotFound(t, err, "")
		unverified := must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{Email: "unv-" + tok() + "@example.com", Name: "U"}))
		must[directory.Member](t)(s.AddMember(bg, actorSystem, o.ID, unverified.ID, access.RolePlatformMember))
		_, err = s.FindJWTUser(bg, o.ID, directory.JWTMatchEmail, iss, unverified.Email)
		wantNotFound(t, err, "")
		_, err = s.FindJWTUser(bg, o.ID, directory.JWTMatchEmail, iss, "not an email")
		wantNotFound(t, err, "")

		subject := "idp-sub-" + tok()
		out := must[directory.LoginOutcome](t)(s.ProvisionLogin(bg, login(o, conn, subject, "ada-"+tok()+"@acme.com")))
		id := must[directory.Member](t)(s.FindJWTUser(bg, o.ID, directory.JWTMatchIdentity, "https://idp.example.com", subject))
		if id.PrincipalID != out.User.ID {
			t.Fatalf("by identity: %+v, want %s", id, out.User.ID)
		}
		_, err = s.FindJWTUser(bg, o.ID, directory.JWTMatchIdentity, iss, subject)
		wantNotFound(t, err, "")
	})
	t.Run("refusals are kept per issuer, newest first, the last 50", func(t *testing.T) {
		j := must[[]directory.JWTIssuer](t)(s.FindJWTIssuers(bg, iss))[0]
		for i := range directory.MaxJWTIssuerFailures + 5 {
			kept := must[bool](t)(s.RecordJWTIssuerFailure(bg, directory.JWTIssuerFailure{OrgID: o.ID, JWTIssuerID: j.ID,
				Reason: "token_expired", Detail: fmt.Sprintf("refusal %d", i)}))
			if !kept {
				t.Fatal("a refusal of an existing issuer was not kept")
			}
		}
		fs := must[[]directory.JWTIssuerFailure](t)(s.ListJWTIssuerFailures(bg, o.ID, j.ID))
		if len(fs) != directory.MaxJWTIssuerFailures || fs[0].Detail != fmt.Sprintf("refusal %d", directory.MaxJWTIssuerFailures+4) || fs[0].Reason != "token_expired" {
			t.Fatalf("%d failures, first %+v", len(fs), fs[0])
		}
		other, _ := newOrg(t, s)
		if kept := must[bool](t)(s.RecordJWTIssuerFailure(bg, directory.JWTIssuerFailure{OrgID: other.ID, JWTIssuerID: j.ID, Reason: "x"})); kept {
			t.Fatal("a refusal recorded under another org")
		}
		_, err := s.ListJWTIssuerFailures(bg, other.ID, j.ID)
		wantNotFound(t, err, j.ID)
		noErr(t, s.DeleteJWTIssuer(bg, actorSystem, o.ID, j.ID))
		if kept := must[bool](t)(s.RecordJWTIssuerFailure(bg, directory.JWTIssuerFailure{OrgID: o.ID, JWTIssuerID: j.ID, Reason: "x"})); kept {
			t.Fatal("a refusal recorded for a deleted issuer")
		}
	})
}

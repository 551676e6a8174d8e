package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// The trusted JWT issuer commands (docs/jwt-issuers.md) work on the store
// like the admin API's /jwt-issuers routes; the mapping's rules are the
// directory's (CreateJWTIssuer), the URL rule directory.CheckIdPURL.

func jwtIssuerCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	name := fs.String("name", "", "a label for the issuer")
	issuer := fs.String("iss", "", "the exact iss of accepted tokens (https)")
	jwksURI := fs.String("jwks-uri", "", "where its keys are (default: OpenID Connect Discovery from --iss)")
	audience := fs.String("audience", "", "the aud its tokens must carry")
	subject := fs.String("subject", "", "when set, the only sub accepted")
	sa := fs.String("service-account", "", "the service account its tokens act as (sa_…), or --user-claim")
	userClaim := fs.String("user-claim", "", "instead of --service-account: the claim naming the member its tokens act as")
	userMatch := fs.String("user-match", "", "how --user-claim finds the member: email or identity (default: email for the email claim)")
	roleClaim := fs.String("role-claim", "", "a claim carrying the org role asked for (needs --max-role)")
	maxRole := fs.String("max-role", "", "the highest org role a token of this issuer gets")
	return func(ctx context.Context, e *env) error {
		for _, f := range []struct{ flag, v string }{{"name", *name}, {"iss", *issuer}, {"audience", *audience}} {
			if err := required(f.flag, f.v); err != nil {
				return err
			}
		}
		for _, u := range []struct{ flag, v string }{{"iss", *issuer}, {"jwks-uri", *jwksURI}} {
			if u.v == "" {
				continue
			}
			if err := directory.CheckIdPURL(u.v); err != nil {
				return usageError{fmt.Sprintf("--%s: %v", u.flag, err)}
			}
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			j, err := s.CreateJWTIssuer(ctx, e.actor(), directory.JWTIssuer{OrgID: o.ID, Name: *name, Issuer: *issuer, JWKSURI: *jwksURI,
				Audience: *audience, Subject: *subject, ServiceAccountID: *sa, UserClaim: *userClaim, UserMatch: *userMatch,
				RoleClaim: *roleClaim, MaxRole: access.OrgRole(*maxRole)})
			if err != nil {
				return err
			}
			return e.print(j, fmt.Sprintf("trusted %s (%s) in %q: tokens for %s act as %s\n", j.Issuer, j.ID, o.Name, j.Audience, jwtPrincipal(j)))
		})
	}
}

// jwtPrincipal says who a trusted issuer's tokens act as.
func jwtPrincipal(j directory.JWTIssuer) string {
	who := j.ServiceAccountID
	if j.UserClaim != "" {
		who = fmt.Sprintf("the member named by claim %q (%s)", j.UserClaim, j.UserMatch)
	}
	if j.RoleClaim != "" {
		who += fmt.Sprintf(", role from claim %q", j.RoleClaim)
	}
	if j.MaxRole != "" {
		who += ", at most " + string(j.MaxRole)
	}
	return who
}

func jwtIssuerListCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	return func(ctx context.Context, e *env) error {
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			js, err := s.ListJWTIssuers(ctx, o.ID)
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, j := range js {
				rows = append(rows, []string{j.ID, j.Name, j.Issuer, j.Audience, jwtPrincipal(j)})
			}
			return e.print(js, table(rows))
		})
	}
}

func jwtIssuerShowCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	id := fs.String("id", "", "the trusted issuer's id (jwi_…)")
	return func(ctx context.Context, e *env) error {
		if err := required("id", *id); err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			j, err := s.GetJWTIssuer(ctx, o.ID, *id)
			if err != nil {
				return err
			}
			fs, err := s.ListJWTIssuerFailures(ctx, o.ID, j.ID)
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, f := range fs {
				rows = append(rows, []string{f.At.Local().Format("2006-01-02 15:04:05"), f.Reason, f.Detail})
			}
			human := fmt.Sprintf("%s %q: %s for %s acts as %s\nrecent refusals (newest first):\n%s", j.ID, j.Name, j.Issuer, j.Audience, jwtPrincipal(j), table(rows))
			return e.print(map[string]any{"jwt_issuer": j, "recent_failures": fs}, human)
		})
	}
}

func jwtIssuerDeleteCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	id := fs.String("id", "", "the trusted issuer's id (jwi_…)")
	return func(ctx context.Context, e *env) error {
		if err := required("id", *id); err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			if err := s.DeleteJWTIssuer(ctx, e.actor(), o.ID, *id); err != nil {
				return err
			}
			return e.print(map[string]any{"org_id": o.ID, "deleted": *id}, fmt.Sprintf("stopped trusting %s\n", *id))
		})
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// cliActor is the audit-log actor for changes made from the command line.
const cliActor = "system:cli"

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func required(name, v string) error {
	if v == "" {
		return usageError{"--" + name + " is required"}
	}
	return nil
}

func bootstrapCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization name (created if missing)")
	email := fs.String("email", "", "email of the first admin (invited)")
	return func(ctx context.Context, e *env) error {
		if err := errors.Join(required("org", *org), required("email", *email)); err != nil {
			return err
		}
		s, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		return bootstrap(ctx, e, s, *org, *email)
	}
}

// bootstrap creates the org with its default workspace and invites the
// first admin. Running it again changes nothing that already exists.
func bootstrap(ctx context.Context, e *env, s directory.Store, orgName, email string) error {
	var did []string
	o, err := s.GetOrg(ctx, orgName)
	switch {
	case err == nil:
		did = append(did, fmt.Sprintf("organization %q exists (%s)", o.Name, o.ID))
	case errors.Is(err, directory.ErrNotFound):
		var ws directory.Workspace
		if o, ws, err = s.CreateOrg(ctx, cliActor, directory.NewOrg{Name: orgName}); err != nil {
			return err
		}
		did = append(did, fmt.Sprintf("created organization %q (%s) with default workspace %q (%s)", o.Name, o.ID, ws.Name, ws.ID))
	default:
		return err
	}
	inv, found, err := pendingAdminInvitation(ctx, s, o.ID, email)
	if err != nil {
		return err
	}
	status := "pending"
	switch {
	case found:
		did = append(did, fmt.Sprintf("admin invitation for %s is already pending (%s)", email, inv.ID))
	default:
		inv, err = s.CreateInvitation(ctx, cliActor, directory.NewInvitation{OrgID: o.ID, Email: email, Role: access.RoleAdmin})
		if errors.Is(err, directory.ErrConflict) {
			status = "member"
			did = append(did, fmt.Sprintf("%s is already a member of %q; no invitation needed", email, o.Name))
			break
		}
		if err != nil {
			return err
		}
		did = append(did, fmt.Sprintf("invited %s as admin (%s, expires %s)", email, inv.ID, inv.ExpiresAt.Format("2006-01-02 15:04 MST")))
	}
	link := ""
	if status == "pending" {
		link = signInLink(e.cfg.Issuer, o.Name, email, inv.ID)
		did = append(did, "sign-in link (the invitation is accepted once, at the first sign-in with that verified email through one of the org's connections): "+link)
	}
	return e.print(map[string]any{"org": o, "invitation_id": inv.ID, "invitation_status": status, "sign_in_url": link, "actions": did},
		strings.Join(did, "\n")+"\n")
}

func pendingAdminInvitation(ctx context.Context, s directory.Store, orgID, email string) (directory.Invitation, bool, error) {
	invs, err := s.PendingInvitations(ctx, email)
	if err != nil {
		return directory.Invitation{}, false, err
	}
	for _, inv := range invs {
		if inv.OrgID == orgID && inv.Role == access.RoleAdmin {
			return inv, true, nil
		}
	}
	return directory.Invitation{}, false, nil
}

func signInLink(issuer, org, email, invitation string) string {
	q := url.Values{"login_hint": {email}, "invitation": {invitation}}
	return issuer + "/login/" + url.PathEscape(org) + "?" + q.Encode()
}

func orgListCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		s, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		var all []directory.Organization
		var b strings.Builder
		for page := (directory.Page{Limit: 500}); ; {
			orgs, next, err := s.ListOrgs(ctx, page)
			if err != nil {
				return err
			}
			all = append(all, orgs...)
			if next == "" {
				break
			}
			page.After = next
		}
		for _, o := range all {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", o.ID, o.Name, o.Plan)
		}
		if all == nil {
			all = []directory.Organization{}
		}
		return e.print(all, b.String())
	}
}

func orgCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	name := fs.String("name", "", "organization name")
	plan := fs.String("plan", "community", "community, starter or enterprise")
	workspace := fs.String("workspace", "", "name of the first workspace (default: a slug of the org name)")
	return func(ctx context.Context, e *env) error {
		if err := required("name", *name); err != nil {
			return err
		}
		s, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		o, ws, err := s.CreateOrg(ctx, cliActor, directory.NewOrg{Name: *name, Plan: directory.Plan(*plan), WorkspaceName: *workspace})
		if err != nil {
			return err
		}
		return e.print(map[string]any{"org": o, "workspace": ws},
			fmt.Sprintf("created organization %q (%s) with default workspace %q (%s)\n", o.Name, o.ID, ws.Name, ws.ID))
	}
}

func serviceAccountCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	name := fs.String("name", "", "service account name")
	role := fs.String("role", string(access.RolePlatformMember), "org role")
	var workspaces stringList
	fs.Var(&workspaces, "workspace", "WS[:owner|member], repeatable")
	return func(ctx context.Context, e *env) error {
		if err := errors.Join(required("org", *org), required("name", *name)); err != nil {
			return err
		}
		grants := make([]directory.InvitationWorkspace, 0, len(workspaces))
		for _, w := range workspaces {
			ws, r, _ := strings.Cut(w, ":")
			if r == "" {
				r = string(access.WorkspaceMember)
			}
			if !access.WorkspaceRole(r).Valid() {
				return usageError{fmt.Sprintf("--workspace %q: role must be owner or member", w)}
			}
			grants = append(grants, directory.InvitationWorkspace{WorkspaceID: ws, Role: access.WorkspaceRole(r)})
		}
		s, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		o, err := s.GetOrg(ctx, *org)
		if err != nil {
			return err
		}
		sa, err := s.CreateServiceAccount(ctx, cliActor, directory.NewServiceAccount{OrgID: o.ID, Name: *name, Role: access.OrgRole(*role), Workspaces: grants})
		if err != nil {
			return err
		}
		k, secret, err := s.CreateAPIKey(ctx, cliActor, o.ID, sa.ID)
		if err != nil {
			return err
		}
		return e.print(map[string]any{"service_account": sa, "key": k, "api_key": secret},
			fmt.Sprintf("service account %s (%q, %s) in %s\nAPI key (shown once; store it now): %s\n", sa.ID, sa.Name, sa.Role, o.Name, secret))
	}
}

func clientCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	name := fs.String("name", "", "client name")
	public := fs.Bool("public", false, "public client (no secret; PKCE S256 required)")
	adminAPI := fs.Bool("admin-api", false, "let the client ask for scope ssobroker:admin: its users' tokens may then call the admin API (/api/v1)")
	var redirects stringList
	fs.Var(&redirects, "redirect-uri", "exact redirect URI, repeatable")
	return func(ctx context.Context, e *env) error {
		if err := required("name", *name); err != nil {
			return err
		}
		if len(redirects) == 0 {
			return usageError{"--redirect-uri is required"}
		}
		s, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		c, secret, err := s.CreateClient(ctx, cliActor, directory.NewClient{Name: *name, RedirectURIs: redirects, Public: *public, AdminAPI: *adminAPI})
		if err != nil {
			return err
		}
		human := fmt.Sprintf("client %s (%q)\n", c.ID, c.Name)
		if c.AdminAPI {
			human += "admin API: allowed (ask for scope \"openid ssobroker:admin\")\n"
		}
		if secret != "" {
			human += "client secret (shown once; store it now): " + secret + "\n"
		}
		return e.print(map[string]any{"client": c, "client_secret": secret}, human)
	}
}

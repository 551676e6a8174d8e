package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/adminapi"
)

// cliActor is the audit-log actor of commands that do not name the operator;
// the others use env.actor ("cli:<os user>").
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

// withStore runs fn with the opened directory.
func (e *env) withStore(ctx context.Context, fn func(s *directory.SQLStore) error) error {
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// withOrg runs fn with the opened directory and the org ref names (id or name).
func (e *env) withOrg(ctx context.Context, ref string, fn func(s *directory.SQLStore, o directory.Organization) error) error {
	if err := required("org", ref); err != nil {
		return err
	}
	return e.withStore(ctx, func(s *directory.SQLStore) error {
		o, err := s.GetOrg(ctx, ref)
		if err != nil {
			return err
		}
		return fn(s, o)
	})
}

// table renders rows as aligned columns.
func table(rows [][]string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	return b.String()
}

// signInURL is the console sign-in link of a token.
func signInURL(issuer, token string) string {
	return strings.TrimRight(issuer, "/") + "/admin/sign-in/" + token
}

func bootstrapCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization name (created if missing)")
	email := fs.String("email", "", "email of the first admin (made an admin member directly)")
	return func(ctx context.Context, e *env) error {
		if err := errors.Join(required("org", *org), required("email", *email)); err != nil {
			return err
		}
		return e.withStore(ctx, func(s *directory.SQLStore) error { return bootstrap(ctx, e, s, *org, *email) })
	}
}

// bootstrap creates the org with its default workspace and the first admin —
// a user without any upstream identity, claimed at their first sign-in
// through the org's IdP (directory.ProvisionLogin) — and prints a one-time
// console sign-in link. Running it again changes nothing that exists and
// prints a new link.
func bootstrap(ctx context.Context, e *env, s *directory.SQLStore, orgName, email string) error {
	var did []string
	o, err := s.GetOrg(ctx, orgName)
	var ws directory.Workspace
	switch {
	case err == nil:
		did = append(did, fmt.Sprintf("organization %q exists (%s)", o.Name, o.ID))
		ws, _ = s.GetWorkspace(ctx, o.ID, o.Settings.DefaultWorkspace)
	case errors.Is(err, directory.ErrNotFound):
		if o, ws, err = s.CreateOrg(ctx, e.actor(), directory.NewOrg{Name: orgName}); err != nil {
			return err
		}
		did = append(did, fmt.Sprintf("created organization %q (%s) with default workspace %q (%s)", o.Name, o.ID, ws.Name, ws.ID))
	default:
		return err
	}
	m, created, err := s.EnsureAdmin(ctx, e.actor(), o.ID, email)
	if err != nil {
		return err
	}
	if created {
		did = append(did, fmt.Sprintf("made %s an admin of %q (%s)", m.Email, o.Name, m.PrincipalID))
	} else {
		did = append(did, fmt.Sprintf("%s is already a member of %q (%s, %s)", m.Email, o.Name, m.PrincipalID, m.Role))
	}
	l, token, err := s.CreateSignInLink(ctx, e.actor(), o.ID, m.Email, directory.MaxSignInLinkTTL)
	if err != nil {
		return err
	}
	link := signInURL(e.cfg.Issuer, token)
	next := []string{
		"Open this link in your browser within 15 minutes (it works once) to sign in to the console as " + m.Email + ":",
		"  " + link,
		"Then, in the console: Connections → add your IdP (SAML or OIDC); Domains → verify your email domain; Users → invite people.",
		"Your first sign-in through the IdP with " + m.Email + " (verified, in a verified domain) becomes this same admin.",
		"A new link at any time: ssobroker admin sign-in-link --org " + quoteArg(o.Name) + " --email " + m.Email,
	}
	return e.print(map[string]any{"org": o, "workspace": ws, "admin": m, "admin_created": created,
		"sign_in_url": link, "sign_in_link": l, "actions": did, "next": next},
		strings.Join(did, "\n")+"\n\n"+strings.Join(next, "\n")+"\n")
}

// quoteArg quotes a shell argument when it needs it.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"$`\\!*?&;|<>()[]{}#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func signInLinkCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	email := fs.String("email", "", "email of a member of the organization")
	ttl := fs.Duration("ttl", directory.MaxSignInLinkTTL, "validity of the link, at most 15m")
	return func(ctx context.Context, e *env) error {
		if err := required("email", *email); err != nil {
			return err
		}
		if *ttl <= 0 || *ttl > directory.MaxSignInLinkTTL {
			return usageError{fmt.Sprintf("--ttl %s: a sign-in link must expire within 15m", *ttl)}
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			l, token, err := s.CreateSignInLink(ctx, e.actor(), o.ID, *email, *ttl)
			if errors.Is(err, directory.ErrNotFound) {
				return fmt.Errorf("%s is not a member of %q: %w", *email, o.Name, err)
			}
			if err != nil {
				return err
			}
			link := signInURL(e.cfg.Issuer, token)
			return e.print(map[string]any{"sign_in_url": link, "sign_in_link": l},
				fmt.Sprintf("One-time console sign-in link for %s in %q (works once, until %s):\n  %s\n",
					l.Email, o.Name, l.ExpiresAt.Local().Format("15:04:05 MST"), link))
		})
	}
}

func orgListCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		return e.withStore(ctx, func(s *directory.SQLStore) error {
			all := []directory.Organization{}
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
			rows := [][]string{}
			for _, o := range all {
				rows = append(rows, []string{o.ID, o.Name, string(o.Plan)})
			}
			return e.print(all, table(rows))
		})
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
		return e.withStore(ctx, func(s *directory.SQLStore) error {
			o, ws, err := s.CreateOrg(ctx, e.actor(), directory.NewOrg{Name: *name, Plan: directory.Plan(*plan), WorkspaceName: *workspace})
			if err != nil {
				return err
			}
			return e.print(map[string]any{"org": o, "workspace": ws},
				fmt.Sprintf("created organization %q (%s) with default workspace %q (%s)\n", o.Name, o.ID, ws.Name, ws.ID))
		})
	}
}

// allPages collects every page of list.
func allPages[T any](list func(p directory.Page) ([]T, string, error)) ([]T, error) {
	out := []T{}
	for p := (directory.Page{Limit: 500}); ; {
		items, next, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		p.After = next
	}
}

func memberListCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	return func(ctx context.Context, e *env) error {
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			ms, err := allPages(func(p directory.Page) ([]directory.Member, string, error) { return s.ListMembers(ctx, o.ID, p) })
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, m := range ms {
				rows = append(rows, []string{m.PrincipalID, string(m.Role), m.Email, m.Name})
			}
			return e.print(ms, table(rows))
		})
	}
}

// parseGrants reads --workspace WS[:owner|member] flags.
func parseGrants(workspaces []string) ([]directory.InvitationWorkspace, error) {
	grants := make([]directory.InvitationWorkspace, 0, len(workspaces))
	for _, w := range workspaces {
		ws, r, _ := strings.Cut(w, ":")
		if r == "" {
			r = string(access.WorkspaceMember)
		}
		if !access.WorkspaceRole(r).Valid() {
			return nil, usageError{fmt.Sprintf("--workspace %q: role must be owner or member", w)}
		}
		grants = append(grants, directory.InvitationWorkspace{WorkspaceID: ws, Role: access.WorkspaceRole(r)})
	}
	return grants, nil
}

// mailStatus sends an invitation's mail when SMTP is configured and says
// how it went (adminapi's mail statuses).
func (e *env) mailStatus(ctx context.Context, inv directory.Invitation, orgName, link string) (string, error) {
	m, err := e.cfg.mailer(e.log)
	if err != nil {
		return "", err
	}
	if m == nil {
		return adminapi.MailNotConfigured, nil
	}
	if err := m.SendInvitation(ctx, inv, orgName, "", link); err != nil {
		fmt.Fprintf(e.stderr, "ssobroker: the invitation mail was not sent: %v\n", err)
		return adminapi.MailFailed, nil
	}
	return adminapi.MailSent, nil
}

func memberInviteCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	email := fs.String("email", "", "email to invite")
	role := fs.String("role", "", "org role: admin, platform_member, opik_member or view_only_platform_member (default: the org's default role)")
	expires := fs.Duration("expires-in", 7*24*time.Hour, "validity of the invitation, at most 2160h (90 days)")
	var workspaces stringList
	fs.Var(&workspaces, "workspace", "WS[:owner|member], repeatable: workspaces granted on acceptance")
	return func(ctx context.Context, e *env) error {
		if err := required("email", *email); err != nil {
			return err
		}
		grants, err := parseGrants(workspaces)
		if err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			r := o.Settings.DefaultOrgRole
			if *role != "" {
				r = access.OrgRole(*role)
			}
			inv, err := s.CreateInvitation(ctx, e.actor(), directory.NewInvitation{OrgID: o.ID, Email: *email, Role: r, Workspaces: grants, TTL: *expires})
			if err != nil {
				return err
			}
			link := adminapi.AcceptURL(e.cfg.Issuer, inv.ID)
			mail, err := e.mailStatus(ctx, inv, o.Name, link)
			if err != nil {
				return err
			}
			say := map[string]string{
				adminapi.MailSent:          "mailed to " + inv.Email,
				adminapi.MailNotConfigured: "not mailed (SSOBROKER_SMTP_URL is not set): send the link yourself",
				adminapi.MailFailed:        "the mail failed (see above): send the link yourself",
			}[mail]
			return e.print(map[string]any{"invitation": inv, "accept_url": link, "mail": mail},
				fmt.Sprintf("invited %s to %q as %s (%s, expires %s)\naccept link: %s\n%s\n",
					inv.Email, o.Name, inv.Role, inv.ID, inv.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), link, say))
		})
	}
}

func memberRemoveCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	userRef := fs.String("user", "", "the member's id (usr_… or sa_…)")
	email := fs.String("email", "", "the member's email, instead of --user")
	return func(ctx context.Context, e *env) error {
		if (*userRef == "") == (*email == "") {
			return usageError{"give either --user or --email"}
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			id := *userRef
			if *email != "" {
				m, err := s.FindMemberByEmail(ctx, o.ID, *email)
				if err != nil {
					return err
				}
				id = m.PrincipalID
			}
			if err := s.RemoveMember(ctx, e.actor(), o.ID, id); err != nil {
				return err
			}
			return e.print(map[string]any{"org_id": o.ID, "removed": id},
				fmt.Sprintf("removed %s from %q; their browser sessions end at their next request, their access tokens when they expire\n", id, o.Name))
		})
	}
}

func invitationListCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	return func(ctx context.Context, e *env) error {
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			invs, err := allPages(func(p directory.Page) ([]directory.Invitation, string, error) { return s.ListInvitations(ctx, o.ID, p) })
			if err != nil {
				return err
			}
			type item struct {
				directory.Invitation
				AcceptURL string `json:"accept_url"`
			}
			out := []item{}
			rows := [][]string{}
			for _, inv := range invs {
				link := adminapi.AcceptURL(e.cfg.Issuer, inv.ID)
				out = append(out, item{inv, link})
				rows = append(rows, []string{inv.ID, inv.Email, string(inv.Role), string(inv.State), inv.ExpiresAt.Local().Format("2006-01-02"), link})
			}
			return e.print(out, table(rows))
		})
	}
}

func invitationRevokeCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	id := fs.String("id", "", "the invitation's id (inv_…)")
	return func(ctx context.Context, e *env) error {
		if err := required("id", *id); err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			if err := s.RevokeInvitation(ctx, e.actor(), o.ID, *id); err != nil {
				return err
			}
			return e.print(map[string]any{"org_id": o.ID, "revoked": *id}, fmt.Sprintf("revoked invitation %s\n", *id))
		})
	}
}

func workspaceListCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	return func(ctx context.Context, e *env) error {
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			wss, err := allPages(func(p directory.Page) ([]directory.Workspace, string, error) {
				return s.ListWorkspaces(ctx, o.ID, directory.WorkspaceFilter{Page: p})
			})
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, w := range wss {
				def := ""
				if w.Default {
					def = "default"
				}
				rows = append(rows, []string{w.ID, w.Name, def})
			}
			return e.print(wss, table(rows))
		})
	}
}

func workspaceCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	name := fs.String("name", "", "workspace name (unique across the deployment)")
	return func(ctx context.Context, e *env) error {
		if err := required("name", *name); err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			w, err := s.CreateWorkspace(ctx, e.actor(), o.ID, *name, "")
			if err != nil {
				return err
			}
			return e.print(w, fmt.Sprintf("created workspace %q (%s) in %q\n", w.Name, w.ID, o.Name))
		})
	}
}

func serviceAccountListCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	return func(ctx context.Context, e *env) error {
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			sas, err := allPages(func(p directory.Page) ([]directory.ServiceAccount, string, error) {
				return s.ListServiceAccounts(ctx, o.ID, p)
			})
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, sa := range sas {
				rows = append(rows, []string{sa.ID, sa.Name, string(sa.Role)})
			}
			return e.print(sas, table(rows))
		})
	}
}

func serviceAccountCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	name := fs.String("name", "", "service account name")
	role := fs.String("role", string(access.RolePlatformMember), "org role")
	var workspaces stringList
	fs.Var(&workspaces, "workspace", "WS[:owner|member], repeatable")
	return func(ctx context.Context, e *env) error {
		if err := required("name", *name); err != nil {
			return err
		}
		grants, err := parseGrants(workspaces)
		if err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			sa, err := s.CreateServiceAccount(ctx, e.actor(), directory.NewServiceAccount{OrgID: o.ID, Name: *name, Role: access.OrgRole(*role), Workspaces: grants})
			if err != nil {
				return err
			}
			k, secret, err := s.CreateAPIKey(ctx, e.actor(), o.ID, sa.ID)
			if err != nil {
				return err
			}
			return e.print(map[string]any{"service_account": sa, "key": k, "api_key": secret},
				fmt.Sprintf("service account %s (%q, %s) in %s\nAPI key (shown once; store it now): %s\n", sa.ID, sa.Name, sa.Role, o.Name, secret))
		})
	}
}

func keyCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	sa := fs.String("service-account", "", "the service account's id (sa_…)")
	return func(ctx context.Context, e *env) error {
		if err := required("service-account", *sa); err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			k, secret, err := s.CreateAPIKey(ctx, e.actor(), o.ID, *sa)
			if err != nil {
				return err
			}
			return e.print(map[string]any{"key": k, "api_key": secret},
				fmt.Sprintf("API key %s for %s (shown once; store it now): %s\n", k.ID, *sa, secret))
		})
	}
}

func keyRevokeCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	key := fs.String("key", "", "the key's id (key_…)")
	return func(ctx context.Context, e *env) error {
		if err := required("key", *key); err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			if err := s.RevokeAPIKey(ctx, e.actor(), o.ID, *key); err != nil {
				return err
			}
			return e.print(map[string]any{"org_id": o.ID, "revoked": *key}, fmt.Sprintf("revoked API key %s\n", *key))
		})
	}
}

func clientCreateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	name := fs.String("name", "", "client name")
	public := fs.Bool("public", false, "public client (no secret; PKCE S256 required)")
	adminAPI := fs.Bool("admin-api", false, "let the client ask for scope ssobroker:admin: its users' tokens may then call the admin API (/api/v1)")
	backchannelURI := fs.String("backchannel-logout-uri", "", "OpenID Connect Back-Channel Logout: where to POST a logout_token when a session in which the client received tokens ends")
	backchannelSession := fs.Bool("backchannel-logout-session-required", false, "the client needs the sid claim in logout tokens (always sent)")
	var redirects stringList
	fs.Var(&redirects, "redirect-uri", "exact redirect URI, repeatable")
	return func(ctx context.Context, e *env) error {
		if err := required("name", *name); err != nil {
			return err
		}
		if len(redirects) == 0 {
			return usageError{"--redirect-uri is required"}
		}
		return e.withStore(ctx, func(s *directory.SQLStore) error {
			c, secret, err := s.CreateClient(ctx, e.actor(), directory.NewClient{Name: *name, RedirectURIs: redirects, Public: *public, AdminAPI: *adminAPI,
				BackchannelLogoutURI: *backchannelURI, BackchannelLogoutSessionRequired: *backchannelSession})
			if err != nil {
				return err
			}
			human := fmt.Sprintf("client %s (%q)\n", c.ID, c.Name)
			if c.AdminAPI {
				human += "admin API: allowed (ask for scope \"openid ssobroker:admin\")\n"
			}
			if c.BackchannelLogoutURI != "" {
				human += "back-channel logout: " + c.BackchannelLogoutURI + "\n"
			}
			if secret != "" {
				human += "client secret (shown once; store it now): " + secret + "\n"
			}
			return e.print(map[string]any{"client": c, "client_secret": secret}, human)
		})
	}
}

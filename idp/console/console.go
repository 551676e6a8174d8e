// Package console is ssobroker's admin console and account pages: the
// server-rendered HTML face of the directory for people signed in with a
// browser session (docs/console.md).
//
//   - /admin/{org}/… — the org admin's tabs (General, Workspaces, Users,
//     Organization settings, Service accounts, Billing, Audit, Connections,
//     Domains), for members holding org.admin;
//   - /account and /account/workspaces/{ws} — every signed-in person: who they
//     are, their orgs and workspaces, and the members of the workspaces they
//     own or may invite to;
//   - /admin/sign-in/{token} — redeeming an operator's one-time sign-in link;
//   - /invite/{id} — the landing page of an invitation link.
//
// Authentication is the idp browser session cookie only (never a bearer
// token): the session is read from the session store and checked with the
// directory's SessionStanding at every request; the session's org is the only
// org the console serves (any other {org} is 404). Every change is a POST
// carrying a CSRF token (double-submit cookie, the one idp uses, compared in
// constant time) and goes through the same directory Store methods and the
// same access functions as the admin API: the console re-implements no rule.
// Pages work without JavaScript; the embedded static script only adds copy
// buttons and a dialog.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/templates"
)

// Store is what the console needs of the directory; *directory.SQLStore
// satisfies it.
type Store interface {
	// SessionStanding is the one validity check of a browser session.
	SessionStanding(ctx context.Context, orgID, userID, connectionID string) (directory.PrincipalAccess, error)
	// SwitchStanding is the one check of moving a sign-in to another of
	// the user's organizations (the token exchange makes it too).
	SwitchStanding(ctx context.Context, orgID, userID, connectionID, target string) (directory.PrincipalAccess, error)
	PrincipalAccess(ctx context.Context, orgID, principalID string) (directory.PrincipalAccess, error)

	GetOrg(ctx context.Context, ref string) (directory.Organization, error)
	UpdateOrg(ctx context.Context, actor, orgID string, u directory.OrgUpdate) (directory.Organization, error)

	CreateWorkspace(ctx context.Context, actor, orgID, name, owner string) (directory.Workspace, error)
	GetWorkspace(ctx context.Context, orgID, ref string) (directory.Workspace, error)
	ListWorkspaces(ctx context.Context, orgID string, f directory.WorkspaceFilter) ([]directory.Workspace, string, error)
	SetDefaultWorkspace(ctx context.Context, actor, orgID, wsID string) error
	DeleteWorkspace(ctx context.Context, actor, orgID, wsID, newDefault string) error

	GetUser(ctx context.Context, id string) (directory.User, error)
	GetMember(ctx context.Context, orgID, principalID string) (directory.Member, error)
	ListPrincipalOrgs(ctx context.Context, principalID string) ([]directory.Member, error)
	SetMemberRole(ctx context.Context, actor, orgID, principalID string, role access.OrgRole, ifVersion int64) (directory.Member, error)
	RemoveMember(ctx context.Context, actor, orgID, principalID string) error
	SearchMembers(ctx context.Context, orgID string, f directory.MemberFilter) ([]directory.Member, string, error)
	CountMembers(ctx context.Context, orgID string) (directory.MemberCounts, error)

	PutWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string, m access.Membership) (directory.WorkspaceMember, error)
	RemoveWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string) error
	ListWorkspaceMembers(ctx context.Context, orgID, wsID string, p directory.Page) ([]directory.WorkspaceMember, string, error)
	PrincipalWorkspaces(ctx context.Context, orgID, principalID string) ([]directory.WorkspaceMember, error)
	WorkspacesOfPrincipals(ctx context.Context, orgID string, principals []string) (map[string][]directory.WorkspaceMember, error)

	CreateInvitation(ctx context.Context, actor string, in directory.NewInvitation) (directory.Invitation, error)
	GetInvitation(ctx context.Context, orgID, id string) (directory.Invitation, error)
	SearchInvitations(ctx context.Context, orgID string, f directory.ListFilter) ([]directory.Invitation, string, error)
	RevokeInvitation(ctx context.Context, actor, orgID, id string) error
	SearchJoinRequests(ctx context.Context, orgID string, f directory.ListFilter) ([]directory.JoinRequest, string, error)
	ApproveJoinRequest(ctx context.Context, actor, orgID, id string) (directory.Member, error)
	DenyJoinRequest(ctx context.Context, actor, orgID, id string) error

	CreateServiceAccount(ctx context.Context, actor string, in directory.NewServiceAccount) (directory.ServiceAccount, error)
	GetServiceAccount(ctx context.Context, orgID, id string) (directory.ServiceAccount, error)
	SearchServiceAccounts(ctx context.Context, orgID string, f directory.ListFilter) ([]directory.ServiceAccount, string, error)
	DeleteServiceAccount(ctx context.Context, actor, orgID, id string) error
	CreateAPIKey(ctx context.Context, actor, orgID, serviceAccountID string) (directory.APIKey, string, error)
	ListAPIKeys(ctx context.Context, orgID, serviceAccountID string) ([]directory.APIKey, error)
	RevokeAPIKey(ctx context.Context, actor, orgID, keyID string) error

	ListConnections(ctx context.Context, orgID string) ([]directory.Connection, error)
	ListDomains(ctx context.Context, orgID string) ([]directory.Domain, error)
	ListAudit(ctx context.Context, orgID string, f directory.AuditFilter) ([]directory.AuditEvent, string, error)
}

// Sessions is what the console needs of the session store; session.Store
// satisfies it.
type Sessions interface {
	GetSession(ctx context.Context, id string) (session.Session, error)
	CreateSession(ctx context.Context, s session.Session) (session.Session, error)
	DeleteSession(ctx context.Context, id string) error
	RevokeSessionFamilies(ctx context.Context, userID, sessionHandle string, keepOffline bool) (int, error)
	ListUserSessions(ctx context.Context, userID string) ([]session.Session, error)
	RevokeUserSessions(ctx context.Context, userID string) (int, error)
	RevokeUserFamilies(ctx context.Context, userID string) (int, error)
}

// InvitationMailer sends an invitation's accept link by mail. A nil mailer
// means mail is not configured: the link is only shown to the inviter.
type InvitationMailer interface {
	SendInvitation(ctx context.Context, inv directory.Invitation, orgName, inviterName, acceptURL string) error
}

// RedeemedLink is what an operator's one-time sign-in link signs in as.
type RedeemedLink struct {
	OrgID, UserID string
}

// Errors a SignInLinks returns besides directory.ErrNotFound (unknown link).
var (
	// ErrLinkExpired: the link's time is up.
	ErrLinkExpired = errors.New("console: sign-in link expired")
	// ErrLinkUsed: the link was already used.
	ErrLinkUsed = errors.New("console: sign-in link already used")
)

// SignInLinks redeems an operator's one-time console sign-in link: it marks
// the link used atomically and says whom it signs in. Errors: one wrapping
// directory.ErrNotFound, ErrLinkExpired or ErrLinkUsed, or a store error.
type SignInLinks interface {
	RedeemSignInLink(ctx context.Context, token string) (RedeemedLink, error)
}

// InvitationFinder finds an invitation by its id alone, for the invitation
// link's landing page.
type InvitationFinder interface {
	FindInvitation(ctx context.Context, id string) (directory.Invitation, error)
}

// Config is what New needs. Store, Sessions and Key are required.
type Config struct {
	// Issuer is the broker's public base URL; accept links are built from it
	// and cookies are Secure when it is https.
	Issuer   string
	Store    Store
	Sessions Sessions
	// Key (at least 32 bytes) signs the flash-message cookie. Every replica
	// must have the same key.
	Key []byte
	// Mailer sends invitation links; nil: mail is not configured.
	Mailer InvitationMailer
	// SignInLinks redeems operator sign-in links; nil: the route says links
	// are not available.
	SignInLinks SignInLinks
	// Invitations finds an invitation by id for /invite/{id}; nil: the page
	// asks the invitee to sign in with the link's organization instead.
	Invitations InvitationFinder
	// Connections saves connections, verifies domains and makes setup
	// links through the admin API's rules; SelfService is the directory
	// beside Store for the Connections and Domains tabs and the setup link.
	// When either is nil those tabs are read-only and /setup/ is off.
	Connections ConnectionEditor
	SelfService SelfServiceStore
	// Tests runs test sign-ins ("Test this connection"; idp.Service); nil:
	// the button says tests are not available.
	Tests adminapi.ConnectionTester
	// Templates renders the pages; nil loads the embedded ones.
	Templates *templates.Set
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// SessionCookieDomain is the session cookie's Domain, as for package
	// idp (SSOBROKER_SESSION_COOKIE_DOMAIN); empty: host-only.
	SessionCookieDomain string
}

// Console serves the console's routes. Create it with New.
type Console struct {
	issuer   string
	base     string
	secure   bool
	cookie   session.BrowserCookie
	store    Store
	sessions Sessions
	mailer   InvitationMailer
	links    SignInLinks
	invites  InvitationFinder
	conns    ConnectionEditor
	self     SelfServiceStore
	tests    adminapi.ConnectionTester
	pages    *templates.Set
	flashKey []byte
	setupKey []byte
	log      *slog.Logger
	now      func() time.Time
}

// New returns the console for cfg.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.Sessions == nil {
		return nil, errors.New("console: Store and Sessions are required")
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("console: Key must be at least 32 bytes")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("console: issuer %q is not an absolute http(s) URL", cfg.Issuer)
	}
	domain, err := session.ValidateCookieDomain(cfg.SessionCookieDomain, u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("console: session cookie domain %q: %w", cfg.SessionCookieDomain, err)
	}
	c := &Console{
		issuer: strings.TrimSuffix(cfg.Issuer, "/"), base: strings.TrimSuffix(u.Path, "/"), secure: u.Scheme == "https",
		store: cfg.Store, sessions: cfg.Sessions, mailer: cfg.Mailer, links: cfg.SignInLinks, invites: cfg.Invitations, conns: cfg.Connections, self: cfg.SelfService, tests: cfg.Tests,
		pages: cfg.Templates, flashKey: deriveKey(cfg.Key, "ssobroker console flash v1"),
		setupKey: deriveKey(cfg.Key, "ssobroker setup link csrf v1"), log: cfg.Logger, now: cfg.Now,
		cookie: session.BrowserCookie{Domain: domain, Secure: u.Scheme == "https"},
	}
	if c.pages == nil {
		if c.pages, err = templates.Load(); err != nil {
			return nil, err
		}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Routes registers the console's routes and the static files on mux.
func (c *Console) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+templates.StaticPath, templates.StaticHandler())
	// Browsers ask every site for /favicon.ico; a 404 there is an error in
	// their console on every page. There is no icon: 204, cached for a day.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})

	mux.HandleFunc("GET /admin", c.adminIndex)
	mux.HandleFunc("GET /admin/{org}", c.admin(c.orgHome))
	mux.HandleFunc("GET /admin/{org}/{tab}", c.admin(c.tabPage))
	mux.HandleFunc("POST /admin/{org}/{tab}", c.admin(c.tabPost))
	mux.HandleFunc("GET /admin/{org}/workspaces/{ws}", c.admin(c.workspacePage))
	mux.HandleFunc("POST /admin/{org}/workspaces/{ws}/{action}", c.admin(c.workspacePost))
	mux.HandleFunc("POST /admin/{org}/workspaces/{ws}/members/{principal}/{action}", c.admin(c.workspaceMemberPost))
	mux.HandleFunc("GET /admin/{org}/users/{principal}", c.admin(c.memberPage))
	mux.HandleFunc("POST /admin/{org}/users/{principal}/{action}", c.admin(c.memberPost))
	mux.HandleFunc("POST /admin/{org}/invitations/{id}/{action}", c.admin(c.invitationPost))
	mux.HandleFunc("POST /admin/{org}/requests/{id}/{action}", c.admin(c.requestPost))
	mux.HandleFunc("GET /admin/{org}/service-accounts/{id}", c.admin(c.serviceAccountPage))
	mux.HandleFunc("POST /admin/{org}/service-accounts/{id}/{action}", c.admin(c.serviceAccountPost))
	mux.HandleFunc("POST /admin/{org}/service-accounts/{id}/keys/{key}/revoke", c.admin(c.revokeKey))

	mux.HandleFunc("GET /account", c.signedIn(c.accountPage))
	mux.HandleFunc("POST /account/switch", c.signedIn(c.switchOrg))
	mux.HandleFunc("GET /account/workspaces/{ws}", c.signedIn(c.accountWorkspacePage))
	mux.HandleFunc("POST /account/workspaces/{ws}/{action}", c.signedIn(c.accountWorkspacePost))
	mux.HandleFunc("POST /account/workspaces/{ws}/members/{principal}/{action}", c.signedIn(c.accountWorkspaceMemberPost))

	c.selfServiceRoutes(mux)

	mux.HandleFunc("GET /admin/sign-in/{token}", c.signInLinkPage)
	mux.HandleFunc("POST /admin/sign-in/{token}", c.signInLinkRedeem)
	mux.HandleFunc("GET /invite/{id}", c.invitationPage)
}

// loginURL is the sign-in page that comes back to the path of r.
func (c *Console) loginURL(r *http.Request) string {
	back := r.URL.Path
	if r.URL.RawQuery != "" {
		back += "?" + r.URL.RawQuery
	}
	if !idp.ValidReturnTo(back) {
		back = "/account"
	}
	return c.base + idp.LoginPath + "?" + url.Values{idp.ReturnToParam: {back}}.Encode()
}

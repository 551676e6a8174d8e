// Package adminapi is ssobroker's admin REST API under /api/v1: what the admin
// console, scripts and automation use to manage an organization — its
// settings, workspaces, members, invitations, join requests, service accounts
// and keys, upstream connections, email domains, trusted JWT issuers and audit
// log. openapi.json (served at GET /api/v1/openapi.json) describes every
// route; README.md ("Admin API") says how to use it.
//
// Every request is authenticated (an access token through BearerVerifier, or
// an API key looked up in the directory), confined to the one organization its
// credential belongs to (any other {org} is 404), and authorized by the
// directory's one permission function (package access) with the caller's
// current role as the directory holds it. Handlers are thin: the directory
// enforces its invariants itself, and one function turns its errors into HTTP
// statuses.
package adminapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// TokenPrincipal is what a verified access token says about its bearer.
type TokenPrincipal struct {
	// Subject is the principal: a user ("usr_…") or a service account ("sa_…").
	Subject string
	// OrgID is the one organization the token was issued for.
	OrgID string
	// Workspace, when not empty, is the workspace (name or id) the token was
	// narrowed to; such a token acts in that workspace only.
	Workspace string
	// AdminAPI reports that the token was issued for the admin API (scope
	// ssobroker:admin, aud naming {issuer}/api/v1). A user's token without
	// it is refused with 403 insufficient_scope; a service account's token
	// needs none.
	AdminAPI bool
}

// BearerVerifier checks an access token (a JWT of ours) and says whose it is.
// It returns an error for every token that must be refused; an error wrapping
// ErrVerifierUnavailable or directory.ErrUnavailable means the verifier could
// not decide (for example, no signing keys yet) and is answered with 503
// instead of 401.
type BearerVerifier interface {
	VerifyAccessToken(ctx context.Context, token string) (TokenPrincipal, error)
}

// ErrVerifierUnavailable is wrapped by a BearerVerifier's error when it cannot
// decide whether a token is valid right now.
var ErrVerifierUnavailable = errors.New("token verifier unavailable")

// TXTResolver looks up DNS TXT records. A name that does not exist is an error
// for which (*net.DNSError).IsNotFound is true, as net.Resolver returns.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// SessionRevoker ends a user's browser sessions and refresh-token families in
// an organization. The sign-in issue provides it; until then Config.Sessions
// is nil and revocation is a no-op.
type SessionRevoker interface {
	RevokeUser(ctx context.Context, orgID, userID string) error
}

// Config is what New needs. Store is required (New fails without it); the
// others are optional, and each says what the API does without it.
type Config struct {
	// Store is the directory.
	Store Store
	// Tokens verifies access tokens presented as "Authorization: Bearer <jwt>".
	// When nil, only API keys authenticate.
	Tokens BearerVerifier
	// Resolver looks up the TXT records that prove control of a domain;
	// nil means the system resolver (NetResolver{}).
	Resolver TXTResolver
	// Sessions, when set, is told to end a user's sessions when the user is
	// removed from an org or an admin asks for it.
	Sessions SessionRevoker
	// Connections checks, prepares (seals secrets, makes SP key pairs) and
	// describes connections' protocol sections: the connector packages' rules
	// (idp.Configurator). When nil, connections can be read and deleted but
	// not configured.
	Connections ConnectionConfigurator
	// Failures lists connections' recent sign-in failures; nil answers an
	// empty list.
	Failures FailureLister
	// Tests runs test sign-ins through connections (idp.Service); nil
	// answers 501 on their routes.
	Tests ConnectionTester
	// SetupLinks stores setup links; nil answers 501 on their routes.
	SetupLinks SetupLinkStore
	// Webhooks manages the org's webhooks (docs/webhooks.md); nil answers 501
	// on the /webhooks routes.
	Webhooks WebhookService
	// JWTIssuers stores trusted external JWT issuers. When nil, the
	// /jwt-issuers routes answer 501 (the directory has no table for them yet).
	JWTIssuers JWTIssuerStore
	// Logger receives request errors; nil discards them. Secrets, API keys
	// and tokens are never logged.
	Logger *slog.Logger
	// Issuer is the broker's public base URL; the OpenAPI document names it as
	// its server.
	Issuer string
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// Mailer sends invitation emails; nil means mail is not configured (the
	// answer says "mail":"not_configured" and still carries the link).
	Mailer InvitationMailer
}

// API serves the admin REST API. Create it with New and mount it with Routes.
type API struct {
	store      Store
	tokens     BearerVerifier
	resolver   TXTResolver
	sessions   SessionRevoker
	conns      ConnectionConfigurator
	failures   FailureLister
	setupLinks SetupLinkStore
	tests      ConnectionTester
	jwtIssuers JWTIssuerStore
	webhooks   WebhookService
	mailer     InvitationMailer
	log        *slog.Logger
	issuer     string
	now        func() time.Time
	openapi    []byte
}

// New returns the API for cfg. It fails when cfg.Store is nil: a missing
// dependency is reported at construction (docs/architecture.md,
// "Construction and failures").
func New(cfg Config) (*API, error) {
	if cfg.Store == nil {
		return nil, errors.New("adminapi: Config.Store is required")
	}
	a := &API{
		store: cfg.Store, tokens: cfg.Tokens, resolver: cfg.Resolver, sessions: cfg.Sessions,
		conns: cfg.Connections, failures: cfg.Failures, setupLinks: cfg.SetupLinks, tests: cfg.Tests, jwtIssuers: cfg.JWTIssuers, log: cfg.Logger, issuer: cfg.Issuer, now: cfg.Now,
	}
	if a.resolver == nil {
		a.resolver = NetResolver{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.webhooks = cfg.Webhooks
	a.mailer = cfg.Mailer
	a.openapi = openAPIDocument(a.issuer)
	return a, nil
}

// Routes registers every admin API route on mux, with Go 1.22 method patterns.
func (a *API) Routes(mux *http.ServeMux) {
	for _, rt := range routeTable() {
		mux.Handle(rt.method+" "+rt.pattern, a.handler(rt))
	}
}

// route is one admin API endpoint. The table of routes registers the mux and
// is compared with the OpenAPI document by a test, so the two cannot drift.
type route struct {
	method  string
	pattern string
	// public routes need no credentials (only the OpenAPI document).
	public bool
	handle func(a *API, w http.ResponseWriter, r *http.Request, c *caller) error
}

// routeTable lists every route of the admin API.
func routeTable() []route {
	const org = "/api/v1/orgs/{org}"
	return []route{
		{method: "GET", pattern: "/api/v1/openapi.json", public: true, handle: (*API).getOpenAPI},
		{method: "GET", pattern: "/api/v1/me", handle: (*API).getMe},

		{method: "GET", pattern: org, handle: (*API).getOrg},
		{method: "PATCH", pattern: org, handle: (*API).patchOrg},
		{method: "GET", pattern: org + "/billing", handle: (*API).getBilling},

		{method: "GET", pattern: org + "/workspaces", handle: (*API).listWorkspaces},
		{method: "POST", pattern: org + "/workspaces", handle: (*API).createWorkspace},
		{method: "GET", pattern: org + "/workspaces/{ws}", handle: (*API).getWorkspace},
		{method: "PATCH", pattern: org + "/workspaces/{ws}", handle: (*API).patchWorkspace},
		{method: "DELETE", pattern: org + "/workspaces/{ws}", handle: (*API).deleteWorkspace},
		{method: "PUT", pattern: org + "/workspaces/{ws}/default", handle: (*API).putDefaultWorkspace},
		{method: "GET", pattern: org + "/workspaces/{ws}/members", handle: (*API).listWorkspaceMembers},
		{method: "PUT", pattern: org + "/workspaces/{ws}/members/{principal}", handle: (*API).putWorkspaceMember},
		{method: "DELETE", pattern: org + "/workspaces/{ws}/members/{principal}", handle: (*API).deleteWorkspaceMember},

		{method: "GET", pattern: org + "/members", handle: (*API).listMembers},
		{method: "GET", pattern: org + "/members/{user}", handle: (*API).getMember},
		{method: "PATCH", pattern: org + "/members/{user}", handle: (*API).patchMember},
		{method: "DELETE", pattern: org + "/members/{user}", handle: (*API).deleteMember},
		{method: "DELETE", pattern: org + "/members/{user}/sessions", handle: (*API).deleteMemberSessions},

		{method: "GET", pattern: org + "/invitations", handle: (*API).listInvitations},
		{method: "POST", pattern: org + "/invitations", handle: (*API).createInvitation},
		{method: "DELETE", pattern: org + "/invitations/{id}", handle: (*API).revokeInvitation},
		{method: "POST", pattern: org + "/invitations/{id}/resend", handle: (*API).resendInvitation},

		{method: "GET", pattern: org + "/requests", handle: (*API).listJoinRequests},
		{method: "POST", pattern: org + "/requests/{id}/approve", handle: (*API).approveJoinRequest},
		{method: "POST", pattern: org + "/requests/{id}/deny", handle: (*API).denyJoinRequest},

		{method: "GET", pattern: org + "/service-accounts", handle: (*API).listServiceAccounts},
		{method: "POST", pattern: org + "/service-accounts", handle: (*API).createServiceAccount},
		{method: "PATCH", pattern: org + "/service-accounts/{id}", handle: (*API).patchServiceAccount},
		{method: "DELETE", pattern: org + "/service-accounts/{id}", handle: (*API).deleteServiceAccount},
		{method: "GET", pattern: org + "/service-accounts/{id}/keys", handle: (*API).listAPIKeys},
		{method: "POST", pattern: org + "/service-accounts/{id}/keys", handle: (*API).createAPIKey},
		{method: "DELETE", pattern: org + "/service-accounts/{id}/keys/{key}", handle: (*API).revokeAccountAPIKey},
		{method: "DELETE", pattern: org + "/keys/{key}", handle: (*API).revokeAPIKey},

		{method: "GET", pattern: org + "/connections", handle: (*API).listConnections},
		{method: "POST", pattern: org + "/connections", handle: (*API).createConnection},
		{method: "GET", pattern: org + "/connections/{id}", handle: (*API).getConnection},
		{method: "PATCH", pattern: org + "/connections/{id}", handle: (*API).patchConnection},
		{method: "DELETE", pattern: org + "/connections/{id}", handle: (*API).deleteConnection},
		{method: "GET", pattern: org + "/connections/{id}/failures", handle: (*API).listConnectionFailures},
		{method: "GET", pattern: org + "/connections/{id}/sp-keys", handle: (*API).getSPKeys},
		{method: "POST", pattern: org + "/connections/{id}/sp-keys/rotate", handle: (*API).rotateSPKey},
		{method: "POST", pattern: org + "/connections/{id}/test", handle: (*API).startConnectionTest},
		{method: "GET", pattern: org + "/connections/{id}/tests/{tid}", handle: (*API).getConnectionTest},

		{method: "GET", pattern: org + "/setup-links", handle: (*API).listSetupLinks},
		{method: "POST", pattern: org + "/setup-links", handle: (*API).createSetupLink},
		{method: "DELETE", pattern: org + "/setup-links/{id}", handle: (*API).revokeSetupLink},

		{method: "GET", pattern: org + "/domains", handle: (*API).listDomains},
		{method: "POST", pattern: org + "/domains", handle: (*API).addDomain},
		{method: "DELETE", pattern: org + "/domains/{domain}", handle: (*API).deleteDomain},
		{method: "POST", pattern: org + "/domains/{domain}/verify", handle: (*API).verifyDomain},

		{method: "GET", pattern: org + "/jwt-issuers", handle: (*API).listJWTIssuers},
		{method: "POST", pattern: org + "/jwt-issuers", handle: (*API).createJWTIssuer},
		{method: "GET", pattern: org + "/jwt-issuers/{id}", handle: (*API).getJWTIssuer},
		{method: "DELETE", pattern: org + "/jwt-issuers/{id}", handle: (*API).deleteJWTIssuer},
		{method: "GET", pattern: org + "/jwt-issuers/{id}/failures", handle: (*API).listJWTIssuerFailures},

		{method: "GET", pattern: org + "/scim-tokens", handle: (*API).listSCIMTokens},
		{method: "POST", pattern: org + "/scim-tokens", handle: (*API).createSCIMToken},
		{method: "DELETE", pattern: org + "/scim-tokens/{id}", handle: (*API).revokeSCIMToken},

		{method: "GET", pattern: org + "/webhooks", handle: (*API).listWebhooks},
		{method: "POST", pattern: org + "/webhooks", handle: (*API).createWebhook},
		{method: "GET", pattern: org + "/webhooks/{id}", handle: (*API).getWebhook},
		{method: "PATCH", pattern: org + "/webhooks/{id}", handle: (*API).patchWebhook},
		{method: "DELETE", pattern: org + "/webhooks/{id}", handle: (*API).deleteWebhook},
		{method: "GET", pattern: org + "/webhooks/{id}/deliveries", handle: (*API).listWebhookDeliveries},
		{method: "POST", pattern: org + "/webhooks/{id}/deliveries/{did}/retry", handle: (*API).retryWebhookDelivery},

		{method: "GET", pattern: org + "/audit", handle: (*API).listAudit},
	}
}

// handler wraps a route: common headers, authentication, the {org} check and
// error rendering.
func (a *API) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		var c *caller
		if !rt.public {
			var err error
			if c, err = a.authenticate(r); err != nil {
				a.writeError(w, r, err)
				return
			}
			if r.PathValue("org") != "" {
				if err := c.checkOrg(r.PathValue("org")); err != nil {
					a.writeError(w, r, err)
					return
				}
			}
		}
		if err := rt.handle(a, w, r, c); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// Store is everything the admin API needs of the directory; directory.Store
// (and *directory.SQLStore) satisfies it.
type Store interface {
	AuthStore
	OrgStore
	WorkspaceStore
	MemberStore
	InvitationStore
	ServiceAccountStore
	ConnectionStore
	DomainStore
	AuditStore
}

// AuthStore is what authentication and authorization read.
type AuthStore interface {
	LookupAPIKey(ctx context.Context, secret string) (directory.KeyPrincipal, error)
	TouchAPIKey(ctx context.Context, keyID string, at time.Time) error
	PrincipalAccess(ctx context.Context, orgID, principalID string) (directory.PrincipalAccess, error)
	ListPrincipalOrgs(ctx context.Context, principalID string) ([]directory.Member, error)
}

// OrgStore changes an organization.
type OrgStore interface {
	UpdateOrg(ctx context.Context, actor, orgID string, u directory.OrgUpdate) (directory.Organization, error)
	// CountMembers counts members, human admins and pending join requests (Billing).
	CountMembers(ctx context.Context, orgID string) (directory.MemberCounts, error)
}

// WorkspaceStore reads and changes workspaces and their members.
type WorkspaceStore interface {
	CreateWorkspace(ctx context.Context, actor, orgID, name, owner string) (directory.Workspace, error)
	GetWorkspace(ctx context.Context, orgID, ref string) (directory.Workspace, error)
	ListWorkspaces(ctx context.Context, orgID string, f directory.WorkspaceFilter) ([]directory.Workspace, string, error)
	RenameWorkspace(ctx context.Context, actor, orgID, wsID, name string) (directory.Workspace, error)
	SetDefaultWorkspace(ctx context.Context, actor, orgID, wsID string) error
	DeleteWorkspace(ctx context.Context, actor, orgID, wsID, newDefault string) error
	PutWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string, m access.Membership) (directory.WorkspaceMember, error)
	RemoveWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string) error
	ListWorkspaceMembers(ctx context.Context, orgID, wsID string, p directory.Page) ([]directory.WorkspaceMember, string, error)
	PrincipalWorkspaces(ctx context.Context, orgID, principalID string) ([]directory.WorkspaceMember, error)
}

// MemberStore reads and changes org memberships.
type MemberStore interface {
	GetMember(ctx context.Context, orgID, principalID string) (directory.Member, error)
	ListMembers(ctx context.Context, orgID string, p directory.Page) ([]directory.Member, string, error)
	SetMemberRole(ctx context.Context, actor, orgID, principalID string, role access.OrgRole, ifVersion int64) (directory.Member, error)
	RemoveMember(ctx context.Context, actor, orgID, principalID string) error
}

// InvitationStore manages invitations and join requests.
type InvitationStore interface {
	CreateInvitation(ctx context.Context, actor string, in directory.NewInvitation) (directory.Invitation, error)
	GetInvitation(ctx context.Context, orgID, id string) (directory.Invitation, error)
	ListInvitations(ctx context.Context, orgID string, p directory.Page) ([]directory.Invitation, string, error)
	RevokeInvitation(ctx context.Context, actor, orgID, id string) error
	ListJoinRequests(ctx context.Context, orgID string, p directory.Page) ([]directory.JoinRequest, string, error)
	ApproveJoinRequest(ctx context.Context, actor, orgID, id string) (directory.Member, error)
	DenyJoinRequest(ctx context.Context, actor, orgID, id string) error
}

// ServiceAccountStore manages service accounts and their API keys.
type ServiceAccountStore interface {
	CreateServiceAccount(ctx context.Context, actor string, in directory.NewServiceAccount) (directory.ServiceAccount, error)
	GetServiceAccount(ctx context.Context, orgID, id string) (directory.ServiceAccount, error)
	ListServiceAccounts(ctx context.Context, orgID string, p directory.Page) ([]directory.ServiceAccount, string, error)
	RenameServiceAccount(ctx context.Context, actor, orgID, id, name string) (directory.ServiceAccount, error)
	DeleteServiceAccount(ctx context.Context, actor, orgID, id string) error
	CreateAPIKey(ctx context.Context, actor, orgID, serviceAccountID string) (directory.APIKey, string, error)
	ListAPIKeys(ctx context.Context, orgID, serviceAccountID string) ([]directory.APIKey, error)
	RevokeAPIKey(ctx context.Context, actor, orgID, keyID string) error
}

// ConnectionStore manages upstream IdP connections.
type ConnectionStore interface {
	CreateConnection(ctx context.Context, actor string, c directory.Connection) (directory.Connection, error)
	GetConnection(ctx context.Context, orgID, id string) (directory.Connection, error)
	ListConnections(ctx context.Context, orgID string) ([]directory.Connection, error)
	UpdateConnection(ctx context.Context, actor string, c directory.Connection) (directory.Connection, error)
	DeleteConnection(ctx context.Context, actor, orgID, id string) error
}

// DomainStore manages an org's email domains.
type DomainStore interface {
	AddDomain(ctx context.Context, actor, orgID, domain string) (directory.Domain, error)
	ListDomains(ctx context.Context, orgID string) ([]directory.Domain, error)
	MarkDomainVerified(ctx context.Context, actor, orgID, domain string) (directory.Domain, error)
	DeleteDomain(ctx context.Context, actor, orgID, domain string) error
}

// AuditStore reads the audit log.
type AuditStore interface {
	ListAudit(ctx context.Context, orgID string, f directory.AuditFilter) ([]directory.AuditEvent, string, error)
}

var _ Store = (directory.Store)(nil)

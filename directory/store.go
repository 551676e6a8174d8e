package directory

import (
	"context"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// Page asks for one page of a list: up to Limit items after the cursor After
// (empty: from the start). A zero Limit means 50; more than 500 is capped.
type Page struct {
	After string
	Limit int
}

// NewOrg describes an organization to create.
type NewOrg struct {
	Name string
	Plan Plan // empty: community
	// WorkspaceName names the first workspace; empty: a slug of Name, with a numeric suffix when taken.
	WorkspaceName string
}

// OrgUpdate changes an organization; nil fields stay as they are.
// IfVersion, when non-zero, makes the update fail with ErrVersionMismatch
// unless the organization is still at that version.
type OrgUpdate struct {
	Name                *string
	OnlyAdminsCanInvite *bool
	JITMode             *JITMode
	DefaultOrgRole      *access.OrgRole
	IfVersion           int64
}

// WorkspaceFilter narrows ListWorkspaces.
type WorkspaceFilter struct {
	// Q keeps workspaces whose name contains Q, case-insensitively.
	Q string
	// MemberOf, when set, keeps only workspaces this principal is a member of.
	MemberOf string
	Page
}

// NewUser describes a user to create.
type NewUser struct {
	Email         string
	EmailVerified bool
	Name          string
}

// NewInvitation describes an invitation to create.
type NewInvitation struct {
	OrgID      string
	Email      string
	Role       access.OrgRole
	Workspaces []InvitationWorkspace
	// TTL is how long the invitation stays valid; zero means 7 days.
	TTL time.Duration
}

// NewServiceAccount describes a service account to create.
type NewServiceAccount struct {
	OrgID      string
	Name       string
	Role       access.OrgRole
	Workspaces []InvitationWorkspace
}

// NewClient describes an OAuth client to register.
type NewClient struct {
	Name         string
	RedirectURIs []string
	Public       bool
	GrantTypes   []string // empty: authorization_code and refresh_token
	// AdminAPI lets the client ask for the admin API's scope
	// (ssobroker:admin): an operator's decision, made only from the CLI.
	AdminAPI bool
	// BackchannelLogoutURI and BackchannelLogoutSessionRequired register
	// OpenID Connect Back-Channel Logout (ValidateBackchannelLogoutURI).
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	Actor  string
	Action string
	Since  time.Time
	Page
}

// Store is the directory: every read and write of organizations, their
// members and their configuration. Every mutating method takes the acting
// principal's id (or a label such as "system:cli") for the audit log, runs in
// one transaction together with its audit entry, and enforces the directory's
// invariants itself, so concurrent callers cannot break them.
//
// Errors: ErrNotFound (wrapped in a *NotFoundError naming the thing),
// ErrConflict (duplicates), ErrInvariant (an *InvariantError whose message a
// person understands), ErrInvalid (an *InvalidError naming the field),
// ErrVersionMismatch, and ErrUnavailable when the database cannot be reached.
type Store interface {
	// Backend names the storage in use, such as "postgres" or "sqlite:/path".
	Backend() string
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close()

	CreateOrg(ctx context.Context, actor string, in NewOrg) (Organization, Workspace, error)
	// GetOrg finds an organization by id or name.
	GetOrg(ctx context.Context, ref string) (Organization, error)
	ListOrgs(ctx context.Context, p Page) ([]Organization, string, error)
	UpdateOrg(ctx context.Context, actor, orgID string, u OrgUpdate) (Organization, error)

	// CreateWorkspace creates a workspace; when owner is not empty that
	// principal (a member of the org) becomes its owner.
	CreateWorkspace(ctx context.Context, actor, orgID, name, owner string) (Workspace, error)
	// GetWorkspace finds a workspace of the org by id or name.
	GetWorkspace(ctx context.Context, orgID, ref string) (Workspace, error)
	// FindWorkspace finds a workspace by its deployment-wide unique name.
	FindWorkspace(ctx context.Context, name string) (Workspace, error)
	ListWorkspaces(ctx context.Context, orgID string, f WorkspaceFilter) ([]Workspace, string, error)
	RenameWorkspace(ctx context.Context, actor, orgID, wsID, name string) (Workspace, error)
	SetDefaultWorkspace(ctx context.Context, actor, orgID, wsID string) error
	// DeleteWorkspace deletes a workspace and its memberships. Deleting the
	// default workspace requires newDefault naming another workspace of the org.
	DeleteWorkspace(ctx context.Context, actor, orgID, wsID, newDefault string) error

	CreateUser(ctx context.Context, actor string, in NewUser) (User, error)
	GetUser(ctx context.Context, id string) (User, error)

	// AddMember makes a user or service account a member of the org.
	AddMember(ctx context.Context, actor, orgID, principalID string, role access.OrgRole) (Member, error)
	GetMember(ctx context.Context, orgID, principalID string) (Member, error)
	ListMembers(ctx context.Context, orgID string, p Page) ([]Member, string, error)
	// ListPrincipalOrgs lists the org memberships of a principal.
	ListPrincipalOrgs(ctx context.Context, principalID string) ([]Member, error)
	// SetMemberRole changes a member's org role. ifVersion as in OrgUpdate.
	SetMemberRole(ctx context.Context, actor, orgID, principalID string, role access.OrgRole, ifVersion int64) (Member, error)
	// RemoveMember removes a principal and its workspace memberships from the org.
	RemoveMember(ctx context.Context, actor, orgID, principalID string) error
	// CountAdmins counts the org's human admins.
	CountAdmins(ctx context.Context, orgID string) (int, error)
	// SearchMembers lists the members whose name or email contains f.Q,
	// optionally leaving out a workspace's members, page by page.
	SearchMembers(ctx context.Context, orgID string, f MemberFilter) ([]Member, string, error)
	// CountMembers counts members, human admins and pending join requests
	// in one query.
	CountMembers(ctx context.Context, orgID string) (MemberCounts, error)

	PutWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string, m access.Membership) (WorkspaceMember, error)
	RemoveWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string) error
	ListWorkspaceMembers(ctx context.Context, orgID, wsID string, p Page) ([]WorkspaceMember, string, error)
	// PrincipalWorkspaces lists every workspace membership of a principal in the org.
	PrincipalWorkspaces(ctx context.Context, orgID, principalID string) ([]WorkspaceMember, error)
	// WorkspacesOfPrincipals returns the workspace memberships of several
	// principals (at most MaxPrincipalsPerCall) in one query.
	WorkspacesOfPrincipals(ctx context.Context, orgID string, principals []string) (map[string][]WorkspaceMember, error)

	CreateInvitation(ctx context.Context, actor string, in NewInvitation) (Invitation, error)
	GetInvitation(ctx context.Context, orgID, id string) (Invitation, error)
	ListInvitations(ctx context.Context, orgID string, p Page) ([]Invitation, string, error)
	// SearchInvitations lists the invitations whose email contains f.Q.
	SearchInvitations(ctx context.Context, orgID string, f ListFilter) ([]Invitation, string, error)
	RevokeInvitation(ctx context.Context, actor, orgID, id string) error
	// PendingInvitations lists unexpired pending invitations for an email in any org.
	PendingInvitations(ctx context.Context, email string) ([]Invitation, error)
	// AcceptInvitation adds the user to the org and the invitation's workspaces
	// and marks it accepted, atomically; an expired or used invitation is ErrNotFound.
	AcceptInvitation(ctx context.Context, orgID, id, userID string) (Member, error)

	// CreateJoinRequest records a pending request; a second call for the same
	// user and org returns the pending one.
	CreateJoinRequest(ctx context.Context, orgID, userID string) (JoinRequest, error)
	ListJoinRequests(ctx context.Context, orgID string, p Page) ([]JoinRequest, string, error)
	// SearchJoinRequests lists the join requests whose requester's email or
	// name contains f.Q.
	SearchJoinRequests(ctx context.Context, orgID string, f ListFilter) ([]JoinRequest, string, error)
	// ApproveJoinRequest makes the user a member with the org's default role
	// in its default workspace.
	ApproveJoinRequest(ctx context.Context, actor, orgID, id string) (Member, error)
	DenyJoinRequest(ctx context.Context, actor, orgID, id string) error

	CreateServiceAccount(ctx context.Context, actor string, in NewServiceAccount) (ServiceAccount, error)
	GetServiceAccount(ctx context.Context, orgID, id string) (ServiceAccount, error)
	ListServiceAccounts(ctx context.Context, orgID string, p Page) ([]ServiceAccount, string, error)
	// SearchServiceAccounts lists the service accounts whose name contains f.Q.
	SearchServiceAccounts(ctx context.Context, orgID string, f ListFilter) ([]ServiceAccount, string, error)
	RenameServiceAccount(ctx context.Context, actor, orgID, id, name string) (ServiceAccount, error)
	// DeleteServiceAccount deletes the account, its memberships and its keys.
	DeleteServiceAccount(ctx context.Context, actor, orgID, id string) error
	// CreateAPIKey returns the key's record and its secret, which is shown once and never stored.
	CreateAPIKey(ctx context.Context, actor, orgID, serviceAccountID string) (APIKey, string, error)
	ListAPIKeys(ctx context.Context, orgID, serviceAccountID string) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, actor, orgID, keyID string) error
	// LookupAPIKey finds the live key whose secret is secret; unknown,
	// malformed and revoked keys are all ErrNotFound.
	LookupAPIKey(ctx context.Context, secret string) (KeyPrincipal, error)
	// TouchAPIKey records a key's last use.
	TouchAPIKey(ctx context.Context, keyID string, at time.Time) error

	CreateConnection(ctx context.Context, actor string, c Connection) (Connection, error)
	GetConnection(ctx context.Context, orgID, id string) (Connection, error)
	ListConnections(ctx context.Context, orgID string) ([]Connection, error)
	UpdateConnection(ctx context.Context, actor string, c Connection) (Connection, error)
	DeleteConnection(ctx context.Context, actor, orgID, id string) error

	AddDomain(ctx context.Context, actor, orgID, domain string) (Domain, error)
	ListDomains(ctx context.Context, orgID string) ([]Domain, error)
	MarkDomainVerified(ctx context.Context, actor, orgID, domain string) (Domain, error)
	DeleteDomain(ctx context.Context, actor, orgID, domain string) error
	// LookupConnection finds a connection by id alone.
	LookupConnection(ctx context.Context, id string) (Connection, error)
	// ProvisionLogin records a sign-in and applies just-in-time provisioning.
	ProvisionLogin(ctx context.Context, in LoginIdentity) (LoginOutcome, error)

	// FindVerifiedDomain finds the org that has verified domain.
	FindVerifiedDomain(ctx context.Context, domain string) (Domain, error)

	// CreateClient registers a client; secret is empty for public clients.
	CreateClient(ctx context.Context, actor string, in NewClient) (Client, string, error)
	GetClient(ctx context.Context, id string) (Client, error)

	ListAudit(ctx context.Context, orgID string, f AuditFilter) ([]AuditEvent, string, error)

	CreateJWTIssuer(ctx context.Context, actor string, in JWTIssuer) (JWTIssuer, error)
	ListJWTIssuers(ctx context.Context, orgID string) ([]JWTIssuer, error)
	// FindJWTIssuers lists every org's trust of an issuer URL.
	FindJWTIssuers(ctx context.Context, issuer string) ([]JWTIssuer, error)
	DeleteJWTIssuer(ctx context.Context, actor, orgID, id string) error

	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	InsertSigningKey(ctx context.Context, k SigningKey) error
	// TransitionSigningKey moves key kid from state from to state to, only if
	// it is still in from (compare-and-swap), and reports whether it moved.
	// expiresAt is stored when moving to KeyRetired.
	TransitionSigningKey(ctx context.Context, kid string, from, to SigningKeyState, at time.Time, expiresAt *time.Time) (bool, error)
	// DeleteExpiredSigningKeys removes retired keys whose ExpiresAt is before now.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)
	// DeleteSigningKey removes a key at once (emergency revocation).
	DeleteSigningKey(ctx context.Context, actor, kid string) error

	// PrincipalAccess returns what a token for principalID in orgID carries:
	// the org, the membership and the workspace memberships. It is served from
	// an in-memory cache that every change to the directory, in this process
	// or another replica, invalidates.
	PrincipalAccess(ctx context.Context, orgID, principalID string) (PrincipalAccess, error)

	// RevokeToken records a revoked token id until it would have expired anyway.
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error
	// TokenRevoked reports whether jti was revoked.
	TokenRevoked(ctx context.Context, jti string) (bool, error)

	// Subscribe calls fn after every committed change to the directory, made
	// by this process or, through the database, by any other; cancel stops it.
	// fn must not block.
	Subscribe(fn func()) (cancel func())
}

// PrincipalAccess is a principal's standing in one org, as a token states it.
type PrincipalAccess struct {
	Org              Organization
	Member           Member
	Workspaces       []WorkspaceMember
	DefaultWorkspace Workspace
}

package directory

import (
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// Plan is an organization's billing plan. Org admins can read it, not change it.
type Plan string

// The three plans.
const (
	PlanCommunity  Plan = "community"
	PlanStarter    Plan = "starter"
	PlanEnterprise Plan = "enterprise"
)

// Valid reports whether p is a known plan.
func (p Plan) Valid() bool { return p == PlanCommunity || p == PlanStarter || p == PlanEnterprise }

// JITMode decides what happens at a user's first sign-in through an org's connection.
type JITMode string

// The three just-in-time provisioning modes.
const (
	JITAuto       JITMode = "auto"
	JITApproval   JITMode = "approval"
	JITInviteOnly JITMode = "invite_only"
)

// Valid reports whether m is a known mode.
func (m JITMode) Valid() bool { return m == JITAuto || m == JITApproval || m == JITInviteOnly }

// OrgSettings are an organization's editable settings.
type OrgSettings struct {
	OnlyAdminsCanInvite bool           `json:"only_admins_can_invite"`
	JITMode             JITMode        `json:"jit_mode"`
	DefaultOrgRole      access.OrgRole `json:"default_org_role"`
	// DefaultWorkspace is the id of the org's default workspace.
	DefaultWorkspace string `json:"default_workspace"`
}

// Access returns the part of the settings that the permission function reads.
func (s OrgSettings) Access() access.Settings {
	return access.Settings{OnlyAdminsCanInvite: s.OnlyAdminsCanInvite}
}

// Organization is a tenant.
type Organization struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Plan          Plan        `json:"plan"`
	PlanStartedAt time.Time   `json:"plan_started_at"`
	Settings      OrgSettings `json:"settings"`
	CreatedAt     time.Time   `json:"created_at"`
	// Version increases with every change of name or settings; it backs ETags.
	Version int64 `json:"version"`
}

// Workspace belongs to one organization; its name is unique across the deployment.
type Workspace struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Name      string    `json:"name"`
	Default   bool      `json:"default"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a global identity.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
}

// PrincipalType tells a user from a service account.
type PrincipalType string

// The two kinds of principal.
const (
	PrincipalUser           PrincipalType = "user"
	PrincipalServiceAccount PrincipalType = "service_account"
)

// PrincipalTypeOf returns the type of a principal id by its prefix.
func PrincipalTypeOf(id string) PrincipalType {
	if len(id) > 3 && id[:3] == "sa_" {
		return PrincipalServiceAccount
	}
	return PrincipalUser
}

// Member is a principal's membership of an organization.
type Member struct {
	OrgID       string         `json:"org_id"`
	PrincipalID string         `json:"principal_id"`
	Type        PrincipalType  `json:"type"`
	Role        access.OrgRole `json:"role"`
	// Name and Email describe the principal (a service account has no email).
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Version   int64     `json:"version"`
}

// WorkspaceMember is a principal's membership of a workspace.
type WorkspaceMember struct {
	WorkspaceID   string `json:"workspace_id"`
	WorkspaceName string `json:"workspace_name"`
	PrincipalID   string `json:"principal_id"`
	Name          string `json:"name"`
	Email         string `json:"email,omitempty"`
	access.Membership
}

// Invitation invites an email into an org with a role and optional workspaces.
type Invitation struct {
	ID         string                `json:"id"`
	OrgID      string                `json:"org_id"`
	Email      string                `json:"email"`
	Role       access.OrgRole        `json:"role"`
	Workspaces []InvitationWorkspace `json:"workspaces"`
	InvitedBy  string                `json:"invited_by"`
	CreatedAt  time.Time             `json:"created_at"`
	ExpiresAt  time.Time             `json:"expires_at"`
	State      InvitationState       `json:"state"`
}

// InvitationWorkspace is a workspace an invitation grants on acceptance.
type InvitationWorkspace struct {
	WorkspaceID string               `json:"workspace_id"`
	Role        access.WorkspaceRole `json:"role"`
}

// InvitationState is where an invitation is in its life.
type InvitationState string

// Invitation states.
const (
	InvitationPending  InvitationState = "pending"
	InvitationAccepted InvitationState = "accepted"
	InvitationRevoked  InvitationState = "revoked"
)

// JoinRequest is created when a user signs in to an org in approval mode.
type JoinRequest struct {
	ID        string           `json:"id"`
	OrgID     string           `json:"org_id"`
	UserID    string           `json:"user_id"`
	Email     string           `json:"email"`
	State     JoinRequestState `json:"state"`
	CreatedAt time.Time        `json:"created_at"`
}

// JoinRequestState is where a join request is in its life.
type JoinRequestState string

// Join request states.
const (
	JoinPending  JoinRequestState = "pending"
	JoinApproved JoinRequestState = "approved"
	JoinDenied   JoinRequestState = "denied"
)

// ServiceAccount is a non-human principal of one org.
type ServiceAccount struct {
	ID        string         `json:"id"`
	OrgID     string         `json:"org_id"`
	Name      string         `json:"name"`
	Role      access.OrgRole `json:"role"`
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
}

// APIKey describes a service account's key; the secret itself is never stored.
type APIKey struct {
	ID               string     `json:"id"`
	ServiceAccountID string     `json:"service_account_id"`
	OrgID            string     `json:"org_id"`
	Prefix           string     `json:"prefix"`
	CreatedAt        time.Time  `json:"created_at"`
	LastUsedAt       *time.Time `json:"last_used_at"`
	RevokedAt        *time.Time `json:"revoked_at"`
}

// KeyPrincipal is what an API key authenticates: the key, its account and the account's org.
type KeyPrincipal struct {
	Key     APIKey
	Account ServiceAccount
}

// ConnectionType is the protocol of an upstream identity provider.
type ConnectionType string

// Connection types.
const (
	ConnectionSAML ConnectionType = "saml"
	ConnectionOIDC ConnectionType = "oidc"
)

// Connection is an org's upstream identity provider. Config is protocol
// specific JSON owned by the idp package; secrets inside it are encrypted by
// the caller before they reach the directory.
type Connection struct {
	ID        string         `json:"id"`
	OrgID     string         `json:"org_id"`
	Type      ConnectionType `json:"type"`
	Name      string         `json:"name"`
	Enabled   bool           `json:"enabled"`
	Config    []byte         `json:"config"`
	CreatedAt time.Time      `json:"created_at"`
}

// Domain is an email domain claimed by an org; it routes logins once verified.
type Domain struct {
	OrgID      string     `json:"org_id"`
	Domain     string     `json:"domain"`
	Token      string     `json:"verification_token"`
	VerifiedAt *time.Time `json:"verified_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Client is an OAuth 2.0 / OIDC client of the broker.
type Client struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	SecretHash   []byte    `json:"-"`
	Public       bool      `json:"public"`
	RedirectURIs []string  `json:"redirect_uris"`
	GrantTypes   []string  `json:"grant_types"`
	CreatedAt    time.Time `json:"created_at"`
	// AdminAPI: an operator allowed the client to ask for the admin API's
	// scope (ssobroker:admin), so its users' tokens may call /api/v1.
	AdminAPI bool `json:"admin_api"`
	// BackchannelLogoutURI, when set, receives a logout_token (OpenID
	// Connect Back-Channel Logout 1.0) when a browser session in which the
	// client received tokens ends (docs/logout.md).
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// BackchannelLogoutSessionRequired: the client needs the sid claim in
	// its logout tokens (the broker always sends it).
	BackchannelLogoutSessionRequired bool `json:"backchannel_logout_session_required,omitempty"`
}

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	ID     int64     `json:"id"`
	OrgID  string    `json:"org_id"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	At     time.Time `json:"at"`
	Before string    `json:"before,omitempty"`
	After  string    `json:"after,omitempty"`
}

// SigningKeyState is where a token signing key is in its life.
type SigningKeyState string

// Signing key states: published before use, used, then kept for verification only.
const (
	KeyNext    SigningKeyState = "next"
	KeyActive  SigningKeyState = "active"
	KeyRetired SigningKeyState = "retired"
)

// SigningKey is a token signing key. Sealed is the private JWK encrypted by
// the tokens package; the directory never sees it in clear.
type SigningKey struct {
	ID        string          `json:"kid"`
	Algorithm string          `json:"alg"`
	State     SigningKeyState `json:"state"`
	Sealed    []byte          `json:"-"`
	PublicJWK []byte          `json:"public_jwk"`
	CreatedAt time.Time       `json:"created_at"`
	// ActivatedAt and RetiredAt are nil until the key reaches that state.
	ActivatedAt *time.Time `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at"`
	// ExpiresAt is when a retired key may leave the key set: after every token it signed has expired.
	ExpiresAt *time.Time `json:"expires_at"`
}

package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// Identity is what a connector learned about the user from the upstream
// IdP, the same shape for every protocol. The service keys the user on
// (connection, Issuer, Subject), never on Email alone.
type Identity struct {
	// Issuer is the OIDC `iss` or the SAML IdP's entity ID.
	Issuer string
	// Subject is the stable user id at the IdP (OIDC `sub` or the mapped
	// subject claim; SAML NameID or the mapped attribute).
	Subject string
	Email   string
	// EmailVerified is true only when the IdP asserted it.
	EmailVerified bool
	Name          string
	Groups        []string
	// AMR lists the authentication methods the IdP reported (RFC 8176), or
	// nil when it reported none.
	AMR []string
	// IDToken is the IdP's raw ID token (OIDC), kept sealed with the
	// browser session as the id_token_hint of an upstream logout
	// (upstreamlogout.go). Never logged.
	IDToken string
	// SAMLSession is the upstream SAML session (NameID and SessionIndex),
	// kept sealed with the browser session for SAML Single Logout
	// (samllogout.go); nil for other protocols.
	SAMLSession *SAMLSession
	// Attributes are the SAML attributes or OIDC claims the IdP sent, as
	// text and bounded (Attributes.Add), for a test sign-in to show; sign-in
	// itself reads only the fields above.
	Attributes Attributes
}

// Connector is an upstream identity provider built from one connection.
// Each implements one protocol capability: CallbackConnector (redirect out,
// callback in: OIDC) or SAMLConnector (POST-binding ACS). A connector is
// built once per connection configuration and shared by concurrent logins,
// so implementations must be safe for concurrent use.
type Connector interface{}

// LoginOption changes an upstream login request.
type LoginOption int

// Login options.
const (
	// ForceReauthentication asks the IdP to authenticate the user again even
	// if it has a session (OIDC prompt=login, SAML ForceAuthn), as the
	// broker's own client asked with prompt=login.
	ForceReauthentication LoginOption = iota + 1
)

// CallbackConnector is a protocol that sends the browser to the IdP and
// receives it back on the connection's callback URL (OpenID Connect).
type CallbackConnector interface {
	// LoginURL returns where to send the browser: the IdP's authorization
	// endpoint carrying state, nonce, the PKCE S256 challenge, our callback
	// redirectURI and, when not empty, loginHint. It fails when the IdP
	// cannot be used (wrapping ErrUpstreamUnavailable).
	LoginURL(ctx context.Context, state, nonce, pkceChallenge, redirectURI, loginHint string, opts ...LoginOption) (string, error)
	// HandleCallback completes the login from the callback request r, whose
	// state the service has already matched to expect. It fails with an
	// *UpstreamError when the IdP answered with an error, and otherwise
	// with an error wrapping ErrInvalidResponse, ErrUpstreamUnavailable,
	// ErrEmailNotVerified or ErrMissingClaim.
	HandleCallback(ctx context.Context, r *http.Request, expect CallbackExpect) (Identity, error)
}

// CallbackExpect is what the service stored when the login started and the
// callback must match.
type CallbackExpect struct {
	State        string
	Nonce        string
	PKCEVerifier string
	RedirectURI  string
}

// SAMLConnector is a SAML 2.0 service provider for one IdP: the request goes
// out by redirect or POST binding, the response comes back by POST binding to
// the connection's ACS URL. The service keeps the request ID server-side
// (session.KindSAMLRequest keyed by RelayState, taken once) and hands it
// back in SAMLExpect, so the connector never trusts a cookie or the response
// for it (docs/security.md).
type SAMLConnector interface {
	// AuthnRequest builds a request for relayState (URL-safe) and returns
	// how to deliver it and its ID.
	AuthnRequest(ctx context.Context, relayState, acsURL, loginHint string, opts ...LoginOption) (SAMLRequest, error)
	// HandlePOST validates the response posted to the ACS (r.PostForm
	// parsed, the body limited by the service) against expect. Errors as
	// HandleCallback's.
	HandlePOST(ctx context.Context, r *http.Request, expect SAMLExpect) (Identity, error)
	// Metadata returns the broker's SP metadata for this connection (XML),
	// what the org's admin registers at their IdP.
	Metadata(ctx context.Context) ([]byte, error)
	// IdPInitiated reports whether the connection accepts unsolicited
	// responses, and the relative path where such a login lands.
	IdPInitiated() (target string, ok bool)
}

// SAMLRequest is an AuthnRequest ready to send.
type SAMLRequest struct {
	// ID is the request's ID, checked later against InResponseTo.
	ID string
	// URL is where to send the browser: redirect there when Form is nil,
	// else POST Form there (auto-submitting page).
	URL  string
	Form url.Values
}

// SAMLExpect is what a SAML response must match.
type SAMLExpect struct {
	// RequestID is the ID of the AuthnRequest this login sent (empty only
	// for IdP-initiated logins on connections that allow them).
	RequestID string
	ACSURL    string
	// FirstSeen records an assertion ID until it can no longer be valid and
	// reports whether this is its first use (the replay cache, backed by
	// session.Remember with KindSAMLAssertion).
	FirstSeen func(ctx context.Context, issuer, assertionID string, until time.Time) (bool, error)
}

// Errors a connector's result wraps. The service turns each into a page for
// the user and a log line for the operator.
var (
	// ErrInvalidResponse: the IdP's answer failed a check (signature, issuer,
	// audience, nonce, expiry, state, code exchange refused).
	ErrInvalidResponse = errors.New("idp: invalid response from the identity provider")
	// ErrUpstreamUnavailable: the IdP could not be reached or answered
	// something unusable (discovery, token or userinfo endpoint).
	ErrUpstreamUnavailable = errors.New("idp: identity provider unavailable")
	// ErrEmailNotVerified: the IdP did not assert that the email is
	// verified and the connection requires it.
	ErrEmailNotVerified = errors.New("idp: email not verified by the identity provider")
	// ErrMissingClaim: a claim the broker needs (subject, email) is absent.
	ErrMissingClaim = errors.New("idp: required claim missing")
	// ErrConfig: the connection's configuration cannot be used.
	ErrConfig = errors.New("idp: connection configuration unusable")
)

// UpstreamError is an error the IdP sent back instead of a login (OAuth 2.0
// `error` on the callback). Description comes from the IdP; show it only
// escaped.
type UpstreamError struct {
	Code        string
	Description string
}

func (e *UpstreamError) Error() string {
	if e.Description == "" {
		return "identity provider answered " + e.Code
	}
	return fmt.Sprintf("identity provider answered %s: %s", e.Code, e.Description)
}

// Factory builds a connector for one connection. It may call the network
// (OIDC discovery) with ctx and in.HTTPClient.
type Factory func(ctx context.Context, in FactoryInput) (Connector, error)

// Registry maps a connection type to the factory of its connectors. The
// wiring fills it (e.g. idp.Registry{directory.ConnectionOIDC: oidc.New});
// a connection whose type has no factory cannot be used to sign in.
type Registry map[directory.ConnectionType]Factory

// FactoryInput is what a factory gets to build a connector.
type FactoryInput struct {
	Connection directory.Connection
	// Config is the connection's configuration (Connection.Config parsed).
	Config ConnectionConfig
	// OpenSecret opens a secret sealed for this connection (secretbox with
	// the connection id as associated data).
	OpenSecret func(sealed []byte) ([]byte, error)
	// HTTPClient is for every call to the IdP: timeouts, size limits and
	// the private-address policy are set.
	HTTPClient *http.Client
	// CallbackURL is the connection's absolute callback (OIDC) or ACS
	// (SAML) URL at this broker.
	CallbackURL string
	// EntityID is the broker's SAML entity ID for the connection: the
	// absolute URL of its SP metadata. Empty for other protocols.
	EntityID string
	// LogoutURL is the connection's SAML Single Logout endpoint at this
	// broker (GET and POST). Empty for other protocols.
	LogoutURL string
	// Documents keeps the last good document fetched from the IdP (SAML
	// metadata of a metadata URL), for when the IdP cannot be reached; nil
	// keeps none.
	Documents UpstreamDocuments
	Logger    *slog.Logger
}

// UpstreamDocuments keeps the last good document a connector fetched from
// its IdP, per connection and URL, across restarts (*directory.SQLStore
// satisfies it). A connector saves a document only after it passed
// validation, and validates a stored one again before using it.
type UpstreamDocuments interface {
	SaveUpstreamDocument(ctx context.Context, d directory.UpstreamDocument) error
	// GetUpstreamDocument fails wrapping directory.ErrNotFound when none
	// was kept for that connection and URL.
	GetUpstreamDocument(ctx context.Context, connectionID, url string) (directory.UpstreamDocument, error)
}

// ConnectionConfig is the JSON of directory.Connection.Config, as the admin
// API writes it (adminapi.ConnectionConfig) plus GroupWorkspaces. The
// protocol sections stay raw: each connector parses its own.
type ConnectionConfig struct {
	OIDC json.RawMessage `json:"oidc,omitempty"`
	SAML json.RawMessage `json:"saml,omitempty"`
	// AttributeMapping maps our attribute names (subject, email,
	// email_verified, name, given_name, family_name, groups) to the IdP's
	// claim or attribute names.
	AttributeMapping map[string]string `json:"attribute_mapping,omitempty"`
	// GroupRoles maps an upstream group to an org role. When a user is in
	// several mapped groups the strongest role wins (access.Stronger): admin,
	// then platform_member, then view_only_platform_member, then opik_member.
	GroupRoles map[string]access.OrgRole `json:"group_roles,omitempty"`
	// GroupWorkspaces maps an upstream group to workspace roles by
	// workspace name or id: {"ml-leads": {"research": "owner"}}. A user in
	// several groups gets the strongest role per workspace (owner over
	// member). When set (even empty), workspace memberships an earlier
	// login's mapping made and no group now asserts are removed at login.
	GroupWorkspaces map[string]map[string]access.WorkspaceRole `json:"group_workspaces,omitempty"`
}

// ParseConnectionConfig parses a connection's configuration. An empty
// config is an empty ConnectionConfig.
func ParseConnectionConfig(raw []byte) (ConnectionConfig, error) {
	var c ConnectionConfig
	if len(raw) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, nil
}

// UsesGroups reports whether the configuration maps groups to roles, so a
// connector knows it must obtain the groups claim.
func (c ConnectionConfig) UsesGroups() bool {
	return c.GroupRoles != nil || c.GroupWorkspaces != nil
}

// MapGroups applies GroupRoles and GroupWorkspaces to groups. The org role
// is "" when no group maps to one. The workspace map is nil when the
// configuration has no GroupWorkspaces (the directory then leaves mapped
// workspace memberships alone) and non-nil, possibly empty, otherwise.
func (c ConnectionConfig) MapGroups(groups []string) (access.OrgRole, map[string]access.WorkspaceRole) {
	var best access.OrgRole
	var ws map[string]access.WorkspaceRole
	if c.GroupWorkspaces != nil {
		ws = map[string]access.WorkspaceRole{}
	}
	for _, g := range groups {
		if r, ok := c.GroupRoles[g]; ok {
			best = access.Stronger(best, r)
		}
		for ref, role := range c.GroupWorkspaces[g] {
			if ws[ref] != access.WorkspaceOwner {
				ws[ref] = role
			}
		}
	}
	return best, ws
}

package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/ssobroker/ssobroker/directory/access"
)

// PrincipalServiceAccount is the principal_type claim of a service account's
// token. User tokens carry no principal_type.
const PrincipalServiceAccount = "service_account"

// Claims are the claims of an ssobroker access token (README.md, "Access
// tokens"; RFC 9068). The minting side marshals this same struct, so it is
// plain data: encoding/json round-trips it exactly. Times are NumericDate
// seconds since the Unix epoch.
type Claims struct {
	// Issuer is the broker's issuer URL.
	Issuer string `json:"iss"`
	// Subject is the principal: "usr_…" or "sa_…".
	Subject string `json:"sub"`
	// Audience lists the intended recipients (client ids).
	Audience Audience `json:"aud"`
	// ExpiresAt is exp.
	ExpiresAt int64 `json:"exp"`
	// IssuedAt is iat.
	IssuedAt int64 `json:"iat"`
	// NotBefore is nbf; optional, zero means absent.
	NotBefore int64 `json:"nbf,omitempty"`
	// JWTID is jti, unique per token.
	JWTID string `json:"jti"`
	// ClientID is the OAuth client the token was issued to.
	ClientID string `json:"client_id"`
	// Scope is the space-separated granted scope.
	Scope string `json:"scope,omitempty"`
	// SessionID is sid, the broker session the token belongs to.
	SessionID string `json:"sid,omitempty"`
	// Email is the user's verified email; absent for service accounts.
	Email string `json:"email,omitempty"`
	// Name is the principal's display name.
	Name string `json:"name,omitempty"`
	// IdP is the id of the connection the user signed in through.
	IdP string `json:"idp,omitempty"`
	// AMR lists the authentication methods, such as "saml" or "oidc".
	AMR []string `json:"amr,omitempty"`
	// PrincipalType is PrincipalServiceAccount for service accounts and
	// empty for users.
	PrincipalType string `json:"principal_type,omitempty"`
	// Org is the one organization the token is for.
	Org Org `json:"org,omitzero"`
	// Workspaces lists the principal's explicit workspace memberships. An
	// org admin may be absent from it and still reach every workspace.
	Workspaces []Workspace `json:"workspaces,omitempty"`
	// DefaultWorkspace is the name of the principal's default workspace,
	// which the reserved name "default" stands for.
	DefaultWorkspace string `json:"default_workspace,omitempty"`
	// WorkspacesTruncated is set when the principal has more memberships
	// than the token lists; a workspace missing from Workspaces is then not
	// proof that the principal is no member (ask ssobroker, or narrow).
	WorkspacesTruncated bool `json:"workspaces_truncated,omitempty"`
	// Narrowed, the "workspace" claim, restricts the token to one workspace:
	// Permissions grants nothing anywhere else, whatever the org role.
	Narrowed *WorkspaceRef `json:"workspace,omitempty"`
}

// WorkspaceRef names the one workspace a narrowed token is restricted to.
type WorkspaceRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Org is the org claim: the organization and the principal's role in it.
type Org struct {
	// ID is the org id, "org_…".
	ID string `json:"id"`
	// Name is the org's name.
	Name string `json:"name"`
	// Role is the principal's org role.
	Role access.OrgRole `json:"role"`
	// OnlyAdminsCanInvite mirrors the org setting that withholds org.invite
	// from non-admins.
	OnlyAdminsCanInvite bool `json:"only_admins_can_invite,omitempty"`
}

// Workspace is one entry of the workspaces claim: a workspace and the
// principal's membership of it.
type Workspace struct {
	// ID is the workspace id, "ws_…".
	ID string `json:"id"`
	// Name is the workspace's deployment-wide unique name.
	Name string `json:"name"`
	// Role is the principal's workspace role.
	Role access.WorkspaceRole `json:"role"`
	// CanInvite is the member's can_invite flag.
	CanInvite bool `json:"can_invite,omitempty"`
	// CanMakePublic is the member's can_make_public flag.
	CanMakePublic bool `json:"can_make_public,omitempty"`
}

// defaultWorkspaceName is the reserved name meaning "the caller's default
// workspace" (README.md), matched in any case.
const defaultWorkspaceName = "default"

// Workspace returns the membership entry of the workspace called name. The
// reserved name "default" (any case) means the token's default_workspace.
// It returns false when the token lists no such membership; for an org admin
// that does not mean "no access" (see Permissions).
func (c *Claims) Workspace(name string) (Workspace, bool) {
	if strings.EqualFold(name, defaultWorkspaceName) {
		name = c.DefaultWorkspace
	}
	if name == "" {
		return Workspace{}, false
	}
	for _, w := range c.Workspaces {
		if w.Name == name {
			return w, true
		}
	}
	return Workspace{}, false
}

// Permissions returns the effective permissions of the token's principal in
// the workspace called workspaceName, computed by access.Effective from the
// org role, the membership and org.only_admins_can_invite: workspace-scoped
// permissions for that workspace plus the org-scoped ones. An org admin has
// every workspace permission in any workspace name, because admins' tokens
// list only explicit memberships: the caller must make sure the workspace
// belongs to c.Org.ID. An empty workspaceName returns the org-scoped
// permissions only. A workspace the token does not list yields the
// org-scoped permissions only; an unknown role yields the empty set.
// A narrowed token (Narrowed set) has its workspace permissions in that one
// workspace and nothing else: no other workspace, no org-scoped permission.
func (c *Claims) Permissions(workspaceName string) access.Set {
	settings := access.Settings{OnlyAdminsCanInvite: c.Org.OnlyAdminsCanInvite}
	if c.Narrowed != nil {
		if strings.EqualFold(workspaceName, defaultWorkspaceName) {
			workspaceName = c.DefaultWorkspace
		}
		if workspaceName == "" || workspaceName != c.Narrowed.Name {
			return 0
		}
		var m *access.Membership
		if w, ok := c.Workspace(workspaceName); ok {
			m = &access.Membership{Role: w.Role, CanInvite: w.CanInvite, CanMakePublic: w.CanMakePublic}
		}
		return access.WorkspacePermissions(c.Org.Role, m)
	}
	if workspaceName == "" {
		return access.OrgPermissions(c.Org.Role, settings)
	}
	var m *access.Membership
	if w, ok := c.Workspace(workspaceName); ok {
		m = &access.Membership{Role: w.Role, CanInvite: w.CanInvite, CanMakePublic: w.CanMakePublic}
	}
	return access.Effective(c.Org.Role, m, settings)
}

// IsServiceAccount reports whether the token was issued to a service
// account, that is whether principal_type is "service_account".
func (c *Claims) IsServiceAccount() bool {
	return c.PrincipalType == PrincipalServiceAccount
}

// Audience is the aud claim. RFC 7519 allows a single string or an array of
// strings; both unmarshal into an Audience, and an Audience of one marshals
// as a plain string (as README.md shows it).
type Audience []string

// Contains reports whether aud lists s.
func (a Audience) Contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// MarshalJSON encodes one audience as a string and any other number as an
// array. It fails only if encoding/json does.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// errAudienceType is returned for an aud that is neither a string nor an
// array of strings.
var errAudienceType = errors.New("aud must be a string or an array of strings")

// UnmarshalJSON accepts a string, an array of strings or null. It returns an
// error for any other JSON value.
func (a *Audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errAudienceType
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	case b[0] == '[':
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*a = list
		return nil
	case string(b) == "null":
		*a = nil
		return nil
	}
	return errAudienceType
}

// Allowed reports whether the token's principal holds permission in the
// workspace called workspace (docs/permissions.md, the seed-001 table), decided
// from the token alone by access.Effective through Claims.Permissions: an
// org admin holds every workspace permission in any workspace of its org
// (the caller checks the workspace is claims.Org.ID's), a narrowed token
// acts in its one workspace only, and an empty workspace asks for an
// org-scoped permission. Nil claims, and anything but a single known
// permission, are never allowed.
func Allowed(claims *Claims, workspace string, permission access.Permission) bool {
	if claims == nil || permission.String() == "invalid" {
		return false
	}
	return claims.Permissions(workspace).Has(permission)
}

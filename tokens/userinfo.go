package tokens

import (
	"context"
	"errors"

	"github.com/ssobroker/ssobroker/tokens/verify"
)

// UserInfo is the UserInfo response (OIDC Core §5.3.2): sub always; email
// and email_verified with the email scope; name with the profile scope;
// the organization and the user's workspace memberships in it as they are
// now (not as the token states them).
type UserInfo struct {
	Subject          string             `json:"sub"`
	Email            string             `json:"email,omitempty"`
	EmailVerified    *bool              `json:"email_verified,omitempty"`
	Name             string             `json:"name,omitempty"`
	Org              *IDTokenOrg        `json:"org,omitempty"`
	Workspaces       []verify.Workspace `json:"workspaces,omitempty"`
	DefaultWorkspace string             `json:"default_workspace,omitempty"`
}

// BearerError is a failure of a protected resource (RFC 6750 §3.1); the
// HTTP status of each code is decided in package tokens/oauth.
type BearerError struct {
	// Code is invalid_token, insufficient_scope or invalid_request; empty
	// means no token was sent (no error attribute).
	Code        string
	Description string
}

func (e *BearerError) Error() string { return e.Code + ": " + e.Description }

var (
	// ErrNoBearer is the answer to a request without an access token.
	ErrNoBearer   = &BearerError{}
	errBadBearer  = &BearerError{Code: "invalid_token", Description: "the access token is invalid, expired or revoked"}
	errNeedOpenID = &BearerError{Code: "insufficient_scope", Description: "the access token was not issued with the openid scope"}
)

// UserInfo returns the claims about the user of an access token, after
// checking it as VerifyAccessToken does (signature, issuer, typ, expiry,
// revocation) and that it was issued to a user with the openid scope, who
// is still a member of the token's organization. Failures are
// *BearerError values, or a temporarily_unavailable *Error.
func (p *Provider) UserInfo(ctx context.Context, token string) (UserInfo, error) {
	c, err := p.issuer.VerifyAccessToken(ctx, token)
	if errors.Is(err, ErrInvalidAccessToken) {
		return UserInfo{}, errBadBearer
	}
	if err != nil {
		return UserInfo{}, err
	}
	if c.IsServiceAccount() || !hasScope(c.Scope, ScopeOpenID) {
		return UserInfo{}, errNeedOpenID
	}
	pa, err := p.issuer.store.PrincipalAccess(ctx, c.Org.ID, c.Subject)
	if notFound(err) {
		return UserInfo{}, errBadBearer
	}
	if err != nil {
		return UserInfo{}, storeErr(err)
	}
	info := UserInfo{Subject: c.Subject, Org: &IDTokenOrg{ID: pa.Org.ID, Name: pa.Org.Name, Role: string(pa.Member.Role)},
		DefaultWorkspace: pa.DefaultWorkspace.Name}
	for _, w := range pa.Workspaces {
		info.Workspaces = append(info.Workspaces, verify.Workspace{ID: w.WorkspaceID, Name: w.WorkspaceName, Role: w.Role,
			CanInvite: w.CanInvite, CanMakePublic: w.CanMakePublic})
	}
	if hasScope(c.Scope, ScopeProfile) {
		info.Name = pa.Member.Name
	}
	if hasScope(c.Scope, ScopeEmail) {
		u, err := p.dir.GetUser(ctx, c.Subject)
		if notFound(err) {
			return UserInfo{}, errBadBearer
		}
		if err != nil {
			return UserInfo{}, storeErr(err)
		}
		ev := u.EmailVerified
		info.Email, info.EmailVerified = u.Email, &ev
	}
	return info, nil
}

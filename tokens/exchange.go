package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// GrantTokenExchange is RFC 8693 token exchange.
const GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// CodeInvalidTarget is RFC 8693 §2.2.2's answer when no token can be
// issued for the target asked for (an organization the user is not a
// member of, an audience we do not serve).
const CodeInvalidTarget = "invalid_target"

// Token type identifiers of RFC 8693 §3.
const (
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
)

// switchDirectory is what an exchange needs of the directory besides
// ProviderDirectory: the one check of moving a sign-in to another of the
// user's organizations, shared with the console's org switcher.
// *directory.SQLStore satisfies it.
type switchDirectory interface {
	SwitchStanding(ctx context.Context, orgID, userID, connectionID, target string) (directory.PrincipalAccess, error)
}

var _ switchDirectory = (*directory.SQLStore)(nil)

// ExchangeRequest is an RFC 8693 token-exchange request whose subject is
// one of our own tokens: an access token (SubjectTokenType
// TokenTypeAccessToken) or a refresh token (TokenTypeRefreshToken) issued
// to the requesting client.
type ExchangeRequest struct {
	SubjectToken, SubjectTokenType string
	// RequestedTokenType is empty or TokenTypeAccessToken.
	RequestedTokenType string
	// Organization (id or name) and Workspace (name, or "default") say
	// what the new token is for; empty means the subject's.
	Organization, Workspace string
	// Scope, when set, narrows the subject's scope.
	Scope string
	// Audience and Resource are RFC 8693's target parameters: an audience
	// may only name the client itself; resources are not served.
	Audience, Resource []string
	// ActorToken is set when the request carried one (delegation is not
	// supported).
	ActorToken bool
}

// exchangeSubject is what the subject token stands for.
type exchangeSubject struct {
	userID, orgID, scope string
	sig                  signIn
	// notAfter is the subject's family bound: the access token's own exp,
	// or the refresh-token family's absolute expiry.
	notAfter time.Time
	// family is the refresh-token family of a refresh subject.
	family *session.RefreshFamily
}

// Exchange answers the RFC 8693 token-exchange grant for a client
// AuthenticateClient authenticated, with one of our own tokens as subject:
// it switches the user's organization and/or narrows the token to a
// workspace without a new sign-in (docs/org-switching.md).
//
// The subject must be an active token issued to this very client (an
// access token: signature, issuer, exp, not revoked; a refresh token: the
// current token of a live family), of a user — a service account belongs
// to one organization, its tokens are refused — whose sign-in still stands.
// Membership of the organization asked for is re-checked now
// (directory.SwitchStanding). The new access token has the subject's scope
// or a narrower one (ScopeAdmin is never gained), and its exp is never
// later than the subject's family bound: the subject access token's exp,
// or the refresh family's absolute expiry (which for a session-bound
// family is at most its browser session's). A refresh-token subject also
// gets a refresh token, in a new family bound to the same browser session
// and ending with the subject family's absolute expiry; an access-token
// subject gets none (RFC 8693 §2.2.1: a temporary credential for another
// temporary one).
//
// Errors are *Error values (RFC 8693 §2.2.2): invalid_request for a
// missing or malformed parameter and for a subject token that is invalid,
// expired, revoked, of another client or of a sign-in that no longer
// stands; invalid_target for an organization the user is not a member of,
// a workspace they may not narrow to, or an audience or resource we do not
// serve; invalid_scope for a wider scope; unauthorized_client for a client
// not registered for the code flow; 503 when a store is down.
func (p *Provider) Exchange(ctx context.Context, client directory.Client, req ExchangeRequest) (TokenResponse, error) {
	if err := checkExchangeRequest(client, req); err != nil {
		return TokenResponse{}, err
	}
	sw, ok := p.dir.(switchDirectory)
	if !ok {
		return TokenResponse{}, errServer(errors.New("tokens: the directory cannot check an organization switch"))
	}
	var sub exchangeSubject
	var err error
	if req.SubjectTokenType == TokenTypeRefreshToken {
		sub, err = p.refreshSubject(ctx, client, req.SubjectToken)
	} else {
		sub, err = p.accessSubject(ctx, client, req.SubjectToken)
	}
	if err != nil {
		return TokenResponse{}, err
	}
	scope := sub.scope
	if req.Scope != "" {
		if scope, err = narrowScope(sub.scope, req.Scope); err != nil {
			return TokenResponse{}, err
		}
	}
	target := req.Organization
	if target == "" {
		target = sub.orgID
	}
	pa, err := sw.SwitchStanding(ctx, sub.orgID, sub.userID, sub.sig.ConnectionID, target)
	switch {
	case errors.Is(err, directory.ErrNotMember):
		return TokenResponse{}, &Error{Code: CodeInvalidTarget, Description: "the user is not a member of that organization", Cause: err}
	case errors.Is(err, directory.ErrNoStanding):
		if sub.family != nil {
			p.revokeFamily(ctx, sub.family.ID, "standing lost")
		}
		return TokenResponse{}, errBadSubject(err)
	case err != nil:
		return TokenResponse{}, storeErr(err)
	}
	if sub.sig.Workspace != "" && (pa.Org.ID != sub.orgID || (req.Workspace != "" && req.Workspace != sub.sig.Workspace)) {
		// Switching would widen a token its client narrowed.
		return TokenResponse{}, oauthErr(CodeInvalidTarget, "a token narrowed to a workspace cannot be exchanged for another organization or workspace")
	}
	sig := sub.sig
	if req.Workspace != "" {
		sig.Workspace = req.Workspace
	}
	return p.exchanged(ctx, client, &pa, scope, sig, sub)
}

// checkExchangeRequest refuses what no subject can make valid.
func checkExchangeRequest(client directory.Client, req ExchangeRequest) error {
	switch {
	case req.SubjectToken == "":
		return errInvalidRequest("subject_token is required")
	case req.SubjectTokenType != TokenTypeAccessToken && req.SubjectTokenType != TokenTypeRefreshToken:
		return errInvalidRequest("subject_token_type is not supported")
	case req.ActorToken:
		return errInvalidRequest("delegation (actor_token) is not supported")
	case req.RequestedTokenType != "" && req.RequestedTokenType != TokenTypeAccessToken:
		return errInvalidRequest("requested_token_type must be " + TokenTypeAccessToken)
	case len(req.Resource) > 0:
		return oauthErr(CodeInvalidTarget, "resource indicators are not served; the token's audience is the client")
	case !slices.Contains(client.GrantTypes, GrantAuthorizationCode):
		// The subject tokens come from the code flow; a client not
		// registered for it holds none.
		return oauthErr(CodeUnauthorizedClient, "the client may not use this grant type")
	}
	for _, a := range req.Audience {
		if a != client.ID {
			return oauthErr(CodeInvalidTarget, "the audience must be the client itself")
		}
	}
	return nil
}

// errBadSubject is the one answer for a subject token that cannot be
// exchanged, whatever the reason (logged as the cause): RFC 8693 §2.2.2
// makes it invalid_request.
func errBadSubject(cause error) *Error {
	return &Error{Code: CodeInvalidRequest,
		Description: "the subject_token is invalid, expired, revoked, was issued to another client, or its sign-in no longer grants tokens",
		Cause:       cause}
}

// accessSubject reads an access-token subject.
func (p *Provider) accessSubject(ctx context.Context, client directory.Client, token string) (exchangeSubject, error) {
	_, c, ok, err := p.issuer.verifyAccessToken(ctx, token)
	if err != nil {
		return exchangeSubject{}, err
	}
	if !ok {
		return exchangeSubject{}, errBadSubject(errors.New("not an active access token of this issuer"))
	}
	revoked, err := p.issuer.store.TokenRevoked(ctx, c.JWTID)
	switch {
	case err != nil:
		return exchangeSubject{}, errUnavailable(err)
	case revoked:
		return exchangeSubject{}, errBadSubject(errors.New("access token revoked"))
	case c.ClientID != client.ID:
		return exchangeSubject{}, errBadSubject(errors.New("access token of client " + c.ClientID))
	case directory.PrincipalTypeOf(c.Subject) != directory.PrincipalUser:
		return exchangeSubject{}, &Error{Code: CodeInvalidRequest,
			Description: "a service account's token cannot be exchanged: a service account belongs to one organization"}
	case c.IdP == "" || c.IdP == directory.LinkConnection:
		return exchangeSubject{}, errBadSubject(errors.New("access token names no connection"))
	}
	sig := signIn{SessionID: c.SessionID, ConnectionID: c.IdP, AMR: c.AMR}
	if c.Narrowed != nil {
		sig.Workspace = c.Narrowed.Name
	}
	return exchangeSubject{userID: c.Subject, orgID: c.Org.ID, scope: c.Scope, sig: sig,
		notAfter: unixTime(c.ExpiresAt)}, nil
}

// refreshSubject reads a refresh-token subject without rotating it. A
// rotated token presented here is a reuse like at the refresh grant (the
// family is revoked); a family of another client is revoked (its token
// leaked).
func (p *Provider) refreshSubject(ctx context.Context, client directory.Client, token string) (exchangeSubject, error) {
	fam, err := p.sessions.GetRefresh(ctx, token)
	if notFound(err) {
		_, _, err = p.sessions.RotateRefresh(ctx, token)
	}
	if err != nil {
		if e := AsError(p.refreshFailed(ctx, client, err)); e.Code != CodeInvalidGrant {
			return exchangeSubject{}, e
		}
		return exchangeSubject{}, errBadSubject(err)
	}
	if fam.ClientID != client.ID {
		p.revokeFamily(ctx, fam.ID, "refresh token presented by another client")
		return exchangeSubject{}, errBadSubject(errors.New("refresh token of client " + fam.ClientID + " presented; family revoked"))
	}
	var sig signIn
	if err := json.Unmarshal(fam.Claims, &sig); err != nil {
		return exchangeSubject{}, errServer(err)
	}
	if sig.ConnectionID == directory.LinkConnection {
		return exchangeSubject{}, errBadSubject(errors.New("refresh family of a sign-in link session"))
	}
	return exchangeSubject{userID: fam.UserID, orgID: fam.OrgID, scope: fam.Scope, sig: sig,
		notAfter: fam.ExpiresAt, family: &fam}, nil
}

// exchanged mints the exchange's answer for the user's access pa.
func (p *Provider) exchanged(ctx context.Context, client directory.Client, pa *directory.PrincipalAccess, scope string,
	sig signIn, sub exchangeSubject) (TokenResponse, error) {
	scope, err := p.grantableScope(ctx, client.ID, scope)
	if err != nil {
		return TokenResponse{}, err
	}
	now := p.now()
	if !sub.notAfter.After(now) {
		return TokenResponse{}, errBadSubject(errors.New("the subject's family has ended"))
	}
	g := userGrant(pa, client.ID, scope, sig)
	g.aud2 = p.adminAudience(scope)
	g.notAfter = sub.notAfter
	if err := p.issuer.resolveWorkspaces(ctx, &g, sig.Workspace); err != nil {
		var oe *Error
		if errors.As(err, &oe) && oe.Code == CodeInvalidScope {
			// The workspace is the exchange's target (RFC 8693 §2.2.2).
			return TokenResponse{}, &Error{Code: CodeInvalidTarget, Description: oe.Description, Cause: err}
		}
		return TokenResponse{}, err
	}
	access, meta, err := p.issuer.mintWithID(&g, nil, newJTI())
	if err != nil {
		return TokenResponse{}, err
	}
	out := TokenResponse{AccessToken: string(access), TokenType: "Bearer", ExpiresIn: int64(meta.exp.Sub(now) / time.Second),
		Scope: scope, IssuedTokenType: TokenTypeAccessToken}
	var familyID string
	if sub.family != nil && slices.Contains(client.GrantTypes, GrantRefreshToken) {
		if out.RefreshToken, familyID, err = p.exchangedFamily(ctx, pa, scope, sig, sub.family); err != nil {
			return TokenResponse{}, err
		}
	}
	p.log.InfoContext(ctx, "token exchanged", "client_id", client.ID, "user", sub.userID, "from_org", sub.orgID,
		"org", pa.Org.ID, "workspace", sig.Workspace, "jti", string(meta.jti[:]), "refresh_family", familyID)
	return out, nil
}

// exchangedFamily starts the new refresh-token family of an exchange whose
// subject is a refresh token: the same browser session (so logout ends it
// like its subject), never past the subject family's absolute expiry.
func (p *Provider) exchangedFamily(ctx context.Context, pa *directory.PrincipalAccess, scope string, sig signIn,
	subject *session.RefreshFamily) (token, familyID string, err error) {
	snapshot, err := json.Marshal(sig)
	if err != nil {
		return "", "", errServer(err)
	}
	fam := session.RefreshFamily{ID: session.NewFamilyID(), UserID: subject.UserID, OrgID: pa.Org.ID, ClientID: subject.ClientID,
		Scope: scope, SessionID: subject.SessionID, AuthTime: subject.AuthTime, Claims: snapshot, ExpiresAt: subject.ExpiresAt}
	tok, err := p.sessions.CreateRefresh(ctx, fam)
	if err != nil {
		return "", "", storeErr(err)
	}
	return tok, fam.ID, nil
}

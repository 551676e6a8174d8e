package tokens

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// AuthenticateClient authenticates a registered client (cli_…) at the
// token or revocation endpoint, with the credentials the request carried
// (package tokens/oauth reads them: client_secret_basic or
// client_secret_post, or client_id alone). A confidential client's
// secret's SHA-256 is compared in constant time with the stored hash; a
// public client authenticates by client_id alone (token_endpoint_auth
// "none"; its code is bound by PKCE). A public client sending a secret, or
// a confidential one sending none, is invalid_client. Failures are marked
// for the Issuer's failure limiter (Issuer.Throttle); a correct secret is
// never refused.
func (p *Provider) AuthenticateClient(ctx context.Context, creds Credentials) (directory.Client, error) {
	id, secret := creds.ID, creds.Secret
	if id == "" {
		return directory.Client{}, errInvalidClient(errors.New("no client credentials"))
	}
	client, err := p.client(ctx, id)
	if notFound(err) {
		return client, failedAuth(id, errInvalidClient(errors.New("unknown client")))
	}
	if err != nil {
		return client, storeErr(err)
	}
	switch {
	case client.Public && secret != "":
		// Not counted as a failure: there is no secret to guess, and
		// counting would let anyone lock a public client out.
		return client, errInvalidClient(errors.New("a public client sent a secret"))
	case client.Public:
		return client, nil
	case secret == "":
		return client, failedAuth(id, errInvalidClient(errors.New("a confidential client sent no secret")))
	case len(client.SecretHash) == 0 || subtle.ConstantTimeCompare(directory.HashSecret(secret), client.SecretHash) != 1:
		return client, failedAuth(id, errInvalidClient(errors.New("wrong client secret")))
	}
	return client, nil
}

// allowGrant refuses a grant type the client is not registered for.
func allowGrant(client directory.Client, grantType string) error {
	if !slices.Contains(client.GrantTypes, grantType) {
		return oauthErr(CodeUnauthorizedClient, "the client may not use this grant type")
	}
	return nil
}

// TokenResponse is the token endpoint's answer (RFC 6749 §5.1), encoded
// with encoding/json by package tokens/oauth.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"` // always "Bearer"
	ExpiresIn    int64  `json:"expires_in"` // seconds
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	// IssuedTokenType is set in token-exchange answers only (RFC 8693
	// §2.2.1): the type of AccessToken.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
}

// TokenRequest is a registered client's token request: grant_type
// authorization_code (Code, RedirectURI, CodeVerifier) or refresh_token
// (RefreshToken, and Scope to narrow).
type TokenRequest struct {
	GrantType                       string
	Code, RedirectURI, CodeVerifier string
	RefreshToken, Scope             string
}

// Token answers the authorization_code and refresh_token grants for a
// client AuthenticateClient authenticated: unauthorized_client when the
// client is not registered for the grant type, then see redeemCode and
// refresh. Failures are *Error values.
func (p *Provider) Token(ctx context.Context, client directory.Client, req TokenRequest) (TokenResponse, error) {
	if err := allowGrant(client, req.GrantType); err != nil {
		return TokenResponse{}, err
	}
	if req.GrantType == GrantAuthorizationCode {
		return p.redeemCode(ctx, client, codeGrant{code: req.Code, redirectURI: req.RedirectURI, verifier: req.CodeVerifier})
	}
	return p.refresh(ctx, client, refreshGrant{token: req.RefreshToken, scope: req.Scope})
}

// tokenResponse mints the access token (with id jti) of a user's grant —
// and the ID token when the scope has openid — with refresh when it is not
// empty.
func (p *Provider) tokenResponse(ctx context.Context, pa *directory.PrincipalAccess, clientID, scope string,
	sig signIn, nonce string, jti [22]byte, refresh string) (TokenResponse, error) {
	scope, serr := p.grantableScope(ctx, clientID, scope)
	if serr != nil {
		return TokenResponse{}, serr
	}
	g := userGrant(pa, clientID, scope, sig)
	g.aud2 = p.adminAudience(scope)
	if err := p.issuer.resolveWorkspaces(ctx, &g, sig.Workspace); err != nil {
		return TokenResponse{}, err
	}
	access, _, err := p.issuer.mintWithID(&g, nil, jti)
	if err != nil {
		return TokenResponse{}, err
	}
	out := TokenResponse{AccessToken: string(access), TokenType: "Bearer", ExpiresIn: int64(p.issuer.cfg.AccessTokenTTL / time.Second),
		Scope: scope, RefreshToken: refresh}
	if hasScope(scope, ScopeOpenID) {
		c := p.idTokenClaims(pa, clientID, scope, sig, nonce, p.now())
		id, err := p.appendIDToken(nil, &c, access)
		if err != nil {
			return TokenResponse{}, err
		}
		out.IDToken = string(id)
	}
	return out, nil
}

// refreshGrant is a token request with grant_type=refresh_token.
type refreshGrant struct {
	token, scope string
}

// refresh answers the refresh_token grant (RFC 6749 §6) for the
// authenticated client. The family
// is read first and rotated only once every check passed, so a directory
// outage never burns a token the client still needs. Checks: the family
// belongs to the client (otherwise it is revoked: its token leaked), the
// scope asked for is within the family's (narrowing only; the family keeps
// its scope), and the user's standing (otherwise the family is revoked).
// A rotated token presented again revokes the whole family (the store does
// it); every failure is invalid_grant.
func (p *Provider) refresh(ctx context.Context, client directory.Client, req refreshGrant) (TokenResponse, error) {
	if req.token == "" {
		return TokenResponse{}, errInvalidRequest("refresh_token is required")
	}
	fam, err := p.sessions.GetRefresh(ctx, req.token)
	if notFound(err) {
		// Not current: a rotated token (the rotation detects the reuse and
		// revokes the family), or nothing at all.
		_, _, err = p.sessions.RotateRefresh(ctx, req.token)
	}
	if err != nil {
		return TokenResponse{}, p.refreshFailed(ctx, client, err)
	}
	if fam.ClientID != client.ID {
		p.revokeFamily(ctx, fam.ID, "refresh token presented by another client")
		return TokenResponse{}, errBadGrant(errors.New("refresh token of client " + fam.ClientID + " presented; family revoked"))
	}
	scope := fam.Scope
	if req.scope != "" {
		if scope, err = narrowScope(fam.Scope, req.scope); err != nil {
			return TokenResponse{}, err
		}
	}
	var sig signIn
	if err := json.Unmarshal(fam.Claims, &sig); err != nil {
		return TokenResponse{}, errServer(err)
	}
	pa, err := p.standing(ctx, fam.OrgID, fam.UserID, sig.ConnectionID)
	if err != nil {
		if errors.Is(err, ErrNoStanding) {
			p.revokeFamily(ctx, fam.ID, "standing lost")
		}
		return TokenResponse{}, err
	}
	fam, next, err := p.sessions.RotateRefresh(ctx, req.token)
	if err != nil {
		return TokenResponse{}, p.refreshFailed(ctx, client, err)
	}
	out, err := p.tokenResponse(ctx, &pa, client.ID, scope, sig, "", newJTI(), next)
	if err == nil {
		p.log.DebugContext(ctx, "refresh token rotated", "client_id", client.ID, "user", fam.UserID, "refresh_family", fam.ID,
			"generation", fam.Generation)
	}
	return out, err
}

// refreshFailed maps a session-store error of a refresh to its answer.
func (p *Provider) refreshFailed(ctx context.Context, client directory.Client, err error) error {
	switch {
	case errors.Is(err, session.ErrRefreshReused):
		p.log.WarnContext(ctx, "refresh token reused: family revoked", "client_id", client.ID)
		return errBadGrant(err)
	case errors.Is(err, session.ErrRefreshConcurrent), notFound(err):
		return errBadGrant(err)
	}
	return storeErr(err)
}

// narrowScope returns the scope asked for when it is within granted
// (RFC 6749 §6: never wider).
func narrowScope(granted, asked string) (string, error) {
	var out []string
	for s := range splitScope(asked) {
		if !hasScope(granted, s) {
			return "", oauthErr(CodeInvalidScope, "the scope asked for exceeds the granted scope")
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return granted, nil
	}
	return strings.Join(out, " "), nil
}

// splitScope yields the non-empty values of a space-separated scope.
func splitScope(scope string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(scope) > 0 {
			var v string
			i := 0
			for i < len(scope) && scope[i] != ' ' {
				i++
			}
			v, scope = scope[:i], scope[min(i+1, len(scope)):]
			if v != "" && !yield(v) {
				return
			}
		}
	}
}

package tokens

import (
	"context"
	"errors"

	"github.com/ssobroker/ssobroker/directory"
)

// ErrInvalidAccessToken is returned by VerifyAccessToken for any token that is
// not an active access token of this issuer.
var ErrInvalidAccessToken = errors.New("tokens: invalid access token")

// VerifyAccessToken checks an access token for the broker's own APIs: a
// signature by a published key, this issuer, typ at+jwt, not expired, jti not
// revoked, and the sign-in behind a user's token still standing
// (tokenStands). It accepts every audience, because the broker is a
// resource server for all of its clients' tokens. It returns
// ErrInvalidAccessToken for a bad token and an *Error with status 503 when
// the keys or the store are unavailable.
func (i *Issuer) VerifyAccessToken(ctx context.Context, token string) (AccessClaims, error) {
	_, c, ok, err := i.verifyAccessToken(ctx, token)
	if err != nil {
		return AccessClaims{}, err
	}
	if !ok {
		return AccessClaims{}, ErrInvalidAccessToken
	}
	revoked, err := i.store.TokenRevoked(ctx, c.JWTID)
	if err != nil {
		return AccessClaims{}, errUnavailable(err)
	}
	if revoked {
		return AccessClaims{}, ErrInvalidAccessToken
	}
	stands, err := i.tokenStands(ctx, c)
	if err != nil {
		return AccessClaims{}, err
	}
	if !stands {
		return AccessClaims{}, ErrInvalidAccessToken
	}
	return c, nil
}

// tokenStands reports whether the principal of an unexpired, unrevoked
// access token still holds it. A user's token names the connection the user
// signed in through (idp): it stands while directory.SessionStanding holds
// for (org, user, connection), the same cached verdict browser sessions and
// grants get, so removing the member or disabling or deleting the
// connection refuses the token at the next request, in every replica
// (docs/security.md, "Deprovisioning"). Any other token (a service
// account's, or a user's without idp) stands while its principal is a
// member of the org. err is a 503 *Error when the directory is unavailable.
func (i *Issuer) tokenStands(ctx context.Context, c AccessClaims) (bool, error) {
	var err error
	if c.IdP != "" && !c.IsServiceAccount() {
		_, err = i.store.SessionStanding(ctx, c.Org.ID, c.Subject, c.IdP)
	} else {
		_, err = i.store.PrincipalAccess(ctx, c.Org.ID, c.Subject)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, directory.ErrNoStanding), errors.Is(err, directory.ErrNotFound):
		return false, nil
	default:
		return false, errUnavailable(err)
	}
}

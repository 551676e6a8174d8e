package tokens

import (
	"context"
	"errors"
)

// ErrInvalidAccessToken is returned by VerifyAccessToken for any token that is
// not an active access token of this issuer.
var ErrInvalidAccessToken = errors.New("tokens: invalid access token")

// VerifyAccessToken checks an access token for the broker's own APIs: a
// signature by a published key, this issuer, typ at+jwt, not expired, jti not
// revoked. It accepts every audience, because the broker is a resource server
// for all of its clients' tokens. It returns ErrInvalidAccessToken for a bad
// token and an *Error with status 503 when the keys or the store are unavailable.
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
	return c, nil
}

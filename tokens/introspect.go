package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"

	"github.com/ssobroker/ssobroker/tokens/verify"
)

// maxTokenLen bounds the tokens introspection and revocation parse.
const maxTokenLen = 64 << 10

// Credentials are the credentials a client authenticates with.
type Credentials struct {
	ID     string
	Secret string
}

// Introspection is an RFC 7662 answer. When Active is false nothing else is
// said, whatever the reason.
type Introspection struct {
	Active bool
	Claims AccessClaims
	// payload is the token's verified claims JSON, answered as is.
	payload []byte
}

// MarshalJSON returns {"active":false}, or the token's claims with
// "active":true and "token_type":"Bearer" added.
func (in Introspection) MarshalJSON() ([]byte, error) {
	return in.AppendJSON(nil)
}

// AppendJSON appends what MarshalJSON returns to dst. The claims are the
// token's payload as signed — a JSON object of this issuer's making, which
// names neither "active" nor "token_type", and which verifyAccessToken
// checked is valid JSON and nothing more — spliced after the two members it
// adds, so nothing is decoded and encoded again. It fails, leaving dst as it
// was, when the payload is not an object.
func (in Introspection) AppendJSON(dst []byte) ([]byte, error) {
	if !in.Active {
		return append(dst, `{"active":false}`...), nil
	}
	claims := bytes.TrimSpace(in.payload)
	if len(claims) < 2 || claims[0] != '{' || claims[len(claims)-1] != '}' {
		return dst, errors.New("tokens: claims: the token's payload is not a JSON object")
	}
	dst = append(dst, `{"active":true,"token_type":"Bearer"`...)
	if rest := bytes.TrimSpace(claims[1:]); len(rest) > 1 {
		dst = append(dst, ',')
		dst = append(dst, rest...)
	} else {
		dst = append(dst, '}')
	}
	return dst, nil
}

// Introspect answers whether token is an active access token (RFC 7662), for
// a service account authenticated by caller. A token is active when its
// signature verifies with a key still published (a deleted key stops it at
// once), it was issued by this issuer as an access token and has not
// expired, its jti was not revoked, its sign-in still stands (tokenStands:
// the principal is a member of the org and, for a user, the connection they
// signed in through is enabled), and the org is the caller's own: a service account does not learn
// about other organizations' tokens. Errors are *Error values: for the
// caller's authentication as in ClientCredentials, 503 when the store is down.
func (i *Issuer) Introspect(ctx context.Context, caller Credentials, token string) (Introspection, error) {
	kp, err := i.authenticate(ctx, caller.ID, caller.Secret)
	if err != nil {
		return Introspection{}, err
	}
	payload, c, ok, err := i.verifyAccessToken(ctx, token)
	if err != nil || !ok {
		return Introspection{}, err
	}
	if c.Org.ID != kp.Account.OrgID {
		return Introspection{}, nil
	}
	revoked, err := i.store.TokenRevoked(ctx, c.JWTID)
	if err != nil {
		return Introspection{}, errUnavailable(err)
	}
	if revoked {
		return Introspection{}, nil
	}
	if stands, err := i.tokenStands(ctx, c); err != nil || !stands {
		return Introspection{}, err
	}
	return Introspection{Active: true, Claims: c, payload: payload}, nil
}

// revokeAccessToken revokes token for the client callerID when it is an
// access token this issuer issued to that client: its jti goes to the
// revocation list (Store.RevokeToken, until the token expires), so
// introspection, userinfo and VerifyAccessToken refuse it at once. ok is
// false, with a nil error, when token is not a valid unexpired access token
// of ours (RFC 7009 §2.2: nothing to do, answered 200). An access token
// issued to another client is refused with unauthorized_client (RFC 7009
// §2.1) and stays valid.
func (i *Issuer) revokeAccessToken(ctx context.Context, callerID, token string) (ok bool, err error) {
	_, c, ok, err := i.verifyAccessToken(ctx, token)
	if err != nil || !ok {
		return false, err
	}
	if c.ClientID != callerID {
		return true, oauthErr(CodeUnauthorizedClient, "the token was not issued to this client")
	}
	if err := i.store.RevokeToken(ctx, c.JWTID, unixTime(c.ExpiresAt)); err != nil {
		return true, errUnavailable(err)
	}
	i.cfg.Log.InfoContext(ctx, "access token revoked", "jti", c.JWTID, "client_id", callerID, "sub", c.Subject)
	return true, nil
}

// verifyAccessToken checks token against the published keys, reloaded first
// if the store changed. ok is false, with a nil error, for anything that is
// not a valid unexpired access token of this issuer; err is set only when
// the key set cannot be loaded. A token whose signature verified before is
// found in i.verified and not verified again, as long as the key that
// verified it is still published; its claims are checked anew and
// returned as a copy.
// The payload returned is shared: callers must not modify it.
func (i *Issuer) verifyAccessToken(ctx context.Context, token string) (payload []byte, c AccessClaims, ok bool, err error) {
	ks, err := i.keys.current(ctx, true)
	if err != nil {
		return nil, c, false, errUnavailable(err)
	}
	if len(token) > maxTokenLen {
		return nil, c, false, nil
	}
	now := i.cfg.Now().Unix()
	digest := sha256.Sum256([]byte(token))
	if e, hit := i.verified.get(digest, now); hit && ks.public[e.key.kid] == e.key {
		if !i.accessClaimsHold(&e.claims, now) {
			return nil, c, false, nil
		}
		return e.payload, cloneAccessClaims(e.claims), true, nil
	}
	if strings.Count(token, ".") != 2 {
		return nil, c, false, nil
	}
	// The header rule is tokens/verify's (verify.ParseHeader); the key
	// found by kid decides the algorithm.
	h, err := verify.ParseHeader(token[:strings.IndexByte(token, '.')])
	if err != nil {
		return nil, c, false, nil
	}
	if t := strings.ToLower(h.Typ); t != "at+jwt" && t != "application/at+jwt" {
		return nil, c, false, nil
	}
	vk := ks.public[h.KID]
	if vk == nil || h.Alg != vk.alg.String() {
		return nil, c, false, nil
	}
	payload, ok = verify.Signed(token, vk.alg, vk.raw)
	if !ok {
		return nil, c, false, nil
	}
	// Unmarshal, unlike a Decoder, refuses anything after the object: the
	// payload is answered as is (Introspection.AppendJSON).
	if json.Unmarshal(payload, &c) != nil || !i.accessClaimsHold(&c, now) {
		return nil, c, false, nil
	}
	i.verified.put(digest, verifiedToken{key: vk, payload: payload, claims: cloneAccessClaims(c)})
	return payload, c, true, nil
}

// accessClaimsHold reports whether this issuer issued the access token of
// claims c, which has a jti, has not expired at now and was not issued in
// the future (beyond the keyring's leeway).
func (i *Issuer) accessClaimsHold(c *AccessClaims, now int64) bool {
	return c.Issuer == i.cfg.Issuer && c.JWTID != "" && c.ExpiresAt > now && c.IssuedAt <= now+int64(i.keys.cfg.Leeway.Seconds())
}

// Package verify checks ssobroker access tokens (RFC 9068 JWTs) offline.
//
// Relying services build one Verifier at start-up, pointed at the broker's
// issuer, and call Verify (or mount Middleware) for each request. The
// package imports nothing from ssobroker but directory/access, so that
// Claims.Permissions computes exactly what the broker computes, without any
// storage code. JOSE is jwx's: this package decides which key and which
// algorithm are acceptable, and jwx checks the signature.
//
// The rules (docs/security.md, RFC 8725, RFC 9068): the key decides the
// algorithm, never the header; only asymmetric algorithms; a kid is only
// ever a key in the KeySource; headers that carry or point to keys (jku,
// x5u, jwk, x5c), crit and b64 are refused; iss, aud, exp, nbf, iat and typ
// at+jwt are checked with a small leeway. The header rule is ParseHeader's,
// and the broker (tokens, tokens/external) applies it through ParseHeader
// too, so it is written once.
//
// Offline checks cannot see a revocation: a token verifies until it
// expires. Config.Revocation adds an optional check at the broker: an
// Introspector asks /oauth2/introspect (RFC 7662) about each token and
// trusts an "active" answer for its Interval, so a token revoked at the
// broker, or whose user was removed, is refused within Interval (default
// 30 s). When the broker cannot be asked it fails closed after a grace
// equal to Interval, unless FailOpen is set (docs/verifying-tokens.md).
package verify

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Defaults of Config.
const (
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultType is the typ header of access tokens (RFC 9068).
	DefaultType = "at+jwt"
	// DefaultRealm is the realm of Middleware's challenges, as the
	// broker's own admin API names it.
	DefaultRealm = "ssobroker"
	// JWKSPath is appended to Config.Issuer to find the default JWKS.
	JWKSPath = "/.well-known/jwks.json"
)

// Limits on the token itself, applied before any parsing.
const (
	// MaxTokenBytes is the longest token Verify will look at. An access
	// token listing hundreds of workspaces stays well below it.
	MaxTokenBytes = 64 << 10
	// maxHeaderBytes bounds the encoded protected header.
	maxHeaderBytes = 2 << 10
	// maxKIDBytes bounds the kid; ours are short.
	maxKIDBytes = 256
)

// Config configures a Verifier. Issuer and Audience are required.
type Config struct {
	// Issuer is the exact iss expected, such as "https://sso.example.com".
	Issuer string
	// Audience lists acceptable audiences (usually the service's client
	// id); a token must carry at least one of them in aud.
	Audience []string
	// Keys finds verification keys. Default: a RemoteKeySet (default
	// settings) on Issuer + "/.well-known/jwks.json".
	Keys KeySource
	// Leeway is the clock skew tolerated on exp, nbf and iat, in whole
	// seconds. Zero means DefaultLeeway; a negative value means none.
	Leeway time.Duration
	// Algorithms are the signature algorithms accepted. Default ES256,
	// EdDSA, RS256. Only ES256/384/512, EdDSA, RS256/384/512 and
	// PS256/384/512 may be listed: New refuses HS*, none and anything else.
	Algorithms []jwa.SignatureAlgorithm
	// Type is the required typ header, compared case-insensitively with
	// the "application/" prefix optional (RFC 7515 §4.1.9), so the default
	// "at+jwt" also accepts "application/at+jwt". Default DefaultType.
	Type string
	// Realm is the realm Middleware names in WWW-Authenticate. Default
	// DefaultRealm.
	Realm string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Revocation, when set, is asked about every token that passed the
	// offline checks, so that a token revoked at the broker, or whose
	// principal was removed, is refused within a stated bound (an
	// Introspector: its Interval). Nil: tokens are valid until exp.
	Revocation RevocationCheck
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer   string
	audience []string
	keys     KeySource
	leeway   int64 // seconds
	algs     []jwa.SignatureAlgorithm
	typ      string // normalized: lower case, with "application/"
	realm    string
	now      func() time.Time
	b64      *base64.Encoding
	cache    keyCache
	revoked  RevocationCheck
}

// New returns a Verifier for cfg. It returns an error when Issuer or
// Audience is missing, an algorithm is not an allowed asymmetric one, or the
// default JWKS URL derived from Issuer is unusable.
func New(cfg Config) (*Verifier, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("Issuer is required"))
	}
	if len(cfg.Audience) == 0 || slices.Contains(cfg.Audience, "") {
		errs = append(errs, errors.New("Audience needs at least one non-empty value"))
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.RS256}
	}
	for _, a := range algs {
		if !Asymmetric(a) {
			errs = append(errs, fmt.Errorf("algorithm %q is not allowed: only asymmetric ES*, EdDSA, RS*, PS* are", a))
		}
	}
	typ := cfg.Type
	if typ == "" {
		typ = DefaultType
	}
	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	keys := cfg.Keys
	if keys == nil && cfg.Issuer != "" {
		rks, err := NewRemoteKeySet(strings.TrimSuffix(cfg.Issuer, "/")+JWKSPath, RemoteKeySetConfig{Now: cfg.Now})
		if err != nil {
			errs = append(errs, err)
		}
		keys = rks
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("verify: invalid config: %w", err)
	}
	v := &Verifier{
		issuer:   cfg.Issuer,
		audience: slices.Clone(cfg.Audience),
		keys:     keys,
		leeway:   int64(leeway / time.Second),
		algs:     slices.Clone(algs),
		typ:      normalizeType(typ),
		realm:    cmpOr(cfg.Realm, DefaultRealm),
		now:      cfg.Now,
		b64:      base64.RawURLEncoding.Strict(),
		revoked:  cfg.Revocation,
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// typeMatches reports whether typ, read as RFC 7515 §4.1.9 says, is the
// configured type: case-insensitive, "application/" implied when typ has no
// '/'. It allocates nothing.
func (v *Verifier) typeMatches(typ string) bool {
	const app = "application/"
	if len(typ) >= len(app) && strings.EqualFold(typ[:len(app)], app) {
		return strings.EqualFold(typ, v.typ)
	}
	return !strings.Contains(typ, "/") && strings.HasPrefix(v.typ, app) && strings.EqualFold(typ, v.typ[len(app):])
}

// normalizeType lower-cases a typ and adds the "application/" prefix a typ
// without '/' implies (RFC 7515 §4.1.9).
func normalizeType(t string) string {
	t = strings.ToLower(t)
	if !strings.Contains(t, "/") {
		t = "application/" + t
	}
	return t
}

// Verify checks token and returns its claims. In order: the compact form;
// the protected header (no jku, x5u, jwk, x5c, crit or b64; kid present;
// alg allowed; typ); the key, found by kid through the KeySource only; the
// key's algorithm, which must equal the header's; the signature, checked by
// jwx with that key; then exp, nbf and iat with the leeway, iss, aud and the
// claims RFC 9068 requires (sub, client_id, jti); last, when
// Config.Revocation is set, whether the broker still holds it active.
//
// A refused token yields a *TokenError wrapping ErrInvalidToken (and
// ErrExpired for an expired one, ErrRevoked for a revoked one). An error
// wrapping ErrKeysUnavailable or ErrRevocationUnavailable, or the context's
// error, means the verifier could not decide. Verify never
// panics, whatever the input.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	hdrB64, payloadB64, sigB64, err := splitCompact(token)
	if err != nil {
		return nil, err
	}
	h, err := v.parseHeader(hdrB64)
	if err != nil {
		return nil, err
	}
	key, err := v.keys.LookupKey(ctx, h.KID)
	switch {
	case err == nil && key == nil:
		return nil, invalid("unknown key id", ErrUnknownKey)
	case errors.Is(err, ErrKeysUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Not the token's fault: the verifier cannot decide right now.
		return nil, fmt.Errorf("verify: looking up key: %w", err)
	case err != nil:
		return nil, invalid("unknown key id", err)
	}
	vk, err := v.cache.get(h.KID, key)
	if err != nil {
		return nil, invalid("key unusable", err)
	}
	if string(vk.alg) != h.Alg {
		return nil, invalid("algorithm does not match key", fmt.Errorf("header alg %q, key alg %q", h.Alg, vk.alg))
	}
	if !slices.Contains(v.algs, vk.alg) {
		return nil, invalid("algorithm not allowed", fmt.Errorf("key alg %q", vk.alg))
	}
	sig, err := v.b64.DecodeString(sigB64)
	if err != nil {
		return nil, invalid("malformed signature", err)
	}
	signingInput := token[:len(hdrB64)+1+len(payloadB64)]
	if err := vk.verifier.Verify([]byte(signingInput), sig, vk.raw); err != nil {
		return nil, invalid("signature invalid", err)
	}
	payload, err := v.b64.DecodeString(payloadB64)
	if err != nil {
		return nil, invalid("malformed payload", err)
	}
	c := new(Claims)
	if err := decodeClaims(payload, c); err != nil {
		return nil, invalid("malformed claims", err)
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	if v.revoked != nil {
		if err := v.revoked.CheckActive(ctx, token, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// splitCompact checks the size and alphabet of a compact JWS and returns its
// three base64url parts. It returns a *TokenError for anything else.
func splitCompact(token string) (hdr, payload, sig string, err error) {
	switch {
	case token == "":
		return "", "", "", invalid("empty token", nil)
	case len(token) > MaxTokenBytes:
		return "", "", "", invalid("token too large", nil)
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return "", "", "", invalid("malformed token", errors.New("character outside base64url"))
		}
	}
	if dots != 2 {
		return "", "", "", invalid("malformed token", errors.New("not a compact JWS (want three parts)"))
	}
	hdr, rest, _ := strings.Cut(token, ".")
	payload, sig, _ = strings.Cut(rest, ".")
	switch {
	case hdr == "" || payload == "":
		return "", "", "", invalid("malformed token", errors.New("empty header or payload"))
	case sig == "":
		return "", "", "", invalid("unsigned token", nil)
	case len(hdr) > maxHeaderBytes:
		return "", "", "", invalid("header too large", nil)
	}
	return hdr, payload, sig, nil
}

// parseHeader applies the protected-header rule (ParseHeader,
// CheckAlgorithm) and this verifier's own checks (algorithms, kid, typ), so
// that forged tokens are refused before any key lookup (and cannot trigger
// a JWKS refresh). It returns a *TokenError on failure.
func (v *Verifier) parseHeader(enc string) (Header, error) {
	h, err := ParseHeader(enc)
	if err != nil {
		var he *HeaderError
		switch {
		case !errors.As(err, &he):
			return Header{}, invalid("malformed header", err)
		case he.Err == ErrForbiddenHeader:
			return Header{}, invalid("forbidden header parameter "+he.Param, nil)
		case he.Param != "":
			return Header{}, invalid("malformed header", fmt.Errorf("%s: %w", he.Param, he.Cause))
		}
		return Header{}, invalid("malformed header", he.Cause)
	}
	if err := h.CheckAlgorithm(); errors.Is(err, ErrUnsigned) {
		return Header{}, invalid("unsigned token", nil)
	}
	switch {
	case !slices.Contains(v.algs, jwa.SignatureAlgorithm(h.Alg)):
		return Header{}, invalid("algorithm not allowed", fmt.Errorf("alg %q", h.Alg))
	case h.KID == "":
		return Header{}, invalid("missing kid", nil)
	case len(h.KID) > maxKIDBytes:
		return Header{}, invalid("kid too long", nil)
	case h.Typ == "":
		return Header{}, invalid("wrong token type", errors.New("missing typ"))
	case !v.typeMatches(h.Typ):
		return Header{}, invalid("wrong token type", fmt.Errorf("typ %q", h.Typ))
	}
	return h, nil
}

// checkClaims applies the time, issuer, audience and presence rules. It
// returns a *TokenError on failure.
func (v *Verifier) checkClaims(c *Claims) error {
	now := v.now().Unix()
	switch {
	case c.ExpiresAt == 0:
		return invalid("missing exp", nil)
	case now-v.leeway >= c.ExpiresAt:
		return invalid("token expired", ErrExpired)
	case c.NotBefore != 0 && now+v.leeway < c.NotBefore:
		return invalid("token not yet valid", nil)
	case c.IssuedAt == 0:
		return invalid("missing iat", nil)
	case c.IssuedAt > now+v.leeway:
		return invalid("token issued in the future", nil)
	case c.Issuer != v.issuer:
		return invalid("wrong issuer", fmt.Errorf("iss %q", c.Issuer))
	case !v.audienceMatches(c.Audience):
		return invalid("wrong audience", fmt.Errorf("aud %q", []string(c.Audience)))
	case c.Subject == "":
		return invalid("missing sub", nil)
	case c.ClientID == "":
		return invalid("missing client_id", nil)
	case c.JWTID == "":
		return invalid("missing jti", nil)
	}
	return nil
}

func (v *Verifier) audienceMatches(aud Audience) bool {
	for _, want := range v.audience {
		if aud.Contains(want) {
			return true
		}
	}
	return false
}

// Keys returns the KeySource the Verifier uses (the default RemoteKeySet
// when Config.Keys was nil), for example to warm it up with Refresh.
func (v *Verifier) Keys() KeySource { return v.keys }

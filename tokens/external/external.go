// Package external checks JWTs from the external issuers an org trusts
// (docs/jwt-issuers.md) for the jwt-bearer grant and token exchange: it
// implements tokens.AssertionVerifier.
//
// The order of checks keeps unauthenticated callers from creating state or
// making us fetch anything they choose: the token's shape and header are
// checked first, by the rule tokens/verify owns (verify.ParseHeader: no
// jku, x5u, jwk, x5c, crit or b64 — never followed, refused; no none, no
// HMAC); then its iss is looked up among the trusted issuers in
// the directory, and only a registered issuer's key set is ever fetched,
// through the broker's safe upstream client. The key found by kid decides
// the algorithm; jwx verifies the signature; then exp, nbf and iat are
// checked with Config.Leeway, and iss, aud and sub against the trust.
package external

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// Defaults of Config.
const (
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 60 * time.Second
	// DefaultMinRefreshInterval is the least time between two fetches of
	// one issuer's JWKS, whatever triggers them (an unknown kid included).
	DefaultMinRefreshInterval = 30 * time.Second
	// DefaultMaxKeySets bounds the key sets kept in memory. Only trusted
	// issuers' sets ever get in.
	DefaultMaxKeySets = 1000
	// DefaultDiscoveryMaxAge is how long a discovered jwks_uri is kept.
	DefaultDiscoveryMaxAge = time.Hour
)

// Limits applied before anything else.
const (
	// MaxTokenBytes is the longest external JWT looked at.
	MaxTokenBytes = 16 << 10
	maxHeaderB64  = 4 << 10
	maxKIDBytes   = 256
	maxDocBytes   = 256 << 10
)

// Store finds the trusted issuers of a token's iss (directory.SQLStore).
type Store interface {
	FindJWTIssuers(ctx context.Context, issuer string) ([]directory.JWTIssuer, error)
}

// Config configures a Verifier. Store and HTTPClient are required.
type Config struct {
	Store Store
	// HTTPClient fetches discovery documents and key sets: the broker's
	// upstream client (idp.NewUpstreamClientWithPolicy), with its timeouts,
	// size bound, no redirects and address policy.
	HTTPClient *http.Client
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero means
	// DefaultLeeway, negative none.
	Leeway time.Duration
	// MinRefreshInterval: zero means DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// MaxKeySets: zero means DefaultMaxKeySets.
	MaxKeySets int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives fetch failures; nil discards them.
	Logger *slog.Logger
}

// Verifier checks external JWTs. It is safe for concurrent use.
type Verifier struct {
	store      Store
	client     *http.Client
	leeway     time.Duration
	minRefresh time.Duration
	maxSets    int
	now        func() time.Time
	log        *slog.Logger
	b64        *base64.Encoding

	mu   sync.Mutex
	sets map[string]*verify.RemoteKeySet // by JWKS URL
	disc map[string]discovered           // by issuer
}

type discovered struct {
	jwksURI string
	until   time.Time
}

// New returns a Verifier, or an error naming what is missing.
func New(cfg Config) (*Verifier, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("a store is required"))
	}
	if cfg.HTTPClient == nil {
		errs = append(errs, errors.New("an HTTP client (the upstream client) is required"))
	}
	if cfg.MinRefreshInterval < 0 || cfg.MaxKeySets < 0 {
		errs = append(errs, errors.New("the refresh interval and the key set bound must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("external: %w", err)
	}
	v := &Verifier{store: cfg.Store, client: cfg.HTTPClient, leeway: cfg.Leeway, minRefresh: cfg.MinRefreshInterval,
		maxSets: cfg.MaxKeySets, now: cfg.Now, log: cfg.Logger, b64: base64.RawURLEncoding.Strict(),
		sets: map[string]*verify.RemoteKeySet{}, disc: map[string]discovered{}}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.minRefresh == 0 {
		v.minRefresh = DefaultMinRefreshInterval
	}
	if v.maxSets == 0 {
		v.maxSets = DefaultMaxKeySets
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	return v, nil
}

// refusal builds the *tokens.AssertionError of reason.
func refusal(reason, desc string, trust *directory.JWTIssuer, cause error) error {
	return &tokens.AssertionError{Reason: reason, Description: desc, Trust: trust, Cause: cause}
}

// VerifyAssertion checks token and returns the trust it matched with its
// verified claims. Refusals are *tokens.AssertionError values with the
// reason codes of docs/jwt-issuers.md; a store failure is returned as is.
func (v *Verifier) VerifyAssertion(ctx context.Context, token string) (tokens.Assertion, error) {
	hdrB64, payloadB64, err := v.split(token)
	if err != nil {
		return tokens.Assertion{}, err
	}
	h, err := v.parseHeader(hdrB64)
	if err != nil {
		return tokens.Assertion{}, err
	}
	unverified, err := v.decodeClaims(payloadB64)
	if err != nil {
		return tokens.Assertion{}, err
	}
	trust, err := v.trustOf(ctx, unverified)
	if err != nil {
		return tokens.Assertion{}, err
	}
	if err := v.checkSignature(ctx, trust, token, h.Alg, h.KID); err != nil {
		return tokens.Assertion{}, err
	}
	// The signature covers the payload decoded above: it is now verified.
	if err := v.checkClaims(trust, unverified); err != nil {
		return tokens.Assertion{}, err
	}
	return tokens.Assertion{Trust: *trust, Claims: unverified}, nil
}

// split checks the size and alphabet of a compact JWS.
func (v *Verifier) split(token string) (hdr, payload string, err error) {
	switch {
	case token == "":
		return "", "", refusal("malformed", "the assertion is empty", nil, nil)
	case len(token) > MaxTokenBytes:
		return "", "", refusal("malformed", fmt.Sprintf("the assertion is longer than %d bytes", MaxTokenBytes), nil, nil)
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", "", refusal("malformed", "the assertion is not a compact JWS", nil, nil)
		}
	}
	parts := strings.Split(token, ".")
	switch {
	case len(parts) != 3 || parts[0] == "" || parts[1] == "":
		return "", "", refusal("malformed", "the assertion is not a compact JWS (three base64url parts)", nil, nil)
	case parts[2] == "":
		return "", "", refusal("unsigned", "the assertion is not signed", nil, nil)
	case len(parts[0]) > maxHeaderB64:
		return "", "", refusal("malformed", "the assertion's header is too large", nil, nil)
	}
	return parts[0], parts[1], nil
}

// parseHeader applies the protected-header rule, owned by tokens/verify
// (verify.ParseHeader, Header.CheckAlgorithm), with this package's reason
// codes, so that a forged token is refused before any lookup or fetch.
func (v *Verifier) parseHeader(enc string) (verify.Header, error) {
	h, err := verify.ParseHeader(enc)
	var he *verify.HeaderError
	switch {
	case err == nil:
	case !errors.As(err, &he):
		return verify.Header{}, refusal("malformed", "the assertion's header is not valid", nil, err)
	case he.Err == verify.ErrForbiddenHeader && (he.Param == "crit" || he.Param == "b64"):
		return verify.Header{}, refusal("forbidden_header", "the assertion's header carries crit or b64: no JWS extension is understood", nil, nil)
	case he.Err == verify.ErrForbiddenHeader:
		return verify.Header{}, refusal("forbidden_header", fmt.Sprintf("the assertion's header carries %s: keys are only taken from the trusted issuer's registered key set", he.Param), nil, nil)
	case he.Param == "kid":
		return verify.Header{}, refusal("malformed", "the assertion's kid is not a string", nil, he.Cause)
	case errors.As(he.Cause, new(base64.CorruptInputError)):
		return verify.Header{}, refusal("malformed", "the assertion's header is not base64url", nil, he.Cause)
	default:
		return verify.Header{}, refusal("malformed", "the assertion's header is not a JSON object", nil, he.Cause)
	}
	if h.HasKID && h.KID == "" {
		return verify.Header{}, refusal("malformed", "the assertion's kid is empty", nil, nil)
	}
	switch err := h.CheckAlgorithm(); {
	case errors.Is(err, verify.ErrUnsigned):
		return verify.Header{}, refusal("unsigned", "the assertion is not signed (alg none or missing)", nil, nil)
	case err != nil:
		return verify.Header{}, refusal("algorithm_not_allowed", fmt.Sprintf("algorithm %q is not accepted: only the asymmetric algorithm of the issuer's key", clip(h.Alg)), nil, nil)
	case len(h.KID) > maxKIDBytes:
		return verify.Header{}, refusal("malformed", "the assertion's kid is too long", nil, nil)
	}
	return h, nil
}

// decodeClaims decodes the (not yet verified) payload: a JSON object with
// numbers kept exact.
func (v *Verifier) decodeClaims(enc string) (map[string]any, error) {
	raw, err := v.b64.DecodeString(enc)
	if err != nil {
		return nil, refusal("malformed", "the assertion's payload is not base64url", nil, err)
	}
	var c map[string]any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&c); err != nil || c == nil || d.More() {
		return nil, refusal("malformed", "the assertion's claims are not a JSON object", nil, err)
	}
	return c, nil
}

// trustOf finds the one trusted issuer the token is for: same iss, its
// audience among the token's aud, and its subject (when set) the token's
// sub; a trust naming the subject wins over one that does not. Only then
// may anything be fetched. A refusal is recorded under a trust only when
// a single org trusts that iss, so no org sees another's tokens.
func (v *Verifier) trustOf(ctx context.Context, c map[string]any) (*directory.JWTIssuer, error) {
	iss, _ := c["iss"].(string)
	if iss == "" {
		return nil, refusal("missing_claim", "the assertion has no iss", nil, nil)
	}
	all, err := v.store.FindJWTIssuers(ctx, iss)
	if err != nil {
		return nil, fmt.Errorf("external: finding trusted issuers: %w", err)
	}
	if len(all) == 0 {
		return nil, refusal("untrusted_issuer", "no organization trusts the assertion's issuer", nil, nil)
	}
	var blame *directory.JWTIssuer
	if oneOrg(all) {
		blame = &all[0]
	}
	aud, ok := audience(c["aud"])
	if !ok {
		return nil, refusal("wrong_audience", "the assertion's aud is missing or not a string or array of strings", blame, nil)
	}
	sub, _ := c["sub"].(string)
	var best *directory.JWTIssuer
	ambiguous, audOK := false, false
	for i := range all {
		t := &all[i]
		if !contains(aud, t.Audience) {
			continue
		}
		audOK = true
		if t.Subject != "" && t.Subject != sub {
			continue
		}
		switch {
		case best == nil || (best.Subject == "" && t.Subject != ""):
			best, ambiguous = t, false
		case (best.Subject != "") == (t.Subject != ""):
			ambiguous = true
		}
	}
	switch {
	case !audOK:
		return nil, refusal("wrong_audience", fmt.Sprintf("the assertion's aud %q is not the audience a trust of its issuer expects", clip(strings.Join(aud, " "))), blame, nil)
	case best == nil:
		return nil, refusal("wrong_subject", fmt.Sprintf("the assertion's sub %q is not the subject the trust expects", clip(sub)), blame, nil)
	case ambiguous:
		return nil, refusal("ambiguous_trust", "several trusts match the assertion: give each a distinct audience or subject", nil, nil)
	}
	return best, nil
}

func oneOrg(ts []directory.JWTIssuer) bool {
	for _, t := range ts[1:] {
		if t.OrgID != ts[0].OrgID {
			return false
		}
	}
	return true
}

// audience reads aud: a string or an array of strings (RFC 7519 §4.1.3).
func audience(v any) ([]string, bool) {
	switch a := v.(type) {
	case string:
		return []string{a}, a != ""
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clip bounds a value quoted back to the caller and the admin.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// checkSignature finds the key (by kid; without one, the set's only key)
// in the trusted issuer's key set, lets the key decide the algorithm and
// checks the signature (verify.Signed).
func (v *Verifier) checkSignature(ctx context.Context, trust *directory.JWTIssuer, token, headerAlg, kid string) error {
	set, err := v.keySet(ctx, trust)
	if err != nil {
		return refusal("keys_unavailable", "the trusted issuer's keys could not be fetched", trust, err)
	}
	key, err := set.LookupKey(ctx, kid)
	switch {
	case errors.Is(err, verify.ErrKIDRequired):
		return refusal("kid_required", "the assertion names no key (kid) and the issuer publishes several", trust, err)
	case errors.Is(err, verify.ErrUnknownKey):
		return refusal("unknown_kid", fmt.Sprintf("the issuer's key set has no key %q", clip(kid)), trust, err)
	case err != nil:
		return refusal("keys_unavailable", "the trusted issuer's keys could not be fetched", trust, err)
	}
	alg, raw, err := verify.KeyAlgorithm(key)
	if err != nil {
		return refusal("unknown_kid", "the issuer's key is not usable for signatures", trust, err)
	}
	if string(alg) != headerAlg {
		return refusal("algorithm_mismatch", fmt.Sprintf("the assertion's alg %s is not its key's algorithm %s", clip(headerAlg), alg), trust, nil)
	}
	if _, ok := verify.Signed(token, alg, raw); !ok {
		return refusal("bad_signature", "the assertion's signature does not verify with the issuer's key", trust, nil)
	}
	return nil
}

// checkClaims applies the time rules with the leeway (RFC 7523 §3: exp
// is required; nbf and iat are checked when present) and the trust's
// issuer, audience and subject again, now that the claims are verified.
func (v *Verifier) checkClaims(trust *directory.JWTIssuer, c map[string]any) error {
	now := v.now()
	exp, ok, err := numericDate(c, "exp")
	switch {
	case err != nil:
		return refusal("malformed", err.Error(), trust, nil)
	case !ok:
		return refusal("missing_claim", "the assertion has no exp", trust, nil)
	case !now.Add(-v.leeway).Before(exp):
		return refusal("expired", fmt.Sprintf("the assertion expired at %s", exp.UTC().Format(time.RFC3339)), trust, nil)
	}
	if nbf, ok, err := numericDate(c, "nbf"); err != nil {
		return refusal("malformed", err.Error(), trust, nil)
	} else if ok && now.Add(v.leeway).Before(nbf) {
		return refusal("not_yet_valid", fmt.Sprintf("the assertion is not valid before %s", nbf.UTC().Format(time.RFC3339)), trust, nil)
	}
	if iat, ok, err := numericDate(c, "iat"); err != nil {
		return refusal("malformed", err.Error(), trust, nil)
	} else if ok && now.Add(v.leeway).Before(iat) {
		return refusal("issued_in_future", fmt.Sprintf("the assertion was issued in the future (%s)", iat.UTC().Format(time.RFC3339)), trust, nil)
	}
	sub, _ := c["sub"].(string)
	if sub == "" {
		return refusal("missing_claim", "the assertion has no sub", trust, nil)
	}
	aud, _ := audience(c["aud"])
	if iss, _ := c["iss"].(string); iss != trust.Issuer || !contains(aud, trust.Audience) || (trust.Subject != "" && sub != trust.Subject) {
		return refusal("wrong_audience", "the assertion does not match its trust", trust, nil)
	}
	return nil
}

// numericDate reads claim name as a NumericDate (RFC 7519 §2): a JSON
// number of seconds. ok is false when the claim is absent.
func numericDate(c map[string]any, name string) (t time.Time, ok bool, err error) {
	raw, present := c[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, isNum := raw.(json.Number)
	if !isNum {
		return time.Time{}, false, fmt.Errorf("the assertion's %s is not a number", name)
	}
	f, ferr := n.Float64()
	if ferr != nil || f < 0 || f > 1e11 {
		return time.Time{}, false, fmt.Errorf("the assertion's %s is not a valid time", name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

package verify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// The protected-header rule (docs/security.md, RFC 8725 §3.1 and §3.10) has
// one owner, this file, for every JWS ssobroker looks at: access tokens here
// and at the issuer (tokens, introspection), and external issuers' JWTs
// (tokens/external). A header that carries or points to a key (jku, x5u,
// jwk, x5c) is refused, never followed: a key comes only from a key set the
// verifier already trusts. crit and b64 are refused too: no JWS extension is
// understood. The key decides the algorithm: never none, never HMAC.

// ErrMalformedHeader is wrapped by the error ParseHeader returns for a
// protected header that is not base64url-encoded JSON object with string
// alg, typ and kid.
var ErrMalformedHeader = errors.New("malformed header")

// ErrForbiddenHeader is wrapped by the error ParseHeader returns for a
// protected header carrying jku, x5u, jwk, x5c, crit or b64.
var ErrForbiddenHeader = errors.New("forbidden header parameter")

// ErrUnsigned is returned by Header.CheckAlgorithm when alg is missing or
// none.
var ErrUnsigned = errors.New("unsigned token")

// ErrAlgorithmNotAllowed is returned by Header.CheckAlgorithm when alg is
// not an asymmetric signature algorithm.
var ErrAlgorithmNotAllowed = errors.New("algorithm not allowed")

// Header is the part of a JWS protected header a token is judged on, once
// ParseHeader has refused everything else. The strings may share memory
// with each other.
type Header struct {
	Alg string
	KID string
	Typ string
	// HasKID reports whether kid was present, even empty or null.
	HasKID bool
}

// HeaderError is the error ParseHeader returns. It wraps ErrMalformedHeader
// or ErrForbiddenHeader, and the cause when there is one.
type HeaderError struct {
	// Param is the parameter at fault: the refused one (jku, x5u, jwk,
	// x5c, crit or b64) for ErrForbiddenHeader; "kid" for a kid that is
	// not a string; "" when the header as a whole is not base64url JSON.
	Param string
	// Err is ErrMalformedHeader or ErrForbiddenHeader.
	Err error
	// Cause is the base64 or JSON error, or nil.
	Cause error
}

// Error names the rule broken and, when present, the parameter and cause.
func (e *HeaderError) Error() string {
	s := e.Err.Error()
	if e.Param != "" {
		s += " " + e.Param
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns Err and, when present, Cause.
func (e *HeaderError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// jsonHeader is the protected header as encoding/json decodes it.
// Parameters that carry or point to keys are kept raw only to detect their
// presence; encoding/json matches names case-insensitively, which here only
// widens what is refused.
type jsonHeader struct {
	Alg  string          `json:"alg"`
	KID  json.RawMessage `json:"kid"`
	Typ  string          `json:"typ"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	JWK  json.RawMessage `json:"jwk"`
	X5C  json.RawMessage `json:"x5c"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// ParseHeader decodes enc, the first part of a compact JWS (strict
// base64url, no padding), and refuses a header that carries jku, x5u, jwk,
// x5c, crit or b64, whatever their value. It checks that alg, typ and kid,
// when present, are strings; it checks neither the algorithm
// (Header.CheckAlgorithm) nor the lengths, which the caller bounds. It
// fetches nothing. On failure it returns a *HeaderError wrapping
// ErrMalformedHeader or ErrForbiddenHeader.
func ParseHeader(enc string) (Header, error) {
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err == nil && !canonicalTail(enc) {
		err = base64.CorruptInputError(len(enc) - 1) // as Strict mode says it
	}
	if err != nil {
		return Header{}, &HeaderError{Err: ErrMalformedHeader, Cause: err}
	}
	var h Header
	if decodeHeaderFast(string(raw), &h) {
		return h, nil
	}
	return decodeHeaderJSON(raw)
}

// decodeHeaderJSON is ParseHeader's path for a header outside the fast
// path's subset: encoding/json decides, then the rules apply.
func decodeHeaderJSON(raw []byte) (Header, error) {
	var j jsonHeader
	if err := json.Unmarshal(raw, &j); err != nil {
		return Header{}, &HeaderError{Err: ErrMalformedHeader, Cause: err}
	}
	for _, p := range [...]struct {
		name string
		val  json.RawMessage
	}{{"jku", j.JKU}, {"x5u", j.X5U}, {"jwk", j.JWK}, {"x5c", j.X5C}, {"crit", j.Crit}, {"b64", j.B64}} {
		if p.val != nil {
			return Header{}, &HeaderError{Param: p.name, Err: ErrForbiddenHeader}
		}
	}
	h := Header{Alg: j.Alg, Typ: j.Typ, HasKID: j.KID != nil}
	if h.HasKID {
		if err := json.Unmarshal(j.KID, &h.KID); err != nil {
			return Header{}, &HeaderError{Param: "kid", Err: ErrMalformedHeader, Cause: err}
		}
	}
	return h, nil
}

// canonicalTail reports whether the unused low bits of the last character
// of unpadded base64url enc are zero, as base64's Strict mode requires (a
// header has one encoding only).
func canonicalTail(enc string) bool {
	var mask byte
	switch len(enc) % 4 {
	case 2:
		mask = 0x0f
	case 3:
		mask = 0x03
	default:
		return true
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := strings.IndexByte(alphabet, enc[len(enc)-1])
	return v >= 0 && byte(v)&mask == 0
}

// CheckAlgorithm returns ErrUnsigned when alg is missing or none (in any
// case), ErrAlgorithmNotAllowed when it is not an asymmetric signature
// algorithm (Asymmetric), and nil otherwise. The key found by kid must
// still decide: the caller compares alg with the key's algorithm.
func (h Header) CheckAlgorithm() error {
	switch {
	case h.Alg == "" || strings.EqualFold(h.Alg, "none"):
		return ErrUnsigned
	case !Asymmetric(jwa.SignatureAlgorithm(h.Alg)):
		return ErrAlgorithmNotAllowed
	}
	return nil
}

// Asymmetric reports whether a is a signature algorithm a public key can
// have, the only kind ssobroker accepts: ES256/384/512, EdDSA,
// RS256/384/512, PS256/384/512; never HMAC, never none.
func Asymmetric(a jwa.SignatureAlgorithm) bool {
	switch a {
	case jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA,
		jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		return true
	}
	return false
}

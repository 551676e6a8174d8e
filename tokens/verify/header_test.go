package verify_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/ssobroker/ssobroker/tokens/verify"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestParseHeaderRefusesKeyCarryingAndExtensionParameters is the rule of
// docs/security.md: whatever their value, and in any case of their name.
func TestParseHeaderRefusesKeyCarryingAndExtensionParameters(t *testing.T) {
	for _, tc := range []struct{ header, param string }{
		{`{"alg":"ES256","kid":"k","jku":"http://127.0.0.1/jwks"}`, "jku"},
		{`{"alg":"ES256","kid":"k","JKU":"http://127.0.0.1/jwks"}`, "jku"},
		{`{"alg":"ES256","x5u":"http://127.0.0.1/cert"}`, "x5u"},
		{`{"alg":"ES256","jwk":{"kty":"EC"}}`, "jwk"},
		{`{"alg":"ES256","x5c":["MIIB"]}`, "x5c"},
		{`{"alg":"ES256","crit":["exp"],"exp":1}`, "crit"},
		{`{"alg":"ES256","b64":false}`, "b64"},
		{`{"alg":"ES256","jku":null}`, "jku"},
	} {
		_, err := verify.ParseHeader(enc(tc.header))
		var he *verify.HeaderError
		if !errors.Is(err, verify.ErrForbiddenHeader) || !errors.As(err, &he) || he.Param != tc.param {
			t.Errorf("%s: got %v, want forbidden %s", tc.header, err, tc.param)
		}
	}
}

func TestParseHeaderRefusesMalformedHeaders(t *testing.T) {
	for _, tc := range []struct{ name, enc, param string }{
		{"not base64url", "e30=", ""},
		{"non-zero trailing bits", "e31", ""},
		{"not JSON", enc("{nope"), ""},
		{"JSON array", enc(`["ES256"]`), ""},
		{"numeric alg", enc(`{"alg":1}`), ""},
		{"numeric typ", enc(`{"alg":"ES256","typ":1}`), ""},
		{"numeric kid", enc(`{"alg":"ES256","kid":1}`), "kid"},
	} {
		_, err := verify.ParseHeader(tc.enc)
		var he *verify.HeaderError
		if !errors.Is(err, verify.ErrMalformedHeader) || !errors.As(err, &he) || he.Param != tc.param {
			t.Errorf("%s: got %v, want malformed %q", tc.name, err, tc.param)
		}
	}
}

func TestParseHeaderReturnsAlgKidTyp(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   verify.Header
	}{
		{`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`, verify.Header{Alg: "ES256", KID: "k1", Typ: "at+jwt", HasKID: true}},
		{`{"typ":"JWT", "alg":"RS256"}`, verify.Header{Alg: "RS256", Typ: "JWT"}},
		{`{"alg":"ES256","kid":""}`, verify.Header{Alg: "ES256", HasKID: true}},
		{`{"alg":"ES256","kid":null}`, verify.Header{Alg: "ES256", HasKID: true}},
		{`{"alg":"ES256","kid":"k\u0031","x":1}`, verify.Header{Alg: "ES256", KID: "k1", HasKID: true}},
	} {
		got, err := verify.ParseHeader(enc(tc.header))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.header, got, err, tc.want)
		}
	}
}

// TestCheckAlgorithmAcceptsOnlyAsymmetric: the key decides the algorithm,
// and only a public key's algorithm can be one.
func TestCheckAlgorithmAcceptsOnlyAsymmetric(t *testing.T) {
	for alg, want := range map[string]error{
		"": verify.ErrUnsigned, "none": verify.ErrUnsigned, "NoNe": verify.ErrUnsigned,
		"HS256": verify.ErrAlgorithmNotAllowed, "es256": verify.ErrAlgorithmNotAllowed, "RSA-OAEP": verify.ErrAlgorithmNotAllowed,
		"ES256": nil, "ES512": nil, "EdDSA": nil, "RS384": nil, "PS512": nil,
	} {
		if got := (verify.Header{Alg: alg}).CheckAlgorithm(); got != want {
			t.Errorf("alg %q: got %v, want %v", alg, got, want)
		}
	}
}

package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// FuzzVerify feeds arbitrary strings to Verify. Verify must never panic, and
// it may accept a token only if its signed part (header and payload) is
// exactly that of a token we signed.
func FuzzVerify(f *testing.F) {
	ec := verifytest.NewKey(f, jwa.ES256, "ec-1")
	ed := verifytest.NewKey(f, jwa.EdDSA, "ed-1")
	v := newTestVerifier(f, staticKeys(ec, ed), nil)
	signed := map[string]bool{}
	for _, tok := range []string{
		signToken(f, ec, validClaims(), nil),
		signToken(f, ed, validClaims(), nil),
		signToken(f, ec, validClaims(), map[string]any{"typ": "JWT"}),
		signToken(f, ec, []byte(`{"aud":[1]}`), nil),
	} {
		signed[tok[:strings.LastIndexByte(tok, '.')]] = true
		f.Add(tok)
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjLTEiLCJ0eXAiOiJhdCtqd3QifQ.e30.AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(context.Background(), token)
		if err != nil {
			if claims != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if i := strings.LastIndexByte(token, '.'); i < 0 || !signed[token[:i]] {
			t.Fatalf("accepted a token we never signed: %q", token)
		}
	})
}

package verify_test

import (
	"crypto"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/ssobroker/ssobroker/tokens/verify"
	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// publicOf is the public half of a verifytest key, as a crypto key.
func publicOf(t *testing.T, k *verifytest.Key) any {
	t.Helper()
	return k.Raw.(crypto.Signer).Public()
}

// Signed accepts a token signed by the key under the key's algorithm, for
// each algorithm family (ES256 through crypto/ecdsa, the others through
// jwx), and refuses every alteration: another key, another algorithm,
// a changed payload or signature, a non-canonical spelling, a truncated
// form, a symmetric algorithm.
func TestSigned(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.ES384, jwa.EdDSA, jwa.RS256, jwa.PS256} {
		t.Run(alg.String(), func(t *testing.T) {
			k := verifytest.NewKey(t, alg, "k1")
			other := verifytest.NewKey(t, alg, "k2")
			tok := k.Sign(t, map[string]any{"sub": "x", "n": 1}, nil)
			pub := publicOf(t, k)
			payload, ok := verify.Signed(tok, alg, pub)
			if !ok || !strings.Contains(string(payload), `"sub":"x"`) {
				t.Fatalf("valid token refused: %q %v", payload, ok)
			}
			parts := strings.Split(tok, ".")
			flip := func(s string) string { // another character at the start
				c := "A"
				if s[0] == 'A' {
					c = "B"
				}
				return c + s[1:]
			}
			b64 := base64.RawURLEncoding
			refused := map[string]struct {
				tok string
				alg jwa.SignatureAlgorithm
				key any
			}{
				"another key":         {tok, alg, publicOf(t, other)},
				"another algorithm":   {tok, jwa.ES512, pub},
				"symmetric algorithm": {tok, jwa.HS256, []byte("secret")},
				"changed payload":     {parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"y","n":1}`)) + "." + parts[2], alg, pub},
				"changed signature":   {parts[0] + "." + parts[1] + "." + flip(parts[2]), alg, pub},
				"padded signature":    {tok + "==", alg, pub},
				"no signature":        {parts[0] + "." + parts[1] + ".", alg, pub},
				"two parts":           {parts[0] + "." + parts[1], alg, pub},
				"one part":            {parts[0], alg, pub},
				"four parts":          {parts[0] + "." + parts[1] + ".x." + parts[2], alg, pub},
			}
			// A non-canonical spelling of the same signature: the last
			// character's unused low bits set. Only lengths with spare bits
			// have one.
			if last := parts[2][len(parts[2])-1:]; len(parts[2])%4 != 0 {
				alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
				refused["non-canonical signature"] = struct {
					tok string
					alg jwa.SignatureAlgorithm
					key any
				}{parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string(alphabet[strings.Index(alphabet, last)|1]), alg, pub}
			}
			for name, c := range refused {
				if _, ok := verify.Signed(c.tok, c.alg, c.key); ok {
					t.Errorf("%s: accepted", name)
				}
			}
		})
	}
}

package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// benchToken is a realistic access token: a platform member with three
// workspaces (validClaims), ES256, about 800 bytes.
func benchToken(b *testing.B) (*Verifier, string) {
	k := verifytest.NewKey(b, jwa.ES256, "2026-03-01-ec")
	v := newTestVerifier(b, staticKeys(k), nil)
	tok := signToken(b, k, validClaims(), nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return v, tok
}

// BenchmarkRawECDSAVerify is the ceiling: crypto/ecdsa verifying a P-256
// signature over a precomputed SHA-256 digest, nothing else.
func BenchmarkRawECDSAVerify(b *testing.B) {
	_, tok := benchToken(b)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(tok[:strings.LastIndexByte(tok, '.')]))
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &priv.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkVerify is Verify on a realistic token with the key in memory:
// split, header checks, key lookup, signature (jwx), claims, time checks.
func BenchmarkVerify(b *testing.B) {
	v, tok := benchToken(b)
	ctx := context.Background()
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeClaims compares the claims fast path with plain
// encoding/json on the same realistic payload (the reason decode.go exists).
func BenchmarkDecodeClaims(b *testing.B) {
	payload, err := json.Marshal(validClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast-path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c Claims
			if err := decodeClaims(payload, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c Claims
			if err := json.Unmarshal(payload, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

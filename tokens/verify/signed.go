package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Signed checks the signature of the compact JWS token under raw, the
// public key of algorithm alg, and returns the token's decoded payload; ok
// is false for any failure. The signature and the payload must be strict
// base64url (no padding, no stray bits), so one signed token has exactly
// one accepted spelling. ES256 with a P-256 key is checked by crypto/ecdsa
// directly (the signature is R ‖ S, 32 big-endian bytes each, RFC 7518
// §3.4); the other asymmetric algorithms by jwx's verifier for alg. Signed
// reads no header: ParseHeader, and the key deciding the algorithm, come
// first. The broker checks its own access tokens (introspection) and
// trusted issuers' JWTs (jwt-bearer, token exchange) with it; Verify, which
// names the failing step in its errors, keeps its own steps.
func Signed(token string, alg jwa.SignatureAlgorithm, raw any) (payload []byte, ok bool) {
	first, dot := strings.IndexByte(token, '.'), strings.LastIndexByte(token, '.')
	if first < 0 || dot <= first || !Asymmetric(alg) {
		return nil, false
	}
	strict := base64.RawURLEncoding.Strict()
	enc := token[dot+1:]
	if pub, isEC := raw.(*ecdsa.PublicKey); isEC && alg == jwa.ES256 && pub.Curve == elliptic.P256() {
		var sig [64]byte
		if strict.DecodedLen(len(enc)) != len(sig) {
			return nil, false
		}
		if n, err := strict.Decode(sig[:], []byte(enc)); err != nil || n != len(sig) {
			return nil, false
		}
		h := sha256.Sum256([]byte(token[:dot]))
		var r, s big.Int
		if !ecdsa.Verify(pub, h[:], r.SetBytes(sig[:32]), s.SetBytes(sig[32:])) {
			return nil, false
		}
	} else {
		sig, err := strict.DecodeString(enc)
		if err != nil {
			return nil, false
		}
		v, err := jws.NewVerifier(alg)
		if err != nil || v.Verify([]byte(token[:dot]), sig, raw) != nil {
			return nil, false
		}
	}
	payload, err := strict.DecodeString(token[first+1 : dot])
	return payload, err == nil
}

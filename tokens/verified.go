package tokens

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/lestrrat-go/jwx/v2/jws"
)

// verifySignature checks the compact JWS token under vk and returns its
// decoded payload; ok is false for a bad signature or encoding. ES256 is
// checked with crypto/ecdsa alone (the counterpart of appendES256): jwx's
// generic path re-parses the whole token, copies the key and decodes the
// signature through big.Int and ASN.1 on every call. Other algorithms go
// through jwx.
func (vk *verificationKey) verifySignature(token string) (payload []byte, ok bool) {
	pub, isEC := vk.raw.(*ecdsa.PublicKey)
	if !isEC || pub.Curve != elliptic.P256() {
		p, err := jws.Verify([]byte(token), jws.WithKey(vk.alg, vk.raw))
		return p, err == nil
	}
	dot := strings.LastIndexByte(token, '.')
	first := strings.IndexByte(token, '.')
	if first < 0 || dot <= first {
		return nil, false
	}
	// ES256 signatures are R and S as 32 big-endian bytes each (RFC 7518 §3.4).
	var sig [64]byte
	enc := token[dot+1:]
	if base64.RawURLEncoding.DecodedLen(len(enc)) != len(sig) {
		return nil, false
	}
	if n, err := base64.RawURLEncoding.Decode(sig[:], []byte(enc)); err != nil || n != len(sig) {
		return nil, false
	}
	h := sha256.Sum256([]byte(token[:dot]))
	var r, s big.Int
	if !ecdsa.Verify(pub, h[:], r.SetBytes(sig[:32]), s.SetBytes(sig[32:])) {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(token[first+1 : dot])
	return payload, err == nil
}

// maxVerifiedTokens bounds the verified-token cache: a caller introspecting
// more distinct tokens than this only evicts entries and pays the signature
// check each time, as without the cache.
const maxVerifiedTokens = 4096

// verifiedTokens remembers the payloads of access tokens whose signature
// verified, so that a token checked again (an API gateway introspecting the
// same bearer token on every call) costs a hash instead of an ECDSA
// verification. Entries are keyed by the SHA-256 of the exact token bytes
// (so a lookup compares digests, never the token itself), hold the key that
// verified them, and are dropped once the token expires. A hit replaces
// only the signature check: verifyAccessToken still requires the key to be
// published in the current key set (a deleted key stops the token at once)
// and re-checks the claims, and the callers still check revocation and
// standing every time.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	key     *verificationKey
	payload []byte       // shared read-only: never modified once cached
	claims  AccessClaims // the payload decoded; handed out as copies only
}

// get returns the entry of the token with digest d while now is before its
// exp; an expired entry is dropped.
func (v *verifiedTokens) get(d [sha256.Size]byte, now int64) (verifiedToken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.m[d]
	if ok && e.claims.ExpiresAt <= now {
		delete(v.m, d)
		return verifiedToken{}, false
	}
	return e, ok
}

// put remembers a verified token, evicting an arbitrary entry (Go's map
// iteration starts at a random place) when the cache is full.
func (v *verifiedTokens) put(d [sha256.Size]byte, e verifiedToken) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[[sha256.Size]byte]verifiedToken)
	}
	if _, ok := v.m[d]; !ok && len(v.m) >= maxVerifiedTokens {
		for k := range v.m {
			delete(v.m, k)
			break
		}
	}
	v.m[d] = e
}

// len is the number of cached tokens (for tests).
func (v *verifiedTokens) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.m)
}

// cloneAccessClaims returns c with its own copies of everything c refers
// to, so that a caller modifying its claims cannot change the cached ones.
// TestCloneAccessClaimsCoversEveryReference fails when AccessClaims gains a
// field this does not copy.
func cloneAccessClaims(c AccessClaims) AccessClaims {
	c.Audience = slices.Clone(c.Audience)
	c.AMR = slices.Clone(c.AMR)
	c.Workspaces = slices.Clone(c.Workspaces)
	if c.Narrowed != nil {
		n := *c.Narrowed
		c.Narrowed = &n
	}
	return c
}

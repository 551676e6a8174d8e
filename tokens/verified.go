package tokens

import (
	"crypto/sha256"
	"slices"
	"sync"
)

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

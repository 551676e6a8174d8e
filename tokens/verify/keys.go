package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// KeySource finds the public key a token names in its kid header. The token
// service implements it over its in-memory key set; relying services use
// RemoteKeySet. The kid comes from an unauthenticated header: an
// implementation must treat it as an opaque map key, never as a path, URL
// or query fragment. LookupKey should return an error wrapping ErrUnknownKey
// when it has no such key, and one wrapping ErrKeysUnavailable when it
// cannot answer at all. Verify refuses the token on any error except
// ErrKeysUnavailable and context errors, which it passes through as "cannot
// decide".
// Returned keys must not be modified afterwards: the Verifier caches what it
// derives from them, keyed by the key's identity.
type KeySource interface {
	LookupKey(ctx context.Context, kid string) (jwk.Key, error)
}

// KeySourceFunc adapts a function to a KeySource, as http.HandlerFunc does
// for handlers.
type KeySourceFunc func(ctx context.Context, kid string) (jwk.Key, error)

// LookupKey calls f and returns what it returns.
func (f KeySourceFunc) LookupKey(ctx context.Context, kid string) (jwk.Key, error) {
	return f(ctx, kid)
}

// verificationKey is what a jwk.Key becomes once it has been checked: the
// one algorithm it may verify, the raw public key jwx's verifier wants
// (exported once, not per token) and that verifier.
type verificationKey struct {
	alg      jwa.SignatureAlgorithm
	raw      any
	verifier jws.Verifier
}

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// errSymmetricKey refuses oct keys outright: with them a public value could
// become an HMAC secret.
var errSymmetricKey = errors.New("symmetric (oct) keys are never accepted")

// newVerificationKey checks that k is a public (or private, whose public half
// is used) signing key of a supported type and works out its algorithm: the
// key's own alg when it has one, which must suit the key type, otherwise
// inferred from the type (EC P-256 → ES256, P-384 → ES384, P-521 → ES512,
// Ed25519 → EdDSA, RSA → RS256). It returns an error for any other key.
func newVerificationKey(k jwk.Key) (*verificationKey, error) {
	if k == nil {
		return nil, errors.New("no key")
	}
	if k.KeyType() == jwa.OctetSeq {
		return nil, errSymmetricKey
	}
	if use := k.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, fmt.Errorf("key use is %q, not sig", use)
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, errors.New("key_ops does not include verify")
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, fmt.Errorf("exporting key: %w", err)
	}
	if s, ok := raw.(crypto.Signer); ok {
		raw = s.Public()
	}
	compatible, err := algorithmsForRawKey(raw)
	if err != nil {
		return nil, err
	}
	alg := compatible[0]
	if ka := k.Algorithm(); ka != nil && ka.String() != "" {
		alg = jwa.SignatureAlgorithm(ka.String())
		if !slices.Contains(compatible, alg) {
			return nil, fmt.Errorf("key alg %q does not suit a %s key", alg, k.KeyType())
		}
	}
	v, err := jws.NewVerifier(alg)
	if err != nil {
		return nil, fmt.Errorf("creating verifier: %w", err)
	}
	return &verificationKey{alg: alg, raw: raw, verifier: v}, nil
}

// KeyAlgorithm returns the one signature algorithm k may verify: its own
// alg, which must suit its type, or the one its type implies (EC P-256 →
// ES256, P-384 → ES384, P-521 → ES512, Ed25519 → EdDSA, RSA → RS256), and
// the public key jwx verifies with. It refuses symmetric keys, keys not for
// signing, RSA keys under 2048 bits and anything else. The broker checks
// external issuers' tokens with it (docs/jwt-issuers.md): the key decides
// the algorithm, never the token's header.
func KeyAlgorithm(k jwk.Key) (jwa.SignatureAlgorithm, any, error) {
	vk, err := newVerificationKey(k)
	if err != nil {
		return "", nil, err
	}
	return vk.alg, vk.raw, nil
}

// algorithmsForRawKey returns the algorithms a raw public key can verify,
// the one inferred for a key without alg first. It returns an error for
// unsupported types, curves and weak or malformed keys.
func algorithmsForRawKey(raw any) ([]jwa.SignatureAlgorithm, error) {
	switch pub := raw.(type) {
	case *ecdsa.PublicKey:
		if _, err := pub.ECDH(); err != nil { // rejects points not on the curve
			return nil, fmt.Errorf("invalid EC public key: %w", err)
		}
		switch pub.Curve {
		case elliptic.P256():
			return []jwa.SignatureAlgorithm{jwa.ES256}, nil
		case elliptic.P384():
			return []jwa.SignatureAlgorithm{jwa.ES384}, nil
		case elliptic.P521():
			return []jwa.SignatureAlgorithm{jwa.ES512}, nil
		}
		return nil, errors.New("unsupported EC curve")
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("invalid Ed25519 public key")
		}
		return []jwa.SignatureAlgorithm{jwa.EdDSA}, nil
	case *rsa.PublicKey:
		if pub.N == nil || pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key shorter than %d bits", minRSABits)
		}
		return []jwa.SignatureAlgorithm{jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512}, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", raw)
}

// maxCachedKeys bounds a Verifier's cache of derived keys. Only keys a
// KeySource returned get in, so the bound matters only across many
// rotations; when reached, the cache starts over.
const maxCachedKeys = 64

// keyCache remembers the verificationKey derived from each jwk.Key, so that
// the raw key is exported once per key rather than once per token. Reads
// are lock-free; writes copy the map.
type keyCache struct {
	entries atomic.Pointer[map[string]cachedKey]
	mu      sync.Mutex
}

type cachedKey struct {
	key jwk.Key
	vk  *verificationKey
	err error
}

// get returns the verificationKey for key, which the KeySource returned for
// kid, deriving and caching it on first use. It returns the derivation error
// for an unusable key.
func (c *keyCache) get(kid string, key jwk.Key) (*verificationKey, error) {
	if m := c.entries.Load(); m != nil {
		if e, ok := (*m)[kid]; ok && sameKey(e.key, key) {
			return e.vk, e.err
		}
	}
	vk, err := newVerificationKey(key)
	if !cacheable(key) {
		return vk, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var next map[string]cachedKey
	if old := c.entries.Load(); old != nil && len(*old) < maxCachedKeys {
		next = make(map[string]cachedKey, len(*old)+1)
		for k, v := range *old {
			next[k] = v
		}
	} else {
		next = make(map[string]cachedKey, 1)
	}
	next[kid] = cachedKey{key: key, vk: vk, err: err}
	c.entries.Store(&next)
	return vk, err
}

// cacheable reports whether key can be compared by identity without risk of
// a panic: jwx's own key types are pointers.
func cacheable(key jwk.Key) bool {
	return key != nil && reflect.TypeOf(key).Kind() == reflect.Pointer
}

// sameKey reports whether a and b are the very same key object.
func sameKey(a, b jwk.Key) bool {
	return cacheable(a) && cacheable(b) && a == b
}

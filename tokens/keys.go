package tokens

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// KeyStore is the part of the directory that signing keys live in.
type KeyStore interface {
	ListSigningKeys(ctx context.Context) ([]directory.SigningKey, error)
	InsertSigningKey(ctx context.Context, k directory.SigningKey) error
	TransitionSigningKey(ctx context.Context, kid string, from, to directory.SigningKeyState, at time.Time, expiresAt *time.Time) (bool, error)
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)
	Subscribe(fn func()) (cancel func())
}

// Errors about signing keys.
var (
	// ErrNoSigningKey means no key is active: the key set was never
	// initialised (Start) or the active key was deleted and the next one is
	// not promoted yet. Minting answers 503 until Rotate fixes it.
	ErrNoSigningKey = errors.New("tokens: no active signing key")
	// ErrKeyIntegrity means a stored key does not open under the secret key
	// or does not match its kid; the usual cause is a changed SSOBROKER_SECRET_KEY.
	ErrKeyIntegrity = errors.New("tokens: stored signing key failed its integrity check")
)

// rsaBits is the size of new RS256 access-token keys; rsaIDTokenBits the
// size of the ID-token lane's RS256 keys (see KeyConfig.IDTokenAlgorithm).
const (
	rsaBits        = 3072
	rsaIDTokenBits = 2048
)

// lane is a line of keys with its own lifecycle: the access-token keys, and
// the ID-token keys when ID tokens use another algorithm. Rows belong to a
// lane by their algorithm (laneOf).
type lane struct {
	id   int // laneAccess or laneIDToken
	name string
	alg  Algorithm
	bits int // RSA modulus size, for RS256
}

const (
	laneAccess  = 0
	laneIDToken = 1
)

// lanes returns the lanes this configuration keeps.
func (c KeyConfig) lanes() []lane {
	l := []lane{{id: laneAccess, name: "access token", alg: c.Algorithm, bits: rsaBits}}
	if c.IDTokenAlgorithm != c.Algorithm {
		l = append(l, lane{id: laneIDToken, name: "ID token", alg: c.IDTokenAlgorithm, bits: rsaIDTokenBits})
	}
	return l
}

// laneOf returns the lane of a stored key: the ID-token lane holds the keys
// of its algorithm when that differs from the access-token algorithm; every
// other key — including keys of an algorithm no longer configured — is in
// the access-token lane and retires by its rotation.
func (c KeyConfig) laneOf(alg string) int {
	if c.IDTokenAlgorithm != c.Algorithm && Algorithm(alg) == c.IDTokenAlgorithm {
		return laneIDToken
	}
	return laneAccess
}

// inLane returns the keys of lane l.
func (c KeyConfig) inLane(keys []directory.SigningKey, l int) []directory.SigningKey {
	out := make([]directory.SigningKey, 0, len(keys))
	for _, r := range keys {
		if c.laneOf(r.Algorithm) == l {
			out = append(out, r)
		}
	}
	return out
}

// Keyring holds the deployment's signing keys: it creates and rotates them in
// the store, and keeps in memory what requests need — the parsed active
// private key, the public keys and the serialized JWKS — behind one atomic
// pointer, so the request path takes no lock. Every replica runs one; they
// agree through the store's compare-and-swap and change notifications.
type Keyring struct {
	store KeyStore
	box   *secretbox.Box
	cfg   KeyConfig

	cur      atomic.Pointer[keySet]
	gen      atomic.Uint64 // bumped by every store change notification
	wake     chan struct{}
	unsub    func()
	reloadMu sync.Mutex
	rotateMu sync.Mutex
}

// keySet is an immutable view of the published keys.
type keySet struct {
	gen      uint64
	loadedAt time.Time
	signer   *signingKey                 // nil when no key is active
	idSigner *signingKey                 // signs ID tokens; signer when they share a lane
	public   map[string]*verificationKey // every published key by kid
	infos    []KeyInfo
	jwks     []byte
	etag     string
	jwksETag []string // header values, shared and never modified
	jwksCC   []string
}

// KeyInfo describes a published key (no key material).
type KeyInfo struct {
	ID          string
	Algorithm   Algorithm
	State       directory.SigningKeyState
	CreatedAt   time.Time
	ActivatedAt *time.Time
	RetiredAt   *time.Time
	ExpiresAt   *time.Time
}

type verificationKey struct {
	kid string
	alg jwa.SignatureAlgorithm
	raw any     // *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey
	jwk jwk.Key // public only
	src []byte  // the stored public JWK, to tell whether a reload changed it
}

// signingKey is a parsed private key with its pre-encoded JWS headers.
type signingKey struct {
	kid      string
	alg      jwa.SignatureAlgorithm
	signer   jws.Signer
	key      any               // handed to signer.Sign
	es256    *ecdsa.PrivateKey // ES256 keys are signed without jwx (appendES256)
	atHeader string            // base64url of {"alg":…,"kid":…,"typ":"at+jwt"}
	idHeader string            // base64url of {"alg":…,"kid":…,"typ":"JWT"} (ID tokens)
	// logoutHeader is base64url of {"alg":…,"kid":…,"typ":"logout+jwt"}
	// (back-channel logout tokens, signed with the ID-token key).
	logoutHeader string
}

// NewKeyring returns a Keyring over store; box seals private keys at rest. It
// fails when the configuration is inconsistent (every problem is listed). Call
// Start before serving and Run in the background; Close releases it.
func NewKeyring(store KeyStore, box *secretbox.Box, cfg KeyConfig) (*Keyring, error) {
	if store == nil || box == nil {
		return nil, errors.New("tokens: a key store and a secret box are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("tokens: key configuration: %w", err)
	}
	k := &Keyring{store: store, box: box, cfg: cfg, wake: make(chan struct{}, 1)}
	empty, err := k.build(nil, &keySet{}, cfg.Now()) // an empty JWKS until Start
	if err != nil {
		return nil, err
	}
	empty.gen = ^uint64(0) // stale: the first fresh read reloads
	k.cur.Store(empty)
	k.unsub = store.Subscribe(func() {
		k.gen.Add(1)
		select {
		case k.wake <- struct{}{}:
		default:
		}
	})
	return k, nil
}

// Close stops following store changes. It does not stop Run; cancel its context.
func (k *Keyring) Close() { k.unsub() }

// Start makes sure a key is active — creating and activating one when the
// store has none, as on a new deployment — and loads the key set. Several
// replicas starting at once end with one active key. It fails when the store
// is unreachable or a stored key does not open under the secret key.
func (k *Keyring) Start(ctx context.Context) error {
	if err := k.Reload(ctx); err != nil {
		return err
	}
	if k.cur.Load().complete() {
		return nil
	}
	if _, err := k.Rotate(ctx); err != nil {
		return err
	}
	if !k.cur.Load().complete() {
		return ErrNoSigningKey
	}
	return nil
}

// complete reports whether every lane has an active key.
func (ks *keySet) complete() bool { return ks.signer != nil && ks.idSigner != nil }

// Run keeps the key set current until ctx ends: it reloads on every store
// change notification and every ReloadInterval, and runs Rotate every
// RotationCheck (and at once when no key is active). Failures are logged and
// retried; Run returns nil when ctx is done.
func (k *Keyring) Run(ctx context.Context) error {
	reload := time.NewTicker(k.cfg.ReloadInterval)
	defer reload.Stop()
	rotate := time.NewTicker(k.cfg.RotationCheck)
	defer rotate.Stop()
	for {
		doRotate := false
		select {
		case <-ctx.Done():
			return nil
		case <-k.wake:
		case <-reload.C:
		case <-rotate.C:
			doRotate = true
		}
		if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
			k.cfg.Log.Error("reloading signing keys failed; keeping the previous set", "err", err)
		}
		if doRotate || !k.cur.Load().complete() {
			if _, err := k.Rotate(ctx); err != nil && ctx.Err() == nil {
				k.cfg.Log.Error("signing key rotation failed", "err", err)
			}
		}
	}
}

// Document is a pre-serialized JSON document served as is: its body, its
// strong ETag and its Cache-Control value. The slices are shared: never
// modify them.
type Document struct {
	Body         []byte
	ETag         []string
	CacheControl []string
}

// JWKS returns the JWKS of every published key — next, active and retired
// — as last loaded, serialized once per key change, with its ETag and
// Cache-Control max-age (KeyConfig.JWKSMaxAge).
func (k *Keyring) JWKS() Document {
	ks := k.cur.Load()
	return Document{Body: ks.jwks, ETag: ks.jwksETag, CacheControl: ks.jwksCC}
}

// Config returns the keyring's configuration, defaults applied.
func (k *Keyring) Config() KeyConfig { return k.cfg }

// SigningKeyIDs returns the kids access tokens and ID tokens are signed
// with now, as last loaded (the same kid when both use one algorithm);
// empty when there is no such key.
func (k *Keyring) SigningKeyIDs() (accessToken, idToken string) {
	ks := k.cur.Load()
	if ks.signer != nil {
		accessToken = ks.signer.kid
	}
	if ks.idSigner != nil {
		idToken = ks.idSigner.kid
	}
	return accessToken, idToken
}

// Publishes reports whether the JWKS, as last loaded, lists kid.
func (k *Keyring) Publishes(kid string) bool { return k.cur.Load().public[kid] != nil }

// Keys lists the published keys as last loaded.
func (k *Keyring) Keys() []KeyInfo { return slices.Clone(k.cur.Load().infos) }

// current returns the loaded key set; with fresh it first reloads when the
// store has changed since, so a deleted key stops verifying at once.
func (k *Keyring) current(ctx context.Context, fresh bool) (*keySet, error) {
	ks := k.cur.Load()
	if fresh && ks.gen != k.gen.Load() {
		if err := k.reload(ctx, true); err != nil {
			return nil, err
		}
		ks = k.cur.Load()
	}
	return ks, nil
}

// Reload reads the keys from the store and publishes a new in-memory set.
// Keys already parsed are reused, so only a new active key is decrypted. It
// fails when the store is unreachable or the active key does not open; the
// previous set then stays in use.
func (k *Keyring) Reload(ctx context.Context) error { return k.reload(ctx, false) }

// reload with onlyIfStale skips the work when another caller has loaded
// the store's latest state meanwhile, so requests that all found the set
// stale do not reload one after another.
func (k *Keyring) reload(ctx context.Context, onlyIfStale bool) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	gen := k.gen.Load()
	if onlyIfStale && k.cur.Load().gen == gen {
		return nil
	}
	rows, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("tokens: list signing keys: %w", err)
	}
	ks, err := k.build(rows, k.cur.Load(), k.cfg.Now())
	if err != nil {
		return err
	}
	ks.gen = gen
	k.cur.Store(ks)
	return nil
}

func (k *Keyring) build(rows []directory.SigningKey, prev *keySet, now time.Time) (*keySet, error) {
	ks := &keySet{public: make(map[string]*verificationKey, len(rows)), loadedAt: now}
	var published []directory.SigningKey
	for _, r := range rows {
		if r.State == directory.KeyRetired && r.ExpiresAt != nil && !now.Before(*r.ExpiresAt) {
			continue // every token it signed has expired
		}
		vk := prev.public[r.ID]
		if vk == nil || string(vk.src) != string(r.PublicJWK) {
			var err error
			if vk, err = parsePublic(r); err != nil {
				k.cfg.Log.Error("skipping a stored signing key that fails its checks", "kid", r.ID, "err", err)
				continue
			}
		}
		ks.public[r.ID] = vk
		published = append(published, r)
	}
	slices.SortStableFunc(published, byPublicationOrder)
	for _, l := range k.cfg.lanes() {
		a := newestActive(k.cfg.inLane(published, l.id))
		if a == nil {
			continue
		}
		var s *signingKey
		switch {
		case prev.signer != nil && prev.signer.kid == a.ID:
			s = prev.signer
		case prev.idSigner != nil && prev.idSigner.kid == a.ID:
			s = prev.idSigner
		default:
			var err error
			if s, err = k.openSigner(*a); err != nil {
				return nil, err
			}
		}
		if l.id == laneAccess {
			ks.signer = s
		} else {
			ks.idSigner = s
		}
	}
	if len(k.cfg.lanes()) == 1 {
		ks.idSigner = ks.signer
	}
	set := jwk.NewSet()
	for _, r := range published {
		if err := set.AddKey(ks.public[r.ID].jwk); err != nil {
			return nil, fmt.Errorf("tokens: build JWKS: %w", err)
		}
		ks.infos = append(ks.infos, KeyInfo{ID: r.ID, Algorithm: Algorithm(r.Algorithm), State: r.State, CreatedAt: r.CreatedAt,
			ActivatedAt: r.ActivatedAt, RetiredAt: r.RetiredAt, ExpiresAt: r.ExpiresAt})
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("tokens: serialize JWKS: %w", err)
	}
	sum := sha256.Sum256(body)
	ks.jwks = body
	ks.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	ks.jwksETag = []string{ks.etag}
	ks.jwksCC = []string{fmt.Sprintf("public, max-age=%d", int(k.cfg.JWKSMaxAge/time.Second))}
	return ks, nil
}

// byPublicationOrder lists the active key first, then next keys, then
// retired ones, each oldest first.
func byPublicationOrder(a, b directory.SigningKey) int {
	rank := func(s directory.SigningKeyState) int {
		switch s {
		case directory.KeyActive:
			return 0
		case directory.KeyNext:
			return 1
		}
		return 2
	}
	return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

// newestActive picks the key every replica signs with: of the active keys
// the one activated last (then the greatest kid). Two keys are active only
// for a moment during a rotation, or after two replicas raced to bootstrap;
// Rotate then retires the others.
func newestActive(keys []directory.SigningKey) *directory.SigningKey {
	var best *directory.SigningKey
	for i := range keys {
		r := &keys[i]
		if r.State != directory.KeyActive {
			continue
		}
		if best == nil || activatedAt(r).After(activatedAt(best)) || (activatedAt(r).Equal(activatedAt(best)) && r.ID > best.ID) {
			best = r
		}
	}
	return best
}

func activatedAt(k *directory.SigningKey) time.Time {
	if k.ActivatedAt != nil {
		return *k.ActivatedAt
	}
	return k.CreatedAt
}

// sealAD binds a sealed private key to its row; the prefix keeps signing-key
// ciphertexts apart from other values sealed with the same secret key.
func sealAD(kid string) []byte { return []byte("ssobroker signing key " + kid) }

func (k *Keyring) openSigner(r directory.SigningKey) (*signingKey, error) {
	plain, err := k.box.Open(r.Sealed, sealAD(r.ID))
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: %w", ErrKeyIntegrity, r.ID, err)
	}
	priv, err := jwk.ParseKey(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: parse: %w", ErrKeyIntegrity, r.ID, err)
	}
	if ok, _ := jwk.IsPrivateKey(priv); !ok {
		return nil, fmt.Errorf("%w: key %s is not a private key", ErrKeyIntegrity, r.ID)
	}
	kid, err := thumbprint(priv)
	if err != nil || kid != r.ID {
		return nil, fmt.Errorf("%w: key %s does not match its thumbprint", ErrKeyIntegrity, r.ID)
	}
	var raw any
	if err := priv.Raw(&raw); err != nil {
		return nil, fmt.Errorf("%w: key %s: %w", ErrKeyIntegrity, r.ID, err)
	}
	return newSigningKey(r.ID, Algorithm(r.Algorithm), raw)
}

func newSigningKey(kid string, alg Algorithm, raw any) (*signingKey, error) {
	var key any
	switch alg {
	case ES256:
		p, ok := raw.(*ecdsa.PrivateKey)
		if !ok || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: key %s is not a P-256 key", ErrKeyIntegrity, kid)
		}
		// jwx copies an *ecdsa.PrivateKey before every signature, so the
		// standard library's per-key cache misses each time (9 allocations and
		// ~2% more CPU per token, BenchmarkJWXECDSAKeyForm); behind
		// crypto.Signer the same key object is used every time.
		key = ecdsaKey{p}
	case EdDSA:
		p, ok := raw.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: key %s is not an Ed25519 key", ErrKeyIntegrity, kid)
		}
		key = p
	case RS256:
		p, ok := raw.(*rsa.PrivateKey)
		if !ok || p.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: key %s is not an RSA key of at least 2048 bits", ErrKeyIntegrity, kid)
		}
		p.Precompute()
		key = p
	default:
		return nil, fmt.Errorf("%w: key %s has unsupported algorithm %q", ErrKeyIntegrity, kid, alg)
	}
	signer, err := jws.NewSigner(jwa.SignatureAlgorithm(alg))
	if err != nil {
		return nil, fmt.Errorf("tokens: signer for %s: %w", alg, err)
	}
	header := func(typ string) (string, error) {
		hdr, err := json.Marshal(struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			Typ string `json:"typ"`
		}{string(alg), kid, typ})
		if err != nil {
			return "", fmt.Errorf("tokens: encode header: %w", err)
		}
		return base64.RawURLEncoding.EncodeToString(hdr), nil
	}
	at, err := header("at+jwt")
	if err != nil {
		return nil, err
	}
	id, err := header("JWT")
	if err != nil {
		return nil, err
	}
	lo, err := header("logout+jwt")
	if err != nil {
		return nil, err
	}
	sk := &signingKey{kid: kid, alg: jwa.SignatureAlgorithm(alg), signer: signer, key: key, atHeader: at, idHeader: id,
		logoutHeader: lo}
	if k, ok := key.(ecdsaKey); ok {
		sk.es256 = k.k
	}
	return sk, nil
}

// ecdsaKey hands an ECDSA key to jwx as a crypto.Signer (see newSigningKey).
type ecdsaKey struct{ k *ecdsa.PrivateKey }

func (e ecdsaKey) Public() crypto.PublicKey { return &e.k.PublicKey }

func (e ecdsaKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return e.k.Sign(r, digest, opts)
}

// appendJWS appends the compact JWS of payload, signed as an access token.
func (s *signingKey) appendJWS(dst, payload []byte) ([]byte, error) {
	return s.appendJWSWithHeader(dst, s.atHeader, payload)
}

// appendJWSWithHeader appends the compact JWS of payload under the
// pre-encoded header hdr (atHeader or idHeader).
func (s *signingKey) appendJWSWithHeader(dst []byte, hdr string, payload []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, hdr...)
	dst = append(dst, '.')
	dst = base64.RawURLEncoding.AppendEncode(dst, payload)
	if s.es256 != nil {
		out, err := appendES256(append(dst, '.'), s.es256, dst[start:])
		if err != nil {
			return dst[:start], fmt.Errorf("tokens: sign: %w", err)
		}
		return out, nil
	}
	sig, err := s.signer.Sign(dst[start:], s.key)
	if err != nil {
		return dst[:start], fmt.Errorf("tokens: sign: %w", err)
	}
	dst = append(dst, '.')
	return base64.RawURLEncoding.AppendEncode(dst, sig), nil
}

// appendES256 appends the base64url JWS signature of input under ES256
// (RFC 7518 §3.4): ECDSA P-256 over SHA-256 by crypto/ecdsa, R and S as 32
// big-endian bytes each. jwx produces the same bytes, but on the way it
// hashes into the heap, decodes the signature's ASN.1 by reflection and asks
// the key for its curve: 10 allocations more per token (BenchmarkRawES256Sign,
// ecdsa against jwx; docs/bench/README.md, "Token endpoint against Dex").
//
// The nonce is RFC 6979's (crypto/ecdsa with no random source): derived from
// the key and the message by HMAC-DRBG over SHA-256, without reading the
// system's random source. That is about a fifth cheaper than crypto/ecdsa's
// default hedged nonce (HMAC-DRBG over SHA-512, fed random bytes too). The
// same input gives the same signature, which reveals nothing more
// (docs/security.md, "Token signing").
// Tokens signed here are checked by jwx, crypto/ecdsa and npm jose in the tests.
func appendES256(dst []byte, k *ecdsa.PrivateKey, input []byte) ([]byte, error) {
	h := sha256.Sum256(input)
	der, err := k.Sign(nil, h[:], crypto.SHA256)
	if err != nil {
		return dst, err
	}
	var sig [64]byte
	if !rawSignature(der, &sig) {
		return dst, errors.New("tokens: ES256: crypto/ecdsa returned a malformed signature")
	}
	return base64.RawURLEncoding.AppendEncode(dst, sig[:]), nil
}

// rawSignature decodes an ASN.1 ECDSA-Sig-Value (SEQUENCE of the INTEGERs r
// and s, as crypto/ecdsa writes it) into sig as r ‖ s, 32 big-endian bytes
// each. It reports false for anything else.
func rawSignature(der []byte, sig *[64]byte) bool {
	var r, s []byte
	in, inner := cryptobyte.String(der), cryptobyte.String(nil)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return false
	}
	// cryptobyte refuses negative INTEGERs and strips the sign byte, so r
	// and s are their shortest big-endian forms: left-pad each to 32 bytes.
	if len(r) == 0 || len(s) == 0 || len(r) > 32 || len(s) > 32 {
		return false
	}
	copy(sig[32-len(r):32], r)
	copy(sig[64-len(s):], s)
	return true
}

func parsePublic(r directory.SigningKey) (*verificationKey, error) {
	alg := Algorithm(r.Algorithm)
	if !alg.Valid() {
		return nil, fmt.Errorf("unsupported algorithm %q", r.Algorithm)
	}
	key, err := jwk.ParseKey(r.PublicJWK)
	if err != nil {
		return nil, fmt.Errorf("parse public JWK: %w", err)
	}
	if priv, _ := jwk.IsPrivateKey(key); priv {
		return nil, errors.New("the stored public JWK holds private members")
	}
	if kid, err := thumbprint(key); err != nil || kid != r.ID || key.KeyID() != r.ID {
		return nil, errors.New("public JWK does not match its kid")
	}
	if key.Algorithm().String() != string(alg) {
		return nil, errors.New("public JWK algorithm does not match the stored one")
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, fmt.Errorf("raw public key: %w", err)
	}
	switch raw.(type) {
	case *ecdsa.PublicKey:
		if alg != ES256 {
			return nil, errors.New("key type does not match the algorithm")
		}
	case ed25519.PublicKey:
		if alg != EdDSA {
			return nil, errors.New("key type does not match the algorithm")
		}
	case *rsa.PublicKey:
		if alg != RS256 {
			return nil, errors.New("key type does not match the algorithm")
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T", raw)
	}
	return &verificationKey{kid: r.ID, alg: jwa.SignatureAlgorithm(alg), raw: raw, jwk: key, src: r.PublicJWK}, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint, base64url without padding.
func thumbprint(key jwk.Key) (string, error) {
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// generateKey makes a new access-token key in state next, its private JWK sealed.
func (k *Keyring) generateKey(alg Algorithm, now time.Time) (directory.SigningKey, error) {
	return k.generateLaneKey(lane{id: laneAccess, alg: alg, bits: rsaBits}, now)
}

// generateLaneKey makes a new key of lane l in state next, its private JWK sealed.
func (k *Keyring) generateLaneKey(l lane, now time.Time) (directory.SigningKey, error) {
	alg := l.alg
	var raw any
	var err error
	switch alg {
	case ES256:
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		raw, err = rsa.GenerateKey(rand.Reader, l.bits)
	default:
		err = fmt.Errorf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("tokens: generate %s key: %w", alg, err)
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("tokens: %w", err)
	}
	kid, err := thumbprint(priv)
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("tokens: thumbprint: %w", err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.SignatureAlgorithm(alg), jwk.KeyUsageKey: jwk.ForSignature} {
		if err := priv.Set(name, v); err != nil {
			return directory.SigningKey{}, fmt.Errorf("tokens: set %s: %w", name, err)
		}
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("tokens: public key: %w", err)
	}
	privJSON, err := json.Marshal(priv)
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("tokens: encode key: %w", err)
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("tokens: encode key: %w", err)
	}
	sealed, err := k.box.Seal(privJSON, sealAD(kid))
	clear(privJSON)
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("tokens: seal key: %w", err)
	}
	return directory.SigningKey{ID: kid, Algorithm: string(alg), State: directory.KeyNext, Sealed: sealed,
		PublicJWK: pubJSON, CreatedAt: now.UTC().Truncate(time.Microsecond)}, nil
}

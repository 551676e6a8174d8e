// Package verifytest is the test kit for code that verifies JWTs: signing
// keys, tokens signed with them (forged ones included), a JWKS served over
// loopback HTTP, and a clock that moves only when told. Tests of
// tokens/verify, tokens/oauth and e2e share it.
//
// It imports nothing from ssobroker, so that the internal tests of
// tokens/verify can use it without an import cycle.
package verifytest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Key is a signing key pair, as an issuer would hold it.
type Key struct {
	KID     string // "" when the key has none
	Alg     jwa.SignatureAlgorithm
	Raw     any     // the crypto private key
	Private jwk.Key // with kid (when set) and alg
	Public  jwk.Key // the public half, with kid (when set) and alg
}

// NewKey generates a key for alg (ES256, ES384, EdDSA, RS256 or PS256)
// with kid, which may be empty. It fails the test on any error.
func NewKey(t testing.TB, alg jwa.SignatureAlgorithm, kid string) *Key {
	t.Helper()
	var raw any
	var err error
	switch alg {
	case jwa.ES256:
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jwa.ES384:
		raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jwa.EdDSA:
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	case jwa.RS256, jwa.PS256:
		raw, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("verifytest: no generator for %s", alg)
	}
	must(t, err)
	priv, err := jwk.FromRaw(raw)
	must(t, err)
	if kid != "" {
		must(t, priv.Set(jwk.KeyIDKey, kid))
	}
	must(t, priv.Set(jwk.AlgorithmKey, alg))
	pub, err := priv.PublicKey()
	must(t, err)
	return &Key{KID: kid, Alg: alg, Raw: raw, Private: priv, Public: pub}
}

// Sign signs payload with k under k's algorithm. The protected header holds
// k's kid (when it has one), then header's parameters: each is set, or
// removed when its value is nil. payload is JSON-marshaled unless []byte.
func (k *Key) Sign(t testing.TB, payload any, header map[string]any) string {
	t.Helper()
	h := make(map[string]any, len(header)+1)
	if k.KID != "" {
		h[jws.KeyIDKey] = k.KID
	}
	for name, v := range header {
		h[name] = v
	}
	return Sign(t, k.Alg, k.Raw, payload, h)
}

// Sign signs payload with key (anything jws.WithKey takes: a crypto key, a
// jwk.Key, HMAC bytes) under alg, the protected header holding header's
// parameters (a nil value removes one). Meant for forgeries: alg need not
// be key's. A jwk.Key's own kid is used unless header sets kid.
func Sign(t testing.TB, alg jwa.SignatureAlgorithm, key any, payload any, header map[string]any) string {
	t.Helper()
	body, ok := payload.([]byte)
	if !ok {
		var err error
		body, err = json.Marshal(payload)
		must(t, err)
	}
	if k, ok := key.(jwk.Key); ok {
		if _, override := header[jws.KeyIDKey]; override {
			// jws.Sign would put the key's own kid over header's.
			var raw any
			must(t, k.Raw(&raw))
			key = raw
		}
	}
	hdr := jws.NewHeaders()
	for name, v := range header {
		if v == nil {
			must(t, hdr.Remove(name))
			continue
		}
		if err := hdr.Set(name, v); err != nil {
			t.Fatalf("verifytest: header %s: %v", name, err)
		}
	}
	tok, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	must(t, err)
	return string(tok)
}

// Compact builds a compact JWS from a header and a payload (each
// JSON-marshaled unless []byte) and sig, signing nothing: for tokens no
// signer would make.
func Compact(t testing.TB, header, payload any, sig []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, ok := v.([]byte)
		if !ok {
			var err error
			b, err = json.Marshal(v)
			must(t, err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// JWKS returns the JSON key set of keys' public halves.
func JWKS(t testing.TB, keys ...*Key) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		must(t, set.AddKey(k.Public))
	}
	b, err := json.Marshal(set)
	must(t, err)
	return b
}

// DiscoveryPath is where a JWKSServer answers an OpenID Connect discovery
// document, whose jwks_uri is the server's URL + "/jwks".
const DiscoveryPath = "/.well-known/openid-configuration"

// JWKSServer serves a JWKS on loopback HTTP at every path but DiscoveryPath,
// with an ETag (answering 304 to a matching If-None-Match), and counts the
// requests. Change what it serves with SetKeys, SetBody or Update.
type JWKSServer struct {
	*httptest.Server
	// Hits counts the JWKS requests; Requests counts every request.
	Hits, Requests atomic.Int64

	mu          sync.Mutex
	state       JWKSState
	version     int
	paths       []string
	ifNoneMatch []string
}

// JWKSState is what a JWKSServer answers.
type JWKSState struct {
	Body         []byte
	ETag         string
	CacheControl string // sent when not empty
	Status       int    // when not 0, every JWKS request fails with it
}

// NewJWKSServer starts a JWKSServer serving keys (an empty set without
// any), closed when the test ends.
func NewJWKSServer(t testing.TB, keys ...*Key) *JWKSServer {
	t.Helper()
	s := &JWKSServer{}
	s.SetKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SetKeys serves the public halves of keys from now on, under a new ETag.
func (s *JWKSServer) SetKeys(t testing.TB, keys ...*Key) {
	t.Helper()
	s.SetBody(JWKS(t, keys...))
}

// SetBody serves body from now on, under a new ETag.
func (s *JWKSServer) SetBody(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.state.Body = body
	s.state.ETag = fmt.Sprintf(`"v%d"`, s.version)
}

// Update changes the state under the server's lock.
func (s *JWKSServer) Update(f func(*JWKSState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.state)
}

// Paths returns the paths of the JWKS requests so far.
func (s *JWKSServer) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.paths)
}

// IfNoneMatch returns the If-None-Match header of each JWKS request so far.
func (s *JWKSServer) IfNoneMatch() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ifNoneMatch)
}

func (s *JWKSServer) serve(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	if r.URL.Path == DiscoveryPath {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": s.URL, "jwks_uri": s.URL + "/jwks"})
		return
	}
	s.Hits.Add(1)
	s.mu.Lock()
	s.paths = append(s.paths, r.URL.Path)
	s.ifNoneMatch = append(s.ifNoneMatch, r.Header.Get("If-None-Match"))
	st := s.state
	s.mu.Unlock()
	if st.Status != 0 {
		http.Error(w, "down", st.Status)
		return
	}
	if st.CacheControl != "" {
		w.Header().Set("Cache-Control", st.CacheControl)
	}
	w.Header().Set("ETag", st.ETag)
	if r.Header.Get("If-None-Match") == st.ETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(st.Body)
}

// Clock is a clock that stands still until Advance. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

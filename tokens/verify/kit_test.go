package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
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

	"github.com/ssobroker/ssobroker/directory/access"
)

const (
	testIssuer   = "https://sso.example.com"
	testAudience = "cli_app"
)

// testNow is the fixed clock of every test.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKey is a signing key pair as the token service would hold it.
type testKey struct {
	kid  string
	alg  jwa.SignatureAlgorithm
	raw  any     // raw private key
	priv jwk.Key // with kid and alg
	pub  jwk.Key // public half, with kid and alg
}

func newTestKey(t testing.TB, alg jwa.SignatureAlgorithm, kid string) *testKey {
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
		t.Fatalf("no generator for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	must(t, priv.Set(jwk.KeyIDKey, kid))
	must(t, priv.Set(jwk.AlgorithmKey, alg))
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: alg, raw: raw, priv: priv, pub: pub}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// validClaims returns the claims of a token valid at testNow.
func validClaims() *Claims {
	return &Claims{
		Issuer:    testIssuer,
		Subject:   "usr_ada",
		Audience:  Audience{testAudience},
		ExpiresAt: testNow.Add(5 * time.Minute).Unix(),
		IssuedAt:  testNow.Add(-5 * time.Minute).Unix(),
		JWTID:     "jti_1",
		ClientID:  testAudience,
		Scope:     "openid profile email",
		SessionID: "sid_1",
		Email:     "ada@acme.com",
		Name:      "Ada Lovelace",
		IdP:       "conn_saml",
		AMR:       []string{"saml"},
		Org:       Org{ID: "org_acme", Name: "acme", Role: access.RolePlatformMember},
		Workspaces: []Workspace{
			{ID: "ws_research", Name: "research", Role: access.WorkspaceOwner},
			{ID: "ws_prod", Name: "prod", Role: access.WorkspaceMember, CanInvite: true},
			{ID: "ws_demo", Name: "demo", Role: access.WorkspaceMember, CanMakePublic: true},
		},
		DefaultWorkspace: "research",
	}
}

// signToken signs payload (marshaled when not []byte) with k, kid from the
// key, typ at+jwt unless extra overrides it (a nil value deletes a header).
func (k *testKey) signToken(t testing.TB, payload any, extra map[string]any) string {
	t.Helper()
	return signWith(t, k.alg, k.priv, payload, extra)
}

func signWith(t testing.TB, alg jwa.SignatureAlgorithm, key any, payload any, extra map[string]any) string {
	t.Helper()
	body, ok := payload.([]byte)
	if !ok {
		var err error
		body, err = json.Marshal(payload)
		must(t, err)
	}
	if k, ok := key.(jwk.Key); ok {
		if _, override := extra[jws.KeyIDKey]; override {
			// jws.Sign would put the key's own kid over ours.
			var raw any
			must(t, k.Raw(&raw))
			key = raw
		}
	}
	hdr := jws.NewHeaders()
	must(t, hdr.Set(jws.TypeKey, "at+jwt"))
	for name, v := range extra {
		if v == nil {
			must(t, hdr.Remove(name))
			continue
		}
		must(t, hdr.Set(name, v))
	}
	tok, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	must(t, err)
	return string(tok)
}

// staticKeys is an in-memory KeySource, as the token service's.
func staticKeys(keys ...*testKey) KeySource {
	m := make(map[string]jwk.Key, len(keys))
	for _, k := range keys {
		m[k.kid] = k.pub
	}
	return KeySourceFunc(func(_ context.Context, kid string) (jwk.Key, error) {
		if k, ok := m[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	})
}

func newTestVerifier(t testing.TB, keys KeySource, mod func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Issuer:   testIssuer,
		Audience: []string{testAudience},
		Keys:     keys,
		Now:      func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	must(t, err)
	return v
}

// jwksServer serves a JWKS built with jwx over real HTTP and counts hits.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu           sync.Mutex
	body         []byte
	version      int
	etag         string
	cacheControl string
	status       int // 0: normal
	seenPaths    []string
	ifNoneMatch  []string
}

func (s *jwksServer) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seenPaths)
}

func newJWKSServer(t testing.TB, keys ...*testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.setKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(t testing.TB, keys ...*testKey) {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		must(t, set.AddKey(k.pub))
	}
	body, err := json.Marshal(set)
	must(t, err)
	s.setBody(body)
}

func (s *jwksServer) setBody(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.body = body
	s.etag = fmt.Sprintf(`"v%d"`, s.version)
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	s.seenPaths = append(s.seenPaths, r.URL.Path)
	s.ifNoneMatch = append(s.ifNoneMatch, r.Header.Get("If-None-Match"))
	body, etag, cc, status := s.body, s.etag, s.cacheControl, s.status
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, "down", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body)
}

// clock is an adjustable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: testNow} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

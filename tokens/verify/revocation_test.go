package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// introspectionStandIn answers RFC 7662 as the broker's /oauth2/introspect
// does for a service account (tokens.Issuer.Introspect): active with the
// token's claims for a jti it holds active, {"active":false} otherwise. The
// broker itself is exercised by e2e TestVerifierRevocationBound; this
// stand-in lets the cache, grace and outage rules be driven by a clock.
type introspectionStandIn struct {
	t      *testing.T
	srv    *httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	active map[string]bool // jti → active
	status int             // when non-zero, answer this status instead
	other  bool            // answer "active" for another jti
	gate   chan struct{}   // when set, each answer waits for it
}

const (
	standInID     = "sa_checker"
	standInSecret = "ssb_secret+with/odd=chars"
)

func newIntrospectionStandIn(t *testing.T) *introspectionStandIn {
	s := &introspectionStandIn{t: t, active: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *introspectionStandIn) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	s.mu.Lock()
	status, other, gate := s.status, s.other, s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	id, secret, ok := r.BasicAuth()
	uid, _ := url.QueryUnescape(id)
	usecret, _ := url.QueryUnescape(secret)
	if !ok || uid != standInID || usecret != standInSecret || r.Method != http.MethodPost ||
		r.PostFormValue("token_type_hint") != "access_token" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	var c Claims
	if err := json.Unmarshal(payloadOf(s.t, r.PostFormValue("token")), &c); err != nil {
		s.t.Errorf("stand-in: %v", err)
	}
	s.mu.Lock()
	active := s.active[c.JWTID]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case active && other:
		fmt.Fprintf(w, `{"active":true,"jti":"another","sub":%q}`, c.Subject)
	case active:
		fmt.Fprintf(w, `{"active":true,"jti":%q,"sub":%q,"token_type":"Bearer"}`, c.JWTID, c.Subject)
	default:
		_, _ = w.Write([]byte(`{"active":false}`))
	}
}

func (s *introspectionStandIn) set(f func(s *introspectionStandIn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// payloadOf decodes a compact JWS's payload (the stand-in trusts it: the
// verifier has checked the signature before asking).
func payloadOf(t *testing.T, token string) []byte {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Errorf("stand-in: not a compact JWS")
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Errorf("stand-in: payload: %v", err)
	}
	return b
}

// revocationKit is a Verifier with an Introspector on the stand-in, both on
// one test clock.
type revocationKit struct {
	key   *verifytest.Key
	in    *Introspector
	v     *Verifier
	clock *verifytest.Clock
	s     *introspectionStandIn
}

func newRevocationKit(t *testing.T, mod func(*IntrospectionConfig)) *revocationKit {
	k := &revocationKit{key: verifytest.NewKey(t, "ES256", "k1"), clock: verifytest.NewClock(testNow), s: newIntrospectionStandIn(t)}
	cfg := IntrospectionConfig{URL: k.s.srv.URL, ClientID: standInID, ClientSecret: standInSecret,
		Interval: 10 * time.Second, Now: k.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	in, err := NewIntrospector(cfg)
	must(t, err)
	k.in = in
	k.v = newTestVerifier(t, staticKeys(k.key), func(c *Config) { c.Now = k.clock.Now; c.Revocation = in })
	return k
}

// token signs a valid token with jti, active at the stand-in when active.
func (k *revocationKit) token(t *testing.T, jti string, active bool) string {
	c := validClaims()
	c.JWTID = jti
	c.ExpiresAt = testNow.Add(10 * time.Minute).Unix()
	k.s.set(func(s *introspectionStandIn) { s.active[jti] = active })
	return signToken(t, k.key, c, nil)
}

func (k *revocationKit) verify(t *testing.T, tok string) error {
	_, err := k.v.Verify(context.Background(), tok)
	return err
}

func wantRevoked(t *testing.T, err error, when string) {
	t.Helper()
	var te *TokenError
	if !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrInvalidToken) || !errors.As(err, &te) || te.Reason != "token revoked" {
		t.Fatalf("%s: %v, want a *TokenError \"token revoked\" wrapping ErrRevoked", when, err)
	}
}

func wantUnavailable(t *testing.T, err error, when string) {
	t.Helper()
	if !errors.Is(err, ErrRevocationUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("%s: %v, want ErrRevocationUnavailable (cannot decide), not ErrInvalidToken", when, err)
	}
}

// The bound: a token found active is accepted without asking for less than
// Interval; the first check at Interval asks again and refuses a token the
// broker no longer holds active.
func TestRevokedTokenIsRefusedWithinTheInterval(t *testing.T) {
	k := newRevocationKit(t, nil)
	tok := k.token(t, "jti_a", true)
	must(t, k.verify(t, tok))
	if n := k.s.calls.Load(); n != 1 {
		t.Fatalf("first use asked the broker %d times, want 1", n)
	}
	k.s.set(func(s *introspectionStandIn) { s.active["jti_a"] = false }) // revoked at the broker
	k.clock.Advance(k.in.Interval() - time.Millisecond)
	must(t, k.verify(t, tok)) // the documented staleness: not asked yet
	if n := k.s.calls.Load(); n != 1 {
		t.Fatalf("asked the broker %d times within the interval, want 1", n)
	}
	k.clock.Advance(time.Millisecond)
	wantRevoked(t, k.verify(t, tok), "at the interval")
	// The refusal is kept: no more questions for this token.
	k.clock.Advance(time.Minute)
	wantRevoked(t, k.verify(t, tok), "later")
	if n := k.s.calls.Load(); n != 2 {
		t.Fatalf("asked the broker %d times, want 2", n)
	}
}

func TestActiveTokenIsAskedAgainEveryInterval(t *testing.T) {
	k := newRevocationKit(t, nil)
	tok := k.token(t, "jti_b", true)
	for i := range 5 {
		must(t, k.verify(t, tok))
		must(t, k.verify(t, tok))
		if n := k.s.calls.Load(); n != int64(i+1) {
			t.Fatalf("interval %d: asked %d times, want %d", i, n, i+1)
		}
		k.clock.Advance(k.in.Interval())
	}
}

func TestTokenInactiveAtFirstUseIsRefused(t *testing.T) {
	k := newRevocationKit(t, nil)
	wantRevoked(t, k.verify(t, k.token(t, "jti_c", false)), "first use")
}

// Fail closed after a grace equal to the interval by default: with the
// broker down, a token found active stays accepted until Interval+Grace
// after that answer, then Verify cannot decide (503 from Middleware); a
// token never seen is not accepted at all.
func TestBrokerDownFailsClosedAfterTheGrace(t *testing.T) {
	k := newRevocationKit(t, nil)
	tok := k.token(t, "jti_d", true)
	must(t, k.verify(t, tok))
	k.s.set(func(s *introspectionStandIn) { s.status = http.StatusServiceUnavailable })
	k.clock.Advance(k.in.Interval())
	must(t, k.verify(t, tok)) // asked, failed, within the grace
	wantUnavailable(t, k.verify(t, k.token(t, "jti_new", true)), "a token never seen, broker down")
	k.clock.Advance(k.in.Interval() - time.Millisecond) // grace = interval
	must(t, k.verify(t, tok))
	k.clock.Advance(time.Millisecond)
	err := k.verify(t, tok)
	wantUnavailable(t, err, "after interval + grace")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	Middleware(k.v)(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("Middleware answered %d, want 503", rec.Code)
	}
	// Back up: asked again (after the retry pause) and accepted.
	k.s.set(func(s *introspectionStandIn) { s.status = 0 })
	k.clock.Advance(retryAfterFailure)
	must(t, k.verify(t, tok))
}

func TestBrokerUnreachableWithoutGraceOrWithFailOpen(t *testing.T) {
	t.Run("no grace", func(t *testing.T) {
		k := newRevocationKit(t, func(c *IntrospectionConfig) { c.Grace = -1 })
		tok := k.token(t, "jti_e", true)
		must(t, k.verify(t, tok))
		k.s.srv.Close() // unreachable
		k.clock.Advance(k.in.Interval())
		wantUnavailable(t, k.verify(t, tok), "stale answer, no grace")
	})
	t.Run("fail open", func(t *testing.T) {
		k := newRevocationKit(t, func(c *IntrospectionConfig) { c.FailOpen = true })
		tok := k.token(t, "jti_f", true)
		k.s.srv.Close()
		must(t, k.verify(t, tok))
		wantInvalid(t, k.v, signToken(t, k.key, map[string]any{"iss": testIssuer}, nil))
	})
}

// wantInvalid checks that the offline checks still come first.
func wantInvalid(t *testing.T, v *Verifier, tok string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a malformed token: %v, want ErrInvalidToken", err)
	}
}

func TestBadBrokerAnswersCannotDecide(t *testing.T) {
	for name, f := range map[string]func(s *introspectionStandIn){
		"the broker refuses the service account": func(*introspectionStandIn) {},
		"the answer names another token":         func(s *introspectionStandIn) { s.other = true },
		"the broker answers 500":                 func(s *introspectionStandIn) { s.status = 500 },
	} {
		t.Run(name, func(t *testing.T) {
			k := newRevocationKit(t, func(c *IntrospectionConfig) {
				if name == "the broker refuses the service account" {
					c.ClientSecret = "ssb_wrong"
				}
			})
			k.s.set(f)
			wantUnavailable(t, k.verify(t, k.token(t, "jti_g", true)), name)
		})
	}
}

// Forged tokens never reach the broker: the offline checks come first.
func TestForgedTokenIsNotIntrospected(t *testing.T) {
	k := newRevocationKit(t, nil)
	other := verifytest.NewKey(t, "ES256", "k1")
	c := validClaims()
	k.s.set(func(s *introspectionStandIn) { s.active[c.JWTID] = true })
	if _, err := k.v.Verify(context.Background(), signToken(t, other, c, nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("forged: %v", err)
	}
	if n := k.s.calls.Load(); n != 0 {
		t.Fatalf("a forged token was introspected (%d calls)", n)
	}
}

func TestAnswersAreBoundedInNumber(t *testing.T) {
	k := newRevocationKit(t, func(c *IntrospectionConfig) { c.MaxEntries = 20 })
	for i := range 200 {
		must(t, k.verify(t, k.token(t, fmt.Sprintf("jti_%d", i), true)))
		k.in.mu.Lock()
		n := len(k.in.answers)
		k.in.mu.Unlock()
		if n > 20 {
			t.Fatalf("after %d tokens the introspector keeps %d answers, want at most 20", i+1, n)
		}
	}
}

func TestConcurrentUsesShareOneQuestion(t *testing.T) {
	k := newRevocationKit(t, nil)
	tok := k.token(t, "jti_h", true)
	gate := make(chan struct{})
	k.s.set(func(s *introspectionStandIn) { s.gate = gate })
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- k.verify(t, tok) }()
	}
	for k.s.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join the question
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if n := k.s.calls.Load(); n != 1 {
		t.Fatalf("20 concurrent uses asked the broker %d times, want 1", n)
	}
}

func TestCredentialsPerOrg(t *testing.T) {
	k := newRevocationKit(t, func(c *IntrospectionConfig) {
		c.ClientID, c.ClientSecret = "", ""
		c.CredentialsFor = func(org string) (string, string, bool) {
			return standInID, standInSecret, org == "org_acme"
		}
	})
	must(t, k.verify(t, k.token(t, "jti_i", true)))
	c := validClaims()
	c.JWTID, c.Org.ID = "jti_j", "org_other"
	k.s.set(func(s *introspectionStandIn) { s.active["jti_j"] = true })
	var te *TokenError
	if err := k.verify(t, signToken(t, k.key, c, nil)); !errors.As(err, &te) || !errors.Is(err, ErrRevoked) {
		t.Fatalf("a token of an org without credentials: %v, want refused", err)
	}
	if n := k.s.calls.Load(); n != 1 {
		t.Fatalf("asked %d times, want 1 (never for the other org)", n)
	}
}

func TestNewIntrospectorRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]IntrospectionConfig{
		"relative URL":    {URL: "/oauth2/introspect", ClientID: "sa", ClientSecret: "k"},
		"no credentials":  {URL: "https://sso.example.com/oauth2/introspect"},
		"negative period": {URL: "https://sso.example.com/oauth2/introspect", ClientID: "sa", ClientSecret: "k", Interval: -time.Second},
	} {
		if _, err := NewIntrospector(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

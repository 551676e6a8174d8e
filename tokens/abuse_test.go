package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

// Sources of the tests, sent in X-Forwarded-For through a trusted loopback
// proxy.
const (
	attackerIP = "203.0.113.9"
	clientIP   = "198.51.100.7"
)

// withFailureCounter makes the provider's issuer count failures in c.
func withFailureCounter(c FailureCounter) oidcOption {
	return func(s *oidcSetup) { s.issuer.FailureCounter = c }
}

// withIssuer changes the provider's issuer configuration.
func withIssuer(f func(*IssuerConfig)) oidcOption {
	return func(s *oidcSetup) { f(s.issuer) }
}

// proxied serves keys, issuer (and provider, when not nil) behind a server
// that trusts X-Forwarded-For from loopback, so that tests choose sources.
func proxied(t testing.TB, keys *Keyring, issuer *Issuer, provider *Provider) string {
	t.Helper()
	src, err := session.NewSources([]string{"127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	f := Features{ClientCredentials: true, Introspection: true, Revocation: true}
	opts := []ServerOption{WithSources(src)}
	if provider != nil {
		f.AuthorizationCode, f.RefreshToken, f.UserInfo, f.EndSession = true, true, true, true
		opts = append(opts, WithProvider(provider))
	}
	srv, err := NewServer(keys, issuer, f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL
}

// answer is a decoded response of the token, revocation or introspection endpoint.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) String() string { return fmt.Sprintf("%d %v", a.status, a.body) }

// postFrom posts form to base+path as if from source, with Basic
// credentials when user is not empty.
func postFrom(t testing.TB, base, path, source string, form url.Values, user, pass string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if source != "" {
		req.Header.Set("X-Forwarded-For", source)
	}
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("response %d is not JSON: %q", resp.StatusCode, raw)
		}
	}
	return a
}

// TestCorrectSecretIsNeverLockedOut reproduces issue 11's lockout: an
// attacker sends wrong secrets for a client's id until it is throttled;
// the client's correct secret still works from the attacker's source and
// from its own, and the client's own source keeps its budget of failures.
// On the old limiter (keyed by client_id alone) the correct secret got 429.
func TestCorrectSecretIsNeverLockedOut(t *testing.T) {
	for _, st := range stacks(false) {
		t.Run(st.name, func(t *testing.T) {
			sessions := st.sessions(t)
			e := newOIDCEnv(t, st.dir(t), sessions, withFailureCounter(sessions))
			base := proxied(t, e.keys, e.issuer, e.provider)
			attack := func(path string, form url.Values, id string) answer {
				t.Helper()
				var last answer
				for i := range DefaultFailedAuthLimit + 2 {
					last = postFrom(t, base, path, attackerIP, form, id, "wrong-secret")
					want := http.StatusUnauthorized
					if i >= DefaultFailedAuthLimit {
						want = http.StatusTooManyRequests
					}
					if last.status != want {
						t.Fatalf("wrong secret %d from the attacker: %v, want %d", i+1, last, want)
					}
				}
				if ra := last.header.Get("Retry-After"); ra == "" || ra == "0" {
					t.Fatalf("429 without Retry-After: %q", ra)
				}
				return last
			}

			t.Run("service account", func(t *testing.T) {
				saID, saSecret := newEnvLikeServiceAccount(t, e)
				cc := url.Values{"grant_type": {"client_credentials"}}
				attack(PathToken, cc, saID)
				for _, src := range []string{attackerIP, clientIP} {
					if a := postFrom(t, base, PathToken, src, cc, saID, saSecret); a.status != http.StatusOK {
						t.Fatalf("correct API key from %s after the attack: %v", src, a)
					}
				}
				// The client's own source still has its whole budget.
				if a := postFrom(t, base, PathToken, clientIP, cc, saID, "wrong-secret"); a.status != http.StatusUnauthorized {
					t.Fatalf("a failure from the client's source: %v, want 401", a)
				}
			})

			t.Run("confidential OAuth client exchanges its code", func(t *testing.T) {
				o := e.login(e.browser(), e.confidential, appRedirect, nil)
				code := url.Values{"grant_type": {"authorization_code"}, "code": {o.param("code")}, "redirect_uri": {appRedirect}}
				attack(PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {appRedirect}}, e.confidential.ID)
				a := postFrom(t, base, PathToken, attackerIP, code, e.confidential.ID, e.secret)
				if a.status != http.StatusOK || a.body["refresh_token"] == nil {
					t.Fatalf("code exchange with the correct secret after the attack: %v", a)
				}
				refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.body["refresh_token"].(string)}}
				if a := postFrom(t, base, PathToken, clientIP, refresh, e.confidential.ID, e.secret); a.status != http.StatusOK {
					t.Fatalf("refresh from the client's source after the attack: %v", a)
				}
			})
		})
	}
}

// TestFailuresArePerSourceAcrossClients: one source failing for many
// client ids reaches the per-source cap; another source does not.
func TestFailuresArePerSourceAcrossClients(t *testing.T) {
	sessions := memorySessions(t)
	e := newOIDCEnv(t, directorytest.SQLite(t), sessions, withFailureCounter(sessions),
		withIssuer(func(c *IssuerConfig) { c.FailedAuthLimit, c.FailedAuthSourceLimit = 100, 5 }))
	base := proxied(t, e.keys, e.issuer, e.provider)
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := range 5 {
		if a := postFrom(t, base, PathToken, attackerIP, cc, fmt.Sprintf("sa_guess%d", i), "ssb_x"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %v", i+1, a)
		}
	}
	if a := postFrom(t, base, PathToken, attackerIP, cc, "sa_guess99", "ssb_x"); a.status != http.StatusTooManyRequests {
		t.Fatalf("sixth failure from the source, for a new client: %v, want 429", a)
	}
	if a := postFrom(t, base, PathToken, clientIP, cc, "sa_guess99", "ssb_x"); a.status != http.StatusUnauthorized {
		t.Fatalf("another source: %v, want 401", a)
	}
	saID, saSecret := newEnvLikeServiceAccount(t, e)
	if a := postFrom(t, base, PathToken, attackerIP, cc, saID, saSecret); a.status != http.StatusOK {
		t.Fatalf("a correct secret from the capped source: %v", a)
	}
	if s := e.issuer.LimiterStats(); s.Throttled != 1 {
		t.Fatalf("stats %+v, want 1 throttled", s)
	}
}

// TestFailureLimitsSharedThroughRedis: two replicas (two issuers and
// servers on one directory) sharing Redis share the failure counts, and
// both still accept the correct secret.
func TestFailureLimitsSharedThroughRedis(t *testing.T) {
	store := directorytest.Postgres(t)
	prefix := sessiontest.RandomPrefix()
	r1 := sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{KeyPrefix: prefix})
	r2 := sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{KeyPrefix: prefix})
	e1 := newEnv(t, store, withIssuerConfig(func(c *IssuerConfig) { c.FailureCounter = r1 }))
	// The second replica: its own issuer, limiter and server, its own Redis
	// client (one keyring serves both: the keys are not what is tested).
	issuer2, err := NewIssuer(e1.keys, store, IssuerConfig{Issuer: e1.issuer.cfg.Issuer, Now: e1.clock.Now, FailureCounter: r2})
	if err != nil {
		t.Fatal(err)
	}
	bases := []string{proxied(t, e1.keys, e1.issuer, nil), proxied(t, e1.keys, issuer2, nil)}
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := range DefaultFailedAuthLimit {
		if a := postFrom(t, bases[i%2], PathToken, attackerIP, cc, e1.sa.ID, "ssb_wrong"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d on replica %d: %v", i+1, i%2+1, a)
		}
	}
	for i, base := range bases {
		if a := postFrom(t, base, PathToken, attackerIP, cc, e1.sa.ID, "ssb_wrong"); a.status != http.StatusTooManyRequests {
			t.Fatalf("replica %d after %d failures spread over both: %v, want 429", i+1, DefaultFailedAuthLimit, a)
		}
		if a := postFrom(t, base, PathToken, attackerIP, cc, e1.sa.ID, e1.secret); a.status != http.StatusOK {
			t.Fatalf("replica %d refused the correct secret: %v", i+1, a)
		}
	}
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLimiterTableFull: the old limiter stopped tracking new clients when
// its table was full (failing open silently). Now the oldest counters are
// evicted, new clients are still limited, and the eviction is logged and
// counted.
func TestLimiterTableFull(t *testing.T) {
	var logs logBuffer
	c := newClock()
	l := newFailureLimiter(nil, 2, 1000, time.Minute, 3, c.Now, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	for i := range 5 { // five clients, a table of three (pair and source counters)
		for range 2 {
			if w := l.failed(ctx, attackerIP, fmt.Sprint("cli_", i)); w != 0 {
				t.Fatalf("client %d throttled within its limit", i)
			}
		}
	}
	if w := l.failed(ctx, attackerIP, "cli_4"); w <= 0 || w > time.Minute {
		t.Fatalf("a client added after the table filled is not limited: wait %v", w)
	}
	if s := l.Stats(); s.Evictions == 0 || s.Throttled != 1 {
		t.Fatalf("stats %+v: evictions not counted", s)
	}
	if !strings.Contains(logs.String(), "failure counter table full") {
		t.Fatalf("eviction not logged: %q", logs.String())
	}
}

// failingCounter is a shared counter that is down.
type failingCounter struct{}

func (failingCounter) Count(context.Context, session.Kind, string, time.Duration) (int64, time.Duration, error) {
	return 0, 0, fmt.Errorf("redis count: %w", session.ErrUnavailable)
}

// TestLimiterCountsLocallyWhenTheStoreIsDown: failures the shared store
// cannot count are counted in the process, logged and counted as errors.
func TestLimiterCountsLocallyWhenTheStoreIsDown(t *testing.T) {
	var logs logBuffer
	c := newClock()
	l := newFailureLimiter(failingCounter{}, 2, 1000, time.Minute, 100, c.Now, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	l.failed(ctx, attackerIP, "cli_a")
	l.failed(ctx, attackerIP, "cli_a")
	if w := l.failed(ctx, attackerIP, "cli_a"); w <= 0 {
		t.Fatal("not limited while the shared store is down")
	}
	if s := l.Stats(); s.CountErrors != 6 {
		t.Fatalf("stats %+v, want 6 count errors (pair and source, three failures)", s)
	}
	if n := strings.Count(logs.String(), "cannot be counted in the session store"); n != 1 {
		t.Fatalf("logged %d times, want once (rate-limited): %q", n, logs.String())
	}
	// The local window ends.
	c.Advance(time.Minute)
	if w := l.failed(ctx, attackerIP, "cli_a"); w != 0 {
		t.Fatalf("still limited after the window: %v", w)
	}
}

// TestThrottledAnswerKeepsTheCause: a 429 for a failed authentication still
// says, in the log, why it failed.
func TestThrottledAnswerKeepsTheCause(t *testing.T) {
	err := errThrottled(time.Second, failedAuth("cli_x", errInvalidClient(errors.New("wrong client secret"))))
	if !strings.Contains(err.Error(), "wrong client secret") || asOAuth(err).Status != http.StatusTooManyRequests {
		t.Fatalf("%v", err)
	}
}

// BenchmarkFailedAuthCount measures what one failed authentication adds:
// two counts (pair and source) in the local table, the in-process store,
// or Redis.
func BenchmarkFailedAuthCount(b *testing.B) {
	for _, c := range []struct {
		name    string
		counter func(b *testing.B) FailureCounter
	}{
		{"local", func(*testing.B) FailureCounter { return nil }},
		{"memory", func(b *testing.B) FailureCounter { return memorySessions(b) }},
		{"redis", func(b *testing.B) FailureCounter { return redisSessions(b) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := newFailureLimiter(c.counter(b), 1<<30, 1<<30, time.Minute, 100_000, time.Now, slog.New(slog.DiscardHandler))
			ctx := context.Background()
			i := 0
			for b.Loop() {
				l.failed(ctx, attackerIP, fmt.Sprint("cli_", i%1000))
				i++
			}
		})
	}
}

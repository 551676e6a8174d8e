package oauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

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
func withFailureCounter(c tokens.FailureCounter) oidcOption {
	return func(s *oidcSetup) { s.issuer.FailureCounter = c }
}

// withIssuer changes the provider's issuer configuration.
func withIssuer(f func(*tokens.IssuerConfig)) oidcOption {
	return func(s *oidcSetup) { f(s.issuer) }
}

// proxied serves keys, issuer (and provider, when not nil) behind a server
// that trusts X-Forwarded-For from loopback, so that tests choose sources.
func proxied(t testing.TB, keys *tokens.Keyring, issuer *tokens.Issuer, provider *tokens.Provider) string {
	t.Helper()
	src, err := session.NewSources([]string{"127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	f := tokens.Features{ClientCredentials: true, Introspection: true, Revocation: true}
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
				for i := range tokens.DefaultFailedAuthLimit + 2 {
					last = postFrom(t, base, path, attackerIP, form, id, "wrong-secret")
					want := http.StatusUnauthorized
					if i >= tokens.DefaultFailedAuthLimit {
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
				attack(tokens.PathToken, cc, saID)
				for _, src := range []string{attackerIP, clientIP} {
					if a := postFrom(t, base, tokens.PathToken, src, cc, saID, saSecret); a.status != http.StatusOK {
						t.Fatalf("correct API key from %s after the attack: %v", src, a)
					}
				}
				// The client's own source still has its whole budget.
				if a := postFrom(t, base, tokens.PathToken, clientIP, cc, saID, "wrong-secret"); a.status != http.StatusUnauthorized {
					t.Fatalf("a failure from the client's source: %v, want 401", a)
				}
			})

			t.Run("confidential OAuth client exchanges its code", func(t *testing.T) {
				o := e.login(e.browser(), e.confidential, appRedirect, nil)
				code := url.Values{"grant_type": {"authorization_code"}, "code": {o.param("code")}, "redirect_uri": {appRedirect}}
				attack(tokens.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {appRedirect}}, e.confidential.ID)
				a := postFrom(t, base, tokens.PathToken, attackerIP, code, e.confidential.ID, e.secret)
				if a.status != http.StatusOK || a.body["refresh_token"] == nil {
					t.Fatalf("code exchange with the correct secret after the attack: %v", a)
				}
				refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.body["refresh_token"].(string)}}
				if a := postFrom(t, base, tokens.PathToken, clientIP, refresh, e.confidential.ID, e.secret); a.status != http.StatusOK {
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
		withIssuer(func(c *tokens.IssuerConfig) { c.FailedAuthLimit, c.FailedAuthSourceLimit = 100, 5 }))
	base := proxied(t, e.keys, e.issuer, e.provider)
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := range 5 {
		if a := postFrom(t, base, tokens.PathToken, attackerIP, cc, fmt.Sprintf("sa_guess%d", i), "ssb_x"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %v", i+1, a)
		}
	}
	if a := postFrom(t, base, tokens.PathToken, attackerIP, cc, "sa_guess99", "ssb_x"); a.status != http.StatusTooManyRequests {
		t.Fatalf("sixth failure from the source, for a new client: %v, want 429", a)
	}
	if a := postFrom(t, base, tokens.PathToken, clientIP, cc, "sa_guess99", "ssb_x"); a.status != http.StatusUnauthorized {
		t.Fatalf("another source: %v, want 401", a)
	}
	saID, saSecret := newEnvLikeServiceAccount(t, e)
	if a := postFrom(t, base, tokens.PathToken, attackerIP, cc, saID, saSecret); a.status != http.StatusOK {
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
	e1 := newEnv(t, store, withIssuerConfig(func(c *tokens.IssuerConfig) { c.FailureCounter = r1 }))
	// The second replica: its own issuer, limiter and server, its own Redis
	// client (one keyring serves both: the keys are not what is tested).
	issuer2, err := tokens.NewIssuer(e1.keys, store, tokens.IssuerConfig{Issuer: e1.issuer.IssuerURL(), Now: e1.clock.Now, FailureCounter: r2})
	if err != nil {
		t.Fatal(err)
	}
	bases := []string{proxied(t, e1.keys, e1.issuer, nil), proxied(t, e1.keys, issuer2, nil)}
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := range tokens.DefaultFailedAuthLimit {
		if a := postFrom(t, bases[i%2], tokens.PathToken, attackerIP, cc, e1.sa.ID, "ssb_wrong"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d on replica %d: %v", i+1, i%2+1, a)
		}
	}
	for i, base := range bases {
		if a := postFrom(t, base, tokens.PathToken, attackerIP, cc, e1.sa.ID, "ssb_wrong"); a.status != http.StatusTooManyRequests {
			t.Fatalf("replica %d after %d failures spread over both: %v, want 429", i+1, tokens.DefaultFailedAuthLimit, a)
		}
		if a := postFrom(t, base, tokens.PathToken, attackerIP, cc, e1.sa.ID, e1.secret); a.status != http.StatusOK {
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

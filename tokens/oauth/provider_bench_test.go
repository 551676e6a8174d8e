package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// benchStacks are the backends of the provider benchmarks.
func benchStacks() []stack {
	return []stack{
		{"postgres+redis", directorytest.Postgres, redisSessions},
		{"sqlite+memory", directorytest.SQLite, memorySessions},
	}
}

// benchTransport keeps enough idle connections for parallel clients.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}}
}

// BenchmarkRefreshGrant measures POST /oauth2/token grant_type=refresh_token
// over loopback HTTP (httptest server, keep-alive client), with every
// goroutine rotating its own family: client lookup, family read, standing
// re-check (membership, org, connection), atomic rotation, access token
// (ES256) and, with openid, the ID token (RS256-2048 by default, or ES256).
func BenchmarkRefreshGrant(b *testing.B) {
	for _, st := range benchStacks() {
		for _, c := range []struct {
			name, scope string
			idAlg       tokens.Algorithm
			cached      bool
		}{
			{"openid/idtoken=RS256", "openid email offline_access", tokens.RS256, false},
			{"openid/idtoken=ES256", "openid email offline_access", tokens.ES256, false},
			{"no-openid", "email offline_access", tokens.RS256, false},
			{"no-openid/cached-client+connection", "email offline_access", tokens.RS256, true},
		} {
			b.Run(st.name+"/"+c.name, func(b *testing.B) {
				opts := []oidcOption{withIDTokenAlgorithm(c.idAlg)}
				if c.cached {
					opts = append(opts, func(s *oidcSetup) { s.dir = newCachedDirectory })
				}
				e := newOIDCEnv(b, st.dir(b), st.sessions(b), opts...)
				const families = 64
				chains := make(chan string, families)
				for range families {
					r := e.codeFlow(e.browser(), url.Values{"scope": {c.scope}, "nonce": {""}})
					chains <- r.str("refresh_token")
				}
				hc := benchClient()
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					tok := <-chains
					for pb.Next() {
						form := "grant_type=refresh_token&client_id=" + e.public.ID + "&refresh_token=" + url.QueryEscape(tok)
						resp, err := hc.Post(e.iss+tokens.PathToken, "application/x-www-form-urlencoded", strings.NewReader(form))
						if err != nil {
							b.Error(err)
							return
						}
						var body struct {
							RefreshToken string `json:"refresh_token"`
						}
						err = json.NewDecoder(resp.Body).Decode(&body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 || body.RefreshToken == "" {
							b.Errorf("refresh: %d %v", resp.StatusCode, err)
							return
						}
						tok = body.RefreshToken
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}

// BenchmarkSignInRoundTrip measures the broker's part of a browser sign-in
// for a client, excluding the upstream IdP (the stand-in sign-in answers at
// once): GET /oauth2/authorize → /login (stand-in: session created) →
// /oauth2/authorize/continue → callback with code → POST /oauth2/token
// (PKCE, public client) returning access, ID (RS256) and refresh tokens.
// One fresh browser per round trip; p50/p99 over b.N round trips.
func BenchmarkSignInRoundTrip(b *testing.B) {
	for _, st := range benchStacks() {
		b.Run(st.name, func(b *testing.B) {
			e := newOIDCEnv(b, st.dir(b), st.sessions(b))
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				r := e.codeFlow(e.browser(), nil)
				lat = append(lat, time.Since(start))
				if r.str("id_token") == "" {
					b.Fatal("no ID token")
				}
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkAuthorizeWithSession measures a sign-in of a browser that
// already has a session: GET /oauth2/authorize answers with the code at
// once, then the code exchange.
func BenchmarkAuthorizeWithSession(b *testing.B) {
	for _, st := range benchStacks() {
		b.Run(st.name, func(b *testing.B) {
			e := newOIDCEnv(b, st.dir(b), st.sessions(b))
			br := e.browser()
			e.codeFlow(br, nil)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				e.codeFlow(br, url.Values{"prompt": {"none"}})
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// cachedDirectory caches clients forever: an upper bound of what caching
// them in the directory (invalidated on change, like PrincipalAccess) would
// gain. For the benchmark only. (Session standing is cached by the
// directory itself, directory.SessionStanding.)
type cachedDirectory struct {
	tokens.ProviderDirectory
	clients sync.Map
}

func newCachedDirectory(d tokens.ProviderDirectory) tokens.ProviderDirectory {
	return &cachedDirectory{ProviderDirectory: d}
}

func (c *cachedDirectory) GetClient(ctx context.Context, id string) (directory.Client, error) {
	if v, ok := c.clients.Load(id); ok {
		return v.(directory.Client), nil
	}
	cl, err := c.ProviderDirectory.GetClient(ctx, id)
	if err == nil {
		c.clients.Store(id, cl)
	}
	return cl, err
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

package verify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// remoteFixture is a verifier on a RemoteKeySet on a real HTTP JWKS, with an
// adjustable clock shared by both.
type remoteFixture struct {
	srv *verifytest.JWKSServer
	rks *RemoteKeySet
	v   *Verifier
	clk *verifytest.Clock
}

func newRemoteFixture(t *testing.T, cfg RemoteKeySetConfig, keys ...*verifytest.Key) *remoteFixture {
	t.Helper()
	f := &remoteFixture{srv: verifytest.NewJWKSServer(t, keys...), clk: verifytest.NewClock(testNow)}
	cfg.Now = f.clk.Now
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var err error
	f.rks, err = NewRemoteKeySet(f.srv.URL+JWKSPath, cfg)
	must(t, err)
	f.v = newTestVerifier(t, f.rks, func(c *Config) { c.Now = f.clk.Now })
	return f
}

// verify checks a fresh token signed by k at the fixture's current time.
func (f *remoteFixture) verify(t *testing.T, k *verifytest.Key) error {
	t.Helper()
	c := validClaims()
	now := f.clk.Now()
	c.IssuedAt, c.ExpiresAt = now.Unix(), now.Add(10*time.Minute).Unix()
	_, err := f.v.Verify(context.Background(), signToken(t, k, c, nil))
	f.rks.settle() // let a background revalidation finish before counting hits
	return err
}

func TestRemoteKeySetPicksUpRotatedKey(t *testing.T) {
	old := verifytest.NewKey(t, jwa.ES256, "2026-01")
	next := verifytest.NewKey(t, jwa.ES256, "2026-02")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, old)
	must(t, f.verify(t, old))

	f.srv.SetKeys(t, old, next)
	// Within MinRefreshInterval of the last fetch the new kid is not
	// fetched for (it should have been published a cache lifetime ahead).
	f.clk.Advance(DefaultMinRefreshInterval - time.Second)
	if err := f.verify(t, next); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new kid inside the refresh interval: err = %v, want ErrUnknownKey", err)
	}
	f.clk.Advance(time.Second)
	if err := f.verify(t, next); err != nil {
		t.Fatalf("new kid after the refresh interval: %v", err)
	}
	if err := f.verify(t, old); err != nil {
		t.Fatalf("old key during overlap: %v", err)
	}
	if n := f.srv.Hits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}

	// Retiring the old key removes it once the cache has been revalidated
	// (the lookup that finds the cache stale is still served from it).
	f.srv.SetKeys(t, next)
	f.clk.Advance(DefaultCacheMaxAge + time.Second)
	if err := f.verify(t, old); err != nil {
		t.Fatalf("stale-while-revalidate: %v", err)
	}
	if err := f.verify(t, old); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: err = %v, want ErrUnknownKey", err)
	}
	if err := f.verify(t, next); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteKeySetKeepsLastGoodKeysWhenEndpointFails(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	failures := map[string]func(s *verifytest.JWKSState){
		"500":            func(s *verifytest.JWKSState) { s.Status = http.StatusInternalServerError },
		"404":            func(s *verifytest.JWKSState) { s.Status = http.StatusNotFound },
		"garbage":        func(s *verifytest.JWKSState) { s.Body, s.ETag = []byte("<html>oops</html>"), `"g"` },
		"truncated JSON": func(s *verifytest.JWKSState) { s.Body, s.ETag = s.Body[:len(s.Body)/2], `"t"` },
		"empty key set":  func(s *verifytest.JWKSState) { s.Body, s.ETag = []byte(`{"keys":[]}`), `"e"` },
		"only an oct key": func(s *verifytest.JWKSState) {
			s.Body, s.ETag = []byte(`{"keys":[{"kty":"oct","kid":"ec-1","k":"c2VjcmV0"}]}`), `"o"`
		},
		"oversized": func(s *verifytest.JWKSState) {
			s.Body, s.ETag = []byte(`{"keys":[],"pad":"`+strings.Repeat("a", DefaultMaxJWKSBytes)+`"}`), `"big"`
		},
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
			must(t, f.verify(t, ec))
			f.srv.Update(fail)
			f.clk.Advance(DefaultCacheMaxAge + time.Second)
			if err := f.verify(t, ec); err != nil {
				t.Fatalf("known key refused while the endpoint fails: %v", err)
			}
			if n := f.srv.Hits.Load(); n != 2 {
				t.Fatalf("hits = %d, want 2 (one revalidation attempt)", n)
			}
			if err := f.rks.Refresh(context.Background()); err == nil {
				t.Fatal("Refresh reported success")
			}
			for range 10 {
				f.clk.Advance(DefaultMinRefreshInterval / 3)
				if err := f.verify(t, ec); err != nil {
					t.Fatalf("known key refused while the endpoint fails: %v", err)
				}
			}
			if n := f.srv.Hits.Load(); n > 3+4 {
				t.Fatalf("hits = %d: failures are retried more than once per MinRefreshInterval", n)
			}
		})
	}
}

func TestRemoteKeySetStopsWhenEndpointRefusesConnections(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
	must(t, f.verify(t, ec))
	f.srv.Close()
	f.clk.Advance(time.Hour)
	if err := f.verify(t, ec); err != nil {
		t.Fatalf("known key refused with the endpoint gone: %v", err)
	}
}

func TestRemoteKeySetRateLimitsUnknownKIDRefreshes(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
	must(t, f.verify(t, ec))
	forger := verifytest.NewKey(t, jwa.ES256, "x")
	for i := range 200 {
		tok := signToken(t, forger, validClaims(), map[string]any{"kid": "forged-" + strings.Repeat("x", i%50)})
		if _, err := f.v.Verify(context.Background(), tok); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("forged kid: err = %v", err)
		}
	}
	if n := f.srv.Hits.Load(); n != 1 {
		t.Fatalf("200 forged kids caused %d fetches, want none beyond the first", n-1)
	}
	f.clk.Advance(DefaultMinRefreshInterval)
	for range 50 {
		_, _ = f.v.Verify(context.Background(), signToken(t, forger, validClaims(), map[string]any{"kid": "forged"}))
	}
	if n := f.srv.Hits.Load(); n != 2 {
		t.Fatalf("after one interval: %d fetches, want 2", n)
	}
	if err := f.verify(t, ec); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteKeySetHonorsCustomMinRefreshInterval(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{MinRefreshInterval: 5 * time.Second}, ec)
	must(t, f.verify(t, ec))
	f.clk.Advance(5 * time.Second)
	_, _ = f.rks.LookupKey(context.Background(), "nope")
	_, _ = f.rks.LookupKey(context.Background(), "nope")
	if n := f.srv.Hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}
}

func TestRemoteKeySetSharesOneFetchAcrossConcurrentLookups(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
	release := make(chan struct{})
	slow := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		slow.ServeHTTP(w, r)
	})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() { errs <- f.verify(t, ec) })
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.srv.Hits.Load(); n != 1 {
		t.Fatalf("32 concurrent cold lookups caused %d fetches, want 1", n)
	}
}

func TestRemoteKeySetRevalidatesWithETag(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
	must(t, f.verify(t, ec))
	f.clk.Advance(DefaultCacheMaxAge + time.Second)
	must(t, f.verify(t, ec))
	inm := f.srv.IfNoneMatch()
	var etag string
	f.srv.Update(func(s *verifytest.JWKSState) { etag = s.ETag })
	if len(inm) != 2 || inm[0] != "" || inm[1] != etag {
		t.Fatalf("If-None-Match sent: %q, want [\"\" %q]", inm, etag)
	}
	// The 304 renewed freshness: no fetch within the next max-age.
	f.clk.Advance(DefaultCacheMaxAge - time.Second)
	must(t, f.verify(t, ec))
	if n := f.srv.Hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}
}

func TestRemoteKeySetHonorsCacheControl(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	cases := []struct {
		cacheControl string
		fresh        time.Duration
	}{
		{"public, max-age=120", 120 * time.Second},
		{"max-age=5", DefaultMinRefreshInterval}, // below the floor
		{"max-age=999999999", DefaultCacheMaxAgeLimit},
		{"no-cache", DefaultMinRefreshInterval},
		{"no-store", DefaultMinRefreshInterval},
		{"", DefaultCacheMaxAge},
		{"max-age=banana", DefaultCacheMaxAge},
	}
	for _, tc := range cases {
		t.Run(tc.cacheControl, func(t *testing.T) {
			f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
			f.srv.Update(func(s *verifytest.JWKSState) { s.CacheControl = tc.cacheControl })
			must(t, f.verify(t, ec))
			f.clk.Advance(tc.fresh - time.Second)
			must(t, f.verify(t, ec))
			if n := f.srv.Hits.Load(); n != 1 {
				t.Fatalf("refetched before %v", tc.fresh)
			}
			f.clk.Advance(time.Second)
			must(t, f.verify(t, ec))
			if n := f.srv.Hits.Load(); n != 2 {
				t.Fatalf("not revalidated after %v", tc.fresh)
			}
		})
	}
}

func TestRemoteKeySetSkipsUnusableKeys(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
	good, err := jsonOf(ec.Public)
	must(t, err)
	noKID := verifytest.NewKey(t, jwa.ES256, "")
	must(t, noKID.Public.Remove(jwk.KeyIDKey))
	noKIDJSON, err := jsonOf(noKID.Public)
	must(t, err)
	encKey := verifytest.NewKey(t, jwa.ES256, "enc-1")
	must(t, encKey.Public.Set(jwk.KeyUsageKey, jwk.ForEncryption))
	encJSON, err := jsonOf(encKey.Public)
	must(t, err)
	f.srv.SetBody([]byte(`{"keys":[` + noKIDJSON + `,{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},` + encJSON + `,` + good + `]}`))
	must(t, f.verify(t, ec))
	for _, kid := range []string{"hmac", "enc-1"} {
		if _, err := f.rks.LookupKey(context.Background(), kid); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("kid %q: err = %v, want ErrUnknownKey", kid, err)
		}
	}
}

func jsonOf(k jwk.Key) (string, error) {
	b, err := jsonMarshal(k)
	return string(b), err
}

func TestRemoteKeySetReportsUnavailableBeforeFirstSuccess(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
	f.srv.Update(func(s *verifytest.JWKSState) { s.Status = http.StatusBadGateway })
	err := f.verify(t, ec)
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrKeysUnavailable only", err)
	}
	// Recovery is picked up after MinRefreshInterval.
	f.srv.Update(func(s *verifytest.JWKSState) { s.Status = 0 })
	f.clk.Advance(DefaultMinRefreshInterval)
	must(t, f.verify(t, ec))
}

func TestRemoteKeySetGivesUpOnAHangingEndpoint(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	rks, err := NewRemoteKeySet(srv.URL, RemoteKeySetConfig{
		FetchTimeout: 300 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	must(t, err)

	// The caller's deadline ends its wait…
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := rks.LookupKey(ctx, "k"); !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("lookup took %v", d)
	}
	// …and FetchTimeout ends the fetch itself.
	start = time.Now()
	if err := rks.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded against a hanging endpoint")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("fetch took %v despite FetchTimeout", d)
	}
}

func TestRemoteKeySetFetchSurvivesTheCallerGivingUp(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	f := newRemoteFixture(t, RemoteKeySetConfig{}, ec)
	release := make(chan struct{})
	h := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		h.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.rks.LookupKey(ctx, "ec-1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	f.rks.settle()
	// No new fetch is allowed yet, yet the key is there: the first fetch
	// completed although its caller had left.
	if _, err := f.rks.LookupKey(context.Background(), "ec-1"); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Hits.Load(); n != 1 {
		t.Fatalf("hits = %d", n)
	}
}

func TestNewRemoteKeySetValidatesURL(t *testing.T) {
	for _, u := range []string{"", "jwks.json", "file:///etc/passwd", "ftp://x/jwks", "http://"} {
		if _, err := NewRemoteKeySet(u, RemoteKeySetConfig{}); err == nil {
			t.Errorf("accepted %q", u)
		}
	}
	if _, err := NewRemoteKeySet("https://x/jwks", RemoteKeySetConfig{MinRefreshInterval: -1}); err == nil {
		t.Error("accepted a negative interval")
	}
}

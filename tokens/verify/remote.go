package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Defaults of RemoteKeySetConfig.
const (
	// DefaultMinRefreshInterval is the least time between two fetches of the
	// JWKS, whatever triggers them. 30 s (as panva/jose's cooldown) means a
	// stream of tokens with forged kids costs the issuer at most two requests a
	// minute per verifying process, while a key published ahead of use (as
	// docs/security.md requires) is always picked up in time.
	DefaultMinRefreshInterval = 30 * time.Second
	// DefaultCacheMaxAge is how long a JWKS stays fresh when its response
	// carries no Cache-Control max-age.
	DefaultCacheMaxAge = 5 * time.Minute
	// DefaultCacheMaxAgeLimit caps the max-age honored from Cache-Control.
	DefaultCacheMaxAgeLimit = 24 * time.Hour
	// DefaultMaxJWKSBytes caps the size of a JWKS response body.
	DefaultMaxJWKSBytes = 1 << 20
	// DefaultFetchTimeout bounds one JWKS fetch.
	DefaultFetchTimeout = 10 * time.Second
)

// RemoteKeySetConfig tunes a RemoteKeySet. The zero value is ready to use.
type RemoteKeySetConfig struct {
	// HTTPClient fetches the JWKS. Default: a client with a 10 s overall
	// timeout, 5 s dial, TLS-handshake and response-header timeouts, and at
	// most 3 redirects, never from https to http.
	HTTPClient *http.Client
	// MinRefreshInterval is the least time between two fetch attempts,
	// successful or not, including those triggered by an unknown kid.
	// Default DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// DefaultMaxAge is the freshness lifetime when the response has no
	// Cache-Control max-age. Default DefaultCacheMaxAge.
	DefaultMaxAge time.Duration
	// MaxAgeLimit caps the honored max-age. Default DefaultCacheMaxAgeLimit.
	MaxAgeLimit time.Duration
	// MaxResponseBytes caps the response body. Default DefaultMaxJWKSBytes.
	MaxResponseBytes int64
	// FetchTimeout bounds one fetch, whatever HTTPClient's own timeouts.
	// Default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Logger receives a warning for each failed fetch. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// KeysWithoutKID keeps keys that have no kid (skipped by default) and
	// lets LookupKey("") answer with the set's only key, for tokens of
	// issuers that publish a single key and name none (RFC 7515 §4.1.4:
	// kid is optional). A set of several keys then answers ErrKIDRequired.
	// The broker's trusted external issuers use it (docs/jwt-issuers.md);
	// a Verifier of our own tokens always requires a kid.
	KeysWithoutKID bool
}

// RemoteKeySet is a KeySource that fetches a JWKS over HTTP and caches the
// parsed keys. It honors ETag (conditional requests) and Cache-Control
// max-age/no-cache/no-store (bounded below by MinRefreshInterval and above by
// MaxAgeLimit). An unknown kid triggers a refresh, but fetch attempts of any
// kind happen at most once per MinRefreshInterval, so forged kids cannot
// hammer the endpoint. When the endpoint is down, or answers with an error,
// an oversized body, garbage or a set without a usable key, the last good
// keys stay in use. Concurrent lookups share one fetch, which runs in the
// background (bounded by FetchTimeout) so that a stale key is served while
// it is revalidated. A RemoteKeySet is safe for concurrent use.
type RemoteKeySet struct {
	url           string
	client        *http.Client
	minRefresh    time.Duration
	defaultMaxAge time.Duration
	maxAgeLimit   time.Duration
	maxBytes      int64
	fetchTimeout  time.Duration
	withoutKID    bool
	log           *slog.Logger
	now           func() time.Time

	current atomic.Pointer[keySnapshot]

	mu          sync.Mutex    // guards the fields below
	lastAttempt time.Time     // start of the last fetch attempt
	lastErr     error         // outcome of the last fetch attempt
	inflight    chan struct{} // closed when the running fetch ends; nil if none
}

// keySnapshot is one successfully fetched JWKS; it is never modified.
type keySnapshot struct {
	keys map[string]jwk.Key
	// sole is the set's only usable key, with or without kid; nil when the
	// set holds several.
	sole       jwk.Key
	etag       string
	freshUntil time.Time
}

// NewRemoteKeySet returns a RemoteKeySet for the JWKS at jwksURL. It fetches
// nothing until the first lookup (call Refresh to warm it up). It returns an
// error if jwksURL is not an absolute http or https URL or if cfg holds a
// negative duration or size.
func NewRemoteKeySet(jwksURL string, cfg RemoteKeySetConfig) (*RemoteKeySet, error) {
	u, err := url.Parse(jwksURL)
	if err != nil {
		return nil, fmt.Errorf("verify: JWKS URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("verify: JWKS URL %q must be an absolute http(s) URL", jwksURL)
	}
	if cfg.MinRefreshInterval < 0 || cfg.DefaultMaxAge < 0 || cfg.MaxAgeLimit < 0 || cfg.MaxResponseBytes < 0 || cfg.FetchTimeout < 0 {
		return nil, errors.New("verify: RemoteKeySetConfig durations and sizes must not be negative")
	}
	s := &RemoteKeySet{
		url:           u.String(),
		client:        cfg.HTTPClient,
		minRefresh:    cmpOr(cfg.MinRefreshInterval, DefaultMinRefreshInterval),
		defaultMaxAge: cmpOr(cfg.DefaultMaxAge, DefaultCacheMaxAge),
		maxAgeLimit:   cmpOr(cfg.MaxAgeLimit, DefaultCacheMaxAgeLimit),
		maxBytes:      cmpOr(cfg.MaxResponseBytes, DefaultMaxJWKSBytes),
		fetchTimeout:  cmpOr(cfg.FetchTimeout, DefaultFetchTimeout),
		withoutKID:    cfg.KeysWithoutKID,
		log:           cfg.Logger,
		now:           cfg.Now,
	}
	if s.client == nil {
		s.client = defaultHTTPClient()
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// defaultHTTPClient returns a client that cannot hang: every phase of the
// request has a timeout, and redirects are few and never downgrade to http.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 5 * time.Second,
			MaxIdleConns:          4,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("redirect from https to http refused")
			}
			return nil
		},
	}
}

// URL returns the JWKS URL the set fetches.
func (s *RemoteKeySet) URL() string { return s.url }

// LookupKey returns the key whose kid is kid. A cached key is returned at
// once, even when stale; a stale one also starts a background revalidation. An unknown kid triggers a refresh, at most once per
// MinRefreshInterval. It returns an error wrapping ErrUnknownKey when the
// set has no such key, and ErrKeysUnavailable when no fetch has ever
// succeeded.
func (s *RemoteKeySet) LookupKey(ctx context.Context, kid string) (jwk.Key, error) {
	if kid == "" && s.withoutKID {
		return s.soleKey(ctx)
	}
	if snap := s.current.Load(); snap != nil {
		if k, ok := snap.keys[kid]; ok {
			if s.now().Before(snap.freshUntil) {
				return k, nil
			}
			// Stale: revalidate in the background and answer with what
			// we have (stale-while-revalidate); a failing endpoint changes
			// nothing.
			_ = s.refresh(ctx, false, false)
			return k, nil
		}
	}
	err := s.refresh(ctx, true, false)
	snap := s.current.Load()
	if snap == nil {
		if err == nil {
			err = errors.New("no fetch has succeeded yet")
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, s.url, err)
	}
	if k, ok := snap.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

// soleKey answers a token without kid (KeysWithoutKID): the set's only
// key, ErrKIDRequired when it holds several. Such a token never forces a
// refresh: a known set answers at once; only the first lookup fetches.
func (s *RemoteKeySet) soleKey(ctx context.Context) (jwk.Key, error) {
	snap := s.current.Load()
	if snap == nil {
		err := s.refresh(ctx, true, false)
		if snap = s.current.Load(); snap == nil {
			if err == nil {
				err = errors.New("no fetch has succeeded yet")
			}
			return nil, fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, s.url, err)
		}
	} else if !s.now().Before(snap.freshUntil) {
		_ = s.refresh(ctx, false, false)
	}
	if snap.sole == nil {
		return nil, ErrKIDRequired
	}
	return snap.sole, nil
}

// Refresh fetches the JWKS now, ignoring freshness and MinRefreshInterval
// (or waits for a fetch already running). It returns the fetch error, if
// any; the last good keys stay in use either way.
func (s *RemoteKeySet) Refresh(ctx context.Context) error {
	return s.refresh(ctx, true, true)
}

// errTooSoon is the outcome of a refresh skipped by MinRefreshInterval.
var errTooSoon = errors.New("JWKS refresh skipped: fetched too recently")

// refresh starts a fetch unless one is running or one started less than
// MinRefreshInterval ago (force overrides the latter). The fetch runs on its
// own goroutine, detached from ctx and bounded by FetchTimeout, so that one
// impatient caller cannot spoil it for the others. With wait, refresh waits
// for the running fetch (or ctx) and returns its error; a skipped refresh
// returns errTooSoon wrapping the last attempt's error.
func (s *RemoteKeySet) refresh(ctx context.Context, wait, force bool) error {
	s.mu.Lock()
	ch := s.inflight
	if ch == nil {
		now := s.now()
		if !force && !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minRefresh {
			last := s.lastErr
			s.mu.Unlock()
			if last != nil {
				return fmt.Errorf("%w (last attempt: %w)", errTooSoon, last)
			}
			return errTooSoon
		}
		s.lastAttempt = now
		ch = make(chan struct{})
		s.inflight = ch
		go s.runFetch(context.WithoutCancel(ctx), ch)
	}
	s.mu.Unlock()
	if !wait {
		return nil
	}
	select {
	case <-ch:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lastErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runFetch performs one fetch, records its outcome and closes done.
func (s *RemoteKeySet) runFetch(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, s.fetchTimeout)
	defer cancel()
	err := s.fetch(ctx)
	if err != nil {
		kept := 0
		if snap := s.current.Load(); snap != nil {
			kept = len(snap.keys)
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "verify: JWKS fetch failed; keeping last good keys",
			slog.String("url", s.url), slog.Int("kept_keys", kept), slog.String("error", err.Error()))
	}
	s.mu.Lock()
	s.lastErr = err
	s.inflight = nil
	s.mu.Unlock()
	close(done)
}

// settle waits until no fetch is running. Tests use it to observe the
// outcome of a background revalidation.
func (s *RemoteKeySet) settle() {
	s.mu.Lock()
	ch := s.inflight
	s.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// fetch GETs the JWKS (conditionally when an ETag is known) and installs
// the result. It returns an error, installing nothing, for a transport
// failure, a status other than 200/304, an oversized or unparsable body, or
// a set without a usable signing key.
func (s *RemoteKeySet) fetch(ctx context.Context) error {
	prev := s.current.Load()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if prev != nil && prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching JWKS: %w", err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
	}()
	now := s.now()

	switch resp.StatusCode {
	case http.StatusNotModified:
		if prev == nil {
			return errors.New("304 Not Modified without cached keys")
		}
		etag := prev.etag
		if e := resp.Header.Get("ETag"); e != "" {
			etag = e
		}
		s.current.Store(&keySnapshot{keys: prev.keys, sole: prev.sole, etag: etag, freshUntil: now.Add(s.maxAge(resp.Header))})
		return nil
	case http.StatusOK:
	default:
		return fmt.Errorf("JWKS endpoint answered %s", resp.Status)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, s.maxBytes+1))
	if err != nil {
		return fmt.Errorf("reading JWKS: %w", err)
	}
	if int64(len(body)) > s.maxBytes {
		return fmt.Errorf("JWKS larger than %d bytes", s.maxBytes)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return fmt.Errorf("parsing JWKS: %w", err)
	}
	keys, sole := s.usableKeys(ctx, set)
	if len(keys) == 0 && sole == nil {
		// An empty set is a broken deployment, not a revocation of every
		// key (Dex #976 published one); keep what worked.
		return errors.New("JWKS holds no usable signing key")
	}
	s.current.Store(&keySnapshot{keys: keys, sole: sole, etag: resp.Header.Get("ETag"), freshUntil: now.Add(s.maxAge(resp.Header))})
	return nil
}

// usableKeys indexes by kid the keys of set that can verify signatures,
// skipping (and logging) keys without kid (unless KeysWithoutKID),
// symmetric, encryption-only or malformed keys, and later duplicates of a
// kid. Private keys are reduced to their public half. sole is the only
// usable key when there is exactly one.
func (s *RemoteKeySet) usableKeys(ctx context.Context, set jwk.Set) (keys map[string]jwk.Key, sole jwk.Key) {
	keys = make(map[string]jwk.Key, set.Len())
	usable := 0
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid := k.KeyID()
		skip := func(why string) {
			s.log.LogAttrs(ctx, slog.LevelWarn, "verify: JWKS key skipped",
				slog.String("url", s.url), slog.String("kid", kid), slog.String("reason", why))
		}
		switch {
		case kid == "" && !s.withoutKID:
			skip("no kid")
			continue
		case k.KeyType() == jwa.OctetSeq:
			skip(errSymmetricKey.Error())
			continue
		}
		if _, dup := keys[kid]; dup && kid != "" {
			skip("duplicate kid")
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			skip("no public key: " + err.Error())
			continue
		}
		if _, err := newVerificationKey(pub); err != nil {
			skip(err.Error())
			continue
		}
		usable++
		sole = pub
		if kid != "" {
			keys[kid] = pub
		}
	}
	if usable != 1 {
		sole = nil
	}
	return keys, sole
}

// maxAge is the freshness lifetime h grants: Cache-Control max-age, or
// DefaultMaxAge without one, zero for no-cache/no-store; then clamped to
// [MinRefreshInterval, MaxAgeLimit].
func (s *RemoteKeySet) maxAge(h http.Header) time.Duration {
	age := s.defaultMaxAge
	for _, directive := range strings.Split(strings.Join(h.Values("Cache-Control"), ","), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return s.minRefresh
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && n >= 0 {
				age = time.Duration(min(n, int64(s.maxAgeLimit/time.Second))) * time.Second
			}
		}
	}
	return min(max(age, s.minRefresh), s.maxAgeLimit)
}

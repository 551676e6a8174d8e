package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrRevoked is wrapped (together with ErrInvalidToken) by the error Verify
// returns for a token that verified offline but that the broker no longer
// holds active: revoked, or its principal removed from the org.
var ErrRevoked = errors.New("token revoked at the broker")

// ErrRevocationUnavailable is wrapped by the error Verify returns when a
// revocation check is configured and cannot be answered: the broker is
// unreachable (beyond the grace period) or refuses the service's
// credentials. It does not wrap ErrInvalidToken: Middleware answers 503.
var ErrRevocationUnavailable = errors.New("revocation check unavailable")

// RevocationCheck is asked, after a token has passed every offline check,
// whether the broker still holds it active (Config.Revocation). CheckActive
// returns nil for an active token, an error wrapping ErrRevoked (a
// *TokenError) for one to refuse, and any other error when it cannot say.
type RevocationCheck interface {
	CheckActive(ctx context.Context, token string, claims *Claims) error
}

// Defaults of IntrospectionConfig.
const (
	// DefaultRevocationInterval is how long an introspection answer that
	// a token is active is trusted: the bound on how long a token revoked
	// at the broker is still accepted (docs/verifying-tokens.md).
	DefaultRevocationInterval = 30 * time.Second
	// DefaultRevocationEntries bounds the answers kept in memory.
	DefaultRevocationEntries = 10000
	// IntrospectionPath is appended to the issuer for the default URL.
	IntrospectionPath = "/oauth2/introspect"
	// retryAfterFailure is how long a failed introspection is not tried
	// again, so that a broker outage does not make every request wait on
	// a timeout.
	retryAfterFailure = time.Second
	// maxIntrospectionBytes caps an introspection answer.
	maxIntrospectionBytes = 1 << 20
)

// IntrospectionConfig configures an Introspector.
type IntrospectionConfig struct {
	// URL is the broker's introspection endpoint (RFC 7662), such as
	// "https://sso.example.com/oauth2/introspect". Required.
	URL string
	// ClientID and ClientSecret are a service account of the org whose
	// tokens the service accepts ("sa_…" and its "ssb_…" API key). The
	// broker tells a service account about its own org's tokens only, so a
	// token of another org is refused; use CredentialsFor to serve several
	// orgs.
	ClientID, ClientSecret string
	// CredentialsFor, when set, names the service account to ask with for
	// a token of the org orgID (the org claim's id), instead of ClientID
	// and ClientSecret. A token of an org it has no credentials for (ok
	// false) is refused.
	CredentialsFor func(orgID string) (clientID, clientSecret string, ok bool)
	// Interval is how long an answer "active" is trusted before the broker
	// is asked again: a token revoked at the broker, or whose user was
	// removed, is refused by the first request after at most Interval.
	// Default DefaultRevocationInterval.
	Interval time.Duration
	// Grace is how long beyond Interval a token last found active stays
	// accepted while the broker cannot be asked (unreachable, 5xx, a bad
	// answer). After it, such tokens are refused as "cannot decide" (503
	// from Middleware): the check fails closed. Zero means Grace equals
	// Interval; a negative value means no grace.
	Grace time.Duration
	// FailOpen accepts, while the broker cannot be asked, every token that
	// passed the offline checks, whatever its last answer, logging each
	// such decision. It gives up the bound during an outage; leave it off
	// unless availability matters more than revocation.
	FailOpen bool
	// MaxEntries bounds the answers kept (one per token, by jti). When full,
	// expired and outdated answers go first, then arbitrary ones (which
	// only costs a new question). Default DefaultRevocationEntries.
	MaxEntries int
	// HTTPClient asks the broker. Default: the same timeouts as
	// RemoteKeySet's default client.
	HTTPClient *http.Client
	// Timeout bounds one introspection. Default 5 s.
	Timeout time.Duration
	// Logger receives a warning for each failed introspection and each
	// decision taken without the broker. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Introspector is a RevocationCheck that asks the broker's introspection
// endpoint (RFC 7662) about each token and keeps the answer: "active" for
// Interval, "inactive" until the token expires. Concurrent requests with
// the same token share one question. The broker answers inactive at once,
// on every replica, when the token's jti was revoked or its principal is
// no longer a member of the org (docs/verifying-tokens.md, "Revocation at
// the verifier"). An Introspector is safe for concurrent use.
type Introspector struct {
	url      string
	id       string
	secret   string
	credsFor func(string) (string, string, bool)
	interval time.Duration
	grace    time.Duration
	failOpen bool
	max      int
	client   *http.Client
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu          sync.Mutex
	answers     map[string]answer         // by jti
	inflight    map[string]*introspection // by jti
	lastFailure time.Time
	lastErr     error
}

// answer is what the broker last said of one token.
type answer struct {
	active    bool
	checkedAt time.Time // when the broker said it
	exp       int64     // the token's exp (the answer is useless after it)
}

// introspection is one question in flight; done is closed when it ends.
type introspection struct {
	done   chan struct{}
	active bool
	err    error
}

// NewIntrospector returns an Introspector for cfg. It returns an error when
// URL is not an absolute http(s) URL, when neither ClientID/ClientSecret
// nor CredentialsFor is set, or when a duration or size is negative.
func NewIntrospector(cfg IntrospectionConfig) (*Introspector, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("verify: introspection URL %q must be an absolute http(s) URL", cfg.URL)
	}
	if cfg.CredentialsFor == nil && (cfg.ClientID == "" || cfg.ClientSecret == "") {
		return nil, errors.New("verify: the introspection check needs ClientID and ClientSecret (a service account and its API key) or CredentialsFor")
	}
	if cfg.Interval < 0 || cfg.MaxEntries < 0 || cfg.Timeout < 0 {
		return nil, errors.New("verify: IntrospectionConfig Interval, MaxEntries and Timeout must not be negative")
	}
	in := &Introspector{
		url: u.String(), id: cfg.ClientID, secret: cfg.ClientSecret, credsFor: cfg.CredentialsFor,
		interval: cmpOr(cfg.Interval, DefaultRevocationInterval),
		failOpen: cfg.FailOpen,
		max:      cmpOr(cfg.MaxEntries, DefaultRevocationEntries),
		client:   cfg.HTTPClient,
		timeout:  cmpOr(cfg.Timeout, 5*time.Second),
		log:      cfg.Logger,
		now:      cfg.Now,
		answers:  map[string]answer{},
		inflight: map[string]*introspection{},
	}
	switch {
	case cfg.Grace == 0:
		in.grace = in.interval
	case cfg.Grace > 0:
		in.grace = cfg.Grace
	}
	if in.client == nil {
		in.client = defaultHTTPClient()
	}
	if in.log == nil {
		in.log = slog.Default()
	}
	if in.now == nil {
		in.now = time.Now
	}
	return in, nil
}

// Interval returns how long an answer "active" is trusted: the bound on
// accepting a token after the broker stopped holding it active.
func (in *Introspector) Interval() time.Duration { return in.interval }

// CheckActive implements RevocationCheck. A kept answer "inactive" refuses
// at once and a kept answer "active" younger than Interval accepts;
// otherwise the broker is asked. When it cannot be asked, a token found
// active less than Interval+Grace ago is accepted (as is any token with
// FailOpen), and the rest fail with ErrRevocationUnavailable.
func (in *Introspector) CheckActive(ctx context.Context, token string, c *Claims) error {
	if id, _ := in.credentials(c.Org.ID); id == "" {
		return invalid("token of an organization this service does not check", ErrRevoked)
	}
	now := in.now()
	in.mu.Lock()
	a, known := in.answers[c.JWTID]
	in.mu.Unlock()
	switch {
	case known && !a.active:
		return revoked()
	case known && now.Sub(a.checkedAt) < in.interval:
		return nil
	}
	active, err := in.ask(ctx, token, c)
	if err == nil {
		if !active {
			return revoked()
		}
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("verify: revocation check: %w", ctx.Err())
	}
	if known && a.active && now.Sub(a.checkedAt) < in.interval+in.grace {
		in.log.WarnContext(ctx, "verify: broker unreachable; accepting a token found active within the grace period",
			"jti", c.JWTID, "sub", c.Subject, "checked", a.checkedAt, "err", err)
		return nil
	}
	if in.failOpen {
		in.log.WarnContext(ctx, "verify: broker unreachable; accepting the token unchecked (FailOpen)", "jti", c.JWTID, "sub", c.Subject, "err", err)
		return nil
	}
	return fmt.Errorf("verify: %w: %w", ErrRevocationUnavailable, err)
}

func revoked() error { return invalid("token revoked", ErrRevoked) }

// ask asks the broker about token, sharing the question with concurrent
// callers for the same jti, and keeps the answer. Within retryAfterFailure
// of a failure it fails at once with that failure.
func (in *Introspector) ask(ctx context.Context, token string, c *Claims) (bool, error) {
	in.mu.Lock()
	q := in.inflight[c.JWTID]
	if q == nil {
		if !in.lastFailure.IsZero() && in.now().Sub(in.lastFailure) < retryAfterFailure {
			err := in.lastErr
			in.mu.Unlock()
			return false, err
		}
		q = &introspection{done: make(chan struct{})}
		in.inflight[c.JWTID] = q
		go in.run(context.WithoutCancel(ctx), q, token, c)
	}
	in.mu.Unlock()
	select {
	case <-q.done:
		return q.active, q.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// run asks the broker once, records the outcome and closes q.done. It is
// detached from the caller's context (bounded by Timeout), so that one
// impatient request does not spoil the answer for the others.
func (in *Introspector) run(ctx context.Context, q *introspection, token string, c *Claims) {
	ctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	q.active, q.err = in.introspect(ctx, token, c)
	now := in.now()
	in.mu.Lock()
	delete(in.inflight, c.JWTID)
	if q.err != nil {
		in.lastFailure, in.lastErr = now, q.err
		in.log.WarnContext(ctx, "verify: introspection failed", "url", in.url, "err", q.err)
	} else {
		in.lastFailure, in.lastErr = time.Time{}, nil
		in.keep(c.JWTID, answer{active: q.active, checkedAt: now, exp: c.ExpiresAt}, now)
	}
	in.mu.Unlock()
	close(q.done)
}

// keep stores an answer within MaxEntries. Called with mu held.
func (in *Introspector) keep(jti string, a answer, now time.Time) {
	if _, ok := in.answers[jti]; !ok && len(in.answers) >= in.max {
		for k, old := range in.answers {
			if old.exp < now.Unix() || (old.active && now.Sub(old.checkedAt) >= in.interval+in.grace) {
				delete(in.answers, k)
			}
		}
		// Still full: drop about a tenth, arbitrarily (map order); each
		// costs only one more question if its token comes back.
		for k := range in.answers {
			if len(in.answers) < in.max-in.max/10 {
				break
			}
			delete(in.answers, k)
		}
	}
	in.answers[jti] = a
}

// credentials returns the service account to ask with about a token of
// orgID, or empty strings when there is none.
func (in *Introspector) credentials(orgID string) (id, secret string) {
	if in.credsFor == nil {
		return in.id, in.secret
	}
	id, secret, ok := in.credsFor(orgID)
	if !ok || id == "" || secret == "" {
		return "", ""
	}
	return id, secret
}

// introspectionAnswer is the part of an RFC 7662 answer we read.
type introspectionAnswer struct {
	Active *bool  `json:"active"`
	JTI    string `json:"jti"`
	Sub    string `json:"sub"`
}

// introspect posts token to the broker with the service account's
// credentials (client_secret_basic, RFC 6749 §2.3.1) and returns whether it
// is active. An active answer must name the token's jti and sub. Any
// other outcome is an error: the broker could not be asked.
func (in *Introspector) introspect(ctx context.Context, token string, c *Claims) (bool, error) {
	id, secret := in.credentials(c.Org.ID)
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("introspection request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := in.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("introspection: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBytes+1))
	switch {
	case err != nil:
		return false, fmt.Errorf("introspection: reading the answer: %w", err)
	case len(body) > maxIntrospectionBytes:
		return false, errors.New("introspection: answer larger than 1 MiB")
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest:
		// The broker refuses our own credentials (invalid_client): a
		// configuration error, not the token's fault.
		return false, fmt.Errorf("introspection: the broker refused the service account %s (%d): %.200s", id, resp.StatusCode, body)
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("introspection: status %d", resp.StatusCode)
	}
	var a introspectionAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Active == nil {
		return false, errors.New("introspection: the answer is not an RFC 7662 object with active")
	}
	if *a.Active && (a.JTI != c.JWTID || a.Sub != c.Subject) {
		return false, errors.New("introspection: the answer names another token")
	}
	return *a.Active, nil
}

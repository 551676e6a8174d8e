// Package backchannel sends OpenID Connect Back-Channel Logout 1.0 logout
// tokens (docs/logout.md). It is the session.EndListener the broker wraps
// its session store with: whatever ends a browser session (the broker's
// sign-out, RP-initiated logout, SAML Single Logout, deprovisioning) goes
// through the store, and the store reports it here. For each ended session
// and each client with a backchannel_logout_uri that received tokens in it
// (tokens.KindBackchannelClient records, taken once), a logout token is
// POSTed to the client, retried with backoff, on this package's own
// goroutines: the user's page never waits for a client.
//
// Deliveries are held in memory: a replica that stops loses its pending
// retries (docs/logout.md, "Limits").
package backchannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/webhooks"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// Clients lists the clients that registered a backchannel_logout_uri
// (*directory.SQLStore).
type Clients interface {
	BackchannelClients(ctx context.Context) ([]directory.Client, error)
}

// Records takes the per-session client records (session.Store).
type Records interface {
	TakeOnce(ctx context.Context, kind session.Kind, key string) ([]byte, error)
}

// Minter signs logout tokens (*tokens.Issuer).
type Minter interface {
	LogoutToken(clientID, userID, sid string) (string, error)
}

// Defaults of Config.
const (
	DefaultMaxAttempts = 8
	DefaultQueue       = 4096
	DefaultMaxPending  = 10_000
	DefaultWorkers     = 4
	DefaultTimeout     = 5 * time.Second
)

// Config configures a Notifier. Clients, Records, Tokens and HTTPClient
// are required.
type Config struct {
	Clients Clients
	Records Records
	Tokens  Minter
	// HTTPClient sends the logout tokens: the broker's safe outbound
	// client (idp.NewUpstreamClientWithPolicy), so the same address policy
	// as IdP fetches and webhooks applies.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Backoff is the wait before attempt n+1 after n failures (default
	// webhooks.Backoff: 1 s, 2 s, 4 s … with jitter).
	Backoff func(n int) time.Duration
	// MaxAttempts bounds the attempts per delivery (default 8: about two
	// minutes of retries).
	MaxAttempts int
	// Queue bounds the ended sessions waiting to be handled (default
	// 4096); beyond it an ended session's notices are dropped and logged.
	Queue int
	// MaxPending bounds the deliveries waiting for a retry (default
	// 10 000); beyond it a failed delivery is not retried (logged).
	MaxPending int
	// Workers is how many ended sessions are handled at once (default 4).
	Workers int
	// Timeout bounds one attempt (default 5 s).
	Timeout time.Duration
}

// Notifier is a session.EndListener that delivers logout tokens. Run it.
type Notifier struct {
	cfg     Config
	log     *slog.Logger
	queue   chan job
	pending atomic.Int64
}

// job is an ended session to fan out, or a delivery to retry.
type job struct {
	sess *session.Session
	d    *delivery
}

// delivery is one logout notice for one client.
type delivery struct {
	clientID, uri, userID, sid string
	attempts                   int
}

var _ session.EndListener = (*Notifier)(nil)

// New returns a Notifier, or an error naming what is missing.
func New(cfg Config) (*Notifier, error) {
	var missing []string
	if cfg.Clients == nil {
		missing = append(missing, "Clients")
	}
	if cfg.Records == nil {
		missing = append(missing, "Records")
	}
	if cfg.Tokens == nil {
		missing = append(missing, "Tokens")
	}
	if cfg.HTTPClient == nil {
		missing = append(missing, "HTTPClient")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("backchannel: missing %s", strings.Join(missing, ", "))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = webhooks.Backoff
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Notifier{cfg: cfg, log: cfg.Logger, queue: make(chan job, cfg.Queue)}, nil
}

// SessionsEnded queues the ended sessions and returns at once; with the
// queue full they are dropped and logged (their clients then learn of the
// end only when their tokens expire).
func (n *Notifier) SessionsEnded(ctx context.Context, ended []session.Session) {
	for i := range ended {
		s := ended[i]
		select {
		case n.queue <- job{sess: &s}:
		default:
			n.log.ErrorContext(ctx, "back-channel logout queue full; the session's clients are not notified",
				"session", s.Handle, "user", s.UserID)
		}
	}
}

// Run handles ended sessions and delivers until ctx ends, then returns nil
// after the attempts in flight finish; retries still waiting are dropped.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range n.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-n.queue:
					n.handle(ctx, j)
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

func (n *Notifier) handle(ctx context.Context, j job) {
	if j.d != nil {
		n.attempt(ctx, j.d)
		return
	}
	clients, err := n.cfg.Clients.BackchannelClients(ctx)
	if err != nil {
		n.log.ErrorContext(ctx, "back-channel logout: listing the clients failed; the session's clients are not notified",
			"session", j.sess.Handle, "err", err)
		return
	}
	for _, c := range clients {
		raw, err := n.cfg.Records.TakeOnce(ctx, tokens.KindBackchannelClient, tokens.BackchannelKey(j.sess.Handle, c.ID))
		if errors.Is(err, session.ErrNotFound) {
			continue // the client received no tokens in this session
		}
		if err != nil {
			n.log.ErrorContext(ctx, "back-channel logout: reading the session's clients failed", "session", j.sess.Handle,
				"client_id", c.ID, "err", err)
			continue
		}
		user := string(raw)
		if user == "" {
			user = j.sess.UserID
		}
		n.attempt(ctx, &delivery{clientID: c.ID, uri: c.BackchannelLogoutURI, userID: user, sid: j.sess.Handle})
	}
}

// attempt sends d once; a failure schedules the next attempt after the
// backoff, until MaxAttempts.
func (n *Notifier) attempt(ctx context.Context, d *delivery) {
	d.attempts++
	status, err := n.send(ctx, d)
	if err == nil {
		n.log.InfoContext(ctx, "back-channel logout delivered", "client_id", d.clientID, "session", d.sid,
			"attempts", d.attempts)
		return
	}
	if d.attempts >= n.cfg.MaxAttempts {
		n.log.ErrorContext(ctx, "back-channel logout failed; giving up", "client_id", d.clientID, "session", d.sid,
			"attempts", d.attempts, "status", status, "err", err)
		return
	}
	if n.pending.Add(1) > int64(n.cfg.MaxPending) {
		n.pending.Add(-1)
		n.log.ErrorContext(ctx, "back-channel logout failed and too many retries are pending; not retried",
			"client_id", d.clientID, "session", d.sid, "status", status, "err", err)
		return
	}
	wait := n.cfg.Backoff(d.attempts)
	n.log.WarnContext(ctx, "back-channel logout failed; will retry", "client_id", d.clientID, "session", d.sid,
		"attempts", d.attempts, "retry_in", wait.Round(time.Millisecond), "status", status, "err", err)
	time.AfterFunc(wait, func() {
		defer n.pending.Add(-1)
		select {
		case <-ctx.Done():
		case n.queue <- job{d: d}:
		}
	})
}

// send POSTs a fresh logout token (§2.5): 200 or 204 is delivered.
func (n *Notifier) send(ctx context.Context, d *delivery) (int, error) {
	tok, err := n.cfg.Tokens.LogoutToken(d.clientID, d.userID, d.sid)
	if err != nil {
		return 0, fmt.Errorf("minting the logout token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.uri,
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return 0, fmt.Errorf("the client's backchannel_logout_uri: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := n.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return resp.StatusCode, fmt.Errorf("the client answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

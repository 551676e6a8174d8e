// Package backchannel sends OpenID Connect Back-Channel Logout 1.0 logout
// tokens (docs/logout.md). It is the session.EndListener the broker wraps
// its session store with: whatever ends a browser session (the broker's
// sign-out, RP-initiated logout, SAML Single Logout, deprovisioning) goes
// through the store, and the store reports it here. For each ended session
// and each client with a backchannel_logout_uri that received tokens in it
// (tokens.KindBackchannelClient records, taken once), a delivery is queued
// in the directory (directory.SQLStore's back-channel outbox), and every
// replica's Notifier claims due deliveries, POSTs a freshly minted logout
// token, and records the outcome: a delivery survives a restart and is
// sent by whichever replica is up. The user's page never waits for a
// client.
package backchannel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
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

// Outbox is the durable queue of deliveries (*directory.SQLStore).
type Outbox interface {
	EnqueueBackchannelLogouts(ctx context.Context, now time.Time, ls []directory.BackchannelLogout) (int, error)
	ClaimBackchannelLogouts(ctx context.Context, c directory.BackchannelClaim) ([]directory.BackchannelJob, error)
	RecordBackchannelAttempt(ctx context.Context, owner, id string, a directory.BackchannelAttempt) (bool, error)
	PruneBackchannelLogouts(ctx context.Context, before time.Time) (int, error)
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
	DefaultRetryFor    = time.Hour
	DefaultQueue       = 4096
	DefaultWorkers     = 4
	DefaultSenders     = 16
	DefaultTimeout     = 5 * time.Second
	DefaultPoll        = time.Second
	DefaultRetention   = 7 * 24 * time.Hour
)

// Config configures a Notifier. Clients, Outbox, Records, Tokens and
// HTTPClient are required.
type Config struct {
	Clients Clients
	Outbox  Outbox
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
	// minutes of retries), and RetryFor its age (default 1 h: a delivery
	// left pending by replicas that were down is not sent later than that).
	MaxAttempts int
	RetryFor    time.Duration
	// Queue bounds the ended sessions waiting to be queued in the outbox
	// (default 4096); beyond it an ended session's notices are dropped and
	// logged.
	Queue int
	// Workers is how many ended sessions are queued at once (default 4),
	// and Senders how many deliveries are sent at once (default 16).
	Workers, Senders int
	// Timeout bounds one attempt (default 5 s); a claimed delivery is this
	// replica's for Timeout + 5 s, then any replica's again.
	Timeout time.Duration
	// Poll is how often the outbox is read without being woken (default
	// 1 s): retries and deliveries queued by other replicas.
	Poll time.Duration
	// Retention is how long failed deliveries stay in the outbox for the
	// operator (default 7 days).
	Retention time.Duration
	// Now returns the current time; nil is time.Now.
	Now func() time.Time
}

// Notifier is a session.EndListener that delivers logout tokens. Run it.
type Notifier struct {
	cfg   Config
	log   *slog.Logger
	owner string
	queue chan session.Session
	wake  chan struct{}
}

var _ session.EndListener = (*Notifier)(nil)

// New returns a Notifier, or an error naming what is missing.
func New(cfg Config) (*Notifier, error) {
	var missing []string
	if cfg.Clients == nil {
		missing = append(missing, "Clients")
	}
	if cfg.Outbox == nil {
		missing = append(missing, "Outbox")
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	positive := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	positive(&cfg.MaxAttempts, DefaultMaxAttempts)
	positive(&cfg.Queue, DefaultQueue)
	positive(&cfg.Workers, DefaultWorkers)
	positive(&cfg.Senders, DefaultSenders)
	long := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	long(&cfg.RetryFor, DefaultRetryFor)
	long(&cfg.Timeout, DefaultTimeout)
	long(&cfg.Poll, DefaultPoll)
	long(&cfg.Retention, DefaultRetention)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Notifier{cfg: cfg, log: cfg.Logger, owner: "bcl_" + hex.EncodeToString(b),
		queue: make(chan session.Session, cfg.Queue), wake: make(chan struct{}, 1)}, nil
}

// SessionsEnded hands the ended sessions to the workers that queue their
// deliveries, and returns at once; with the hand-off queue full they are
// dropped and logged (their clients then learn of the end only when their
// tokens expire).
func (n *Notifier) SessionsEnded(ctx context.Context, ended []session.Session) {
	for _, s := range ended {
		select {
		case n.queue <- s:
		default:
			n.log.ErrorContext(ctx, "back-channel logout queue full; the session's clients are not notified",
				"session", s.Handle, "user", s.UserID)
		}
	}
}

// Run queues ended sessions' deliveries and sends due deliveries until ctx
// ends. Then it queues the ended sessions already handed to it (for at
// most a few seconds), waits for the attempts in flight and returns nil;
// pending deliveries stay in the outbox for any replica.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range n.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					n.drain()
					return
				case s := <-n.queue:
					n.enqueue(ctx, s)
				}
			}
		}()
	}
	n.send(ctx)
	wg.Wait()
	return nil
}

// drain queues the sessions still handed over when Run stops, so that a
// clean stop loses none.
func (n *Notifier) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case s := <-n.queue:
			n.enqueue(ctx, s)
		default:
			return
		}
	}
}

func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// enqueue takes the client records of the ended session s and queues one
// delivery per client that received tokens in it.
func (n *Notifier) enqueue(ctx context.Context, s session.Session) {
	clients, err := n.cfg.Clients.BackchannelClients(ctx)
	if err != nil {
		n.log.ErrorContext(ctx, "back-channel logout: listing the clients failed; the session's clients are not notified",
			"session", s.Handle, "err", err)
		return
	}
	var ls []directory.BackchannelLogout
	for _, c := range clients {
		raw, err := n.cfg.Records.TakeOnce(ctx, tokens.KindBackchannelClient, tokens.BackchannelKey(s.Handle, c.ID))
		if errors.Is(err, session.ErrNotFound) {
			continue // the client received no tokens in this session
		}
		if err != nil {
			n.log.ErrorContext(ctx, "back-channel logout: reading the session's clients failed", "session", s.Handle,
				"client_id", c.ID, "err", err)
			continue
		}
		user := string(raw)
		if user == "" {
			user = s.UserID
		}
		ls = append(ls, directory.BackchannelLogout{ClientID: c.ID, UserID: user, SID: s.Handle})
	}
	if len(ls) == 0 {
		return
	}
	if _, err := n.cfg.Outbox.EnqueueBackchannelLogouts(ctx, n.cfg.Now(), ls); err != nil {
		n.log.ErrorContext(ctx, "back-channel logout: queueing the deliveries failed; the session's clients are not notified",
			"session", s.Handle, "clients", len(ls), "err", err)
		return
	}
	n.poke()
}

// send claims and sends due deliveries until ctx ends, then waits for the
// attempts in flight.
func (n *Notifier) send(ctx context.Context) {
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	free := make(chan struct{}, n.cfg.Senders)
	for range n.cfg.Senders {
		free <- struct{}{}
	}
	tick := time.NewTicker(n.cfg.Poll)
	defer tick.Stop()
	var lastPrune time.Time
	for {
		if now := n.cfg.Now(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			if k, err := n.cfg.Outbox.PruneBackchannelLogouts(ctx, now.Add(-n.cfg.Retention)); err != nil && ctx.Err() == nil {
				n.log.WarnContext(ctx, "back-channel logout: pruning failed deliveries failed", "err", err)
			} else if k > 0 {
				n.log.InfoContext(ctx, "back-channel logout: pruned failed deliveries", "count", k)
			}
		}
		n.round(ctx, free, &inFlight)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.wake:
		}
	}
}

// round claims as many due deliveries as there are free senders and starts
// them.
func (n *Notifier) round(ctx context.Context, free chan struct{}, inFlight *sync.WaitGroup) {
	limit := 0
take:
	for limit < cap(free) {
		select {
		case <-free:
			limit++
		default:
			break take
		}
	}
	release := func(k int) {
		for range k {
			free <- struct{}{}
		}
	}
	if limit == 0 || ctx.Err() != nil {
		release(limit)
		return
	}
	jobs, err := n.cfg.Outbox.ClaimBackchannelLogouts(ctx, directory.BackchannelClaim{Owner: n.owner, Now: n.cfg.Now(),
		Lease: n.cfg.Timeout + 5*time.Second, Limit: limit})
	if err != nil && ctx.Err() == nil {
		n.log.WarnContext(ctx, "back-channel logout: claiming deliveries failed; retrying", "err", err)
	}
	release(limit - len(jobs))
	for _, j := range jobs {
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			n.deliver(context.WithoutCancel(ctx), j)
			free <- struct{}{}
			n.poke() // room for more
		}()
	}
}

// deliver makes one attempt at j, decides what follows and records it. It
// runs to its end even while the Notifier stops, so that a clean stop
// leaves no lease behind.
func (n *Notifier) deliver(ctx context.Context, j directory.BackchannelJob) {
	d := j.Delivery
	status, class, err := n.attempt(ctx, j)
	now := n.cfg.Now()
	a := directory.BackchannelAttempt{At: now, StatusCode: status, ErrorClass: class, NextAttemptAt: now}
	attempts := d.Attempts + 1
	log := []any{"client_id", d.ClientID, "session", d.SID, "delivery", d.ID, "attempts", attempts, "status", status,
		"class", class}
	switch {
	case err == nil:
		a.Status = directory.DeliveryDelivered
		n.log.InfoContext(ctx, "back-channel logout delivered", log...)
	case class == "no_uri" || attempts >= n.cfg.MaxAttempts || now.Sub(d.CreatedAt) >= n.cfg.RetryFor:
		a.Status = directory.DeliveryFailed
		n.log.ErrorContext(ctx, "back-channel logout failed; giving up", append(log, "err", err)...)
	default:
		a.Status = directory.DeliveryPending
		wait := n.cfg.Backoff(attempts)
		a.NextAttemptAt = now.Add(wait)
		n.log.WarnContext(ctx, "back-channel logout failed; will retry", append(log, "retry_in", wait.Round(time.Millisecond),
			"err", err)...)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.cfg.Outbox.RecordBackchannelAttempt(rctx, n.owner, d.ID, a); err != nil {
		n.log.WarnContext(ctx, "back-channel logout: recording an attempt failed; it will be sent again after its lease",
			"delivery", d.ID, "err", err)
	}
}

// attempt POSTs a freshly minted logout token (§2.5) to j's client: 200 or
// 204 is delivered (§2.8). It returns the HTTP status (0 without an
// answer), an error class for the outbox ("" when delivered) and the error.
func (n *Notifier) attempt(ctx context.Context, j directory.BackchannelJob) (int, string, error) {
	d := j.Delivery
	if j.URI == "" {
		return 0, "no_uri", errors.New("the client is gone or no longer has a backchannel_logout_uri")
	}
	tok, err := n.cfg.Tokens.LogoutToken(d.ClientID, d.UserID, d.SID)
	if err != nil {
		return 0, "mint", fmt.Errorf("minting the logout token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URI,
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return 0, "url", fmt.Errorf("the client's backchannel_logout_uri: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := n.cfg.HTTPClient.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return 0, "timeout", err
		}
		return 0, "network", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return resp.StatusCode, "status", fmt.Errorf("the client answered %d", resp.StatusCode)
	}
	return resp.StatusCode, "", nil
}

package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// Sign-in failures become signin.failed events in aggregate
// (docs/webhooks.md, "signin.failed"): anyone can make a sign-in fail, so a
// failure must never be an audit row of its own. A replica counts its
// failures in memory per (connection, reason) and, every tick, writes one
// audit row per pair through the directory, which refuses a second row for
// a pair within the window (and more than
// directory.MaxSignInFailedPerOrgWindow rows for one org): such a count
// stays pending and is written, added to, at a later tick. The memory is
// bounded by MaxPending pairs, and only failures of existing connections
// are counted (the caller adds a failure after the directory kept it).

// FailureStore writes aggregated sign-in failures.
type FailureStore interface {
	RecordSignInFailures(ctx context.Context, f directory.SignInFailures, window time.Duration) (bool, error)
}

// FailureAggregatorConfig configures a FailureAggregator.
type FailureAggregatorConfig struct {
	Store FailureStore
	// Window is the least time between two signin.failed events of one
	// connection and reason (default DefaultFailureWindow).
	Window time.Duration
	// Tick is how often pending counts are written (default 5 s, at most
	// Window).
	Tick time.Duration
	// MaxPending bounds the pairs counted at once (default 10,000); a
	// failure of a new pair beyond it is dropped and logged.
	MaxPending int
	Logger     *slog.Logger
}

// DefaultFailureWindow is the default aggregation window of signin.failed.
const DefaultFailureWindow = time.Minute

type failureKey struct{ conn, reason string }

// FailureAggregator counts sign-in failures and writes them as
// signin.failed audit rows.
type FailureAggregator struct {
	cfg     FailureAggregatorConfig
	mu      sync.Mutex
	pending map[failureKey]*directory.SignInFailures
	// written holds the pairs this replica wrote, until their window ends:
	// no attempt is made for them before (another replica's row makes the
	// directory refuse an attempt; that costs one transaction per tick).
	written map[failureKey]time.Time
	dropped int64
	now     func() time.Time
}

// NewFailureAggregator checks cfg and applies its defaults.
func NewFailureAggregator(cfg FailureAggregatorConfig) (*FailureAggregator, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhooks: a failure aggregator needs a store")
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultFailureWindow
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 5 * time.Second
	}
	cfg.Tick = min(cfg.Tick, cfg.Window)
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &FailureAggregator{cfg: cfg, pending: map[failureKey]*directory.SignInFailures{},
		written: map[failureKey]time.Time{}, now: time.Now}, nil
}

// Add counts one failed sign-in through connection connID.
func (a *FailureAggregator) Add(connID, reason, cause string, at time.Time) {
	if connID == "" || reason == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := failureKey{connID, reason}
	p := a.pending[k]
	if p == nil {
		if len(a.pending) >= a.cfg.MaxPending {
			a.dropped++
			return
		}
		p = &directory.SignInFailures{ConnectionID: connID, Reason: reason, First: at}
		a.pending[k] = p
	}
	p.Count++
	p.Cause = cause
	if at.After(p.Last) {
		p.Last = at
	}
	if at.Before(p.First) {
		p.First = at
	}
}

// Flush writes every pending count the directory accepts now and keeps the
// others. It returns how many rows it wrote.
func (a *FailureAggregator) Flush(ctx context.Context) (int, error) {
	now := a.now()
	a.mu.Lock()
	batch := map[failureKey]*directory.SignInFailures{}
	for k, p := range a.pending {
		if until, ok := a.written[k]; ok && now.Before(until) {
			continue
		}
		delete(a.written, k)
		batch[k] = p
		delete(a.pending, k)
	}
	for k, until := range a.written {
		if !now.Before(until) {
			delete(a.written, k)
		}
	}
	dropped := a.dropped
	a.dropped = 0
	a.mu.Unlock()
	if dropped > 0 {
		a.cfg.Logger.WarnContext(ctx, "sign-in failures not counted for signin.failed events: too many connection and reason pairs pending",
			"dropped", dropped, "max_pending", a.cfg.MaxPending)
	}
	var errs []error
	wrote := 0
	for k, p := range batch {
		ok, err := a.cfg.Store.RecordSignInFailures(ctx, *p, a.cfg.Window)
		switch {
		case errors.Is(err, directory.ErrNotFound):
			continue // the connection is gone: nobody to tell
		case err != nil:
			errs = append(errs, err)
			a.keep(k, p)
		case ok:
			wrote++
			a.mu.Lock()
			a.written[k] = now.Add(a.cfg.Window)
			a.mu.Unlock()
		default:
			a.keep(k, p)
		}
	}
	if len(errs) > 0 {
		return wrote, fmt.Errorf("writing signin.failed events: %w", errors.Join(errs...))
	}
	return wrote, nil
}

// keep puts an unwritten count back, merged with what arrived meanwhile.
func (a *FailureAggregator) keep(k failureKey, p *directory.SignInFailures) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if q := a.pending[k]; q != nil {
		q.Count += p.Count
		if p.First.Before(q.First) {
			q.First = p.First
		}
		if p.Last.After(q.Last) {
			q.Last, q.Cause = p.Last, p.Cause
		}
		return
	}
	a.pending[k] = p
}

// Run flushes every tick until ctx ends, then once more (bounded by 5 s)
// so that a clean shutdown writes what it counted.
func (a *FailureAggregator) Run(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := a.Flush(fctx); err != nil {
				a.cfg.Logger.WarnContext(fctx, "signin.failed events at shutdown", "err", err)
			}
			return ctx.Err()
		case <-t.C:
			if _, err := a.Flush(ctx); err != nil && ctx.Err() == nil {
				a.cfg.Logger.WarnContext(ctx, "signin.failed events", "err", err)
			}
		}
	}
}

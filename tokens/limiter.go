package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

// Defaults of the failed-authentication limits (IssuerConfig).
const (
	DefaultFailedAuthLimit       = 10
	DefaultFailedAuthSourceLimit = 100
	DefaultFailedAuthWindow      = time.Minute
)

// FailureCounter counts failed client authentications in fixed windows;
// session.Store satisfies it (Redis shares the counts between replicas).
type FailureCounter interface {
	Count(ctx context.Context, kind session.Kind, key string, window time.Duration) (n int64, resetIn time.Duration, err error)
}

// evictionReporter is implemented by counters that may forget counts when
// full (session.Memory).
type evictionReporter interface {
	CounterEvictions() uint64
}

// failureLimiter slows down failed client authentications; it never
// refuses a correct secret. The secret is always checked first: a request
// that authenticates succeeds whatever the counts (the limiter is not even
// consulted). A failed authentication counts against (source, client) and
// against the source alone in fixed windows; past perClient failures of the
// pair, or perSource failures of the source, in the window, further failures
// are answered 429 temporarily_unavailable with Retry-After (the end of the
// window) instead of 401 invalid_client. Because the key includes the
// source (session.Sources), failures from an attacker's address never
// touch the budget of the client's own address; because the secret is
// checked first, even they cannot lock a client out. See docs/security.md
// ("Abuse resistance: client authentication and revocation").
//
// Counts go to shared (the session store, shared between replicas with
// Redis). When shared cannot count (Redis down), the failure is counted in
// a bounded table in this process instead, a warning is logged (at most
// once a minute) and Stats().CountErrors grows: the limiter never stops
// counting silently. Tables that evict the oldest counters when full
// (session.Memory, the local fallback) are watched the same way.
type failureLimiter struct {
	shared    FailureCounter // nil: the local table only
	local     *session.LocalCounters
	perClient int64
	perSource int64
	window    time.Duration
	now       func() time.Time
	log       *slog.Logger

	throttled   atomic.Uint64
	countErrors atomic.Uint64
	// seenEvictions is the eviction total last reported, per table.
	seenShared, seenLocal atomic.Uint64
	warnMu                sync.Mutex
	lastWarn              map[string]time.Time
}

// LimiterStats are the failure limiter's counters since start, for metrics.
type LimiterStats struct {
	// Throttled counts failed authentications answered 429.
	Throttled uint64
	// CountErrors counts failures the shared store could not count (they
	// were counted in this process instead).
	CountErrors uint64
	// Evictions counts counters dropped early because a table was full
	// (the in-process session store's and the local fallback's).
	Evictions uint64
}

func newFailureLimiter(shared FailureCounter, perClient, perSource int, window time.Duration, maxLocal int,
	now func() time.Time, log *slog.Logger) *failureLimiter {
	return &failureLimiter{shared: shared, local: session.NewLocalCounters(maxLocal), perClient: int64(perClient),
		perSource: int64(perSource), window: window, now: now, log: log, lastWarn: map[string]time.Time{}}
}

// Stats returns the limiter's counters.
func (l *failureLimiter) Stats() LimiterStats {
	s := LimiterStats{Throttled: l.throttled.Load(), CountErrors: l.countErrors.Load(), Evictions: l.local.Evictions()}
	if er, ok := l.shared.(evictionReporter); ok {
		s.Evictions += er.CounterEvictions()
	}
	return s
}

// failed records a failed authentication of clientID from source and
// returns how long until failures from there are answered normally again,
// or 0 when this one is answered normally.
func (l *failureLimiter) failed(ctx context.Context, source, clientID string) time.Duration {
	if source == "" {
		source = "unknown"
	}
	// Count even when the client hangs up: the attempt was made.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	pair, reset := l.count(ctx, session.KindFailedAuth, source+" "+boundedID(clientID))
	var wait time.Duration
	if pair > l.perClient {
		wait = reset
	}
	all, reset := l.count(ctx, session.KindFailedAuthSource, source)
	if all > l.perSource {
		wait = max(wait, reset)
	}
	l.reportEvictions()
	if wait > 0 {
		l.throttled.Add(1)
	}
	return wait
}

// count counts in the shared store, or locally when it fails or is absent.
func (l *failureLimiter) count(ctx context.Context, kind session.Kind, key string) (int64, time.Duration) {
	if l.shared != nil {
		n, reset, err := l.shared.Count(ctx, kind, key, l.window)
		if err == nil {
			return n, reset
		}
		l.countErrors.Add(1)
		l.warn("count", "failed client authentications cannot be counted in the session store; counting in this process only",
			"err", err, "count_errors", l.countErrors.Load())
	}
	n, reset, err := l.local.Count(kind, key, l.window, l.now())
	if err != nil { // only for a malformed key, which boundedID rules out
		l.log.Error("failed client authentication not counted", "err", err)
		return 0, 0
	}
	return n, reset
}

// reportEvictions logs when a counter table forgot counts because it was full.
func (l *failureLimiter) reportEvictions() {
	check := func(name string, seen *atomic.Uint64, total uint64) {
		if prev := seen.Swap(total); total > prev {
			l.warn("evict-"+name, "failure counter table full: the oldest counters were evicted, so some failures are forgotten early",
				"table", name, "evictions", total)
		}
	}
	if er, ok := l.shared.(evictionReporter); ok {
		check("session store", &l.seenShared, er.CounterEvictions())
	}
	check("local", &l.seenLocal, l.local.Evictions())
}

// warn logs at most once a minute per topic: an attack must not flood the log.
func (l *failureLimiter) warn(topic, msg string, args ...any) {
	now := time.Now()
	l.warnMu.Lock()
	last, ok := l.lastWarn[topic]
	if ok && now.Sub(last) < time.Minute {
		l.warnMu.Unlock()
		return
	}
	l.lastWarn[topic] = now
	l.warnMu.Unlock()
	l.log.Warn(msg, args...)
}

// boundedID keeps a client_id short enough for a counter key: long ones
// (never a real client's) are replaced by their hash.
func boundedID(id string) string {
	if len(id) <= 128 {
		return id
	}
	h := sha256.Sum256([]byte(id))
	return "#" + hex.EncodeToString(h[:])
}

// authFailure marks an invalid_client answer that counts as a failed
// authentication of clientID; Issuer.Throttle counts it and may turn it into a
// 429.
type authFailure struct {
	clientID string
	err      *Error
}

func (a *authFailure) Error() string { return a.err.Error() }

// Unwrap returns the OAuth error to answer when the client is not throttled.
func (a *authFailure) Unwrap() error { return a.err }

// failedAuth returns err marked as a counted authentication failure.
func failedAuth(clientID string, err *Error) error { return &authFailure{clientID: clientID, err: err} }

// errThrottled is the answer to a failed authentication past the limits.
func errThrottled(wait time.Duration, cause error) *Error {
	return &Error{Code: CodeTemporarilyUnavailable, RetryAfter: wait,
		Description: "too many failed authentication attempts; retry later", Cause: fmt.Errorf("%w: %w", ErrThrottled, cause)}
}

// Throttle counts err against source (session.Sources) when it is a failed
// client authentication, and returns the answer to send: err itself, or,
// past the failure limits, a temporarily_unavailable *Error wrapping
// ErrThrottled with RetryAfter set. Every endpoint that authenticates
// clients calls it with its error before answering.
func (i *Issuer) Throttle(ctx context.Context, source string, err error) error {
	var af *authFailure
	if !errors.As(err, &af) {
		return err
	}
	if wait := i.limiter.failed(ctx, source, af.clientID); wait > 0 {
		return errThrottled(wait, af)
	}
	return err
}

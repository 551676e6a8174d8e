package tokens

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

// Sources of the tests, sent in X-Forwarded-For through a trusted loopback
// proxy.
const (
	attackerIP = "203.0.113.9"
	clientIP   = "198.51.100.7"
)

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
// says, in the log, why it failed (package tokens/oauth's
// TestThrottledAnswerIs429 checks the status it is sent with).
func TestThrottledAnswerKeepsTheCause(t *testing.T) {
	err := errThrottled(time.Second, failedAuth("cli_x", errInvalidClient(errors.New("wrong client secret"))))
	if !strings.Contains(err.Error(), "wrong client secret") || !errors.Is(err, ErrThrottled) || asOAuth(err).Code != CodeTemporarilyUnavailable {
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

package session_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

// TestMemoryCountersFull: a full counter table evicts the oldest window and
// counts the new key (it never stops counting, and never fails), and says
// how many it evicted.
func TestMemoryCountersFull(t *testing.T) {
	m := session.NewMemory(session.Options{MaxCounters: 3, MaxEntries: 1})
	t.Cleanup(func() { _ = m.Close() })
	ctx := context.Background()
	// The record table being full does not stop counting: counters have their own bound.
	if err := m.PutOnce(ctx, session.KindAuthCode, "fills", nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		for range 2 {
			if _, _, err := m.Count(ctx, session.KindFailedAuth, fmt.Sprint("k", i), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	if m.CounterEvictions() != 0 {
		t.Fatalf("evictions %d before the table was full", m.CounterEvictions())
	}
	n, _, err := m.Count(ctx, session.KindFailedAuth, "new", time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("new key when full: %d %v", n, err)
	}
	if n, _, _ := m.Count(ctx, session.KindFailedAuth, "new", time.Minute); n != 2 {
		t.Fatalf("the new key is not tracked: %d", n)
	}
	if m.CounterEvictions() != 1 {
		t.Fatalf("evictions %d, want 1", m.CounterEvictions())
	}
	// The oldest window (k0) was the one evicted; k2 was kept.
	if n, _, _ := m.Count(ctx, session.KindFailedAuth, "k2", time.Minute); n != 3 {
		t.Fatalf("k2 counted %d, want 3 (kept)", n)
	}
	if n, _, _ := m.Count(ctx, session.KindFailedAuth, "k0", time.Minute); n != 1 {
		t.Fatalf("k0 counted %d, want 1 (evicted, started over)", n)
	}
}

// TestLocalCountersDropEndedWindowsFirst: when full, counters whose window
// ended go before any live one is evicted.
func TestLocalCountersDropEndedWindowsFirst(t *testing.T) {
	c := session.NewLocalCounters(2)
	t0 := time.Now()
	if _, _, err := c.Count(session.KindFailedAuth, "live", time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Count(session.KindFailedAuth, "short", time.Second, t0.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Second)
	if n, _, _ := c.Count(session.KindFailedAuth, "new", time.Hour, later); n != 1 {
		t.Fatalf("new: %d", n)
	}
	if c.Evictions() != 0 || c.Len() != 2 {
		t.Fatalf("evictions %d, len %d: a live counter was evicted while an ended one was there", c.Evictions(), c.Len())
	}
	if n, reset, _ := c.Count(session.KindFailedAuth, "live", time.Hour, later); n != 2 || reset != time.Hour-2*time.Second {
		t.Fatalf("live: %d, reset %v", n, reset)
	}
}

// TestRedisCountOutage: Count reports ErrUnavailable when Redis is gone.
func TestRedisCountOutage(t *testing.T) {
	t.Parallel()
	srv := sessiontest.StartRedis(t)
	s := sessiontest.OpenRedis(t, srv.URL(), session.Options{})
	ctx := context.Background()
	if n, _, err := s.Count(ctx, session.KindFailedAuth, "k", time.Minute); err != nil || n != 1 {
		t.Fatalf("count: %d %v", n, err)
	}
	srv.Stop()
	c, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, _, err := s.Count(c, session.KindFailedAuth, "k", time.Minute); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("count during an outage: %v", err)
	}
	if _, err := s.RevokeSessionFamilies(c, "usr_x", "sid", true); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("revoke session families during an outage: %v", err)
	}
}

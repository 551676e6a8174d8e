package session

import (
	"container/list"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxCounters bounds LocalCounters and Memory's counters when
// Options.MaxCounters is zero.
const DefaultMaxCounters = 100_000

// LocalCounters is a bounded table of fixed-window counters in this
// process: what Memory.Count uses, and what a caller of a shared Store
// falls back on while the shared store cannot count. It never refuses to
// count: when the table holds max counters, windows that have ended are
// dropped, then the counter whose window started first is evicted, and the
// eviction is counted (Evictions) so that the caller can report it. It is
// safe for concurrent use.
type LocalCounters struct {
	max       int
	evictions atomic.Uint64

	mu    sync.Mutex
	byKey map[counterKey]*list.Element // of *localCounter
	order list.List                    // window start order, oldest first
}

type counterKey struct {
	kind Kind
	key  [32]byte
}

type localCounter struct {
	k       counterKey
	n       int64
	expires time.Time
}

// NewLocalCounters returns an empty table of at most max counters
// (DefaultMaxCounters when max <= 0).
func NewLocalCounters(max int) *LocalCounters {
	if max <= 0 {
		max = DefaultMaxCounters
	}
	return &LocalCounters{max: max, byKey: make(map[counterKey]*list.Element)}
}

// Count adds one to the counter of (kind, key) in its current window and
// returns the new value and the time until the window ends. A counter
// whose window has ended starts a new one of length window at 1. ErrInvalid
// for a malformed kind, an empty or oversized key, or window < 1 ms.
func (c *LocalCounters) Count(kind Kind, key string, window time.Duration, t time.Time) (int64, time.Duration, error) {
	if err := checkKey(kind, key); err != nil {
		return 0, 0, err
	}
	if window < time.Millisecond {
		return 0, 0, fmt.Errorf("%w: window must be at least 1ms", ErrInvalid)
	}
	k := counterKey{kind: kind, key: digest(key)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[k]; e != nil {
		lc := e.Value.(*localCounter)
		if t.Before(lc.expires) {
			lc.n++
			return lc.n, lc.expires.Sub(t), nil
		}
		c.remove(e)
	}
	if len(c.byKey) >= c.max {
		c.sweep(t)
	}
	for len(c.byKey) >= c.max {
		c.remove(c.order.Front())
		c.evictions.Add(1)
	}
	lc := &localCounter{k: k, n: 1, expires: t.Add(window)}
	c.byKey[k] = c.order.PushBack(lc)
	return 1, window, nil
}

// Evictions returns how many live counters were dropped because the table
// was full since it was made.
func (c *LocalCounters) Evictions() uint64 { return c.evictions.Load() }

// Len returns how many counters the table holds.
func (c *LocalCounters) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}

// Sweep drops the counters whose window has ended at t.
func (c *LocalCounters) Sweep(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(t)
}

func (c *LocalCounters) sweep(t time.Time) {
	for e := c.order.Front(); e != nil; {
		next := e.Next()
		if !t.Before(e.Value.(*localCounter).expires) {
			c.remove(e)
		}
		e = next
	}
}

func (c *LocalCounters) remove(e *list.Element) {
	delete(c.byKey, e.Value.(*localCounter).k)
	c.order.Remove(e)
}

func (c *LocalCounters) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.byKey)
	c.order.Init()
}

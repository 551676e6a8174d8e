package tokens

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"sync/atomic"
	"time"
)

// failureLimiter throttles failed client authentications per client_id with
// a token bucket: Burst failures at once, refilled one per Refill. When a
// client's bucket is empty its requests are refused with 429 and a
// Retry-After before any credential lookup, so guessing costs the store
// nothing. Successful requests touch it only with one map lookup.
//
// A client_id is not secret, so anyone can empty a client's bucket. To keep
// that from locking out the real client, a secret that succeeded for the
// client since its bucket was created passes even while the bucket is empty.
type failureLimiter struct {
	burst   float64
	refill  time.Duration
	now     func() time.Time
	max     int64
	n       atomic.Int64
	clients sync.Map // client_id → *failureBucket
}

type failureBucket struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	good    [sha256.Size]byte
	hasGood bool
}

func newFailureLimiter(burst int, refill time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{burst: float64(burst), refill: refill, now: now, max: defaultFailedAuthClientCap}
}

func (b *failureBucket) refillAt(l *failureLimiter, now time.Time) {
	if l.refill <= 0 {
		b.tokens = l.burst
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.refill))
	}
	b.last = now
}

// wait returns how long until the bucket holds a whole token again.
func (b *failureBucket) wait(l *failureLimiter) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.refill))
}

// blocked returns how long clientID must wait before its next attempt, or 0
// when it may try now.
func (l *failureLimiter) blocked(clientID, secret string) time.Duration {
	v, ok := l.clients.Load(clientID)
	if !ok {
		return 0
	}
	b := v.(*failureBucket)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillAt(l, l.now())
	w := b.wait(l)
	if w > 0 && b.hasGood {
		h := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(h[:], b.good[:]) == 1 {
			return 0
		}
	}
	return w
}

// failed records a failed attempt.
func (l *failureLimiter) failed(clientID string) {
	v, ok := l.clients.Load(clientID)
	if !ok {
		if l.n.Load() >= l.max {
			l.sweep()
			if l.n.Load() >= l.max {
				return // fail open rather than grow without bound
			}
		}
		var loaded bool
		v, loaded = l.clients.LoadOrStore(clientID, &failureBucket{tokens: l.burst, last: l.now()})
		if !loaded {
			l.n.Add(1)
		}
	}
	b := v.(*failureBucket)
	b.mu.Lock()
	b.refillAt(l, l.now())
	b.tokens = max(b.tokens-1, 0)
	b.mu.Unlock()
}

// succeeded remembers secret as good for clientID when the client is tracked.
func (l *failureLimiter) succeeded(clientID, secret string) {
	v, ok := l.clients.Load(clientID)
	if !ok {
		return
	}
	b := v.(*failureBucket)
	h := sha256.Sum256([]byte(secret))
	b.mu.Lock()
	b.good, b.hasGood = h, true
	b.mu.Unlock()
}

// sweep forgets clients whose bucket has refilled.
func (l *failureLimiter) sweep() {
	now := l.now()
	l.clients.Range(func(k, v any) bool {
		b := v.(*failureBucket)
		b.mu.Lock()
		b.refillAt(l, now)
		full := b.tokens >= l.burst
		b.mu.Unlock()
		if full {
			l.clients.Delete(k)
			l.n.Add(-1)
		}
		return true
	})
}

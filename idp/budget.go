package idp

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sourceBudget is a token bucket per network source (session.Sources),
// kept in a table of at most max sources: when it is full, the source used
// least recently is forgotten (it starts again with a full bucket). One
// source therefore cannot crowd the others out, and the table's memory is
// bounded whatever the number of sources. It is per process: it bounds this
// process's CPU.
type sourceBudget struct {
	limit rate.Limit
	burst int
	max   int
	now   func() time.Time

	mu    sync.Mutex
	order *list.List // of *sourceEntry, most recently used first
	byKey map[string]*list.Element
}

type sourceEntry struct {
	key string
	lim *rate.Limiter
}

// newSourceBudget allows perMinute events a minute per source, burst at
// once, for at most max sources at a time.
func newSourceBudget(perMinute, burst, max int, now func() time.Time) *sourceBudget {
	return &sourceBudget{limit: rate.Limit(float64(perMinute) / 60), burst: burst, max: max, now: now,
		order: list.New(), byKey: make(map[string]*list.Element)}
}

// allow spends one event of source's budget and reports whether it had one.
func (b *sourceBudget) allow(source string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var e *sourceEntry
	if el, ok := b.byKey[source]; ok {
		b.order.MoveToFront(el)
		e = el.Value.(*sourceEntry)
	} else {
		if b.order.Len() >= b.max {
			oldest := b.order.Back()
			b.order.Remove(oldest)
			delete(b.byKey, oldest.Value.(*sourceEntry).key)
		}
		e = &sourceEntry{key: source, lim: rate.NewLimiter(b.limit, b.burst)}
		b.byKey[source] = b.order.PushFront(e)
	}
	return e.lim.AllowN(b.now(), 1)
}

// size is the number of sources tracked.
func (b *sourceBudget) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
}

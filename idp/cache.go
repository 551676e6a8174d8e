package idp

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// connectorCache keeps one built connector per connection id, so discovery
// and metadata fetching happen once, not at every login.
//
// Correctness does not depend on change notifications: every use passes the
// connection as just read from the directory, and an entry built from
// another configuration (fingerprint) is rebuilt. Directory notifications
// (Subscribe) only trigger a sweep that drops entries of connections that
// were deleted, disabled or changed, so their secrets leave memory soon.
//
// A connector older than maxAge is refreshed in the background while the
// old one keeps serving; when the refresh fails (the IdP's discovery
// document or metadata URL is down), the last good connector stays and the
// refresh is tried again after retryAfter.
type connectorCache struct {
	maxAge time.Duration
	// retryAfter is how long a failed build is answered from the cache, so
	// that unauthenticated requests cannot make the broker hammer an IdP
	// that is down or misconfigured.
	retryAfter time.Duration
	now        func() time.Time
	// refreshFailed is told when a background refresh fails (nil: ignored).
	refreshFailed func(id string, err error)

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	fingerprint [32]byte
	built       time.Time
	lastUsed    time.Time
	ready       chan struct{} // closed when conn/err are first set
	refreshing  bool
	// conn and err are guarded by the cache's mu.
	conn Connector
	err  error
}

func newConnectorCache(maxAge time.Duration, now func() time.Time) *connectorCache {
	return &connectorCache{maxAge: maxAge, retryAfter: 5 * time.Second, now: now, entries: map[string]*cacheEntry{}}
}

// fingerprint identifies the configuration a connector was built from.
func fingerprint(c directory.Connection) [32]byte {
	h := sha256.New()
	h.Write([]byte(c.Type))
	h.Write([]byte{0})
	h.Write([]byte(c.OrgID))
	h.Write([]byte{0})
	h.Write(c.Config)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// get returns the connector for c, building it with build when there is
// none for c's current configuration. Concurrent callers for one connection
// share one build. A failed build is answered for retryAfter, then tried
// again. A good connector older than maxAge is returned while a background
// build replaces it.
func (cc *connectorCache) get(ctx context.Context, c directory.Connection, build func(context.Context) (Connector, error)) (Connector, error) {
	fp := fingerprint(c)
	now := cc.now()
	cc.mu.Lock()
	e, ok := cc.entries[c.ID]
	if ok && e.fingerprint != fp {
		ok = false
	}
	if ok && isDone(e.ready) {
		switch {
		case e.err != nil && now.Sub(e.built) > cc.retryAfter:
			ok = false
		case e.err == nil && now.Sub(e.built) > cc.maxAge && !e.refreshing:
			e.refreshing = true
			go cc.refresh(ctx, c.ID, e, build)
		}
	}
	if !ok {
		e = &cacheEntry{fingerprint: fp, built: now, ready: make(chan struct{})}
		cc.entries[c.ID] = e
		go cc.build(ctx, e, build)
	}
	e.lastUsed = now
	cc.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return e.conn, e.err
}

// build runs outside the caller's cancellation, so that a browser giving up
// does not fail the other logins waiting for the same connector.
func (cc *connectorCache) build(ctx context.Context, e *cacheEntry, build func(context.Context) (Connector, error)) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), upstreamTimeout)
	defer cancel()
	conn, err := build(bctx)
	cc.mu.Lock()
	e.conn, e.err = conn, err
	if err != nil {
		e.built = cc.now() // the pause before a retry starts now
	}
	cc.mu.Unlock()
	close(e.ready)
}

// refresh rebuilds the good connector of entry e; on failure e keeps its
// connector and is refreshed again after retryAfter.
func (cc *connectorCache) refresh(ctx context.Context, id string, e *cacheEntry, build func(context.Context) (Connector, error)) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), upstreamTimeout)
	defer cancel()
	conn, err := build(bctx)
	cc.mu.Lock()
	e.refreshing = false
	if err != nil {
		e.built = cc.now().Add(cc.retryAfter - cc.maxAge)
	} else {
		e.conn, e.built = conn, cc.now()
	}
	cc.mu.Unlock()
	if err != nil && cc.refreshFailed != nil {
		cc.refreshFailed(id, err)
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ids lists the cached connection ids with their fingerprints.
func (cc *connectorCache) snapshot() map[string][32]byte {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	out := make(map[string][32]byte, len(cc.entries))
	for id, e := range cc.entries {
		out[id] = e.fingerprint
	}
	return out
}

// drop removes the entry of id if it still has fingerprint fp.
func (cc *connectorCache) drop(id string, fp [32]byte) {
	cc.mu.Lock()
	if e, ok := cc.entries[id]; ok && e.fingerprint == fp {
		delete(cc.entries, id)
	}
	cc.mu.Unlock()
}

// idleFactor × maxAge is how long an unused entry is kept: long past its
// refresh, so that a connector whose IdP is down at the next login is still
// there to be used.
const idleFactor = 24

// dropIdle removes entries unused for longer than idleFactor × maxAge.
func (cc *connectorCache) dropIdle() {
	now := cc.now()
	cc.mu.Lock()
	for id, e := range cc.entries {
		if isDone(e.ready) && now.Sub(e.lastUsed) > idleFactor*cc.maxAge {
			delete(cc.entries, id)
		}
	}
	cc.mu.Unlock()
}

// len reports how many connectors are cached.
func (cc *connectorCache) len() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.entries)
}

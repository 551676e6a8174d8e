package session

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is the in-process Store for a single machine (the embedded
// default). Its contents are lost on restart: users sign in again.
//
// Memory is bounded: it holds at most Options.MaxEntries records and about
// Options.MaxBytes bytes; beyond that writes fail with an error matching both
// ErrFull and ErrUnavailable (fail closed, answered as 503) instead of growing
// without limit when someone floods the login endpoints. Reads, deletes and
// rotations of existing families never fail for that reason. Expired records
// are dropped when touched, by a background sweep every
// Options.SweepInterval, and at most once a second when the store is full.
type Memory struct {
	opts Options

	mu           sync.Mutex
	closed       bool
	sessions     map[[32]byte]*memSession
	userSessions map[string]map[[32]byte]struct{}
	records      map[recordKey]*memRecord
	families     map[string]*memFamily
	userFamilies map[string]map[string]struct{}
	tags         map[recordKey]map[string]time.Time // tagged.go
	counters     *LocalCounters
	entries      int
	bytes        int64
	lastSweep    time.Time

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// recordKey namespaces single-use ('o') and replay ('r') records by kind.
type recordKey struct {
	space byte
	kind  Kind
	key   [32]byte
}

type memRecord struct {
	value   []byte
	expires time.Time
	size    int64
}

type memSession struct {
	s    Session // ID empty: only its hash is kept, as the map key
	size int64
}

type memFamily struct {
	f     RefreshFamily
	cur   [32]byte
	prev  [32]byte
	old   map[[32]byte]struct{}
	order [][32]byte // old hashes, oldest first, for trimming
	size  int64
}

const rotatedHashSize = 64 // approximate bytes per kept rotated-token hash

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-process store and starts its expiry sweep,
// which Close stops.
func NewMemory(opts Options) *Memory {
	m := &Memory{
		opts:         opts.withDefaults(),
		sessions:     make(map[[32]byte]*memSession),
		userSessions: make(map[string]map[[32]byte]struct{}),
		records:      make(map[recordKey]*memRecord),
		families:     make(map[string]*memFamily),
		userFamilies: make(map[string]map[string]struct{}),
		tags:         make(map[recordKey]map[string]time.Time),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	m.counters = NewLocalCounters(m.opts.MaxCounters)
	go m.sweepLoop()
	return m
}

func (m *Memory) sweepLoop() {
	defer close(m.done)
	t := time.NewTicker(m.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			t := now()
			m.mu.Lock()
			m.sweepLocked(t)
			m.mu.Unlock()
			m.counters.Sweep(t)
		}
	}
}

// Close stops the sweep and drops every record. Later calls fail with
// ErrUnavailable. It always returns nil.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
		m.mu.Lock()
		defer m.mu.Unlock()
		m.closed = true
		clear(m.sessions)
		clear(m.userSessions)
		clear(m.records)
		clear(m.families)
		clear(m.tags)
		clear(m.userFamilies)
		m.counters.clear()
		m.entries, m.bytes = 0, 0
	})
	return nil
}

// Ping reports ErrUnavailable once the store is closed or ctx is done.
func (m *Memory) Ping(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usable(ctx)
}

// usable must be called with m.mu held.
func (m *Memory) usable(ctx context.Context) error {
	if m.closed {
		return fmt.Errorf("%w: store closed", ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// charge reserves room for one record of size bytes, sweeping once if full.
func (m *Memory) charge(size int64, t time.Time) error {
	full := func() bool {
		return m.entries+1 > m.opts.MaxEntries || m.bytes+size > m.opts.MaxBytes
	}
	if full() && t.Sub(m.lastSweep) >= time.Second {
		m.sweepLocked(t)
	}
	if full() {
		return fmt.Errorf("%w (%d records, %d bytes): %w", ErrFull, m.entries, m.bytes, ErrUnavailable)
	}
	m.entries++
	m.bytes += size
	return nil
}

func (m *Memory) release(size int64) {
	m.entries--
	m.bytes -= size
}

func (m *Memory) sweepLocked(t time.Time) {
	m.lastSweep = t
	for h, ms := range m.sessions {
		if !sessionAlive(ms.s, t) {
			m.removeSession(h, ms)
		}
	}
	for k, r := range m.records {
		if !t.Before(r.expires) {
			delete(m.records, k)
			m.release(r.size)
		}
	}
	for id, f := range m.families {
		if !t.Before(f.f.ExpiresAt) {
			m.removeFamily(id, f)
		}
	}
	m.sweepTagsLocked(t)
}

func sessionAlive(s Session, t time.Time) bool {
	return t.Before(s.AbsoluteExpiry) && t.Sub(s.LastSeen) < s.IdleTimeout
}

func (m *Memory) removeSession(h [32]byte, ms *memSession) {
	delete(m.sessions, h)
	m.release(ms.size)
	if idx := m.userSessions[ms.s.UserID]; idx != nil {
		delete(idx, h)
		if len(idx) == 0 {
			delete(m.userSessions, ms.s.UserID)
		}
	}
}

func (m *Memory) removeFamily(id string, f *memFamily) {
	delete(m.families, id)
	m.release(f.size)
	if idx := m.userFamilies[f.f.UserID]; idx != nil {
		delete(idx, id)
		if len(idx) == 0 {
			delete(m.userFamilies, f.f.UserID)
		}
	}
}

// CreateSession implements Store.
func (m *Memory) CreateSession(ctx context.Context, s Session) (Session, error) {
	t := now()
	s, err := prepareSession(s, m.opts, t)
	if err != nil {
		return Session{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return Session{}, err
	}
	size := int64(recordOverhead + sessionSize(s))
	if err := m.charge(size, t); err != nil {
		return Session{}, err
	}
	stored := cloneSession(s)
	stored.ID = ""
	h := digest(s.ID)
	m.sessions[h] = &memSession{s: stored, size: size}
	idx := m.userSessions[s.UserID]
	if idx == nil {
		idx = make(map[[32]byte]struct{})
		m.userSessions[s.UserID] = idx
	}
	idx[h] = struct{}{}
	return s, nil
}

// GetSession implements Store.
func (m *Memory) GetSession(ctx context.Context, id string) (Session, error) {
	if !validID(id) {
		return Session{}, ErrNotFound
	}
	h := digest(id)
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return Session{}, err
	}
	ms := m.sessions[h]
	if ms == nil {
		return Session{}, ErrNotFound
	}
	if !sessionAlive(ms.s, t) {
		m.removeSession(h, ms)
		return Session{}, ErrNotFound
	}
	ms.s.LastSeen = t
	s := cloneSession(ms.s)
	s.ID = id
	return s, nil
}

// DeleteSession implements Store.
func (m *Memory) DeleteSession(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	h := digest(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	if ms := m.sessions[h]; ms != nil {
		m.removeSession(h, ms)
	}
	return nil
}

// ListUserSessions implements Store.
func (m *Memory) ListUserSessions(ctx context.Context, userID string) ([]Session, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	var out []Session
	for h := range m.userSessions[userID] {
		ms := m.sessions[h]
		if !sessionAlive(ms.s, t) {
			m.removeSession(h, ms)
			continue
		}
		out = append(out, cloneSession(ms.s))
	}
	sortSessions(out)
	return out, nil
}

// sortSessions orders by creation, then handle, so both stores list alike.
func sortSessions(s []Session) {
	slices.SortFunc(s, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if a.Handle < b.Handle {
			return -1
		}
		if a.Handle > b.Handle {
			return 1
		}
		return 0
	})
}

// RevokeUserSessions implements Store.
func (m *Memory) RevokeUserSessions(ctx context.Context, userID string) (int, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	for h := range m.userSessions[userID] {
		ms := m.sessions[h]
		if sessionAlive(ms.s, t) {
			n++
		}
		m.removeSession(h, ms)
	}
	return n, nil
}

// PutOnce implements Store.
func (m *Memory) PutOnce(ctx context.Context, kind Kind, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(kind, key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if len(value) > m.opts.MaxValueBytes {
		return fmt.Errorf("%w: value is %d bytes, limit %d", ErrInvalid, len(value), m.opts.MaxValueBytes)
	}
	k := recordKey{space: 'o', kind: kind, key: digest(key)}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	if r := m.records[k]; r != nil {
		if t.Before(r.expires) {
			return ErrExists
		}
		delete(m.records, k)
		m.release(r.size)
	}
	size := int64(recordOverhead + len(value))
	if err := m.charge(size, t); err != nil {
		return err
	}
	m.records[k] = &memRecord{value: slices.Clone(value), expires: t.Add(ttl), size: size}
	return nil
}

// TakeOnce implements Store.
func (m *Memory) TakeOnce(ctx context.Context, kind Kind, key string) ([]byte, error) {
	if err := checkKey(kind, key); err != nil {
		return nil, err
	}
	k := recordKey{space: 'o', kind: kind, key: digest(key)}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	r := m.records[k]
	if r == nil {
		return nil, ErrNotFound
	}
	delete(m.records, k)
	m.release(r.size)
	if !t.Before(r.expires) {
		return nil, ErrNotFound
	}
	if r.value == nil {
		return []byte{}, nil
	}
	return r.value, nil
}

// Remember implements Store.
func (m *Memory) Remember(ctx context.Context, kind Kind, key string, ttl time.Duration) (bool, error) {
	if err := checkKey(kind, key); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	k := recordKey{space: 'r', kind: kind, key: digest(key)}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return false, err
	}
	if r := m.records[k]; r != nil {
		if t.Before(r.expires) {
			return false, nil
		}
		delete(m.records, k)
		m.release(r.size)
	}
	if err := m.charge(recordOverhead, t); err != nil {
		return false, err
	}
	m.records[k] = &memRecord{expires: t.Add(ttl), size: recordOverhead}
	return true, nil
}

// CreateRefresh implements Store.
func (m *Memory) CreateRefresh(ctx context.Context, family RefreshFamily) (string, error) {
	t := now()
	f, err := prepareFamily(family, m.opts, t)
	if err != nil {
		return "", err
	}
	token := newToken(f.ID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return "", err
	}
	if old := m.families[f.ID]; old != nil {
		if t.Before(old.f.ExpiresAt) {
			return "", ErrExists
		}
		m.removeFamily(f.ID, old)
	}
	size := int64(recordOverhead + familySize(f))
	if err := m.charge(size, t); err != nil {
		return "", err
	}
	m.families[f.ID] = &memFamily{f: f, cur: digest(token), old: make(map[[32]byte]struct{}), size: size}
	idx := m.userFamilies[f.UserID]
	if idx == nil {
		idx = make(map[string]struct{})
		m.userFamilies[f.UserID] = idx
	}
	idx[f.ID] = struct{}{}
	return token, nil
}

// liveFamily returns the family of token, dropping it when expired. Must be
// called with m.mu held.
func (m *Memory) liveFamily(token string, t time.Time) *memFamily {
	id, ok := splitToken(token)
	if !ok {
		return nil
	}
	f := m.families[id]
	if f == nil {
		return nil
	}
	if !t.Before(f.f.ExpiresAt) {
		m.removeFamily(id, f)
		return nil
	}
	return f
}

// RotateRefresh implements Store.
func (m *Memory) RotateRefresh(ctx context.Context, token string) (RefreshFamily, string, error) {
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return RefreshFamily{}, "", err
	}
	f := m.liveFamily(token, t)
	if f == nil {
		return RefreshFamily{}, "", ErrNotFound
	}
	h := digest(token)
	switch {
	case h == f.cur:
		next := newToken(f.f.ID)
		f.prev, f.cur = f.cur, digest(next)
		f.old[h] = struct{}{}
		f.order = append(f.order, h)
		f.size += rotatedHashSize
		m.bytes += rotatedHashSize
		if len(f.order) > keptRotatedLimit {
			delete(f.old, f.order[0])
			f.order = f.order[1:]
			f.size -= rotatedHashSize
			m.bytes -= rotatedHashSize
		}
		f.f.Generation++
		f.f.RotatedAt = t
		return cloneFamily(f.f), next, nil
	case m.opts.RefreshReuseInterval > 0 && h == f.prev && t.Sub(f.f.RotatedAt) < m.opts.RefreshReuseInterval:
		return RefreshFamily{}, "", ErrRefreshConcurrent
	}
	if _, reused := f.old[h]; reused {
		m.removeFamily(f.f.ID, f)
		return cloneFamily(f.f), "", ErrRefreshReused
	}
	return RefreshFamily{}, "", ErrNotFound
}

// GetRefresh implements Store.
func (m *Memory) GetRefresh(ctx context.Context, token string) (RefreshFamily, error) {
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return RefreshFamily{}, err
	}
	f := m.liveFamily(token, t)
	if f == nil || digest(token) != f.cur {
		return RefreshFamily{}, ErrNotFound
	}
	return cloneFamily(f.f), nil
}

// RevokeFamily implements Store.
func (m *Memory) RevokeFamily(ctx context.Context, familyID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	if f := m.families[familyID]; f != nil {
		m.removeFamily(familyID, f)
	}
	return nil
}

// RevokeUserFamilies implements Store.
func (m *Memory) RevokeUserFamilies(ctx context.Context, userID string) (int, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	for id := range m.userFamilies[userID] {
		f := m.families[id]
		if t.Before(f.f.ExpiresAt) {
			n++
		}
		m.removeFamily(id, f)
	}
	return n, nil
}

// RevokeSessionFamilies implements Store.
func (m *Memory) RevokeSessionFamilies(ctx context.Context, userID, sessionHandle string, keepOffline bool) (int, error) {
	if err := checkSessionFamilies(userID, sessionHandle); err != nil {
		return 0, err
	}
	t := now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	for id := range m.userFamilies[userID] {
		f := m.families[id]
		if !t.Before(f.f.ExpiresAt) {
			m.removeFamily(id, f)
			continue
		}
		if sessionFamily(f.f.SessionID, f.f.Scope, sessionHandle, keepOffline) {
			m.removeFamily(id, f)
			n++
		}
	}
	return n, nil
}

// Count implements Store. It never fails for lack of room: see
// LocalCounters and CounterEvictions.
func (m *Memory) Count(ctx context.Context, kind Kind, key string, window time.Duration) (int64, time.Duration, error) {
	m.mu.Lock()
	err := m.usable(ctx)
	m.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	return m.counters.Count(kind, key, window, now())
}

// CounterEvictions returns how many live counters Count evicted because
// Options.MaxCounters was reached: each is a count forgotten early. Callers
// export it as a metric and log when it grows.
func (m *Memory) CounterEvictions() uint64 { return m.counters.Evictions() }

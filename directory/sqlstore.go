package directory

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

//go:embed migrations
var migrationFS embed.FS

// SQLStore is the Store on PostgreSQL or on an embedded SQLite file.
type SQLStore struct {
	db      database
	backend string
	log     *slog.Logger
	pg      *pgxpool.Pool // nil on SQLite
	// lockTimeout bounds the wait for the PostgreSQL migration lock.
	lockTimeout time.Duration

	// cache holds API-key and principal-access lookups. It is replaced by an
	// empty one after every change; nil while changes by other processes
	// cannot be observed (the PostgreSQL listener is down).
	cache atomic.Pointer[lookupCache]

	subMu  sync.Mutex
	subs   map[int]func()
	nextID int

	touchMu sync.Mutex
	touched map[string]time.Time

	stop      chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once
}

type lookupCache struct {
	keys    sync.Map // sha256(secret) as string → KeyPrincipal
	access  sync.Map // orgID + "\x00" + principalID → PrincipalAccess
	revoked sync.Map // jti → bool
	clients sync.Map // client id → Client
	conns   sync.Map // orgID + "\x00" + connection id → Connection
	// connHomes: connection id → connHome (its org, enabled, found)
	connHomes sync.Map
	// standing: orgID + "\x00" + userID + "\x00" + connection id → sessionStanding
	standing sync.Map
	// jwtIssuers: issuer → []JWTIssuer, only for issuers some org trusts
	jwtIssuers sync.Map
}

// cached returns the value under key in the map pick selects from the current
// cache, or loads it and keeps it there. A load that races a change stores
// into the cache that change has already replaced, so it is never served.
func cached[T any](s *SQLStore, pick func(*lookupCache) *sync.Map, key string, load func() (T, error)) (T, error) {
	c := s.cache.Load()
	if c != nil {
		if v, ok := pick(c).Load(key); ok {
			return v.(T), nil
		}
	}
	v, err := load()
	if err == nil && c != nil {
		pick(c).Store(key, v)
	}
	return v, err
}

// OpenPostgres connects to PostgreSQL at url, applies pending migrations and
// starts listening for changes made by other replicas. It fails with
// ErrUnavailable when the server cannot be reached. It is OpenPostgresWith
// and the default options.
func OpenPostgres(ctx context.Context, url string, log *slog.Logger) (*SQLStore, error) {
	return OpenPostgresWith(ctx, url, log, PostgresOptions{})
}

// OpenPostgresWith is OpenPostgres with options. It fails with
// ErrMigrationLocked when another process held the migration lock for
// longer than opts.MigrationLockTimeout (see migrate.go).
func OpenPostgresWith(ctx context.Context, url string, log *slog.Logger, opts PostgresOptions) (*SQLStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("directory: database URL: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	if opts.TracerProvider != nil {
		cfg.ConnConfig.Tracer = sqlTracer(opts.TracerProvider)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("directory: %w: %v", ErrUnavailable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("directory: cannot reach PostgreSQL at %s: %w: %v", redactURL(url), ErrUnavailable, err)
	}
	s := newSQLStore(&pgDB{pool}, "postgres "+redactURL(url), log)
	s.pg = pool
	s.lockTimeout = opts.migrationLockTimeout()
	if err := s.migrate(ctx, "postgres"); err != nil {
		s.Close()
		return nil, err
	}
	s.done.Add(1)
	go s.listen()
	return s, nil
}

// OpenSQLite opens (creating if needed) the SQLite database file at path,
// applies pending migrations and watches the file for changes made by other
// processes (such as the CLI while a server runs).
func OpenSQLite(ctx context.Context, path string, log *slog.Logger) (*SQLStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("directory: data directory: %w", err)
	}
	dsn := "file:" + path + "?_txlock=immediate&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("directory: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("directory: open %s: %w: %v", path, ErrUnavailable, err)
	}
	s := newSQLStore(&liteDB{db}, "sqlite "+path, log)
	if err := s.migrate(ctx, "sqlite"); err != nil {
		s.Close()
		return nil, err
	}
	var gen int64
	if err := s.db.queryRow(ctx, `SELECT generation FROM meta WHERE id = 1`).Scan(&gen); err != nil {
		s.Close()
		return nil, fmt.Errorf("directory: open %s: %w", path, err)
	}
	s.cache.Store(&lookupCache{})
	s.done.Add(1)
	go s.pollGeneration(gen)
	return s, nil
}

func newSQLStore(db database, backend string, log *slog.Logger) *SQLStore {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &SQLStore{
		db: db, backend: backend, log: log,
		subs: map[int]func(){}, touched: map[string]time.Time{},
		stop: make(chan struct{}),
	}
	s.done.Add(1)
	go s.flushTouchesLoop()
	return s
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Backend names the storage in use.
func (s *SQLStore) Backend() string { return s.backend }

// Ping checks that the database answers.
func (s *SQLStore) Ping(ctx context.Context) error { return s.db.ping(ctx) }

// Close flushes pending last-used times, stops background work and closes the database.
func (s *SQLStore) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.done.Wait()
		s.flushTouches(context.Background())
		s.db.close()
	})
}

// mutate runs fn in a transaction and, after it commits, tells every cache
// and subscriber — here and, through the database, in other processes.
func (s *SQLStore) mutate(ctx context.Context, fn func(q querier) error) error {
	err := s.db.inTx(ctx, func(q querier) error {
		if err := fn(q); err != nil {
			return err
		}
		if s.pg != nil {
			// The payload names the schema, so brokers on other schemas of
			// the same database ignore the change (listenOnce).
			_, err := q.exec(ctx, `SELECT pg_notify('ssobroker_changes', current_schema())`)
			return err
		}
		_, err := q.exec(ctx, `UPDATE meta SET generation = generation + 1 WHERE id = 1`)
		return err
	})
	if err != nil {
		return err
	}
	s.changed()
	return nil
}

// changed drops cached lookups and calls the subscribers.
func (s *SQLStore) changed() {
	// CompareAndSwap, not Store: the listener may have just turned the cache
	// off, and a plain Store would turn it back on while changes go unseen.
	if c := s.cache.Load(); c != nil {
		s.cache.CompareAndSwap(c, &lookupCache{})
	}
	s.subMu.Lock()
	fns := make([]func(), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Subscribe calls fn after every committed change; cancel stops it.
func (s *SQLStore) Subscribe(fn func()) (cancel func()) {
	s.subMu.Lock()
	id := s.nextID
	s.nextID++
	s.subs[id] = fn
	s.subMu.Unlock()
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
}

// listen follows the PostgreSQL change channel. While it is not listening
// the cache is off, because changes by other replicas would go unseen.
func (s *SQLStore) listen() {
	defer s.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		s.cache.Store(nil)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("directory change listener lost; lookups bypass the cache until it is back", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *SQLStore) listenOnce(ctx context.Context) error {
	conn, err := s.pg.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `LISTEN ssobroker_changes`); err != nil {
		return err
	}
	s.cache.Store(&lookupCache{})
	s.changed() // anything missed while not listening
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			// The connection is in an unknown state; do not return it to the pool.
			_ = conn.Conn().Close(context.Background())
			return err
		}
		// A change in another schema of the same database is another
		// broker's; an empty payload (a release before the schema was named)
		// may be anyone's and counts.
		if n.Payload != "" && n.Payload != schema {
			continue
		}
		s.changed()
	}
}

// pollGeneration notices commits by other processes on the SQLite file.
func (s *SQLStore) pollGeneration(last int64) {
	defer s.done.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		var g int64
		if err := s.db.queryRow(context.Background(), `SELECT generation FROM meta WHERE id = 1`).Scan(&g); err != nil {
			continue
		}
		if g != last {
			s.changed()
		}
		last = g
	}
}

// TouchAPIKey records a key's last use in memory; it reaches the database
// within a minute, so the token hot path never writes.
func (s *SQLStore) TouchAPIKey(_ context.Context, keyID string, at time.Time) error {
	s.touchMu.Lock()
	if at.After(s.touched[keyID]) {
		s.touched[keyID] = at
	}
	s.touchMu.Unlock()
	return nil
}

func (s *SQLStore) flushTouchesLoop() {
	defer s.done.Done()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.flushTouches(context.Background())
		}
	}
}

func (s *SQLStore) flushTouches(ctx context.Context) {
	s.touchMu.Lock()
	pending := s.touched
	s.touched = map[string]time.Time{}
	s.touchMu.Unlock()
	for id, at := range pending {
		// Last-used times are bookkeeping, not a change that invalidates caches.
		_, err := s.db.exec(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, ts(at), id)
		if err != nil {
			s.log.Warn("recording API key last use failed", "key", id, "err", err)
		}
	}
}

func (s *SQLStore) pendingTouch(keyID string) (time.Time, bool) {
	s.touchMu.Lock()
	defer s.touchMu.Unlock()
	t, ok := s.touched[keyID]
	return t, ok
}

// ts and fromTS convert between time.Time and the stored microseconds.
func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullTS(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromTS(*v)
	return &t
}

func nullTS(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool { return errors.Is(err, errUnique) }

func limitOf(p Page) int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 500:
		return 500
	}
	return p.Limit
}

// nextCursor returns the cursor after a page of n items ending with last,
// or "" when the page was not full.
func nextCursor(n, limit int, last string) string {
	if n < limit {
		return ""
	}
	return last
}

// likePattern escapes q for a LIKE ... ESCAPE '\' substring match.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

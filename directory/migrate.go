package directory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Migrations (docs/operations.md, "Upgrades"):
//
//   - each one runs in its own transaction together with the row recording
//     it in schema_migrations, so a crash leaves it applied or not at all,
//     and the next start resumes at the first unrecorded one;
//   - a recorded migration is never run again, so running them is
//     idempotent, and migrations already recorded need no lock at all;
//   - on PostgreSQL, an unrecorded one is applied under a transaction-scoped
//     advisory lock (migrationLockKey, the key every release since v0.1.0
//     uses), so replicas starting together apply it once. The wait for that
//     lock is bounded: a replica stuck while holding it makes the others log
//     who holds it and, after PostgresOptions.MigrationLockTimeout, fail with
//     ErrMigrationLocked rather than wait forever or run half-migrated.

// DefaultMigrationLockTimeout is how long OpenPostgres waits for the
// migration lock another process holds.
const DefaultMigrationLockTimeout = 2 * time.Minute

// migrationLockKey is the PostgreSQL advisory lock key of migrations. It
// must not change: replicas of the previous release take the same lock.
const migrationLockKey = 7204170

// migrationLockPoll is how often a waiting replica tries the lock again;
// migrationLockLogEvery, how often it repeats who holds it.
const (
	migrationLockPoll     = 200 * time.Millisecond
	migrationLockLogEvery = 10 * time.Second
)

// ErrMigrationLocked means another process held the migration lock for
// longer than the configured timeout; nothing was applied meanwhile.
var ErrMigrationLocked = errors.New("directory: migration lock not acquired")

// PostgresOptions tune OpenPostgresWith.
type PostgresOptions struct {
	// MigrationLockTimeout bounds the wait for the migration lock held by
	// another process; zero means DefaultMigrationLockTimeout.
	MigrationLockTimeout time.Duration
	// TracerProvider, when set, traces every SQL statement run for a traced
	// request (tracing.go); nil traces nothing and installs no hook.
	TracerProvider trace.TracerProvider
}

func (o PostgresOptions) migrationLockTimeout() time.Duration {
	if o.MigrationLockTimeout <= 0 {
		return DefaultMigrationLockTimeout
	}
	return o.MigrationLockTimeout
}

// migrate applies the embedded migrations of dialect that are not yet recorded.
func (s *SQLStore) migrate(ctx context.Context, dialect string) error {
	dir := "migrations/" + dialect
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return fmt.Errorf("directory: migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	applied := s.appliedMigrations(ctx)
	for _, name := range names {
		if applied[name] {
			continue
		}
		body, err := migrationFS.ReadFile(dir + "/" + name)
		if err != nil {
			return fmt.Errorf("directory: migration %s: %w", name, err)
		}
		err = s.db.inTx(ctx, func(q querier) error {
			if s.pg != nil {
				if err := s.lockMigrations(ctx, q); err != nil {
					return err
				}
			}
			if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
				return err
			}
			// Checked again under the lock: another replica may have applied
			// it since appliedMigrations looked.
			var n int
			if err := q.queryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// Without arguments pgx uses the simple protocol, which runs
			// multi-statement bodies; SQLite's driver runs them as they are.
			if _, err := q.exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := q.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, name, ts(time.Now()))
			if err == nil {
				s.log.Info("applied migration", "version", name)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("directory: migration %s: %w", name, err)
		}
	}
	return nil
}

// appliedMigrations returns the versions schema_migrations records, or an
// empty set when it cannot be read (a new database has no such table; any
// other problem shows again in the transaction that follows).
func (s *SQLStore) appliedMigrations(ctx context.Context) map[string]bool {
	applied := map[string]bool{}
	rs, err := s.db.query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return applied
	}
	defer rs.Close()
	for rs.Next() {
		var v string
		if rs.Scan(&v) != nil {
			return map[string]bool{}
		}
		applied[v] = true
	}
	if rs.Err() != nil {
		return map[string]bool{}
	}
	return applied
}

// lockMigrations takes the migration lock for the transaction q, waiting at
// most s.lockTimeout for the process that holds it, and saying who that is.
func (s *SQLStore) lockMigrations(ctx context.Context, q querier) error {
	start := time.Now()
	var logged time.Time
	for {
		var ok bool
		if err := q.queryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(migrationLockKey)).Scan(&ok); err != nil {
			return err
		}
		if ok {
			if !logged.IsZero() {
				s.log.Info("acquired the migration lock", "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return nil
		}
		now := time.Now()
		waited := now.Sub(start)
		if waited >= s.lockTimeout || logged.IsZero() || now.Sub(logged) >= migrationLockLogEvery {
			h := s.migrationLockHolder(ctx)
			if waited >= s.lockTimeout {
				return fmt.Errorf("%w within %s (SSOBROKER_MIGRATION_LOCK_TIMEOUT): held by %s; "+
					"if that process is stuck, end it (SELECT pg_terminate_backend(pid)) and start again", ErrMigrationLocked, s.lockTimeout, h)
			}
			s.log.Warn("waiting for the migration lock held by "+h.String(),
				"pid", h.pid, "since", h.sinceText(), "application", h.app, "client", h.client,
				"timeout", s.lockTimeout.String())
			logged = now
		}
		t := time.NewTimer(migrationLockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// lockHolder describes the session holding the migration lock, as far as
// pg_stat_activity shows it to us (a role without pg_read_all_stats may see
// only the pid).
type lockHolder struct {
	pid    int64 // 0: not found (released meanwhile)
	since  *time.Time
	app    string
	client string
}

// String reads "pid N since TIME" (the log line of docs/operations.md).
func (h lockHolder) String() string {
	if h.pid == 0 {
		return "another session (released meanwhile)"
	}
	return fmt.Sprintf("pid %d since %s", h.pid, h.sinceText())
}

func (h lockHolder) sinceText() string {
	if h.since == nil {
		return "an unknown time"
	}
	return h.since.UTC().Format(time.RFC3339)
}

// migrationLockHolder finds the session holding the migration lock. A
// bigint advisory key k shows in pg_locks as classid = k>>32, objid =
// k&0xffffffff, objsubid = 1. "Since" is when its transaction began, or, for
// a session-level lock outside a transaction, when it went idle. It asks on
// another connection than the migration's, whose transaction an error here
// would abort.
func (s *SQLStore) migrationLockHolder(ctx context.Context) lockHolder {
	var h lockHolder
	err := s.db.queryRow(ctx, `
		SELECT l.pid, coalesce(a.xact_start, a.state_change, a.backend_start),
		       coalesce(a.application_name, ''), coalesce(host(a.client_addr), '')
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND l.classid = 0 AND l.objid = `+strconv.Itoa(migrationLockKey)+` AND l.objsubid = 1
		LIMIT 1`).Scan(&h.pid, &h.since, &h.app, &h.client)
	if err != nil {
		return lockHolder{}
	}
	return h
}

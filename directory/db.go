package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The SQL store speaks to PostgreSQL through pgx and to SQLite through
// database/sql. These small interfaces hide the difference so that every
// query and every invariant is written once. Queries use PostgreSQL's $N
// placeholders; the SQLite adapter rewrites them to SQLite's ?N.

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface {
	Scan(dest ...any) error
}

type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

type database interface {
	querier
	// inTx runs fn in a transaction that holds the database's write lock
	// where the engine has one (SQLite) and commits when fn returns nil.
	inTx(ctx context.Context, fn func(q querier) error) error
	ping(ctx context.Context) error
	close()
}

// errUnique is returned by the adapters for a unique-constraint violation.
var errUnique = errors.New("unique constraint violated")

// errNoRows is returned by the adapters when a single-row query finds nothing.
var errNoRows = errors.New("no rows")

// --- PostgreSQL ---

type pgDB struct{ pool *pgxpool.Pool }

type pgQ interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgQuerier struct{ q pgQ }

func (p pgQuerier) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, q, args...)
	if err != nil {
		return 0, pgErr(err)
	}
	return tag.RowsAffected(), nil
}

func (p pgQuerier) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := p.q.Query(ctx, q, args...)
	if err != nil {
		return nil, pgErr(err)
	}
	return pgRows{r}, nil
}

func (p pgQuerier) queryRow(ctx context.Context, q string, args ...any) row {
	return pgRow{p.q.QueryRow(ctx, q, args...)}
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Err() error { return pgErr(r.Rows.Err()) }

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error { return pgErr(r.r.Scan(dest...)) }

func pgErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "23505" {
			return fmt.Errorf("%w: %s", errUnique, pe.ConstraintName)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// Anything else from pgx without a server error code is a connection problem.
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func (d *pgDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return pgQuerier{d.pool}.exec(ctx, q, args...)
}
func (d *pgDB) query(ctx context.Context, q string, args ...any) (rows, error) {
	return pgQuerier{d.pool}.query(ctx, q, args...)
}
func (d *pgDB) queryRow(ctx context.Context, q string, args ...any) row {
	return pgQuerier{d.pool}.queryRow(ctx, q, args...)
}

func (d *pgDB) inTx(ctx context.Context, fn func(q querier) error) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return pgErr(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(pgQuerier{tx}); err != nil {
		return err
	}
	return pgErr(tx.Commit(ctx))
}

func (d *pgDB) ping(ctx context.Context) error { return pgErr(d.pool.Ping(ctx)) }
func (d *pgDB) close()                         { d.pool.Close() }

// --- SQLite ---

type liteDB struct{ db *sql.DB }

type sqlQ interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type liteQuerier struct{ q sqlQ }

// liteSQL turns a PostgreSQL query into its SQLite form.
func liteSQL(q string) string {
	q = strings.ReplaceAll(q, "$", "?")
	return strings.ReplaceAll(q, " FOR UPDATE", "")
}

func (l liteQuerier) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := l.q.ExecContext(ctx, liteSQL(q), args...)
	if err != nil {
		return 0, liteErr(err)
	}
	n, err := res.RowsAffected()
	return n, liteErr(err)
}

func (l liteQuerier) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := l.q.QueryContext(ctx, liteSQL(q), args...)
	if err != nil {
		return nil, liteErr(err)
	}
	return liteRows{r}, nil
}

func (l liteQuerier) queryRow(ctx context.Context, q string, args ...any) row {
	return liteRow{l.q.QueryRowContext(ctx, liteSQL(q), args...)}
}

type liteRows struct{ *sql.Rows }

func (r liteRows) Close()     { _ = r.Rows.Close() }
func (r liteRows) Err() error { return liteErr(r.Rows.Err()) }

type liteRow struct{ r *sql.Row }

func (r liteRow) Scan(dest ...any) error { return liteErr(r.r.Scan(dest...)) }

func liteErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", errUnique, se.Error())
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL:
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return err
}

func (d *liteDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return liteQuerier{d.db}.exec(ctx, q, args...)
}
func (d *liteDB) query(ctx context.Context, q string, args ...any) (rows, error) {
	return liteQuerier{d.db}.query(ctx, q, args...)
}
func (d *liteDB) queryRow(ctx context.Context, q string, args ...any) row {
	return liteQuerier{d.db}.queryRow(ctx, q, args...)
}

func (d *liteDB) inTx(ctx context.Context, fn func(q querier) error) error {
	// The connection string sets _txlock=immediate, so BEGIN takes the write
	// lock at once and concurrent writers queue instead of failing mid-way.
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return liteErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(liteQuerier{tx}); err != nil {
		return err
	}
	return liteErr(tx.Commit())
}

func (d *liteDB) ping(ctx context.Context) error { return liteErr(d.db.PingContext(ctx)) }
func (d *liteDB) close()                         { _ = d.db.Close() }

// Package directorytest opens real directory stores for tests: a fresh
// SQLite file, or a fresh schema in the PostgreSQL server the test command
// starts. A missing PostgreSQL fails the test; it never skips.
package directorytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory"
)

// DefaultPostgresURL is used when SSOBROKER_TEST_DATABASE_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the server URL tests use.
func PostgresURL() string {
	if u := os.Getenv("SSOBROKER_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// SQLite opens a store on a new SQLite file in t's temporary directory.
func SQLite(t testing.TB) *directory.SQLStore {
	t.Helper()
	s, err := directory.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "directory.db"), nil)
	if err != nil {
		t.Fatalf("open SQLite store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// PostgresSchemaURL creates a new empty schema and returns a URL whose
// connections use it, and a function that drops it.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := PostgresURL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test and is not reachable at %s: %v\n"+
			"run the tests with ./.ci/test, which starts it, or set SSOBROKER_TEST_DATABASE_URL", base, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "ssb_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("test database URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a store on a fresh schema of the test PostgreSQL server.
func Postgres(t testing.TB) *directory.SQLStore {
	t.Helper()
	s, err := directory.OpenPostgres(context.Background(), PostgresSchemaURL(t), nil)
	if err != nil {
		t.Fatalf("open PostgreSQL store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Backends lists both stores by name, for tests that run against each.
func Backends() map[string]func(testing.TB) *directory.SQLStore {
	return map[string]func(testing.TB) *directory.SQLStore{"sqlite": SQLite, "postgres": Postgres}
}

// Replicas opens two stores on one new database of engine ("sqlite" or
// "postgres"), as two replicas of the broker would, for tests of what the
// database decides between replicas.
func Replicas(t testing.TB, engine string) [2]*directory.SQLStore {
	t.Helper()
	ctx := context.Background()
	var open func() (*directory.SQLStore, error)
	if engine == "postgres" {
		u := PostgresSchemaURL(t)
		open = func() (*directory.SQLStore, error) { return directory.OpenPostgres(ctx, u, nil) }
	} else {
		f := filepath.Join(t.TempDir(), "directory.db")
		open = func() (*directory.SQLStore, error) { return directory.OpenSQLite(ctx, f, nil) }
	}
	var out [2]*directory.SQLStore
	for i := range out {
		s, err := open()
		if err != nil {
			t.Fatalf("open %s store: %v", engine, err)
		}
		t.Cleanup(s.Close)
		out[i] = s
	}
	return out
}

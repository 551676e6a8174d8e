package directory_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	_ "modernc.org/sqlite"
)

// The tests in this file need more than one store on the same data, or raw
// access to the database under the store: they stand for several processes
// (replicas, the CLI next to a server) and for whoever holds the database.

// openSQLiteAt opens a store on the SQLite file at path; close may be called
// before the test ends.
func openSQLiteAt(t testing.TB, path string) (s *directory.SQLStore, close func()) {
	t.Helper()
	s, err := directory.OpenSQLite(bg, path, nil)
	noErr(t, err)
	close = sync.OnceFunc(s.Close)
	t.Cleanup(close)
	return s, close
}

func openPostgresAt(t testing.TB, url string) *directory.SQLStore {
	t.Helper()
	s, err := directory.OpenPostgres(bg, url, nil)
	noErr(t, err)
	t.Cleanup(s.Close)
	return s
}

// sharedDatabase is one database that several stores can open, with raw access.
type sharedDatabase struct {
	open func(t testing.TB) *directory.SQLStore
	// exec runs a statement on a connection of its own, outside any store.
	exec func(t testing.TB, q string) error
	// dump returns every row of every table as text.
	dump func(t testing.TB) string
}

func sharedDatabases() map[string]func(t testing.TB) sharedDatabase {
	return map[string]func(t testing.TB) sharedDatabase{
		"sqlite": func(t testing.TB) sharedDatabase {
			path := filepath.Join(t.TempDir(), "directory.db")
			raw := func(t testing.TB) *sql.DB {
				db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
				noErr(t, err)
				t.Cleanup(func() { _ = db.Close() })
				return db
			}
			return sharedDatabase{
				open: func(t testing.TB) *directory.SQLStore { s, _ := openSQLiteAt(t, path); return s },
				exec: func(t testing.TB, q string) error { _, err := raw(t).Exec(q); return err },
				dump: func(t testing.TB) string {
					var out strings.Builder
					entries, err := os.ReadDir(filepath.Dir(path))
					noErr(t, err)
					for _, e := range entries { // the file itself, its WAL and shared memory
						b, err := os.ReadFile(filepath.Join(filepath.Dir(path), e.Name()))
						noErr(t, err)
						out.Write(b)
					}
					return out.String()
				},
			}
		},
		"postgres": func(t testing.TB) sharedDatabase {
			u := directorytest.PostgresSchemaURL(t)
			raw := func(t testing.TB) *pgx.Conn {
				c, err := pgx.Connect(bg, u)
				noErr(t, err)
				t.Cleanup(func() { _ = c.Close(bg) })
				return c
			}
			return sharedDatabase{
				open: func(t testing.TB) *directory.SQLStore { return openPostgresAt(t, u) },
				exec: func(t testing.TB, q string) error { _, err := raw(t).Exec(bg, q); return err },
				dump: func(t testing.TB) string {
					c := raw(t)
					rows, err := c.Query(bg, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
					noErr(t, err)
					tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
					noErr(t, err)
					var out strings.Builder
					for _, tbl := range tables {
						rows, err := c.Query(bg, `SELECT t::text FROM `+pgx.Identifier{tbl}.Sanitize()+` t`)
						noErr(t, err)
						lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
						noErr(t, err)
						out.WriteString(strings.Join(lines, "\n"))
					}
					return out.String()
				},
			}
		},
	}
}

func TestSQLiteKeepsEverythingAcrossRestarts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "directory.db")
	s, closeFirst := openSQLiteAt(t, path)
	o, w, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Persistent Corp"})
	noErr(t, err)
	u := newMember(t, s, o.ID, access.RoleAdmin)
	sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
	k, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
	noErr(t, err)
	used := time.Now().UTC().Truncate(time.Microsecond)
	noErr(t, s.TouchAPIKey(bg, k.ID, used))
	c, _, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "App", RedirectURIs: []string{"https://app.example/cb"}})
	noErr(t, err)
	audit := allAudit(t, s, o.ID, directory.AuditFilter{})
	closeFirst()

	s2, _ := openSQLiteAt(t, path)
	if got := must[directory.Organization](t)(s2.GetOrg(bg, "persistent corp")); !reflect.DeepEqual(got, o) {
		t.Fatalf("after restart org = %+v, want %+v", got, o)
	}
	if got := must[directory.Workspace](t)(s2.FindWorkspace(bg, "persistent-corp")); got.ID != w.ID {
		t.Fatalf("after restart workspace = %+v", got)
	}
	if m := must[directory.Member](t)(s2.GetMember(bg, o.ID, u.ID)); m.Role != access.RoleAdmin {
		t.Fatalf("after restart member = %+v", m)
	}
	if kp := must[directory.KeyPrincipal](t)(s2.LookupAPIKey(bg, secret)); kp.Account.ID != sa.ID {
		t.Fatalf("after restart key = %+v", kp)
	}
	keys := must[[]directory.APIKey](t)(s2.ListAPIKeys(bg, o.ID, sa.ID))
	if len(keys) != 1 || keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(used) {
		t.Fatalf("a last use recorded before shutdown was lost: %+v", keys)
	}
	must[directory.Client](t)(s2.GetClient(bg, c.ID))
	if got := allAudit(t, s2, o.ID, directory.AuditFilter{}); !reflect.DeepEqual(got, audit) {
		t.Fatalf("audit log after restart differs:\n%+v\n%+v", got, audit)
	}
}

// TestCachesFollowChangesByOtherProcesses proves that a store's cached
// lookups never outlive a change made through another store on the same
// database by more than a short, bounded time.
func TestCachesFollowChangesByOtherProcesses(t *testing.T) {
	const bound = 2 * time.Second
	for name, shared := range sharedDatabases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			t.Run("a key revoked, a role changed or an account deleted through one process is seen by another", func(t *testing.T) {
				t.Parallel()
				db := shared(t)
				a := db.open(t)
				b := db.open(t)
				waitWatching(t, a, b)

				o, _ := newOrg(t, a)
				admin := newMember(t, a, o.ID, access.RoleAdmin)
				u := newMember(t, a, o.ID, access.RolePlatformMember)
				sa := newServiceAccount(t, a, o.ID, access.RolePlatformMember)
				k, secret, err := a.CreateAPIKey(bg, admin.ID, o.ID, sa.ID)
				noErr(t, err)
				_, other, err := a.CreateAPIKey(bg, admin.ID, o.ID, sa.ID)
				noErr(t, err)

				// Warm b's cache, then change through a.
				for range 2 {
					must[directory.KeyPrincipal](t)(b.LookupAPIKey(bg, secret))
					must[directory.KeyPrincipal](t)(b.LookupAPIKey(bg, other))
					must[directory.PrincipalAccess](t)(b.PrincipalAccess(bg, o.ID, u.ID))
				}
				noErr(t, a.RevokeAPIKey(bg, admin.ID, o.ID, k.ID))
				if !eventually(bound, func() bool { _, err := b.LookupAPIKey(bg, secret); return errors.Is(err, directory.ErrNotFound) }) {
					t.Fatalf("a key revoked through another process still works after %v", bound)
				}
				must[directory.Member](t)(a.SetMemberRole(bg, admin.ID, o.ID, u.ID, access.RoleViewOnly, 0))
				if !eventually(bound, func() bool {
					pa, err := b.PrincipalAccess(bg, o.ID, u.ID)
					return err == nil && pa.Member.Role == access.RoleViewOnly
				}) {
					t.Fatalf("a role changed through another process is not seen after %v", bound)
				}
				must[directory.KeyPrincipal](t)(b.LookupAPIKey(bg, other))
				noErr(t, a.DeleteServiceAccount(bg, admin.ID, o.ID, sa.ID))
				if !eventually(bound, func() bool { _, err := b.LookupAPIKey(bg, other); return errors.Is(err, directory.ErrNotFound) }) {
					t.Fatalf("a deleted account's key still works in another process after %v", bound)
				}
				jti := "jti-" + tok()
				for range 2 {
					if must[bool](t)(b.TokenRevoked(bg, jti)) {
						t.Fatal("an unrevoked token reads as revoked")
					}
				}
				noErr(t, a.RevokeToken(bg, jti, time.Now().Add(time.Hour)))
				if !eventually(bound, func() bool { r, err := b.TokenRevoked(bg, jti); return err == nil && r }) {
					t.Fatalf("a token revoked through another process still reads as live after %v", bound)
				}
			})

			t.Run("a change made just after another process opened the database is seen by it", func(t *testing.T) {
				t.Parallel()
				db := shared(t)
				a := db.open(t)
				o, _ := newOrg(t, a)
				admin := newMember(t, a, o.ID, access.RoleAdmin)
				sa := newServiceAccount(t, a, o.ID, access.RolePlatformMember)
				k, secret, err := a.CreateAPIKey(bg, admin.ID, o.ID, sa.ID)
				noErr(t, err)

				b := db.open(t) // a process starting now…
				must[directory.KeyPrincipal](t)(b.LookupAPIKey(bg, secret))
				noErr(t, a.RevokeAPIKey(bg, admin.ID, o.ID, k.ID)) // …and a change before its first look at the database
				if !eventually(bound, func() bool { _, err := b.LookupAPIKey(bg, secret); return errors.Is(err, directory.ErrNotFound) }) {
					t.Fatalf("a key revoked right after another process started still works there after %v", bound)
				}
			})
		})
	}
}

// waitWatching returns once b has seen a change made through a, so that b
// is following changes and its cache is on.
func waitWatching(t *testing.T, a, b *directory.SQLStore) {
	t.Helper()
	seen := make(chan struct{}, 1)
	cancel := b.Subscribe(func() {
		select {
		case seen <- struct{}{}:
		default:
		}
	})
	defer cancel()
	deadline := time.After(5 * time.Second)
	for {
		newUser(t, a)
		select {
		case <-seen:
			if eventually(2*time.Second, func() bool { return directory.LookupCacheOn(b) }) {
				return
			}
			t.Fatal("the store saw a change but its cache is off")
		case <-time.After(300 * time.Millisecond):
		case <-deadline:
			t.Fatal("a store does not see changes made through another")
		}
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	for name, shared := range sharedDatabases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := shared(t)
			s := db.open(t)
			o, _ := newOrg(t, s)
			before := allAudit(t, s, o.ID, directory.AuditFilter{})
			if len(before) == 0 {
				t.Fatal("no audit entries to tamper with")
			}
			statements := []string{
				`UPDATE audit_log SET actor = 'mallory'`,
				`DELETE FROM audit_log`,
			}
			if name == "postgres" {
				statements = append(statements, `TRUNCATE audit_log`)
			}
			for _, q := range statements {
				if err := db.exec(t, q); err == nil {
					t.Errorf("%s on a separate connection succeeded; the audit log must be append-only", q)
				}
			}
			if after := allAudit(t, s, o.ID, directory.AuditFilter{}); !reflect.DeepEqual(after, before) {
				t.Fatalf("audit log changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestAPIKeySecretIsNeverStored(t *testing.T) {
	for name, shared := range sharedDatabases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := shared(t)
			s := db.open(t)
			o, _ := newOrg(t, s)
			sa := newServiceAccount(t, s, o.ID, access.RolePlatformMember)
			k, secret, err := s.CreateAPIKey(bg, actorSystem, o.ID, sa.ID)
			noErr(t, err)
			_, clientSecret, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "Confidential", RedirectURIs: []string{"https://app.example/cb"}})
			noErr(t, err)
			noErr(t, s.TouchAPIKey(bg, k.ID, time.Now()))
			noErr(t, s.RevokeAPIKey(bg, actorSystem, o.ID, k.ID))
			dump := db.dump(t)
			if !strings.Contains(dump, k.Prefix) {
				t.Fatalf("the dump does not even hold the key's visible prefix %q; is it complete?", k.Prefix)
			}
			for what, secret := range map[string]string{"API key": secret[4:], "client secret": clientSecret[5:]} {
				if strings.Contains(dump, secret) {
					t.Errorf("the database holds the %s in clear", what)
				}
			}
		})
	}
}

// TestPostgresOutage cuts the store off its server: mid-transaction, then
// entirely. Calls fail with ErrUnavailable, nothing is half written, and the
// store works again once the server is back.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	schemaURL := directorytest.PostgresSchemaURL(t)
	u, err := url.Parse(schemaURL)
	noErr(t, err)
	p := startProxy(t, u.Host)
	u.Host = p.addr()
	s := openPostgresAt(t, u.String())
	direct := openPostgresAt(t, schemaURL)
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()

	t.Run("a connection lost before commit leaves no org and no workspace", func(t *testing.T) {
		noErr(t, s.Ping(ctx))
		// The last statement before COMMIT: everything else of the transaction has run.
		p.cutOn([]byte("pg_notify("))
		name := "Half Written " + tok()
		_, _, err := s.CreateOrg(ctx, actorSystem, directory.NewOrg{Name: name})
		if !errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("CreateOrg over a lost connection: %v, want ErrUnavailable", err)
		}
		if !p.wasCut() {
			t.Fatal("the proxy never saw the statement it cuts on")
		}
		_, err = direct.GetOrg(ctx, name)
		wantNotFound(t, err, name)
		_, err = direct.FindWorkspace(ctx, strings.ReplaceAll(strings.ToLower(name), " ", "-"))
		wantNotFound(t, err, "")
		if orgs, _, err := direct.ListOrgs(ctx, directory.Page{}); err != nil || len(orgs) != 0 {
			t.Fatalf("orgs after a failed first write: %+v, %v", orgs, err)
		}
	})

	t.Run("while the server is away every call fails with ErrUnavailable", func(t *testing.T) {
		p.setDown(true)
		for name, call := range map[string]func() error{
			"Ping":   func() error { return s.Ping(ctx) },
			"GetOrg": func() error { _, err := s.GetOrg(ctx, "Anything"); return err },
			"CreateOrg": func() error {
				_, _, err := s.CreateOrg(ctx, actorSystem, directory.NewOrg{Name: "Lost " + tok()})
				return err
			},
			"LookupAPIKey": func() error {
				_, err := s.LookupAPIKey(ctx, "ssb_"+strings.Repeat("A", 43))
				return err
			},
		} {
			if err := call(); !errors.Is(err, directory.ErrUnavailable) {
				t.Errorf("%s while the server is away: %v, want ErrUnavailable", name, err)
			}
		}
	})

	t.Run("the store works again once the server is back", func(t *testing.T) {
		p.setDown(false)
		if !eventually(10*time.Second, func() bool { return s.Ping(ctx) == nil }) {
			t.Fatal("the store does not reconnect")
		}
		var o directory.Organization
		if !eventually(5*time.Second, func() bool {
			var err error
			o, _, err = s.CreateOrg(ctx, actorSystem, directory.NewOrg{Name: "Back " + tok()})
			return err == nil
		}) {
			t.Fatal("writes fail after the server came back")
		}
		must[directory.Organization](t)(direct.GetOrg(ctx, o.ID))
	})
}

// tcpProxy stands between a store and PostgreSQL so that a test can cut the
// connections, at a chosen statement or all at once.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]bool
	down  bool
	trip  []byte
	cut   bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { _ = ln.Close(); p.closeAll() })
	go p.serve()
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *tcpProxy) handle(client net.Conn) {
	if !p.track(client) {
		_ = client.Close()
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		_ = client.Close()
		if server != nil {
			_ = server.Close()
		}
		return
	}
	go func() { _, _ = io.Copy(client, server); _ = client.Close() }()
	buf := make([]byte, 32<<10)
	var tail []byte
	for {
		n, err := client.Read(buf)
		if n > 0 {
			window := append(tail, buf[:n]...)
			if p.shouldCut(window) {
				p.closeAll()
				return
			}
			tail = append([]byte(nil), window[max(0, len(window)-64):]...)
			if _, err := server.Write(buf[:n]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = server.Close()
	_ = client.Close()
}

// shouldCut reports whether window holds the armed trip bytes, and disarms it.
func (p *tcpProxy) shouldCut(window []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trip == nil || !bytes.Contains(window, p.trip) {
		return false
	}
	p.trip, p.cut = nil, true
	return true
}

// cutOn arms the proxy: the next time a client sends b, every connection is
// closed before b reaches the server.
func (p *tcpProxy) cutOn(b []byte) {
	p.mu.Lock()
	p.trip, p.cut = b, false
	p.mu.Unlock()
}

func (p *tcpProxy) wasCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// setDown closes every connection and refuses new ones while down.
func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.closeAll()
	}
}

func (p *tcpProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// TestReplicasStartingTogetherOnAnEmptyPostgresAllStart opens several stores
// at once on an empty schema, as replicas (or `serve` and `migrate`) starting
// together do: each must start, and the migrations run once.
func TestReplicasStartingTogetherOnAnEmptyPostgresAllStart(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		u := directorytest.PostgresSchemaURL(t)
		var wg sync.WaitGroup
		stores := make([]*directory.SQLStore, 4)
		for i := range stores {
			wg.Go(func() {
				s, err := directory.OpenPostgres(bg, u, nil)
				if err != nil {
					t.Errorf("round %d: replica %d did not start: %v", round, i, err)
					return
				}
				stores[i] = s
			})
		}
		wg.Wait()
		for _, s := range stores {
			if s != nil {
				s.Close()
			}
		}
		if t.Failed() {
			return
		}
		s := openPostgresAt(t, u)
		newOrg(t, s)
	}
}

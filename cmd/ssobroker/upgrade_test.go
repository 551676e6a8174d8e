package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// previousRelease is the tag of the release before this one. A rolling
// upgrade runs it against the schema this release migrated
// (docs/operations.md, "Upgrades"). Move it forward at every release.
const previousRelease = "v0.1.0"

// previousReleaseCommit is the commit previousRelease tags. A clone made
// without tags still has it in its history, so the test builds the commit
// when the tag is absent.
const previousReleaseCommit = "2f756c7f2898fa5d9040a5a1051685031c8a26a7"

// migrationLockKey is the advisory lock key of directory migrations
// (directory/migrate.go); a test holds it to play a stuck replica.
const migrationLockKey = 7204170

// freshDatabase creates an empty PostgreSQL database on the test server and
// returns its URL; the migration lock is per database, so holding it here
// never stalls other tests.
func freshDatabase(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := directorytest.PostgresURL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test and is not reachable at %s: %v", base, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ssb_test_db_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	// DROP DATABASE waits for a checkpoint, which a busy server may take
	// long to start. It is not cancelled (pgx would send a cancel request):
	// if it outlasts the wait, the server finishes it after the test.
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() {
			ctx := context.Background()
			c, err := pgx.Connect(ctx, base)
			if err != nil {
				done <- err
				return
			}
			defer c.Close(ctx)
			_, err = c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("drop test database %s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Logf("drop test database %s: still waiting for the server's checkpoint; it completes on its own", name)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestMigrationLockHeldByAStuckReplica: while another session holds the
// migration lock, migrate and serve wait, say who holds it, and exit 1
// after SSOBROKER_MIGRATION_LOCK_TIMEOUT with nothing applied; once it is
// released, migrate applies everything, a second run applies nothing, and
// a replica that has nothing to migrate starts even while the lock is held.
func TestMigrationLockHeldByAStuckReplica(t *testing.T) {
	dbURL := freshDatabase(t)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	var pid int
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockKey)); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SSOBROKER_DATABASE_URL":           dbURL,
		"SSOBROKER_DATA_DIR":               t.TempDir(),
		"SSOBROKER_MIGRATION_LOCK_TIMEOUT": "1s",
	}
	wantLine := fmt.Sprintf("waiting for the migration lock held by pid %d since ", pid)
	for _, args := range [][]string{{"migrate"}, {"serve", "--addr", freeAddr(t)}} {
		code, _, stderr := runCLI(t, env, args...)
		if code != exitFailed {
			t.Fatalf("%s under a held migration lock: exit %d, want %d\n%s", args[0], code, exitFailed, stderr)
		}
		if !strings.Contains(stderr, wantLine) {
			t.Errorf("%s does not log %q:\n%s", args[0], wantLine, stderr)
		}
		if !strings.Contains(stderr, "migration lock not acquired within 1s") || !strings.Contains(stderr, "SSOBROKER_MIGRATION_LOCK_TIMEOUT") {
			t.Errorf("%s does not say why it exits:\n%s", args[0], stderr)
		}
		var tables int
		if err := holder.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("%s created %d tables without the lock", args[0], tables)
		}
	}

	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(migrationLockKey)); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, env, "migrate")
	if code != exitOK || !strings.Contains(stderr, "applied migration") {
		t.Fatalf("migrate after the lock was released: exit %d\n%s", code, stderr)
	}
	var applied int
	if err := holder.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil || applied == 0 {
		t.Fatalf("schema_migrations after migrate: %d rows, %v", applied, err)
	}
	code, _, stderr = runCLI(t, env, "migrate")
	if code != exitOK || strings.Contains(stderr, "applied migration") {
		t.Fatalf("a second migrate must apply nothing: exit %d\n%s", code, stderr)
	}

	// A replica restarting on a migrated schema takes no lock.
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockKey)); err != nil {
		t.Fatal(err)
	}
	base, stop := serving(t, env)
	if got := status(t, base+"/readyz"); got != http.StatusOK {
		t.Errorf("/readyz of a replica started on a migrated schema under a held lock = %d", got)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve exit %d", code)
	}
}

// repoRoot is the git work tree holding this package. The previous-release
// test needs the repository's history and tags: CI clones it whole
// (docs/testing.md), never shallow.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").CombinedOutput()
	if err != nil {
		t.Fatalf("the previous-release test needs git and this repository's history: git rev-parse: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// goTool is the go command that runs this test.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command on PATH or in GOROOT to build %s: %v", previousRelease, err)
	}
	return p
}

// buildRelease builds cmd/ssobroker of the tagged commit tag from git
// history into a temporary directory and returns the binary's path.
func buildRelease(t *testing.T, tag string) string {
	t.Helper()
	root := repoRoot(t)
	if _, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "--quiet", tag+"^{commit}").CombinedOutput(); err != nil {
		// No tag in this clone: the commit it names is in the history.
		if out, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "--quiet", previousReleaseCommit+"^{commit}").CombinedOutput(); err != nil {
			t.Fatalf("neither tag %s nor its commit %s is in this clone (%v %s): the previous-release compatibility test needs "+
				"the repository's full history; clone without --depth", tag, previousReleaseCommit, err, out)
		}
		tag = previousReleaseCommit
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("git", "-C", root, "archive", "--format=tar", tag)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	var aerr, uerr bytes.Buffer
	archive.Stderr, untar.Stderr = &aerr, &uerr
	if err := untar.Start(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v %s", tag, err, aerr.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("extract %s: %v %s", tag, err, uerr.String())
	}
	bin := filepath.Join(dir, "ssobroker-"+tag)
	build := exec.Command(goTool(t), "build", "-o", bin, "./cmd/ssobroker")
	build.Dir = src
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s from git history: %v\n%s", tag, err, out)
	}
	return bin
}

// process is a binary running "serve" in a child process.
type process struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startBinary runs bin serve with env and waits until /healthz answers.
func startBinary(t *testing.T, bin string, env map[string]string) (string, *process) {
	t.Helper()
	addr := freeAddr(t)
	p := &process{logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "SSOBROKER_ADDR=" + addr, "SSOBROKER_ISSUER=http://" + addr}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	w := lockedWriter{p.mu, p.logs}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return base, p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s serve exited before answering (%v):\n%s", filepath.Base(bin), err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serve did not answer /healthz within 30s:\n%s", filepath.Base(bin), p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPreviousReleaseServesMigratedSchema is the rolling-upgrade guarantee
// (docs/operations.md, "Upgrades"): the previous release, built from its
// git tag, serves on a schema this release migrated and populated —
// health, readiness, JWKS, a client_credentials token for a service
// account this release created, and /api/v1/me with its API key.
func TestPreviousReleaseServesMigratedSchema(t *testing.T) {
	old := buildRelease(t, previousRelease)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{
		"SSOBROKER_DATABASE_URL": directorytest.PostgresSchemaURL(t),
		"SSOBROKER_SECRET_KEY":   base64.StdEncoding.EncodeToString(key),
		"SSOBROKER_DATA_DIR":     t.TempDir(),
	}
	if code, _, stderr := runCLI(t, env, "migrate"); code != exitOK {
		t.Fatalf("migrate with this release: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, env, "admin", "org", "create", "--name", "Acme"); code != exitOK {
		t.Fatalf("org create: %s", stderr)
	}
	code, out, stderr := runCLI(t, env, "admin", "service-account", "create", "--org", "acme", "--name", "ci", "--role", "admin", "--json")
	if code != exitOK {
		t.Fatalf("service-account create: exit %d %s", code, stderr)
	}
	var sa struct {
		APIKey string `json:"api_key"`
		SA     struct {
			ID string `json:"id"`
		} `json:"service_account"`
	}
	if err := json.Unmarshal([]byte(out), &sa); err != nil || sa.APIKey == "" || sa.SA.ID == "" {
		t.Fatalf("service-account create output: %v %s", err, out)
	}
	// This release's serve creates and seals the signing keys.
	base, stop := serving(t, env)
	if got := status(t, base+"/readyz"); got != http.StatusOK {
		t.Fatalf("this release's /readyz = %d", got)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("this release's serve exit %d", code)
	}

	base, p := startBinary(t, old, env)
	if got := status(t, base+"/readyz"); got != http.StatusOK {
		t.Fatalf("%s /readyz on the migrated schema = %d\n%s", previousRelease, got, p.output())
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if got := call(t, "GET", base+"/.well-known/jwks.json", "", "", &jwks); got != http.StatusOK || len(jwks.Keys) == 0 {
		t.Fatalf("%s JWKS: %d, %d keys\n%s", previousRelease, got, len(jwks.Keys), p.output())
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sa.SA.ID}, "client_secret": {sa.APIKey}}.Encode()
	if got := call(t, "POST", base+"/oauth2/token", "", form, &tok); got != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("%s client_credentials for a service account this release created: %d\n%s", previousRelease, got, p.output())
	}
	var me map[string]any
	if got := call(t, "GET", base+"/api/v1/me", "Bearer "+sa.APIKey, "", &me); got != http.StatusOK || len(me) == 0 {
		t.Fatalf("%s /api/v1/me with the API key: %d %v\n%s", previousRelease, got, me, p.output())
	}
	if got := call(t, "GET", base+"/api/v1/me", "Bearer "+tok.AccessToken, "", nil); got != http.StatusOK {
		t.Fatalf("%s /api/v1/me with its own access token: %d\n%s", previousRelease, got, p.output())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Errorf("%s serve did not exit cleanly on SIGTERM: %v\n%s", previousRelease, err, p.output())
	}
	p.done <- nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// runCLI runs one command line with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestInvalidConfigurationIsReportedAllAtOnce(t *testing.T) {
	env := map[string]string{
		"SSOBROKER_ISSUER":       "http://sso.example.com",
		"SSOBROKER_ADDR":         "no-port",
		"SSOBROKER_DATABASE_URL": "mysql://x",
		"SSOBROKER_REDIS_URL":    "http://x",
		"SSOBROKER_SECRET_KEY":   "c2hvcnQ=",
		"SSOBROKER_LOG_FORMAT":   "xml",
		"SSOBROKER_SIGNING_ALG":  "HS256",
		"SSOBROKER_DATA_DIR":     t.TempDir(),
	}
	code, _, stderr := runCLI(t, env, "serve")
	if code != exitUsage {
		t.Fatalf("exit code %d, want %d", code, exitUsage)
	}
	for _, name := range []string{"SSOBROKER_ISSUER", "SSOBROKER_ADDR", "SSOBROKER_DATABASE_URL", "SSOBROKER_REDIS_URL", "SSOBROKER_SECRET_KEY", "SSOBROKER_LOG_FORMAT", "SSOBROKER_SIGNING_ALG"} {
		if !strings.Contains(stderr, name) {
			t.Errorf("error output does not name %s:\n%s", name, stderr)
		}
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	env := map[string]string{"SSOBROKER_ISSUER": "ftp://bad", "SSOBROKER_DATA_DIR": t.TempDir()}
	code, out, stderr := runCLI(t, env, "admin", "bootstrap", "--org", "Acme", "--email", "ada@acme.com", "--issuer", "https://sso.example.com", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, `"sign_in_url": "https://sso.example.com/admin/sign-in/`) {
		t.Fatalf("the link does not use the --issuer flag:\n%s", out)
	}
}

func TestUnreachableDatabaseFailsNamingIt(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/db", "SSOBROKER_DATA_DIR": t.TempDir()}
	code, _, stderr := runCLI(t, env, "migrate")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stderr, "PostgreSQL") || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("error does not name the database: %s", stderr)
	}
	if strings.Contains(stderr, "hunter2") {
		t.Errorf("error leaks the database password: %s", stderr)
	}
}

func TestBootstrapIsIdempotent(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()}
	var first, second map[string]any
	for i, dst := range []*map[string]any{&first, &second} {
		code, out, stderr := runCLI(t, env, "admin", "bootstrap", "--org", "Acme", "--email", "ada@acme.com", "--json")
		if code != exitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, stderr)
		}
		if err := json.Unmarshal([]byte(out), dst); err != nil {
			t.Fatalf("run %d: output is not JSON: %v\n%s", i, err, out)
		}
	}
	admin := func(m map[string]any) any { return m["admin"].(map[string]any)["principal_id"] }
	if admin(first) != admin(second) || first["admin_created"] != true || second["admin_created"] != false {
		t.Errorf("second bootstrap made another admin: %v (created %v) then %v (created %v)", admin(first), first["admin_created"], admin(second), second["admin_created"])
	}
	if first["sign_in_url"] == second["sign_in_url"] || !strings.HasPrefix(second["sign_in_url"].(string), "http://127.0.0.1:8080/admin/sign-in/") {
		t.Errorf("each bootstrap prints a new one-time link: %v then %v", first["sign_in_url"], second["sign_in_url"])
	}
	if !strings.Contains(fmt.Sprint(second["actions"]), "exists") {
		t.Errorf("second run does not say the org exists: %v", second["actions"])
	}
	code, out, _ := runCLI(t, env, "admin", "org", "list", "--json")
	var orgs []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &orgs) != nil || len(orgs) != 1 {
		t.Fatalf("org list after two bootstraps: exit %d, %s", code, out)
	}
}

func TestServiceAccountCreatePrintsKeyOnce(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()}
	if code, _, stderr := runCLI(t, env, "admin", "org", "create", "--name", "Acme"); code != exitOK {
		t.Fatal(stderr)
	}
	code, out, stderr := runCLI(t, env, "admin", "service-account", "create", "--org", "acme", "--name", "ci", "--workspace", "acme:owner", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !strings.HasPrefix(res.APIKey, "ssb_") {
		t.Fatalf("no API key in output: %s", out)
	}
	if code, _, _ := runCLI(t, env, "admin", "service-account", "create", "--org", "acme", "--name", "x", "--workspace", "acme:boss"); code != exitUsage {
		t.Errorf("bad workspace role: exit %d, want %d", code, exitUsage)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serving runs "serve" until the returned stop function is called, which
// returns the exit code.
func serving(t *testing.T, env map[string]string) (base string, stop func() int) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs bytes.Buffer
	var mu sync.Mutex
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr}, io.Discard, lockedWriter{&mu, &logs}, func(k string) string { return env[k] })
	}()
	base = "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			mu.Lock()
			t.Fatalf("serve exited with %d before answering:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /healthz within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	return base, stop
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEmbeddedServeKeepsDataAcrossRestart(t *testing.T) {
	env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()}
	base, stop := serving(t, env)
	if got := status(t, base+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz = %d", got)
	}
	// The CLI works on the same store while the server runs.
	if code, _, stderr := runCLI(t, env, "admin", "org", "create", "--name", "Persisted"); code != exitOK {
		t.Fatal(stderr)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("graceful stop exit %d", code)
	}
	_, stop = serving(t, env)
	defer stop()
	_, out, _ := runCLI(t, env, "admin", "org", "list")
	if !strings.Contains(out, "Persisted") {
		t.Fatalf("org lost across restart; org list:\n%s", out)
	}
}

// cutProxy forwards TCP to target until cut, then refuses until restored.
type cutProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{target: target, addr: freeAddr(t)}
	p.restore(t)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestReadyzIs503WhilePostgresIsAway(t *testing.T) {
	u, err := url.Parse(directorytest.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr
	env := map[string]string{"SSOBROKER_DATABASE_URL": u.String(), "SSOBROKER_DATA_DIR": t.TempDir()}
	base, stop := serving(t, env)
	defer stop()
	if got := status(t, base+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz with PostgreSQL up = %d", got)
	}
	proxy.cut()
	if got := status(t, base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with PostgreSQL away = %d, want 503", got)
	}
	if got := status(t, base+"/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz while PostgreSQL is away = %d; the process must keep serving", got)
	}
	proxy.restore(t)
	deadline := time.Now().Add(10 * time.Second)
	for status(t, base+"/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover within 10s after PostgreSQL came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

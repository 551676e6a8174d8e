// Package peers starts the independent protocol peers of ssobroker's tests
// (docs/testing.md) as child processes: node scripts of the npm project in e2e/ —
// oidc-provider as the corporate IdP (e2e/upstream-idp.mjs), and any other
// script that speaks JSON lines on stdout.
//
// A missing node or npm module fails the test with the command to run; it
// never skips: these peers are how the sign-in code is proven.
package peers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Dir returns the absolute path of the npm project holding the peers (e2e/).
func Dir(t testing.TB) string {
	t.Helper()
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Dir(filepath.Dir(file))
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
			return dir
		}
	}
	// Built with -trimpath: find the module root from the working directory.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "e2e")
		}
		if filepath.Dir(d) == d {
			t.Fatalf("cannot find the module root (go.mod) above %s", wd)
		}
	}
}

// RequireNode fails t — never skips — unless node 20 or later is on PATH and
// the npm modules are installed in Dir (oidc-provider, openid-client and jose
// unless modules names others). It returns the node binary.
func RequireNode(t testing.TB, modules ...string) string {
	t.Helper()
	const hint = "run the tests with ./.ci/test, which installs node 20+ and the e2e npm modules (npm ci in e2e/)"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: these tests drive independent peers (npm oidc-provider, openid-client, jose); %s (CI=%s)", hint, os.Getenv("CI"))
	}
	out, err := exec.Command(node, "-p", "process.versions.node").Output()
	if err != nil {
		t.Fatalf("node does not run: %v; %s", err, hint)
	}
	if major, _ := strconv.Atoi(strings.SplitN(strings.TrimSpace(string(out)), ".", 2)[0]); major < 20 {
		t.Fatalf("node %s is too old (oidc-provider 9 needs 20+); %s", strings.TrimSpace(string(out)), hint)
	}
	if len(modules) == 0 {
		modules = []string{"oidc-provider", "openid-client", "jose"}
	}
	dir := Dir(t)
	for _, m := range modules {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m, "package.json")); err != nil {
			t.Fatalf("npm module %s is missing in %s/node_modules; %s", m, dir, hint)
		}
	}
	return node
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ScriptOptions configure StartScript.
type ScriptOptions struct {
	// Args follow the script name.
	Args []string
	// Log also receives the script's stderr (it is always kept in memory,
	// see Script.Log).
	Log io.Writer
	// Stdin opens a pipe to the script's standard input (Script.Send).
	Stdin bool
	// StartTimeout bounds the wait for the first line; default 30 s.
	StartTimeout time.Duration
}

// Script is a running node script of Dir that prints JSON lines on stdout,
// the first of which says it is ready.
type Script struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	log   *SyncBuffer
}

// StartScript starts node script (a file in Dir) and waits for its first
// stdout line, which it returns. The process is stopped (SIGTERM, then
// SIGKILL after 5 s) when t ends; if t failed, its stderr is printed
// (unless it went to opts.Log too, which the caller prints).
func StartScript(t testing.TB, script string, opts ScriptOptions) (*Script, json.RawMessage) {
	t.Helper()
	node := RequireNode(t)
	cmd := exec.Command(node, append([]string{script}, opts.Args...)...)
	cmd.Dir = Dir(t)
	cmd.SysProcAttr = ChildAttrs()
	s := &Script{name: script, cmd: cmd, lines: make(chan string, 64), log: &SyncBuffer{}}
	cmd.Stderr = s.log
	if opts.Log != nil {
		cmd.Stderr = io.MultiWriter(s.log, opts.Log)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Stdin {
		if s.stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", script, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		if s.stdin != nil {
			_ = s.stdin.Close()
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() && opts.Log == nil {
			t.Logf("---- stderr of node %s ----\n%s", script, s.log.String())
		}
	})
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	line, err := s.Next(timeout)
	if err != nil {
		t.Fatalf("node %s did not start: %v\nstderr:\n%s", script, err, s.log.String())
	}
	return s, json.RawMessage(line)
}

// Next returns the script's next stdout line, waiting at most timeout.
func (s *Script) Next(timeout time.Duration) (string, error) {
	select {
	case l, ok := <-s.lines:
		if !ok {
			return "", fmt.Errorf("node %s exited", s.name)
		}
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("node %s said nothing within %s", s.name, timeout)
	}
}

// Send writes v as one JSON line on the script's stdin.
func (s *Script) Send(v any) error {
	if s.stdin == nil {
		return errors.New("the script was started without stdin")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.stdin.Write(append(b, '\n'))
	return err
}

// Log returns what the script printed on stderr so far.
func (s *Script) Log() string { return s.log.String() }

// UpstreamOptions configure StartUpstream.
type UpstreamOptions struct {
	// Callbacks are the redirect URIs of the static client, registered exactly.
	Callbacks    []string
	ClientID     string // default "ssobroker"
	ClientSecret string // default "ssobroker-secret"
	// ClaimsInIDToken puts email, name and groups in the ID token too (by
	// default oidc-provider puts scope-requested claims only in userinfo).
	ClaimsInIDToken bool
	// PostLogout are the client's post_logout_redirect_uris (RP-initiated
	// logout at the IdP's end_session_endpoint).
	PostLogout []string
	// Log also receives the IdP's stderr.
	Log io.Writer
}

// Upstream is one running npm oidc-provider (e2e/upstream-idp.mjs): a
// corporate IdP with one static confidential client and a scriptable login
// (GET /interaction/{uid}?account=ID&email=…&email_verified=…&groups=…).
type Upstream struct {
	Issuer string
	script *Script
}

// StartUpstream starts oidc-provider on a free loopback port.
func StartUpstream(t testing.TB, o UpstreamOptions) *Upstream {
	t.Helper()
	if len(o.Callbacks) == 0 {
		t.Fatal("StartUpstream: no callback URL")
	}
	args := []string{"0", strings.Join(o.Callbacks, ",")}
	if o.ClientID != "" {
		args = append(args, "--client-id", o.ClientID)
	}
	if o.ClientSecret != "" {
		args = append(args, "--client-secret", o.ClientSecret)
	}
	if o.ClaimsInIDToken {
		args = append(args, "--claims-in-id-token")
	}
	if len(o.PostLogout) > 0 {
		args = append(args, "--post-logout-redirect-uris", strings.Join(o.PostLogout, ","))
	}
	s, line := StartScript(t, "upstream-idp.mjs", ScriptOptions{Args: args, Log: o.Log})
	var ready struct {
		Ready  bool   `json:"ready"`
		Issuer string `json:"issuer"`
	}
	if json.Unmarshal(line, &ready) != nil || !ready.Ready || ready.Issuer == "" {
		t.Fatalf("oidc-provider did not start (%q): %s", line, s.Log())
	}
	return &Upstream{Issuer: ready.Issuer, script: s}
}

// Log returns what the IdP printed on stderr so far.
func (u *Upstream) Log() string { return u.script.Log() }

// Stats are the IdP's counters (GET /__test/stats): requests seen and the
// time spent answering the back-channel requests a relying party makes.
type Stats struct {
	Userinfo int `json:"userinfo"`
	Token    int `json:"token"`
	// BackchannelMS is the IdP's own time answering token, userinfo, JWKS
	// and discovery requests, in milliseconds, summed.
	BackchannelMS float64 `json:"backchannel_ms"`
}

// Stats reads the IdP's counters.
func (u *Upstream) Stats(t testing.TB) Stats {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u.Issuer + "/__test/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// UserinfoCalls reports how many userinfo requests the IdP answered.
func (u *Upstream) UserinfoCalls(t testing.TB) int {
	t.Helper()
	return u.Stats(t).Userinfo
}

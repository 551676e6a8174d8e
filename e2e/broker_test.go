package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/e2e/peers"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

// secretKey is the SSOBROKER_SECRET_KEY every process of a test shares
// (base64 of 32 bytes): replicas must open each other's sealed keys and
// IdP client secrets.
const secretKey = "ZTJlLXRlc3Qtc2VjcmV0LWtleS0zMi1ieXRlcy0hISE="

// Generous bounds for a loaded 2-core machine; every wait polls.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// replica is one running `ssobroker serve`.
type replica struct {
	name   string
	base   string // http://127.0.0.1:port, where this process listens
	log    string // file with its stdout and stderr
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// stop sends SIGTERM (the broker drains and exits), then SIGKILL.
func (r *replica) stop() {
	r.once.Do(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(stopTimeout):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	})
}

func (r *replica) running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// cluster is two replicas of the broker sharing one PostgreSQL schema, one
// Redis, the secret key and the issuer (replica A's URL, as a load
// balancer's name would be).
type cluster struct {
	bin    string
	issuer string
	a, b   *replica
	env    []string // the configuration every process gets
	dbURL  string   // the shared PostgreSQL schema
	logDir string
	dns    *txtServer // the DNS server of SSOBROKER_DNS_RESOLVER (domain verification)
}

// startCluster starts a fresh PostgreSQL schema, a redis-server of the
// test's own, and two `ssobroker serve` processes on them, at the same
// time (they apply migrations and create signing keys concurrently, as
// replicas of one deployment do).
func startCluster(t *testing.T) *cluster {
	t.Helper()
	return startClusterOnHost(t, "127.0.0.1")
}

// startClusterOnHost is startCluster with the issuer on host (a loopback
// name: "localhost" puts the broker on another site than IdPs on
// 127.0.0.1, as a browser sees sites).
func startClusterOnHost(t *testing.T, host string) *cluster {
	t.Helper()
	peers.RequireNode(t)
	bin := brokerBinary(t)
	c := &cluster{bin: bin, logDir: t.TempDir()}
	var redis *sessiontest.Server
	// Registered first, so it runs last: every process has stopped and
	// written all it will.
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(t)
			if redis != nil {
				t.Logf("---- redis-server %s ----\n%s", redis.Addr, redis.Log())
			}
		}
	})
	c.dbURL = directorytest.PostgresSchemaURL(t)
	redis = sessiontest.StartRedis(t)
	c.dns = startTXTServer(t)
	for attempt := 1; ; attempt++ {
		portA, portB := freePort(t), freePort(t)
		c.issuer = "http://" + host + ":" + strconv.Itoa(portA)
		c.env = []string{
			"SSOBROKER_ISSUER=" + c.issuer,
			"SSOBROKER_DATABASE_URL=" + c.dbURL,
			"SSOBROKER_REDIS_URL=" + redis.URL(),
			"SSOBROKER_SECRET_KEY=" + secretKey,
			"SSOBROKER_ALLOW_PRIVATE_IDP=true",
			"SSOBROKER_DATA_DIR=" + filepath.Join(c.logDir, "data"),
			"SSOBROKER_LOG_FORMAT=text",
			"SSOBROKER_DNS_RESOLVER=" + c.dns.addr,
		}
		c.a = c.start(t, fmt.Sprintf("replica-a-%d", attempt), portA)
		c.b = c.start(t, fmt.Sprintf("replica-b-%d", attempt), portB)
		errA, errB := make(chan error, 1), make(chan error, 1)
		go func() { errA <- waitReady(c.a) }()
		go func() { errB <- waitReady(c.b) }()
		ea, eb := <-errA, <-errB
		if ea == nil && eb == nil {
			return c
		}
		// A port taken between choosing and binding it: choose again.
		if attempt < 3 && (addrInUse(c.a) || addrInUse(c.b)) {
			c.a.stop()
			c.b.stop()
			continue
		}
		t.Fatalf("the replicas did not become ready: A: %v; B: %v", ea, eb)
	}
}

// startServe starts one `ssobroker serve` as c.a on a free port (choosing
// again when the port was taken meanwhile); configure sets c.issuer and
// c.env for that port.
func (c *cluster) startServe(t *testing.T, configure func(port int)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		configure(port)
		c.a = c.start(t, fmt.Sprintf("serve-%d", attempt), port)
		err := waitReady(c.a)
		if err == nil {
			return
		}
		if attempt < 3 && addrInUse(c.a) {
			c.a.stop()
			continue
		}
		t.Fatalf("serve did not become ready: %v", err)
	}
}

// start runs `ssobroker serve` on port.
func (c *cluster) start(t *testing.T, name string, port int) *replica {
	t.Helper()
	r := &replica{name: name, base: "http://127.0.0.1:" + strconv.Itoa(port), log: filepath.Join(c.logDir, name+".log"), exited: make(chan struct{})}
	f, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(c.bin, "serve")
	r.cmd.Env = append(c.baseEnv(), "SSOBROKER_ADDR=127.0.0.1:"+strconv.Itoa(port))
	r.cmd.Stdout, r.cmd.Stderr = f, f
	r.cmd.SysProcAttr = peers.ChildAttrs()
	if err := r.cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); _ = f.Close(); close(r.exited) }()
	t.Cleanup(r.stop)
	return r
}

// baseEnv is the parent's environment without any SSOBROKER_ setting, plus
// the cluster's configuration.
func (c *cluster) baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSOBROKER_") {
			env = append(env, kv)
		}
	}
	return append(env, c.env...)
}

// waitReady polls /readyz until it answers 200, the process exits, or
// startTimeout passes.
func waitReady(r *replica) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		if !r.running() {
			return fmt.Errorf("%s exited: %s", r.name, r.cmd.ProcessState)
		}
		resp, err := client.Get(r.base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s (last: %v)", r.name, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func addrInUse(r *replica) bool {
	b, _ := os.ReadFile(r.log)
	return !r.running() && bytes.Contains(b, []byte("address already in use"))
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dumpLogs prints every log file the test's processes wrote.
func (c *cluster) dumpLogs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(c.logDir, "*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(b) > 200<<10 {
			b = append([]byte("…\n"), b[len(b)-200<<10:]...)
		}
		t.Logf("---- %s ----\n%s", filepath.Base(f), b)
	}
}

// logFile returns a writer appending to a new log file of the test, which
// is printed if the test fails.
func (c *cluster) logFile(t *testing.T, name string) io.Writer {
	t.Helper()
	f, err := os.Create(filepath.Join(c.logDir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// replicaLog returns what a replica has logged so far.
func (c *cluster) replicaLog(r *replica) string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

// cli runs `ssobroker ARGS… --json` against the cluster's store and decodes
// its output into out.
func (c *cluster) cli(t *testing.T, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(args, "--json")...)
	cmd.Env = c.baseEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ssobroker %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("ssobroker %s printed %q: %v", strings.Join(args, " "), stdout.String(), err)
	}
}

// apiClient calls the admin API of one replica with an API key.
type apiClient struct {
	base, key string
	http      *http.Client
}

func (c *cluster) api(r *replica, key string) *apiClient {
	return &apiClient{base: r.base, key: key, http: &http.Client{Timeout: 30 * time.Second}}
}

// do sends body (JSON, unless nil) and decodes a JSON answer into out (if
// not nil); it returns the status and the raw answer.
func (a *apiClient) do(t *testing.T, method, path string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s answered %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

// must is do that fails the test unless the answer has status want.
func (a *apiClient) must(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	if got, raw := a.do(t, method, path, body, out); got != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, got, want, raw)
	}
}

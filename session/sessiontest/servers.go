package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ssobroker/ssobroker/session"
)

// DefaultRedisURL is used when SSOBROKER_TEST_REDIS_URL is not set.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// RedisURL returns the shared Redis the tests use: SSOBROKER_TEST_REDIS_URL,
// or DefaultRedisURL.
func RedisURL() string {
	if u := os.Getenv("SSOBROKER_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultRedisURL
}

// RandomPrefix returns a fresh key prefix, so that tests and packages
// running in parallel on one Redis never see each other's keys.
func RandomPrefix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ssbtest:" + hex.EncodeToString(b) + ":"
}

// OpenRedis opens a session.Redis on rawURL with a fresh random key prefix
// (unless opts.KeyPrefix is set) and closes it when t ends. On a single-node
// URL it also deletes the prefix's keys at the end. An unreachable Redis
// fails the test — it never skips.
func OpenRedis(t testing.TB, rawURL string, opts session.Options) *session.Redis {
	t.Helper()
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = RandomPrefix()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := session.NewRedis(ctx, rawURL, opts)
	if err != nil {
		t.Fatalf("Redis is required for this test and is not usable at %s: %v\n"+
			"run the tests with ./.ci/test, which starts it, or set SSOBROKER_TEST_REDIS_URL", redact(rawURL), err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		if s.Mode() == session.ModeSingle {
			deletePrefix(t, rawURL, opts.KeyPrefix)
		}
	})
	return s
}

// redact hides a password in a Redis URL for messages.
func redact(rawURL string) string {
	if i := strings.Index(rawURL, "@"); i >= 0 {
		if j := strings.Index(rawURL, "://"); j >= 0 && j < i {
			return rawURL[:j+3] + "…" + rawURL[i:]
		}
	}
	return rawURL
}

// deletePrefix removes the keys a test left under prefix.
func deletePrefix(t testing.TB, rawURL, prefix string) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return
	}
	o.MaxRetries, o.DialerRetries = -1, 1 // an outage drill may have stopped the server
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Logf("clean test keys: %v", err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
			t.Logf("clean test keys: %v", err)
			return
		}
		keys = keys[n:]
	}
}

// Server is a redis-server process a test started on a loopback port.
type Server struct {
	Addr string // 127.0.0.1:port
	Dir  string

	cmd      *exec.Cmd
	log      *bytes.Buffer
	exited   chan struct{}
	stopOnce sync.Once
}

// URL returns redis://Addr/0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Stop kills the server and waits for it to exit; calling it again does
// nothing. Tests call it to simulate an outage.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

// Log returns what the server printed so far.
func (s *Server) Log() string { return s.log.String() }

// requireBinaries fails the test when the Redis tools are missing.
func requireBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is required on PATH for this test (Debian: apt-get install redis-server; ./.ci/test installs it): %v", n, err)
		}
	}
}

// freePort returns a loopback port that was free a moment ago; with
// busPort, port+10000 (the cluster bus) was free too.
func freePort(t testing.TB, busPort bool) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !busPort {
			_ = l.Close()
			return port
		}
		if port+10000 < 65536 {
			if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
				_ = l2.Close()
				_ = l.Close()
				return port
			}
		}
		_ = l.Close()
	}
	t.Fatalf("no free loopback port found")
	return 0
}

// StartRedis starts a throwaway redis-server on a free loopback port (no
// persistence) and stops it when t ends. Extra arguments are passed to
// redis-server. It fails the test when redis-server is missing or does not
// come up.
func StartRedis(t testing.TB, extra ...string) *Server {
	t.Helper()
	requireBinaries(t, "redis-server")
	var last error
	for range 3 {
		s, err := startServer(t, false, nil, extra...)
		if err == nil {
			return s
		}
		last = err
	}
	t.Fatalf("start redis-server: %v", last)
	return nil
}

// startServer runs redis-server in the foreground of a child process; with
// args0 set, they replace the leading arguments (sentinel config file).
func startServer(t testing.TB, cluster bool, args0 []string, extra ...string) (*Server, error) {
	port := freePort(t, cluster)
	dir := filepath.Join(t.TempDir(), strconv.Itoa(port))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{}, args0...)
	args = append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
	}
	args = append(args, extra...)
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, log: &bytes.Buffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Stdout, s.cmd.Stderr = &syncWriter{w: s.log}, &syncWriter{w: s.log}
	s.cmd.SysProcAttr = childAttrs()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.Stop)

	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("redis-server on %s exited: %s", s.Addr, s.Log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server on %s did not answer: %v; log: %s", s.Addr, err, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// StartCluster starts a Redis Cluster of three masters on loopback
// (redis-cli --cluster create, then wait for
// cluster_state:ok on every node), stops it when t ends, and returns a URL
// listing the three nodes, comma-separated. Needs redis-server and
// redis-cli; fails the test when missing.
func StartCluster(t testing.TB) string {
	t.Helper()
	requireBinaries(t, "redis-server", "redis-cli")
	nodes := make([]*Server, 3)
	for i := range nodes {
		var err error
		for range 3 {
			if nodes[i], err = startServer(t, true, nil); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("start cluster node: %v", err)
		}
	}
	args := []string{"--cluster", "create"}
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		args = append(args, n.Addr)
		urls[i] = "redis://" + n.Addr
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				_ = c.Close()
				t.Fatalf("cluster node %s never reached cluster_state:ok: %v %s", n.Addr, err, info)
			}
			time.Sleep(25 * time.Millisecond)
		}
		_ = c.Close()
	}
	return strings.Join(urls, ",")
}

// StartSentinel starts a master and one Sentinel monitoring it as
// "mymaster" (quorum 1), stops both when t ends, and returns the
// redis+sentinel:// URL that reaches the master through the Sentinel.
func StartSentinel(t testing.TB) string {
	t.Helper()
	requireBinaries(t, "redis-server")
	master := StartRedis(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	var sentinel *Server
	var err error
	for range 3 {
		conf := filepath.Join(t.TempDir(), "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor mymaster %s %s 1\n", host, port)
		if err = os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("write sentinel config: %v", err)
		}
		if sentinel, err = startServer(t, false, []string{conf, "--sentinel"}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	c := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		addr, err := c.GetMasterAddrByName(ctx, "mymaster").Result()
		if err == nil && len(addr) == 2 && addr[1] == port {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("sentinel on %s does not know mymaster: %v", sentinel.Addr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return "redis+sentinel://" + sentinel.Addr + "/0?master_name=mymaster"
}

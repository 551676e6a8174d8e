package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

// validateRedisURL runs the startup configuration check with only
// SSOBROKER_REDIS_URL set and returns what it says about that variable.
func validateRedisURL(t *testing.T, raw string) string {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := bindConfig(fs, func(k string) string {
		if k == "SSOBROKER_REDIS_URL" {
			return raw
		}
		return ""
	})
	err := c.validate()
	if err == nil {
		return ""
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.Contains(line, "SSOBROKER_REDIS_URL") {
			return line
		}
	}
	t.Fatalf("configuration check fails on something else than the Redis URL: %v", err)
	return ""
}

// TestRedisURLFormsAtStartup: every Redis URL form the README and
// docs/operations.md document passes the startup check (which is the
// session package's ValidateURL, the parse session.NewRedis uses), and each
// bad form is refused with a message that says why and never shows the
// password.
func TestRedisURLFormsAtStartup(t *testing.T) {
	for _, u := range []string{
		"redis://redis:6379/0",
		"redis://:password@redis:6379/0",
		"rediss://user:password@cache.example.com:6380/2?dial_timeout=2s",
		"redis://a:7000,redis://b:7001,redis://c:7002",
		"rediss://:pw@a:7000,b:7001,c:7002",
		"redis+cluster://a:7000?addr=b:7001",
		"redis+sentinel://s1:26379/0?master_name=mymaster",
		"redis+sentinel://s1:26379?master_name=mymaster,s2:26379",
		"redis://s1:26379?master_name=mymaster",
		"rediss+sentinel://s1:26379?master_name=mymaster",
		"unix:///run/redis/redis.sock",
		"unix:///run/redis/redis.sock?db=2",
		"unix://:password@/run/redis/redis.sock",
		"redis+unix:///run/redis/redis.sock",
	} {
		if msg := validateRedisURL(t, u); msg != "" {
			t.Errorf("documented form %q refused at startup: %s", u, msg)
		}
	}
	for _, c := range []struct{ url, want string }{
		{"http://x", `scheme "http"`},
		{"redis+sentinel://s1:26379", "master_name"},
		{"unix://localhost/run/redis.sock", "three slashes"},
		{"unix:///a.sock,unix:///b.sock", "cannot form a cluster"},
		{"redis://:secret@a:7000,redis://:other@b:7001", "must match the first"},
		{"redis://a:7000,not a host", "neither a URL nor host:port"},
		{"redis://a:7000/0?nonsense=1", "nonsense"},
		{"redis://a:7000/x", "database number"},
	} {
		msg := validateRedisURL(t, c.url)
		if msg == "" {
			t.Errorf("%q accepted at startup", c.url)
			continue
		}
		if !strings.Contains(msg, c.want) {
			t.Errorf("%q: %q does not say %q", c.url, msg, c.want)
		}
		if strings.Contains(msg, "secret") {
			t.Errorf("%q: the message shows the password: %s", c.url, msg)
		}
	}
}

// startUnixRedis starts redis-server listening only on a unix socket (no
// TCP port) and returns the socket's path. It fails loudly when
// redis-server is missing.
func startUnixRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is required on PATH for this test (Debian: apt-get install redis-server; ./.ci/test installs it): %v", err)
	}
	// A socket path must stay under ~100 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "ssb-redis-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	var logs strings.Builder
	mu := &sync.Mutex{}
	cmd.Stdout, cmd.Stderr = lockedWriter{mu, &logs}, lockedWriter{mu, &logs}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return sock
		}
		select {
		case <-exited:
			mu.Lock()
			t.Fatalf("redis-server on %s exited: %v\n%s", sock, err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer: %v", sock, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeOnEveryRedisForm starts serve on a unix-socket Redis (both
// spellings) and through a Sentinel (both spellings) and checks /readyz,
// which pings the session store.
func TestServeOnEveryRedisForm(t *testing.T) {
	sock := startUnixRedis(t)
	sentinelURL := sessiontest.StartSentinel(t) // redis+sentinel://HOST:PORT/0?master_name=mymaster
	sentinelAddr := strings.TrimPrefix(strings.SplitN(sentinelURL, "/0?", 2)[0], "redis+sentinel://")
	for name, u := range map[string]string{
		"unix":                   "unix://" + sock,
		"redis+unix":             "redis+unix://" + sock + "?db=1",
		"redis+sentinel":         sentinelURL,
		"redis with master_name": "redis://" + sentinelAddr + "/0?master_name=mymaster",
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"SSOBROKER_DATA_DIR": t.TempDir(), "SSOBROKER_REDIS_URL": u}
			base, stop := serving(t, env)
			if got := status(t, base+"/readyz"); got != http.StatusOK {
				t.Errorf("/readyz on %s = %d", name, got)
			}
			if code := stop(); code != exitOK {
				t.Errorf("serve exit %d", code)
			}
		})
	}
}

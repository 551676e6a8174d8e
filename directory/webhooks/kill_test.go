package webhooks_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/webhooks"
)

// broker is one `ssobroker serve` process.
type broker struct {
	cmd  *exec.Cmd
	base string
	log  string
	done chan struct{}
}

func buildBroker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ssobroker")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/ssobroker/ssobroker/cmd/ssobroker")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ssobroker: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startBroker(t *testing.T, bin, name string, env []string, addr string) *broker {
	t.Helper()
	b := &broker{base: "http://" + addr, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.Create(b.log)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(bin, "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSOBROKER_") {
			b.cmd.Env = append(b.cmd.Env, kv)
		}
	}
	b.cmd.Env = append(b.cmd.Env, env...)
	b.cmd.Env = append(b.cmd.Env, "SSOBROKER_ADDR="+addr, "SSOBROKER_ISSUER="+b.base)
	b.cmd.Stdout, b.cmd.Stderr = f, f
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); _ = f.Close(); close(b.done) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.done
		if t.Failed() {
			out, _ := os.ReadFile(b.log)
			t.Logf("---- %s log ----\n%s", name, out)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(b.base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b
			}
		}
		select {
		case <-b.done:
			out, _ := os.ReadFile(b.log)
			t.Fatalf("%s exited before it was ready:\n%s", name, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openStore opens the broker's PostgreSQL database in the test.
func openStore(t *testing.T, dbURL string) *directory.SQLStore {
	t.Helper()
	s, err := directory.OpenPostgres(context.Background(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// adminKey makes an org with an admin service account and an API key of
// it: the org, the account and the key.
func adminKey(t *testing.T, s *directory.SQLStore) (org, account, apiKey string) {
	t.Helper()
	ctx := context.Background()
	org = newOrg(t, s)
	sa, err := s.CreateServiceAccount(ctx, "system:test", directory.NewServiceAccount{OrgID: org, Name: "events", Role: access.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	_, apiKey, err = s.CreateAPIKey(ctx, "system:test", org, sa.ID)
	if err != nil {
		t.Fatal(err)
	}
	return org, sa.ID, apiKey
}

// brokerEnv is the environment of a broker on dbURL with a new secret key,
// reaching loopback receivers, plus extra.
func brokerEnv(t *testing.T, dbURL string, extra ...string) []string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return append([]string{"SSOBROKER_DATABASE_URL=" + dbURL, "SSOBROKER_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
		"SSOBROKER_ALLOW_PRIVATE_IDP=true", "SSOBROKER_DATA_DIR=" + t.TempDir(), "SSOBROKER_LOG_FORMAT=text"}, extra...)
}

// call makes an admin API request with the API key and decodes the answer.
func call(t *testing.T, client *http.Client, base, key, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Errorf("%s %s: %v: %s", method, path, err, raw)
		}
	} else if resp.StatusCode >= 300 {
		t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestKilledMidDeliveryLosesNothing is the proof of docs/webhooks.md: the
// real broker on PostgreSQL, 1,000 admin API changes, SIGKILL while their
// events are being delivered, a restart; the receiver then holds all 1,000
// events (duplicates allowed, each under its webhook-id) and every
// signature verifies with npm standardwebhooks. A second webhook whose
// endpoint sleeps 10 s is subscribed to the same events throughout: the
// admin calls complete while its requests hang.
func TestKilledMidDeliveryLosesNothing(t *testing.T) {
	bin := buildBroker(t)
	dbURL := directorytest.PostgresSchemaURL(t)

	// The org and an admin API key, made in the same database.
	s := openStore(t, dbURL)
	org, _, apiKey := adminKey(t, s)

	// The fast receiver is slowed during the burst so that the kill lands
	// in the middle of delivery.
	var slowDown atomic.Bool
	slowDown.Store(true)
	rc := newReceiver(t, func(message, int) int {
		if slowDown.Load() {
			time.Sleep(40 * time.Millisecond)
		}
		return http.StatusOK
	})
	stopSlow := make(chan struct{})
	var slowInFlight atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowInFlight.Add(1)
		defer slowInFlight.Add(-1)
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		case <-stopSlow:
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	defer close(stopSlow)

	env := brokerEnv(t, dbURL)
	addr := freeAddr(t)
	b := startBroker(t, bin, "broker-1", env, addr)
	client := &http.Client{Timeout: 30 * time.Second}

	// Admin calls, 8 at a time: n workspace creations named prefix-i.
	creations := func(n int, prefix string) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					start := time.Now()
					if call(t, client, b.base, apiKey, "POST", "/api/v1/orgs/"+org+"/workspaces", map[string]string{"name": fmt.Sprintf("%s-%d", prefix, i)}, nil) != http.StatusCreated {
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(start))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		return lat
	}
	// Latency before any webhook exists, for comparison.
	before := creations(300, "base")

	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if call(t, client, b.base, apiKey, "POST", "/api/v1/orgs/"+org+"/webhooks",
		map[string]any{"url": rc.URL + "/siem", "event_types": []string{"audit.*"}}, &hook) != http.StatusCreated {
		t.FailNow()
	}
	if call(t, client, b.base, apiKey, "POST", "/api/v1/orgs/"+org+"/webhooks",
		map[string]any{"url": slow.URL + "/slow", "event_types": []string{"audit.*"}}, nil) != http.StatusCreated {
		t.FailNow()
	}

	// The burst: 1,000 workspace creations through the admin API.
	const burst = 1000
	during := creations(burst, "burst")
	hanging := slowInFlight.Load()
	t.Logf("admin API POST /workspaces latency: before any webhook p50 %s p99 %s; during the burst with a 10 s endpoint subscribed (%d of its requests hanging at the end) p50 %s p99 %s",
		percentile(before, 0.5), percentile(before, 0.99), hanging, percentile(during, 0.5), percentile(during, 0.99))
	if hanging == 0 {
		t.Fatal("the slow endpoint had no request in flight: the burst did not run against a hanging endpoint")
	}

	// SIGKILL in the middle of delivery.
	waitFor(t, 60*time.Second, "deliveries to start", func() bool { return len(rc.distinct()) >= 50 })
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.done
	atKill := len(rc.distinct())
	t.Logf("SIGKILL with %d of %d events received", atKill, burst)
	if atKill >= burst {
		t.Fatalf("all %d events arrived before the kill; the test proves nothing", burst)
	}

	// Restart on the same database and key; deliveries resume.
	slowDown.Store(false)
	restarted := time.Now()
	startBroker(t, bin, "broker-2", env, freeAddr(t))
	waitFor(t, 120*time.Second, fmt.Sprintf("all %d burst events after the restart", burst), func() bool {
		n := 0
		for _, m := range rc.distinct() {
			if bytes.Contains(m.Body, []byte(`"action":"workspace.create"`)) && bytes.Contains(m.Body, []byte(`"burst-`)) {
				n++
			}
		}
		return n >= burst
	})
	t.Logf("all %d events received %s after the restart", burst, time.Since(restarted).Round(time.Millisecond))

	// Every event once or more, each under its own webhook-id, every
	// signature verified independently.
	got := rc.messages()
	names := map[string]string{} // workspace name → webhook-id
	var msgs []signed
	for _, m := range got {
		var p webhooks.Payload
		if err := json.Unmarshal(m.Body, &p); err != nil {
			t.Fatalf("body %s: %v", m.Body, err)
		}
		var after struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(p.Data.After, &after)
		if p.Type == "audit.workspace.create" && strings.HasPrefix(after.Name, "burst-") {
			if id, ok := names[after.Name]; ok && id != m.ID {
				t.Fatalf("workspace %s arrived under two webhook-ids (%s, %s)", after.Name, id, m.ID)
			}
			names[after.Name] = m.ID
		}
		msgs = append(msgs, toSigned(t, hook.Secret, m, true))
	}
	for i := range burst {
		if _, ok := names["burst-"+strconv.Itoa(i)]; !ok {
			t.Fatalf("event of workspace burst-%d lost", i)
		}
	}
	t.Logf("%d requests for %d distinct events (%d duplicates)", len(got), len(rc.distinct()), len(got)-len(rc.distinct()))
	verifyWithNode(t, msgs)
}

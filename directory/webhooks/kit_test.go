package webhooks_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/directory/webhooks"
)

// message is one request a receiver got.
type message struct {
	ID        string
	Timestamp string
	Signature string
	Body      []byte
	At        time.Time
}

// receiver is a webhook endpoint on loopback that keeps what it receives;
// answer decides the status of each request (nil: 204).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []message
	answer func(m message, n int) int
}

func newReceiver(t testing.TB, answer func(m message, n int) int) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := message{ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
			Signature: r.Header.Get("webhook-signature"), Body: body, At: time.Now()}
		rc.mu.Lock()
		rc.got = append(rc.got, m)
		n := len(rc.got)
		rc.mu.Unlock()
		status := http.StatusNoContent
		if rc.answer != nil {
			status = rc.answer(m, n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) messages() []message {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]message(nil), rc.got...)
}

// distinct returns the received messages by webhook-id (the first of each).
func (rc *receiver) distinct() map[string]message {
	out := map[string]message{}
	for _, m := range rc.messages() {
		if _, ok := out[m.ID]; !ok {
			out[m.ID] = m
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes (a liveness
// bound, not a speed assertion).
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newBox(t testing.TB) *secretbox.Box {
	k := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(k)
	b, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newOrg creates an org with an admin, and returns the org id.
func newOrg(t testing.TB, s *directory.SQLStore) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	name := "hooks-" + base64.RawURLEncoding.EncodeToString(b)
	o, _, err := s.CreateOrg(ctx, "system:test", directory.NewOrg{Name: sanitize(name)})
	if err != nil {
		t.Fatalf("create org: %v", err)
	}
	u, err := s.CreateUser(ctx, "system:test", directory.NewUser{Email: "admin@" + o.ID[4:12] + ".example", EmailVerified: true, Name: "Admin"})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	if _, err := s.AddMember(ctx, "system:test", o.ID, u.ID, access.RoleAdmin); err != nil {
		t.Fatalf("add admin: %v", err)
	}
	return o.ID
}

func sanitize(s string) string {
	out := []rune{}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			out = append(out, r)
		case r >= 'A' && r <= 'Z':
			out = append(out, r+'a'-'A')
		default:
			out = append(out, 'x')
		}
	}
	return string(out)
}

// changeMembers provisions a user, changes their role and removes them:
// user.provisioned, role.changed, user.deprovisioned and member.removed.
func changeMembers(t testing.TB, s *directory.SQLStore, orgID string, i int) {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "system:test", directory.NewUser{Email: "u" + strconv.Itoa(i) + "-" + orgID[4:12] + "@example.org", Name: "U"})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	if _, err := s.AddMember(ctx, "usr_actor", orgID, u.ID, access.RolePlatformMember); err != nil {
		t.Fatalf("add member: %v", err)
	}
	if _, err := s.SetMemberRole(ctx, "usr_actor", orgID, u.ID, access.RoleViewOnly, 0); err != nil {
		t.Fatalf("set role: %v", err)
	}
	if err := s.RemoveMember(ctx, "usr_actor", orgID, u.ID); err != nil {
		t.Fatalf("remove member: %v", err)
	}
}

// runWorker runs a worker until the test ends.
func runWorker(t testing.TB, cfg webhooks.WorkerConfig) {
	t.Helper()
	w, err := webhooks.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// signed is a message with the secret its webhook was given.
type signed struct {
	Secret      string `json:"secret"`
	ID          string `json:"id"`
	Timestamp   int64  `json:"timestamp"`
	Signature   string `json:"signature"`
	BodyBase64  string `json:"body_base64"`
	ExpectValid bool   `json:"expect_valid"`
}

func toSigned(t testing.TB, secret string, m message, valid bool) signed {
	ts, err := strconv.ParseInt(m.Timestamp, 10, 64)
	if err != nil {
		t.Fatalf("webhook-timestamp %q: %v", m.Timestamp, err)
	}
	return signed{Secret: secret, ID: m.ID, Timestamp: ts, Signature: m.Signature,
		BodyBase64: base64.StdEncoding.EncodeToString(m.Body), ExpectValid: valid}
}

// verifyWithNode checks every message with npm standardwebhooks
// (e2e/webhook-verify.mjs) and fails when an outcome differs from
// ExpectValid. Node and the package are required: the test fails without them.
func verifyWithNode(t testing.TB, msgs []signed) {
	t.Helper()
	e2e, err := filepath.Abs(filepath.Join("..", "..", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "standardwebhooks", "package.json")); err != nil {
		t.Fatalf("npm standardwebhooks is required to verify signatures independently: run `cd e2e && npm install` (%v)", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required to verify signatures with npm standardwebhooks: %v", err)
	}
	f := filepath.Join(t.TempDir(), "messages.json")
	b, _ := json.Marshal(msgs)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(e2e, "webhook-verify.mjs"), f)
	cmd.Dir = e2e
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("standardwebhooks verification failed: %v\n%s", err, out)
	}
	t.Logf("standardwebhooks: %s", out)
}

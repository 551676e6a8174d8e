package backchannel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

type fakeClients []directory.Client

func (f fakeClients) BackchannelClients(context.Context) ([]directory.Client, error) { return f, nil }

type fakeMinter struct{}

func (fakeMinter) LogoutToken(clientID, userID, sid string) (string, error) {
	return clientID + "|" + userID + "|" + sid, nil
}

// rp answers with the statuses in order (then 200) and records what it got.
type rp struct {
	mu       sync.Mutex
	statuses []int
	got      []string
	calls    atomic.Int32
}

func (r *rp) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	if status == http.StatusOK {
		r.got = append(r.got, req.PostFormValue("logout_token"))
	}
	w.WriteHeader(status)
}

func start(t *testing.T, clients fakeClients, store session.Store) *Notifier {
	t.Helper()
	n, err := New(Config{Clients: clients, Records: store, Tokens: fakeMinter{}, HTTPClient: &http.Client{},
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, MaxAttempts: 3, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

// A client that received tokens in a session hears of its end once, after
// a 500 is retried; a client that received none hears nothing.
func TestEndedSessionReachesItsClientsWithRetries(t *testing.T) {
	ctx := context.Background()
	mem := session.NewMemory(session.Options{})
	defer mem.Close()
	got, other := &rp{statuses: []int{http.StatusInternalServerError}}, &rp{}
	a, b := httptest.NewServer(got), httptest.NewServer(other)
	defer a.Close()
	defer b.Close()
	clients := fakeClients{{ID: "cli_a", BackchannelLogoutURI: a.URL}, {ID: "cli_b", BackchannelLogoutURI: b.URL}}
	n := start(t, clients, mem)
	store := session.WithEndListener(mem, n)
	sess, err := store.CreateSession(ctx, session.Session{UserID: "usr_1", OrgID: "org_1", ConnectionID: "conn_1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.PutOnce(ctx, tokens.KindBackchannelClient, tokens.BackchannelKey(sess.Handle, "cli_a"), []byte("usr_1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got.mu.Lock()
		n := len(got.got)
		got.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no logout token delivered after %d calls", got.calls.Load())
		}
	}
	if want := "cli_a|usr_1|" + sess.Handle; got.got[0] != want || got.calls.Load() != 2 {
		t.Fatalf("delivered %q after %d calls, want %q after 2 (500, then 200)", got.got, got.calls.Load(), want)
	}
	// Deleting again (an unknown session now) reports nothing.
	if err := store.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got.calls.Load() != 2 || other.calls.Load() != 0 {
		t.Fatalf("calls after the delivery: a %d (want 2), b %d (want 0)", got.calls.Load(), other.calls.Load())
	}
}

// Revoking every session of a user (deprovisioning) reports each of them,
// and the caller does not wait for a client that is down.
func TestRevokedSessionsAreReportedWithoutWaitingForClients(t *testing.T) {
	ctx := context.Background()
	mem := session.NewMemory(session.Options{})
	defer mem.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Second)
	}))
	defer down.Close()
	n := start(t, fakeClients{{ID: "cli_a", BackchannelLogoutURI: down.URL}}, mem)
	store := session.WithEndListener(mem, n)
	for range 3 {
		s, err := store.CreateSession(ctx, session.Session{UserID: "usr_2", OrgID: "org_1", ConnectionID: "conn_1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.PutOnce(ctx, tokens.KindBackchannelClient, tokens.BackchannelKey(s.Handle, "cli_a"), []byte("usr_2"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	if k, err := store.RevokeUserSessions(ctx, "usr_2"); err != nil || k != 3 {
		t.Fatalf("revoked %d, %v", k, err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("revoking waited %s for a client that is down", d)
	}
}

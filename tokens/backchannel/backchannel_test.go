package backchannel

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

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

// config is a Notifier's configuration for tests: quick retries, 3
// attempts, a 1 s attempt timeout, 50 ms polls.
func config(store *directory.SQLStore, records Records) Config {
	return Config{Clients: store, Outbox: store, Records: records, Tokens: fakeMinter{}, HTTPClient: &http.Client{},
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, MaxAttempts: 3, Timeout: time.Second,
		Poll: 50 * time.Millisecond}
}

// start runs a Notifier of cfg until the test ends; stop ends it earlier.
func start(t *testing.T, cfg Config) (n *Notifier, stop func()) {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return n, stop
}

// newClient registers a client with backchannel_logout_uri uri.
func newClient(t *testing.T, store *directory.SQLStore, name, uri string) directory.Client {
	t.Helper()
	c, _, err := store.CreateClient(context.Background(), "system:test", directory.NewClient{Name: name,
		RedirectURIs: []string{"https://rp.example/cb"}, BackchannelLogoutURI: uri})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// endedSession creates a session of user in which client got tokens.
func endedSession(t *testing.T, store session.Store, records session.Store, user string, clients ...string) session.Session {
	t.Helper()
	ctx := context.Background()
	s, err := store.CreateSession(ctx, session.Session{UserID: user, OrgID: "org_1", ConnectionID: "conn_1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if err := records.PutOnce(ctx, tokens.KindBackchannelClient, tokens.BackchannelKey(s.Handle, c), []byte(user), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func (r *rp) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func outbox(t *testing.T, store *directory.SQLStore) []directory.BackchannelDelivery {
	t.Helper()
	left, err := store.BackchannelDeliveries(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// A client that received tokens in a session hears of its end once, after
// a 500 is retried, and the delivery leaves the outbox; a client that
// received none hears nothing.
func TestEndedSessionReachesItsClientsWithRetries(t *testing.T) {
	for engine, open := range directorytest.Backends() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := open(t)
			mem := session.NewMemory(session.Options{})
			defer mem.Close()
			got, other := &rp{statuses: []int{http.StatusInternalServerError}}, &rp{}
			a, b := httptest.NewServer(got), httptest.NewServer(other)
			defer a.Close()
			defer b.Close()
			ca, _ := newClient(t, dir, "rp a", a.URL), newClient(t, dir, "rp b", b.URL)
			n, _ := start(t, config(dir, mem))
			store := session.WithEndListener(mem, n)
			sess := endedSession(t, store, mem, "usr_1", ca.ID)
			if err := store.DeleteSession(ctx, sess.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a logout token", func() bool { return len(got.delivered()) > 0 })
			if want := ca.ID + "|usr_1|" + sess.Handle; got.delivered()[0] != want || got.calls.Load() != 2 {
				t.Fatalf("delivered %q after %d calls, want %q after 2 (500, then 200)", got.delivered(), got.calls.Load(), want)
			}
			waitFor(t, "an empty outbox", func() bool { return len(outbox(t, dir)) == 0 })
			// Deleting again (an unknown session now) reports nothing.
			if err := store.DeleteSession(ctx, sess.ID); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if got.calls.Load() != 2 || other.calls.Load() != 0 {
				t.Fatalf("calls after the delivery: a %d (want 2), b %d (want 0)", got.calls.Load(), other.calls.Load())
			}
		})
	}
}

// A client that keeps failing is given up after MaxAttempts; the failed
// delivery stays in the outbox for the operator, with the last status.
func TestDeliveryIsGivenUpAfterMaxAttempts(t *testing.T) {
	ctx := context.Background()
	dir := directorytest.SQLite(t)
	mem := session.NewMemory(session.Options{})
	defer mem.Close()
	failing := &rp{statuses: []int{500, 500, 500, 500, 500}}
	srv := httptest.NewServer(failing)
	defer srv.Close()
	c := newClient(t, dir, "rp", srv.URL)
	n, _ := start(t, config(dir, mem))
	store := session.WithEndListener(mem, n)
	sess := endedSession(t, store, mem, "usr_1", c.ID)
	if err := store.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed delivery", func() bool {
		left := outbox(t, dir)
		return len(left) == 1 && left[0].Status == directory.DeliveryFailed
	})
	left := outbox(t, dir)
	if left[0].Attempts != 3 || left[0].LastStatusCode != 500 || left[0].LastError != "status" || failing.calls.Load() != 3 {
		t.Fatalf("failed delivery %+v after %d calls, want 3 attempts ending in 500", left[0], failing.calls.Load())
	}
}

// A delivery that waited longer than RetryFor (replicas down) gets one
// attempt and no retry; the operator's give-up line names the client and
// the session, and no logout token is logged.
func TestDeliveryIsGivenUpWhenTooOld(t *testing.T) {
	ctx := context.Background()
	dir := directorytest.SQLite(t)
	mem := session.NewMemory(session.Options{})
	defer mem.Close()
	failing := &rp{statuses: []int{503, 503}}
	srv := httptest.NewServer(failing)
	defer srv.Close()
	c := newClient(t, dir, "rp", srv.URL)
	if _, err := dir.EnqueueBackchannelLogouts(ctx, time.Now().Add(-2*time.Hour),
		[]directory.BackchannelLogout{{ClientID: c.ID, UserID: "usr_1", SID: "sid_old"}}); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cfg := config(dir, mem)
	cfg.MaxAttempts, cfg.RetryFor = 100, time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	start(t, cfg)
	waitFor(t, "a failed delivery", func() bool {
		left := outbox(t, dir)
		return len(left) == 1 && left[0].Status == directory.DeliveryFailed
	})
	if failing.calls.Load() != 1 {
		t.Fatalf("%d attempts at a delivery older than RetryFor, want 1", failing.calls.Load())
	}
	out := logs.String()
	if !strings.Contains(out, "back-channel logout failed; giving up") || !strings.Contains(out, "client_id="+c.ID) ||
		!strings.Contains(out, "session=sid_old") || !strings.Contains(out, "status=503") {
		t.Fatalf("no give-up line naming the client, the session and the status:\n%s", out)
	}
	if tok := c.ID + "|usr_1|sid_old"; strings.Contains(out, tok) {
		t.Fatalf("the log holds the logout token:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the Notifier's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A delivery pending when its replica stops is delivered by another
// replica: once after a failed attempt the stopped one recorded, and once
// leased by a replica that died in the middle of an attempt (its lease
// passes). PostgreSQL and SQLite, two stores on one database.
func TestPendingDeliverySurvivesTheReplica(t *testing.T) {
	for _, engine := range []string{"postgres", "sqlite"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := directorytest.Replicas(t, engine)
			mem := session.NewMemory(session.Options{}) // shared, like Redis
			defer mem.Close()
			firstDone, first := make(chan struct{}), sync.Once{}
			got := &rp{statuses: []int{http.StatusInternalServerError}}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				got.ServeHTTP(w, req)
				first.Do(func() { close(firstDone) })
			}))
			defer srv.Close()
			c := newClient(t, r[0], "rp", srv.URL)

			// Replica A: its first attempt fails, and it stops before its retry.
			cfgA := config(r[0], mem)
			cfgA.Backoff = func(int) time.Duration { return 500 * time.Millisecond }
			a, stopA := start(t, cfgA)
			sess := endedSession(t, session.WithEndListener(mem, a), mem, "usr_1", c.ID)
			if err := session.WithEndListener(mem, a).DeleteSession(ctx, sess.ID); err != nil {
				t.Fatal(err)
			}
			<-firstDone
			stopA()
			left := outbox(t, r[1])
			if len(left) != 1 || left[0].Status != directory.DeliveryPending || left[0].Attempts != 1 {
				t.Fatalf("outbox after A stopped: %+v, want one pending delivery after 1 attempt", left)
			}

			// Replica B delivers it.
			_, stopB := start(t, config(r[1], mem))
			waitFor(t, "B's delivery", func() bool { return len(got.delivered()) == 1 })
			if want := c.ID + "|usr_1|" + sess.Handle; got.delivered()[0] != want || got.calls.Load() != 2 {
				t.Fatalf("delivered %q after %d calls, want %q after 2", got.delivered(), got.calls.Load(), want)
			}
			waitFor(t, "an empty outbox", func() bool { return len(outbox(t, r[0])) == 0 })
			stopB()

			// A replica that died holding a lease: B takes the delivery once the lease has passed.
			if _, err := r[0].EnqueueBackchannelLogouts(ctx, time.Now(), []directory.BackchannelLogout{{ClientID: c.ID, UserID: "usr_2", SID: "sid_dead"}}); err != nil {
				t.Fatal(err)
			}
			jobs, err := r[0].ClaimBackchannelLogouts(ctx, directory.BackchannelClaim{Owner: "died", Now: time.Now(), Lease: 300 * time.Millisecond, Limit: 1})
			if err != nil || len(jobs) != 1 {
				t.Fatalf("the dying replica claimed %d (%v)", len(jobs), err)
			}
			start(t, config(r[1], mem))
			waitFor(t, "the orphaned delivery", func() bool { return len(got.delivered()) == 2 })
			if want := c.ID + "|usr_2|sid_dead"; got.delivered()[1] != want {
				t.Fatalf("delivered %q, want %q", got.delivered()[1], want)
			}
			waitFor(t, "an empty outbox", func() bool { return len(outbox(t, r[0])) == 0 })
		})
	}
}

// Revoking every session of a user (deprovisioning) reports each of them,
// and the caller does not wait for a client that is down.
func TestRevokedSessionsAreReportedWithoutWaitingForClients(t *testing.T) {
	ctx := context.Background()
	dir := directorytest.SQLite(t)
	mem := session.NewMemory(session.Options{})
	defer mem.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Second)
	}))
	defer down.Close()
	c := newClient(t, dir, "rp", down.URL)
	n, _ := start(t, config(dir, mem))
	store := session.WithEndListener(mem, n)
	for range 3 {
		endedSession(t, store, mem, "usr_2", c.ID)
	}
	t0 := time.Now()
	if k, err := store.RevokeUserSessions(ctx, "usr_2"); err != nil || k != 3 {
		t.Fatalf("revoked %d, %v", k, err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("revoking waited %s for a client that is down", d)
	}
	waitFor(t, "three queued deliveries", func() bool { return len(outbox(t, dir)) == 3 })
}

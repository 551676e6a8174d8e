// Package sessiontest is the conformance suite every session.Store passes,
// and helpers that start the Redis servers it runs against: the shared one
// (127.0.0.1:6379 or SSOBROKER_TEST_REDIS_URL), and throwaway redis-server
// processes for outage drills, Redis Cluster and Sentinel. A missing Redis
// fails the tests; it never skips them.
package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

// Opener returns a new, empty store configured with opts. It registers the
// store's cleanup on t.
type Opener func(t *testing.T, opts session.Options) session.Store

// Run checks that the stores open returns follow every rule of
// session.Store. All subtests run at once, started from goroutines rather
// than with t.Parallel: most of them sleep through short timeouts, and
// would otherwise queue behind -parallel (GOMAXPROCS) slots. The slowest
// takes about 1.5 s.
func Run(t *testing.T, open Opener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, c := range []struct {
		name string
		test func(t *testing.T, open Opener)
	}{
		{"session round trip with a fresh 256-bit id", testSessionRoundTrip},
		{"malformed and unknown ids are not found", testSessionUnknown},
		{"deleted session is gone and delete is idempotent", testSessionDelete},
		{"get slides the idle timeout and idleness ends the session", testSessionIdle},
		{"absolute expiry ends even an active session", testSessionAbsolute},
		{"user index lists and revokes only that user's sessions", testUserSessions},
		{"expired sessions leave the user index", testUserIndexClean},
		{"session arguments are validated", testSessionInvalid},
		{"tagged sessions are found by tag and end by handle", testTaggedSessions},
		{"a single-use record is taken once", testTakeOnce},
		{"put once never replaces a live record", testPutOnceExists},
		{"a single-use record expires", testOnceExpiry},
		{"20 concurrent takes have exactly one winner", testTakeOnceConcurrent},
		{"a record of one kind cannot be taken as another", testKindSeparation},
		{"single-use arguments are validated", testOnceInvalid},
		{"remember is first once per ttl and per kind", testRemember},
		{"20 concurrent remembers have exactly one first", testRememberConcurrent},
		{"refresh rotation moves the family on", testRefreshRotation},
		{"reusing a rotated token revokes the whole family", testRefreshReuse},
		{"a forged token naming a live family does not revoke it", testRefreshForged},
		{"an expired family is not found", testRefreshExpiry},
		{"strict: of concurrent rotations one wins and the family is revoked", testRefreshConcurrentStrict},
		{"reuse interval: of concurrent rotations one wins cleanly", testRefreshConcurrentInterval},
		{"a family id is unique", testRefreshExplicitID},
		{"reuse is detected across the last 1000 rotations", testRefreshKeptWindow},
		{"revoke a family", testRevokeFamily},
		{"revoke a user's families", testRevokeUserFamilies},
		{"revoke a browser session's families, keeping offline access", testRevokeSessionFamilies},
		{"count within a fixed window, per kind and key", testCount},
		{"a counter's window ends and the next count starts at 1", testCountWindow},
		{"20 concurrent counts each get a distinct value", testCountConcurrent},
		{"count arguments are validated", testCountInvalid},
		{"ping answers and a closed store is unavailable", testPingClose},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(c.name, func(t *testing.T) { c.test(t, open) })
		}()
	}
}

// stalledError marks a timing-sensitive attempt that proved nothing: the
// machine paused longer than the attempt's margin (other test binaries
// share these CPUs).
type stalledError string

func (e stalledError) Error() string { return "stalled during " + string(e) }

func errStalled(step string) error { return stalledError(step) }

// stalled reports whether more than margin passed since start, so that a
// deadline the check relied on may have passed for the store as well.
func stalled(start time.Time, margin time.Duration) bool { return time.Since(start) >= margin }

// retryStalled runs a timing-sensitive attempt up to three times while it
// reports a stall. Real failures end the test at once (t.Fatalf).
func retryStalled(t *testing.T, attempt func() error) {
	t.Helper()
	for i := 1; i <= 3; i++ {
		err := attempt()
		if err == nil {
			return
		}
		t.Logf("attempt %d inconclusive (%v); retrying", i, err)
	}
	t.Fatalf("timing-sensitive check inconclusive three times: the machine is too loaded to judge")
}

func sleepUntil(when time.Time) { time.Sleep(time.Until(when)) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantErr fails unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func newSession(user string) session.Session {
	return session.Session{
		UserID:       user,
		OrgID:        "org_1",
		ConnectionID: "conn_1",
		AMR:          []string{"saml", "mfa"},
		AuthTime:     time.Now().Add(-time.Minute),
		Data:         map[string]string{"return_to": "/admin/acme/general", "idp": "okta"},
	}
}

func testSessionRoundTrip(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	in := newSession("usr_round")
	before := time.Now().Add(-time.Second)
	got, err := s.CreateSession(c, in)
	must(t, "create", err)
	if len(got.ID) < 43 || strings.ContainsAny(got.ID, "+/=") {
		t.Fatalf("id %d chars, want ≥ 43 base64url characters (256 bits)", len(got.ID))
	}
	if got.Handle == "" || got.Handle == got.ID {
		t.Fatalf("handle must be set and differ from the id")
	}
	if got.CreatedAt.Before(before) || !got.LastSeen.Equal(got.CreatedAt) {
		t.Fatalf("CreatedAt %v / LastSeen %v not set at creation", got.CreatedAt, got.LastSeen)
	}
	if got.IdleTimeout != session.DefaultSessionIdleTimeout ||
		!got.AbsoluteExpiry.Equal(got.CreatedAt.Add(session.DefaultSessionLifetime)) {
		t.Fatalf("defaults not applied: idle %v, absolute %v", got.IdleTimeout, got.AbsoluteExpiry)
	}
	other, err := s.CreateSession(c, in)
	must(t, "create second", err)
	if other.ID == got.ID {
		t.Fatalf("two sessions share an id")
	}
	read, err := s.GetSession(c, got.ID)
	must(t, "get", err)
	if read.ID != got.ID || read.Handle != got.Handle || read.UserID != in.UserID || read.OrgID != in.OrgID ||
		read.ConnectionID != in.ConnectionID || strings.Join(read.AMR, ",") != "saml,mfa" ||
		!read.AuthTime.Equal(in.AuthTime.Truncate(time.Millisecond)) || !read.CreatedAt.Equal(got.CreatedAt) ||
		!read.AbsoluteExpiry.Equal(got.AbsoluteExpiry) || read.IdleTimeout != got.IdleTimeout ||
		len(read.Data) != 2 || read.Data["return_to"] != in.Data["return_to"] {
		t.Fatalf("read back %+v, created %+v", read, got)
	}
	if read.LastSeen.Before(got.LastSeen) {
		t.Fatalf("LastSeen went back: %v < %v", read.LastSeen, got.LastSeen)
	}
	read.Data["return_to"] = "mutated"
	read.AMR[0] = "mutated"
	again, err := s.GetSession(c, got.ID)
	must(t, "get again", err)
	if again.Data["return_to"] != in.Data["return_to"] || again.AMR[0] != "saml" {
		t.Fatalf("a caller's changes to a returned session reached the store")
	}
}

func testSessionUnknown(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	got, err := s.CreateSession(c, newSession("usr_unknown"))
	must(t, "create", err)
	for name, id := range map[string]string{
		"empty":        "",
		"garbage":      "not a session id",
		"handle as id": got.Handle,
		"unknown":      strings.Repeat("A", 43),
		"too long":     got.ID + "A",
		"injection":    "*",
	} {
		_, err := s.GetSession(c, id)
		wantErr(t, name, err, session.ErrNotFound)
	}
}

func testSessionDelete(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	got, err := s.CreateSession(c, newSession("usr_delete"))
	must(t, "create", err)
	must(t, "delete", s.DeleteSession(c, got.ID))
	_, err = s.GetSession(c, got.ID)
	wantErr(t, "get after delete", err, session.ErrNotFound)
	must(t, "delete again", s.DeleteSession(c, got.ID))
	must(t, "delete garbage", s.DeleteSession(c, "garbage"))
	list, err := s.ListUserSessions(c, "usr_delete")
	must(t, "list", err)
	if len(list) != 0 {
		t.Fatalf("deleted session still listed: %d", len(list))
	}
}

func testSessionIdle(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	const idle = time.Second
	const step = 400 * time.Millisecond
	retryStalled(t, func() error {
		in := newSession("usr_idle")
		in.IdleTimeout = idle
		got, err := s.CreateSession(c, in)
		must(t, "create", err)
		created := time.Now()
		// Uses every step keep it alive past idle after creation: only a
		// sliding expiry does that. Each use must arrive within idle of the
		// previous one's start, or the machine stalled.
		last := created.Add(-time.Millisecond)
		for i := 1; i <= 3; i++ {
			sleepUntil(created.Add(time.Duration(i) * step))
			sent := time.Now()
			_, err = s.GetSession(c, got.ID)
			if err != nil {
				if stalled(last, idle) {
					return errStalled(fmt.Sprintf("get %d", i))
				}
				t.Fatalf("get %v after creation, %v after the last use: %v (get must slide the idle timeout)",
					sent.Sub(created), sent.Sub(last), err)
			}
			last = sent
		}
		sleepUntil(time.Now().Add(idle + 150*time.Millisecond))
		_, err = s.GetSession(c, got.ID)
		wantErr(t, "get after idling", err, session.ErrNotFound)
		_, err = s.GetSession(c, got.ID)
		wantErr(t, "get again", err, session.ErrNotFound)
		return nil
	})
}

func testSessionAbsolute(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	const life = time.Second
	retryStalled(t, func() error {
		in := newSession("usr_absolute")
		in.IdleTimeout = time.Hour
		start := time.Now()
		in.AbsoluteExpiry = start.Add(life)
		got, err := s.CreateSession(c, in)
		must(t, "create", err)
		if got.IdleTimeout != time.Hour {
			t.Fatalf("idle timeout %v, want 1h", got.IdleTimeout)
		}
		sleepUntil(start.Add(300 * time.Millisecond))
		_, err = s.GetSession(c, got.ID)
		if err != nil {
			if stalled(start, life) {
				return errStalled("get before expiry")
			}
			t.Fatalf("get before absolute expiry: %v", err)
		}
		sleepUntil(start.Add(life + 150*time.Millisecond))
		_, err = s.GetSession(c, got.ID)
		wantErr(t, "get after absolute expiry", err, session.ErrNotFound)
		return nil
	})
}

func testUserSessions(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	var ids []string
	for range 3 {
		got, err := s.CreateSession(c, newSession("usr_alice"))
		must(t, "create alice", err)
		ids = append(ids, got.ID)
	}
	bob, err := s.CreateSession(c, newSession("usr_bob"))
	must(t, "create bob", err)

	list, err := s.ListUserSessions(c, "usr_alice")
	must(t, "list", err)
	if len(list) != 3 {
		t.Fatalf("listed %d sessions, want 3", len(list))
	}
	for _, l := range list {
		if l.ID != "" || l.Handle == "" || l.UserID != "usr_alice" || l.OrgID != "org_1" || l.IdleTimeout == 0 {
			t.Fatalf("listed session %+v: want no ID, a Handle and the stored fields", l)
		}
	}
	for i := 1; i < len(list); i++ {
		if list[i].CreatedAt.Before(list[i-1].CreatedAt) {
			t.Fatalf("list not ordered by creation")
		}
	}
	n, err := s.RevokeUserSessions(c, "usr_alice")
	must(t, "revoke", err)
	if n != 3 {
		t.Fatalf("revoked %d, want 3", n)
	}
	for _, id := range ids {
		_, err := s.GetSession(c, id)
		wantErr(t, "get revoked", err, session.ErrNotFound)
	}
	if _, err := s.GetSession(c, bob.ID); err != nil {
		t.Fatalf("another user's session was revoked: %v", err)
	}
	list, err = s.ListUserSessions(c, "usr_alice")
	must(t, "list after revoke", err)
	if len(list) != 0 {
		t.Fatalf("listed %d after revoke", len(list))
	}
	n, err = s.RevokeUserSessions(c, "usr_alice")
	must(t, "revoke again", err)
	if n != 0 {
		t.Fatalf("second revoke counted %d", n)
	}
	n, err = s.RevokeUserSessions(c, "usr_nobody")
	must(t, "revoke unknown user", err)
	if n != 0 {
		t.Fatalf("revoke of an unknown user counted %d", n)
	}
}

func testUserIndexClean(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	short := newSession("usr_clean")
	short.IdleTimeout = 200 * time.Millisecond
	_, err := s.CreateSession(c, short)
	must(t, "create idle", err)
	abs := newSession("usr_clean")
	abs.AbsoluteExpiry = time.Now().Add(200 * time.Millisecond)
	_, err = s.CreateSession(c, abs)
	must(t, "create absolute", err)
	live, err := s.CreateSession(c, newSession("usr_clean"))
	must(t, "create live", err)
	time.Sleep(400 * time.Millisecond)
	list, err := s.ListUserSessions(c, "usr_clean")
	must(t, "list", err)
	if len(list) != 1 || list[0].Handle != live.Handle {
		t.Fatalf("listed %d sessions, want only the live one", len(list))
	}
	n, err := s.RevokeUserSessions(c, "usr_clean")
	must(t, "revoke", err)
	if n != 1 {
		t.Fatalf("revoke counted %d, want 1 (expired sessions do not count)", n)
	}
}

func testSessionInvalid(t *testing.T, open Opener) {
	s := open(t, session.Options{MaxValueBytes: 1024})
	c := ctx(t)
	for name, in := range map[string]session.Session{
		"no user":         {},
		"brace in user":   {UserID: "usr_{x}"},
		"expired already": {UserID: "usr_x", AbsoluteExpiry: time.Now().Add(-time.Second)},
		"too large":       {UserID: "usr_x", Data: map[string]string{"big": strings.Repeat("x", 2000)}},
	} {
		_, err := s.CreateSession(c, in)
		wantErr(t, name, err, session.ErrInvalid)
	}
	_, err := s.ListUserSessions(c, "")
	wantErr(t, "list without user", err, session.ErrInvalid)
	_, err = s.RevokeUserSessions(c, "")
	wantErr(t, "revoke without user", err, session.ErrInvalid)
}

func testTakeOnce(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	state := []byte(`{"nonce":"n","verifier":"v","return_to":"/"}`)
	must(t, "put", s.PutOnce(c, session.KindLoginState, "state-1", state, time.Minute))
	got, err := s.TakeOnce(c, session.KindLoginState, "state-1")
	must(t, "take", err)
	if !bytes.Equal(got, state) {
		t.Fatalf("took %q, want %q", got, state)
	}
	_, err = s.TakeOnce(c, session.KindLoginState, "state-1")
	wantErr(t, "second take", err, session.ErrNotFound)
	_, err = s.TakeOnce(c, session.KindLoginState, "never-put")
	wantErr(t, "take unknown", err, session.ErrNotFound)

	must(t, "put empty", s.PutOnce(c, session.KindSAMLRequest, "relay", nil, time.Minute))
	got, err = s.TakeOnce(c, session.KindSAMLRequest, "relay")
	must(t, "take empty", err)
	if got == nil || len(got) != 0 {
		t.Fatalf("empty value came back as %v, want empty non-nil", got)
	}
	// After a take the key is free again.
	must(t, "put after take", s.PutOnce(c, session.KindLoginState, "state-1", []byte("x"), time.Minute))
}

func testPutOnceExists(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	must(t, "put", s.PutOnce(c, session.KindAuthCode, "code", []byte("first"), time.Minute))
	wantErr(t, "put again", s.PutOnce(c, session.KindAuthCode, "code", []byte("second"), time.Minute), session.ErrExists)
	got, err := s.TakeOnce(c, session.KindAuthCode, "code")
	must(t, "take", err)
	if string(got) != "first" {
		t.Fatalf("took %q, want the first value", got)
	}
}

func testOnceExpiry(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	must(t, "put", s.PutOnce(c, session.KindAuthCode, "short", []byte("v"), 150*time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	_, err := s.TakeOnce(c, session.KindAuthCode, "short")
	wantErr(t, "take expired", err, session.ErrNotFound)
	must(t, "put over an expired record", s.PutOnce(c, session.KindAuthCode, "short", []byte("w"), time.Minute))
}

// race starts n goroutines at once and returns their results.
func race[T any](n int, f func() T) []T {
	out := make([]T, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			out[i] = f()
		}()
	}
	start.Done()
	done.Wait()
	return out
}

func testTakeOnceConcurrent(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	must(t, "put", s.PutOnce(c, session.KindAuthCode, "contended", []byte("code"), time.Minute))
	results := race(20, func() error {
		v, err := s.TakeOnce(c, session.KindAuthCode, "contended")
		if err == nil && string(v) != "code" {
			return errors.New("wrong value " + string(v))
		}
		return err
	})
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, session.ErrNotFound):
			t.Fatalf("take: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of 20 concurrent takes won, want exactly 1", wins)
	}
}

func testKindSeparation(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	must(t, "put code", s.PutOnce(c, session.KindAuthCode, "shared-key", []byte("code"), time.Minute))
	for _, k := range []session.Kind{session.KindLoginState, session.KindSAMLRequest, session.KindPendingAuthorization, session.KindRedeemedCode} {
		_, err := s.TakeOnce(c, k, "shared-key")
		wantErr(t, "take auth code as "+string(k), err, session.ErrNotFound)
	}
	first, err := s.Remember(c, session.KindAuthCode, "shared-key", time.Minute)
	must(t, "remember under the same kind and key", err)
	if !first {
		t.Fatalf("replay cache and single-use records share a namespace")
	}
	must(t, "put login state under the same key", s.PutOnce(c, session.KindLoginState, "shared-key", []byte("state"), time.Minute))
	got, err := s.TakeOnce(c, session.KindAuthCode, "shared-key")
	must(t, "take as auth code", err)
	if string(got) != "code" {
		t.Fatalf("took %q as auth code", got)
	}
	got, err = s.TakeOnce(c, session.KindLoginState, "shared-key")
	must(t, "take as login state", err)
	if string(got) != "state" {
		t.Fatalf("took %q as login state", got)
	}
}

func testOnceInvalid(t *testing.T, open Opener) {
	s := open(t, session.Options{MaxValueBytes: 100})
	c := ctx(t)
	wantErr(t, "empty kind", s.PutOnce(c, "", "k", nil, time.Minute), session.ErrInvalid)
	wantErr(t, "kind with separator", s.PutOnce(c, "a:b", "k", nil, time.Minute), session.ErrInvalid)
	wantErr(t, "empty key", s.PutOnce(c, session.KindAuthCode, "", nil, time.Minute), session.ErrInvalid)
	wantErr(t, "zero ttl", s.PutOnce(c, session.KindAuthCode, "k", nil, 0), session.ErrInvalid)
	wantErr(t, "too large", s.PutOnce(c, session.KindAuthCode, "k", make([]byte, 101), time.Minute), session.ErrInvalid)
	_, err := s.TakeOnce(c, "Bad Kind", "k")
	wantErr(t, "take with bad kind", err, session.ErrInvalid)
	_, err = s.Remember(c, session.KindSAMLAssertion, "k", -time.Second)
	wantErr(t, "remember with negative ttl", err, session.ErrInvalid)
}

func testRemember(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	key := "https://idp.example.com|_assertion-1"
	first, err := s.Remember(c, session.KindSAMLAssertion, key, time.Minute)
	must(t, "remember", err)
	if !first {
		t.Fatalf("first remember reported a replay")
	}
	first, err = s.Remember(c, session.KindSAMLAssertion, key, time.Minute)
	must(t, "remember again", err)
	if first {
		t.Fatalf("replay not detected")
	}
	first, err = s.Remember(c, session.KindJTI, key, time.Minute)
	must(t, "remember as another kind", err)
	if !first {
		t.Fatalf("kinds share the replay cache")
	}
	first, err = s.Remember(c, session.KindSAMLAssertion, "_short", 150*time.Millisecond)
	must(t, "remember short", err)
	if !first {
		t.Fatalf("first remember of a new key reported a replay")
	}
	time.Sleep(300 * time.Millisecond)
	first, err = s.Remember(c, session.KindSAMLAssertion, "_short", time.Minute)
	must(t, "remember after ttl", err)
	if !first {
		t.Fatalf("entry outlived its ttl")
	}
}

func testRememberConcurrent(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	type res struct {
		first bool
		err   error
	}
	results := race(20, func() res {
		f, err := s.Remember(c, session.KindSAMLAssertion, "_contended", time.Minute)
		return res{f, err}
	})
	firsts := 0
	for _, r := range results {
		must(t, "remember", r.err)
		if r.first {
			firsts++
		}
	}
	if firsts != 1 {
		t.Fatalf("%d of 20 concurrent remembers were first, want exactly 1", firsts)
	}
}

func newFamily(user string) session.RefreshFamily {
	return session.RefreshFamily{
		UserID:    user,
		OrgID:     "org_1",
		ClientID:  "cli_1",
		Scope:     "openid profile email offline_access",
		SessionID: "sid-handle",
		AuthTime:  time.Now().Add(-time.Minute),
		Claims:    []byte(`{"email":"ada@acme.com","groups":["eng"]}`),
	}
}

func testRefreshRotation(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	in := newFamily("usr_rotate")
	tok, err := s.CreateRefresh(c, in)
	must(t, "create", err)
	cur, err := s.GetRefresh(c, tok)
	must(t, "get", err)
	if cur.ID == "" || cur.Generation != 0 || !cur.RotatedAt.IsZero() ||
		!cur.ExpiresAt.Equal(cur.CreatedAt.Add(session.DefaultRefreshLifetime)) {
		t.Fatalf("new family %+v", cur)
	}
	if strings.Contains(tok, " ") || len(tok) < 43 {
		t.Fatalf("token too short or not opaque")
	}
	for gen := int64(1); gen <= 3; gen++ {
		f, next, err := s.RotateRefresh(c, tok)
		must(t, "rotate", err)
		if next == tok || next == "" {
			t.Fatalf("rotation did not issue a new token")
		}
		if f.ID != cur.ID || f.UserID != in.UserID || f.OrgID != in.OrgID || f.ClientID != in.ClientID ||
			f.Scope != in.Scope || f.SessionID != in.SessionID || !bytes.Equal(f.Claims, in.Claims) ||
			!f.AuthTime.Equal(in.AuthTime.Truncate(time.Millisecond)) || !f.ExpiresAt.Equal(cur.ExpiresAt) ||
			!f.CreatedAt.Equal(cur.CreatedAt) || f.Generation != gen || f.RotatedAt.IsZero() {
			t.Fatalf("rotation %d returned %+v, created %+v", gen, f, cur)
		}
		_, err = s.GetRefresh(c, tok)
		wantErr(t, "get a rotated token", err, session.ErrNotFound)
		tok = next
	}
	f, err := s.GetRefresh(c, tok)
	must(t, "get current", err)
	if f.Generation != 3 {
		t.Fatalf("generation %d, want 3", f.Generation)
	}
}

func testRefreshReuse(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	t0, err := s.CreateRefresh(c, newFamily("usr_reuse"))
	must(t, "create", err)
	_, t1, err := s.RotateRefresh(c, t0)
	must(t, "rotate", err)
	_, t2, err := s.RotateRefresh(c, t1)
	must(t, "rotate again", err)

	f, _, err := s.RotateRefresh(c, t0)
	wantErr(t, "reuse the first token", err, session.ErrRefreshReused)
	if f.ID == "" || f.UserID != "usr_reuse" || f.ClientID != "cli_1" {
		t.Fatalf("reuse returned %+v, want the revoked family for the audit log", f)
	}
	_, _, err = s.RotateRefresh(c, t2)
	wantErr(t, "rotate the newest token after reuse", err, session.ErrNotFound)
	_, err = s.GetRefresh(c, t2)
	wantErr(t, "get the newest token after reuse", err, session.ErrNotFound)
	n, err := s.RevokeUserFamilies(c, "usr_reuse")
	must(t, "revoke user families", err)
	if n != 0 {
		t.Fatalf("revoked family still counted by the user index: %d", n)
	}
}

func testRefreshForged(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	tok, err := s.CreateRefresh(c, newFamily("usr_forged"))
	must(t, "create", err)
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		t.Fatalf("token %d chars has no family part", len(tok))
	}
	forged := tok[:i+1] + strings.Repeat("A", len(tok)-i-1)
	_, _, err = s.RotateRefresh(c, forged)
	wantErr(t, "rotate a forged token", err, session.ErrNotFound)
	for name, garbage := range map[string]string{"empty": "", "no dot": "abc", "dot only": ".", "long": strings.Repeat("a.", 100)} {
		_, _, err = s.RotateRefresh(c, garbage)
		wantErr(t, "rotate "+name, err, session.ErrNotFound)
		_, err = s.GetRefresh(c, garbage)
		wantErr(t, "get "+name, err, session.ErrNotFound)
	}
	if _, _, err := s.RotateRefresh(c, tok); err != nil {
		t.Fatalf("the genuine token stopped working after a forgery attempt: %v", err)
	}
}

func testRefreshExpiry(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	const life = 600 * time.Millisecond
	retryStalled(t, func() error {
		in := newFamily("usr_expiry")
		start := time.Now()
		in.ExpiresAt = start.Add(life)
		tok, err := s.CreateRefresh(c, in)
		must(t, "create", err)
		_, tok, err = s.RotateRefresh(c, tok)
		if err != nil {
			if stalled(start, life) {
				return errStalled("rotate before expiry")
			}
			t.Fatalf("rotate before expiry: %v", err)
		}
		sleepUntil(start.Add(life + 150*time.Millisecond))
		_, _, err = s.RotateRefresh(c, tok)
		wantErr(t, "rotate after expiry", err, session.ErrNotFound)
		_, err = s.GetRefresh(c, tok)
		wantErr(t, "get after expiry", err, session.ErrNotFound)
		return nil
	})
	in := newFamily("usr_expiry")
	in.ExpiresAt = time.Now().Add(-time.Second)
	_, err := s.CreateRefresh(c, in)
	wantErr(t, "create expired", err, session.ErrInvalid)
	_, err = s.CreateRefresh(c, session.RefreshFamily{})
	wantErr(t, "create without user", err, session.ErrInvalid)
}

type rotation struct {
	token string
	err   error
}

func rotateRace(t *testing.T, s session.Store, tok string) (winner string, byErr map[error]int) {
	t.Helper()
	c := ctx(t)
	results := race(20, func() rotation {
		_, next, err := s.RotateRefresh(c, tok)
		return rotation{next, err}
	})
	byErr = map[error]int{}
	wins := 0
	for _, r := range results {
		switch {
		case r.err == nil:
			wins++
			winner = r.token
		case errors.Is(r.err, session.ErrRefreshReused):
			byErr[session.ErrRefreshReused]++
		case errors.Is(r.err, session.ErrRefreshConcurrent):
			byErr[session.ErrRefreshConcurrent]++
		case errors.Is(r.err, session.ErrNotFound):
			byErr[session.ErrNotFound]++
		default:
			t.Fatalf("rotate: %v", r.err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of 20 concurrent rotations of one token succeeded, want exactly 1", wins)
	}
	return winner, byErr
}

// testRefreshConcurrentStrict defines the strict outcome: exactly one
// rotation succeeds; the next to run sees a rotated token, which is reuse,
// and revokes the family; the rest find no family. The winner's token is
// dead too.
func testRefreshConcurrentStrict(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	tok, err := s.CreateRefresh(c, newFamily("usr_race"))
	must(t, "create", err)
	winner, byErr := rotateRace(t, s, tok)
	if byErr[session.ErrRefreshReused] != 1 || byErr[session.ErrNotFound] != 18 {
		t.Fatalf("losers: %v, want 1 reuse and 18 not found", byErr)
	}
	_, _, err = s.RotateRefresh(c, winner)
	wantErr(t, "rotate the winner's token", err, session.ErrNotFound)
}

// testRefreshConcurrentInterval defines the lenient outcome: with a reuse
// interval, exactly one rotation succeeds, the others get
// ErrRefreshConcurrent, and the family lives on. After the interval the old
// token is plain reuse again.
func testRefreshConcurrentInterval(t *testing.T, open Opener) {
	const interval = time.Second
	s := open(t, session.Options{RefreshReuseInterval: interval})
	c := ctx(t)
	retryStalled(t, func() error {
		tok, err := s.CreateRefresh(c, newFamily("usr_race_lenient"))
		must(t, "create", err)
		start := time.Now()
		winner, byErr := rotateRace(t, s, tok)
		if byErr[session.ErrRefreshConcurrent] != 19 {
			if stalled(start, interval) {
				return errStalled("concurrent rotations")
			}
			t.Fatalf("losers: %v, want 19 concurrent", byErr)
		}
		_, next, err := s.RotateRefresh(c, winner)
		must(t, "rotate the winner's token", err)
		rotated := time.Now()
		sleepUntil(rotated.Add(interval + 150*time.Millisecond))
		_, _, err = s.RotateRefresh(c, winner)
		wantErr(t, "reuse after the interval", err, session.ErrRefreshReused)
		_, _, err = s.RotateRefresh(c, next)
		wantErr(t, "newest token after reuse", err, session.ErrNotFound)
		return nil
	})
}

// testRefreshKeptWindow: stores keep the hashes of the last 1000 rotated
// tokens; a token rotated away more than 1000 rotations ago is unknown
// rather than reuse (documented in package session).
func testRefreshKeptWindow(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	first, err := s.CreateRefresh(c, newFamily("usr_window"))
	must(t, "create", err)
	tok := first
	var second string
	for i := 0; i < 1001; i++ {
		_, tok, err = s.RotateRefresh(c, tok)
		must(t, "rotate", err)
		if i == 0 {
			second = tok
		}
	}
	_, _, err = s.RotateRefresh(c, first)
	wantErr(t, "rotate a token older than the window", err, session.ErrNotFound)
	if _, err := s.GetRefresh(c, tok); err != nil {
		t.Fatalf("an unknown old token harmed the family: %v", err)
	}
	_, _, err = s.RotateRefresh(c, second)
	wantErr(t, "rotate the oldest token in the window", err, session.ErrRefreshReused)
}

func testRefreshExplicitID(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	in := newFamily("usr_explicit")
	in.ID = session.NewFamilyID()
	tok, err := s.CreateRefresh(c, in)
	must(t, "create", err)
	f, err := s.GetRefresh(c, tok)
	must(t, "get", err)
	if f.ID != in.ID {
		t.Fatalf("family id %q, want %q", f.ID, in.ID)
	}
	_, err = s.CreateRefresh(c, in)
	wantErr(t, "create with a taken id", err, session.ErrExists)
	if _, err := s.GetRefresh(c, tok); err != nil {
		t.Fatalf("a refused duplicate harmed the existing family: %v", err)
	}
	in.ID = "bad id {x}"
	_, err = s.CreateRefresh(c, in)
	wantErr(t, "create with a malformed id", err, session.ErrInvalid)
}

func testRevokeFamily(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	tok, err := s.CreateRefresh(c, newFamily("usr_revoke"))
	must(t, "create", err)
	other, err := s.CreateRefresh(c, newFamily("usr_revoke"))
	must(t, "create other", err)
	f, err := s.GetRefresh(c, tok)
	must(t, "get", err)
	must(t, "revoke", s.RevokeFamily(c, f.ID))
	_, _, err = s.RotateRefresh(c, tok)
	wantErr(t, "rotate revoked", err, session.ErrNotFound)
	must(t, "revoke again", s.RevokeFamily(c, f.ID))
	must(t, "revoke unknown", s.RevokeFamily(c, "rf_unknown"))
	if _, err := s.GetRefresh(c, other); err != nil {
		t.Fatalf("revoking one family touched another: %v", err)
	}
	n, err := s.RevokeUserFamilies(c, "usr_revoke")
	must(t, "revoke user", err)
	if n != 1 {
		t.Fatalf("user revoke counted %d, want 1 (the revoked family left the index)", n)
	}
}

func testRevokeUserFamilies(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	var toks []string
	var err error
	for range 3 {
		tok, err := s.CreateRefresh(c, newFamily("usr_removed"))
		must(t, "create", err)
		toks = append(toks, tok)
	}
	_, toks[0], err = s.RotateRefresh(c, toks[0])
	must(t, "rotate", err)
	expiring := newFamily("usr_removed")
	expiring.ExpiresAt = time.Now().Add(150 * time.Millisecond)
	_, err = s.CreateRefresh(c, expiring)
	must(t, "create expiring", err)
	kept, err := s.CreateRefresh(c, newFamily("usr_kept"))
	must(t, "create other user", err)
	time.Sleep(250 * time.Millisecond)

	n, err := s.RevokeUserFamilies(c, "usr_removed")
	must(t, "revoke", err)
	if n != 3 {
		t.Fatalf("revoked %d families, want 3 (an expired one does not count)", n)
	}
	for _, tok := range toks {
		_, _, err := s.RotateRefresh(c, tok)
		wantErr(t, "rotate after user revoke", err, session.ErrNotFound)
	}
	if _, _, err := s.RotateRefresh(c, kept); err != nil {
		t.Fatalf("another user's family was revoked: %v", err)
	}
	n, err = s.RevokeUserFamilies(c, "usr_removed")
	must(t, "revoke again", err)
	if n != 0 {
		t.Fatalf("second revoke counted %d", n)
	}
	_, err = s.RevokeUserFamilies(c, "")
	wantErr(t, "revoke without user", err, session.ErrInvalid)
}

func testPingClose(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	must(t, "ping", s.Ping(c))
	got, err := s.CreateSession(c, newSession("usr_closed"))
	must(t, "create", err)
	must(t, "close", s.Close())
	must(t, "close twice", s.Close())
	wantErr(t, "ping after close", s.Ping(c), session.ErrUnavailable)
	_, err = s.GetSession(c, got.ID)
	wantErr(t, "get after close", err, session.ErrUnavailable)
	wantErr(t, "put after close", s.PutOnce(c, session.KindAuthCode, "k", nil, time.Minute), session.ErrUnavailable)
	_, err = s.TakeOnce(c, session.KindAuthCode, "k")
	wantErr(t, "take after close", err, session.ErrUnavailable)
	_, err = s.CreateRefresh(c, newFamily("usr_closed"))
	wantErr(t, "create refresh after close", err, session.ErrUnavailable)
	_, _, err = s.Count(c, session.KindFailedAuth, "k", time.Minute)
	wantErr(t, "count after close", err, session.ErrUnavailable)
	_, err = s.RevokeSessionFamilies(c, "usr_closed", "sid", true)
	wantErr(t, "revoke session families after close", err, session.ErrUnavailable)
}

func testRevokeSessionFamilies(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	fam := func(user, sid, scope string) string {
		f := newFamily(user)
		f.SessionID, f.Scope = sid, scope
		tok, err := s.CreateRefresh(c, f)
		must(t, "create", err)
		return tok
	}
	online := fam("usr_logout", "sid-a", "openid profile")
	online2 := fam("usr_logout", "sid-a", "openid email")
	offline := fam("usr_logout", "sid-a", "openid offline_access")
	otherSession := fam("usr_logout", "sid-b", "openid")
	otherUser := fam("usr_other", "sid-a", "openid")
	_, online2, err := s.RotateRefresh(c, online2) // a rotated family is found too
	must(t, "rotate", err)

	n, err := s.RevokeSessionFamilies(c, "usr_logout", "sid-a", true)
	must(t, "revoke session families", err)
	if n != 2 {
		t.Fatalf("revoked %d families, want 2 (the session's, without offline_access)", n)
	}
	for _, tok := range []string{online, online2} {
		_, err := s.GetRefresh(c, tok)
		wantErr(t, "get a family of the ended session", err, session.ErrNotFound)
	}
	for name, tok := range map[string]string{"offline": offline, "other session": otherSession, "other user": otherUser} {
		if _, err := s.GetRefresh(c, tok); err != nil {
			t.Fatalf("%s family was revoked: %v", name, err)
		}
	}
	n, err = s.RevokeSessionFamilies(c, "usr_logout", "sid-a", false)
	must(t, "revoke including offline", err)
	if n != 1 {
		t.Fatalf("revoked %d, want the offline family only", n)
	}
	_, err = s.GetRefresh(c, offline)
	wantErr(t, "get the offline family", err, session.ErrNotFound)
	n, err = s.RevokeUserFamilies(c, "usr_logout")
	must(t, "revoke user", err)
	if n != 1 {
		t.Fatalf("user index counted %d, want 1 (revoked families left it)", n)
	}
	_, err = s.RevokeSessionFamilies(c, "usr_logout", "", true)
	wantErr(t, "empty handle", err, session.ErrInvalid)
	_, err = s.RevokeSessionFamilies(c, "", "sid-a", true)
	wantErr(t, "empty user", err, session.ErrInvalid)
	n, err = s.RevokeSessionFamilies(c, "usr_nobody", "sid-a", true)
	if err != nil || n != 0 {
		t.Fatalf("user without families: %d %v", n, err)
	}
}

func testCount(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	const window = time.Minute
	for want := int64(1); want <= 3; want++ {
		n, reset, err := s.Count(c, session.KindFailedAuth, "203.0.113.7|cli_a", window)
		must(t, "count", err)
		if n != want || reset <= 0 || reset > window {
			t.Fatalf("count %d reset %v, want %d within (0, %v]", n, reset, want, window)
		}
	}
	// Another key, another kind with the same key: counted apart.
	n, _, err := s.Count(c, session.KindFailedAuth, "203.0.113.7|cli_b", window)
	must(t, "count other key", err)
	if n != 1 {
		t.Fatalf("another key started at %d", n)
	}
	n, _, err = s.Count(c, session.KindFailedAuthSource, "203.0.113.7|cli_a", window)
	must(t, "count other kind", err)
	if n != 1 {
		t.Fatalf("another kind started at %d", n)
	}
	// A single-use record under the same kind and key is another namespace.
	must(t, "put once", s.PutOnce(c, session.KindFailedAuth, "203.0.113.7|cli_a", []byte("v"), time.Minute))
	n, _, err = s.Count(c, session.KindFailedAuth, "203.0.113.7|cli_a", window)
	must(t, "count after put once", err)
	if n != 4 {
		t.Fatalf("count %d after a record of the same kind and key, want 4", n)
	}
	v, err := s.TakeOnce(c, session.KindFailedAuth, "203.0.113.7|cli_a")
	must(t, "take once", err)
	if string(v) != "v" {
		t.Fatalf("record %q", v)
	}
}

func testCountWindow(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	const window = 400 * time.Millisecond
	retryStalled(t, func() error {
		key := "window-" + fmt.Sprint(time.Now().UnixNano())
		start := time.Now()
		n1, _, err := s.Count(c, session.KindFailedAuth, key, window)
		must(t, "count", err)
		// The window starts when the store ran the first count: somewhere
		// between start and now. Waiting past it counts from now.
		opened := time.Now()
		n2, reset, err := s.Count(c, session.KindFailedAuth, key, time.Hour) // a later window length does not extend it
		must(t, "count again", err)
		if stalled(start, window) {
			return errStalled("counting within the window")
		}
		if n1 != 1 || n2 != 2 || reset > window {
			t.Fatalf("counts %d, %d, reset %v; want 1, 2 within %v", n1, n2, reset, window)
		}
		sleepUntil(opened.Add(window + 150*time.Millisecond))
		n, reset, err := s.Count(c, session.KindFailedAuth, key, window)
		must(t, "count after the window", err)
		if n != 1 || reset <= 0 || reset > window {
			t.Fatalf("after the window: %d, reset %v; want 1 in a new window", n, reset)
		}
		return nil
	})
}

func testCountConcurrent(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	got := race(20, func() int64 {
		n, _, err := s.Count(c, session.KindFailedAuthSource, "198.51.100.0/24", time.Minute)
		if err != nil {
			return -1
		}
		return n
	})
	seen := map[int64]bool{}
	for _, n := range got {
		if n < 1 || n > 20 || seen[n] {
			t.Fatalf("concurrent counts %v: want each of 1..20 once", got)
		}
		seen[n] = true
	}
}

func testCountInvalid(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	_, _, err := s.Count(c, "Bad Kind", "k", time.Minute)
	wantErr(t, "bad kind", err, session.ErrInvalid)
	_, _, err = s.Count(c, session.KindFailedAuth, "", time.Minute)
	wantErr(t, "empty key", err, session.ErrInvalid)
	_, _, err = s.Count(c, session.KindFailedAuth, "k", 0)
	wantErr(t, "zero window", err, session.ErrInvalid)
	_, _, err = s.Count(c, session.KindFailedAuth, strings.Repeat("k", 5000), time.Minute)
	wantErr(t, "oversized key", err, session.ErrInvalid)
}

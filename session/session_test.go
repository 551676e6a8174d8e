package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

func memoryOpener(t *testing.T, opts session.Options) session.Store {
	m := session.NewMemory(opts)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func redisOpener(url string) sessiontest.Opener {
	return func(t *testing.T, opts session.Options) session.Store {
		return sessiontest.OpenRedis(t, url, opts)
	}
}

// TestConformance runs the one suite against every backend at once: the
// in-process store, the shared Redis (fails when it is down: run
// ./.ci/test), a three-node Redis Cluster and a Sentinel-fronted Redis that
// the test starts itself.
func TestConformance(t *testing.T) {
	backends := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"memory", func(t *testing.T) { sessiontest.Run(t, memoryOpener) }},
		{"redis", func(t *testing.T) { sessiontest.Run(t, redisOpener(sessiontest.RedisURL())) }},
		{"redis-cluster", func(t *testing.T) {
			url := sessiontest.StartCluster(t)
			if s := sessiontest.OpenRedis(t, url, session.Options{}); s.Mode() != session.ModeCluster {
				t.Fatalf("mode %q for %d URLs, want cluster", s.Mode(), strings.Count(url, ",")+1)
			}
			sessiontest.Run(t, redisOpener(url))
		}},
		{"redis-sentinel", func(t *testing.T) {
			url := sessiontest.StartSentinel(t)
			if s := sessiontest.OpenRedis(t, url, session.Options{}); s.Mode() != session.ModeSentinel {
				t.Fatalf("mode %q, want sentinel", s.Mode())
			}
			sessiontest.Run(t, redisOpener(url))
		}},
	}
	var wg sync.WaitGroup
	for _, b := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(b.name, b.run)
		}()
	}
	wg.Wait()
}

// TestRedisOutage: when Redis goes away every operation returns an error
// matching ErrUnavailable within its context's deadline, and nothing panics.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := sessiontest.StartRedis(t)
	s := sessiontest.OpenRedis(t, srv.URL(), session.Options{})
	ctx := context.Background()
	sess, err := s.CreateSession(ctx, session.Session{UserID: "usr_outage"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateRefresh(ctx, session.RefreshFamily{UserID: "usr_outage"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	ops := map[string]func(context.Context) error{
		"ping": s.Ping,
		"create": func(c context.Context) error {
			_, err := s.CreateSession(c, session.Session{UserID: "usr_outage"})
			return err
		},
		"get":       func(c context.Context) error { _, err := s.GetSession(c, sess.ID); return err },
		"delete":    func(c context.Context) error { return s.DeleteSession(c, sess.ID) },
		"list":      func(c context.Context) error { _, err := s.ListUserSessions(c, "usr_outage"); return err },
		"revoke":    func(c context.Context) error { _, err := s.RevokeUserSessions(c, "usr_outage"); return err },
		"put once":  func(c context.Context) error { return s.PutOnce(c, session.KindLoginState, "k", nil, time.Minute) },
		"take once": func(c context.Context) error { _, err := s.TakeOnce(c, session.KindLoginState, "k"); return err },
		"remember":  func(c context.Context) error { _, err := s.Remember(c, session.KindJTI, "k", time.Minute); return err },
		"create rt": func(c context.Context) error {
			_, err := s.CreateRefresh(c, session.RefreshFamily{UserID: "u"})
			return err
		},
		"rotate rt":   func(c context.Context) error { _, _, err := s.RotateRefresh(c, tok); return err },
		"get rt":      func(c context.Context) error { _, err := s.GetRefresh(c, tok); return err },
		"revoke rt":   func(c context.Context) error { return s.RevokeFamily(c, "rf_x") },
		"revoke user": func(c context.Context) error { _, err := s.RevokeUserFamilies(c, "usr_outage"); return err },
	}
	const deadline = 3 * time.Second
	for name, op := range ops {
		c, cancel := context.WithTimeout(ctx, deadline)
		start := time.Now()
		err := op(c)
		cancel()
		if !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s during an outage: got %v, want ErrUnavailable", name, err)
		}
		// Normally ~0.1 s; the caller's deadline bounds it (with slack for
		// a loaded machine).
		if d := time.Since(start); d > deadline+2*time.Second {
			t.Errorf("%s took %v to report the outage, beyond its context deadline (%v)", name, d, err)
		}
	}

	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := session.NewRedis(c, srv.URL(), session.Options{}); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("NewRedis on a dead server: got %v, want ErrUnavailable", err)
	}
}

// TestRedisStoresNoSecrets: a dump of Redis yields no live cookie, token or
// single-use key: keys and values carry only hashes.
func TestRedisStoresNoSecrets(t *testing.T) {
	t.Parallel()
	prefix := sessiontest.RandomPrefix()
	s := sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{KeyPrefix: prefix})
	ctx := context.Background()
	sess, err := s.CreateSession(ctx, session.Session{UserID: "usr_dump"})
	if err != nil {
		t.Fatal(err)
	}
	const state = "state-value-that-is-a-secret"
	if err := s.PutOnce(ctx, session.KindLoginState, state, []byte("payload"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remember(ctx, session.KindSAMLAssertion, state, time.Minute); err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateRefresh(ctx, session.RefreshFamily{UserID: "usr_dump"})
	if err != nil {
		t.Fatal(err)
	}
	_, tok2, err := s.RotateRefresh(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	secretOf := func(tok string) string { return tok[strings.LastIndexByte(tok, '.')+1:] }
	secrets := []string{sess.ID, state, secretOf(tok), secretOf(tok2)}

	o, err := redis.ParseURL(sessiontest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 7 {
		t.Fatalf("found %d keys under the prefix, want at least 7", len(keys))
	}
	for _, k := range keys {
		dump, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 {
			t.Errorf("key %s has no TTL", k)
		}
		for _, secret := range secrets {
			if strings.Contains(k, secret) || strings.Contains(dump, secret) {
				t.Errorf("key %s holds a secret in clear", k)
			}
		}
	}
}

// TestMemoryBounded: the in-process store refuses writes beyond its caps
// with an error that is both ErrFull and ErrUnavailable, and has room again
// once records are taken or expire.
func TestMemoryBounded(t *testing.T) {
	t.Parallel()
	m := session.NewMemory(session.Options{MaxEntries: 3, SweepInterval: 50 * time.Millisecond})
	defer m.Close()
	ctx := context.Background()
	for i, k := range []string{"a", "b"} {
		if err := m.PutOnce(ctx, session.KindLoginState, k, []byte{byte(i)}, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.CreateSession(ctx, session.Session{UserID: "usr_cap"}); err != nil {
		t.Fatal(err)
	}
	err := m.PutOnce(ctx, session.KindLoginState, "c", nil, time.Minute)
	if !errors.Is(err, session.ErrFull) || !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("put beyond the cap: got %v, want ErrFull and ErrUnavailable", err)
	}
	if _, err := m.Remember(ctx, session.KindJTI, "j", time.Minute); !errors.Is(err, session.ErrFull) {
		t.Fatalf("remember beyond the cap: got %v", err)
	}
	if _, err := m.CreateRefresh(ctx, session.RefreshFamily{UserID: "usr_cap"}); !errors.Is(err, session.ErrFull) {
		t.Fatalf("refresh beyond the cap: got %v", err)
	}
	if _, err := m.TakeOnce(ctx, session.KindLoginState, "a"); err != nil {
		t.Fatal(err)
	}
	if err := m.PutOnce(ctx, session.KindLoginState, "c", nil, time.Minute); err != nil {
		t.Fatalf("put after a take freed room: %v", err)
	}
	time.Sleep(250 * time.Millisecond) // "b" expires; the sweep drops it
	if _, err := m.Remember(ctx, session.KindJTI, "j", time.Minute); err != nil {
		t.Fatalf("remember after expiry freed room: %v", err)
	}

	small := session.NewMemory(session.Options{MaxBytes: 4096, MaxValueBytes: 2048})
	defer small.Close()
	var full error
	for i := range 10 {
		if err := small.PutOnce(ctx, session.KindAuthCode, string(rune('a'+i)), make([]byte, 2000), time.Minute); err != nil {
			full = err
			break
		}
	}
	if !errors.Is(full, session.ErrFull) {
		t.Fatalf("byte cap never reached: %v", full)
	}
}

func TestMemoryCloseStopsSweep(t *testing.T) {
	t.Parallel()
	m := session.NewMemory(session.Options{SweepInterval: time.Millisecond})
	done := make(chan struct{})
	go func() { _ = m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: the sweep goroutine did not stop")
	}
}

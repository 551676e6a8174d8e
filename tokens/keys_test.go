package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/secretbox"
)

func keysByState(t *testing.T, s KeyStore) map[directory.SigningKeyState][]directory.SigningKey {
	t.Helper()
	rows, err := s.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[directory.SigningKeyState][]directory.SigningKey{}
	for _, r := range rows {
		out[r.State] = append(out[r.State], r)
	}
	return out
}

func TestStartCreatesOneActiveKeyAndPublishesTheNext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		for _, alg := range []Algorithm{ES256, EdDSA, RS256} {
			t.Run(string(alg), func(t *testing.T) {
				store := open(t)
				c := newClock()
				box := newBox(t)
				k, err := NewKeyring(store, box, testKeyConfig(c, alg))
				if err != nil {
					t.Fatal(err)
				}
				defer k.Close()
				if err := k.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				st := keysByState(t, store)
				if len(st[directory.KeyActive]) != 1 || len(st[directory.KeyNext]) != 1 || len(st[directory.KeyRetired]) != 0 {
					t.Fatalf("keys after start: %v", st)
				}
				for _, r := range append(st[directory.KeyActive], st[directory.KeyNext]...) {
					if r.Algorithm != string(alg) {
						t.Errorf("key %s has alg %s", r.ID, r.Algorithm)
					}
					pub, err := jwk.ParseKey(r.PublicJWK)
					if err != nil {
						t.Fatal(err)
					}
					if tp, _ := thumbprint(pub); tp != r.ID {
						t.Errorf("kid %s is not the RFC 7638 thumbprint %s", r.ID, tp)
					}
					// Sealed at rest: the private JWK is not in the row in clear,
					// and opens only with the AD of this kid.
					if bytes.Contains(r.Sealed, []byte(`"d"`)) || r.Sealed[0] != secretbox.Version1 {
						t.Errorf("key %s is not sealed", r.ID)
					}
					plain, err := box.Open(r.Sealed, sealAD(r.ID))
					if err != nil {
						t.Fatalf("open sealed key: %v", err)
					}
					if !bytes.Contains(plain, []byte(`"d"`)) {
						t.Error("sealed value is not the private JWK")
					}
					if _, err := box.Open(r.Sealed, sealAD(st[directory.KeyNext][0].ID+"x")); err == nil {
						t.Error("sealed key opened with another kid")
					}
				}
				if got := k.cur.Load().signer.kid; got != st[directory.KeyActive][0].ID {
					t.Fatalf("signs with %s, active key is %s", got, st[directory.KeyActive][0].ID)
				}
			})
		}
	})
}

func TestStartWithAnotherSecretKeyFails(t *testing.T) {
	store := directorytest.SQLite(t)
	c := newClock()
	k1, _ := NewKeyring(store, newBox(t), testKeyConfig(c, ES256))
	defer k1.Close()
	if err := k1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	k2, _ := NewKeyring(store, newBox(t), testKeyConfig(c, ES256))
	defer k2.Close()
	if err := k2.Start(context.Background()); !errors.Is(err, ErrKeyIntegrity) {
		t.Fatalf("err = %v, want ErrKeyIntegrity", err)
	}
}

func TestTamperedKeyRowIsRefused(t *testing.T) {
	store := directorytest.SQLite(t)
	c := newClock()
	box := newBox(t)
	k, _ := NewKeyring(store, box, testKeyConfig(c, ES256))
	defer k.Close()
	// Another key's sealed private key under this row's kid must not load.
	a, err := k.generateKey(ES256, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.generateKey(ES256, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	a.Sealed = b.Sealed
	a.State = directory.KeyActive
	now := c.Now()
	a.ActivatedAt = &now
	if err := store.InsertSigningKey(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(context.Background()); !errors.Is(err, ErrKeyIntegrity) {
		t.Fatalf("err = %v, want ErrKeyIntegrity", err)
	}
}

func TestConfigRejectsTimingsThatBreakVerifiers(t *testing.T) {
	store := directorytest.SQLite(t)
	for name, cfg := range map[string]KeyConfig{
		"lead shorter than max-age": {PublishLead: time.Minute, JWKSMaxAge: 5 * time.Minute},
		"rotation before lead":      {RotateEvery: 30 * time.Minute, PublishLead: time.Hour},
		"unknown algorithm":         {Algorithm: "HS256"},
		"none":                      {Algorithm: "none"},
	} {
		if _, err := NewKeyring(store, newBox(t), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRacingReplicasEndWithOneActiveKey starts several replicas, each with
// its own connection pool on one database, at the same moment.
func TestRacingReplicasEndWithOneActiveKey(t *testing.T) {
	ctx := context.Background()
	openers := map[string]func(t *testing.T) func() *directory.SQLStore{
		"sqlite": func(t *testing.T) func() *directory.SQLStore {
			path := filepath.Join(t.TempDir(), "directory.db")
			return func() *directory.SQLStore {
				s, err := directory.OpenSQLite(ctx, path, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				return s
			}
		},
		"postgres": func(t *testing.T) func() *directory.SQLStore {
			u := directorytest.PostgresSchemaURL(t)
			return func() *directory.SQLStore {
				s, err := directory.OpenPostgres(ctx, u, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				return s
			}
		},
	}
	for name, opener := range openers {
		t.Run(name, func(t *testing.T) {
			for round := range 3 {
				open := opener(t)
				first := open() // applies migrations once
				box := newBox(t)
				c := newClock()
				const replicas = 4
				rings := make([]*Keyring, replicas)
				for i := range rings {
					s := first
					if i > 0 {
						s = open()
					}
					k, err := NewKeyring(s, box, testKeyConfig(c, ES256))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(k.Close)
					rings[i] = k
				}
				var wg sync.WaitGroup
				errs := make([]error, replicas)
				for i, k := range rings {
					wg.Go(func() { errs[i] = k.Start(ctx) })
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("round %d replica %d: %v", round, i, err)
					}
				}
				st := keysByState(t, first)
				if len(st[directory.KeyActive]) != 1 {
					t.Fatalf("round %d: %d active keys: %v", round, len(st[directory.KeyActive]), st)
				}
				for i, k := range rings {
					if err := k.Reload(ctx); err != nil {
						t.Fatal(err)
					}
					if got := k.cur.Load().signer.kid; got != st[directory.KeyActive][0].ID {
						t.Fatalf("round %d replica %d signs with %s, active is %s", round, i, got, st[directory.KeyActive][0].ID)
					}
				}
			}
		})
	}
}

func TestRotationPublishesBeforeSigningAndKeepsRetiredKeysUntilTheirTokensExpire(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		ctx := context.Background()
		cfg := e.keys.cfg
		st := keysByState(t, e.store)
		a, b := st[directory.KeyActive][0], st[directory.KeyNext][0]
		tokA := e.token(nil)

		// Not due yet: nothing changes.
		e.keyClock.Advance(cfg.RotateEvery - time.Second)
		r, err := e.keys.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Activated != "" || len(r.Retired) != 0 || r.Active != a.ID || r.Next != b.ID {
			t.Fatalf("early rotation: %+v", r)
		}
		if want := a.ActivatedAt.Add(cfg.RotateEvery); !r.NextActivation.Equal(want) {
			t.Errorf("NextActivation = %v, want %v", r.NextActivation, want)
		}

		// Due: B (published since start, longer than PublishLead) takes over.
		e.keyClock.Advance(time.Second)
		r, err = e.keys.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Activated != b.ID || len(r.Retired) != 1 || r.Retired[0] != a.ID || len(r.Created) != 1 {
			t.Fatalf("rotation: %+v", r)
		}
		if want := e.keyClock.Now().Add(cfg.MaxTokenTTL + cfg.Leeway + cfg.ReloadInterval); !r.RetiredUntil.Equal(want.UTC().Truncate(time.Microsecond)) {
			t.Errorf("retired until %v, want %v", r.RetiredUntil, want)
		}
		c := r.Created[0]
		st = keysByState(t, e.store)
		if len(st[directory.KeyActive]) != 1 || st[directory.KeyActive][0].ID != b.ID ||
			len(st[directory.KeyRetired]) != 1 || st[directory.KeyRetired][0].ID != a.ID ||
			len(st[directory.KeyNext]) != 1 || st[directory.KeyNext][0].ID != c {
			t.Fatalf("states after rotation: %v", st)
		}
		tokB := e.token(nil)
		if kid := headerOf(t, tokB)["kid"]; kid != b.ID {
			t.Fatalf("new token signed by %v, want %s", kid, b.ID)
		}
		// Every key is published: A for its tokens, B active, C ahead of use.
		for _, kid := range []string{a.ID, b.ID, c} {
			if e.keys.cur.Load().public[kid] == nil {
				t.Errorf("key %s not published", kid)
			}
		}
		for _, tok := range []string{tokA, tokB} {
			if in := e.introspect(t, tok); in["active"] != true {
				t.Errorf("token by %v inactive after rotation: %v", headerOf(t, tok)["kid"], in)
			}
		}

		// A new next key is not activated before it has been published for
		// PublishLead, even when forced.
		r, err = e.keys.ForceRotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Activated != "" || r.Next != c || r.NextActivation.Before(e.keyClock.Now().Add(cfg.PublishLead-time.Second)) {
			t.Fatalf("forced rotation of a fresh key: %+v", r)
		}

		// A stays published until its tokens expired, then goes.
		e.keyClock.Advance(cfg.MaxTokenTTL + cfg.Leeway + cfg.ReloadInterval - time.Second)
		if r, _ = e.keys.Rotate(ctx); r.Deleted != 0 || e.keys.cur.Load().public[a.ID] == nil {
			t.Fatalf("retired key removed early: %+v", r)
		}
		e.keyClock.Advance(2 * time.Second)
		if r, _ = e.keys.Rotate(ctx); r.Deleted != 1 || e.keys.cur.Load().public[a.ID] != nil {
			t.Fatalf("expired retired key kept: %+v", r)
		}

		// Forced rotation once C has been published long enough.
		e.keyClock.Advance(cfg.PublishLead)
		if r, err = e.keys.ForceRotate(ctx); err != nil || r.Activated != c || r.Retired[0] != b.ID {
			t.Fatalf("forced rotation: %+v %v", r, err)
		}
	})
}

func TestDeletedActiveKeyIsReplacedAndStopsVerifying(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		ctx := context.Background()
		tok := e.token(nil)
		kid := headerOf(t, tok)["kid"].(string)
		if err := e.store.DeleteSigningKey(ctx, "system:test", kid); err != nil {
			t.Fatal(err)
		}
		// Introspection sees the deletion at once, without waiting for a reload.
		if in := e.introspect(t, tok); in["active"] != false {
			t.Fatalf("token of a deleted key still active: %v", in)
		}
		// Rotate promotes the next key (published since start) immediately.
		r, err := e.keys.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Activated == "" || r.Active != r.Activated {
			t.Fatalf("no replacement: %+v", r)
		}
		if got := headerOf(t, e.token(nil))["kid"]; got != r.Activated {
			t.Fatalf("signs with %v", got)
		}
	})
}

// TestReplicasFollowRotationByNotification: a replica whose poll interval is
// long still switches keys promptly, through the store's change notification.
func TestReplicasFollowRotationByNotification(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		var s1, s2 *directory.SQLStore
		if strings.HasSuffix(t.Name(), "/postgres") {
			u := directorytest.PostgresSchemaURL(t)
			s1 = mustOpen(t, func() (*directory.SQLStore, error) { return directory.OpenPostgres(ctx, u, nil) })
			s2 = mustOpen(t, func() (*directory.SQLStore, error) { return directory.OpenPostgres(ctx, u, nil) })
		} else {
			p := filepath.Join(t.TempDir(), "d.db")
			s1 = mustOpen(t, func() (*directory.SQLStore, error) { return directory.OpenSQLite(ctx, p, nil) })
			s2 = mustOpen(t, func() (*directory.SQLStore, error) { return directory.OpenSQLite(ctx, p, nil) })
			// The SQLite store takes its baseline generation on its first poll,
			// 250 ms after opening; changes before that are seen only by the
			// keyring's own poll. (Reported to the directory's owner.)
			time.Sleep(300 * time.Millisecond)
		}
		box, c := newBox(t), newClock()
		cfg := testKeyConfig(c, ES256)
		cfg.ReloadInterval, cfg.PublishLead, cfg.RotateEvery = time.Hour, 2*time.Hour, 3*time.Hour
		k1, err := NewKeyring(s1, box, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer k1.Close()
		k2, _ := NewKeyring(s2, box, cfg)
		defer k2.Close()
		if err := k1.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := k2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = k2.Run(rctx) }()

		c.Advance(cfg.RotateEvery)
		r, err := k1.Rotate(ctx)
		if err != nil || r.Activated == "" {
			t.Fatalf("rotate: %+v %v", r, err)
		}
		// Activation, retirement and the new next key are separate commits,
		// each notified; the replica ends up with all of them.
		deadline := time.Now().Add(5 * time.Second)
		for ks := k2.cur.Load(); ks.signer.kid != r.Activated || ks.public[r.Created[0]] == nil; ks = k2.cur.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("replica signs with %s (want %s), publishes next key %s: %v", ks.signer.kid, r.Activated, r.Created[0], ks.public[r.Created[0]] != nil)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func mustOpen(t *testing.T, f func() (*directory.SQLStore, error)) *directory.SQLStore {
	t.Helper()
	s, err := f()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func (e *env) introspect(t testing.TB, tok string) map[string]any {
	t.Helper()
	in, err := e.issuer.Introspect(context.Background(), Credentials{ID: e.sa.ID, Secret: e.secret}, tok)
	if err != nil {
		t.Fatalf("introspect: %v", err)
	}
	raw, err := in.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func jsonKeys(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Keys
}

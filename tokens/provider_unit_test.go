package tokens

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// FuzzUserPayloadMatchesEncodingJSON: the user claims added to the
// hand-written access-token encoder (sid, email, idp, amr) are written as
// encoding/json writes them.
func FuzzUserPayloadMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"plain", `quo"te\back`, "<html>&amp;", "ctl\x00\x1f", "ünïcødé ✓", "\u2028", "bad\xffutf8"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, email, name, amr string) {
		pa := samplePrincipalAccess("research", "x")
		g := grant{sub: "usr_1", clientID: "cli_1", aud: "cli_1", scope: "openid", name: name, sid: "sid-" + amr, email: email,
			idp: "conn_" + name, amr: []string{amr, "mfa"}, access: &pa, first: 0, max: 5}
		got := g.appendPayload(nil, "https://iss", 1700000000, 1700000600, []byte("AAAAAAAAAAAAAAAAAAAAAA"))
		want, err := json.Marshal(g.claims("https://iss", 1700000000, 1700000600, "AAAAAAAAAAAAAAAAAAAAAA"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("encoder differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	})
}

// FuzzIDClaimsMatchEncodingJSON: the ID-token encoder writes exactly what
// encoding/json writes for IDTokenClaims.
func FuzzIDClaimsMatchEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", `quo"te`, "<&>", "\x00", "ü", "\u2029", "\xff"} {
		f.Add(s, s, s, true)
	}
	f.Fuzz(func(t *testing.T, nonce, email, name string, verified bool) {
		c := IDTokenClaims{Issuer: "https://iss", Subject: "usr_" + name, Audience: "cli_1", ExpiresAt: 2, IssuedAt: 1, AuthTime: 1,
			Nonce: nonce, AMR: []string{name}, SessionID: email, AuthorizedParty: "cli_1", AccessTokenHash: "h", Email: email,
			EmailVerified: &verified, Name: name, Org: &IDTokenOrg{ID: "org_" + nonce, Name: name, Role: "admin"}}
		for _, v := range []IDTokenClaims{c, {Issuer: "i", Subject: "s", Audience: "a", AuthorizedParty: "a"}} {
			got := appendIDClaims(nil, &v)
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("encoder differs from encoding/json:\n got %s\nwant %s", got, want)
			}
		}
	})
}

func TestIDTokenLaneHasItsOwnKeysAndRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		store := open(t)
		c := newClock()
		kc := testKeyConfig(c, ES256)
		kc.IDTokenAlgorithm = RS256
		k, err := NewKeyring(store, newBox(t), kc)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		ctx := context.Background()
		if err := k.Start(ctx); err != nil {
			t.Fatal(err)
		}
		ks := k.cur.Load()
		if ks.signer == nil || ks.idSigner == nil || ks.signer.alg.String() != "ES256" || ks.idSigner.alg.String() != "RS256" {
			t.Fatalf("signers %+v %+v", ks.signer, ks.idSigner)
		}
		count := func() map[string]map[directory.SigningKeyState]int {
			keys, err := store.ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]map[directory.SigningKeyState]int{"ES256": {}, "RS256": {}}
			for _, r := range keys {
				m[r.Algorithm][r.State]++
			}
			return m
		}
		// Each lane: one active key and one next key.
		got := count()
		for _, alg := range []string{"ES256", "RS256"} {
			if got[alg][directory.KeyActive] != 1 || got[alg][directory.KeyNext] != 1 {
				t.Fatalf("%s keys %v", alg, got[alg])
			}
		}
		// Rotation moves both lanes; each keeps its retired key published.
		oldAT, oldID := ks.signer.kid, ks.idSigner.kid
		c.Advance(kc.RotateEvery)
		r, err := k.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Activated == "" || r.IDTokenActivated == "" || len(r.Retired) != 2 || r.Active == oldAT || r.IDTokenActive == oldID ||
			r.Next == "" || r.IDTokenNext == "" {
			t.Fatalf("rotation %+v", r)
		}
		ks = k.cur.Load()
		if ks.signer.kid != r.Active || ks.idSigner.kid != r.IDTokenActive || ks.public[oldAT] == nil || ks.public[oldID] == nil {
			t.Fatal("key set after rotation")
		}
		// A second replica with the same configuration agrees.
		k2, err := NewKeyring(store, k.box, kc)
		if err != nil {
			t.Fatal(err)
		}
		defer k2.Close()
		if err := k2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if k2.cur.Load().idSigner.kid != ks.idSigner.kid || k2.cur.Load().signer.kid != ks.signer.kid {
			t.Fatal("replicas disagree")
		}
	})
}

func TestProviderConfigIsValidated(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	for name, cfg := range map[string]ProviderConfig{
		"code lives longer than 60s":    {CodeTTL: 61e9},
		"ID token outlives the keys":    {IDTokenTTL: 11 * 60e9},
		"relative login URL":            {LoginURL: "/login"},
		"refresh shorter than a minute": {RefreshTokenTTL: 1e9},
	} {
		if _, err := NewProvider(e.issuer, e.store, memorySessions(t), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

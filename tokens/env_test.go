package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// forEachBackend runs fn against a fresh SQLite store and a fresh PostgreSQL
// schema. PostgreSQL missing fails the test.
func forEachBackend(t *testing.T, fn func(t *testing.T, open func(testing.TB) *directory.SQLStore)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		open := directorytest.Backends()[name]
		t.Run(name, func(t *testing.T) { fn(t, open) })
	}
}

// clock is a clock that moves only when told (verifytest.Clock), started
// at the real time.
type clock = verifytest.Clock

func newClock() *clock { return verifytest.NewClock(time.Now()) }

func newBox(t testing.TB) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testKeyConfig uses short timings that still satisfy the rotation rules.
func testKeyConfig(c *clock, alg Algorithm) KeyConfig {
	// ID tokens share the access-token key: these tests are about one lane
	// (the ID-token lane has its own tests, provider_env_test.go).
	return KeyConfig{Algorithm: alg, IDTokenAlgorithm: alg, RotateEvery: 2 * time.Hour, PublishLead: time.Hour, JWKSMaxAge: 5 * time.Minute,
		ReloadInterval: 10 * time.Second, RotationCheck: time.Hour, MaxTokenTTL: 10 * time.Minute, Leeway: time.Minute, Now: c.Now}
}

// env is the token service's core on a real store, called without HTTP
// (package tokens/oauth's tests run the same behind a real HTTP server).
type env struct {
	t         testing.TB
	store     *directory.SQLStore
	box       *secretbox.Box
	keyClock  *clock // drives rotation decisions
	clock     *clock // drives token times
	keys      *Keyring
	issuer    *Issuer
	org       directory.Organization
	defaultWS directory.Workspace
	sa        directory.ServiceAccount
	secret    string
}

type envOption func(*env, *KeyConfig, *IssuerConfig)

func withAlgorithm(a Algorithm) envOption {
	return func(_ *env, k *KeyConfig, _ *IssuerConfig) { k.Algorithm, k.IDTokenAlgorithm = a, a }
}

func withIssuerConfig(f func(*IssuerConfig)) envOption {
	return func(_ *env, _ *KeyConfig, c *IssuerConfig) { f(c) }
}

func newEnv(t testing.TB, store *directory.SQLStore, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, store: store, box: newBox(t), keyClock: newClock(), clock: newClock()}
	kc := testKeyConfig(e.keyClock, ES256)
	ic := IssuerConfig{Issuer: "https://tokens.test", Now: e.clock.Now}
	for _, o := range opts {
		o(e, &kc, &ic)
	}
	var err error
	if e.keys, err = NewKeyring(store, e.box, kc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.keys.Close)
	ctx := context.Background()
	if err := e.keys.Start(ctx); err != nil {
		t.Fatalf("start keyring: %v", err)
	}
	if e.issuer, err = NewIssuer(e.keys, store, ic); err != nil {
		t.Fatal(err)
	}

	e.org, e.defaultWS, err = store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Acme " + randomSuffix()})
	if err != nil {
		t.Fatal(err)
	}
	e.sa, e.secret = e.newServiceAccount(e.org.ID, "ci-bot", access.RolePlatformMember, directory.InvitationWorkspace{WorkspaceID: e.defaultWS.ID, Role: access.WorkspaceMember})
	return e
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func b64url(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func (e *env) newServiceAccount(orgID, name string, role access.OrgRole, ws ...directory.InvitationWorkspace) (directory.ServiceAccount, string) {
	e.t.Helper()
	ctx := context.Background()
	sa, err := e.store.CreateServiceAccount(ctx, "system:test", directory.NewServiceAccount{OrgID: orgID, Name: name, Role: role, Workspaces: ws})
	if err != nil {
		e.t.Fatal(err)
	}
	_, secret, err := e.store.CreateAPIKey(ctx, "system:test", orgID, sa.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return sa, secret
}

// token gets a client-credentials token for the env's service account.
func (e *env) token(extra url.Values) string {
	e.t.Helper()
	return e.tokenFor(e.sa.ID, e.secret, extra)
}

func (e *env) tokenFor(id, secret string, extra url.Values) string {
	e.t.Helper()
	tok, err := e.issuer.ClientCredentials(context.Background(), ClientCredentialsRequest{ClientID: id, ClientSecret: secret,
		Scope: extra.Get("scope"), Workspace: extra.Get("workspace")})
	if err != nil {
		e.t.Fatalf("token request: %v", err)
	}
	return tok.AccessToken
}

// claimsOf decodes a token's payload without verifying it.
func claimsOf(t testing.TB, tok string) (map[string]any, AccessClaims) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	raw, err := b64url(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	var c AccessClaims
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return m, c
}

func headerOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	raw, err := b64url(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func b64enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func memorySessions(t testing.TB) session.Store {
	s := session.NewMemory(session.Options{})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func redisSessions(t testing.TB) session.Store {
	return sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{})
}

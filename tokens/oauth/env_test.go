package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/secretbox"
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
func testKeyConfig(c *clock, alg tokens.Algorithm) tokens.KeyConfig {
	// ID tokens share the access-token key: these tests are about one lane
	// (the ID-token lane has its own tests, provider_env_test.go).
	return tokens.KeyConfig{Algorithm: alg, IDTokenAlgorithm: alg, RotateEvery: 2 * time.Hour, PublishLead: time.Hour, JWKSMaxAge: 5 * time.Minute,
		ReloadInterval: 10 * time.Second, RotationCheck: time.Hour, MaxTokenTTL: 10 * time.Minute, Leeway: time.Minute, Now: c.Now}
}

// env is a running token service on a real store behind a real HTTP server.
type env struct {
	t         testing.TB
	store     *directory.SQLStore
	box       *secretbox.Box
	keyClock  *clock // drives rotation decisions
	clock     *clock // drives token times
	keys      *tokens.Keyring
	issuer    *tokens.Issuer
	server    *Server
	http      *httptest.Server
	jwksHits  atomic.Int64
	org       directory.Organization
	defaultWS directory.Workspace
	sa        directory.ServiceAccount
	secret    string
	// exchange serves token exchange (withExternalJWTs sets it).
	exchange bool
}

type envOption func(*env, *tokens.KeyConfig, *tokens.IssuerConfig)

func withAlgorithm(a tokens.Algorithm) envOption {
	return func(_ *env, k *tokens.KeyConfig, _ *tokens.IssuerConfig) { k.Algorithm, k.IDTokenAlgorithm = a, a }
}

func withIssuerConfig(f func(*tokens.IssuerConfig)) envOption {
	return func(_ *env, _ *tokens.KeyConfig, c *tokens.IssuerConfig) { f(c) }
}

func newEnv(t testing.TB, store *directory.SQLStore, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, store: store, box: newBox(t), keyClock: newClock(), clock: newClock()}
	mux := http.NewServeMux()
	e.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokens.PathJWKS {
			e.jwksHits.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.http.Close)

	kc := testKeyConfig(e.keyClock, tokens.ES256)
	ic := tokens.IssuerConfig{Issuer: e.http.URL, Now: e.clock.Now}
	for _, o := range opts {
		o(e, &kc, &ic)
	}
	var err error
	if e.keys, err = tokens.NewKeyring(store, e.box, kc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.keys.Close)
	ctx := context.Background()
	if err := e.keys.Start(ctx); err != nil {
		t.Fatalf("start keyring: %v", err)
	}
	if e.issuer, err = tokens.NewIssuer(e.keys, store, ic); err != nil {
		t.Fatal(err)
	}
	if e.server, err = NewServer(e.keys, e.issuer, tokens.Features{ClientCredentials: true, Introspection: true, Revocation: true, TokenExchange: e.exchange}); err != nil {
		t.Fatal(err)
	}
	e.server.Routes(mux)

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

// post sends a form to path, with Basic credentials when user is not empty.
func (e *env) post(path string, form url.Values, user, pass string) (*http.Response, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (*http.Response, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			e.t.Fatalf("response %d is not JSON: %q", resp.StatusCode, body)
		}
	}
	return resp, m
}

// token gets a client-credentials token for the env's service account.
func (e *env) token(extra url.Values) string {
	e.t.Helper()
	return e.tokenFor(e.sa.ID, e.secret, extra)
}

func (e *env) tokenFor(id, secret string, extra url.Values) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	resp, body := e.post(tokens.PathToken, form, id, secret)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("token request: %d %v", resp.StatusCode, body)
	}
	return body["access_token"].(string)
}

// claimsOf decodes a token's payload without verifying it.
func claimsOf(t testing.TB, tok string) (map[string]any, tokens.AccessClaims) {
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
	var c tokens.AccessClaims
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

// hasScope reports whether the space-separated scope contains v.
func hasScope(scope, v string) bool { return slices.Contains(strings.Fields(scope), v) }

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }

// accessTokenKID and idTokenKID are the kids the keyring signs with now.
func accessTokenKID(k *tokens.Keyring) string { a, _ := k.SigningKeyIDs(); return a }

func idTokenKID(k *tokens.Keyring) string { _, id := k.SigningKeyIDs(); return id }

func (e *env) introspect(t testing.TB, tok string) map[string]any {
	t.Helper()
	resp, body := e.post(tokens.PathIntrospect, url.Values{"token": {tok}}, e.sa.ID, e.secret)
	if resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %v", resp.StatusCode, body)
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

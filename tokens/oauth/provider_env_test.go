package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

// The OpenID provider's tests run on real stores behind a real HTTP server.
// A tiny fake of package idp's sign-in stands in at PathLogin: it creates a
// session in the session store for the identity the test chose, sets the
// session cookie and redirects to PathAuthorizeContinue — exactly the
// hand-off contract between idp and tokens.

// stack names a directory backend and a session backend.
type stack struct {
	name     string
	dir      func(testing.TB) *directory.SQLStore
	sessions func(testing.TB) session.Store
}

func memorySessions(t testing.TB) session.Store {
	s := session.NewMemory(session.Options{})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func redisSessions(t testing.TB) session.Store {
	return sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{})
}

// stacks lists every combination; pairs covers each backend once.
func stacks(all bool) []stack {
	s := []stack{
		{"sqlite+memory", directorytest.SQLite, memorySessions},
		{"postgres+redis", directorytest.Postgres, redisSessions},
	}
	if all {
		s = append(s, stack{"sqlite+redis", directorytest.SQLite, redisSessions},
			stack{"postgres+memory", directorytest.Postgres, memorySessions})
	}
	return s
}

// forEachStack runs fn on SQLite with in-process sessions and on
// PostgreSQL with Redis (all four combinations with all).
func forEachStack(t *testing.T, all bool, fn func(t *testing.T, e *oidcEnv)) {
	t.Helper()
	for _, st := range stacks(all) {
		t.Run(st.name, func(t *testing.T) { fn(t, newOIDCEnv(t, st.dir(t), st.sessions(t))) })
	}
}

// offsetClock is real time plus an offset the test can advance (sessions
// live in real time, so the provider's clock must move with it).
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// identity is who the fake sign-in signs in.
type identity struct {
	userID, orgID, connID string
	amr                   []string
	// authTime, when set, is the session's auth_time.
	authTime time.Time
}

// oidcEnv is a running OpenID provider.
type oidcEnv struct {
	t        testing.TB
	store    *directory.SQLStore
	sessions session.Store
	clock    *offsetClock
	keys     *tokens.Keyring
	issuer   *tokens.Issuer
	provider *tokens.Provider
	http     *httptest.Server
	iss      string

	org  directory.Organization
	ws   directory.Workspace
	conn directory.Connection
	user directory.User

	confidential directory.Client
	secret       string
	public       directory.Client

	mu sync.Mutex
	// signIn is the identity the fake sign-in creates sessions for; with
	// skipSignIn it redirects without creating one.
	signIn     identity
	skipSignIn bool
	logins     []url.Values
}

const (
	appRedirect    = "https://app.example.com/callback"
	appRedirectQ   = "https://app.example.com/cb?tenant=acme"
	appPostLogout  = "https://app.example.com/signed-out"
	spaRedirectURI = "http://127.0.0.1:53682/callback"
)

// oidcSetup is what options of newOIDCEnv may change.
type oidcSetup struct {
	keys     *tokens.KeyConfig
	issuer   *tokens.IssuerConfig
	provider *tokens.ProviderConfig
	// dir wraps the directory the provider reads (benchmarks).
	dir func(tokens.ProviderDirectory) tokens.ProviderDirectory
}

type oidcOption func(*oidcSetup)

// withIDTokenAlgorithm signs ID tokens with alg.
func withIDTokenAlgorithm(alg tokens.Algorithm) oidcOption {
	return func(s *oidcSetup) { s.keys.IDTokenAlgorithm = alg }
}

func newOIDCEnv(t testing.TB, store *directory.SQLStore, sessions session.Store, opts ...oidcOption) *oidcEnv {
	t.Helper()
	ctx := context.Background()
	e := &oidcEnv{t: t, store: store, sessions: sessions, clock: &offsetClock{}}
	mux := http.NewServeMux()
	e.http = httptest.NewServer(mux)
	t.Cleanup(e.http.Close)
	e.iss = e.http.URL

	kc := testKeyConfig(newClock(), tokens.ES256)
	kc.IDTokenAlgorithm = tokens.RS256
	ic := tokens.IssuerConfig{Issuer: e.iss, Now: e.clock.Now}
	var pc tokens.ProviderConfig
	setup := oidcSetup{keys: &kc, issuer: &ic, provider: &pc, dir: func(d tokens.ProviderDirectory) tokens.ProviderDirectory { return d }}
	for _, o := range opts {
		o(&setup)
	}
	var err error
	if e.keys, err = tokens.NewKeyring(store, newBox(t), kc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.keys.Close)
	if err := e.keys.Start(ctx); err != nil {
		t.Fatalf("start keyring: %v", err)
	}
	if e.issuer, err = tokens.NewIssuer(e.keys, store, ic); err != nil {
		t.Fatal(err)
	}
	if e.provider, err = tokens.NewProvider(e.issuer, setup.dir(store), sessions, pc); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(e.keys, e.issuer, tokens.Features{ClientCredentials: true, Introspection: true, Revocation: true,
		AuthorizationCode: true, RefreshToken: true, UserInfo: true, EndSession: true, TokenExchange: true}, WithProvider(e.provider))
	if err != nil {
		t.Fatal(err)
	}
	srv.Routes(mux)
	mux.HandleFunc("GET "+tokens.PathLogin, e.fakeSignIn)

	if e.org, e.ws, err = store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Acme " + randomSuffix()}); err != nil {
		t.Fatal(err)
	}
	e.conn = e.newConnection(e.org.ID)
	e.user = e.newMember(e.org.ID, "ada-"+randomSuffix()+"@acme.example", "Ada Lovelace", access.RolePlatformMember,
		directory.InvitationWorkspace{WorkspaceID: e.ws.ID, Role: access.WorkspaceOwner})
	e.confidential, e.secret = e.newClient(false, nil, appRedirect, appRedirectQ, appPostLogout)
	e.public, _ = e.newClient(true, nil, spaRedirectURI, appPostLogout)
	e.signIn = identity{userID: e.user.ID, orgID: e.org.ID, connID: e.conn.ID, amr: []string{"oidc"}}
	return e
}

func (e *oidcEnv) newConnection(orgID string) directory.Connection {
	e.t.Helper()
	c, err := e.store.CreateConnection(context.Background(), "system:test",
		directory.Connection{OrgID: orgID, Type: directory.ConnectionOIDC, Name: "corp-" + randomSuffix(), Enabled: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *oidcEnv) newMember(orgID, email, name string, role access.OrgRole, ws ...directory.InvitationWorkspace) directory.User {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.store.CreateUser(ctx, "system:test", directory.NewUser{Email: email, EmailVerified: true, Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.AddMember(ctx, "system:test", orgID, u.ID, role); err != nil {
		e.t.Fatal(err)
	}
	for _, w := range ws {
		if _, err := e.store.PutWorkspaceMember(ctx, "system:test", orgID, w.WorkspaceID, u.ID, access.Membership{Role: w.Role}); err != nil {
			e.t.Fatal(err)
		}
	}
	return u
}

func (e *oidcEnv) newClient(public bool, grants []string, redirects ...string) (directory.Client, string) {
	e.t.Helper()
	c, secret, err := e.store.CreateClient(context.Background(), "system:test",
		directory.NewClient{Name: "app-" + randomSuffix(), RedirectURIs: redirects, Public: public, GrantTypes: grants})
	if err != nil {
		e.t.Fatal(err)
	}
	return c, secret
}

// fakeSignIn is package idp's part of the contract: sign in, create the
// session and its cookie, send the browser to the continuation.
func (e *oidcEnv) fakeSignIn(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	id, skip := e.signIn, e.skipSignIn
	e.logins = append(e.logins, r.URL.Query())
	e.mu.Unlock()
	authz := r.URL.Query().Get("authz")
	if !skip {
		sess, err := e.sessions.CreateSession(r.Context(), session.Session{UserID: id.userID, OrgID: id.orgID,
			ConnectionID: id.connID, AMR: id.amr, AuthTime: id.authTime})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.SetCookie(w, session.Cookie(session.CookieName, sess.ID, false, 0))
	}
	http.Redirect(w, r, tokens.PathAuthorizeContinue+"?"+url.Values{"authz": {authz}}.Encode(), http.StatusFound)
}

func (e *oidcEnv) setSignIn(f func(*identity)) {
	e.mu.Lock()
	f(&e.signIn)
	e.mu.Unlock()
}

func (e *oidcEnv) loginCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.logins)
}

func (e *oidcEnv) lastLogin() url.Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.logins) == 0 {
		return nil
	}
	return e.logins[len(e.logins)-1]
}

// browser is a user agent with a cookie jar that follows redirects within
// the broker and stops at the first one leaving it (the client's callback).
type browser struct {
	t    testing.TB
	c    *http.Client
	base *url.URL
}

func (e *oidcEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(e.iss)
	return &browser{t: e.t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// outcome is where a browser navigation ended.
type outcome struct {
	status int
	body   string
	// callback is the redirect that left the broker, if any.
	callback *url.URL
	// hops lists the broker paths visited.
	hops []string
}

// param returns a parameter of the callback.
func (o outcome) param(k string) string {
	if o.callback == nil {
		return ""
	}
	return o.callback.Query().Get(k)
}

// navigate follows redirects from rawURL while they stay on the broker.
func (b *browser) navigate(rawURL string) outcome {
	b.t.Helper()
	return b.do(http.MethodGet, rawURL, nil)
}

func (b *browser) do(method, rawURL string, form url.Values) outcome {
	b.t.Helper()
	var o outcome
	for range 10 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, rawURL, body)
		if err != nil {
			b.t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		o.hops = append(o.hops, req.URL.Path)
		resp, err := b.c.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		o.status, o.body = resp.StatusCode, string(raw)
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return o
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		if next.Host != b.base.Host {
			o.callback = next
			return o
		}
		method, rawURL, form = http.MethodGet, next.String(), nil
	}
	b.t.Fatal("too many redirects")
	return o
}

// cookie returns the value of a cookie the broker set in this browser.
func (b *browser) cookie(name string) string {
	for _, c := range b.c.Jar.Cookies(b.base) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = tokens.RandomToken() + "-._~"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authzURL builds an authorization request.
func (e *oidcEnv) authzURL(client directory.Client, redirectURI string, extra url.Values) string {
	v := url.Values{"client_id": {client.ID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid profile email offline_access"}, "state": {"st-" + randomSuffix()}, "nonce": {"n-" + randomSuffix()}}
	for k, vals := range extra {
		if len(vals) == 1 && vals[0] == "" {
			delete(v, k)
			continue
		}
		v[k] = vals
	}
	return e.iss + tokens.PathAuthorize + "?" + v.Encode()
}

// tokenResponse is a decoded token endpoint answer.
type tokenResponse struct {
	status int
	body   map[string]any
	header http.Header
}

func (r tokenResponse) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

// token posts a token request; basic, when set, is "id:secret".
func (e *oidcEnv) token(form url.Values, basicID, basicSecret string) tokenResponse {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.iss+tokens.PathToken, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := tokenResponse{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Fatalf("token response %d is not JSON: %q", resp.StatusCode, raw)
	}
	return r
}

// exchange redeems code as the confidential client (secret via Basic) or
// the public client (client_id and verifier).
func (e *oidcEnv) exchange(client directory.Client, code, redirectURI, verifier string) tokenResponse {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if client.Public {
		form.Set("client_id", client.ID)
		return e.token(form, "", "")
	}
	return e.token(form, client.ID, e.secret)
}

func (e *oidcEnv) refresh(client directory.Client, refreshToken string, extra url.Values) tokenResponse {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	for k, v := range extra {
		form[k] = v
	}
	if client.Public {
		form.Set("client_id", client.ID)
		return e.token(form, "", "")
	}
	return e.token(form, client.ID, e.secret)
}

// login runs a whole authorization as client in browser b and returns the
// callback (which must carry a code).
func (e *oidcEnv) login(b *browser, client directory.Client, redirectURI string, extra url.Values) outcome {
	e.t.Helper()
	o := b.navigate(e.authzURL(client, redirectURI, extra))
	if o.callback == nil || o.param("code") == "" {
		e.t.Fatalf("authorization ended at %d %v without a code: %v %s", o.status, o.hops, o.callback, o.body)
	}
	return o
}

// codeFlow signs in as the public client with PKCE and redeems the code.
func (e *oidcEnv) codeFlow(b *browser, extra url.Values) tokenResponse {
	e.t.Helper()
	verifier, challenge := pkce()
	v := url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for k, vals := range extra {
		v[k] = vals
	}
	o := e.login(b, e.public, spaRedirectURI, v)
	r := e.exchange(e.public, o.param("code"), spaRedirectURI, verifier)
	if r.status != http.StatusOK {
		e.t.Fatalf("code exchange: %d %v", r.status, r.body)
	}
	return r
}

// idClaims decodes an ID token's payload without verifying it.
func idClaims(t testing.TB, tok string) (map[string]any, tokens.IDTokenClaims) {
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
	var c tokens.IDTokenClaims
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return m, c
}

// userinfo calls the UserInfo endpoint with a bearer token in the header
// (GET) or the form body (POST).
func (e *oidcEnv) userinfo(method, token string) (*http.Response, map[string]any) {
	e.t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequest(method, e.iss+tokens.PathUserInfo, strings.NewReader(url.Values{"access_token": {token}}.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(method, e.iss+tokens.PathUserInfo, nil)
		if err == nil && token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return resp, m
}

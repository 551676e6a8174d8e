package idp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/e2e/peers"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/oidc"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
)

// ---- the upstream IdP: npm oidc-provider (e2e/upstream-idp.mjs) ----

const (
	upstreamClientID     = "ssobroker"
	upstreamClientSecret = "upstream-secret-Zq8"
)

// upstream is one running oidc-provider.
type upstream struct {
	*peers.Upstream
	issuer string
}

// requireUpstreamPeer fails the test (never skips: the upstream IdP is how
// this package is proven) when node or the npm modules are missing.
func requireUpstreamPeer(t testing.TB) { peers.RequireNode(t, "oidc-provider") }

// startUpstream starts oidc-provider with a static client whose redirect
// URIs are callbacks; claimsInIDToken puts email, name and groups in the ID
// token (by default they are only in userinfo).
func startUpstream(t testing.TB, callbacks []string, claimsInIDToken bool) *upstream {
	t.Helper()
	up := peers.StartUpstream(t, peers.UpstreamOptions{Callbacks: callbacks, ClaimsInIDToken: claimsInIDToken,
		ClientID: upstreamClientID, ClientSecret: upstreamClientSecret})
	return &upstream{Upstream: up, issuer: up.Issuer}
}

// userinfoCalls reports how many userinfo requests the IdP answered.
func (u *upstream) userinfoCalls(t testing.TB) int { return u.UserinfoCalls(t) }

type syncBuffer = peers.SyncBuffer

// ---- a browser: a cookie jar, redirects followed one by one ----

type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// page is one answer, body read.
type page struct {
	url    *url.URL
	status int
	header http.Header
	body   string
}

func (p page) location() *url.URL {
	loc := p.header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := p.url.Parse(loc)
	if err != nil {
		return nil
	}
	return u
}

func (p page) redirect() bool { return p.status >= 300 && p.status < 400 }

// cookie returns the Set-Cookie of name in this answer.
func (p page) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{url: req.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// cookieValue returns the jar's cookie name for u.
func (b *browser) cookieValue(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.c.Jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var (
	metaRefresh = regexp.MustCompile(`<meta http-equiv="refresh" content="0; url=([^"]+)">`)
	hiddenCSRF  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	choiceLink  = regexp.MustCompile(`<a class="button" href="([^"]+)">([^<]+)</a>`)
)

// refreshURL reads the interstitial page's meta refresh target.
func (p page) refreshURL(t testing.TB) *url.URL {
	t.Helper()
	m := metaRefresh.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no meta refresh in %d page:\n%s", p.status, p.body)
	}
	u, err := p.url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ---- the world: broker, stores, IdPs, orgs ----

type world struct {
	t        testing.TB
	dir      *directory.SQLStore
	sessions session.Store
	box      *secretbox.Box
	svc      *idp.Service
	srv      *httptest.Server
	logs     *syncBuffer
	notices  *joinNotices
	// upstreams by role
	userinfoOnly, inIDToken, mixIdP, otherIdP *upstream
	// secrets seen on the wire, which must never reach the log
	secrets []string
}

// account is an upstream user for one login.
type account struct {
	id, email, name string
	// verified is "true", "false" or "absent".
	verified string
	groups   []string
}

func (a account) query() url.Values {
	q := url.Values{"account": {a.id}, "email": {a.email}, "name": {a.name}, "email_verified": {a.verified}}
	if a.verified == "" {
		q.Set("email_verified", "true")
	}
	if a.groups != nil {
		q.Set("groups", strings.Join(a.groups, ","))
	}
	return q
}

func rnd() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const actor = "system:test"

var bg = context.Background()

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// newWorld starts a broker on the given stores. Connections are added with
// plan and the IdPs started by launch.
func newWorld(t testing.TB, dir *directory.SQLStore, sessions session.Store, client *http.Client) *world {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: dir, sessions: sessions, box: box, logs: &syncBuffer{}, notices: &joinNotices{}}
	mux := http.NewServeMux()
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	if client == nil {
		client = idp.NewUpstreamClient(true)
	}
	w.svc, err = idp.New(idp.Options{
		Issuer: w.srv.URL, Directory: dir, Sessions: sessions, Secrets: box, JoinRequests: w.notices,
		Connectors: idp.Registry{directory.ConnectionOIDC: oidc.New, directory.ConnectionSAML: saml.New},
		HTTPClient: client,
		Failures:   dirFailures{dir},
		// Tests start many SAML logins from loopback; the per-source
		// budget has its own tests (flood_test.go).
		SAMLStartsPerMinute: 1 << 20, SAMLStartBurst: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.svc.Close)
	w.svc.Routes(mux)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker log:\n%s", w.logs.String())
		}
	})
	return w
}

// org creates an org in mode with a verified domain.
func (w *world) org(name string, mode directory.JITMode, domain string) directory.Organization {
	t := w.t
	t.Helper()
	o, _, err := w.dir.CreateOrg(bg, actor, directory.NewOrg{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	o = must[directory.Organization](t)(w.dir.UpdateOrg(bg, actor, o.ID, directory.OrgUpdate{JITMode: &mode}))
	if domain != "" {
		must[directory.Domain](t)(w.dir.AddDomain(bg, actor, o.ID, domain))
		must[directory.Domain](t)(w.dir.MarkDomainVerified(bg, actor, o.ID, domain))
	}
	return o
}

// pendingConn is a connection waiting for its IdP's issuer.
type pendingConn struct {
	c       directory.Connection
	enabled bool
	extra   map[string]any // top-level config keys besides oidc
	oidc    map[string]any // keys added to the oidc section
}

// conn creates a disabled, unconfigured OIDC connection; configure sets it up
// once its IdP runs (the callback URL, with the connection id, must be known
// to start the IdP: the same two steps as the admin API).
func (w *world) conn(orgID, name string) *pendingConn {
	w.t.Helper()
	c := must[directory.Connection](w.t)(w.dir.CreateConnection(bg, actor, directory.Connection{OrgID: orgID, Type: directory.ConnectionOIDC, Name: name}))
	return &pendingConn{c: c, enabled: true}
}

func (w *world) callbacks(pcs ...*pendingConn) []string {
	var out []string
	for _, p := range pcs {
		out = append(out, w.svc.CallbackURL(p.c))
	}
	return out
}

// configure writes the connection's config as the admin API would: the
// client secret sealed with the connection id as associated data.
func (w *world) configure(p *pendingConn, up *upstream) directory.Connection {
	t := w.t
	t.Helper()
	sealed, err := w.box.Seal([]byte(upstreamClientSecret), []byte(p.c.ID))
	if err != nil {
		t.Fatal(err)
	}
	o := map[string]any{"issuer": up.issuer, "client_id": upstreamClientID, "client_secret_sealed": sealed,
		"scopes": []string{"openid", "email", "profile", "groups"}}
	for k, v := range p.oidc {
		o[k] = v
	}
	cfg := map[string]any{"oidc": o}
	for k, v := range p.extra {
		cfg[k] = v
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := p.c
	c.Config, c.Enabled = raw, p.enabled
	p.c = must[directory.Connection](t)(w.dir.UpdateConnection(bg, actor, c))
	return p.c
}

// setEnabled turns a connection on or off.
func (w *world) setEnabled(c directory.Connection, on bool) {
	w.t.Helper()
	c, err := w.dir.LookupConnection(bg, c.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	c.Enabled = on
	must[directory.Connection](w.t)(w.dir.UpdateConnection(bg, actor, c))
}

// url is an absolute broker URL.
func (w *world) url(pathAndQuery string) string { return w.srv.URL + pathAndQuery }

func (w *world) isBroker(u *url.URL) bool {
	b, _ := url.Parse(w.srv.URL)
	return u.Host == b.Host
}

// flow drives a browser from an answer that sends it upstream until the
// IdP sends it back to our callback, whose URL it returns without
// requesting it. login is the upstream account; edit may change each
// upstream request first (tampering).
func (w *world) flow(b *browser, p page, login account, edit func(u *url.URL)) *url.URL {
	t := w.t
	t.Helper()
	next := p.location()
	if p.status == http.StatusOK && metaRefresh.MatchString(p.body) {
		next = p.refreshURL(t)
	}
	for range 12 {
		if next == nil {
			t.Fatalf("flow stopped at %d %s:\n%s", p.status, p.url, p.body)
		}
		if w.isBroker(next) && strings.HasPrefix(next.Path, "/sso/oidc/") {
			q := next.Query()
			w.secrets = append(w.secrets, q.Get("code"), q.Get("state"))
			return next
		}
		if w.isBroker(next) {
			t.Fatalf("flow came back to the broker at %s, not the callback", next)
		}
		if strings.HasPrefix(next.Path, "/interaction/") {
			q := next.Query()
			for k, v := range login.query() {
				q[k] = v
			}
			next.RawQuery = q.Encode()
		}
		if edit != nil {
			edit(next)
		}
		p = b.get(next.String())
		if !p.redirect() {
			t.Fatalf("upstream answered %d at %s:\n%s", p.status, next, p.body)
		}
		next = p.location()
	}
	t.Fatal("too many redirects")
	return nil
}

// login runs a whole sign-in from start (a broker URL) for account a in a
// new browser and returns the browser and the callback's answer.
func (w *world) login(start string, a account) (*browser, page) {
	w.t.Helper()
	b := newBrowser(w.t)
	p := b.get(start)
	cb := w.flow(b, p, a, nil)
	return b, b.get(cb.String())
}

// stores lists the directory and session backends to run against.
func stores() []struct {
	name string
	open func(t testing.TB) (*directory.SQLStore, session.Store)
} {
	mem := func(t testing.TB) session.Store {
		m := session.NewMemory(session.Options{})
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	red := func(t testing.TB) session.Store {
		return sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{})
	}
	return []struct {
		name string
		open func(t testing.TB) (*directory.SQLStore, session.Store)
	}{
		{"sqlite+memory", func(t testing.TB) (*directory.SQLStore, session.Store) { return directorytest.SQLite(t), mem(t) }},
		{"sqlite+redis", func(t testing.TB) (*directory.SQLStore, session.Store) { return directorytest.SQLite(t), red(t) }},
		{"postgres+memory", func(t testing.TB) (*directory.SQLStore, session.Store) { return directorytest.Postgres(t), mem(t) }},
		{"postgres+redis", func(t testing.TB) (*directory.SQLStore, session.Store) { return directorytest.Postgres(t), red(t) }},
	}
}

// member returns the user's membership in org, or fails.
func (w *world) member(orgID, userID string) directory.Member {
	w.t.Helper()
	return must[directory.Member](w.t)(w.dir.GetMember(bg, orgID, userID))
}

// sessionOf reads the session the browser's cookie names.
func (w *world) sessionOf(b *browser) session.Session {
	w.t.Helper()
	id := b.cookieValue(w.srv.URL, idp.SessionCookie)
	if id == "" {
		w.t.Fatal("no session cookie in the browser")
	}
	return must[session.Session](w.t)(w.sessions.GetSession(bg, id))
}

// userByEmail finds the member of org with email.
func (w *world) userByEmail(orgID, email string) (directory.Member, bool) {
	w.t.Helper()
	ms, _, err := w.dir.ListMembers(bg, orgID, directory.Page{Limit: 500})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, m := range ms {
		if strings.EqualFold(m.Email, email) {
			return m, true
		}
	}
	return directory.Member{}, false
}

func wantStatus(t testing.TB, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d, at %s:\n%s", p.status, status, p.url, p.body)
	}
	for _, c := range contains {
		if !strings.Contains(html.UnescapeString(p.body), c) {
			t.Fatalf("page at %s lacks %q:\n%s", p.url, c, p.body)
		}
	}
}

func wantNoSession(t testing.TB, p page) {
	t.Helper()
	if c := p.cookie(idp.SessionCookie); c != nil && c.Value != "" {
		t.Fatalf("a session cookie was set on a refused login (%d %s)", p.status, p.url)
	}
}

// wantLogged checks the operator log has a line with every part.
func (w *world) wantLogged(parts ...string) {
	w.t.Helper()
	for _, line := range strings.Split(w.logs.String(), "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
	}
	w.t.Fatalf("no log line with %q in:\n%s", parts, w.logs.String())
}

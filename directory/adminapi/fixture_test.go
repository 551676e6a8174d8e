package adminapi

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// Callers of the permission matrix (issue 5, "Done when").
const (
	cAdmin = "admin"           // org admin (access token)
	cPM    = "platform"        // platform member, member of the default workspace only
	cOM    = "opik"            // opik member, member of the default workspace only
	cVO    = "viewonly"        // view-only platform member, member of the default workspace only
	cWO    = "ws-owner"        // platform member owning "research"
	cMI    = "ws-member-inv"   // platform member of "research" with can_invite
	cMN    = "ws-member"       // platform member of "research" without flags
	cSA    = "service-acct"    // service account (API key), platform member, member of "research"
	cAnon  = "unauthenticated" // no credentials
)

var allCallers = []string{cAdmin, cPM, cOM, cVO, cWO, cMI, cMN, cSA, cAnon}

// testVerifier stands in for the JWT verifier (the lead wires the real one in
// cmd): a token is a random string mapped to its principal. API keys never
// go through it; they are real keys of the real store.
type testVerifier struct {
	mu     sync.Mutex
	tokens map[string]TokenPrincipal
	down   bool
}

// issue returns a token for p as an admin-API caller holds it: a user's
// token issued for the admin API (scope ssobroker:admin, AdminAPI set), as
// every user caller of these tests represents one. issueExactly returns a
// token for p as given (a user's token of another application: AdminAPI
// false).
func (v *testVerifier) issue(p TokenPrincipal) string {
	p.AdminAPI = true
	return v.issueExactly(p)
}

func (v *testVerifier) issueExactly(p TokenPrincipal) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "eyJ.test." + hex.EncodeToString(b)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tokens[tok] = p
	return tok
}

func (v *testVerifier) VerifyAccessToken(_ context.Context, token string) (TokenPrincipal, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return TokenPrincipal{}, fmt.Errorf("no signing keys: %w", ErrVerifierUnavailable)
	}
	p, ok := v.tokens[token]
	if !ok {
		return TokenPrincipal{}, errors.New("invalid token: signature invalid")
	}
	return p, nil
}

// testSealer is AES-256-GCM with a random key; it remembers the associated data.
type testSealer struct {
	aead cipher.AEAD
	mu   sync.Mutex
	ads  []string
}

func newTestSealer(t testing.TB) *testSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &testSealer{aead: aead}
}

func (s *testSealer) Seal(plaintext, ad []byte) ([]byte, error) {
	s.mu.Lock()
	s.ads = append(s.ads, string(ad))
	s.mu.Unlock()
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

func (s *testSealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	return s.aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// recordingSessions records RevokeUser calls.
type recordingSessions struct {
	mu    sync.Mutex
	calls []string
}

func (s *recordingSessions) RevokeUser(_ context.Context, orgID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, orgID+"/"+userID)
	return nil
}

func (s *recordingSessions) called(orgID, userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.calls, orgID+"/"+userID)
}

// dnsServer is a real DNS server on loopback (miekg/dns) serving TXT records;
// every other name is NXDOMAIN.
type dnsServer struct {
	addr string
	mu   sync.Mutex
	txt  map[string][]string
}

func startDNS(t testing.TB) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return d
}

func (d *dnsServer) set(name string, txt ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txt[dns.Fqdn(strings.ToLower(name))] = txt
}

func (d *dnsServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	q := req.Question[0]
	d.mu.Lock()
	txts, ok := d.txt[strings.ToLower(q.Name)]
	d.mu.Unlock()
	switch {
	case !ok:
		m.Rcode = dns.RcodeNameError
	case q.Qtype == dns.TypeTXT:
		for _, t := range txts {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{t}})
		}
	}
	_ = w.WriteMsg(m)
}

// resolver returns a TXTResolver that asks only this server.
func (d *dnsServer) resolver() TXTResolver {
	return NetResolver{Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", d.addr)
	}}}
}

// fixture is one store with two orgs: A ("Acme", every kind of caller) and B
// ("Globex", whose objects org A must never reach).
type fixture struct {
	t        testing.TB
	ctx      context.Context
	store    *directory.SQLStore
	api      *API
	mux      *http.ServeMux
	verifier *testVerifier
	sealer   *testSealer
	sessions *recordingSessions
	dns      *dnsServer
	tester   *recordingTester
	seq      int

	orgA, orgB           directory.Organization
	defaultA, research   directory.Workspace
	ids                  map[string]string // caller → principal id
	creds                map[string]string // caller → Authorization header value
	saKeyID, saKeySecret string

	b foreign
}

// foreign holds org B's objects.
type foreign struct {
	org                  directory.Organization
	ws, ws2              directory.Workspace
	admin, user          string
	adminCred            string
	sa, key, keySecret   string
	inv, req, conn       string
	setupLink            string
	domain, jwtIssuer    string
	userEmail, adminMail string
}

func newFixture(t testing.TB, open func(testing.TB) *directory.SQLStore) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: open(t), verifier: &testVerifier{tokens: map[string]TokenPrincipal{}},
		sealer: newTestSealer(t), sessions: &recordingSessions{}, dns: startDNS(t),
		ids: map[string]string{}, creds: map[string]string{}, tester: &recordingTester{tests: map[string]directory.ConnectionTest{}}}
	f.api = newAPI(t, Config{Store: f.store, Tests: f.tester, Tokens: f.verifier, Resolver: f.dns.resolver(), Sessions: f.sessions,
		Connections: fakeConfigurator{sealer: f.sealer}, Failures: f.store, SetupLinks: f.store, JWTIssuers: f.store, Webhooks: newWebhookAdmin(t, f.store, f.sealer), Logger: slog.New(slog.DiscardHandler), Issuer: "https://sso.example.test"})
	f.mux = http.NewServeMux()
	f.api.Routes(f.mux)

	var err error
	f.orgA, f.defaultA, err = f.store.CreateOrg(f.ctx, "system:test", directory.NewOrg{Name: "Acme"})
	f.must(err)
	f.research, err = f.store.CreateWorkspace(f.ctx, "system:test", f.orgA.ID, "research", "")
	f.must(err)
	member := access.Membership{Role: access.WorkspaceMember}
	for _, u := range []struct {
		caller string
		role   access.OrgRole
		ws     directory.Workspace
		m      access.Membership
	}{
		{cAdmin, access.RoleAdmin, f.defaultA, member},
		{"admin2", access.RoleAdmin, f.defaultA, member},
		{cPM, access.RolePlatformMember, f.defaultA, member},
		{cOM, access.RoleOpikMember, f.defaultA, member},
		{cVO, access.RoleViewOnly, f.defaultA, member},
		{cWO, access.RolePlatformMember, f.research, access.Membership{Role: access.WorkspaceOwner}},
		{cMI, access.RolePlatformMember, f.research, access.Membership{Role: access.WorkspaceMember, CanInvite: true}},
		{cMN, access.RolePlatformMember, f.research, member},
	} {
		id := f.newMember(u.role, u.caller)
		_, err := f.store.PutWorkspaceMember(f.ctx, "system:test", f.orgA.ID, u.ws.ID, id, u.m)
		f.must(err)
		f.ids[u.caller] = id
		f.creds[u.caller] = "Bearer " + f.verifier.issue(TokenPrincipal{Subject: id, OrgID: f.orgA.ID})
	}
	sa, err := f.store.CreateServiceAccount(f.ctx, "system:test", directory.NewServiceAccount{OrgID: f.orgA.ID, Name: "ci",
		Role: access.RolePlatformMember, Workspaces: []directory.InvitationWorkspace{{WorkspaceID: f.research.ID, Role: access.WorkspaceMember}}})
	f.must(err)
	k, secret, err := f.store.CreateAPIKey(f.ctx, "system:test", f.orgA.ID, sa.ID)
	f.must(err)
	f.ids[cSA], f.saKeyID, f.saKeySecret = sa.ID, k.ID, secret
	f.creds[cSA] = "Bearer " + secret
	f.setupForeign()
	return f
}

func (f *fixture) setupForeign() {
	b := &f.b
	var err error
	b.org, b.ws, err = f.store.CreateOrg(f.ctx, "system:test", directory.NewOrg{Name: "Globex"})
	f.must(err)
	b.ws2, err = f.store.CreateWorkspace(f.ctx, "system:test", b.org.ID, "globex-secret", "")
	f.must(err)
	b.adminMail, b.userEmail = "boss@globex.test", "worker@globex.test"
	u, err := f.store.CreateUser(f.ctx, "system:test", directory.NewUser{Email: b.adminMail, Name: "Globex Boss"})
	f.must(err)
	_, err = f.store.AddMember(f.ctx, "system:test", b.org.ID, u.ID, access.RoleAdmin)
	f.must(err)
	b.admin = u.ID
	b.adminCred = "Bearer " + f.verifier.issue(TokenPrincipal{Subject: u.ID, OrgID: b.org.ID})
	u, err = f.store.CreateUser(f.ctx, "system:test", directory.NewUser{Email: b.userEmail, Name: "Globex Worker"})
	f.must(err)
	_, err = f.store.AddMember(f.ctx, "system:test", b.org.ID, u.ID, access.RolePlatformMember)
	f.must(err)
	_, err = f.store.PutWorkspaceMember(f.ctx, "system:test", b.org.ID, b.ws2.ID, u.ID, access.Membership{Role: access.WorkspaceMember})
	f.must(err)
	b.user = u.ID
	sa, err := f.store.CreateServiceAccount(f.ctx, "system:test", directory.NewServiceAccount{OrgID: b.org.ID, Name: "globex-bot", Role: access.RoleAdmin})
	f.must(err)
	k, secret, err := f.store.CreateAPIKey(f.ctx, "system:test", b.org.ID, sa.ID)
	f.must(err)
	b.sa, b.key, b.keySecret = sa.ID, k.ID, secret
	inv, err := f.store.CreateInvitation(f.ctx, b.admin, directory.NewInvitation{OrgID: b.org.ID, Email: "newbie@globex.test", Role: access.RoleViewOnly})
	f.must(err)
	b.inv = inv.ID
	ru, err := f.store.CreateUser(f.ctx, "system:test", directory.NewUser{Email: "asker@globex.test"})
	f.must(err)
	jr, err := f.store.CreateJoinRequest(f.ctx, b.org.ID, ru.ID)
	f.must(err)
	b.req = jr.ID
	conn, err := f.store.CreateConnection(f.ctx, b.admin, directory.Connection{OrgID: b.org.ID, Type: directory.ConnectionOIDC, Name: "Globex Okta", Config: []byte(`{}`)})
	f.must(err)
	b.conn = conn.ID
	link, _, err := f.store.CreateSetupLink(f.ctx, b.admin, b.org.ID, time.Hour)
	f.must(err)
	b.setupLink = link.ID
	d, err := f.store.AddDomain(f.ctx, b.admin, b.org.ID, "globex.test")
	f.must(err)
	b.domain = d.Domain
	f.dns.set("_ssobroker-challenge.globex.test", "ssobroker-verify="+d.Token)
	iss, err := f.store.CreateJWTIssuer(f.ctx, b.admin, JWTIssuer{OrgID: b.org.ID, Name: "gh", Issuer: "https://token.actions.githubusercontent.com",
		Audience: "globex", ServiceAccountID: b.sa})
	f.must(err)
	b.jwtIssuer = iss.ID
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) next() int { f.seq++; return f.seq }

// newMember creates a user and makes it a member of org A.
func (f *fixture) newMember(role access.OrgRole, label string) string {
	f.t.Helper()
	n := f.next()
	u, err := f.store.CreateUser(f.ctx, "system:test", directory.NewUser{Email: fmt.Sprintf("%s-%d@acme.test", strings.ReplaceAll(label, "-", ""), n), Name: label})
	f.must(err)
	_, err = f.store.AddMember(f.ctx, "system:test", f.orgA.ID, u.ID, role)
	f.must(err)
	return u.ID
}

func (f *fixture) newWorkspace() directory.Workspace {
	f.t.Helper()
	ws, err := f.store.CreateWorkspace(f.ctx, "system:test", f.orgA.ID, fmt.Sprintf("tmp-%d", f.next()), "")
	f.must(err)
	return ws
}

func (f *fixture) newServiceAccount() string {
	f.t.Helper()
	sa, err := f.store.CreateServiceAccount(f.ctx, "system:test", directory.NewServiceAccount{OrgID: f.orgA.ID,
		Name: fmt.Sprintf("bot-%d", f.next()), Role: access.RolePlatformMember})
	f.must(err)
	return sa.ID
}

func (f *fixture) newKey(sa string) string {
	f.t.Helper()
	k, _, err := f.store.CreateAPIKey(f.ctx, "system:test", f.orgA.ID, sa)
	f.must(err)
	return k.ID
}

func (f *fixture) newInvitation(actor string) string {
	f.t.Helper()
	inv, err := f.store.CreateInvitation(f.ctx, actor, directory.NewInvitation{OrgID: f.orgA.ID,
		Email: fmt.Sprintf("invitee-%d@acme.test", f.next()), Role: access.RoleViewOnly})
	f.must(err)
	return inv.ID
}

func (f *fixture) newJoinRequest() string {
	f.t.Helper()
	u, err := f.store.CreateUser(f.ctx, "system:test", directory.NewUser{Email: fmt.Sprintf("asker-%d@acme.test", f.next())})
	f.must(err)
	jr, err := f.store.CreateJoinRequest(f.ctx, f.orgA.ID, u.ID)
	f.must(err)
	return jr.ID
}

func (f *fixture) newConnection() string {
	f.t.Helper()
	c, err := f.store.CreateConnection(f.ctx, "system:test", directory.Connection{OrgID: f.orgA.ID, Type: directory.ConnectionOIDC,
		Name: fmt.Sprintf("conn-%d", f.next()), Enabled: true,
		Config: []byte(`{"oidc":{"issuer":"https://idp.acme.test","client_id":"broker","scopes":["openid"]}}`)})
	f.must(err)
	return c.ID
}

// newDomain adds a domain to org A and publishes its challenge record.
func (f *fixture) newDomain() string {
	f.t.Helper()
	d, err := f.store.AddDomain(f.ctx, "system:test", f.orgA.ID, fmt.Sprintf("d%d.acme.test", f.next()))
	f.must(err)
	f.dns.set("_ssobroker-challenge."+d.Domain, "ssobroker-verify="+d.Token)
	return d.Domain
}

func (f *fixture) newJWTIssuer() string {
	f.t.Helper()
	iss, err := f.store.CreateJWTIssuer(f.ctx, "system:test", JWTIssuer{OrgID: f.orgA.ID, Name: "ci",
		Issuer: fmt.Sprintf("https://ci-%d.acme.test", f.next()), Audience: "acme", ServiceAccountID: f.ids[cSA]})
	f.must(err)
	return iss.ID
}

// response is a recorded answer.
type response struct {
	*httptest.ResponseRecorder
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer is not a JSON object: %v\n%s", err, r.Body.String())
	}
	return v
}

func (r response) errorCode(t testing.TB) (code, message, field string) {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	if e == nil {
		t.Fatalf("answer %d has no error object: %s", r.Code, r.Body.String())
	}
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	field, _ = e["field"].(string)
	return
}

// req describes one request; do sends it through the mux.
type req struct {
	method, path, auth, body string
	contentType              string
	header                   map[string]string
}

func (f *fixture) do(r req) response {
	f.t.Helper()
	var body io.Reader = http.NoBody
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.auth != "" {
		hr.Header.Set("Authorization", r.auth)
	}
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, hr)
	return response{rec}
}

// as sends a request as caller.
func (f *fixture) as(caller, method, path, body string) response {
	f.t.Helper()
	return f.do(req{method: method, path: path, auth: f.creds[caller], body: body})
}

func (f *fixture) pathA(suffix string) string { return "/api/v1/orgs/" + f.orgA.ID + suffix }

// backends runs fn against a fresh fixture on every backend.
func backends(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			fn(t, newFixture(t, open))
		})
	}
}

func wantStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.Code != want {
		t.Fatalf("status %d, want %d: %s", r.Code, want, r.Body.String())
	}
}

var plainMembership = access.Membership{Role: access.WorkspaceMember}

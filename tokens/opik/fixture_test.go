package opik_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/session/sessiontest"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/opik"
)

const actor = "system:test"

// backends pairs each directory engine with a session store: SQLite with
// the in-process store, PostgreSQL with Redis (as in a replicated deployment).
var backends = []struct {
	name     string
	open     func(testing.TB) *directory.SQLStore
	sessions func(testing.TB) session.Store
}{
	{"sqlite+memory", directorytest.SQLite, func(t testing.TB) session.Store {
		m := session.NewMemory(session.Options{})
		t.Cleanup(func() { _ = m.Close() })
		return m
	}},
	{"postgres+redis", directorytest.Postgres, func(t testing.TB) session.Store {
		return sessiontest.OpenRedis(t, sessiontest.RedisURL(), session.Options{})
	}},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, newFixture(t, b.open(t), b.sessions(t), false)) })
	}
}

// caller is a principal of the fixture and its credentials.
type caller struct {
	id, name string
	key      string // API key (service accounts)
	cookie   string // session id (users)
}

// fixture is an org "acme" with workspaces acme (its default) and research,
// another org "globex" with workspace globex-lab, and one principal per role,
// served by the real directory, session store and token issuer.
type fixture struct {
	t        testing.TB
	store    *directory.SQLStore
	sessions session.Store
	issuer   *tokens.Issuer
	svc      *opik.Service
	mux      *http.ServeMux

	acme, globex                directory.Organization
	acmeWS, research, globexLab directory.Workspace
	// conn is acme's connection every user session signed in through.
	conn    directory.Connection
	callers map[string]caller
}

// Service-account callers (API keys) and user callers (sessions), by the
// rule they stand for.
const (
	saAdmin       = "sa-admin"        // admin, member of no workspace
	saPlatform    = "sa-platform"     // platform member, member of research
	saViewOnly    = "sa-viewonly"     // view-only platform member, member of research
	saOpik        = "sa-opik"         // opik member, member of research
	saOpikOwner   = "sa-opik-owner"   // opik member, owner of research
	saAcmeOnly    = "sa-acme-only"    // platform member, member of acme (the default) only
	saBoth        = "sa-both"         // platform member, member of acme and research
	saOtherAdmin  = "sa-globex-admin" // admin of globex
	userPlatform  = "user-platform"   // platform member, member of research
	userViewOnly  = "user-viewonly"   // view-only platform member, member of research
	userAdmin     = "user-admin"      // admin, member of no workspace
	userNoWS      = "user-no-ws"      // opik member of acme, member of no workspace
	researchName  = "research"
	globexLabName = "globex-lab"
)

func newFixture(t testing.TB, store *directory.SQLStore, sessions session.Store, trust bool) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, store: store, sessions: sessions, callers: map[string]caller{}}
	var err error
	if f.acme, f.acmeWS, err = store.CreateOrg(ctx, actor, directory.NewOrg{Name: "Acme", WorkspaceName: "acme"}); err != nil {
		t.Fatal(err)
	}
	if f.research, err = store.CreateWorkspace(ctx, actor, f.acme.ID, researchName, ""); err != nil {
		t.Fatal(err)
	}
	if f.globex, f.globexLab, err = store.CreateOrg(ctx, actor, directory.NewOrg{Name: "Globex", WorkspaceName: globexLabName}); err != nil {
		t.Fatal(err)
	}
	if f.conn, err = store.CreateConnection(ctx, actor, directory.Connection{OrgID: f.acme.ID, Type: directory.ConnectionOIDC,
		Name: "Acme IdP", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	member := func(ws directory.Workspace, role access.WorkspaceRole) []directory.InvitationWorkspace {
		return []directory.InvitationWorkspace{{WorkspaceID: ws.ID, Role: role}}
	}
	f.serviceAccount(saAdmin, f.acme.ID, access.RoleAdmin, nil)
	f.serviceAccount(saPlatform, f.acme.ID, access.RolePlatformMember, member(f.research, access.WorkspaceMember))
	f.serviceAccount(saViewOnly, f.acme.ID, access.RoleViewOnly, member(f.research, access.WorkspaceMember))
	f.serviceAccount(saOpik, f.acme.ID, access.RoleOpikMember, member(f.research, access.WorkspaceMember))
	f.serviceAccount(saOpikOwner, f.acme.ID, access.RoleOpikMember, member(f.research, access.WorkspaceOwner))
	f.serviceAccount(saAcmeOnly, f.acme.ID, access.RolePlatformMember, member(f.acmeWS, access.WorkspaceMember))
	f.serviceAccount(saBoth, f.acme.ID, access.RolePlatformMember, append(member(f.acmeWS, access.WorkspaceMember), member(f.research, access.WorkspaceMember)...))
	f.serviceAccount(saOtherAdmin, f.globex.ID, access.RoleAdmin, nil)
	f.user(userPlatform, "Platform.Person@acme.test", access.RolePlatformMember, &f.research)
	f.user(userViewOnly, "viewer@acme.test", access.RoleViewOnly, &f.research)
	f.user(userAdmin, "boss@acme.test", access.RoleAdmin, nil)
	f.user(userNoWS, "lonely@acme.test", access.RoleOpikMember, nil)

	box, err := secretbox.New(randomBytes(secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tokens.NewKeyring(store, box, tokens.KeyConfig{Algorithm: tokens.ES256, IDTokenAlgorithm: tokens.ES256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	if err := keys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if f.issuer, err = tokens.NewIssuer(keys, store, tokens.IssuerConfig{Issuer: "https://sso.example.test"}); err != nil {
		t.Fatal(err)
	}
	f.mount(opik.Config{TrustUsernameHeader: trust})
	return f
}

// mount serves the Opik endpoints configured by cfg over the fixture's
// directory, sessions and issuer, replacing those mounted before.
func (f *fixture) mount(cfg opik.Config) {
	f.t.Helper()
	cfg.Directory, cfg.Sessions, cfg.Tokens = f.store, f.sessions, f.issuer
	svc, err := opik.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(svc.Close)
	f.svc, f.mux = svc, http.NewServeMux()
	f.svc.Routes(f.mux)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (f *fixture) serviceAccount(name, orgID string, role access.OrgRole, ws []directory.InvitationWorkspace) {
	f.t.Helper()
	ctx := context.Background()
	sa, err := f.store.CreateServiceAccount(ctx, actor, directory.NewServiceAccount{OrgID: orgID, Name: name, Role: role, Workspaces: ws})
	if err != nil {
		f.t.Fatal(err)
	}
	_, key, err := f.store.CreateAPIKey(ctx, actor, orgID, sa.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	f.callers[name] = caller{id: sa.ID, name: name, key: key}
}

// user creates a user of acme with role, member of ws when not nil, and a
// browser session for it, signed in through acme's connection.
func (f *fixture) user(label, email string, role access.OrgRole, ws *directory.Workspace) {
	f.t.Helper()
	ctx := context.Background()
	u, err := f.store.CreateUser(ctx, actor, directory.NewUser{Email: email, EmailVerified: true, Name: "Person " + label})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.AddMember(ctx, actor, f.acme.ID, u.ID, role); err != nil {
		f.t.Fatal(err)
	}
	if ws != nil {
		if _, err := f.store.PutWorkspaceMember(ctx, actor, f.acme.ID, ws.ID, u.ID, access.Membership{Role: access.WorkspaceMember}); err != nil {
			f.t.Fatal(err)
		}
	}
	sess, err := f.sessions.CreateSession(ctx, session.Session{UserID: u.ID, OrgID: f.acme.ID, ConnectionID: f.conn.ID})
	if err != nil {
		f.t.Fatal(err)
	}
	f.callers[label] = caller{id: u.ID, name: email, cookie: sess.ID}
}

// token mints an access token for a service-account caller, narrowed to
// workspace when it is not empty.
func (f *fixture) token(label, workspace string) string {
	f.t.Helper()
	c := f.callers[label]
	tok, err := f.issuer.ClientCredentials(context.Background(), tokens.ClientCredentialsRequest{ClientID: c.id, ClientSecret: c.key, Workspace: workspace})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok.AccessToken
}

// answer is a decoded response.
type answer struct {
	status int
	body   []byte
	json   map[string]any
	header http.Header
}

func (a answer) str(key string) string { s, _ := a.json[key].(string); return s }

// call sends one request through the mux; headers are name/value pairs.
func (f *fixture) call(method, path, body string, headers ...string) answer {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	a := answer{status: rec.Code, body: rec.Body.Bytes(), header: rec.Header()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && len(a.body) > 0 && a.body[0] == '{' {
		if err := json.Unmarshal(a.body, &a.json); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %q", method, path, a.body)
		}
	}
	return a
}

// authBody is the body Opik's RemoteAuthService posts.
func authBody(workspace string, perms ...string) string {
	b, _ := json.Marshal(map[string]any{"workspaceName": workspace, "path": "/v1/private/traces", "requiredPermissions": perms})
	return string(b)
}

// wantError checks an error answer: its status and the {"msg","code"} shape.
func wantError(t testing.TB, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if a.str("msg") == "" || a.json["code"] != float64(status) {
		t.Fatalf("error body %s is not {\"msg\":\"…\",\"code\":%d}", a.body, status)
	}
}

// waitFor retries cond for up to a second (cache invalidation is immediate
// in-process; this only absorbs scheduling).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s did not happen within a second", what)
}

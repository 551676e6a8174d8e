package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/console"
	"github.com/ssobroker/ssobroker/session"
)

var bg = context.Background()

// csrfValue is the double-submit token the test browser holds.
const csrfValue = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// person is a signed-in browser.
type person struct {
	id     string
	email  string
	cookie string
}

type fixture struct {
	t        testing.TB
	store    *directory.SQLStore
	sessions *session.Memory
	console  *console.Console
	mux      *http.ServeMux
	org      directory.Organization
	ws0      directory.Workspace
	admin    person
	links    *fakeLinks
	mailer   *fakeMailer
}

type fakeLinks struct {
	tokens map[string]console.RedeemedLink
	used   map[string]bool
	// expired links are refused as the directory refuses a link past its time.
	expired map[string]bool
}

func (f *fakeLinks) RedeemSignInLink(_ context.Context, token string) (console.RedeemedLink, error) {
	l, ok := f.tokens[token]
	if !ok {
		return console.RedeemedLink{}, &directory.NotFoundError{Kind: "sign-in link", Ref: "…"}
	}
	if f.expired[token] {
		return console.RedeemedLink{}, console.ErrLinkExpired
	}
	if f.used[token] {
		return console.RedeemedLink{}, console.ErrLinkUsed
	}
	f.used[token] = true
	return l, nil
}

type fakeMailer struct{ sent []string }

func (m *fakeMailer) SendInvitation(_ context.Context, inv directory.Invitation, _, _, acceptURL string) error {
	m.sent = append(m.sent, inv.Email+" "+acceptURL)
	return nil
}

// finder finds invitations by id by trying the fixture's org (the directory
// has no lookup by id alone yet).
type finder struct {
	s   *directory.SQLStore
	org string
}

func (f finder) FindInvitation(ctx context.Context, id string) (directory.Invitation, error) {
	return f.s.GetInvitation(ctx, f.org, id)
}

func newFixture(t testing.TB, open func(testing.TB) *directory.SQLStore) *fixture {
	t.Helper()
	f := &fixture{t: t, store: open(t), sessions: session.NewMemory(session.Options{}),
		links: &fakeLinks{tokens: map[string]console.RedeemedLink{}, used: map[string]bool{}, expired: map[string]bool{}}, mailer: &fakeMailer{}}
	t.Cleanup(func() { _ = f.sessions.Close() })
	var err error
	if f.org, f.ws0, err = f.store.CreateOrg(bg, "test", directory.NewOrg{Name: "acme", WorkspaceName: "acme-main"}); err != nil {
		t.Fatal(err)
	}
	f.admin = f.member("ada@acme.test", "Ada Admin", access.RoleAdmin)
	f.console, err = console.New(console.Config{Issuer: "http://sso.test", Store: f.store, Sessions: f.sessions,
		Key: []byte(strings.Repeat("k", 32)), SignInLinks: f.links, Mailer: f.mailer, Invitations: finder{f.store, f.org.ID}})
	if err != nil {
		t.Fatal(err)
	}
	f.mux = http.NewServeMux()
	f.console.Routes(f.mux)
	return f
}

// member creates a user, makes them a member of the fixture's org with role
// and signs them in.
func (f *fixture) member(email, name string, role access.OrgRole) person {
	f.t.Helper()
	u, err := f.store.CreateUser(bg, "test", directory.NewUser{Email: email, EmailVerified: true, Name: name})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.AddMember(bg, "test", f.org.ID, u.ID, role); err != nil {
		f.t.Fatal(err)
	}
	return f.signIn(u.ID, f.org.ID, email)
}

func (f *fixture) signIn(userID, orgID, email string) person {
	f.t.Helper()
	s, err := f.sessions.CreateSession(bg, session.Session{UserID: userID, OrgID: orgID, ConnectionID: directory.LinkConnection, AMR: []string{"link"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return person{id: userID, email: email, cookie: idp.SessionCookie + "=" + s.ID + "; " + idp.CSRFCookie + "=" + csrfValue}
}

type resp struct {
	*httptest.ResponseRecorder
}

func (r resp) body() string { return r.Body.String() }

// get fetches path as p.
func (f *fixture) get(p person, path string) resp {
	f.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if p.cookie != "" {
		req.Header.Set("Cookie", p.cookie)
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return resp{rec}
}

// post sends form to path as p, with the CSRF token unless noCSRF.
func (f *fixture) post(p person, path string, form url.Values, noCSRF ...bool) resp {
	f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if len(noCSRF) == 0 {
		form.Set("csrf", csrfValue)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.cookie != "" {
		req.Header.Set("Cookie", p.cookie)
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return resp{rec}
}

// path is /admin/{org}/… of the fixture's org.
func (f *fixture) path(tail string) string { return "/admin/" + f.org.ID + tail }

// flashOf follows a POST-redirect-GET: it checks the 303 and returns the
// page the redirect leads to, with the flash cookie the answer set.
func (f *fixture) follow(p person, r resp) resp {
	f.t.Helper()
	if r.Code != http.StatusSeeOther {
		f.t.Fatalf("status %d, want 303; body:\n%s", r.Code, r.body())
	}
	q := p
	for _, c := range r.Result().Cookies() {
		if c.Name == "ssb_flash" {
			q.cookie += "; ssb_flash=" + c.Value
		}
	}
	return f.get(q, r.Header().Get("Location"))
}

func wantStatus(t testing.TB, r resp, status int) {
	t.Helper()
	if r.Code != status {
		t.Fatalf("status %d, want %d; body:\n%s", r.Code, status, r.body())
	}
}

func wantBody(t testing.TB, r resp, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(r.body(), p) {
			t.Fatalf("body lacks %q:\n%s", p, r.body())
		}
	}
}

func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) { fn(t, newFixture(t, open)) })
	}
}

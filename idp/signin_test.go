package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/templates"
)

// tokenRewriter sends the token requests meant for one IdP to another: a
// compromised or mixed-up token endpoint, to prove the broker refuses an ID
// token from an issuer other than the connection's.
type tokenRewriter struct {
	next     http.RoundTripper
	mu       sync.Mutex
	from, to string // hosts
}

func (r *tokenRewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	from, to := r.from, r.to
	r.mu.Unlock()
	if from != "" && req.URL.Host == from && req.URL.Path == "/token" {
		req = req.Clone(req.Context())
		req.URL.Host, req.Host = to, ""
	}
	return r.next.RoundTrip(req)
}

func host(issuer string) string {
	u, _ := url.Parse(issuer)
	return u.Host
}

// signInWorld is the fixture every sign-in test runs in.
type signInWorld struct {
	*world
	acme, tok, appr, inv, relax, off, multi, late, mix directory.Organization
	acmeConn, tokConn, offConn, lateConn, mixConn      directory.Connection
	research                                           directory.Workspace
}

// TestSignIn drives the whole browser sign-in over HTTP against npm
// oidc-provider, on every combination of directory and session store.
func TestSignIn(t *testing.T) {
	requireUpstreamPeer(t)
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			dir, sessions := st.open(t)
			rw := &tokenRewriter{}
			client := idp.NewUpstreamClient(true)
			rw.next = client.Transport
			client.Transport = rw
			w := &signInWorld{world: newWorld(t, dir, sessions, client)}

			w.acme = w.org("Acme "+rnd(), directory.JITAuto, "acme.test")
			w.research = must[directory.Workspace](t)(dir.CreateWorkspace(bg, actor, w.acme.ID, "research-"+rnd(), ""))
			acme := w.conn(w.acme.ID, "Acme SSO")
			acme.extra = map[string]any{
				"group_roles":      map[string]string{"acme-admins": "admin", "acme-viewers": "view_only_platform_member"},
				"group_workspaces": map[string]map[string]string{"ml": {w.research.Name: "owner"}},
			}
			w.tok = w.org("Tok "+rnd(), directory.JITAuto, "tok.test")
			tok := w.conn(w.tok.ID, "Tok SSO")
			tok.extra = map[string]any{"group_roles": map[string]string{"tok-admins": "admin"}}
			w.appr = w.org("Appr "+rnd(), directory.JITApproval, "appr.test")
			appr := w.conn(w.appr.ID, "Appr SSO")
			w.inv = w.org("Inv "+rnd(), directory.JITInviteOnly, "inv.test")
			inv := w.conn(w.inv.ID, "Inv SSO")
			w.relax = w.org("Relax "+rnd(), directory.JITAuto, "relax.test")
			relax := w.conn(w.relax.ID, "Relax SSO")
			relax.oidc = map[string]any{"require_email_verified": false}
			w.off = w.org("Off "+rnd(), directory.JITAuto, "off.test")
			off := w.conn(w.off.ID, "Off SSO")
			off.enabled = false
			w.multi = w.org("Multi "+rnd(), directory.JITAuto, "multi.test")
			okta, google := w.conn(w.multi.ID, "Okta"), w.conn(w.multi.ID, "Google")
			w.late = w.org("Late "+rnd(), directory.JITAuto, "late.test")
			late := w.conn(w.late.ID, "Late SSO")
			w.mix = w.org("Mix "+rnd(), directory.JITAuto, "mix.test")
			mix := w.conn(w.mix.ID, "Mix SSO")

			w.userinfoOnly = startUpstream(t, w.callbacks(acme, appr, inv, relax, off, okta, late), false)
			w.inIDToken = startUpstream(t, w.callbacks(tok, google), true)
			w.mixIdP = startUpstream(t, w.callbacks(mix), false)
			w.otherIdP = startUpstream(t, w.callbacks(mix), false)
			rw.mu.Lock()
			rw.from, rw.to = host(w.mixIdP.issuer), host(w.otherIdP.issuer)
			rw.mu.Unlock()

			w.acmeConn = w.configure(acme, w.userinfoOnly)
			w.tokConn = w.configure(tok, w.inIDToken)
			for _, p := range []*pendingConn{appr, inv, relax, off, okta} {
				w.configure(p, w.userinfoOnly)
			}
			w.offConn = off.c
			w.lateConn = w.configure(late, w.userinfoOnly)
			w.configure(google, w.inIDToken)
			w.mixConn = w.configure(mix, w.mixIdP)

			w.run(t)
		})
	}
}

func (w *signInWorld) run(t *testing.T) {
	t.Run("auto mode makes a first-time user a member, sets the session cookie and returns to the client", w.autoMode)
	t.Run("group mapping is re-synced at the next login", w.groupResync)
	t.Run("claims in the ID token are used without calling userinfo", w.claimsInIDToken)
	t.Run("approval mode shows a waiting page and records a join request", w.approvalMode)
	t.Run("invite-only mode refuses the uninvited and admits the invited", w.inviteOnly)
	t.Run("the email form needs its CSRF token and navigates upstream without a redirect", w.emailForm)
	t.Run("an org with several connections offers a choice", w.severalConnections)
	t.Run("organization and /login/{org} skip discovery", w.organizationParam)
	t.Run("without a client the login ends at return_to or /login/done, and sign-out ends the session", w.withoutClient)
	t.Run("open redirects in return_to are refused", w.openRedirects)
	t.Run("an invalid authz is refused", w.invalidAuthz)
	t.Run("a wrong state is refused", w.wrongState)
	t.Run("a replayed state is refused", w.replayedState)
	t.Run("a state from another browser is refused", w.otherBrowser)
	t.Run("a callback on another connection is refused", w.otherConnection)
	t.Run("a tampered nonce is refused", w.tamperedNonce)
	t.Run("an authorization response from another issuer is refused", w.otherIssuerResponse)
	t.Run("an ID token from another issuer is refused", w.otherIssuerIDToken)
	t.Run("an unverified email is refused unless the connection relaxes it", w.unverifiedEmail)
	t.Run("an unknown domain gets a clear page", w.unknownDomain)
	t.Run("a disabled connection cannot be used", w.disabledConnection)
	t.Run("a connection disabled during the login refuses the callback", w.disabledDuringLogin)
	t.Run("an error from the IdP gets a clear page", w.upstreamError)
	t.Run("prompt=login asks the IdP to authenticate again", w.promptLogin)
	t.Run("a changed connection configuration takes effect at the next login", w.changedConfig)
	t.Run("no code, state, secret or cookie value reaches the log", w.noSecretsLogged)
}

func (w *signInWorld) acmeAccount() account {
	r := rnd()
	return account{id: "alice-" + r, email: "alice-" + r + "@acme.test", name: "Alice " + r}
}

// wantContinue checks a login ended back at tokens with authz and a
// well-formed session cookie.
func (w *signInWorld) wantContinue(t *testing.T, p page, authz string) {
	t.Helper()
	wantStatus(t, p, http.StatusSeeOther)
	loc := p.location()
	if loc == nil || !w.isBroker(loc) || loc.Path != idp.ContinuePath || loc.Query().Get(idp.AuthzParam) != authz || len(loc.Query()) != 1 {
		t.Fatalf("login ended at %v, want %s?authz=%s", loc, idp.ContinuePath, authz)
	}
	c := p.cookie(idp.SessionCookie)
	if c == nil || c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure on http", c)
	}
}

func (w *signInWorld) autoMode(t *testing.T) {
	a := w.acmeAccount()
	a.groups = []string{"ml", "unrelated"}
	before := w.userinfoOnly.userinfoCalls(t)
	b, p := w.login(w.url("/login?authz=AZ-123_x&login_hint="+url.QueryEscape(a.email)), a)
	w.wantContinue(t, p, "AZ-123_x")
	if w.userinfoOnly.userinfoCalls(t) != before+1 {
		t.Fatal("claims were only in userinfo and userinfo was not called")
	}
	s := w.sessionOf(b)
	if s.OrgID != w.acme.ID || s.ConnectionID != w.acmeConn.ID || !slices.Equal(s.AMR, []string{"pwd"}) || time.Since(s.AuthTime) > time.Minute {
		t.Fatalf("session %+v", s)
	}
	u := must[directory.User](t)(w.dir.GetUser(bg, s.UserID))
	if u.Email != a.email || !u.EmailVerified || u.Name != a.name {
		t.Fatalf("user %+v, want %s verified named %s", u, a.email, a.name)
	}
	if m := w.member(w.acme.ID, u.ID); m.Role != access.RolePlatformMember {
		t.Fatalf("role %s, want the default platform_member", m.Role)
	}
	ws := must[[]directory.WorkspaceMember](t)(w.dir.PrincipalWorkspaces(bg, w.acme.ID, u.ID))
	if !hasWorkspace(ws, w.research.ID, access.WorkspaceOwner) {
		t.Fatalf("workspaces %+v: group ml should make the user owner of %s", ws, w.research.Name)
	}
	w.wantLogged("sign-in: session created", "user="+u.ID)
}

func hasWorkspace(ws []directory.WorkspaceMember, id string, role access.WorkspaceRole) bool {
	for _, m := range ws {
		if m.WorkspaceID == id && m.Role == role {
			return true
		}
	}
	return false
}

func (w *signInWorld) groupResync(t *testing.T) {
	a := w.acmeAccount()
	a.groups = []string{"ml"}
	b, p := w.login(w.url("/login?authz=first&login_hint="+url.QueryEscape(a.email)), a)
	w.wantContinue(t, p, "first")
	uid := w.sessionOf(b).UserID
	a.groups = []string{"acme-viewers", "acme-admins"}
	b2, p := w.login(w.url("/login?authz=second&login_hint="+url.QueryEscape(a.email)), a)
	w.wantContinue(t, p, "second")
	if w.sessionOf(b2).UserID != uid {
		t.Fatal("the same upstream subject became another user")
	}
	if m := w.member(w.acme.ID, uid); m.Role != access.RoleAdmin {
		t.Fatalf("role %s: admin wins over view-only among the mapped groups", m.Role)
	}
	ws := must[[]directory.WorkspaceMember](t)(w.dir.PrincipalWorkspaces(bg, w.acme.ID, uid))
	if hasWorkspace(ws, w.research.ID, access.WorkspaceOwner) {
		t.Fatalf("workspaces %+v: the mapped membership of a group no longer asserted stayed", ws)
	}
}

func (w *signInWorld) claimsInIDToken(t *testing.T) {
	r := rnd()
	a := account{id: "tom-" + r, email: "tom-" + r + "@tok.test", name: "Tom", groups: []string{"tok-admins"}}
	before := w.inIDToken.userinfoCalls(t)
	b := newBrowser(t)
	p := b.get(w.url("/login?authz=tok1&login_hint=" + url.QueryEscape(a.email)))
	cb := w.flow(b, p, a, func(u *url.URL) {
		if strings.HasPrefix(u.Path, "/interaction/") {
			q := u.Query()
			q.Set("amr", "otp,pwd")
			u.RawQuery = q.Encode()
		}
	})
	p = b.get(cb.String())
	w.wantContinue(t, p, "tok1")
	if n := w.inIDToken.userinfoCalls(t); n != before {
		t.Fatalf("userinfo called %d times although the ID token had every claim", n-before)
	}
	s := w.sessionOf(b)
	if !slices.Equal(s.AMR, []string{"otp", "pwd"}) || s.ConnectionID != w.tokConn.ID {
		t.Fatalf("session %+v: want the upstream amr", s)
	}
	if m := w.member(w.tok.ID, s.UserID); m.Role != access.RoleAdmin {
		t.Fatalf("role %s: groups from the ID token should map to admin", m.Role)
	}
}

func (w *signInWorld) approvalMode(t *testing.T) {
	r := rnd()
	a := account{id: "ann-" + r, email: "ann-" + r + "@appr.test", name: "Ann"}
	_, p := w.login(w.url("/login?authz=ap1&login_hint="+url.QueryEscape(a.email)), a)
	wantStatus(t, p, http.StatusOK, "Waiting for approval", w.appr.Name)
	wantNoSession(t, p)
	reqs, _, err := w.dir.ListJoinRequests(bg, w.appr.ID, directory.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Email != a.email || reqs[0].State != directory.JoinPending {
		t.Fatalf("join requests %+v", reqs)
	}
	// The org's admins are told once, not at every retry.
	_, p = w.login(w.url("/login?authz=ap1b&login_hint="+url.QueryEscape(a.email)), a)
	wantStatus(t, p, http.StatusOK, "Waiting for approval", w.appr.Name)
	if got := w.notices.about(reqs[0].ID); len(got) != 1 || got[0].org.ID != w.appr.ID || got[0].user.Email != a.email {
		t.Fatalf("join request notices %+v, want one for %s in %s", got, a.email, w.appr.ID)
	}
	must[directory.Member](t)(w.dir.ApproveJoinRequest(bg, actor, w.appr.ID, reqs[0].ID))
	_, p = w.login(w.url("/login?authz=ap2&login_hint="+url.QueryEscape(a.email)), a)
	w.wantContinue(t, p, "ap2")
}

func (w *signInWorld) inviteOnly(t *testing.T) {
	r := rnd()
	a := account{id: "ivan-" + r, email: "ivan-" + r + "@inv.test", name: "Ivan"}
	_, p := w.login(w.url("/login?authz=in1&login_hint="+url.QueryEscape(a.email)), a)
	wantStatus(t, p, http.StatusForbidden, "You have no invitation to "+w.inv.Name)
	wantNoSession(t, p)
	must[directory.Invitation](t)(w.dir.CreateInvitation(bg, actor, directory.NewInvitation{OrgID: w.inv.ID, Email: a.email, Role: access.RoleOpikMember}))
	b, p := w.login(w.url("/login?authz=in2&login_hint="+url.QueryEscape(a.email)), a)
	w.wantContinue(t, p, "in2")
	if m := w.member(w.inv.ID, w.sessionOf(b).UserID); m.Role != access.RoleOpikMember {
		t.Fatalf("role %s, want the invitation's opik_member", m.Role)
	}
}

func (w *signInWorld) emailForm(t *testing.T) {
	b := newBrowser(t)
	p := b.get(w.url("/login?authz=form1"))
	wantStatus(t, p, http.StatusOK, `name="email"`, `name="authz" value="form1"`)
	if p.header.Get("Content-Security-Policy") != templates.ContentSecurityPolicy || p.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("security headers %v", p.header)
	}
	m := hiddenCSRF.FindStringSubmatch(p.body)
	if m == nil || p.cookie(idp.CSRFCookie) == nil || p.cookie(idp.CSRFCookie).Value != m[1] {
		t.Fatalf("no CSRF token in the form and cookie:\n%s", p.body)
	}
	csrf := m[1]
	a := w.acmeAccount()
	form := url.Values{"email": {a.email}, "authz": {"form1"}}
	wantStatus(t, b.post(w.url("/login"), form), http.StatusForbidden, "expired")
	form.Set("csrf", strings.Repeat("A", len(csrf)))
	wantStatus(t, b.post(w.url("/login"), form), http.StatusForbidden)
	other := newBrowser(t)
	form.Set("csrf", csrf)
	wantStatus(t, other.post(w.url("/login"), form), http.StatusForbidden) // token without its cookie
	form.Set("email", "not-an-email")
	wantStatus(t, b.post(w.url("/login"), form), http.StatusBadRequest, "Enter your work email")
	form.Set("email", "bob@nowhere.test")
	wantStatus(t, b.post(w.url("/login"), form), http.StatusNotFound, "No organization uses sign-in for nowhere.test")
	form.Set("email", a.email)
	p = b.post(w.url("/login"), form)
	wantStatus(t, p, http.StatusOK, "Continue to sign in")
	if p.header.Get("Location") != "" {
		t.Fatal("the form's answer is a redirect; CSP form-action 'self' would block it")
	}
	if u := p.refreshURL(t); host(u.String()) != host(w.userinfoOnly.issuer) || u.Query().Get("login_hint") != a.email {
		t.Fatalf("the page navigates to %s, want the IdP with login_hint", u)
	}
	cb := w.flow(b, p, a, nil)
	w.wantContinue(t, b.get(cb.String()), "form1")
}

func (w *signInWorld) severalConnections(t *testing.T) {
	r := rnd()
	a := account{id: "mo-" + r, email: "mo-" + r + "@multi.test", name: "Mo"}
	b := newBrowser(t)
	p := b.get(w.url("/login?authz=mu1&login_hint=" + url.QueryEscape(a.email)))
	wantStatus(t, p, http.StatusOK, "Sign in to "+w.multi.Name, "Okta", "Google")
	links := choiceLink.FindAllStringSubmatch(p.body, -1)
	if len(links) != 2 {
		t.Fatalf("choices %v", links)
	}
	var google string
	for _, l := range links {
		if l[2] == "Google" {
			google = strings.ReplaceAll(l[1], "&amp;", "&")
		}
	}
	p = b.get(w.url(google))
	wantStatus(t, p, http.StatusSeeOther)
	if host(p.location().String()) != host(w.inIDToken.issuer) {
		t.Fatalf("the Google choice went to %s", p.location())
	}
	cb := w.flow(b, p, a, nil)
	w.wantContinue(t, b.get(cb.String()), "mu1")
}

func (w *signInWorld) organizationParam(t *testing.T) {
	b := newBrowser(t)
	for _, start := range []string{
		"/login?authz=o1&organization=" + url.QueryEscape(w.acme.Name),
		"/login?authz=o1&organization=" + w.acme.ID + "&login_hint=someone%40tok.test",
		"/login/" + w.acme.ID + "?authz=o1",
		"/login/" + url.PathEscape(w.acme.Name) + "?authz=o1&connection=" + w.acmeConn.ID,
	} {
		p := b.get(w.url(start))
		wantStatus(t, p, http.StatusSeeOther)
		if host(p.location().String()) != host(w.userinfoOnly.issuer) {
			t.Fatalf("%s went to %s, want Acme's IdP", start, p.location())
		}
	}
	wantStatus(t, b.get(w.url("/login/no-such-org?authz=o1")), http.StatusNotFound, "There is no organization named no-such-org")
	wantStatus(t, b.get(w.url("/login?organization=no-such-org")), http.StatusNotFound)
	wantStatus(t, b.get(w.url("/login/"+w.acme.ID+"?connection="+w.tokConn.ID)), http.StatusNotFound, "not available")
}

func (w *signInWorld) withoutClient(t *testing.T) {
	a := w.acmeAccount()
	_, p := w.login(w.url("/login?login_hint="+url.QueryEscape(a.email)+"&return_to="+url.QueryEscape("/dashboard?tab=1")), a)
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.header.Get("Location"); loc != "/dashboard?tab=1" {
		t.Fatalf("landed at %q, want return_to", loc)
	}
	b, p := w.login(w.url("/login?login_hint="+url.QueryEscape(a.email)), a)
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.header.Get("Location"); loc != idp.LoginDonePath {
		t.Fatalf("landed at %q, want %s", loc, idp.LoginDonePath)
	}
	sid := b.cookieValue(w.srv.URL, idp.SessionCookie)
	p = b.get(w.url(idp.LoginDonePath))
	wantStatus(t, p, http.StatusOK, "You are signed in", "<strong>"+a.email+"</strong>", w.acme.Name)
	csrf := hiddenCSRF.FindStringSubmatch(p.body)
	if csrf == nil {
		t.Fatalf("no sign-out form:\n%s", p.body)
	}
	wantStatus(t, b.post(w.url(idp.LogoutPath), url.Values{}), http.StatusForbidden)
	if _, err := w.sessions.GetSession(bg, b.cookieValue(w.srv.URL, idp.SessionCookie)); err != nil {
		t.Fatal("a sign-out without its CSRF token ended the session")
	}
	p = b.post(w.url(idp.LogoutPath), url.Values{"csrf": {csrf[1]}})
	wantStatus(t, p, http.StatusSeeOther)
	if c := p.cookie(idp.SessionCookie); c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign-out did not delete the cookie: %+v", c)
	}
	if _, err := w.sessions.GetSession(bg, sid); err == nil {
		t.Fatal("the session survived sign-out")
	}
	wantStatus(t, b.get(w.url(idp.LoginDonePath)), http.StatusOK, "You are not signed in")
}

func (w *signInWorld) openRedirects(t *testing.T) {
	b := newBrowser(t)
	for _, bad := range []string{
		"//evil.example", "///evil.example", `/\evil.example`, "https://evil.example/", "http:evil.example",
		"evil.example", "/%2F%2Fevil.example", "/%5Cevil.example", "javascript:alert(1)", " /x", "/x#frag",
		"/\tevil", `\\evil.example`,
	} {
		p := b.get(w.url("/login?login_hint=x%40acme.test&return_to=" + url.QueryEscape(bad)))
		wantStatus(t, p, http.StatusBadRequest, "not valid")
		if p.header.Get("Location") != "" {
			t.Fatalf("return_to %q redirected to %q", bad, p.header.Get("Location"))
		}
	}
	// A return_to that reached the callback by any path is checked again
	// before it is used: here, accepted values only.
	if !idp.ValidReturnTo("/a/b?c=d") || idp.ValidReturnTo("//x") {
		t.Fatal("ValidReturnTo disagrees with the handler")
	}
}

func (w *signInWorld) invalidAuthz(t *testing.T) {
	b := newBrowser(t)
	for _, bad := range []string{"a.b", "a b", strings.Repeat("a", 65), "<x>"} {
		wantStatus(t, b.get(w.url("/login?authz="+url.QueryEscape(bad))), http.StatusBadRequest, "not valid")
	}
}

// startedLogin goes upstream in a new browser and returns it with the callback URL.
func (w *signInWorld) startedLogin(t *testing.T, start string, a account, edit func(*url.URL)) (*browser, *url.URL) {
	t.Helper()
	b := newBrowser(t)
	return b, w.flow(b, b.get(w.url(start)), a, edit)
}

func (w *signInWorld) wrongState(t *testing.T) {
	a := w.acmeAccount()
	b, cb := w.startedLogin(t, "/login?authz=ws1&login_hint="+url.QueryEscape(a.email), a, nil)
	for _, state := range []string{"", "short", strings.Repeat("x", 43)} {
		u := *cb
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
		p := b.get(u.String())
		wantStatus(t, p, http.StatusBadRequest, "expired or was already used")
		wantNoSession(t, p)
	}
	// The real state still works: a wrong one consumed nothing.
	w.wantContinue(t, b.get(cb.String()), "ws1")
}

func (w *signInWorld) replayedState(t *testing.T) {
	a := w.acmeAccount()
	b, cb := w.startedLogin(t, "/login?authz=rp1&login_hint="+url.QueryEscape(a.email), a, nil)
	w.wantContinue(t, b.get(cb.String()), "rp1")
	p := b.get(cb.String())
	wantStatus(t, p, http.StatusBadRequest, "expired or was already used")
	wantNoSession(t, p)
	w.wantLogged("sign-in failed: unknown, expired or already used state")
}

func (w *signInWorld) otherBrowser(t *testing.T) {
	a := w.acmeAccount()
	b, cb := w.startedLogin(t, "/login?authz=ob1&login_hint="+url.QueryEscape(a.email), a, nil)
	p := newBrowser(t).get(cb.String())
	wantStatus(t, p, http.StatusBadRequest, "started in another browser")
	wantNoSession(t, p)
	w.wantLogged("browser binding cookie missing", "cookie_present=false")
	// A stranger's attempt spends nothing (a state is spent only after the
	// IdP authenticated someone, docs/security.md): the rightful browser
	// still completes its login, once.
	w.wantContinue(t, b.get(cb.String()), "ob1")
	wantStatus(t, b.get(cb.String()), http.StatusBadRequest, "expired or was already used")
}

func (w *signInWorld) otherConnection(t *testing.T) {
	a := w.acmeAccount()
	b, cb := w.startedLogin(t, "/login?authz=oc1&login_hint="+url.QueryEscape(a.email), a, nil)
	u := *cb
	u.Path = strings.Replace(u.Path, w.acmeConn.ID, w.lateConn.ID, 1)
	p := b.get(u.String())
	wantStatus(t, p, http.StatusBadRequest, "another sign-in method")
	wantNoSession(t, p)
	w.wantLogged("state issued for another connection")
}

func (w *signInWorld) tamperedNonce(t *testing.T) {
	a := w.acmeAccount()
	b, cb := w.startedLogin(t, "/login?authz=tn1&login_hint="+url.QueryEscape(a.email), a, func(u *url.URL) {
		if u.Path == "/auth" {
			q := u.Query()
			q.Set("nonce", "attacker-chosen-nonce")
			u.RawQuery = q.Encode()
		}
	})
	p := b.get(cb.String())
	wantStatus(t, p, http.StatusBadRequest, "could not be accepted")
	wantNoSession(t, p)
	w.wantLogged("ID token nonce does not match")
}

// toOther sends the browser to the second IdP instead of the connection's.
func (w *signInWorld) toOther(u *url.URL) {
	if u.Host == host(w.mixIdP.issuer) {
		u.Host = host(w.otherIdP.issuer)
	}
}

func (w *signInWorld) otherIssuerResponse(t *testing.T) {
	r := rnd()
	a := account{id: "max-" + r, email: "max-" + r + "@mix.test", name: "Max"}
	b, cb := w.startedLogin(t, "/login?authz=mx1&login_hint="+url.QueryEscape(a.email), a, w.toOther)
	if cb.Query().Get("iss") != w.otherIdP.issuer {
		t.Fatalf("the second IdP did not send its iss: %s", cb)
	}
	p := b.get(cb.String())
	wantStatus(t, p, http.StatusBadRequest, "could not be accepted")
	wantNoSession(t, p)
	w.wantLogged("authorization response from issuer")
}

func (w *signInWorld) otherIssuerIDToken(t *testing.T) {
	r := rnd()
	a := account{id: "mia-" + r, email: "mia-" + r + "@mix.test", name: "Mia"}
	b, cb := w.startedLogin(t, "/login?authz=mx2&login_hint="+url.QueryEscape(a.email), a, w.toOther)
	// The attacker also forges the iss parameter; the code goes to the
	// connection's token endpoint, which (compromised) answers with the
	// second IdP's tokens.
	q := cb.Query()
	q.Set("iss", w.mixIdP.issuer)
	cb.RawQuery = q.Encode()
	p := b.get(cb.String())
	wantStatus(t, p, http.StatusBadRequest, "could not be accepted")
	wantNoSession(t, p)
	w.wantLogged("ID token from another issuer", w.otherIdP.issuer)
	if _, ok := w.userByEmail(w.mix.ID, a.email); ok {
		t.Fatal("a user was provisioned from another issuer's ID token")
	}
}

func (w *signInWorld) unverifiedEmail(t *testing.T) {
	for _, v := range []string{"false", "absent"} {
		a := w.acmeAccount()
		a.verified = v
		_, p := w.login(w.url("/login?authz=uv1&login_hint="+url.QueryEscape(a.email)), a)
		wantStatus(t, p, http.StatusForbidden, "not confirmed that your email address is verified")
		wantNoSession(t, p)
		if _, ok := w.userByEmail(w.acme.ID, a.email); ok {
			t.Fatalf("email_verified %s: a member was provisioned", v)
		}
	}
	w.wantLogged("email not verified", "is absent")
	r := rnd()
	a := account{id: "rex-" + r, email: "rex-" + r + "@relax.test", name: "Rex", verified: "false"}
	b, p := w.login(w.url("/login?authz=uv2&login_hint="+url.QueryEscape(a.email)), a)
	w.wantContinue(t, p, "uv2")
	if u := must[directory.User](t)(w.dir.GetUser(bg, w.sessionOf(b).UserID)); u.EmailVerified {
		t.Fatal("an unverified email was recorded as verified")
	}
}

func (w *signInWorld) unknownDomain(t *testing.T) {
	b := newBrowser(t)
	p := b.get(w.url("/login?authz=ud1&login_hint=bob%40nowhere.test"))
	wantStatus(t, p, http.StatusNotFound, "No organization uses sign-in for nowhere.test", "authz=ud1")
	if strings.Contains(p.body, "goroutine") || strings.Contains(p.body, ".go:") {
		t.Fatal("the page shows a stack trace")
	}
}

func (w *signInWorld) disabledConnection(t *testing.T) {
	b := newBrowser(t)
	wantStatus(t, b.get(w.url("/login?login_hint=x%40off.test")), http.StatusNotFound, "has no sign-in method enabled")
	wantStatus(t, b.get(w.url("/login/"+w.off.ID+"?connection="+w.offConn.ID)), http.StatusNotFound, "not available")
}

func (w *signInWorld) disabledDuringLogin(t *testing.T) {
	r := rnd()
	a := account{id: "lu-" + r, email: "lu-" + r + "@late.test", name: "Lu"}
	b, cb := w.startedLogin(t, "/login?authz=dl1&login_hint="+url.QueryEscape(a.email), a, nil)
	w.setEnabled(w.lateConn, false)
	p := b.get(cb.String())
	wantStatus(t, p, http.StatusForbidden, "has been disabled")
	wantNoSession(t, p)
	w.setEnabled(w.lateConn, true)
	_, p = w.login(w.url("/login?authz=dl2&login_hint="+url.QueryEscape(a.email)), a)
	w.wantContinue(t, p, "dl2")
}

func (w *signInWorld) upstreamError(t *testing.T) {
	a := w.acmeAccount()
	b, cb := w.startedLogin(t, "/login?authz=ue1&login_hint="+url.QueryEscape(a.email), a, func(u *url.URL) {
		if strings.HasPrefix(u.Path, "/interaction/") {
			q := u.Query()
			q.Set("deny", "access_denied")
			u.RawQuery = q.Encode()
		}
	})
	if cb.Query().Get("error") != "access_denied" {
		t.Fatalf("the IdP did not answer with an error: %s", cb)
	}
	p := b.get(cb.String())
	wantStatus(t, p, http.StatusForbidden, "did not sign you in (access_denied)", "Start again", "authz=ue1")
	wantNoSession(t, p)
}

func (w *signInWorld) noSecretsLogged(t *testing.T) {
	log := w.logs.String()
	secrets := append([]string{upstreamClientSecret}, w.secrets...)
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(log, s) {
			t.Fatalf("the log contains a secret value %q", s)
		}
	}
	for _, name := range []string{"code=", "state=", "id_token", "access_token"} {
		if strings.Contains(log, name) {
			t.Fatalf("the log mentions %q", name)
		}
	}
}

func (w *signInWorld) promptLogin(t *testing.T) {
	a := w.acmeAccount()
	b := newBrowser(t)
	p := b.get(w.url("/login?authz=pl1&prompt=login&login_hint=" + url.QueryEscape(a.email)))
	wantStatus(t, p, http.StatusSeeOther)
	if q := p.location().Query(); q.Get("prompt") != "login" || q.Get("login_hint") != a.email ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" {
		t.Fatalf("upstream request %s", p.location())
	}
	w.wantContinue(t, b.get(w.flow(b, p, a, nil).String()), "pl1")
}

// setSecret rewrites the late connection's sealed client secret.
func (w *signInWorld) setSecret(t *testing.T, secret, associatedData string) {
	t.Helper()
	c := must[directory.Connection](t)(w.dir.LookupConnection(bg, w.lateConn.ID))
	var cfg map[string]map[string]any
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	sealed, err := w.box.Seal([]byte(secret), []byte(associatedData))
	if err != nil {
		t.Fatal(err)
	}
	cfg["oidc"]["client_secret_sealed"] = sealed
	if c.Config, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	must[directory.Connection](t)(w.dir.UpdateConnection(bg, actor, c))
}

func (w *signInWorld) changedConfig(t *testing.T) {
	r := rnd()
	a := account{id: "cc-" + r, email: "cc-" + r + "@late.test", name: "Cc"}
	start := "/login?authz=cc1&login_hint=" + url.QueryEscape(a.email)
	_, p := w.login(w.url(start), a)
	w.wantContinue(t, p, "cc1") // the connector is now built and cached

	w.setSecret(t, "not-the-secret", w.lateConn.ID)
	_, p = w.login(w.url(start), a)
	wantStatus(t, p, http.StatusBadRequest, "could not be accepted")
	w.wantLogged("token endpoint refused the code", "401")

	w.setSecret(t, upstreamClientSecret, w.acmeConn.ID) // sealed for another connection
	p = newBrowser(t).get(w.url(start))
	wantStatus(t, p, http.StatusInternalServerError, "not configured correctly")
	if p.header.Get("Location") != "" {
		t.Fatal("went upstream with a secret that does not open")
	}
	w.wantLogged("the connection's configuration is unusable", "open client secret")

	w.setSecret(t, upstreamClientSecret, w.lateConn.ID)
	_, p = w.login(w.url(start), a)
	w.wantContinue(t, p, "cc1")
}

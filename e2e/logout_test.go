package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestLogoutEverywhere proves that signing out of the broker reaches the
// corporate IdP (npm oidc-provider, whose end_session_endpoint is OIDC
// RP-Initiated Logout 1.0), through two `ssobroker serve` processes.
func TestLogoutEverywhere(t *testing.T) {
	w := newWorld(t)
	t.Run("sign-out from the broker's page signs out at the IdP too", w.upstreamLogoutFromPage)
}

// upstreamSSO reports whether a new sign-in of a in browser b went through
// the IdP without its login interaction (the IdP still had a session).
func (w *world) upstreamSSO(t *testing.T, b *browser, a account) bool {
	t.Helper()
	u, _ := url.Parse(w.issuer)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "sessionToken", Value: "", Path: "/", MaxAge: -1}})
	f := w.authorize(t, "app@A", map[string]any{"login_hint": a.email})
	from := len(b.hops)
	cb, p := w.navigate(b, f.URL, nav{login: a})
	if cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("sign-in stopped at %d %s\n%s", p.status, p.url, b.trace())
	}
	for _, h := range b.hops[from:] {
		if !h.broker && strings.Contains(h.url, "/interaction/") {
			return false
		}
	}
	return true
}

var formInput = regexp.MustCompile(`name="(csrf|xsrf)" value="([^"]+)"`)

func (w *world) upstreamLogoutFromPage(t *testing.T) {
	a := corpAccount("staff")
	b, _, _ := w.login(t, "app@A", a, nil)
	// Control: the IdP keeps its session, so signing in again (without the
	// broker's session) skips the IdP's login.
	if !w.upstreamSSO(t, b, a) {
		t.Fatalf("the IdP asked to log in again while its session was live:\n%s", b.trace())
	}

	// The broker's page (/login/done) has the sign-out form; post it on
	// replica B.
	done := b.get(w.b.base+"/login/done", true)
	m := formInput.FindStringSubmatch(done.body)
	if done.status != http.StatusOK || m == nil || m[1] != "csrf" {
		t.Fatalf("/login/done: %d, sign-out form found %t\n%s", done.status, m != nil, done.body)
	}
	p := b.post(w.b.base+"/logout", url.Values{"csrf": {m[2]}}, true)
	to := p.location()
	if p.status != http.StatusSeeOther || to == nil || !strings.HasPrefix(to.String(), w.corpIdP.Issuer+"/") {
		t.Fatalf("sign-out: %d to %v, want 303 to the IdP's end_session_endpoint", p.status, to)
	}
	q := to.Query()
	if q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != w.logoutCallbackURL(w.corp.Conn) ||
		q.Get("client_id") != upstreamClientID || q.Get("state") == "" {
		t.Fatalf("end_session request %s: want id_token_hint, our post_logout_redirect_uri, client_id and state", to)
	}
	// The broker's session is gone already, on both replicas.
	for _, r := range []*replica{w.a, w.b} {
		if acct := b.get(r.base+"/account", true); acct.status == http.StatusOK {
			t.Fatalf("/account on %s after sign-out: 200", r.name)
		}
	}
	// The IdP asks to confirm (oidc-provider's logout form), then sends the
	// browser back to the broker, which lands on the signed-out page.
	confirm := b.get(to.String(), false)
	m = formInput.FindStringSubmatch(confirm.body)
	if confirm.status != http.StatusOK || m == nil || m[1] != "xsrf" {
		t.Fatalf("the IdP's logout page: %d\n%s", confirm.status, confirm.body)
	}
	action := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(confirm.body)
	if action == nil {
		t.Fatalf("the IdP's logout form has no action:\n%s", confirm.body)
	}
	target, _ := confirm.url.Parse(action[1])
	p = b.post(target.String(), url.Values{"xsrf": {m[2]}, "logout": {"yes"}}, false)
	back := p.location()
	if !p.redirect() || back == nil || !strings.HasPrefix(back.String(), w.logoutCallbackURL(w.corp.Conn)+"?") {
		t.Fatalf("the IdP's logout ended with %d to %v, want our logout callback\n%s", p.status, back, p.body)
	}
	p = b.get(back.String(), true)
	if l := p.location(); p.status != http.StatusSeeOther || l == nil || l.String() != w.issuer+"/login/done" {
		t.Fatalf("our logout callback: %d to %v, want 303 to /login/done", p.status, l)
	}
	// The IdP's session has ended: a new sign-in goes through its login.
	if w.upstreamSSO(t, b, a) {
		t.Fatalf("after the sign-out the IdP still signed the user in without a login:\n%s", b.trace())
	}

	// A forged or stale state on our logout callback lands on the
	// signed-out page, never elsewhere.
	p = b.get(w.logoutCallbackURL(w.corp.Conn)+"?state=forged", true)
	if l := p.location(); p.status != http.StatusSeeOther || l == nil || l.String() != w.issuer+"/login/done" {
		t.Fatalf("forged state: %d to %v", p.status, l)
	}
}

// throughUpstreamLogout follows an /oauth2/logout answer p that hands the
// browser to the broker's upstream logout (/sso/logout?id=) through the
// IdP's logout (oidc-provider's confirmation form) and back, and returns
// the last answer: the broker's redirect to where the logout ends.
func (w *world) throughUpstreamLogout(t *testing.T, b *browser, p page) page {
	t.Helper()
	to := p.location()
	if !p.redirect() || to == nil || to.Path != "/sso/logout" {
		t.Fatalf("/oauth2/logout: %d to %v, want the upstream logout hand-off\n%s", p.status, to, p.body)
	}
	p = b.get(to.String(), true)
	end := p.location()
	if p.status != http.StatusSeeOther || end == nil || !strings.HasPrefix(end.String(), w.corpIdP.Issuer+"/") {
		t.Fatalf("the hand-off: %d to %v, want the IdP's end_session_endpoint", p.status, end)
	}
	confirm := b.get(end.String(), false)
	m := formInput.FindStringSubmatch(confirm.body)
	action := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(confirm.body)
	if confirm.status != http.StatusOK || m == nil || m[1] != "xsrf" || action == nil {
		t.Fatalf("the IdP's logout page: %d\n%s", confirm.status, confirm.body)
	}
	target, _ := confirm.url.Parse(action[1])
	p = b.post(target.String(), url.Values{"xsrf": {m[2]}, "logout": {"yes"}}, false)
	back := p.location()
	if !p.redirect() || back == nil {
		t.Fatalf("the IdP's logout ended with %d\n%s", p.status, p.body)
	}
	return b.get(back.String(), true)
}

//go:build unix

package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// TestSAMLSingleLogout proves SAML 2.0 Single Logout against SimpleSAMLphp's
// own SingleLogoutService, both ways, through two `ssobroker serve`
// processes: signing out of the broker signs out at SimpleSAMLphp (its next
// login asks for the password again), and a logout begun at SimpleSAMLphp
// ends the broker's session (its cookie no longer signs in), found by
// NameID and SessionIndex, not by the cookie. A replayed LogoutRequest is
// refused.
func TestSAMLSingleLogout(t *testing.T) {
	peers.RequireSimpleSAMLphp(t)
	w := newSAMLWorld(t, startCluster(t))
	w.addSAMLOrg(t, w.startSimpleSAMLphp(t), "SSP Corp", "ssp-corp.test")
	o := w.orgs["simplesamlphp"]
	if md := w.fetch(t, o.spEntity); !strings.Contains(md, `SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"`) ||
		!strings.Contains(md, `SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"`) {
		t.Fatalf("our SP metadata does not advertise SingleLogoutService on both bindings:\n%s", md)
	}
	t.Run("SP-initiated: signing out of the broker ends the SimpleSAMLphp session", func(t *testing.T) { w.sloFromBroker(t, o) })
	t.Run("IdP-initiated: a logout at SimpleSAMLphp ends the broker session; its replay is refused", func(t *testing.T) { w.sloFromIdP(t, o) })
	t.Run("an application's /oauth2/logout goes through SimpleSAMLphp and back to its post-logout URI", func(t *testing.T) { w.sloFromApp(t, o) })
	t.Run("IdP-initiated: the ended session's OIDC clients get a back-channel logout token", func(t *testing.T) { w.sloReachesBackchannel(t, o) })
}

// sloReachesBackchannel: a logout begun at SimpleSAMLphp ends the broker
// session (on replica B, without its cookie), and the OIDC client with a
// backchannel_logout_uri that got tokens in that browser session receives
// a verified logout_token with the session's sid (docs/logout.md, "What
// ends a session").
func (w *samlWorld) sloReachesBackchannel(t *testing.T, o *samlOrg) {
	rp := startBackchannelRP(t, w.world)
	var out struct {
		Client struct {
			ID string `json:"id"`
		} `json:"client"`
		Secret string `json:"client_secret"`
	}
	w.cli(t, &out, "admin", "client", "create", "--name", "bc-app", "--redirect-uri", w.redirectURI,
		"--backchannel-logout-uri", rp.url)
	bc := registeredClient{ID: out.Client.ID, Secret: out.Secret}
	if err := rp.s.Send(map[string]string{"audience": bc.ID}); err != nil {
		t.Fatal(err)
	}
	w.rp.must(t, nil, "discover", map[string]any{"rp": "bc@A", "issuer": w.issuer, "client_id": bc.ID, "client_secret": bc.Secret})

	b, _, _, _ := w.samlLogin(t, o)
	f := w.authorize(t, "bc@A", nil)
	cb, p := w.navigate(b, f.URL, nav{})
	if cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("the back-channel client's sign-in in the SAML session stopped at %d %s", p.status, p.url)
	}
	ts := w.exchange(t, f, cb)
	sid, sub := ts.claim("sid"), ts.claim("sub")
	if sid == "" || sub == "" {
		t.Fatalf("ID token claims %v: want sid and sub", ts.Claims)
	}

	returnTo := o.idp.BaseURL + "/logged-out"
	to, last := w.followAtIdP(t, b, o, o.idp.BaseURL+"/saml2/idp/SingleLogoutService.php?"+url.Values{"ReturnTo": {returnTo}}.Encode())
	if to == nil || to.Path != "/sso/saml/"+o.Conn+"/slo" || to.Query().Get("SAMLRequest") == "" {
		t.Fatalf("SimpleSAMLphp did not send a LogoutRequest to our SLO endpoint: %v (%d)\n%s", to, last.status, last.text())
	}
	bare := &browser{t: t, c: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if p := bare.get(onReplica(to.String(), w.b), true); p.status != http.StatusSeeOther {
		t.Fatalf("our SLO endpoint answered the LogoutRequest with %d\n%s\nlog B:\n%s", p.status, p.text(), w.replicaLog(w.b))
	}
	if w.signedIn(t, b) {
		t.Fatalf("the broker session still signs in after the IdP's logout")
	}
	rp.expectSession(t, bc.ID, sid, sub)
}

// idpAsksPassword starts a new login for o's user in browser b and reports
// whether the IdP showed its login form (true) or answered at once from
// its session (false).
func (w *samlWorld) idpAsksPassword(t *testing.T, b *browser, o *samlOrg) bool {
	t.Helper()
	f := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
	req := w.toIdP(t, b, f.URL)
	for range 10 {
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if loc, err := resp.Location(); err == nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			req, _ = http.NewRequest(http.MethodGet, loc.String(), nil)
			continue
		}
		switch {
		case strings.Contains(string(body), `name="SAMLResponse"`):
			return false
		case strings.Contains(string(body), `type="password"`):
			return true
		}
		t.Fatalf("the IdP answered %d with neither a login form nor a response:\n%s", resp.StatusCode, body)
	}
	t.Fatal("too many redirects at the IdP")
	return false
}

// follow walks the browser's redirects from u until one leaves for a host
// that is not the IdP's, and returns that URL (nil when a page ends it).
func (w *samlWorld) followAtIdP(t *testing.T, b *browser, o *samlOrg, u string) (*url.URL, page) {
	t.Helper()
	idpHost := hostOf(o.idp.BaseURL)
	next := u
	for range 10 {
		p := b.get(next, false)
		to := p.location()
		if !p.redirect() || to == nil {
			return nil, p
		}
		if to.Host != idpHost {
			return to, p
		}
		next = to.String()
	}
	t.Fatalf("too many redirects at the IdP:\n%s", b.trace())
	return nil, page{}
}

func (w *samlWorld) signedIn(t *testing.T, b *browser) bool {
	t.Helper()
	for _, r := range []*replica{w.a, w.b} {
		if acct := b.get(r.base+"/account", true); acct.status == http.StatusOK {
			return true
		}
	}
	return false
}

func (w *samlWorld) sloFromBroker(t *testing.T, o *samlOrg) {
	b, _, _, _ := w.samlLogin(t, o)
	if !w.signedIn(t, b) {
		t.Fatalf("not signed in after the SAML login")
	}
	// Control: the IdP keeps its session (the broker session cookie is
	// dropped so the broker sends the browser upstream).
	jarWithout(b, w.issuer, "sessionToken")
	if w.idpAsksPassword(t, b, o) {
		t.Fatalf("SimpleSAMLphp asked for the password while its session was live")
	}
	b2, _, _, _ := w.samlLogin(t, o)
	b = b2
	done := b.get(w.b.base+"/login/done", true)
	m := formInput.FindStringSubmatch(done.body)
	if done.status != http.StatusOK || m == nil || m[1] != "csrf" {
		t.Fatalf("/login/done: %d\n%s", done.status, done.body)
	}
	p := b.post(w.b.base+"/logout", url.Values{"csrf": {m[2]}}, true)
	to := p.location()
	if p.status != http.StatusSeeOther || to == nil || !strings.HasPrefix(to.String(), o.idp.BaseURL+"/saml2/idp/SingleLogoutService.php?") {
		t.Fatalf("sign-out: %d to %v, want 303 to SimpleSAMLphp's SingleLogoutService\n%s", p.status, to, w.replicaLog(w.b))
	}
	q := to.Query()
	if q.Get("SAMLRequest") == "" || q.Get("Signature") == "" || q.Get("SigAlg") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" || q.Get("RelayState") == "" {
		t.Fatalf("the LogoutRequest is not a signed Redirect-binding message: %s", to)
	}
	if w.signedIn(t, b) {
		t.Fatalf("the broker session outlived the sign-out")
	}
	back, last := w.followAtIdP(t, b, o, to.String())
	if back == nil || back.Path != "/sso/saml/"+o.Conn+"/slo" || back.Query().Get("SAMLResponse") == "" || back.Query().Get("Signature") == "" {
		t.Fatalf("SimpleSAMLphp did not answer with a signed LogoutResponse to our SLO endpoint: %v (%d)\n%s\nIdP trace:\n%s", back, last.status, last.text(), b.trace())
	}
	end := b.get(onReplica(back.String(), w.a), true)
	if end.status != http.StatusSeeOther || end.location() == nil || end.location().Path != "/login/done" {
		t.Fatalf("our SLO endpoint answered the LogoutResponse with %d %v:\n%s\nlog A:\n%s", end.status, end.location(), end.text(), w.replicaLog(w.a))
	}
	if !strings.Contains(w.replicaLog(w.a), "SAML LogoutResponse verified") {
		t.Fatalf("replica A did not log the verified LogoutResponse")
	}
	// SimpleSAMLphp's session is over: a new login asks for the password.
	if !w.idpAsksPassword(t, b, o) {
		t.Fatalf("SimpleSAMLphp signed the user in again without the password after the Single Logout")
	}
}

func (w *samlWorld) sloFromIdP(t *testing.T, o *samlOrg) {
	b, _, _, _ := w.samlLogin(t, o)
	if !w.signedIn(t, b) {
		t.Fatalf("not signed in after the SAML login")
	}
	// The logout starts at SimpleSAMLphp, which sends the browser to every
	// SP of its session with a LogoutRequest.
	returnTo := o.idp.BaseURL + "/logged-out"
	to, last := w.followAtIdP(t, b, o, o.idp.BaseURL+"/saml2/idp/SingleLogoutService.php?"+url.Values{"ReturnTo": {returnTo}}.Encode())
	if to == nil || to.Path != "/sso/saml/"+o.Conn+"/slo" || to.Query().Get("SAMLRequest") == "" || to.Query().Get("Signature") == "" {
		t.Fatalf("SimpleSAMLphp did not send a signed LogoutRequest to our SLO endpoint: %v (%d)\n%s", to, last.status, last.text())
	}
	// The browser's hop to the broker, on replica B, without the broker's
	// cookie: the session is found by NameID and SessionIndex.
	bare := &browser{t: t, c: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	p := bare.get(onReplica(to.String(), w.b), true)
	answer := p.location()
	if p.status != http.StatusSeeOther || answer == nil || !strings.HasPrefix(answer.String(), o.idp.BaseURL+"/saml2/idp/SingleLogoutService.php?") ||
		answer.Query().Get("SAMLResponse") == "" || answer.Query().Get("Signature") == "" {
		t.Fatalf("our SLO endpoint answered the LogoutRequest with %d %v\n%s\nlog B:\n%s", p.status, answer, p.text(), w.replicaLog(w.b))
	}
	if !strings.Contains(w.replicaLog(w.b), "sessions_ended=1") {
		t.Fatalf("replica B did not end one session; log:\n%s", w.replicaLog(w.b))
	}
	if w.signedIn(t, b) {
		t.Fatalf("the broker session still signs in after the IdP's logout")
	}
	// SimpleSAMLphp takes our signed LogoutResponse and finishes at ReturnTo.
	fin := b.get(answer.String(), false)
	if end := fin.location(); !fin.redirect() || end == nil || end.String() != returnTo {
		t.Fatalf("SimpleSAMLphp did not take our LogoutResponse and finish at ReturnTo: %d %v\n%s", fin.status, end, fin.text())
	}
	// The captured LogoutRequest again, on replica A: refused by the shared
	// replay cache.
	again := bare.get(onReplica(to.String(), w.a), true)
	if again.status != http.StatusBadRequest || !strings.Contains(again.text(), "nothing was signed out") {
		t.Fatalf("a replayed LogoutRequest answered %d:\n%s", again.status, again.text())
	}
	if !strings.Contains(w.replicaLog(w.a), "was already received (replay)") {
		t.Fatalf("replica A did not log the replay; log:\n%s", w.replicaLog(w.a))
	}
}

// jarWithout drops cookie name of base's host from b's jar.
func jarWithout(b *browser, base, name string) {
	u, _ := url.Parse(base)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: "", Path: "/", MaxAge: -1}})
}

func (w *samlWorld) sloFromApp(t *testing.T, o *samlOrg) {
	b, f, cb, _ := w.samlLogin(t, o)
	ts := w.exchange(t, f, cb)
	q := url.Values{"id_token_hint": {ts.Tokens.IDToken}, "post_logout_redirect_uri": {w.redirectURI}, "state": {"st-1"}}
	p := b.get(w.a.base+"/oauth2/logout?"+q.Encode(), true)
	handoff := p.location()
	if !p.redirect() || handoff == nil || handoff.Path != "/sso/logout" {
		t.Fatalf("/oauth2/logout: %d to %v, want the upstream logout hand-off\n%s", p.status, handoff, p.text())
	}
	if w.signedIn(t, b) {
		t.Fatalf("the broker session outlived /oauth2/logout")
	}
	p = b.get(onReplica(handoff.String(), w.b), true)
	to := p.location()
	if p.status != http.StatusSeeOther || to == nil || !strings.HasPrefix(to.String(), o.idp.BaseURL+"/saml2/idp/SingleLogoutService.php?") {
		t.Fatalf("the hand-off: %d to %v, want SimpleSAMLphp's SingleLogoutService\n%s", p.status, to, w.replicaLog(w.b))
	}
	back, last := w.followAtIdP(t, b, o, to.String())
	if back == nil || back.Path != "/sso/saml/"+o.Conn+"/slo" {
		t.Fatalf("SimpleSAMLphp did not answer to our SLO endpoint: %v (%d)\n%s", back, last.status, last.text())
	}
	end := b.get(onReplica(back.String(), w.a), true)
	if land := end.location(); end.status != http.StatusSeeOther || land == nil || land.String() != w.redirectURI+"?state=st-1" {
		t.Fatalf("the LogoutResponse landed %d at %v, want the client's post-logout URI with its state\n%s", end.status, land, end.text())
	}
	if !w.idpAsksPassword(t, b, o) {
		t.Fatalf("SimpleSAMLphp signed the user in again without the password after the application's logout")
	}
}

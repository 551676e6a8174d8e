//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// TestSAMLSignInInChromium proves in a real browser (Debian's Chromium,
// headless, driven by npm playwright-core through browser-saml.mjs) what
// TestSAMLSignIn cannot with Go's cookie jar, which ignores SameSite: the
// IdP's auto-submitted SAMLResponse is a cross-site POST, so the browser
// leaves out the SameSite=Lax binding cookie ssb_login, and the broker's
// self-posting page (one inline script, allowed by its hash) sends the same
// form again, now same-site, with the cookie.
//
// The broker's issuer is http://localhost:PORT and SimpleSAMLphp runs at
// http://127.0.0.1:PORT: two sites. (Chromium's sites ignore ports, so an
// IdP and a broker both on 127.0.0.1 would be one site, and the bounce would
// never be needed.)
func TestSAMLSignInInChromium(t *testing.T) {
	peers.RequireChromium(t)
	peers.RequireSimpleSAMLphp(t)
	c := startClusterOnHost(t, "localhost")
	if !strings.HasPrefix(c.issuer, "http://localhost:") {
		t.Fatalf("issuer %s", c.issuer)
	}
	// openid-client discovers the issuer at its own name, localhost.
	w := newSAMLWorld(t, c)
	ssp := w.startSimpleSAMLphp(t)
	if u, _ := url.Parse(ssp.BaseURL); u.Hostname() != "127.0.0.1" {
		t.Fatalf("SimpleSAMLphp at %s: the test needs it on 127.0.0.1, another site than localhost", ssp.BaseURL)
	}
	w.addSAMLOrg(t, ssp, "SSP Corp", "ssp-corp.test")
	o := w.orgs["simplesamlphp"]

	t.Run("login: the IdP's cross-site post is bounced once, same-site, and ends with our JWT", func(t *testing.T) { w.chromiumLogin(t, o) })
	t.Run("the SAMLResponse posted from another browser is refused by the binding", func(t *testing.T) { w.chromiumOtherBrowser(t, o) })
}

func (w *samlWorld) chromiumLogin(t *testing.T, o *samlOrg) {
	f := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
	start := time.Now()
	res := w.chromium(t, "login", chromiumRun{Start: f.URL, Username: o.user.Username, Password: o.user.Password, Expect: w.redirectURI})
	t.Logf("Chromium %s signed in in %s:\n%s", res.Browser, time.Since(start).Round(time.Millisecond), res.trace())
	res.noCSPViolation(t, w.issuer, nil)
	// The bounce: the IdP's post came without the binding cookie and was
	// answered with our page; its post came with it, once.
	acs := res.acsPosts("A")
	if len(acs) != 2 {
		t.Fatalf("%d POSTs to the ACS, want 2 (the IdP's, then our bounce):\n%s", len(acs), res.trace())
	}
	first, second := acs[0], acs[1]
	if first.Bounce || slices.Contains(first.CookiesSent, "ssb_login") || first.Status != 200 {
		t.Fatalf("the IdP's cross-site post: bounce=%v, cookies %v, status %d; want no ssb_bounce, no ssb_login (SameSite=Lax), and the bounce page (200)\n%s",
			first.Bounce, first.CookiesSent, first.Status, res.trace())
	}
	// The answer to our own form is a page that navigates by itself, not a
	// redirect: Chromium applies the bounce page's form-action 'self' to the
	// redirects after its submission, and the login ends at the client.
	if !second.Bounce || !slices.Contains(second.CookiesSent, "ssb_login") || second.Status != 200 {
		t.Fatalf("the bounce: bounce=%v, cookies %v, status %d; want ssb_bounce=1, the ssb_login cookie (now same-site) and the self-navigating page (200)\n%s",
			second.Bounce, second.CookiesSent, second.Status, res.trace())
	}
	if first.URL != second.URL {
		t.Fatalf("the bounce posted to %s, not to the ACS the IdP posted to (%s)", second.URL, first.URL)
	}
	if !slices.ContainsFunc(second.SetCookies, func(s string) bool { return strings.HasPrefix(s, "sessionToken;") }) {
		t.Fatalf("the bounced ACS post set no session cookie: %v", second.SetCookies)
	}

	// The session cookie as Chromium stored it.
	sc, ok := res.cookie("A", "sessionToken")
	if !ok || !sc.HTTPOnly || sc.SameSite != "Lax" || sc.Domain != "localhost" || sc.Path != "/" || sc.Secure {
		t.Fatalf("session cookie %+v (found %v): want HttpOnly, SameSite=Lax, host localhost, path /, not Secure on http", sc, ok)
	}

	// Then on to the relying party, through redirects that follow the
	// bounce page's form submission (its CSP form-action applies to them).
	cb, err := url.Parse(res.FinalURL)
	if err != nil || res.FinalURL == "" || cb.Query().Get("code") == "" {
		why := ""
		if res.blockedBy("form-action", w.issuer) {
			why = "\nChromium blocked a redirect after the bounce page's form submission by that page's CSP form-action" +
				" (it reports the blocked URL as the form's action, hiding where the redirect went): the code never reached the relying party"
		}
		t.Fatalf("the browser did not reach the relying party with a code; it stopped at %d %s: %q%s\n%s\nlog A:\n%s",
			res.Page.Status, res.Page.URL, res.Page.Text, why, res.trace(), w.replicaLog(w.a))
	}

	// openid-client redeems the code, jose verifies the access token.
	ts := w.exchange(t, f, cb)
	sub := ts.claim("sub")
	if !strings.HasPrefix(sub, "usr_") || ts.claim("email") != o.user.Email || ts.claim("iss") != w.issuer {
		t.Fatalf("ID token claims %v", ts.Claims)
	}
	at := w.verifyAccessToken(t, w.jwksA, ts.Tokens.AccessToken, w.app.ID)
	if at.Sub != sub || at.Org.ID != o.ID || at.Org.Role != "opik_member" || at.workspaceRole(o.workspace) != "owner" {
		t.Fatalf("access token %+v: want org %s role opik_member (group staff) and owner of %s (group research-team)", at, o.ID, o.workspace)
	}
	if m, ok := w.memberByEmail(t, o.org, o.user.Email); !ok || m.PrincipalID != sub || m.Role != "opik_member" {
		t.Fatalf("member %+v (found %v)", m, ok)
	}
	if n := strings.Count(w.replicaLog(w.a), "sign-in: session created"); n != 1 || !strings.Contains(w.replicaLog(w.a), "amr=[saml]") {
		t.Fatalf("replica A logged %d sessions created; want one SAML session\n%s", n, w.replicaLog(w.a))
	}
}

func (w *samlWorld) chromiumOtherBrowser(t *testing.T, o *samlOrg) {
	f := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
	res := w.chromium(t, "other-browser", chromiumRun{Start: f.URL, Username: o.user.Username, Password: o.user.Password,
		Expect: w.redirectURI, Mode: "other-browser"})
	t.Logf("Chromium %s, the SAMLResponse of browser A posted in browser B:\n%s", res.Browser, res.trace())
	if res.FinalURL != "" {
		t.Fatalf("browser B reached the relying party: %s\n%s", res.FinalURL, res.trace())
	}
	// Browser A's post was held back (it never reached the broker).
	if a := res.acsPosts("A"); len(a) != 1 || !a[0].Intercepted {
		t.Fatalf("browser A's posts to the ACS %+v: want the IdP's one, held back", a)
	}
	// Browser B: the cross-site post, bounced; the bounce, without a binding
	// cookie (B never had one), refused.
	b := res.acsPosts("B")
	if len(b) != 2 || b[0].Bounce || !b[1].Bounce || b[0].Status != 200 {
		t.Fatalf("browser B's posts to the ACS: %+v; want the replayed post (answered with the bounce page) and the bounce\n%s", b, res.trace())
	}
	if slices.Contains(b[1].CookiesSent, "ssb_login") {
		t.Fatalf("browser B sent a binding cookie it never had: %v", b[1].CookiesSent)
	}
	if res.Page.Status != 400 || !strings.Contains(res.Page.Text, "started in another browser") || !strings.Contains(res.Page.URL, "/sso/saml/"+o.Conn+"/acs") {
		t.Fatalf("browser B stopped at %d %s: %q; want the broker's 400 \"started in another browser\" page at the ACS", res.Page.Status, res.Page.URL, res.Page.Text)
	}
	for _, ctx := range []string{"A", "B"} {
		if c, ok := res.cookie(ctx, "sessionToken"); ok {
			t.Fatalf("browser %s has a session cookie: %+v", ctx, c)
		}
	}
	for _, r := range b {
		if slices.ContainsFunc(r.SetCookies, func(s string) bool { return strings.HasPrefix(s, "sessionToken;") }) {
			t.Fatalf("the broker set a session cookie in browser B: %+v", r)
		}
	}
	if !strings.Contains(w.replicaLog(w.a), "browser binding cookie missing or not the one that started this login") {
		t.Fatalf("replica A did not log the binding failure:\n%s", w.replicaLog(w.a))
	}
	// Chromium logs every 4xx document; the refusal is one.
	res.noCSPViolation(t, w.issuer, []string{"Failed to load resource: the server responded with a status of 400 (Bad Request)"})
}

// chromiumRun is the input of browser-saml.mjs.
type chromiumRun struct {
	Start      string `json:"start"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	Expect     string `json:"expect"`
	Mode       string `json:"mode,omitempty"`
	TimeoutMS  int    `json:"timeout_ms,omitempty"`
	Screenshot string `json:"screenshot,omitempty"`
}

// chromiumResult is what browser-saml.mjs printed.
type chromiumResult struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Browser  string `json:"browser"`
	FinalURL string `json:"final_url"`
	Page     struct {
		URL    string `json:"url"`
		Status int    `json:"status"`
		Title  string `json:"title"`
		Text   string `json:"text"`
	} `json:"page"`
	Requests []chromiumRequest         `json:"requests"`
	Cookies  map[string][]chromeCookie `json:"cookies"`
	Console  []struct {
		Ctx  string `json:"ctx"`
		Type string `json:"type"`
		Text string `json:"text"`
		URL  string `json:"url"`
	} `json:"console"`
	PageErrors    []string `json:"page_errors"`
	CSPViolations []struct {
		Ctx       string `json:"ctx"`
		Document  string `json:"document"`
		Directive string `json:"directive"`
		Blocked   string `json:"blocked"`
		Sample    string `json:"sample"`
	} `json:"csp_violations"`
	CSPProbe bool `json:"csp_probe"`
}

type chromiumRequest struct {
	Ctx         string   `json:"ctx"`
	Method      string   `json:"method"`
	URL         string   `json:"url"`
	Type        string   `json:"type"`
	Status      int      `json:"status"`
	ACS         bool     `json:"acs"`
	Bounce      bool     `json:"bounce"`
	CookiesSent []string `json:"cookies_sent"`
	SetCookies  []string `json:"set_cookies"`
	Intercepted bool     `json:"intercepted"`
	Location    string   `json:"location"`
	Failure     string   `json:"failure"`
}

type chromeCookie struct {
	Name     string `json:"name"`
	Domain   string `json:"domain"`
	Path     string `json:"path"`
	HTTPOnly bool   `json:"httpOnly"`
	Secure   bool   `json:"secure"`
	SameSite string `json:"sameSite"`
	Session  bool   `json:"session"`
}

// chromium runs browser-saml.mjs once (a fresh browser) and returns what it
// saw; its stderr and a screenshot of the last page go to the test's logs.
func (w *samlWorld) chromium(t *testing.T, name string, run chromiumRun) chromiumResult {
	t.Helper()
	run.Screenshot = filepath.Join(w.logDir, "chromium-"+name+".png")
	in, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	s, line := peers.StartScript(t, "browser-saml.mjs", peers.ScriptOptions{Args: []string{string(in)},
		Log: w.logFile(t, "chromium-"+name), StartTimeout: 3 * time.Minute})
	var res chromiumResult
	if err := json.Unmarshal(line, &res); err != nil {
		t.Fatalf("browser-saml.mjs printed %q: %v\n%s", line, err, s.Log())
	}
	if !res.OK {
		t.Fatalf("browser-saml.mjs failed: %s\nstopped at %d %s: %q\n%s\nstderr:\n%s", res.Error, res.Page.Status, res.Page.URL, res.Page.Text, res.trace(), s.Log())
	}
	if !res.CSPProbe {
		t.Fatal("browser-saml.mjs did not see the deliberate CSP violation of its control page: its CSP report would prove nothing")
	}
	t.Logf("screenshot of the last page: %s", run.Screenshot)
	return res
}

// blockedBy says whether Chromium reported a violation of directive on a
// page under issuer.
func (r chromiumResult) blockedBy(directive, issuer string) bool {
	for _, v := range r.CSPViolations {
		if v.Directive == directive && strings.HasPrefix(v.Document, issuer+"/") {
			return true
		}
	}
	return false
}

// acsPosts are the POSTs to the ACS made in browser context ctx, in order.
func (r chromiumResult) acsPosts(ctx string) []chromiumRequest {
	var out []chromiumRequest
	for _, q := range r.Requests {
		if q.Ctx == ctx && q.ACS {
			out = append(out, q)
		}
	}
	return out
}

func (r chromiumResult) cookie(ctx, name string) (chromeCookie, bool) {
	for _, c := range r.Cookies[ctx] {
		if c.Name == name {
			return c, true
		}
	}
	return chromeCookie{}, false
}

// noCSPViolation fails t if a page of the broker (under issuer) broke its
// Content-Security-Policy or logged an error or warning in the console
// (other than the messages expected); what other origins' pages (the
// IdP's) did is only logged, unless it is about a CSP.
func (r chromiumResult) noCSPViolation(t *testing.T, issuer string, expected []string) {
	t.Helper()
	for _, v := range r.CSPViolations {
		if strings.HasPrefix(v.Document, issuer+"/") || v.Document == issuer {
			t.Errorf("CSP violation on our page %s: %s blocked %q (%q)", v.Document, v.Directive, v.Blocked, v.Sample)
		} else {
			t.Logf("CSP violation on another origin's page %s: %s blocked %q", v.Document, v.Directive, v.Blocked)
		}
	}
	for _, c := range r.Console {
		switch {
		case strings.Contains(c.Text, "Content Security Policy"):
			t.Errorf("console %s (%s) on %s: %s", c.Type, c.Ctx, c.URL, c.Text)
		case strings.HasPrefix(c.URL, issuer+"/") && slices.Contains(expected, c.Text):
			t.Logf("console %s (%s) on %s, expected: %s", c.Type, c.Ctx, c.URL, c.Text)
		case strings.HasPrefix(c.URL, issuer+"/"):
			t.Errorf("console %s (%s) on %s: %s", c.Type, c.Ctx, c.URL, c.Text)
		default:
			t.Logf("console %s (%s) on %s: %s", c.Type, c.Ctx, c.URL, c.Text)
		}
	}
	for _, e := range r.PageErrors {
		t.Errorf("script error: %s", e)
	}
}

// trace lists the browser's requests, cookies sent and set, for logs and
// failure messages.
func (r chromiumResult) trace() string {
	var b strings.Builder
	for _, q := range r.Requests {
		if q.Type != "document" && !q.ACS {
			continue // the IdP's styles and scripts
		}
		fmt.Fprintf(&b, "  [%s] %s %s → %d", q.Ctx, q.Method, cutString(q.URL, 140), q.Status)
		if q.ACS {
			fmt.Fprintf(&b, " (ssb_bounce=%v)", q.Bounce)
		}
		if q.Intercepted {
			b.WriteString(" (intercepted)")
		}
		if q.Failure != "" {
			fmt.Fprintf(&b, " (failed: %s)", q.Failure)
		}
		if q.Location != "" {
			fmt.Fprintf(&b, "\n      location: %s", cutString(q.Location, 140))
		}
		if len(q.CookiesSent) > 0 {
			fmt.Fprintf(&b, "\n      cookies sent: %s", strings.Join(q.CookiesSent, ", "))
		}
		for _, c := range q.SetCookies {
			fmt.Fprintf(&b, "\n      set-cookie: %s", c)
		}
		b.WriteString("\n")
	}
	for ctx, cs := range r.Cookies {
		for _, c := range cs {
			fmt.Fprintf(&b, "  cookie in %s: %s domain=%s path=%s httpOnly=%v secure=%v sameSite=%s session=%v\n",
				ctx, c.Name, c.Domain, c.Path, c.HTTPOnly, c.Secure, c.SameSite, c.Session)
		}
	}
	return b.String()
}

func cutString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

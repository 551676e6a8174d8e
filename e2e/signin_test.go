package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSignIn is the end-to-end proof of the sign-in: a relying party (npm
// openid-client) → ssobroker /oauth2/authorize → home-realm discovery →
// the corporate IdP (npm oidc-provider) → ssobroker callback → JIT
// provisioning → code → tokens, refresh, userinfo and logout, through two
// `ssobroker serve` processes sharing PostgreSQL and Redis; the access
// tokens verified by npm jose; and the ways it must fail.
func TestSignIn(t *testing.T) {
	w := newWorld(t)
	t.Run("full chain: discovery, PKCE, HRD, upstream login, JIT, code, ID token, refresh, userinfo, logout", w.fullChain)
	t.Run("a login begun on replica A finishes on replica B", w.acrossReplicas)
	t.Run("wrong state is refused by the relying party", w.wrongState)
	t.Run("nonce mismatch is refused by the relying party", w.nonceMismatch)
	t.Run("a replayed code is invalid_grant and revokes what the first exchange issued", w.replayedCode)
	t.Run("a refresh token reused is invalid_grant and ends its family", w.refreshReused)
	t.Run("an upstream ID token from another issuer is refused, no user created", w.idTokenFromAnotherIssuer)
	t.Run("an upstream authorization response naming another issuer is refused, no user created", w.upstreamResponseFromAnotherIssuer)
	t.Run("a response to the relying party naming another issuer is refused", w.rpResponseFromAnotherIssuer)
	t.Run("an unverified upstream email is refused, no user created", w.unverifiedEmail)
	t.Run("an unregistered redirect URI gets a 400 page, never a redirect", w.unregisteredRedirect)
	t.Run("round trip through the two replicas, timed", w.roundTrip)
}

func corpAccount(groups ...string) account {
	r := rnd()
	return account{id: "ada-" + r, email: "ada-" + r + "@corp.test", name: "Ada " + r, groups: groups}
}

// authorize has the relying party build an authorization request (PKCE
// S256, state, nonce) with extra parameters.
func (w *world) authorize(t *testing.T, rp string, params map[string]any) flow {
	t.Helper()
	f := flow{rp: rp}
	req := map[string]any{"rp": rp, "redirect_uri": w.redirectURI, "scope": scope}
	if params != nil {
		req["params"] = params
	}
	w.rp.must(t, &f, "authorize", req)
	return f
}

// signIn runs the browser through the whole login in a fresh cookie jar and
// returns it with the redirect to the relying party.
func (w *world) signIn(t *testing.T, f flow, n nav) (*browser, *url.URL) {
	t.Helper()
	b := newBrowser(t)
	cb, p := w.navigate(b, f.URL, n)
	if cb == nil {
		t.Fatalf("the login stopped at %d %s:\n%s\nhops:\n%s", p.status, p.url, p.body, b.trace())
	}
	if cb.Query().Get("code") == "" {
		t.Fatalf("the relying party got no code: %s\nhops:\n%s", cb, b.trace())
	}
	return b, cb
}

// exchange has openid-client redeem the code and validate the ID token.
func (w *world) exchange(t *testing.T, f flow, cb *url.URL) tokenSet {
	t.Helper()
	var ts tokenSet
	w.rp.must(t, &ts, "callback", map[string]any{"rp": f.rp, "flow": f.Flow, "url": cb.String()})
	return ts
}

// login is a whole sign-in of a for the relying party rp.
func (w *world) login(t *testing.T, rp string, a account, route func(*url.URL)) (*browser, flow, tokenSet) {
	t.Helper()
	f := w.authorize(t, rp, map[string]any{"login_hint": a.email})
	b, cb := w.signIn(t, f, nav{login: a, route: route})
	return b, f, w.exchange(t, f, cb)
}

// verifyAccessToken has jose verify an access token against a JWKS URI.
func (w *world) verifyAccessToken(t *testing.T, jwks, token, audience string) accessClaims {
	t.Helper()
	var out struct {
		Header  map[string]any  `json:"header"`
		Payload json.RawMessage `json:"payload"`
	}
	w.rp.must(t, &out, "verify_access_token", map[string]any{"jwks_uri": jwks, "token": token, "issuer": w.issuer, "audience": audience})
	if out.Header["typ"] != "at+jwt" || out.Header["alg"] != "ES256" {
		t.Fatalf("access token header %v", out.Header)
	}
	var c accessClaims
	if err := json.Unmarshal(out.Payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *world) fullChain(t *testing.T) {
	a := corpAccount("ml-team", "staff")
	f := w.authorize(t, "app@A", map[string]any{"login_hint": a.email})
	b, cb := w.signIn(t, f, nav{login: a})

	// Home-realm discovery sent the browser straight to Corp's IdP.
	if len(b.hops) < 3 || !strings.Contains(b.hops[0].url, "/oauth2/authorize?") || !strings.Contains(b.hops[1].url, "/login?") ||
		b.hops[1].status != http.StatusSeeOther || !strings.HasPrefix(b.hops[2].url, w.corpIdP.Issuer+"/") {
		t.Fatalf("want authorize → /login → Corp's IdP, got:\n%s", b.trace())
	}
	if q := cb.Query(); q.Get("iss") != w.issuer || q.Get("state") != f.State {
		t.Fatalf("authorization response %s: want iss %s and the state", cb, w.issuer)
	}

	ts := w.exchange(t, f, cb)
	sub := ts.claim("sub")
	if !strings.HasPrefix(sub, "usr_") || ts.claim("aud") != w.app.ID || ts.claim("nonce") != f.Nonce ||
		ts.claim("email") != a.email || ts.claim("email_verified") != "true" || ts.claim("iss") != w.issuer ||
		ts.claim("sid") == "" || ts.claim("auth_time") == "" {
		t.Fatalf("ID token claims %v", ts.Claims)
	}
	if orgClaim, _ := ts.Claims["org"].(map[string]any); orgClaim["id"] != w.corp.ID {
		t.Fatalf("ID token org %v, want %s", ts.Claims["org"], w.corp.ID)
	}
	if ts.Tokens.RefreshToken == "" || ts.Tokens.TokenType != "Bearer" && ts.Tokens.TokenType != "bearer" {
		t.Fatalf("tokens %+v: want a bearer token and a refresh token (offline_access)", ts.Tokens)
	}

	// JIT made the user a member with the mapped roles.
	m, ok := w.memberByEmail(t, w.corp, a.email)
	if !ok || m.PrincipalID != sub || m.Role != "opik_member" || m.Name != a.name {
		t.Fatalf("member %+v (found %v): want %s, opik_member (group ml-team), named %q", m, ok, sub, a.name)
	}

	// The access token verifies with jose against either replica's JWKS and
	// carries the mapped org role and workspace role.
	for _, jwks := range []string{w.jwksA, w.jwksB} {
		at := w.verifyAccessToken(t, jwks, ts.Tokens.AccessToken, w.app.ID)
		if at.Sub != sub || at.ClientID != w.app.ID || at.Org.ID != w.corp.ID || at.Org.Role != "opik_member" ||
			at.workspaceRole("research") != "owner" || at.DefaultWorkspace != w.corp.DefaultWorkspace {
			t.Fatalf("access token claims %+v: want org role opik_member and owner of research (groups ml-team)", at)
		}
	}

	var ui struct {
		Userinfo map[string]any `json:"userinfo"`
	}
	w.rp.must(t, &ui, "userinfo", map[string]any{"rp": "app@A", "access_token": ts.Tokens.AccessToken, "sub": sub})
	if ui.Userinfo["sub"] != sub || ui.Userinfo["email"] != a.email || ui.Userinfo["name"] != a.name {
		t.Fatalf("userinfo %v", ui.Userinfo)
	}

	var rt tokenSet
	w.rp.must(t, &rt, "refresh", map[string]any{"rp": "app@A", "refresh_token": ts.Tokens.RefreshToken})
	if rt.Tokens.RefreshToken == "" || rt.Tokens.RefreshToken == ts.Tokens.RefreshToken || rt.claim("sub") != sub ||
		rt.claim("auth_time") != ts.claim("auth_time") {
		t.Fatalf("refresh: %+v %v: want a rotated refresh token and an ID token for the same sign-in", rt.Tokens, rt.Claims)
	}
	if at := w.verifyAccessToken(t, w.jwksA, rt.Tokens.AccessToken, w.app.ID); at.Org.Role != "opik_member" {
		t.Fatalf("refreshed access token %+v", at)
	}

	// RP-initiated logout ends the browser session, signs out at the IdP
	// (the upstream logout hand-off) and returns to the exact registered
	// URI, with state.
	var es struct {
		URL string `json:"url"`
	}
	w.rp.must(t, &es, "end_session_url", map[string]any{"rp": "app@A", "params": map[string]any{
		"id_token_hint": ts.Tokens.IDToken, "post_logout_redirect_uri": w.logoutURI, "state": "bye"}})
	p := w.throughUpstreamLogout(t, b, b.get(es.URL, true))
	if !p.redirect() || p.header.Get("Location") != w.logoutURI+"?state=bye" {
		t.Fatalf("logout: %d to %q, want a redirect to %s?state=bye\n%s", p.status, p.header.Get("Location"), w.logoutURI, p.body)
	}
	again := w.authorize(t, "app@A", map[string]any{"prompt": "none"})
	cb, p = w.navigate(b, again.URL, nav{})
	if cb == nil || cb.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none after logout: %v (page %d), want error=login_required", cb, p.status)
	}
	w.rp.refused(t, "callback", map[string]any{"rp": "app@A", "flow": again.Flow, "url": cb.String()}, "login_required")

	// A post_logout_redirect_uri that is not registered is never followed.
	w.rp.must(t, &es, "end_session_url", map[string]any{"rp": "app@A", "params": map[string]any{
		"client_id": w.app.ID, "post_logout_redirect_uri": rpOrigin + "/elsewhere", "state": "bye"}})
	if p := b.get(es.URL, true); p.status != http.StatusOK || p.header.Get("Location") != "" || !strings.Contains(p.text(), "not registered") {
		t.Fatalf("logout to an unregistered URI: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
}

func (w *world) acrossReplicas(t *testing.T) {
	// The two replicas publish the same keys and the same metadata.
	if ja, jb := fetchJSON(t, w.jwksA), fetchJSON(t, w.jwksB); !reflect.DeepEqual(ja, jb) {
		t.Fatalf("the replicas publish different JWKS:\nA: %v\nB: %v", ja, jb)
	}
	if da, db := fetchJSON(t, w.issuer+"/.well-known/openid-configuration"), fetchJSON(t, w.discoveryB); !reflect.DeepEqual(da, db) {
		t.Fatalf("the replicas publish different discovery documents:\nA: %v\nB: %v", da, db)
	}

	a := corpAccount("analysts")
	f := w.authorize(t, "app@B", map[string]any{"login_hint": a.email})
	b, cb := w.signIn(t, f, nav{login: a, route: w.finishOnB})
	// Which replica served each step: authorize and login on A, the
	// upstream callback and the continuation on B.
	served := map[string]string{}
	for _, h := range b.hops {
		if !h.broker {
			continue
		}
		u, _ := url.Parse(h.url)
		served[u.Path] = u.Host
	}
	a1, b1 := hostOf(w.a.base), hostOf(w.b.base)
	if served["/oauth2/authorize"] != a1 || served["/login"] != a1 || served["/sso/oidc/"+w.corp.Conn+"/callback"] != b1 ||
		served["/oauth2/authorize/continue"] != b1 {
		t.Fatalf("steps served by %v; want authorize and login on A (%s), callback and continue on B (%s)\n%s", served, a1, b1, b.trace())
	}
	if !strings.Contains(w.replicaLog(w.b), "authorization code issued after sign-in") {
		t.Fatal("replica B did not log the code it issued")
	}

	// The code is redeemed on B (the relying party app@B reaches the issuer
	// through B), and the tokens verify with either replica's keys.
	ts := w.exchange(t, f, cb)
	sub := ts.claim("sub")
	for _, jwks := range []string{w.jwksA, w.jwksB} {
		at := w.verifyAccessToken(t, jwks, ts.Tokens.AccessToken, w.app.ID)
		if at.Sub != sub || at.Org.Role != "platform_member" || at.workspaceRole("research") != "member" {
			t.Fatalf("access token claims %+v: want the default platform_member and member of research (group analysts)", at)
		}
	}

	// What B issued, A honours: refresh and userinfo on A.
	var rt tokenSet
	w.rp.must(t, &rt, "refresh", map[string]any{"rp": "app@A", "refresh_token": ts.Tokens.RefreshToken})
	var ui struct {
		Userinfo map[string]any `json:"userinfo"`
	}
	w.rp.must(t, &ui, "userinfo", map[string]any{"rp": "app@A", "access_token": rt.Tokens.AccessToken, "sub": sub})
	if ui.Userinfo["email"] != a.email {
		t.Fatalf("userinfo on A: %v", ui.Userinfo)
	}
	// The session B created signs the browser in on A: a second application
	// gets its code at once, without a login.
	spa := w.authorize(t, "spa@A", map[string]any{"prompt": "none"})
	cb, p := w.navigate(b, spa.URL, nav{})
	if cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("prompt=none on A with B's session: %v (page %d %s)", cb, p.status, p.body)
	}
	if st := w.exchange(t, spa, cb); st.claim("sub") != sub || st.claim("sid") != ts.claim("sid") {
		t.Fatalf("the public client's ID token %v: want the same user and session", st.Claims)
	}

	// Logout on B ends the session for A too.
	var es struct {
		URL string `json:"url"`
	}
	w.rp.must(t, &es, "end_session_url", map[string]any{"rp": "app@B", "params": map[string]any{
		"id_token_hint": ts.Tokens.IDToken, "post_logout_redirect_uri": w.logoutURI}})
	if p := w.throughUpstreamLogout(t, b, b.get(onReplica(es.URL, w.b), true)); !p.redirect() || p.header.Get("Location") != w.logoutURI {
		t.Fatalf("logout on B: %d %q", p.status, p.header.Get("Location"))
	}
	again := w.authorize(t, "app@A", map[string]any{"prompt": "none"})
	if cb, _ := w.navigate(b, again.URL, nav{}); cb == nil || cb.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none on A after logout on B: %v, want login_required", cb)
	}
}

func fetchJSON(t *testing.T, u string) any {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return v
}

func (w *world) wrongState(t *testing.T) {
	a := corpAccount()
	f := w.authorize(t, "app@A", map[string]any{"login_hint": a.email})
	_, cb := w.signIn(t, f, nav{login: a})
	w.rp.refused(t, "callback", map[string]any{"rp": f.rp, "flow": f.Flow, "url": cb.String(), "expected_state": "not-the-state-we-sent"},
		`unexpected "state" response parameter value`)
}

func (w *world) nonceMismatch(t *testing.T) {
	a := corpAccount()
	f := w.authorize(t, "app@A", map[string]any{"login_hint": a.email})
	_, cb := w.signIn(t, f, nav{login: a})
	w.rp.refused(t, "callback", map[string]any{"rp": f.rp, "flow": f.Flow, "url": cb.String(), "expected_nonce": "not-the-nonce-we-sent"},
		`unexpected ID Token "nonce" claim value`)
}

func (w *world) replayedCode(t *testing.T) {
	a := corpAccount()
	f := w.authorize(t, "app@B", map[string]any{"login_hint": a.email})
	_, cb := w.signIn(t, f, nav{login: a, route: w.finishOnB})
	first := w.exchange(t, f, cb)
	w.rp.must(t, nil, "userinfo", map[string]any{"rp": "app@A", "access_token": first.Tokens.AccessToken, "sub": first.claim("sub")})
	// The replay goes to A: the code's single use holds across replicas.
	w.rp.refused(t, "callback", map[string]any{"rp": "app@A", "flow": f.Flow, "url": cb.String()}, "invalid_grant")
	w.rp.refused(t, "refresh", map[string]any{"rp": "app@A", "refresh_token": first.Tokens.RefreshToken}, "invalid_grant")
	w.rp.refused(t, "userinfo", map[string]any{"rp": "app@B", "access_token": first.Tokens.AccessToken, "sub": first.claim("sub")},
		"WWW-Authenticate", `"error":"invalid_token"`)
}

func (w *world) refreshReused(t *testing.T) {
	_, _, ts := w.login(t, "app@A", corpAccount(), nil)
	// Two rotations, alternating replicas: a rotated token works once.
	var r1, r2 tokenSet
	w.rp.must(t, &r1, "refresh", map[string]any{"rp": "app@B", "refresh_token": ts.Tokens.RefreshToken})
	w.rp.must(t, &r2, "refresh", map[string]any{"rp": "app@A", "refresh_token": r1.Tokens.RefreshToken})
	// r1 used again: refused, and the family — r2, the live one — ends.
	w.rp.refused(t, "refresh", map[string]any{"rp": "app@A", "refresh_token": r1.Tokens.RefreshToken}, "invalid_grant")
	w.rp.refused(t, "refresh", map[string]any{"rp": "app@B", "refresh_token": r2.Tokens.RefreshToken}, "invalid_grant")
	w.rp.refused(t, "refresh", map[string]any{"rp": "app@B", "refresh_token": ts.Tokens.RefreshToken}, "invalid_grant")
}

// refusedLogin runs a login that the broker must refuse at the upstream
// callback (served by B) and returns the page it showed.
func (w *world) refusedLogin(t *testing.T, a account, edit func(*url.URL)) page {
	t.Helper()
	f := w.authorize(t, "app@A", map[string]any{"login_hint": a.email})
	b := newBrowser(t)
	cb, p := w.navigate(b, f.URL, nav{login: a, route: w.finishOnB, edit: edit})
	if cb != nil {
		t.Fatalf("the relying party got %s; the login should have stopped at the broker\n%s", cb, b.trace())
	}
	if !strings.Contains(p.url.Path, "/sso/oidc/") || p.url.Host != hostOf(w.b.base) {
		t.Fatalf("the login stopped at %d %s, not at the callback on B\n%s", p.status, p.url, b.trace())
	}
	if c := sessionCookie(p); c != "" {
		t.Fatal("a refused login set a session cookie")
	}
	return p
}

func sessionCookie(p page) string {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "sessionToken" {
			return c.Value
		}
	}
	return ""
}

func (w *world) idTokenFromAnotherIssuer(t *testing.T) {
	r := rnd()
	a := account{id: "mal-" + r, email: "mal-" + r + "@mixup.test", name: "Mal"}
	p := w.refusedLogin(t, a, func(u *url.URL) {
		// The second IdP adds its own iss to the callback; the front does
		// not announce RFC 9207, so without it the broker goes on to
		// redeem the code and read the ID token.
		if strings.HasPrefix(u.Path, "/sso/oidc/") {
			q := u.Query()
			q.Del("iss")
			u.RawQuery = q.Encode()
		}
	})
	if p.status != http.StatusBadRequest || !strings.Contains(p.text(), "could not be accepted") {
		t.Fatalf("page %d:\n%s", p.status, p.body)
	}
	if !strings.Contains(w.replicaLog(w.b), `ID token from another issuer \"`+w.mixIdP.Issuer) {
		t.Fatalf("replica B did not refuse the ID token for its issuer; log:\n%s", w.replicaLog(w.b))
	}
	if m, ok := w.memberByEmail(t, w.mix, a.email); ok {
		t.Fatalf("a user was created: %+v", m)
	}
}

func (w *world) upstreamResponseFromAnotherIssuer(t *testing.T) {
	a := corpAccount()
	p := w.refusedLogin(t, a, func(u *url.URL) {
		if strings.HasPrefix(u.Path, "/sso/oidc/") {
			q := u.Query()
			q.Set("iss", w.mixIdP.Issuer)
			u.RawQuery = q.Encode()
		}
	})
	if p.status != http.StatusBadRequest || !strings.Contains(p.text(), "could not be accepted") {
		t.Fatalf("page %d:\n%s", p.status, p.body)
	}
	if !strings.Contains(w.replicaLog(w.b), `authorization response from issuer \"`+w.mixIdP.Issuer) {
		t.Fatalf("replica B did not refuse the response for its iss; log:\n%s", w.replicaLog(w.b))
	}
	if m, ok := w.memberByEmail(t, w.corp, a.email); ok {
		t.Fatalf("a user was created: %+v", m)
	}
}

func (w *world) rpResponseFromAnotherIssuer(t *testing.T) {
	a := corpAccount()
	f := w.authorize(t, "app@A", map[string]any{"login_hint": a.email})
	_, cb := w.signIn(t, f, nav{login: a})
	q := cb.Query()
	q.Set("iss", w.corpIdP.Issuer)
	cb.RawQuery = q.Encode()
	w.rp.refused(t, "callback", map[string]any{"rp": f.rp, "flow": f.Flow, "url": cb.String()},
		`unexpected "iss" (issuer) response parameter value`)
}

func (w *world) unverifiedEmail(t *testing.T) {
	a := corpAccount("ml-team")
	a.verified = "false"
	p := w.refusedLogin(t, a, nil)
	if p.status != http.StatusForbidden || !strings.Contains(p.text(), "Email address not verified") {
		t.Fatalf("page %d:\n%s", p.status, p.body)
	}
	if m, ok := w.memberByEmail(t, w.corp, a.email); ok {
		t.Fatalf("a user was created: %+v", m)
	}
}

func (w *world) unregisteredRedirect(t *testing.T) {
	f := w.authorize(t, "app@A", map[string]any{"redirect_uri": rpOrigin + "/not-registered", "login_hint": corpAccount().email})
	b := newBrowser(t)
	cb, p := w.navigate(b, f.URL, nav{})
	if cb != nil || p.status != http.StatusBadRequest || p.header.Get("Location") != "" || len(b.hops) != 1 ||
		!strings.Contains(p.text(), "redirect_uri is not registered") {
		t.Fatalf("unregistered redirect URI: %v, page %d %q:\n%s", cb, p.status, p.header.Get("Location"), p.body)
	}
}

// roundTrip times whole logins through the two replicas (begun on A,
// finished on B): first logins (JIT creates the user) and returning users,
// each in a fresh browser. A round trip runs from the relying party
// building its authorization URL to openid-client holding validated
// tokens. The broker's share is the browser's hops to the replicas plus
// the code exchange as openid-client timed it, less the time the IdP spent
// answering the broker's back-channel requests (token, userinfo) during
// the callback; the upstream's share is the browser's hops to the IdP plus
// those answers. What is left is the harness (the relying party's process,
// the JSON lines between it and the test).
func (w *world) roundTrip(t *testing.T) {
	const n = 30
	accounts := make([]account, n)
	for i := range accounts {
		accounts[i] = corpAccount("ml-team")
	}
	steps := []string{"whole round trip", "broker share", "upstream IdP share",
		"  authorize (A)", "  login, home-realm discovery (A)", "  upstream callback, JIT, session (B)",
		"  continue, code (B)", "  code exchange, ID token checked (B)"}
	var out strings.Builder
	for _, kind := range []string{"first login", "returning user"} {
		d := map[string][]time.Duration{}
		for _, a := range accounts {
			before := w.corpIdP.Stats(t)
			start := time.Now()
			f := w.authorize(t, "app@B", map[string]any{"login_hint": a.email})
			b, cb := w.signIn(t, f, nav{login: a, route: w.finishOnB})
			ts := w.exchange(t, f, cb)
			took := time.Since(start)
			back := time.Duration((w.corpIdP.Stats(t).BackchannelMS - before.BackchannelMS) * float64(time.Millisecond))
			exchange := time.Duration(ts.MS * float64(time.Millisecond))
			d[steps[0]] = append(d[steps[0]], took)
			d[steps[1]] = append(d[steps[1]], b.brokerTime()+exchange-back)
			d[steps[2]] = append(d[steps[2]], b.upstreamTime()+back)
			for _, h := range b.hops {
				u, _ := url.Parse(h.url)
				switch {
				case !h.broker:
				case u.Path == "/oauth2/authorize":
					d[steps[3]] = append(d[steps[3]], h.took)
				case u.Path == "/login":
					d[steps[4]] = append(d[steps[4]], h.took)
				case strings.HasPrefix(u.Path, "/sso/oidc/"):
					d[steps[5]] = append(d[steps[5]], h.took-back)
				case u.Path == "/oauth2/authorize/continue":
					d[steps[6]] = append(d[steps[6]], h.took)
				}
			}
			d[steps[7]] = append(d[steps[7]], exchange)
		}
		out.WriteString(kind + " (" + strconv.Itoa(n) + " logins)          p50        p99\n")
		for _, st := range steps {
			p50, p99 := percentiles(d[st])
			out.WriteString(fmt.Sprintf("  %-40s %9s  %9s\n", st, p50, p99))
		}
	}
	out.WriteString("broker share = hops to the replicas + code exchange − the IdP's own time on the back channel\n")
	t.Logf("logins begun on replica A, finished on replica B (of 30 samples, p99 is the largest):\n%s", out.String())
	_, _ = io.WriteString(w.logFile(t, "round-trip"), out.String())
}

// percentiles returns p50 and p99 (nearest rank).
func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))].Round(10 * time.Microsecond)
	}
	return rank(0.50), rank(0.99)
}

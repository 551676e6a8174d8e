//go:build unix

package e2e

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ssobroker/ssobroker/e2e/peers"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

// samlWorld is one deployment (two replicas) with two SAML connections,
// each to an independent IdP: SimpleSAMLphp and a pysaml2 IdP.
type samlWorld struct {
	*world
	orgs map[string]*samlOrg // by IdP kind
}

type samlOrg struct {
	org
	idp       *peers.SAMLIdP
	user      peers.SAMLUser
	workspace string
	spEntity  string
}

// TestSAMLSignIn drives SP-initiated logins from npm openid-client through
// the broker's home-realm discovery to SimpleSAMLphp and to a pysaml2 IdP and
// back to the broker's ACS (on the other replica), and checks that the
// access token (verified by npm jose) carries the roles the IdP's groups
// map to; then the ways a SAML login must fail, each leaving no user.
func TestSAMLSignIn(t *testing.T) {
	peers.RequireSimpleSAMLphp(t)
	peers.RequirePySAML2(t)
	w := newSAMLWorld(t, startCluster(t))
	w.addSAMLOrg(t, w.startSimpleSAMLphp(t), "SSP Corp", "ssp-corp.test")
	py := peers.StartPySAML2(t, peers.SAMLIdPOptions{Log: w.logFile(t, "pysaml2"), Users: []peers.SAMLUser{{
		Username: "ada", Password: "ada-pw-2", Email: "ada@py-corp.test", GivenName: "Ada", Surname: "Lovelace",
		Groups: []string{"ml-admins"}}}})
	w.addSAMLOrg(t, py, "Py Corp", "py-corp.test")

	for _, kind := range []string{"simplesamlphp", "pysaml2"} {
		o := w.orgs[kind]
		t.Run(kind+": SP-initiated login, begun on A, ACS on B, ends with our JWT carrying the mapped roles", func(t *testing.T) { w.fullLogin(t, o) })
	}
	t.Run("simplesamlphp: HTTP-POST binding and an encrypted assertion", func(t *testing.T) { w.postBindingEncrypted(t, w.orgs["simplesamlphp"]) })
	for _, kind := range []string{"pysaml2", "simplesamlphp"} {
		t.Run(kind+": a Response signed as a whole (assertion unsigned) signs in, unless the connection wants signed assertions", func(t *testing.T) { w.responseSignedOnly(t, w.orgs[kind]) })
	}
	t.Run("a captured SAMLResponse replayed on the other replica is refused", func(t *testing.T) { w.replayAcrossReplicas(t, w.orgs["pysaml2"]) })
	t.Run("IdP-initiated login is refused unless the connection opts in", func(t *testing.T) { w.idpInitiated(t, w.orgs["simplesamlphp"]) })
	t.Run("forged responses to the live ACS create no user", func(t *testing.T) { w.forged(t, w.orgs["pysaml2"]) })
}

// newSAMLWorld sets up the relying party on cluster c: a confidential
// client registered from the CLI, discovered by openid-client ("app@A").
func newSAMLWorld(t *testing.T, c *cluster) *samlWorld {
	t.Helper()
	w := &samlWorld{world: &world{cluster: c, redirectURI: rpOrigin + "/cb", logoutURI: rpOrigin + "/signed-out"}, orgs: map[string]*samlOrg{}}
	w.rp = startRP(t, c)
	var out struct {
		Client struct {
			ID string `json:"id"`
		} `json:"client"`
		Secret string `json:"client_secret"`
	}
	c.cli(t, &out, "admin", "client", "create", "--name", "app", "--redirect-uri", w.redirectURI)
	w.app = registeredClient{ID: out.Client.ID, Secret: out.Secret}
	w.rp.must(t, nil, "discover", map[string]any{"rp": "app@A", "issuer": c.issuer, "client_id": w.app.ID, "client_secret": w.app.Secret})
	w.jwksA = c.issuer + "/.well-known/jwks.json"
	return w
}

// startSimpleSAMLphp starts SimpleSAMLphp with grace (groups staff and
// research-team).
func (w *samlWorld) startSimpleSAMLphp(t *testing.T) *peers.SAMLIdP {
	t.Helper()
	return peers.StartSimpleSAMLphp(t, peers.SAMLIdPOptions{Log: w.logFile(t, "simplesamlphp"), Users: []peers.SAMLUser{{
		Username: "grace", Password: "grace-pw-1", Email: "grace@ssp-corp.test", GivenName: "Grace", Surname: "Hopper",
		Groups: []string{"staff", "research-team"}}}})
}

// addSAMLOrg creates an org whose SAML connection is configured from the
// IdP's metadata URL through the admin API, registers the broker's SP
// metadata (as the broker serves it) at the IdP, verifies the domain and
// turns on automatic JIT.
func (w *samlWorld) addSAMLOrg(t *testing.T, p *peers.SAMLIdP, name, domain string) {
	t.Helper()
	o := &samlOrg{org: w.newOrg(t, name, domain), idp: p, workspace: "research-" + rnd()}
	o.a.must(t, http.StatusCreated, "POST", o.path("/workspaces"), map[string]any{"name": o.workspace}, nil)
	var conn struct {
		ID   string `json:"id"`
		SAML struct {
			SPEntityID    string `json:"sp_entity_id"`
			SPMetadataURL string `json:"sp_metadata_url"`
			ACSURL        string `json:"acs_url"`
		} `json:"saml"`
	}
	o.a.must(t, http.StatusCreated, "POST", o.path("/connections"), map[string]any{
		"type": "saml", "name": name + " SAML",
		"saml":             map[string]any{"metadata_url": p.MetadataURL, "name_id_format": "email"},
		"group_roles":      map[string]string{"ml-admins": "admin", "staff": "opik_member"},
		"group_workspaces": map[string]map[string]string{"research-team": {o.workspace: "owner"}},
	}, &conn)
	o.Conn, o.spEntity = conn.ID, conn.SAML.SPEntityID
	if conn.SAML.ACSURL != w.issuer+"/sso/saml/"+conn.ID+"/acs" || conn.SAML.SPMetadataURL != o.spEntity {
		t.Fatalf("connection %+v", conn)
	}
	// The IdP's admin downloads our metadata (from replica B: both serve it).
	p.AddSP(t, w.fetch(t, onReplica(conn.SAML.SPMetadataURL, w.b)), peers.SPOptions{RequireSignedRequests: true})
	w.verifyDomain(t, o.org)
	w.autoJIT(t, o.org)
	if p.Kind == "simplesamlphp" {
		o.user = peers.SAMLUser{Username: "grace", Password: "grace-pw-1", Email: "grace@ssp-corp.test"}
	} else {
		o.user = peers.SAMLUser{Username: "ada", Password: "ada-pw-2", Email: "ada@py-corp.test"}
	}
	w.orgs[p.Kind] = o
}

func (w *samlWorld) fetch(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("GET %s: %d %s\n%s", u, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return string(b)
}

// post submits form to u.
func (b *browser) post(u string, form url.Values, broker bool) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	start := time.Now()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	b.hops = append(b.hops, hop{url: "POST " + u, status: resp.StatusCode, took: time.Since(start), broker: broker})
	return page{url: req.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
}

var (
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// autoPost reads the broker's self-posting page: its target and fields.
func autoPost(p page) (string, url.Values, bool) {
	m := formAction.FindStringSubmatch(p.body)
	if m == nil {
		return "", nil, false
	}
	fields := url.Values{}
	for _, in := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		fields.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), fields, true
}

// toIdP follows the browser from the authorization request through the
// broker until it is sent to the IdP, and returns that first request to
// the IdP (a GET for the redirect binding, a POST for the POST binding).
func (w *samlWorld) toIdP(t *testing.T, b *browser, start string) *http.Request {
	t.Helper()
	next := start
	for range 10 {
		p := b.get(next, true)
		switch {
		case p.redirect() && p.location() != nil && w.isBroker(p.location()):
			next = p.location().String()
		case p.redirect() && p.location() != nil:
			req, _ := http.NewRequest(http.MethodGet, p.location().String(), nil)
			return req
		default:
			action, fields, ok := autoPost(p)
			if !ok {
				t.Fatalf("the login stopped at %d %s:\n%s\nhops:\n%s", p.status, p.url, p.body, b.trace())
			}
			req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(fields.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}
	}
	t.Fatalf("too many redirects:\n%s", b.trace())
	return nil
}

// samlLogin signs o's user in for the relying party: authorize on A, the
// IdP, the ACS on B, and the rest on B. It returns the browser, the flow
// and the SAMLResponse form the IdP posted.
func (w *samlWorld) samlLogin(t *testing.T, o *samlOrg) (*browser, flow, *url.URL, peers.SAMLPost) {
	t.Helper()
	f := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
	b := newBrowser(t)
	post, err := o.idp.Login(b.c, w.toIdP(t, b, f.URL), o.user.Username, o.user.Password)
	if err != nil {
		t.Fatalf("%s login: %v\nhops:\n%s", o.idp.Kind, err, b.trace())
	}
	acs, _ := url.Parse(post.Action)
	if acs.String() != w.issuer+"/sso/saml/"+o.Conn+"/acs" {
		t.Fatalf("the IdP posts to %s", acs)
	}
	acs.Host = hostOf(w.b.base)
	p := b.post(acs.String(), post.Fields, true)
	if !p.redirect() {
		t.Fatalf("ACS answered %d:\n%s\nhops:\n%s\nlog B:\n%s", p.status, p.body, b.trace(), w.replicaLog(w.b))
	}
	cb, last := w.navigate(b, p.location().String(), nav{route: w.finishOnB})
	if cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("no code for the relying party: %d %s\n%s\nhops:\n%s", last.status, last.url, last.body, b.trace())
	}
	return b, f, cb, post
}

func (w *samlWorld) fullLogin(t *testing.T, o *samlOrg) {
	// The IdP refuses unsigned requests (RequireSignedRequests): ours are signed.
	_, f, cb, _ := w.samlLogin(t, o)
	ts := w.exchange(t, f, cb)
	sub := ts.claim("sub")
	if !strings.HasPrefix(sub, "usr_") || ts.claim("email") != o.user.Email || ts.claim("email_verified") != "true" {
		t.Fatalf("ID token claims %v", ts.Claims)
	}
	at := w.verifyAccessToken(t, w.jwksA, ts.Tokens.AccessToken, w.app.ID)
	switch o.idp.Kind {
	case "simplesamlphp": // groups staff, research-team
		if at.Org.ID != o.ID || at.Org.Role != "opik_member" || at.workspaceRole(o.workspace) != "owner" {
			t.Fatalf("access token %+v: want opik_member (staff) and owner of %s (research-team)", at, o.workspace)
		}
	default: // group ml-admins
		if at.Org.ID != o.ID || at.Org.Role != "admin" {
			t.Fatalf("access token %+v: want admin (ml-admins)", at)
		}
	}
	if m, ok := w.memberByEmail(t, o.org, o.user.Email); !ok || m.PrincipalID != sub || m.Role != at.Org.Role {
		t.Fatalf("member %+v (found %v)", m, ok)
	}
	// The AMR says how the user signed in.
	if !strings.Contains(w.replicaLog(w.b), "amr=[saml]") {
		t.Fatalf("replica B did not log a SAML session")
	}
}

func (w *samlWorld) postBindingEncrypted(t *testing.T, o *samlOrg) {
	o.b.must(t, http.StatusOK, "PATCH", o.path("/connections/"+o.Conn), map[string]any{"saml": map[string]any{
		"metadata_url": o.idp.MetadataURL, "name_id_format": "email", "request_binding": "post"}}, nil)
	o.idp.AddSP(t, w.fetch(t, o.spEntity), peers.SPOptions{EncryptAssertions: true, RequireSignedRequests: true})
	defer o.idp.AddSP(t, w.fetch(t, o.spEntity), peers.SPOptions{RequireSignedRequests: true})
	defer o.b.must(t, http.StatusOK, "PATCH", o.path("/connections/"+o.Conn), map[string]any{"saml": map[string]any{
		"metadata_url": o.idp.MetadataURL, "name_id_format": "email"}}, nil)

	_, f, cb, post := w.samlLogin(t, o)
	raw, _ := base64.StdEncoding.DecodeString(post.Fields.Get("SAMLResponse"))
	if !bytes.Contains(raw, []byte("EncryptedAssertion")) {
		t.Fatalf("the IdP did not encrypt the assertion")
	}
	ts := w.exchange(t, f, cb)
	if ts.claim("email") != o.user.Email {
		t.Fatalf("ID token %v", ts.Claims)
	}
}

// responseSignedOnly has the IdP sign only the Response (sign_assertion off,
// as Entra ID's "Sign SAML response"): the login succeeds by default; with
// want_assertions_signed on the connection the same kind of response is
// refused, and our SP metadata then says WantAssertionsSigned.
func (w *samlWorld) responseSignedOnly(t *testing.T, o *samlOrg) {
	settings := func(want bool) map[string]any {
		return map[string]any{"saml": map[string]any{"metadata_url": o.idp.MetadataURL, "name_id_format": "email", "want_assertions_signed": want}}
	}
	o.idp.AddSP(t, w.fetch(t, o.spEntity), peers.SPOptions{RequireSignedRequests: true, SignResponseOnly: true})
	defer o.idp.AddSP(t, w.fetch(t, o.spEntity), peers.SPOptions{RequireSignedRequests: true})
	if strings.Contains(w.fetch(t, o.spEntity), "WantAssertionsSigned") {
		t.Fatalf("our SP metadata says WantAssertionsSigned by default")
	}

	_, f, cb, post := w.samlLogin(t, o)
	raw, _ := base64.StdEncoding.DecodeString(post.Fields.Get("SAMLResponse"))
	d := etree.NewDocument()
	if err := d.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	a := d.Root().SelectElement("Assertion")
	if d.Root().SelectElement("Signature") == nil || a == nil || a.SelectElement("Signature") != nil {
		t.Fatalf("the %s IdP did not sign the Response alone:\n%s", o.idp.Kind, raw)
	}
	ts := w.exchange(t, f, cb)
	if ts.claim("email") != o.user.Email {
		t.Fatalf("ID token %v", ts.Claims)
	}

	// The connection now wants signed assertions.
	o.b.must(t, http.StatusOK, "PATCH", o.path("/connections/"+o.Conn), settings(true), nil)
	defer o.b.must(t, http.StatusOK, "PATCH", o.path("/connections/"+o.Conn), settings(false), nil)
	if md := w.fetch(t, onReplica(o.spEntity, w.b)); !strings.Contains(md, `WantAssertionsSigned="true"`) {
		t.Fatalf("our SP metadata does not say WantAssertionsSigned:\n%s", md)
	}
	fl := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
	b := newBrowser(t)
	post, err := o.idp.Login(b.c, w.toIdP(t, b, fl.URL), o.user.Username, o.user.Password)
	if err != nil {
		t.Fatalf("%s login: %v\nhops:\n%s", o.idp.Kind, err, b.trace())
	}
	p := b.post(onReplica(post.Action, w.b), post.Fields, true)
	if p.status < 400 || sessionCookie(p) != "" || !strings.Contains(p.text(), "Reference for your administrator") {
		t.Fatalf("a response-only signature with want_assertions_signed answered %d:\n%s", p.status, p.body)
	}
	if !strings.Contains(w.replicaLog(w.b), "wants signed assertions") {
		t.Fatalf("replica B did not log why; log:\n%s", w.replicaLog(w.b))
	}
}

func (w *samlWorld) replayAcrossReplicas(t *testing.T, o *samlOrg) {
	_, _, _, post := w.samlLogin(t, o) // accepted on B
	// An attacker who captured the form posts it to A from another browser,
	// then from the same one: refused both times, no session.
	for _, b := range []*browser{newBrowser(t)} {
		p := b.post(w.a.base+"/sso/saml/"+o.Conn+"/acs", post.Fields, true)
		if p.status == http.StatusOK { // the same-site bounce: follow it, as a browser would
			action, fields, ok := autoPost(p)
			if !ok {
				t.Fatalf("replay answered 200 without a form:\n%s", p.body)
			}
			p = b.post(w.a.base+action, fields, true)
		}
		if p.status < 400 || sessionCookie(p) != "" {
			t.Fatalf("replayed response answered %d with a session:\n%s", p.status, p.body)
		}
	}
	// Also a replay in the browser that started a new login: the assertion
	// ID is spent, whatever the RelayState.
	f := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
	b := newBrowser(t)
	req := w.toIdP(t, b, f.URL)
	relay := req.URL.Query().Get("RelayState")
	fields := url.Values{"SAMLResponse": post.Fields["SAMLResponse"], "RelayState": {relay}}
	p := b.post(w.a.base+"/sso/saml/"+o.Conn+"/acs", fields, true)
	if p.status < 400 || sessionCookie(p) != "" {
		t.Fatalf("a replayed assertion under a fresh RelayState answered %d:\n%s", p.status, p.body)
	}
	if !strings.Contains(w.replicaLog(w.a), "InResponseTo") {
		t.Fatalf("replica A did not log the InResponseTo mismatch; log:\n%s", w.replicaLog(w.a))
	}
}

func (w *samlWorld) idpInitiated(t *testing.T, o *samlOrg) {
	b := newBrowser(t)
	post, err := o.idp.IdPInitiated(b.c, o.spEntity, "", o.user.Username, o.user.Password)
	if err != nil {
		t.Fatal(err)
	}
	p := b.post(post.Action, post.Fields, true)
	if p.status != http.StatusBadRequest || sessionCookie(p) != "" || !strings.Contains(p.text(), "must start here") {
		t.Fatalf("IdP-initiated with the option off: %d\n%s", p.status, p.body)
	}
	// Opt in, with a landing page.
	o.a.must(t, http.StatusOK, "PATCH", o.path("/connections/"+o.Conn), map[string]any{"saml": map[string]any{
		"metadata_url": o.idp.MetadataURL, "name_id_format": "email", "allow_idp_initiated": true, "idp_initiated_target": "/login/done"}}, nil)
	defer o.a.must(t, http.StatusOK, "PATCH", o.path("/connections/"+o.Conn), map[string]any{"saml": map[string]any{
		"metadata_url": o.idp.MetadataURL, "name_id_format": "email"}}, nil)
	b = newBrowser(t)
	post, err = o.idp.IdPInitiated(b.c, o.spEntity, "", o.user.Username, o.user.Password)
	if err != nil {
		t.Fatal(err)
	}
	p = b.post(onReplica(post.Action, w.b), post.Fields, true)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login/done" || sessionCookie(p) == "" {
		t.Fatalf("IdP-initiated with the option on: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	// The same unsolicited response again, on replica A: nothing but the
	// shared replay cache (Redis) stands in its way.
	p = newBrowser(t).post(post.Action, post.Fields, true)
	if p.status < 400 || sessionCookie(p) != "" {
		t.Fatalf("an IdP-initiated response replayed on A: %d", p.status)
	}
	if !strings.Contains(w.replicaLog(w.a), "was already used (replay)") {
		t.Fatalf("replica A did not refuse the replay through the replay cache; log:\n%s", w.replicaLog(w.a))
	}
}

// forged posts responses forged with the IdP's own key (and an attacker's)
// to the live ACS, each answering the AuthnRequest of a login this browser
// started: every one is refused with a generic page, and none creates a user.
func (w *samlWorld) forged(t *testing.T, o *samlOrg) {
	signer := samltest.IdPFromPEM(t, o.idp.EntityID, o.idp.CertPEM, o.idp.KeyPEM)
	before, created := len(w.members(t, o.org)), w.userCreations(t, o)
	pick := map[string]bool{}
	for _, c := range samltest.Hostile() {
		for _, want := range []string{"XSW3", "XSW7", "comment injection in NameID", "billion laughs", "neither response nor assertion signed",
			"two assertions: unsigned evil assertion first", "unknown key with the IdP's certificate", "SHA-1 signature and digest",
			"wrong Audience", "no bearer SubjectConfirmation"} {
			if strings.Contains(c.Name, want) && !pick[want] {
				pick[want] = true
				t.Run(c.Name, func(t *testing.T) {
					f := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
					b := newBrowser(t)
					req := w.toIdP(t, b, f.URL)
					q := req.URL.Query()
					p := samltest.Params{SPEntityID: o.spEntity, ACSURL: w.issuer + "/sso/saml/" + o.Conn + "/acs",
						InResponseTo: requestID(t, q.Get("SAMLRequest")), NameID: "mallory@py-corp.test",
						Attributes: map[string][]string{"email": {"mallory@py-corp.test"}, "groups": {"ml-admins"}}}
					doc := c.Build(t, signer, p)
					page := b.post(onReplica(p.ACSURL, w.b), samltest.Form(doc, q.Get("RelayState")), true)
					if page.status < 400 || sessionCookie(page) != "" || !strings.Contains(page.text(), "Reference for your administrator") {
						t.Fatalf("forged response answered %d:\n%s", page.status, page.body)
					}
				})
			}
		}
	}
	if len(pick) != 10 {
		t.Fatalf("only %d of the chosen cases are in the catalogue: %v", len(pick), pick)
	}
	if after := w.members(t, o.org); len(after) != before {
		t.Fatalf("forged responses changed the members: %d → %d", before, len(after))
	}
	if n := w.userCreations(t, o); n != created {
		t.Fatalf("forged responses created %d users", n-created)
	}
	// The control: the same forging, untampered, is a valid response.
	f := w.authorize(t, "app@A", map[string]any{"login_hint": o.user.Email})
	b := newBrowser(t)
	q := w.toIdP(t, b, f.URL).URL.Query()
	p := samltest.Params{SPEntityID: o.spEntity, ACSURL: w.issuer + "/sso/saml/" + o.Conn + "/acs",
		InResponseTo: requestID(t, q.Get("SAMLRequest")), NameID: "control-" + rnd() + "@py-corp.test"}
	page := b.post(onReplica(p.ACSURL, w.b), samltest.Form(signer.Response(t, p, samltest.Options{}), q.Get("RelayState")), true)
	if page.status != http.StatusSeeOther || sessionCookie(page) == "" {
		t.Fatalf("the untampered control was refused (%d): the forgeries above prove nothing\n%s\n%s", page.status, page.body, w.replicaLog(w.b))
	}
}

// userCreations counts the org's user.create audit events.
func (w *samlWorld) userCreations(t *testing.T, o *samlOrg) int {
	t.Helper()
	var list struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	o.b.must(t, http.StatusOK, "GET", o.path("/audit?action=user.create&limit=500"), nil, &list)
	return len(list.Items)
}

// requestID reads the ID of an HTTP-Redirect AuthnRequest.
func requestID(t *testing.T, encoded string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatal(err)
	}
	xml, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(xml); err != nil || d.Root() == nil {
		t.Fatalf("AuthnRequest: %v", err)
	}
	return d.Root().SelectAttrValue("ID", "")
}

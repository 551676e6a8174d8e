package idp_test

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
	"github.com/ssobroker/ssobroker/internal/certtest"
	"github.com/ssobroker/ssobroker/session"
)

// samlConn creates an enabled SAML connection of org to the test IdP, with
// an SP key pair sealed as the admin API seals it.
func (w *world) samlConn(orgID string, ip *samltest.IdP, saml map[string]any, top map[string]any) directory.Connection {
	t := w.t
	t.Helper()
	c := must[directory.Connection](t)(w.dir.CreateConnection(bg, actor, directory.Connection{OrgID: orgID, Type: directory.ConnectionSAML, Name: "Corp SAML " + rnd()}))
	key := certtest.RSAKey(t)
	der, _ := certtest.SelfSigned(t, key, x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	sealed, err := w.box.Seal(keyDER, []byte(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	section := map[string]any{"metadata_xml": ip.Metadata("https://idp.example.test/sso"), "name_id_format": "email",
		"sp_certificate": certtest.PEM(der), "sp_key_sealed": sealed}
	for k, v := range saml {
		section[k] = v
	}
	cfg := map[string]any{"saml": section}
	for k, v := range top {
		cfg[k] = v
	}
	c.Config, _ = json.Marshal(cfg)
	c.Enabled = true
	return must[directory.Connection](t)(w.dir.UpdateConnection(bg, actor, c))
}

// samlStart begins a login at /login/{org} and returns the AuthnRequest's
// ID and RelayState from the redirect to the IdP.
func (w *world) samlStart(b *browser, orgID string) (requestID, relay string) {
	t := w.t
	t.Helper()
	p := b.get(w.url("/login/" + orgID))
	wantStatus(t, p, http.StatusSeeOther)
	loc := p.location()
	if loc == nil || loc.Host != "idp.example.test" {
		t.Fatalf("not sent to the IdP: %v", loc)
	}
	raw, err := base64.StdEncoding.DecodeString(loc.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	xml, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(xml); err != nil {
		t.Fatal(err)
	}
	return d.Root().SelectAttrValue("ID", ""), loc.Query().Get("RelayState")
}

func (w *world) samlParams(c directory.Connection, requestID, email string, groups ...string) samltest.Params {
	return samltest.Params{SPEntityID: w.svc.EntityID(c), ACSURL: w.svc.CallbackURL(c), InResponseTo: requestID, NameID: email,
		Attributes: map[string][]string{"email": {email}, "displayName": {"Test User"}, "groups": groups}}
}

func TestSAMLSignInThroughTheService(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			dir, sessions := st.open(t)
			w := newWorld(t, dir, sessions, nil)
			ip := samltest.NewIdP(t, "https://idp.example.test/saml")

			t.Run("an invited user of the org's verified domain is vouched for and admitted with the invitation's role", func(t *testing.T) {
				o := w.org("Acme "+rnd(), directory.JITInviteOnly, "acme-"+rnd()+".test")
				c := w.samlConn(o.ID, ip, nil, map[string]any{"group_roles": map[string]string{"ml-admins": "admin"}})
				domains := must[[]directory.Domain](t)(w.dir.ListDomains(bg, o.ID))
				email := "ada@" + domains[0].Domain
				must[directory.Invitation](t)(w.dir.CreateInvitation(bg, actor, directory.NewInvitation{OrgID: o.ID, Email: email, Role: access.RolePlatformMember}))
				b := newBrowser(t)
				id, relay := w.samlStart(b, o.ID)
				doc := ip.Response(t, w.samlParams(c, id, email, "ml-admins"), samltest.Options{})
				p := b.post(w.svc.CallbackURL(c), samltest.Form(doc, relay))
				wantStatus(t, p, http.StatusSeeOther)
				if loc := p.location(); loc == nil || loc.Path != idp.LoginDonePath {
					t.Fatalf("landed at %v", loc)
				}
				s := w.sessionOf(b)
				m := w.member(o.ID, s.UserID)
				// An invitation's role is an admin's decision: group mappings
				// never override it (they apply to members JIT made).
				if m.Role != access.RolePlatformMember || !strings.EqualFold(m.Email, email) || strings.Join(s.AMR, ",") != "saml" {
					t.Fatalf("member %+v, session amr %v: want the invitation's platform_member, amr saml", m, s.AMR)
				}
			})

			t.Run("an email outside the org's verified domains is not vouched for: the invitation is not accepted", func(t *testing.T) {
				o := w.org("Beta "+rnd(), directory.JITInviteOnly, "beta-"+rnd()+".test")
				c := w.samlConn(o.ID, ip, nil, nil)
				email := "eve@elsewhere-" + rnd() + ".test"
				must[directory.Invitation](t)(w.dir.CreateInvitation(bg, actor, directory.NewInvitation{OrgID: o.ID, Email: email, Role: access.RoleAdmin}))
				b := newBrowser(t)
				id, relay := w.samlStart(b, o.ID)
				p := b.post(w.svc.CallbackURL(c), samltest.Form(ip.Response(t, w.samlParams(c, id, email), samltest.Options{}), relay))
				wantStatus(t, p, http.StatusForbidden, "No invitation")
				wantNoSession(t, p)
			})

			o := w.org("Gamma "+rnd(), directory.JITAuto, "gamma-"+rnd()+".test")
			c := w.samlConn(o.ID, ip, nil, nil)
			domains := must[[]directory.Domain](t)(w.dir.ListDomains(bg, o.ID))
			email := "grace@" + domains[0].Domain

			t.Run("without the binding cookie the browser re-posts to us, same-site; a browser without it is refused", func(t *testing.T) {
				b := newBrowser(t)
				id, relay := w.samlStart(b, o.ID)
				form := samltest.Form(ip.Response(t, w.samlParams(c, id, email), samltest.Options{}), relay)
				other := newBrowser(t) // has no cookie of ours
				p := other.post(w.svc.CallbackURL(c), form)
				wantStatus(t, p, http.StatusOK, "Completing your sign-in")
				csp := p.header.Get("Content-Security-Policy")
				if !strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "form-action 'self'") {
					t.Fatalf("bounce page policy %q", csp)
				}
				m := regexp.MustCompile(`name="ssb_bounce" value="1"`).FindString(p.body)
				if m == "" || !strings.Contains(p.body, `action="/sso/saml/`+c.ID+`/acs"`) {
					t.Fatalf("bounce page:\n%s", p.body)
				}
				bounced := url.Values{"SAMLResponse": form["SAMLResponse"], "RelayState": {relay}, "ssb_bounce": {"1"}}
				p = other.post(w.svc.CallbackURL(c), bounced)
				wantStatus(t, p, http.StatusBadRequest, "another browser")
				wantNoSession(t, p)
				if _, ok := w.userByEmail(o.ID, email); ok {
					t.Fatal("a refused login created a member")
				}
				// A stranger's attempt spends nothing (a state is spent only
				// after the response was verified, docs/security.md): the
				// right browser still completes its login, once.
				p = b.post(w.svc.CallbackURL(c), form)
				wantStatus(t, p, http.StatusSeeOther)
				if p.cookie(idp.SessionCookie) == nil {
					t.Fatal("the right browser got no session")
				}
				p = b.post(w.svc.CallbackURL(c), bounced)
				wantStatus(t, p, http.StatusBadRequest, "expired or was already used")
				wantNoSession(t, p)
				// The browser that started the login, re-posting through the
				// bounce page, signs in; the answer to that form is a page that
				// navigates by itself, never a redirect (the page's form-action
				// 'self' would block a redirect to the client's origin).
				id, relay = w.samlStart(b, o.ID)
				form = samltest.Form(ip.Response(t, w.samlParams(c, id, email), samltest.Options{}), relay)
				form.Set("ssb_bounce", "1")
				p = b.post(w.svc.CallbackURL(c), form)
				wantStatus(t, p, http.StatusOK, "Continue to sign in")
				if u := p.refreshURL(t); u.Path != idp.LoginDonePath || p.cookie(idp.SessionCookie) == nil {
					t.Fatalf("bounced login ends at %s, session cookie %v", u, p.cookie(idp.SessionCookie))
				}
			})

			t.Run("a RelayState issued for another connection is refused", func(t *testing.T) {
				c2 := w.samlConn(o.ID, ip, nil, nil)
				b := newBrowser(t)
				id, relay := w.samlStart(b, o.ID+"?connection="+c.ID)
				p := b.post(w.svc.CallbackURL(c2), samltest.Form(ip.Response(t, w.samlParams(c2, id, email), samltest.Options{}), relay))
				wantStatus(t, p, http.StatusBadRequest, "another sign-in method")
				wantNoSession(t, p)
				w.setEnabled(c2, false)
			})

			t.Run("a disabled connection admits nobody", func(t *testing.T) {
				b := newBrowser(t)
				id, relay := w.samlStart(b, o.ID)
				w.setEnabled(c, false)
				defer w.setEnabled(c, true)
				p := b.post(w.svc.CallbackURL(c), samltest.Form(ip.Response(t, w.samlParams(c, id, email), samltest.Options{}), relay))
				wantStatus(t, p, http.StatusForbidden, "disabled")
				wantNoSession(t, p)
			})

			t.Run("artifacts, unsolicited responses and oversized posts are refused", func(t *testing.T) {
				b := newBrowser(t)
				_, relay := w.samlStart(b, o.ID)
				p := b.post(w.svc.CallbackURL(c), url.Values{"SAMLart": {"AAQAAMh48"}, "RelayState": {relay}})
				wantStatus(t, p, http.StatusBadRequest, "could not be accepted")
				w.wantLogged("artifact binding")
				p = b.post(w.svc.CallbackURL(c), samltest.Form(ip.Response(t, w.samlParams(c, "", email), samltest.Options{}), ""))
				wantStatus(t, p, http.StatusBadRequest, "must start here")
				w.wantLogged("IdP-initiated login is off")
				p = b.post(w.svc.CallbackURL(c), url.Values{"SAMLResponse": {strings.Repeat("A", 2<<20)}})
				wantStatus(t, p, http.StatusBadRequest)
				wantNoSession(t, p)
			})

			t.Run("SP metadata is served for SAML connections only", func(t *testing.T) {
				p := newBrowser(t).get(w.svc.EntityID(c))
				wantStatus(t, p, http.StatusOK, `entityID="`+w.svc.EntityID(c)+`"`, "Signature")
				if ct := p.header.Get("Content-Type"); ct != "application/samlmetadata+xml" {
					t.Fatalf("content type %q", ct)
				}
				wantStatus(t, newBrowser(t).get(w.url("/sso/saml/conn_nope/metadata")), http.StatusNotFound)
				oidcConn := w.conn(o.ID, "OIDC")
				wantStatus(t, newBrowser(t).get(w.url("/sso/saml/"+oidcConn.c.ID+"/metadata")), http.StatusNotFound)
			})

			t.Run("IdP-initiated, opted in, lands on the configured target; its replay is refused", func(t *testing.T) {
				ci := w.samlConn(o.ID, ip, map[string]any{"allow_idp_initiated": true, "idp_initiated_target": "/login/done?from=idp"}, nil)
				doc := ip.Response(t, w.samlParams(ci, "", email), samltest.Options{})
				b := newBrowser(t)
				p := b.post(w.svc.CallbackURL(ci), samltest.Form(doc, ""))
				wantStatus(t, p, http.StatusSeeOther)
				if loc := p.location(); loc == nil || loc.RequestURI() != "/login/done?from=idp" || p.cookie(idp.SessionCookie) == nil {
					t.Fatalf("landed at %v", loc)
				}
				p = newBrowser(t).post(w.svc.CallbackURL(ci), samltest.Form(doc, ""))
				wantStatus(t, p, http.StatusBadRequest)
				wantNoSession(t, p)
				w.wantLogged("already used (replay)")
			})
		})
	}
}

// Every response of the hostile catalogue, posted to the ACS as the answer
// to this browser's own request, gets the generic page with a reference,
// a log line with that reference and the reason, no session and no user.
func TestEveryHostileSAMLResponseIsRefusedAtTheACS(t *testing.T) {
	w := newWorld(t, directorytest.SQLite(t), session.NewMemory(session.Options{}), nil)
	ip := samltest.NewIdP(t, "https://idp.example.test/saml")
	o := w.org("Hostile "+rnd(), directory.JITAuto, "hostile-"+rnd()+".test")
	c := w.samlConn(o.ID, ip, nil, nil)
	domains := must[[]directory.Domain](t)(w.dir.ListDomains(bg, o.ID))
	ref := regexp.MustCompile(`Reference for your administrator: ([0-9a-f]{12})`)
	for _, hc := range samltest.Hostile() {
		t.Run(hc.Name, func(t *testing.T) {
			email := "victim-" + rnd() + "@" + domains[0].Domain
			b := newBrowser(t)
			id, relay := w.samlStart(b, o.ID)
			p := b.post(w.svc.CallbackURL(c), samltest.Form(hc.Build(t, ip, w.samlParams(c, id, email)), relay))
			wantNoSession(t, p)
			if p.status < 400 || p.status >= 500 {
				t.Fatalf("status %d:\n%s", p.status, p.body)
			}
			m := ref.FindStringSubmatch(p.body)
			if m == nil || strings.Contains(p.body, "Signature") || strings.Contains(p.body, "saml") {
				t.Fatalf("not the generic page:\n%s", p.body)
			}
			w.wantLogged("sign-in failed", "ref="+m[1], "connection="+c.ID)
			for _, who := range []string{email, samltest.EvilNameID} {
				if _, ok := w.userByEmail(o.ID, who); ok {
					t.Fatalf("a member %s was created", who)
				}
			}
		})
	}
}

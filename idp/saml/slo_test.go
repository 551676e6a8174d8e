package saml_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

const (
	sloURL      = brokerBase + "/slo"
	idpSLO      = "https://idp.example.test/slo"
	idpSLOReply = "https://idp.example.test/slo-reply"
	sigRSASHA1  = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
)

// sloRig is a connection whose IdP metadata offers Single Logout on the
// given bindings.
type sloRig struct {
	*rig
}

func newSLORig(t *testing.T, bindings ...string) sloRig {
	t.Helper()
	r := &rig{idp: samltest.NewIdP(t, "https://idp.example.test/saml"), sp: newSPKeyPair(t), seen: map[string]bool{}}
	md := r.idp.Metadata("https://idp.example.test/sso")
	var slo strings.Builder
	for _, b := range bindings {
		slo.WriteString(`<md:SingleLogoutService Binding="` + b + `" Location="` + idpSLO + `" ResponseLocation="` + idpSLOReply + `"/>`)
	}
	md = strings.Replace(md, "<md:NameIDFormat>", slo.String()+"<md:NameIDFormat>", 1)
	raw, _ := json.Marshal(map[string]any{"metadata_xml": md, "sp_certificate": r.sp.certPEM, "sp_key_sealed": []byte("sealed:" + string(r.sp.keyDER))})
	c, err := saml.New(context.Background(), idp.FactoryInput{
		Config: idp.ConnectionConfig{SAML: raw}, CallbackURL: acsURL, EntityID: entityID, LogoutURL: sloURL,
		OpenSecret: func(sealed []byte) ([]byte, error) { return sealed[len("sealed:"):], nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.conn = c.(*saml.Connector)
	return sloRig{r}
}

// logoutMsg is a LogoutRequest (or, with inResponseTo, a LogoutResponse)
// from the IdP, before signing.
type logoutMsg struct {
	root, id, issuer, destination, inResponseTo, status string
	issued                                              time.Time
	notOnOrAfter                                        *time.Time
	sessionIndexes                                      []string
}

func (r sloRig) request() logoutMsg {
	return logoutMsg{root: "LogoutRequest", id: samltest.NewID(), issuer: r.idp.EntityID, destination: sloURL, issued: time.Now().UTC(),
		sessionIndexes: []string{"_sess-1"}}
}

func (r sloRig) response(inResponseTo string) logoutMsg {
	return logoutMsg{root: "LogoutResponse", id: samltest.NewID(), issuer: r.idp.EntityID, destination: sloURL, issued: time.Now().UTC(),
		inResponseTo: inResponseTo, status: samltest.StatusSuccess}
}

func (m logoutMsg) xml(t *testing.T) []byte {
	t.Helper()
	d := etree.NewDocument()
	el := d.CreateElement("samlp:" + m.root)
	el.CreateAttr("xmlns:samlp", samltest.NSProtocol)
	el.CreateAttr("xmlns:saml", samltest.NSAssertion)
	el.CreateAttr("ID", m.id)
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", m.issued.Format(time.RFC3339))
	el.CreateAttr("Destination", m.destination)
	if m.notOnOrAfter != nil {
		el.CreateAttr("NotOnOrAfter", m.notOnOrAfter.UTC().Format(time.RFC3339))
	}
	if m.inResponseTo != "" {
		el.CreateAttr("InResponseTo", m.inResponseTo)
	}
	el.CreateElement("saml:Issuer").SetText(m.issuer)
	if m.root == "LogoutRequest" {
		n := el.CreateElement("saml:NameID")
		n.CreateAttr("Format", samltest.NameIDFormatEmail)
		n.SetText("ada@corp.example")
		for _, si := range m.sessionIndexes {
			el.CreateElement("samlp:SessionIndex").SetText(si)
		}
	} else {
		el.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", m.status)
	}
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func field(m logoutMsg) string {
	if m.root == "LogoutRequest" {
		return "SAMLRequest"
	}
	return "SAMLResponse"
}

// redirect is m on the Redirect binding, signed in the query string
// (SAML bindings §3.4.4.1) with key and sigAlg; a nil key leaves it
// unsigned.
func redirect(t *testing.T, m logoutMsg, key *rsa.PrivateKey, sigAlg, relay string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(m.xml(t))
	_ = fw.Close()
	q := field(m) + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	if key != nil {
		q += "&SigAlg=" + url.QueryEscape(sigAlg)
		var sig []byte
		var err error
		if sigAlg == sigRSASHA1 {
			sum := sha1.Sum([]byte(q))
			sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, sum[:])
		} else {
			sum := sha256.Sum256([]byte(q))
			sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		}
		if err != nil {
			t.Fatal(err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	return httptest.NewRequest(http.MethodGet, sloURL+"?"+q, nil)
}

// post is m on the POST binding: signed by signer (xmlsec1) unless nil.
func (r sloRig) post(t *testing.T, m logoutMsg, signer *samltest.IdP) *http.Request {
	t.Helper()
	doc := m.xml(t)
	if signer != nil {
		doc = r.idp.SignMessage(t, doc, samltest.NSProtocol+":"+m.root, signer)
	}
	form := url.Values{field(m): {base64.StdEncoding.EncodeToString(doc)}, "RelayState": {"idp-relay"}}
	req := httptest.NewRequest(http.MethodPost, sloURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := req.ParseForm(); err != nil {
		t.Fatal(err)
	}
	return req
}

func (r sloRig) handleRequest(req *http.Request) (idp.SAMLLogout, error) {
	return r.conn.HandleLogoutRequest(context.Background(), req, r.firstSeen)
}

func TestIdPLogoutRequestsAreVerified(t *testing.T) {
	r := newSLORig(t, samltest.BindingRedirect, samltest.BindingPOST)
	other := samltest.NewIdP(t, r.idp.EntityID) // same name, another key: a forger

	t.Run("a signed Redirect-binding request is accepted once, with its NameID and SessionIndex", func(t *testing.T) {
		m := r.request()
		lr, err := r.handleRequest(redirect(t, m, r.idp.Key, samltest.RSASHA256, "idp-relay"))
		if err != nil {
			t.Fatal(err)
		}
		if lr.ID != m.id || lr.RelayState != "idp-relay" || len(lr.SessionIndexes) != 1 || lr.SessionIndexes[0] != "_sess-1" || !strings.Contains(lr.Key, "ada@corp.example") {
			t.Fatalf("logout %+v", lr)
		}
		_, err = r.handleRequest(redirect(t, m, r.idp.Key, samltest.RSASHA256, "idp-relay"))
		wantRefused(t, err, "replay")
	})
	t.Run("a signed POST-binding request is accepted once", func(t *testing.T) {
		m := r.request()
		m.sessionIndexes = nil
		lr, err := r.handleRequest(r.post(t, m, r.idp))
		if err != nil {
			t.Fatal(err)
		}
		if lr.ID != m.id || len(lr.SessionIndexes) != 0 || lr.RelayState != "idp-relay" {
			t.Fatalf("logout %+v", lr)
		}
		_, err = r.handleRequest(r.post(t, m, r.idp))
		wantRefused(t, err, "replay")
	})

	past := time.Now().Add(-5 * time.Minute) // beyond the clock skew allowed
	for _, c := range []struct {
		name  string
		edit  func(*logoutMsg)
		want  string
		build func(t *testing.T, m logoutMsg) *http.Request
	}{
		{name: "Redirect, unsigned", want: "not signed", build: func(t *testing.T, m logoutMsg) *http.Request { return redirect(t, m, nil, "", "") }},
		{name: "POST, unsigned", want: "not signed", build: func(t *testing.T, m logoutMsg) *http.Request { return r.post(t, m, nil) }},
		{name: "Redirect, forged signature (another key)", want: "does not verify", build: func(t *testing.T, m logoutMsg) *http.Request {
			return redirect(t, m, other.Key, samltest.RSASHA256, "")
		}},
		{name: "POST, forged signature (another key)", want: "signature", build: func(t *testing.T, m logoutMsg) *http.Request { return r.post(t, m, other) }},
		{name: "Redirect, RSA-SHA1", want: "not allowed", build: func(t *testing.T, m logoutMsg) *http.Request {
			return redirect(t, m, r.idp.Key, sigRSASHA1, "")
		}},
		{name: "Redirect, RelayState changed after signing", want: "does not verify", build: func(t *testing.T, m logoutMsg) *http.Request {
			req := redirect(t, m, r.idp.Key, samltest.RSASHA256, "relay-a")
			req.URL.RawQuery = strings.Replace(req.URL.RawQuery, "relay-a", "relay-b", 1)
			return req
		}},
		{name: "Redirect, wrong issuer", edit: func(m *logoutMsg) { m.issuer = "https://evil.example.test/saml" }, want: "Issuer"},
		{name: "POST, wrong issuer", edit: func(m *logoutMsg) { m.issuer = "https://evil.example.test/saml" }, want: "Issuer",
			build: func(t *testing.T, m logoutMsg) *http.Request { return r.post(t, m, r.idp) }},
		{name: "Redirect, wrong destination", edit: func(m *logoutMsg) { m.destination = "https://other-sp.example.test/slo" }, want: "Destination"},
		{name: "POST, no destination", edit: func(m *logoutMsg) { m.destination = "" }, want: "Destination",
			build: func(t *testing.T, m logoutMsg) *http.Request { return r.post(t, m, r.idp) }},
		{name: "Redirect, issued 10 minutes ago", edit: func(m *logoutMsg) { m.issued = time.Now().Add(-10 * time.Minute).UTC() }, want: "expired"},
		{name: "POST, issued in an hour", edit: func(m *logoutMsg) { m.issued = time.Now().Add(time.Hour).UTC() }, want: "future",
			build: func(t *testing.T, m logoutMsg) *http.Request { return r.post(t, m, r.idp) }},
		{name: "Redirect, NotOnOrAfter passed", edit: func(m *logoutMsg) { m.notOnOrAfter = &past; m.issued = time.Now().Add(-70 * time.Second).UTC() }, want: "NotOnOrAfter"},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			m := r.request()
			if c.edit != nil {
				c.edit(&m)
			}
			build := c.build
			if build == nil {
				build = func(t *testing.T, m logoutMsg) *http.Request {
					return redirect(t, m, r.idp.Key, samltest.RSASHA256, "")
				}
			}
			_, err := r.handleRequest(build(t, m))
			wantRefused(t, err, c.want)
			// A refused request is not remembered: only signature-valid
			// requests reach the replay cache.
			r.mu.Lock()
			remembered := r.seen[r.idp.EntityID+"\x00"+m.id]
			r.mu.Unlock()
			if remembered && strings.Contains(c.name, "signature") {
				t.Fatalf("a request with a bad signature was remembered")
			}
		})
	}
}

func wantRefused(t *testing.T, err error, contains string) {
	t.Helper()
	if err == nil || !errors.Is(err, idp.ErrInvalidResponse) || !strings.Contains(err.Error(), contains) {
		t.Fatalf("got %v, want a refusal mentioning %q", err, contains)
	}
}

func TestLogoutResponsesAreVerified(t *testing.T) {
	r := newSLORig(t, samltest.BindingRedirect, samltest.BindingPOST)
	const ours = "_ours-0123456789"
	if err := r.conn.HandleLogoutResponse(context.Background(), redirect(t, r.response(ours), r.idp.Key, samltest.RSASHA256, "relay"), ours); err != nil {
		t.Fatalf("a signed Redirect-binding LogoutResponse: %v", err)
	}
	if err := r.conn.HandleLogoutResponse(context.Background(), r.post(t, r.response(ours), r.idp), ours); err != nil {
		t.Fatalf("a signed POST-binding LogoutResponse: %v", err)
	}
	err := r.conn.HandleLogoutResponse(context.Background(), redirect(t, r.response("_another"), r.idp.Key, samltest.RSASHA256, ""), ours)
	wantRefused(t, err, "not our request")
	err = r.conn.HandleLogoutResponse(context.Background(), redirect(t, r.response(ours), nil, "", ""), ours)
	wantRefused(t, err, "not signed")
	err = r.conn.HandleLogoutResponse(context.Background(), r.post(t, r.response(ours), nil), ours)
	wantRefused(t, err, "not signed")
	bad := r.response(ours)
	bad.destination = "https://other-sp.example.test/slo"
	wantRefused(t, r.conn.HandleLogoutResponse(context.Background(), redirect(t, bad, r.idp.Key, samltest.RSASHA256, ""), ours), "Destination")
	failed := r.response(ours)
	failed.status = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	var ue *idp.UpstreamError
	if err := r.conn.HandleLogoutResponse(context.Background(), redirect(t, failed, r.idp.Key, samltest.RSASHA256, ""), ours); !errors.As(err, &ue) {
		t.Fatalf("a Requester status: %v, want an *idp.UpstreamError", err)
	}
}

func TestOurLogoutMessagesAreSigned(t *testing.T) {
	sess := idp.SAMLSession{NameID: "ada@corp.example", Format: samltest.NameIDFormatEmail, SessionIndex: "_sess-1"}
	t.Run("Redirect binding: a query-string signature by the SP key", func(t *testing.T) {
		r := newSLORig(t, samltest.BindingPOST, samltest.BindingRedirect)
		req, ok, err := r.conn.LogoutRequest(context.Background(), sess, "relay-1")
		if err != nil || !ok || req.Form != nil || !strings.HasPrefix(req.URL, idpSLO+"?") {
			t.Fatalf("LogoutRequest: %+v %v %v", req, ok, err)
		}
		u, _ := url.Parse(req.URL)
		raw := u.RawQuery
		i := strings.Index(raw, "&Signature=")
		sig, _ := base64.StdEncoding.DecodeString(u.Query().Get("Signature"))
		sum := sha256.Sum256([]byte(raw[:i]))
		if err := rsa.VerifyPKCS1v15(r.sp.cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
			t.Fatalf("the query signature does not verify with our SP certificate: %v", err)
		}
		x := inflate(t, u.Query().Get("SAMLRequest"))
		for _, want := range []string{`Destination="` + idpSLO + `"`, ">ada@corp.example<", ">_sess-1<", `ID="` + req.ID + `"`, entityID} {
			if !strings.Contains(x, want) {
				t.Fatalf("LogoutRequest lacks %s:\n%s", want, x)
			}
		}
		resp, err := r.conn.LogoutResponse(context.Background(), "_their-request", idp.SAMLStatusSuccess, "their-relay")
		if err != nil || !strings.HasPrefix(resp.URL, idpSLOReply+"?") || !strings.Contains(resp.URL, "&Signature=") {
			t.Fatalf("LogoutResponse: %+v %v", resp, err)
		}
	})
	t.Run("POST binding: an enveloped signature by the SP key (xmlsec1 verifies it)", func(t *testing.T) {
		r := newSLORig(t, samltest.BindingPOST)
		req, ok, err := r.conn.LogoutRequest(context.Background(), sess, "relay-1")
		if err != nil || !ok || req.Form == nil || req.URL != idpSLO || req.Form.Get("RelayState") != "relay-1" {
			t.Fatalf("LogoutRequest: %+v %v %v", req, ok, err)
		}
		doc, _ := base64.StdEncoding.DecodeString(req.Form.Get("SAMLRequest"))
		if err := samltest.VerifyElement(t, doc, r.sp.cert, samltest.NSProtocol+":LogoutRequest"); err != nil {
			t.Fatalf("xmlsec1 does not verify our LogoutRequest: %v\n%s", err, doc)
		}
		resp, err := r.conn.LogoutResponse(context.Background(), "_their-request", idp.SAMLStatusSuccess, "")
		if err != nil || resp.URL != idpSLOReply || resp.Form == nil {
			t.Fatalf("LogoutResponse: %+v %v", resp, err)
		}
		doc, _ = base64.StdEncoding.DecodeString(resp.Form.Get("SAMLResponse"))
		if err := samltest.VerifyElement(t, doc, r.sp.cert, samltest.NSProtocol+":LogoutResponse"); err != nil {
			t.Fatalf("xmlsec1 does not verify our LogoutResponse: %v\n%s", err, doc)
		}
	})
	t.Run("an IdP without Single Logout: no request, and our metadata still offers both bindings", func(t *testing.T) {
		r := newSLORig(t)
		if _, ok, err := r.conn.LogoutRequest(context.Background(), sess, "relay-1"); ok || err != nil {
			t.Fatalf("LogoutRequest without an IdP SLO service: ok %v, err %v", ok, err)
		}
		md, _ := r.conn.Metadata(context.Background())
		for _, b := range []string{samltest.BindingRedirect, samltest.BindingPOST} {
			if !strings.Contains(string(md), `<SingleLogoutService Binding="`+b+`" Location="`+sloURL+`"`) {
				t.Fatalf("our metadata lacks SingleLogoutService %s:\n%s", b, md)
			}
		}
	})
}

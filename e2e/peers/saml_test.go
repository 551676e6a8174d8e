//go:build unix

package peers

import (
	"bytes"
	"compress/flate"
	"crypto/cipher"
	"crypto/des"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
)

// The harness's own test: each IdP works with an SP we did not write,
// github.com/crewjam/saml's ServiceProvider.

var samlTestUsers = []SAMLUser{
	{Username: "alice", Password: "wonder-land-42", UID: "alice", Email: "alice@example.com",
		GivenName: "Alice", Surname: "Liddell", Groups: []string{"staff", "wonderland", "tea party"}},
	{Username: "bob", Password: "b0b's secret: \"x\" & <y>", UID: "bob-7", Email: "bob@example.org",
		GivenName: "Bob", Surname: "Builder", Groups: []string{"builders"}},
}

const (
	xmldsigNS        = "http://www.w3.org/2000/09/xmldsig#"
	rsaSHA256        = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	sha256Digest     = "http://www.w3.org/2001/04/xmlenc#sha256"
	emailNameIDFmt   = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	basicAttrNameFmt = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
)

// TestPySAML2AsShipped: with TripleDES and GeneratedPrefixes the pysaml2 IdP
// encrypts as pysaml2 7.0 does out of the box — 3DES-CBC, and ns0/ns1
// redeclared for xmlenc/xmldsig inside the EncryptedAssertion. The response
// is still well-formed and decrypts to a signed assertion.
func TestPySAML2AsShipped(t *testing.T) {
	t.Parallel()
	idp := StartPySAML2(t, SAMLIdPOptions{Users: samlTestUsers, TripleDES: true, GeneratedPrefixes: true})
	sp := newTestSP(t, idp, "encrypted", true, false)
	idp.AddSP(t, spMetadataXML(t, sp), SPOptions{EncryptAssertions: true})
	u, err := sp.MakeRedirectAuthenticationRequest("rs-as-shipped")
	if err != nil {
		t.Fatal(err)
	}
	reqID := redirectRequestID(t, u)
	post, err := idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "wonder-land-42")
	if err != nil {
		t.Fatal(err)
	}
	raw := checkPost(t, sp, post, "rs-as-shipped")
	for _, decl := range []string{
		`xmlns:ns0="urn:oasis:names:tc:SAML:2.0:protocol"`,
		`xmlns:ns0="http://www.w3.org/2001/04/xmlenc#"`,
	} {
		if !bytes.Contains(raw, []byte(decl)) {
			t.Errorf("no %s in the response", decl)
		}
	}
	checkSignatures(t, raw, sp.Key.(*rsa.PrivateKey)) // decrypts; logs the cipher
	ed := readXML(t, raw).FindElement("//EncryptedAssertion/EncryptedData/EncryptionMethod")
	if alg := attrOf(ed, "Algorithm"); alg != tripleDESCBC {
		t.Errorf("EncryptionMethod %v, want %s", alg, tripleDESCBC)
	}
	checkInResponseTo(t, raw, reqID)
	_, err = sp.ParseXMLResponse(raw, []string{reqID}, sp.AcsURL)
	t.Logf("crewjam/saml on pysaml2's own encrypted response: %v", privateErr(err))
}

func TestSAMLIdPs(t *testing.T) {
	for _, idpKind := range []struct {
		name  string
		start func(testing.TB, SAMLIdPOptions) *SAMLIdP
	}{
		{"simplesamlphp", StartSimpleSAMLphp},
		{"pysaml2", StartPySAML2},
	} {
		t.Run(idpKind.name, func(t *testing.T) {
			t.Parallel()
			started := time.Now()
			idp := idpKind.start(t, SAMLIdPOptions{Users: samlTestUsers})
			t.Logf("%s IdP up at %s in %s", idp.Kind, idp.BaseURL, time.Since(started).Round(time.Millisecond))
			if idp.Kind != idpKind.name {
				t.Fatalf("Kind %q", idp.Kind)
			}
			checkIdPMetadata(t, idp)

			// Three SPs: plain, encrypted assertions, signed requests.
			plain := newTestSP(t, idp, "plain", false, false)
			idp.AddSP(t, spMetadataXML(t, plain), SPOptions{})
			enc := newTestSP(t, idp, "encrypted", true, false)
			idp.AddSP(t, spMetadataXML(t, enc), SPOptions{EncryptAssertions: true})
			signed := newTestSP(t, idp, "signed", true, true)
			idp.AddSP(t, spMetadataXML(t, signed), SPOptions{RequireSignedRequests: true})

			t.Run("redirect binding", func(t *testing.T) {
				u, err := plain.MakeRedirectAuthenticationRequest("rs-redirect-1")
				if err != nil {
					t.Fatal(err)
				}
				reqID := redirectRequestID(t, u)
				post, err := idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "wonder-land-42")
				if err != nil {
					t.Fatal(err)
				}
				raw := checkPost(t, plain, post, "rs-redirect-1")
				a := parseResponse(t, plain, raw, []string{reqID})
				checkAssertion(t, a, samlTestUsers[0])
				checkSignatures(t, raw, nil)
				checkInResponseTo(t, raw, reqID)
			})

			t.Run("post binding", func(t *testing.T) {
				form, err := plain.MakePostAuthenticationRequest("rs-post-1")
				if err != nil {
					t.Fatal(err)
				}
				start, reqID := postRequest(t, form)
				if start.URL.String() != idp.SSOPostURL {
					t.Errorf("POST binding goes to %s, want SSOPostURL %s", start.URL, idp.SSOPostURL)
				}
				post, err := idp.Login(newBrowser(t), start, "bob", samlTestUsers[1].Password)
				if err != nil {
					t.Fatal(err)
				}
				checkPost(t, plain, post, "rs-post-1")
				// As an SP's ACS handler would: the form, then ParseResponse.
				acs, err := http.NewRequest(http.MethodPost, post.Action, strings.NewReader(post.Fields.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				acs.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if err := acs.ParseForm(); err != nil {
					t.Fatal(err)
				}
				a, err := plain.ParseResponse(acs, []string{reqID})
				if err != nil {
					t.Fatalf("crewjam ParseResponse: %v", privateErr(err))
				}
				checkAssertion(t, a, samlTestUsers[1])
			})

			t.Run("wrong password", func(t *testing.T) {
				u, err := plain.MakeRedirectAuthenticationRequest("rs-wrong")
				if err != nil {
					t.Fatal(err)
				}
				post, err := idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "not-her-password")
				if err == nil {
					t.Fatalf("a wrong password logged in: %+v", post)
				}
				t.Logf("wrong password: %v", err)
				mentions(t, err, "incorrect username or password")
			})

			t.Run("idp-initiated", func(t *testing.T) {
				post, err := idp.IdPInitiated(newBrowser(t), plain.EntityID, "rs-idp-init", "alice", "wonder-land-42")
				if err != nil {
					t.Fatal(err)
				}
				raw := checkPost(t, plain, post, "rs-idp-init")
				checkInResponseTo(t, raw, "")
				if _, err := plain.ParseXMLResponse(raw, nil, plain.AcsURL); err == nil {
					t.Error("crewjam accepted an unsolicited response without AllowIDPInitiated")
				}
				sp := *plain
				sp.AllowIDPInitiated = true
				a := parseResponse(t, &sp, raw, nil)
				checkAssertion(t, a, samlTestUsers[0])
				checkSignatures(t, raw, nil)

				// Without RelayState.
				post, err = idp.IdPInitiated(newBrowser(t), plain.EntityID, "", "bob", samlTestUsers[1].Password)
				if err != nil {
					t.Fatal(err)
				}
				raw = checkPost(t, plain, post, "")
				checkAssertion(t, parseResponse(t, &sp, raw, nil), samlTestUsers[1])

				// An SP the IdP does not know.
				if post, err := idp.IdPInitiated(newBrowser(t), "http://127.0.0.1:9/unknown-sp", "", "alice", "wonder-land-42"); err == nil {
					t.Errorf("IdP-initiated login to an unknown SP: %+v", post)
				}
			})

			t.Run("encrypted assertion", func(t *testing.T) {
				u, err := enc.MakeRedirectAuthenticationRequest("rs-enc")
				if err != nil {
					t.Fatal(err)
				}
				reqID := redirectRequestID(t, u)
				post, err := idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "wonder-land-42")
				if err != nil {
					t.Fatal(err)
				}
				raw := checkPost(t, enc, post, "rs-enc")
				doc := readXML(t, raw)
				if n := len(childElements(doc.Root(), "Assertion")); n != 0 {
					t.Errorf("%d plaintext Assertion(s) next to the encrypted one", n)
				}
				if n := len(childElements(doc.Root(), "EncryptedAssertion")); n != 1 {
					t.Fatalf("%d EncryptedAssertion, want 1:\n%s", n, raw)
				}
				a := parseResponse(t, enc, raw, []string{reqID})
				checkAssertion(t, a, samlTestUsers[0])
				checkSignatures(t, raw, enc.Key.(*rsa.PrivateKey))

				// The plain SP (same IdP) still gets plaintext.
				u, err = plain.MakeRedirectAuthenticationRequest("rs-plain-again")
				if err != nil {
					t.Fatal(err)
				}
				post, err = idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "wonder-land-42")
				if err != nil {
					t.Fatal(err)
				}
				raw = checkPost(t, plain, post, "rs-plain-again")
				if n := len(childElements(readXML(t, raw).Root(), "Assertion")); n != 1 {
					t.Errorf("plain SP: %d plaintext Assertion, want 1", n)
				}
			})

			t.Run("signed requests", func(t *testing.T) {
				// Unsigned requests from the SP that must sign are refused,
				// over both bindings.
				unsigned := *signed
				unsigned.SignatureMethod = ""
				u, err := unsigned.MakeRedirectAuthenticationRequest("rs-unsigned")
				if err != nil {
					t.Fatal(err)
				}
				if post, err := idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "wonder-land-42"); err == nil {
					t.Errorf("an unsigned redirect request was accepted: %+v", post)
				} else {
					t.Logf("unsigned redirect request: %v", err)
					mentions(t, err, "sign")
				}
				form, err := unsigned.MakePostAuthenticationRequest("rs-unsigned-post")
				if err != nil {
					t.Fatal(err)
				}
				start, _ := postRequest(t, form)
				if post, err := idp.Login(newBrowser(t), start, "alice", "wonder-land-42"); err == nil {
					t.Errorf("an unsigned POST request was accepted: %+v", post)
				} else {
					t.Logf("unsigned POST request: %v", err)
					mentions(t, err, "sign")
				}

				// Signed by another key: refused.
				forger := *newTestSP(t, idp, "signed", true, true)
				u, err = forger.MakeRedirectAuthenticationRequest("rs-forged")
				if err != nil {
					t.Fatal(err)
				}
				if post, err := idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "wonder-land-42"); err == nil {
					t.Errorf("a redirect request signed by another key was accepted: %+v", post)
				} else {
					t.Logf("request signed by another key: %v", err)
					mentions(t, err, "signature")
				}

				// Signed: accepted, over both bindings.
				u, err = signed.MakeRedirectAuthenticationRequest("rs-signed")
				if err != nil {
					t.Fatal(err)
				}
				if q := u.Query(); q.Get("SigAlg") != rsaSHA256 || q.Get("Signature") == "" {
					t.Fatalf("crewjam did not sign the redirect request: %s", u)
				}
				reqID := redirectRequestID(t, u)
				post, err := idp.Login(newBrowser(t), getRequest(t, u.String()), "alice", "wonder-land-42")
				if err != nil {
					t.Fatal(err)
				}
				raw := checkPost(t, signed, post, "rs-signed")
				checkAssertion(t, parseResponse(t, signed, raw, []string{reqID}), samlTestUsers[0])

				form, err = signed.MakePostAuthenticationRequest("rs-signed-post")
				if err != nil {
					t.Fatal(err)
				}
				start, reqID = postRequest(t, form)
				post, err = idp.Login(newBrowser(t), start, "bob", samlTestUsers[1].Password)
				if err != nil {
					t.Fatal(err)
				}
				raw = checkPost(t, signed, post, "rs-signed-post")
				checkAssertion(t, parseResponse(t, signed, raw, []string{reqID}), samlTestUsers[1])
			})

			t.Run("login stays at the IdP", func(t *testing.T) {
				other, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9/elsewhere", nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := idp.Login(newBrowser(t), other, "alice", "wonder-land-42"); err == nil || !strings.Contains(err.Error(), "refusing to leave") {
					t.Errorf("Login went to another host: %v", err)
				}
			})
		})
	}
}

// newTestSP is a crewjam/saml SP configured from the IdP's metadata; with
// keys it has an RSA key and certificate (in its metadata for encryption),
// with sign it signs its requests with RSA-SHA256. Its ACS is not served.
func newTestSP(t *testing.T, idp *SAMLIdP, name string, keys, sign bool) *saml.ServiceProvider {
	t.Helper()
	var md saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(idp.MetadataXML(t)), &md); err != nil {
		t.Fatalf("IdP metadata: %v", err)
	}
	root, _ := url.Parse("http://127.0.0.1:9/sp-" + name)
	sp := &saml.ServiceProvider{
		EntityID:          root.String() + "/metadata",
		MetadataURL:       *root.JoinPath("metadata"),
		AcsURL:            *root.JoinPath("acs"),
		IDPMetadata:       &md,
		AuthnNameIDFormat: saml.EmailAddressNameIDFormat,
	}
	if keys {
		certPEM, keyPEM := newSAMLSigningKey(t, "crewjam test SP "+name)
		cb, _ := pem.Decode([]byte(certPEM))
		kb, _ := pem.Decode([]byte(keyPEM))
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sp.Certificate, sp.Key = cert, key.(*rsa.PrivateKey)
	}
	if sign {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	return sp
}

func spMetadataXML(t *testing.T, sp *saml.ServiceProvider) string {
	t.Helper()
	b, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func getRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// postRequest is the browser's POST of crewjam's auto-submit form, and the
// ID of the AuthnRequest in it.
func postRequest(t *testing.T, page []byte) (*http.Request, string) {
	t.Helper()
	forms := parseHTMLForms(page)
	if len(forms) != 1 || !forms[0].has("SAMLRequest") {
		t.Fatalf("crewjam's POST form: %s", page)
	}
	v := forms[0].values()
	req, err := http.NewRequest(http.MethodPost, forms[0].action, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	raw, err := base64.StdEncoding.DecodeString(v.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	return req, authnRequestID(t, raw)
}

// redirectRequestID is the ID of the AuthnRequest in an HTTP-Redirect URL.
func redirectRequestID(t *testing.T, u *url.URL) string {
	t.Helper()
	deflated, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatal(err)
	}
	return authnRequestID(t, raw)
}

func authnRequestID(t *testing.T, raw []byte) string {
	t.Helper()
	var req saml.AuthnRequest
	if err := xml.Unmarshal(raw, &req); err != nil || req.ID == "" {
		t.Fatalf("AuthnRequest %s: %v", raw, err)
	}
	return req.ID
}

// checkPost checks the IdP's form and returns the decoded SAMLResponse.
func checkPost(t *testing.T, sp *saml.ServiceProvider, post SAMLPost, relayState string) []byte {
	t.Helper()
	if post.Action != sp.AcsURL.String() {
		t.Errorf("the form posts to %q, want the ACS %q", post.Action, sp.AcsURL.String())
	}
	if got := post.Fields.Get("RelayState"); got != relayState {
		t.Errorf("RelayState %q, want %q", got, relayState)
	}
	raw, err := base64.StdEncoding.DecodeString(post.Fields.Get("SAMLResponse"))
	if err != nil || len(raw) == 0 {
		t.Fatalf("SAMLResponse %q: %v", post.Fields.Get("SAMLResponse"), err)
	}
	return raw
}

func parseResponse(t *testing.T, sp *saml.ServiceProvider, raw []byte, requestIDs []string) *saml.Assertion {
	t.Helper()
	a, err := sp.ParseXMLResponse(raw, requestIDs, sp.AcsURL)
	if err != nil {
		t.Fatalf("crewjam rejected the response: %v\n%s", privateErr(err), raw)
	}
	return a
}

// mentions: the error shows the IdP's reason.
func mentions(t *testing.T, err error, word string) {
	t.Helper()
	if !strings.Contains(strings.ToLower(err.Error()), word) {
		t.Errorf("the error does not mention %q: %v", word, err)
	}
}

func privateErr(err error) error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		return ire.PrivateErr
	}
	return err
}

// checkAssertion: NameID is the email (emailAddress format) and the
// attributes are there, in the basic name format, groups multi-valued.
func checkAssertion(t *testing.T, a *saml.Assertion, u SAMLUser) {
	t.Helper()
	if a.Subject == nil || a.Subject.NameID == nil {
		t.Fatal("no NameID")
	}
	if n := a.Subject.NameID; n.Value != u.Email || n.Format != emailNameIDFmt {
		t.Errorf("NameID %q (format %q), want %q (%s)", n.Value, n.Format, u.Email, emailNameIDFmt)
	}
	got := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.NameFormat != basicAttrNameFmt {
				t.Errorf("attribute %s: NameFormat %q, want basic", at.Name, at.NameFormat)
			}
			for _, v := range at.Values {
				got[at.Name] = append(got[at.Name], v.Value)
			}
		}
	}
	want := map[string][]string{
		"uid": {u.UID}, "email": {u.Email}, "givenName": {u.GivenName}, "sn": {u.Surname}, "groups": u.Groups,
	}
	for name, w := range want {
		g := slices.Clone(got[name])
		w = slices.Clone(w)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("attribute %s = %q, want %q (all: %q)", name, got[name], w, got)
		}
	}
}

// checkSignatures: the Response and the Assertion each carry an enveloped
// RSA-SHA256 signature with SHA-256 digests. With key the assertion is
// encrypted; it is decrypted to look at its signature.
func checkSignatures(t *testing.T, raw []byte, key *rsa.PrivateKey) {
	t.Helper()
	doc := readXML(t, raw)
	resp := doc.Root()
	if resp.Tag != "Response" {
		t.Fatalf("root <%s>, want Response", resp.Tag)
	}
	checkSignature(t, "Response", resp)
	var assertion *etree.Element
	if key == nil {
		as := childElements(resp, "Assertion")
		if len(as) != 1 {
			t.Fatalf("%d Assertion elements", len(as))
		}
		assertion = as[0]
	} else {
		assertion = decryptAssertion(t, resp, key)
	}
	checkSignature(t, "Assertion", assertion)
}

func checkSignature(t *testing.T, what string, el *etree.Element) {
	t.Helper()
	var sigs []*etree.Element
	for _, s := range childElements(el, "Signature") {
		if s.NamespaceURI() == xmldsigNS {
			sigs = append(sigs, s)
		}
	}
	if len(sigs) != 1 {
		t.Errorf("%s: %d Signature elements, want 1 (it must be signed)", what, len(sigs))
		return
	}
	si := sigs[0].FindElement("./SignedInfo")
	if si == nil {
		t.Errorf("%s: no SignedInfo", what)
		return
	}
	if m := si.FindElement("./SignatureMethod"); m == nil || m.SelectAttrValue("Algorithm", "") != rsaSHA256 {
		t.Errorf("%s: SignatureMethod %v, want %s", what, attrOf(m, "Algorithm"), rsaSHA256)
	}
	refs := si.FindElements("./Reference")
	if len(refs) != 1 {
		t.Errorf("%s: %d References", what, len(refs))
		return
	}
	if uri := refs[0].SelectAttrValue("URI", ""); uri != "#"+el.SelectAttrValue("ID", "") {
		t.Errorf("%s: Reference URI %q does not point at its ID %q", what, uri, el.SelectAttrValue("ID", ""))
	}
	if d := refs[0].FindElement("./DigestMethod"); d == nil || d.SelectAttrValue("Algorithm", "") != sha256Digest {
		t.Errorf("%s: DigestMethod %v, want %s", what, attrOf(d, "Algorithm"), sha256Digest)
	}
}

func decryptAssertion(t *testing.T, resp *etree.Element, key *rsa.PrivateKey) *etree.Element {
	t.Helper()
	ea := childElements(resp, "EncryptedAssertion")
	if len(ea) != 1 {
		t.Fatalf("%d EncryptedAssertion elements", len(ea))
	}
	data := ea[0].FindElement("./EncryptedData")
	if data == nil {
		t.Fatal("EncryptedAssertion without EncryptedData")
	}
	method := data.FindElement("./EncryptionMethod")
	t.Logf("assertion encrypted with %v", attrOf(method, "Algorithm"))
	var plain []byte
	if attrOf(method, "Algorithm") == tripleDESCBC {
		plain = decryptTripleDES(t, ea[0], data, key)
	} else {
		var k any = key
		if ek := ea[0].FindElement("./EncryptedKey"); ek != nil { // else in EncryptedData/KeyInfo
			var err error
			if k, err = xmlenc.Decrypt(key, ek); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if plain, err = xmlenc.Decrypt(k, data); err != nil {
			t.Fatalf("decrypt the assertion: %v", err)
		}
	}
	doc := readXML(t, plain)
	if doc.Root() == nil || doc.Root().Tag != "Assertion" {
		t.Fatalf("decrypted: %s", plain)
	}
	return doc.Root()
}

// checkInResponseTo: the Response and its SubjectConfirmationData answer
// the request ID ("" for none at all).
func checkInResponseTo(t *testing.T, raw []byte, reqID string) {
	t.Helper()
	doc := readXML(t, raw)
	got, ok := doc.Root().SelectAttrValue("InResponseTo", ""), doc.Root().SelectAttr("InResponseTo") != nil
	if reqID == "" && ok {
		t.Errorf("unsolicited response has InResponseTo=%q", got)
	}
	if reqID != "" && got != reqID {
		t.Errorf("InResponseTo %q, want %q", got, reqID)
	}
	for _, scd := range doc.FindElements("//SubjectConfirmationData") {
		if v := scd.SelectAttr("InResponseTo"); (v != nil) != (reqID != "") || (v != nil && v.Value != reqID) {
			t.Errorf("SubjectConfirmationData InResponseTo %v, want %q", attrOf(scd, "InResponseTo"), reqID)
		}
	}
}

const tripleDESCBC = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"

// decryptTripleDES decrypts 3DES-CBC EncryptedData whose key is transported
// with RSA-OAEP-MGF1P (SHA-1), which crewjam/saml v0.5.1's xmlenc cannot.
func decryptTripleDES(t *testing.T, ea, data *etree.Element, key *rsa.PrivateKey) []byte {
	t.Helper()
	ek := ea.FindElement("./EncryptedKey")
	if ek == nil {
		ek = data.FindElement("./KeyInfo/EncryptedKey")
	}
	if ek == nil {
		t.Fatal("no EncryptedKey")
	}
	if alg := attrOf(ek.FindElement("./EncryptionMethod"), "Algorithm"); alg != "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" {
		t.Fatalf("key transport %v", alg)
	}
	cipherValue := func(el *etree.Element) []byte {
		cv := el.FindElement("./CipherData/CipherValue")
		if cv == nil {
			t.Fatal("no CipherValue")
		}
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cv.Text()), ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sessionKey, err := rsa.DecryptOAEP(sha1.New(), nil, key, cipherValue(ek), nil)
	if err != nil {
		t.Fatalf("decrypt the session key: %v", err)
	}
	block, err := des.NewTripleDESCipher(sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	ct := cipherValue(data)
	if len(ct) < 2*des.BlockSize || len(ct)%des.BlockSize != 0 {
		t.Fatalf("3DES ciphertext of %d bytes", len(ct))
	}
	plain := make([]byte, len(ct)-des.BlockSize)
	cipher.NewCBCDecrypter(block, ct[:des.BlockSize]).CryptBlocks(plain, ct[des.BlockSize:])
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > des.BlockSize {
		t.Fatalf("3DES padding %d", pad)
	}
	return plain[:len(plain)-pad]
}

func checkIdPMetadata(t *testing.T, idp *SAMLIdP) {
	t.Helper()
	var md saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(idp.MetadataXML(t)), &md); err != nil {
		t.Fatal(err)
	}
	if md.EntityID != idp.EntityID {
		t.Errorf("metadata entityID %q, want %q", md.EntityID, idp.EntityID)
	}
	if len(md.IDPSSODescriptors) != 1 {
		t.Fatalf("%d IDPSSODescriptors", len(md.IDPSSODescriptors))
	}
	d := md.IDPSSODescriptors[0]
	sso := map[string]string{}
	for _, s := range d.SingleSignOnServices {
		sso[s.Binding] = s.Location
	}
	if sso[saml.HTTPRedirectBinding] != idp.SSOURL || sso[saml.HTTPPostBinding] != idp.SSOPostURL {
		t.Errorf("SingleSignOnServices %v, want redirect %s and POST %s", sso, idp.SSOURL, idp.SSOPostURL)
	}
	block, _ := pem.Decode([]byte(idp.CertPEM))
	found := false
	for _, kd := range d.KeyDescriptors {
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			der, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
			if (kd.Use == "" || kd.Use == "signing") && bytes.Equal(der, block.Bytes) {
				found = true
			}
		}
	}
	if !found {
		t.Error("the metadata does not hold CertPEM as a signing key")
	}
}

func readXML(t *testing.T, raw []byte) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatalf("not XML: %v\n%s", err, raw)
	}
	return doc
}

func childElements(el *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			out = append(out, c)
		}
	}
	return out
}

func attrOf(el *etree.Element, name string) any {
	if el == nil {
		return nil
	}
	return el.SelectAttrValue(name, "")
}

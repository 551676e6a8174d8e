package samltest

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
)

const (
	idpEntityID = "https://idp.test.example/metadata"
	ssoURL      = "https://idp.test.example/sso"
)

func testParams() Params {
	return Params{
		SPEntityID:   "https://sp.test.example/saml/metadata",
		ACSURL:       "https://sp.test.example/saml/acs",
		InResponseTo: NewID(),
		NameID:       "alice@corp.example",
		Attributes: map[string][]string{
			"email":     {"alice@corp.example"},
			"givenName": {"Alice"},
			"groups":    {"staff", "eng"},
		},
		SessionIndex: "_session1",
	}
}

// crewjamSP is a bare crewjam/saml v0.5.1 SP for p, configured from the IdP's metadata.
func crewjamSP(t *testing.T, i *IdP, p Params) *saml.ServiceProvider {
	t.Helper()
	var md saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(i.Metadata(ssoURL)), &md); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	acs, err := url.Parse(p.ACSURL)
	if err != nil {
		t.Fatal(err)
	}
	return &saml.ServiceProvider{EntityID: p.SPEntityID, AcsURL: *acs, IDPMetadata: &md}
}

// crewjamParse posts doc to sp as the answer to p.InResponseTo.
func crewjamParse(sp *saml.ServiceProvider, doc []byte, p Params) (*saml.Assertion, error) {
	var ids []string
	if p.InResponseTo != "" {
		ids = []string{p.InResponseTo}
	}
	a, err := sp.ParseXMLResponse(doc, ids, sp.AcsURL)
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) {
		return a, ire.PrivateErr
	}
	return a, err
}

func attrValues(a *saml.Assertion, name string) []string {
	var out []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.Name == name {
				for _, v := range at.Values {
					out = append(out, v.Value)
				}
			}
		}
	}
	return out
}

func TestMissingXMLSec1Fails(t *testing.T) {
	// XMLSec1 must fail (not skip) the calling test when the tool is absent.
	t.Setenv("PATH", t.TempDir())
	ft := &fakeT{TB: t}
	func() {
		defer func() { recover() }()
		XMLSec1(ft)
	}()
	if !ft.failed || ft.skipped || !strings.Contains(ft.msg, "xmlsec1") || !strings.Contains(ft.msg, "./.ci/test") {
		t.Fatalf("missing xmlsec1: failed=%v skipped=%v msg=%q", ft.failed, ft.skipped, ft.msg)
	}
}

// fakeT records Fatalf/Skip instead of acting on them.
type fakeT struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	panic("fatal")
}
func (f *fakeT) Skip(args ...any)                 { f.skipped = true; panic("skip") }
func (f *fakeT) Skipf(format string, args ...any) { f.skipped = true; panic("skip") }
func (f *fakeT) SkipNow()                         { f.skipped = true; panic("skip") }

func TestBaseline(t *testing.T) {
	idp, other := NewIdP(t, idpEntityID), NewIdP(t, "https://other-idp.example/metadata")
	p := testParams()
	doc := idp.Response(t, p, Options{})

	if n := CountSignatures(t, doc); n != 2 {
		t.Fatalf("baseline has %d signatures, want 2", n)
	}
	for _, x := range []string{XPathResponseSignature, XPathAssertionSignature} {
		if err := Verify(t, doc, idp.Cert, x); err != nil {
			t.Errorf("xmlsec1 does not verify %s with the IdP certificate: %v", x, err)
		}
		if err := Verify(t, doc, other.Cert, x); err == nil {
			t.Errorf("xmlsec1 verifies %s with another certificate", x)
		}
	}

	d := parse(t, doc)
	r := d.Root()
	a := child(r, NSAssertion, "Assertion")
	scd := descendant(a, NSAssertion, "SubjectConfirmationData")
	for what, got := range map[string]string{
		"Destination":      r.SelectAttrValue("Destination", ""),
		"InResponseTo":     r.SelectAttrValue("InResponseTo", ""),
		"SCD InResponseTo": scd.SelectAttrValue("InResponseTo", ""),
		"Recipient":        scd.SelectAttrValue("Recipient", ""),
		"Audience":         descendant(a, NSAssertion, "Audience").Text(),
		"NameID":           descendant(a, NSAssertion, "NameID").Text(),
		"Issuer":           child(a, NSAssertion, "Issuer").Text(),
		"SessionIndex":     descendant(a, NSAssertion, "AuthnStatement").SelectAttrValue("SessionIndex", ""),
	} {
		want := map[string]string{
			"Destination": p.ACSURL, "InResponseTo": p.InResponseTo, "SCD InResponseTo": p.InResponseTo,
			"Recipient": p.ACSURL, "Audience": p.SPEntityID, "NameID": p.NameID, "Issuer": idpEntityID,
			"SessionIndex": p.SessionIndex,
		}[what]
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	sig := child(a, NSDSig, "Signature")
	for _, alg := range []string{RSASHA256, SHA256, ExcC14N, Enveloped} {
		if !strings.Contains(string(write(t, etree.NewDocumentWithRoot(sig.Copy()))), alg) {
			t.Errorf("assertion signature does not use %s", alg)
		}
	}

	sp := crewjamSP(t, idp, p)
	got, err := crewjamParse(sp, doc, p)
	if err != nil {
		t.Fatalf("crewjam refuses the baseline: %v", err)
	}
	if got.Subject.NameID.Value != p.NameID {
		t.Errorf("crewjam NameID %q, want %q", got.Subject.NameID.Value, p.NameID)
	}
	if g := attrValues(got, "groups"); strings.Join(g, ",") != "eng,staff" && strings.Join(g, ",") != "staff,eng" {
		t.Errorf("crewjam groups %v", g)
	}
	if g := attrValues(got, "email"); len(g) != 1 || g[0] != p.NameID {
		t.Errorf("crewjam email %v", g)
	}

	// The same response re-serialized by etree (as the hostile cases are) still verifies.
	re := write(t, parse(t, doc))
	for k, err := range VerifyEach(t, re, idp.Cert) {
		if err != nil {
			t.Errorf("re-serialized baseline: signature %d: %v", k+1, err)
		}
	}
}

func TestSignModes(t *testing.T) {
	idp := NewIdP(t, idpEntityID)
	for _, tc := range []struct {
		sign      Sign
		sigs      int
		responseS bool
		assertS   bool
	}{
		{SignBoth, 2, true, true},
		{SignAssertion, 1, false, true},
		{SignResponse, 1, true, false},
		{SignNone, 0, false, false},
	} {
		t.Run(tc.sign.String(), func(t *testing.T) {
			p := testParams()
			doc := idp.Response(t, p, Options{Sign: tc.sign})
			d := parse(t, doc)
			if got := child(d.Root(), NSDSig, "Signature") != nil; got != tc.responseS {
				t.Errorf("response signature present = %v", got)
			}
			if got := child(child(d.Root(), NSAssertion, "Assertion"), NSDSig, "Signature") != nil; got != tc.assertS {
				t.Errorf("assertion signature present = %v", got)
			}
			errs := VerifyEach(t, doc, idp.Cert)
			if len(errs) != tc.sigs {
				t.Fatalf("%d signatures, want %d", len(errs), tc.sigs)
			}
			for k, err := range errs {
				if err != nil {
					t.Errorf("signature %d: %v", k+1, err)
				}
			}
			if tc.sign == SignNone {
				return // that is the hostile case "neither signed"
			}
			if _, err := crewjamParse(crewjamSP(t, idp, p), doc, p); err != nil {
				t.Errorf("crewjam refuses a valid %s response: %v", tc.sign, err)
			}
		})
	}
}

func TestIdPInitiated(t *testing.T) {
	idp := NewIdP(t, idpEntityID)
	p := testParams()
	p.InResponseTo = ""
	doc := idp.Response(t, p, Options{})
	if strings.Contains(string(doc), "InResponseTo") {
		t.Fatalf("IdP-initiated response names InResponseTo:\n%s", doc)
	}
	sp := crewjamSP(t, idp, p)
	sp.AllowIDPInitiated = true
	if _, err := crewjamParse(sp, doc, p); err != nil {
		t.Fatalf("crewjam (AllowIDPInitiated) refuses the IdP-initiated response: %v", err)
	}
}

func TestSHA1(t *testing.T) {
	idp := NewIdP(t, idpEntityID)
	doc := idp.Response(t, testParams(), Options{SHA1: true})
	s := string(doc)
	if !strings.Contains(s, RSASHA1) || !strings.Contains(s, `DigestMethod Algorithm="`+SHA1) || strings.Contains(s, RSASHA256) || strings.Contains(s, SHA256) {
		t.Fatalf("SHA1 response does not use rsa-sha1 and sha1 only")
	}
	for k, err := range VerifyEach(t, doc, idp.Cert) {
		if err != nil {
			t.Errorf("signature %d: %v", k+1, err)
		}
	}
}

func TestEncrypted(t *testing.T) {
	idp := NewIdP(t, idpEntityID)
	spKeys := NewIdP(t, "https://sp.test.example/saml/metadata") // the SP's encryption key pair
	wrong := NewIdP(t, "https://sp.test.example/other")
	for _, alg := range []string{AES256CBC, AES128GCM} {
		t.Run(alg[strings.LastIndex(alg, "#")+1:], func(t *testing.T) {
			p := testParams()
			doc := idp.Response(t, p, Options{EncryptTo: spKeys.Cert, Encryption: alg})
			d := parse(t, doc)
			if child(d.Root(), NSAssertion, "Assertion") != nil || strings.Contains(string(doc), p.NameID) {
				t.Fatalf("plaintext assertion left in the encrypted response")
			}
			ea := must(t, child(d.Root(), NSAssertion, "EncryptedAssertion"), "EncryptedAssertion")
			if em := descendant(ea, NSXMLEnc, "EncryptionMethod"); em.SelectAttrValue("Algorithm", "") != alg {
				t.Errorf("block cipher %q, want %q", em.SelectAttrValue("Algorithm", ""), alg)
			}
			if ek := descendant(ea, NSXMLEnc, "EncryptedKey"); ek == nil || !strings.Contains(string(write(t, etree.NewDocumentWithRoot(ek.Copy()))), RSAOAEP) {
				t.Errorf("no RSA-OAEP EncryptedKey")
			}
			if err := Verify(t, doc, idp.Cert, XPathResponseSignature); err != nil {
				t.Errorf("response signature over the EncryptedAssertion: %v", err)
			}

			// xmlsec1 decrypts it with the SP key, and the assertion signature inside verifies.
			in := filepath.Join(tempDir(t), "enc.xml")
			writeFile(t, in, doc)
			plain, err := runXMLSec(t, append([]string{"--decrypt", "--privkey-pem", spKeys.KeyFile()}, append(idAttrs, in)...)...)
			if err != nil {
				t.Fatalf("xmlsec1 --decrypt: %v", err)
			}
			if !strings.Contains(string(plain), ">"+p.NameID+"</saml:NameID>") {
				t.Fatalf("decrypted response lacks the NameID:\n%s", plain)
			}
			if err := Verify(t, plain, idp.Cert, XPathSignature(2)); err != nil {
				t.Errorf("assertion signature after decryption: %v", err)
			}

			sp := crewjamSP(t, idp, p)
			sp.Key, sp.Certificate = spKeys.Key, spKeys.Cert
			a, err := crewjamParse(sp, doc, p)
			if err != nil {
				t.Fatalf("crewjam with the SP key refuses the encrypted response: %v", err)
			}
			if a.Subject.NameID.Value != p.NameID {
				t.Errorf("crewjam NameID %q", a.Subject.NameID.Value)
			}
			sp.Key, sp.Certificate = wrong.Key, wrong.Cert
			if _, err := crewjamParse(sp, doc, p); err == nil {
				t.Errorf("crewjam with another key decrypts the assertion")
			}
		})
	}
}

func TestForm(t *testing.T) {
	doc := []byte(`<samlp:Response/>`)
	v := Form(doc, "")
	if _, ok := v["RelayState"]; ok || len(v) != 1 {
		t.Errorf("Form without RelayState: %v", v)
	}
	if b, err := base64.StdEncoding.DecodeString(v.Get("SAMLResponse")); err != nil || string(b) != string(doc) {
		t.Errorf("SAMLResponse %q: %v", b, err)
	}
	if v := Form(doc, "rs-1"); v.Get("RelayState") != "rs-1" {
		t.Errorf("RelayState %q", v.Get("RelayState"))
	}
}

func TestMetadata(t *testing.T) {
	idp := NewIdP(t, idpEntityID)
	var md saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(idp.Metadata(ssoURL)), &md); err != nil {
		t.Fatal(err)
	}
	if md.EntityID != idpEntityID || len(md.IDPSSODescriptors) != 1 {
		t.Fatalf("metadata %+v", md)
	}
	d := md.IDPSSODescriptors[0]
	if len(d.KeyDescriptors) != 1 || d.KeyDescriptors[0].Use != "signing" ||
		len(d.KeyDescriptors[0].KeyInfo.X509Data.X509Certificates) != 1 ||
		d.KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data != idp.CertBase64() {
		t.Errorf("key descriptors %+v", d.KeyDescriptors)
	}
	bindings := map[string]string{}
	for _, s := range d.SingleSignOnServices {
		bindings[s.Binding] = s.Location
	}
	if bindings[BindingRedirect] != ssoURL || bindings[BindingPOST] != ssoURL || len(bindings) != 2 {
		t.Errorf("SSO services %v", bindings)
	}
	if len(d.NameIDFormats) != 1 || string(d.NameIDFormats[0]) != NameIDFormatEmail {
		t.Errorf("NameIDFormats %v", d.NameIDFormats)
	}
	if c := idp.Cert; c.SignatureAlgorithm != x509.SHA256WithRSA || time.Now().Before(c.NotBefore) || time.Now().After(c.NotAfter) || idp.Key.N.BitLen() != 2048 {
		t.Errorf("certificate: %v, %v–%v, %d bits", c.SignatureAlgorithm, c.NotBefore, c.NotAfter, idp.Key.N.BitLen())
	}
}

// What xmlsec1 (the independent checker) must say about each hostile case.
type sigVerdict int

const (
	sigsVerify   sigVerdict = iota // every signature verifies with the IdP certificate
	sigFails                       // at least one signature fails with the IdP certificate
	unsigned                       // no signature at all
	duplicateID                    // xmlsec1 refuses the document: two elements share an ID
	wrappedInSig                   // the wrapped original sits inside the Signature: xmlsec1's enveloped transform drops it, the digest fails
)

type expectation struct {
	sigs       sigVerdict
	xsw        bool // the original, reassembled with its signature, verifies; the first assertion names Evil
	embedded   bool // every signature verifies with the certificate in its own KeyInfo
	assertions int  // plaintext saml:Assertion elements anywhere (0 = not checked)
	doctype    bool
	// expanded: with the DTD's internal entities substituted by hand and the DOCTYPE removed, every
	// signature verifies (xmlsec1 does not expand internal entities and cannot canonicalize an
	// entity reference, so it refuses the document as posted).
	expanded bool
}

var expectations = map[string]expectation{
	"XSW1 response wrapping: signed response inside the Signature's Object":                                  {sigs: wrappedInSig, xsw: true},
	"XSW2 response wrapping: signed response beside the signature":                                           {sigs: sigsVerify, xsw: true},
	"XSW3 assertion wrapping: evil assertion (new ID) before the signed one":                                 {sigs: sigsVerify, xsw: true, assertions: 2},
	"XSW3 assertion wrapping: evil assertion with the same ID before the signed one":                         {sigs: duplicateID, xsw: true, assertions: 2},
	"XSW4 assertion wrapping: evil assertion wraps the signed one":                                           {sigs: sigsVerify, xsw: true, assertions: 2},
	"XSW5 assertion wrapping: evil assertion carries the signature, original appended":                       {sigs: sigsVerify, xsw: true, assertions: 2},
	"XSW6 assertion wrapping: evil assertion carries the signature, original inside the signature":           {sigs: wrappedInSig, xsw: true, assertions: 2},
	"XSW7 assertion wrapping: signed assertion inside Extensions, evil assertion after":                      {sigs: sigsVerify, xsw: true, assertions: 2},
	"XSW8 assertion wrapping: original without signature inside the evil assertion's Signature/Object":       {sigs: wrappedInSig, xsw: true, assertions: 2},
	"response-signed XSW: evil assertion inside the response Signature's Object":                             {sigs: sigsVerify, assertions: 2},
	"response-signed XSW: signed response inside the Extensions of an evil response":                         {sigs: sigsVerify, xsw: true, assertions: 2},
	"response-signed XSW: evil response with the signed response's ID, the signed one inside its Extensions": {sigs: duplicateID, xsw: true, assertions: 2},
	"response-signed XSW: signed response without an assertion, evil assertion in its Signature's Object":    {sigs: sigsVerify, assertions: 1},
	"response-signed XSW: evil assertion added to a signed response that had none":                           {sigs: sigFails, assertions: 1},
	"comment injection in NameID":                                                                   {sigs: sigsVerify},
	"comment injection in the email attribute":                                                      {sigs: sigsVerify},
	"DOCTYPE with an internal entity in NameID":                                                     {sigs: sigFails, doctype: true, expanded: true},
	"DOCTYPE billion laughs in NameID":                                                              {sigs: sigFails, doctype: true},
	"assertion replaced after the response was signed":                                              {sigs: sigFails},
	"neither response nor assertion signed":                                                         {sigs: unsigned},
	"two assertions: unsigned evil assertion appended, response signed over both":                   {sigs: sigsVerify, assertions: 2},
	"two assertions: unsigned evil assertion first, response signed over both":                      {sigs: sigsVerify, assertions: 2},
	"unknown key: response and assertion signed by the attacker, attacker's certificate in KeyInfo": {sigs: sigFails, embedded: true},
	"unknown key: assertion alone signed by the attacker, attacker's certificate in KeyInfo":        {sigs: sigFails, embedded: true},
	"unknown key with the IdP's certificate in KeyInfo":                                             {sigs: sigFails},
	"SHA-1 signature and digest":                                                                    {sigs: sigsVerify},
	"SHA-1 digest with an RSA-SHA256 signature":                                                     {sigs: sigsVerify},
	"RSA-SHA1 signature with a SHA-256 digest":                                                      {sigs: sigsVerify},
	"tampered attribute value after signing":                                                        {sigs: sigFails},
	"expired":                                                                                       {sigs: sigsVerify},
	"not yet valid":                                                                                 {sigs: sigsVerify},
	"IssueInstant ten minutes old, NotOnOrAfter still in the future":                                {sigs: sigsVerify},
	"wrong Audience":         {sigs: sigsVerify},
	"no AudienceRestriction": {sigs: sigsVerify},
	"wrong Recipient":        {sigs: sigsVerify},
	"no bearer SubjectConfirmation (zero confirmations)":   {sigs: sigsVerify},
	"sender-vouches SubjectConfirmation instead of bearer": {sigs: sigsVerify},
	"wrong Destination":                      {sigs: sigsVerify},
	"no Destination on a signed response":    {sigs: sigsVerify},
	"wrong Issuer in response and assertion": {sigs: sigsVerify},
	"wrong Issuer in the assertion only":     {sigs: sigsVerify},
	"InResponseTo of another request":        {sigs: sigsVerify},
	"Status not Success":                     {sigs: sigsVerify},
}

func TestHostile(t *testing.T) {
	idp := NewIdP(t, idpEntityID)
	cases := Hostile()
	variants := HostileResponseSigned()
	if len(variants) < 20 {
		t.Errorf("only %d response-signed variants", len(variants))
	}
	for _, c := range variants {
		if c.Base != SignResponse || !strings.HasSuffix(c.Name, ResponseSignedSuffix) {
			t.Errorf("variant %q: Base %v", c.Name, c.Base)
		}
		if n := CountSignatures(t, c.Build(t, idp, testParams())); n > 1 {
			t.Errorf("variant %q carries %d signatures, more than the response's", c.Name, n)
		}
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		if c.Why == "" || c.Build == nil {
			t.Errorf("case %q lacks Why or Build", c.Name)
		}
	}
	for name := range expectations {
		if !seen[name] {
			t.Errorf("expectation for unknown case %q", name)
		}
	}

	// The untampered baselines the cases start from are accepted by crewjam and verify.
	for _, s := range []Sign{SignBoth, SignAssertion, SignResponse} {
		p := testParams()
		doc := idp.Response(t, p, Options{Sign: s})
		if _, err := crewjamParse(crewjamSP(t, idp, p), doc, p); err != nil {
			t.Errorf("crewjam refuses the %s baseline: %v", s, err)
		}
	}

	var accepted []string
	for _, c := range append(cases, variants...) {
		t.Run(c.Name, func(t *testing.T) {
			e, ok := expectations[strings.TrimSuffix(c.Name, ResponseSignedSuffix)]
			if !ok {
				t.Fatalf("no expectation for case %q: add one", c.Name)
			}
			p := testParams()
			start := time.Now()
			doc := c.Build(t, idp, p)
			built := time.Since(start)
			s := string(doc)

			if c.Evil != "" && !strings.Contains(s, c.Evil) {
				t.Errorf("the evil identity %q is nowhere in the document", c.Evil)
			}
			if e.doctype != strings.Contains(s, "<!DOCTYPE") {
				t.Errorf("DOCTYPE present = %v, want %v", !e.doctype, e.doctype)
			}

			switch e.sigs {
			case sigsVerify:
				errs := VerifyEach(t, doc, idp.Cert)
				if len(errs) == 0 {
					t.Errorf("no signature")
				}
				for k, err := range errs {
					if err != nil {
						t.Errorf("signature %d does not verify with the IdP certificate: %v", k+1, err)
					}
				}
			case sigFails, wrappedInSig, duplicateID:
				errs := VerifyEach(t, doc, idp.Cert)
				failed := 0
				for _, err := range errs {
					if err != nil {
						failed++
						if e.sigs == duplicateID && !strings.Contains(err.Error(), "duplicate ID") {
							t.Errorf("xmlsec1 fails, but not for the duplicate ID: %v", err)
						}
					}
				}
				if len(errs) == 0 || failed == 0 {
					t.Errorf("%d signatures, all verify with the IdP certificate; want a failure", len(errs))
				}
			case unsigned:
				if n := CountSignatures(t, doc); n != 0 {
					t.Errorf("%d signatures, want none", n)
				}
			}

			if e.expanded {
				for k, err := range VerifyEach(t, expandEntities(t, doc), idp.Cert) {
					if err != nil {
						t.Errorf("signature %d does not verify once the entities are expanded: %v", k+1, err)
					}
				}
			}
			if e.embedded {
				for k, cert := range keyInfoCerts(t, doc) {
					if cert.Equal(idp.Cert) {
						t.Errorf("signature %d carries the IdP certificate", k+1)
					}
					if err := Verify(t, doc, cert, XPathSignature(k+1)); err != nil {
						t.Errorf("signature %d does not verify with its own KeyInfo certificate: %v", k+1, err)
					}
				}
			}
			if e.xsw {
				if err := Verify(t, reassemble(t, doc), idp.Cert, ""); err != nil {
					t.Errorf("the wrapped original, reassembled with its signature, does not verify: %v", err)
				}
				a := must(t, child(parse(t, doc).Root(), NSAssertion, "Assertion"), "first Assertion child of the response")
				subj := must(t, child(a, NSAssertion, "Subject"), "Subject of the first Assertion")
				if got := must(t, child(subj, NSAssertion, "NameID"), "NameID").Text(); got != EvilNameID {
					t.Errorf("a naive reader (first Assertion child of the response) reads %q, want %q", got, EvilNameID)
				}
			}
			if e.assertions != 0 {
				if n := len(descendants(parse(t, doc).Root(), NSAssertion, "Assertion")); n != e.assertions {
					t.Errorf("%d assertions, want %d", n, e.assertions)
				}
			}

			a, err := crewjamParse(crewjamSP(t, idp, p), doc, p)
			if err == nil {
				accepted = append(accepted, c.Name)
				t.Logf("bare crewjam v0.5.1 ACCEPTS (NameID %q, email %v) [built in %v]", a.Subject.NameID.Value, attrValues(a, "email"), built.Round(time.Millisecond))
			} else {
				t.Logf("bare crewjam v0.5.1 refuses: %v [built in %v]", err, built.Round(time.Millisecond))
			}
		})
	}
	t.Logf("bare crewjam v0.5.1 accepts %d of %d hostile cases:\n  %s", len(accepted), len(cases), strings.Join(accepted, "\n  "))
}

// expandEntities substitutes the (non-nested) internal entities of doc's DOCTYPE and removes it.
func expandEntities(t *testing.T, doc []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`<!DOCTYPE[^\[]*\[(.*?)\]>\n?`).FindSubmatchIndex(doc)
	if m == nil {
		t.Fatalf("no DOCTYPE with an internal subset")
	}
	subset := string(doc[m[2]:m[3]])
	body := string(doc[:m[0]]) + string(doc[m[1]:])
	for _, e := range regexp.MustCompile(`<!ENTITY\s+(\w+)\s+"([^"]*)"\s*>`).FindAllStringSubmatch(subset, -1) {
		body = strings.ReplaceAll(body, "&"+e[1]+";", e[2])
	}
	return []byte(body)
}

// keyInfoCerts are the certificates in each signature's KeyInfo, in document order.
func keyInfoCerts(t *testing.T, doc []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, sig := range descendants(parse(t, doc).Root(), NSDSig, "Signature") {
		el := must(t, descendant(sig, NSDSig, "X509Certificate"), "X509Certificate")
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(el.Text()), ""))
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// reassemble undoes a wrapping attack as far as the signature is concerned: it finds the element
// the (single) signature references — preferring the signature's own parent when IDs collide —
// and returns it as a standalone document with a clean copy of the signature back after its
// Issuer. That the result verifies proves the wrapped element is the genuine signed original.
func reassemble(t *testing.T, doc []byte) []byte {
	t.Helper()
	root := parse(t, doc).Root()
	sigs := descendants(root, NSDSig, "Signature")
	if len(sigs) != 1 {
		t.Fatalf("%d signatures, want 1", len(sigs))
	}
	sig := sigs[0]
	ref := must(t, descendant(sig, NSDSig, "Reference"), "Reference")
	id := strings.TrimPrefix(ref.SelectAttrValue("URI", ""), "#")
	var target *etree.Element
	var walk func(*etree.Element)
	walk = func(e *etree.Element) {
		if e.SelectAttrValue("ID", "") == id && (target == nil || e == sig.Parent()) {
			target = e
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	must(t, target, "element with ID "+id)
	clean := sig.Copy()
	for _, c := range clean.ChildElements() {
		if c.Tag != "SignedInfo" && c.Tag != "SignatureValue" && c.Tag != "KeyInfo" {
			clean.RemoveChild(c)
		}
	}
	e := stripSignature(target.Copy())
	issuer := must(t, child(e, NSAssertion, "Issuer"), "Issuer")
	e.InsertChildAt(issuer.Index()+1, clean)
	return write(t, etree.NewDocumentWithRoot(e))
}

func TestTiming(t *testing.T) {
	idp := NewIdP(t, idpEntityID)
	spKeys := NewIdP(t, "https://sp.test.example/saml/metadata")
	const n = 5
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"SignNone", Options{Sign: SignNone}},
		{"SignAssertion", Options{Sign: SignAssertion}},
		{"SignBoth", Options{}},
		{"SignBoth+EncryptTo", Options{EncryptTo: spKeys.Cert}},
	} {
		start := time.Now()
		for k := 0; k < n; k++ {
			idp.Response(t, testParams(), tc.o)
		}
		t.Logf("%-20s %v per response", tc.name, (time.Since(start) / n).Round(100*time.Microsecond))
	}
	start := time.Now()
	NewIdP(t, "https://x.example/")
	t.Logf("%-20s %v", "NewIdP", time.Since(start).Round(time.Millisecond))
}

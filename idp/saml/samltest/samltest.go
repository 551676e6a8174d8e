// Package samltest forges SAML 2.0 responses for tests: valid ones and a catalogue of hostile ones
// (see Hostile). Every signature and every encryption is made by the independent tool xmlsec1
// (Debian package xmlsec1), never by code of ours or of the library under test, so an SP that
// accepts these responses interoperates with a real XML-DSig implementation, and an SP that refuses
// the hostile ones refuses genuine attacks rather than artefacts of a home-made signer.
//
// A missing xmlsec1 fails the calling test (it is never skipped): run the tests with ./.ci/test,
// which installs it.
package samltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// XML namespaces and algorithm identifiers used by the forgeries.
const (
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	NSXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"

	NameIDFormatEmail   = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	AttrNameFormatBasic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	StatusSuccess       = "urn:oasis:names:tc:SAML:2.0:status:Success"
	BindingRedirect     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingPOST         = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	MethodBearer        = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

	RSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	RSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	SHA256    = "http://www.w3.org/2001/04/xmlenc#sha256"
	SHA1      = "http://www.w3.org/2000/09/xmldsig#sha1"
	ExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	Enveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

	// Block ciphers for Options.Encryption (crewjam/saml v0.5.1 decrypts both).
	AES256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	AES128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	// RSAOAEP is the key transport: the session key wrapped with RSA-OAEP (MGF1, SHA-1 digest, the
	// XML-Enc default and the only digest whose MGF both xmlsec1 and crewjam agree on).
	RSAOAEP = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
)

// EvilNameID is the identity the hostile cases try to smuggle in: an SP fooled by one of them comes
// out with this NameID (or email attribute) instead of the one the IdP signed.
const EvilNameID = "admin@victim.example"

// IdP is a test identity provider: an RSA-2048 key and a self-signed certificate (valid now,
// SHA-256), written to a temp dir for xmlsec1.
type IdP struct {
	EntityID string
	Key      *rsa.PrivateKey
	Cert     *x509.Certificate
	CertPEM  string
	KeyPEM   string // PKCS#8

	dir string
}

// NewIdP makes a fresh key and certificate. The key and certificate files live in a temp dir that
// is removed when t ends, so the IdP is usable until then (in t's subtests too).
func NewIdP(t testing.TB, entityID string) *IdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("samltest: rsa key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("samltest: serial: %v", err)
	}
	cn := entityID
	if u, err := url.Parse(entityID); err == nil && u.Host != "" {
		cn = u.Host
	}
	if len(cn) > 64 {
		cn = cn[:64]
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"samltest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("samltest: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("samltest: certificate: %v", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("samltest: key: %v", err)
	}
	i := &IdP{
		EntityID: entityID,
		Key:      key,
		Cert:     cert,
		CertPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		dir:      tempDir(t),
	}
	writeFile(t, i.CertFile(), []byte(i.CertPEM))
	writeFile(t, i.KeyFile(), []byte(i.KeyPEM))
	return i
}

// IdPFromPEM is an IdP with an existing key pair (a PEM certificate and a
// PEM RSA private key, PKCS #1 or PKCS #8): a test forges with the key of a
// running IdP.
func IdPFromPEM(t testing.TB, entityID, certPEM, keyPEM string) *IdP {
	t.Helper()
	cb, _ := pem.Decode([]byte(certPEM))
	kb, _ := pem.Decode([]byte(keyPEM))
	if cb == nil || kb == nil {
		t.Fatalf("samltest: IdPFromPEM: certificate or key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatalf("samltest: certificate: %v", err)
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		key, _ = k.(*rsa.PrivateKey)
	} else if k, err := x509.ParsePKCS1PrivateKey(kb.Bytes); err == nil {
		key = k
	}
	if key == nil {
		t.Fatalf("samltest: the key is not an RSA key in PKCS #1 or PKCS #8")
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("samltest: key: %v", err)
	}
	i := &IdP{EntityID: entityID, Key: key, Cert: cert, CertPEM: certPEM,
		KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})), dir: tempDir(t)}
	writeFile(t, i.CertFile(), []byte(i.CertPEM))
	writeFile(t, i.KeyFile(), []byte(i.KeyPEM))
	return i
}

// CertFile is the path of the PEM certificate (for xmlsec1 --pubkey-cert-pem and friends).
func (i *IdP) CertFile() string { return filepath.Join(i.dir, "cert.pem") }

// KeyFile is the path of the PEM (PKCS#8) private key.
func (i *IdP) KeyFile() string { return filepath.Join(i.dir, "key.pem") }

// CertBase64 is the certificate's DER in base64, as it appears in ds:X509Certificate.
func (i *IdP) CertBase64() string { return base64.StdEncoding.EncodeToString(i.Cert.Raw) }

// Metadata returns IdP metadata XML: EntityDescriptor(entityID) / IDPSSODescriptor with a signing
// KeyDescriptor (this cert), SingleSignOnService HTTP-Redirect and HTTP-POST at ssoURL,
// NameIDFormat emailAddress.
func (i *IdP) Metadata(ssoURL string) string {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", NSMetadata)
	ed.CreateAttr("xmlns:ds", NSDSig)
	ed.CreateAttr("entityID", i.EntityID)
	sso := ed.CreateElement("md:IDPSSODescriptor")
	sso.CreateAttr("protocolSupportEnumeration", NSProtocol)
	sso.CreateAttr("WantAuthnRequestsSigned", "false")
	kd := sso.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(i.CertBase64())
	sso.CreateElement("md:NameIDFormat").SetText(NameIDFormatEmail)
	for _, b := range []string{BindingRedirect, BindingPOST} {
		s := sso.CreateElement("md:SingleSignOnService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", ssoURL)
	}
	out, err := doc.WriteToString()
	if err != nil {
		panic(err) // writing to memory does not fail
	}
	return out
}

// Params describe one response.
type Params struct {
	SPEntityID   string // Audience
	ACSURL       string // Destination and SubjectConfirmationData Recipient
	InResponseTo string // "" → no InResponseTo anywhere (IdP-initiated)
	NameID       string
	NameIDFormat string              // default urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress
	Attributes   map[string][]string // basic name format, xs:string values, sorted by name
	// Now is the IssueInstant of response and assertion (and the AuthnInstant); default time.Now().
	Now time.Time
	// Lifetime: NotOnOrAfter = Now+Lifetime for Conditions and SubjectConfirmationData; default
	// 5 min. NotBefore = Now-1min.
	Lifetime                time.Duration
	ResponseID, AssertionID string // default random "_" + hex
	SessionIndex            string // "" → no SessionIndex
}

// Sign says which elements Response signs.
type Sign int

const (
	SignBoth      Sign = iota // the assertion, then the response around it (the default)
	SignAssertion             // the assertion only
	SignResponse              // the response only
	SignNone                  // nothing
)

func (s Sign) String() string {
	switch s {
	case SignBoth:
		return "SignBoth"
	case SignAssertion:
		return "SignAssertion"
	case SignResponse:
		return "SignResponse"
	case SignNone:
		return "SignNone"
	}
	return fmt.Sprintf("Sign(%d)", int(s))
}

func (s Sign) assertion() bool { return s == SignBoth || s == SignAssertion }
func (s Sign) response() bool  { return s == SignBoth || s == SignResponse }

// Options say how a response is signed and encrypted.
type Options struct {
	Sign Sign
	// SHA1 signs with rsa-sha1 and digests with sha1 (an SP must refuse it).
	SHA1 bool
	// SignatureMethod and DigestMethod override the algorithm URIs (default RSASHA256 and SHA256,
	// or RSASHA1 and SHA1 with SHA1), to mix a weak digest with a strong signature or vice versa.
	SignatureMethod, DigestMethod string
	// EncryptTo encrypts the (signed) assertion to this SP certificate → EncryptedAssertion: a
	// fresh session key (Encryption, default AES256CBC) wrapped with RSA-OAEP to the certificate,
	// which is named in the EncryptedKey's KeyInfo. With SignBoth the response signature covers the
	// EncryptedAssertion.
	EncryptTo  *x509.Certificate
	Encryption string
	// SignWith signs with another IdP's key (an unknown key), its certificate in KeyInfo; default
	// the receiver.
	SignWith *IdP
	// Edit, when set, changes the unsigned response (signature templates in place) before anything
	// is signed or encrypted: the way to break one thing while keeping valid signatures.
	Edit func(doc *etree.Document)
}

// Response builds the response XML, signed as o says (assertion signed first, then the response
// around it). Signature templates use exc-c14n, enveloped-signature + exc-c14n transforms and a
// Reference URI "#ID"; the signing certificate goes in KeyInfo/X509Data.
func (i *IdP) Response(t testing.TB, p Params, o Options) []byte {
	t.Helper()
	doc := i.responseDoc(t, &p, o)
	if o.Edit != nil {
		o.Edit(doc)
	}
	signer := i
	if o.SignWith != nil {
		signer = o.SignWith
	}
	b := write(t, doc)
	scratch := tempDir(t)
	if o.Sign.assertion() {
		b = xmlsecSign(t, scratch, signer, b, XPathAssertionSignature)
	}
	if o.EncryptTo != nil {
		b = encryptAssertion(t, scratch, b, o.EncryptTo, o.Encryption)
	}
	if o.Sign.response() {
		b = xmlsecSign(t, scratch, signer, b, XPathResponseSignature)
	}
	return b
}

// Form returns the POST-binding body of a response: SAMLResponse = base64(xml), and RelayState
// (omitted when "").
func Form(xml []byte, relayState string) url.Values {
	v := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(xml)}}
	if relayState != "" {
		v.Set("RelayState", relayState)
	}
	return v
}

// NewID returns a fresh SAML ID: "_" and 40 hex digits.
func NewID() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24)
	return "_" + hex.EncodeToString(b[:])
}

func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// responseDoc builds the unsigned response with signature templates where o.Sign wants them, and
// fills the defaults into p.
func (i *IdP) responseDoc(t testing.TB, p *Params, o Options) *etree.Document {
	t.Helper()
	if p.SPEntityID == "" || p.ACSURL == "" || p.NameID == "" {
		t.Fatalf("samltest: Params need SPEntityID, ACSURL and NameID (got %+v)", *p)
	}
	if p.NameIDFormat == "" {
		p.NameIDFormat = NameIDFormatEmail
	}
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	if p.Lifetime == 0 {
		p.Lifetime = 5 * time.Minute
	}
	if p.ResponseID == "" {
		p.ResponseID = NewID()
	}
	if p.AssertionID == "" {
		p.AssertionID = NewID()
	}
	sigAlg, digAlg := RSASHA256, SHA256
	if o.SHA1 {
		sigAlg, digAlg = RSASHA1, SHA1
	}
	if o.SignatureMethod != "" {
		sigAlg = o.SignatureMethod
	}
	if o.DigestMethod != "" {
		digAlg = o.DigestMethod
	}
	now := p.Now
	notOnOrAfter := instant(now.Add(p.Lifetime))

	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	r := doc.CreateElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", NSProtocol)
	r.CreateAttr("xmlns:saml", NSAssertion)
	r.CreateAttr("ID", p.ResponseID)
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", instant(now))
	r.CreateAttr("Destination", p.ACSURL)
	if p.InResponseTo != "" {
		r.CreateAttr("InResponseTo", p.InResponseTo)
	}
	r.CreateElement("saml:Issuer").SetText(i.EntityID)
	if o.Sign.response() {
		r.AddChild(signatureTemplate(p.ResponseID, sigAlg, digAlg))
	}
	r.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", StatusSuccess)

	a := r.CreateElement("saml:Assertion")
	// The assertion declares every namespace it uses, so it can be signed, encrypted and moved
	// around on its own.
	a.CreateAttr("xmlns:saml", NSAssertion)
	a.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	a.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	a.CreateAttr("ID", p.AssertionID)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", instant(now))
	a.CreateElement("saml:Issuer").SetText(i.EntityID)
	if o.Sign.assertion() {
		a.AddChild(signatureTemplate(p.AssertionID, sigAlg, digAlg))
	}
	subj := a.CreateElement("saml:Subject")
	nid := subj.CreateElement("saml:NameID")
	nid.CreateAttr("Format", p.NameIDFormat)
	nid.SetText(p.NameID)
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", MethodBearer)
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	if p.InResponseTo != "" {
		scd.CreateAttr("InResponseTo", p.InResponseTo)
	}
	scd.CreateAttr("NotOnOrAfter", notOnOrAfter)
	scd.CreateAttr("Recipient", p.ACSURL)

	cond := a.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", instant(now.Add(-time.Minute)))
	cond.CreateAttr("NotOnOrAfter", notOnOrAfter)
	cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(p.SPEntityID)

	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", instant(now))
	if p.SessionIndex != "" {
		as.CreateAttr("SessionIndex", p.SessionIndex)
	}
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")

	if len(p.Attributes) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		names := make([]string, 0, len(p.Attributes))
		for n := range p.Attributes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			at := st.CreateElement("saml:Attribute")
			at.CreateAttr("Name", n)
			at.CreateAttr("NameFormat", AttrNameFormatBasic)
			for _, v := range p.Attributes[n] {
				av := at.CreateElement("saml:AttributeValue")
				av.CreateAttr("xsi:type", "xs:string")
				av.SetText(v)
			}
		}
	}
	return doc
}

// signatureTemplate is an empty ds:Signature for xmlsec1 --sign to fill in.
func signatureTemplate(id, sigAlg, digAlg string) *etree.Element {
	s := etree.NewElement("ds:Signature")
	s.CreateAttr("xmlns:ds", NSDSig)
	si := s.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", ExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", sigAlg)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "#"+id)
	tr := ref.CreateElement("ds:Transforms")
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", Enveloped)
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", ExcC14N)
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digAlg)
	ref.CreateElement("ds:DigestValue")
	s.CreateElement("ds:SignatureValue")
	s.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate")
	return s
}

// XPath expressions (for xmlsec1 --node-xpath) naming one signature of a response.
const (
	// XPathResponseSignature is the ds:Signature child of the root element.
	XPathResponseSignature = "/*/*[local-name()='Signature' and namespace-uri()='" + NSDSig + "']"
	// XPathAssertionSignature is the ds:Signature child of the first saml:Assertion child of the
	// root element.
	XPathAssertionSignature = "(/*/*[local-name()='Assertion' and namespace-uri()='" + NSAssertion +
		"']/*[local-name()='Signature' and namespace-uri()='" + NSDSig + "'])[1]"
	xpathAssertion = "/*/*[local-name()='Assertion' and namespace-uri()='" + NSAssertion + "']"
)

// XPathSignature returns an XPath naming the n-th (from 1) ds:Signature of a document, in
// document order.
func XPathSignature(n int) string {
	return fmt.Sprintf("(//*[local-name()='Signature' and namespace-uri()='%s'])[%d]", NSDSig, n)
}

var idAttrs = []string{
	"--id-attr:ID", NSAssertion + ":Assertion",
	"--id-attr:ID", NSProtocol + ":Response",
}

// XMLSec1 returns the path of xmlsec1, failing t when it is not installed.
func XMLSec1(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatalf("samltest: xmlsec1 is required and was not found (%v): run the tests with ./.ci/test, which installs it", err)
	}
	return p
}

// runXMLSec runs xmlsec1 with args; the error carries its output.
func runXMLSec(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	bin := XMLSec1(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("xmlsec1 %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()+"\n"+stdout.String()))
	}
	return stdout.Bytes(), nil
}

func xmlsecSign(t testing.TB, dir string, signer *IdP, doc []byte, xpath string) []byte {
	t.Helper()
	in, out := tempName(t, dir, "unsigned.xml"), tempName(t, dir, "signed.xml")
	writeFile(t, in, doc)
	args := append([]string{"--sign", "--privkey-pem", signer.KeyFile() + "," + signer.CertFile()}, idAttrs...)
	args = append(args, "--node-xpath", xpath, "--output", out, in)
	if _, err := runXMLSec(t, args...); err != nil {
		t.Fatalf("samltest: signing: %v", err)
	}
	return readFile(t, out)
}

var sessionKeys = map[string]string{
	"http://www.w3.org/2001/04/xmlenc#aes128-cbc": "aes-128",
	"http://www.w3.org/2001/04/xmlenc#aes192-cbc": "aes-192",
	AES256CBC: "aes-256",
	AES128GCM: "aes-128",
	"http://www.w3.org/2009/xmlenc11#aes192-gcm": "aes-192",
	"http://www.w3.org/2009/xmlenc11#aes256-gcm": "aes-256",
}

// encryptAssertion replaces the first saml:Assertion child of the root with
// saml:EncryptedAssertion/xenc:EncryptedData, made by xmlsec1 --encrypt with a session key wrapped
// with RSA-OAEP to cert.
func encryptAssertion(t testing.TB, dir string, doc []byte, cert *x509.Certificate, alg string) []byte {
	t.Helper()
	if alg == "" {
		alg = AES256CBC
	}
	session, ok := sessionKeys[alg]
	if !ok {
		t.Fatalf("samltest: unknown Options.Encryption %q", alg)
	}
	tmpl := etree.NewDocument()
	ed := tmpl.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", NSXMLEnc)
	ed.CreateAttr("Type", NSXMLEnc+"Element")
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", alg)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", NSDSig)
	ek := ki.CreateElement("xenc:EncryptedKey")
	em := ek.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", RSAOAEP)
	em.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", SHA1)
	ek.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate")
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue")
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue")

	tmplFile, certFile := tempName(t, dir, "enc-template.xml"), tempName(t, dir, "sp-cert.pem")
	in, out := tempName(t, dir, "plain.xml"), tempName(t, dir, "encrypted.xml")
	writeFile(t, tmplFile, write(t, tmpl))
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	writeFile(t, in, doc)
	args := append([]string{"--encrypt", "--pubkey-cert-pem", certFile, "--session-key", session}, idAttrs...)
	args = append(args, "--xml-data", in, "--node-xpath", xpathAssertion, "--output", out, tmplFile)
	if _, err := runXMLSec(t, args...); err != nil {
		t.Fatalf("samltest: encrypting: %v", err)
	}
	res := parse(t, readFile(t, out))
	root := res.Root()
	data := child(root, NSXMLEnc, "EncryptedData")
	if data == nil {
		t.Fatalf("samltest: xmlsec1 --encrypt left no EncryptedData in the response")
	}
	wrap := etree.NewElement("saml:EncryptedAssertion")
	root.InsertChildAt(data.Index(), wrap)
	wrap.AddChild(data)
	return write(t, res)
}

// Verify checks with xmlsec1 the signature that xpath selects ("" = the first in document order)
// against cert alone: KeyInfo in the document is ignored (--enabled-key-data key-name), and only
// same-document references are allowed. It returns nil when the signature verifies, or an error
// carrying xmlsec1's output.
func Verify(t testing.TB, doc []byte, cert *x509.Certificate, xpath string) error {
	t.Helper()
	dir := tempDir(t)
	certFile, in := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "doc.xml")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	writeFile(t, in, doc)
	args := append([]string{"--verify", "--pubkey-cert-pem", certFile, "--enabled-key-data", "key-name",
		"--enabled-reference-uris", "empty,same-doc"}, idAttrs...)
	if xpath != "" {
		args = append(args, "--node-xpath", xpath)
	}
	args = append(args, in)
	_, err := runXMLSec(t, args...)
	return err
}

// VerifyElement checks with xmlsec1, as Verify does, the first signature of a
// document whose signed element is not a response or an assertion: idNode
// names that element as "namespace:LocalName" (its ID attribute is "ID"),
// such as "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor".
func VerifyElement(t testing.TB, doc []byte, cert *x509.Certificate, idNode string) error {
	t.Helper()
	dir := tempDir(t)
	certFile, in := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "doc.xml")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	writeFile(t, in, doc)
	_, err := runXMLSec(t, "--verify", "--pubkey-cert-pem", certFile, "--enabled-key-data", "key-name",
		"--enabled-reference-uris", "same-doc", "--id-attr:ID", idNode, in)
	return err
}

// VerifyEach verifies every ds:Signature of doc (in document order) against cert, as Verify does,
// and returns one result per signature (nil = verified).
func VerifyEach(t testing.TB, doc []byte, cert *x509.Certificate) []error {
	t.Helper()
	n := CountSignatures(t, doc)
	errs := make([]error, n)
	for k := 1; k <= n; k++ {
		errs[k-1] = Verify(t, doc, cert, XPathSignature(k))
	}
	return errs
}

// CountSignatures counts the ds:Signature elements of doc. Entities are not expanded.
func CountSignatures(t testing.TB, doc []byte) int {
	t.Helper()
	d := etree.NewDocument()
	d.ReadSettings.Permissive = true
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatalf("samltest: parsing: %v", err)
	}
	return len(descendants(d.Root(), NSDSig, "Signature"))
}

// --- small helpers ----------------------------------------------------------------------------

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatalf("samltest: %v", err)
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	return b
}

// tempDir is a fresh directory removed when t ends. Not t.TempDir(): its name derives from the
// test name, which may hold a comma, and xmlsec1 splits its key-file arguments on commas.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "samltest")
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	if strings.Contains(dir, ",") {
		os.RemoveAll(dir)
		t.Fatalf("samltest: temp dir %q holds a comma, which xmlsec1 cannot take in a key path: set TMPDIR", dir)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func tempName(t testing.TB, dir, pattern string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "*-"+pattern)
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	f.Close()
	return f.Name()
}

func parse(t testing.TB, b []byte) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil {
		t.Fatalf("samltest: parsing: %v", err)
	}
	if d.Root() == nil {
		t.Fatalf("samltest: parsing: no root element")
	}
	return d
}

func write(t testing.TB, d *etree.Document) []byte {
	t.Helper()
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatalf("samltest: writing: %v", err)
	}
	return b
}

// is reports whether e is the element {ns}local.
func is(e *etree.Element, ns, local string) bool {
	return e != nil && e.Tag == local && e.NamespaceURI() == ns
}

// child is the first child element {ns}local of e, or nil.
func child(e *etree.Element, ns, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}

func children(e *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// descendants are the elements {ns}local below e (e included), in document order.
func descendants(e *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	var walk func(*etree.Element)
	walk = func(x *etree.Element) {
		if is(x, ns, local) {
			out = append(out, x)
		}
		for _, c := range x.ChildElements() {
			walk(c)
		}
	}
	walk(e)
	return out
}

// descendant is the first element {ns}local below e in document order, or nil.
func descendant(e *etree.Element, ns, local string) *etree.Element {
	if d := descendants(e, ns, local); len(d) > 0 {
		return d[0]
	}
	return nil
}

var errNoElement = errors.New("samltest: element not found")

// must is x, failing t when x is nil.
func must(t testing.TB, x *etree.Element, what string) *etree.Element {
	t.Helper()
	if x == nil {
		t.Fatalf("%v: %s", errNoElement, what)
	}
	return x
}

// SignMessage signs, with xmlsec1 and the IdP's key (or signer's, when not
// nil), the root element of a SAML protocol message that is not a
// response (a LogoutRequest or LogoutResponse): an enveloped RSA-SHA256
// signature, exclusive c14n, placed after the root's Issuer. idNode names
// the root as "namespace:LocalName" for xmlsec1's ID lookup.
func (i *IdP) SignMessage(t testing.TB, doc []byte, idNode string, signer *IdP) []byte {
	t.Helper()
	if signer == nil {
		signer = i
	}
	d := parse(t, doc)
	root := d.Root()
	at := 0
	if iss := child(root, NSAssertion, "Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	root.InsertChildAt(at, signatureTemplate(root.SelectAttrValue("ID", ""), RSASHA256, SHA256))
	dir := tempDir(t)
	in, out := tempName(t, dir, "unsigned.xml"), tempName(t, dir, "signed.xml")
	writeFile(t, in, write(t, d))
	if _, err := runXMLSec(t, "--sign", "--privkey-pem", signer.KeyFile()+","+signer.CertFile(), "--id-attr:ID", idNode,
		"--node-xpath", XPathResponseSignature, "--output", out, in); err != nil {
		t.Fatalf("samltest: signing: %v", err)
	}
	return readFile(t, out)
}

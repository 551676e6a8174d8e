//go:build unix

package peers

// SAML 2.0 identity providers we did not write, as child processes on
// loopback (docs/testing.md): SimpleSAMLphp 1.19 served by `php -S`, and a
// pysaml2 7.0 IdP (e2e/saml/pysaml2_idp.py) on the stdlib http.server. Both
// sign the Response and the Assertion (or, per SP, the Response alone:
// SPOptions.SignResponseOnly) with RSA-SHA256 (SHA-256 digests) with a
// key generated per run, send an emailAddress NameID holding the user's email
// and the attributes uid, email, givenName, sn and groups (multi-valued) in
// the basic name format, take AuthnRequests over HTTP-Redirect and HTTP-POST,
// and do IdP-initiated login. Encrypted assertions (SPOptions) use
// RSA-OAEP-MGF1P key transport and AES-CBC (SimpleSAMLphp: AES-128, fixed;
// pysaml2: AES-256, see SAMLIdPOptions.TripleDES). Their configuration is
// generated per run in a t.TempDir() from the files in e2e/saml/; SPs are
// registered in a JSON file each IdP rereads on every request.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const samlHint = "run the tests with ./.ci/test, which installs them"

// Where Debian puts the peers.
const (
	simpleSAMLphpRoot = "/usr/share/simplesamlphp"
	systemPython      = "/usr/bin/python3" // the python3 first on PATH may not see Debian's packages
	xmlsec1Binary     = "/usr/bin/xmlsec1" // pysaml2 signs and encrypts with it
)

// SAMLUser is a test account at a SAML IdP.
type SAMLUser struct {
	Username, Password             string
	UID, Email, GivenName, Surname string
	Groups                         []string
}

// defaultSAMLUser is the account of an IdP started without Users.
var defaultSAMLUser = SAMLUser{
	Username: "alice", Password: "alice-password",
	UID: "alice", Email: "alice@example.com", GivenName: "Alice", Surname: "Liddell",
	Groups: []string{"staff", "wonderland"},
}

// SAMLIdPOptions configures a test IdP.
type SAMLIdPOptions struct {
	// Users are the accounts. Each needs Username (without ':'), Password
	// and Email (the NameID); UID defaults to Username; empty GivenName,
	// Surname and Groups are left out of the assertion. Without Users there
	// is one account: alice / alice-password, alice@example.com.
	Users []SAMLUser
	Log   io.Writer // optional: also receives the IdP process's output

	// GeneratedPrefixes (pysaml2 only) keeps the namespace prefixes pysaml2
	// makes up by default (ns0, ns1, …), which it redeclares for other
	// namespaces inside an EncryptedAssertion: valid XML that
	// crewjam/saml v0.5.1 cannot parse. By default the IdP registers the
	// usual prefixes (samlp, saml, ds, xenc, md) instead.
	GeneratedPrefixes bool
	// TripleDES (pysaml2 only) encrypts assertions with 3DES-CBC, pysaml2
	// 7.0's fixed choice; by default the IdP patches that to AES-256-CBC
	// (crewjam/saml v0.5.1 cannot decrypt 3DES; it takes the key for 8
	// bytes). Key transport is RSA-OAEP-MGF1P either way.
	TripleDES bool
}

// SAMLIdP is a running test IdP. Stopped by t.Cleanup.
type SAMLIdP struct {
	Kind        string // "simplesamlphp" or "pysaml2"
	BaseURL     string // http://127.0.0.1:PORT
	EntityID    string
	MetadataURL string // serves the IdP's metadata XML
	SSOURL      string // SingleSignOnService (HTTP-Redirect binding)
	SSOPostURL  string // SingleSignOnService (HTTP-POST binding)
	CertPEM     string // the IdP's signing certificate
	KeyPEM      string // its private key (tests may forge with it)

	idpInitiatedURL   string // GET with the SP's entity ID in spParam
	idpInitiatedParam string
	spsFile           string // the SP registry the IdP rereads on every request
	dir               string
	proc              *samlProc

	mu  sync.Mutex
	sps map[string]samlSPEntry
}

// SPOptions says how the IdP treats one SP.
type SPOptions struct {
	EncryptAssertions     bool // encrypt the assertion to the SP's encryption certificate from its metadata
	RequireSignedRequests bool // refuse AuthnRequests that are not signed by the SP's signing certificate from its metadata
	// SignResponseOnly signs the Response as a whole and leaves the
	// assertion inside unsigned (as Entra ID's "Sign SAML response" does;
	// SAML profiles §4.1.3.5 allow it). By default both are signed.
	SignResponseOnly bool
	// SLOBinding, when set, registers only the SP's SingleLogoutService of
	// that binding (a SAML bindings URI), so the IdP's logout messages to
	// the SP travel by it; by default every one in the SP's metadata is
	// registered and the IdP picks (SimpleSAMLphp: HTTP-Redirect first).
	SLOBinding string
}

// SAMLPost is an auto-submitting HTML form the IdP answered with.
type SAMLPost struct {
	Action string     // where the form posts (the SP's ACS URL)
	Fields url.Values // SAMLResponse, RelayState (when present)
}

// RequireSimpleSAMLphp fails t — never skips — unless php (with the DOM,
// mbstring and openssl extensions) and SimpleSAMLphp are installed. It
// returns the php binary.
func RequireSimpleSAMLphp(t testing.TB) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("php is not installed (Debian php-cli, php-xml, php-mbstring): the SAML tests run SimpleSAMLphp as an independent IdP; %s", samlHint)
	}
	out, err := exec.Command(php, "-r", `foreach (["dom", "mbstring", "openssl"] as $e) { if (!extension_loaded($e)) { echo $e, " "; } }`).CombinedOutput()
	if err != nil {
		t.Fatalf("php does not run: %v: %s; %s", err, out, samlHint)
	}
	if missing := strings.TrimSpace(string(out)); missing != "" {
		t.Fatalf("php lacks the extension(s) %s that SimpleSAMLphp needs (Debian php-xml, php-mbstring); %s", missing, samlHint)
	}
	for _, f := range []string{"www/saml2/idp/SSOService.php", "modules/exampleauth", "modules/saml"} {
		if _, err := os.Stat(filepath.Join(simpleSAMLphpRoot, f)); err != nil {
			t.Fatalf("simplesamlphp is not installed (%s missing; Debian simplesamlphp): the SAML tests run it as an independent IdP; %s", filepath.Join(simpleSAMLphpRoot, f), samlHint)
		}
	}
	return php
}

// RequirePySAML2 fails t — never skips — unless /usr/bin/python3 with the
// saml2 (pysaml2) and cryptography modules, and xmlsec1, are installed. It
// returns the python binary.
func RequirePySAML2(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		t.Fatalf("%s is not installed: the SAML tests run a pysaml2 IdP with Debian's python3 (Debian python3-pysaml2); %s", systemPython, samlHint)
	}
	out, err := exec.Command(systemPython, "-c", "import saml2, cryptography, importlib.metadata as m; print(m.version('pysaml2'))").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import the saml2 module (pysaml2; Debian python3-pysaml2): %v: %s; %s", systemPython, err, strings.TrimSpace(string(out)), samlHint)
	}
	if major, _ := strconv.Atoi(strings.SplitN(strings.TrimSpace(string(out)), ".", 2)[0]); major < 7 {
		t.Fatalf("pysaml2 %s is too old (the IdP script needs 7); %s", strings.TrimSpace(string(out)), samlHint)
	}
	if _, err := os.Stat(xmlsec1Binary); err != nil {
		t.Fatalf("xmlsec1 is not installed (%s; Debian xmlsec1): pysaml2 signs and encrypts with it; %s", xmlsec1Binary, samlHint)
	}
	return systemPython
}

// StartSimpleSAMLphp starts SimpleSAMLphp as an IdP (`php -S` on a free
// loopback port, with an exampleauth:UserPass source holding opts.Users).
// Its entity ID is its metadata URL, BaseURL/saml2/idp/metadata.php.
func StartSimpleSAMLphp(t testing.TB, opts SAMLIdPOptions) *SAMLIdP {
	t.Helper()
	php := RequireSimpleSAMLphp(t)
	if opts.GeneratedPrefixes || opts.TripleDES {
		t.Fatal("StartSimpleSAMLphp: GeneratedPrefixes and TripleDES are pysaml2 options")
	}
	users := samlUsers(t, opts.Users)
	dir := t.TempDir()
	for _, d := range []string{"config", "metadata", "cert", "log", "data", "tmp", "sessions"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := filepath.Join(Dir(t), "saml", "simplesamlphp")
	for f, to := range map[string]string{
		"config.php": "config", "authsources.php": "config",
		"saml20-idp-hosted.php": "metadata", "saml20-sp-remote.php": "metadata",
	} {
		b, err := os.ReadFile(filepath.Join(tmpl, f))
		if err != nil {
			t.Fatalf("SimpleSAMLphp template: %v", err)
		}
		writeFile(t, filepath.Join(dir, to, f), b)
	}
	certPEM, keyPEM := newSAMLSigningKey(t, "ssobroker test IdP (simplesamlphp)")
	writeFile(t, filepath.Join(dir, "cert", "idp.crt"), []byte(certPEM))
	writeFile(t, filepath.Join(dir, "cert", "idp.key"), []byte(keyPEM))

	type sspUser struct {
		Username   string              `json:"username"`
		Password   string              `json:"password"`
		Attributes map[string][]string `json:"attributes"`
	}
	var sspUsers []sspUser
	for _, u := range users {
		sspUsers = append(sspUsers, sspUser{u.Username, u.Password, u.attributes()})
	}

	for attempt := 1; ; attempt++ {
		port := freeLoopbackPort(t)
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		p := &SAMLIdP{
			Kind:              "simplesamlphp",
			BaseURL:           base,
			EntityID:          base + "/saml2/idp/metadata.php",
			MetadataURL:       base + "/saml2/idp/metadata.php",
			SSOURL:            base + "/saml2/idp/SSOService.php",
			SSOPostURL:        base + "/saml2/idp/SSOService.php",
			CertPEM:           certPEM,
			KeyPEM:            keyPEM,
			idpInitiatedURL:   base + "/saml2/idp/SSOService.php",
			idpInitiatedParam: "spentityid",
			spsFile:           filepath.Join(dir, "metadata", "sps.json"),
			dir:               dir,
			sps:               map[string]samlSPEntry{},
		}
		p.writeSPs(t)
		writeJSON(t, filepath.Join(dir, "config", "harness.json"), map[string]any{
			"dir":           dir,
			"port":          port,
			"baseurl":       base,
			"entityid":      p.EntityID,
			"secretsalt":    randomHex(t, 32),
			"adminpassword": randomHex(t, 16),
			"users":         sspUsers,
		})
		cmd := exec.Command(php,
			// The PHP files never change after the start (AddSP rewrites
			// sps.json, which PHP reads as data), so opcache is safe and
			// saves compiling SimpleSAMLphp on every request.
			"-d", "opcache.enable_cli=1",
			"-d", "display_errors=0", "-d", "log_errors=1", "-d", "error_log=",
			"-d", "session.save_path="+filepath.Join(dir, "sessions"),
			"-S", "127.0.0.1:"+strconv.Itoa(port),
			"-t", filepath.Join(simpleSAMLphpRoot, "www"))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+filepath.Join(dir, "config"))
		p.proc = startSAMLProc(t, "simplesamlphp (php -S)", cmd, opts.Log)
		err := p.proc.waitReady(p.MetadataURL, 30*time.Second)
		if err == nil {
			return p
		}
		out := p.proc.out.String()
		p.proc.stop()
		if attempt < 3 && p.proc.hasExited() && (strings.Contains(out, "Address already in use") || strings.Contains(out, "Failed to listen")) {
			continue // another process took the port between our probe and php
		}
		p.proc.shown = true
		t.Fatalf("SimpleSAMLphp did not start on %s: %v\noutput:\n%s", base, err, tail(out, 16<<10))
	}
}

// StartPySAML2 starts the pysaml2 IdP (e2e/saml/pysaml2_idp.py) on a free
// loopback port. Its entity ID is its metadata URL, BaseURL/metadata.
func StartPySAML2(t testing.TB, opts SAMLIdPOptions) *SAMLIdP {
	t.Helper()
	python := RequirePySAML2(t)
	users := samlUsers(t, opts.Users)
	dir := t.TempDir()
	certPEM, keyPEM := newSAMLSigningKey(t, "ssobroker test IdP (pysaml2)")
	writeFile(t, filepath.Join(dir, "idp.crt"), []byte(certPEM))
	writeFile(t, filepath.Join(dir, "idp.key"), []byte(keyPEM))
	p := &SAMLIdP{
		Kind:              "pysaml2",
		CertPEM:           certPEM,
		KeyPEM:            keyPEM,
		idpInitiatedParam: "sp",
		spsFile:           filepath.Join(dir, "sps.json"),
		dir:               dir,
		sps:               map[string]samlSPEntry{},
	}
	p.writeSPs(t)
	type pyUser struct {
		Username  string   `json:"username"`
		Password  string   `json:"password"`
		UID       string   `json:"uid"`
		Email     string   `json:"email"`
		GivenName string   `json:"givenName"`
		Surname   string   `json:"sn"`
		Groups    []string `json:"groups"`
	}
	var pyUsers []pyUser
	for _, u := range users {
		pyUsers = append(pyUsers, pyUser{u.Username, u.Password, u.UID, u.Email, u.GivenName, u.Surname, u.Groups})
	}
	settings := filepath.Join(dir, "settings.json")
	writeJSON(t, settings, map[string]any{
		"dir":       dir,
		"port":      0, // the script binds a free port and says which
		"key_file":  filepath.Join(dir, "idp.key"),
		"cert_file": filepath.Join(dir, "idp.crt"),
		"sps_file":  p.spsFile,
		"users":     pyUsers,

		"generated_prefixes": opts.GeneratedPrefixes,
		"triple_des":         opts.TripleDES,
	})
	cmd := exec.Command(python, filepath.Join(Dir(t), "saml", "pysaml2_idp.py"), settings)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PYTHONNOUSERSITE=1")
	p.proc = startSAMLProc(t, "pysaml2 IdP", cmd, opts.Log)
	line, err := p.proc.firstLine(30 * time.Second)
	var ready struct {
		Ready bool `json:"ready"`
		Port  int  `json:"port"`
	}
	if err == nil {
		if json.Unmarshal([]byte(line), &ready) != nil || !ready.Ready || ready.Port == 0 {
			err = fmt.Errorf("unexpected first line %q", line)
		}
	}
	if err != nil {
		p.proc.stop()
		p.proc.shown = true
		t.Fatalf("the pysaml2 IdP did not start: %v\noutput:\n%s", err, tail(p.proc.out.String(), 16<<10))
	}
	base := "http://127.0.0.1:" + strconv.Itoa(ready.Port)
	p.BaseURL = base
	p.EntityID = base + "/metadata"
	p.MetadataURL = base + "/metadata"
	p.SSOURL = base + "/sso/redirect"
	p.SSOPostURL = base + "/sso/post"
	p.idpInitiatedURL = base + "/idp-initiated"
	if err := p.proc.waitReady(p.MetadataURL, 30*time.Second); err != nil {
		p.proc.stop()
		p.proc.shown = true
		t.Fatalf("the pysaml2 IdP did not answer on %s: %v\noutput:\n%s", base, err, tail(p.proc.out.String(), 16<<10))
	}
	return p
}

// MetadataXML returns the IdP's metadata as served at MetadataURL.
func (p *SAMLIdP) MetadataXML(t testing.TB) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.MetadataURL)
	if err != nil {
		t.Fatalf("%s metadata: %v", p.Kind, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("%s metadata: %v", p.Kind, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s metadata: %s: %s", p.Kind, resp.Status, pageText(b))
	}
	return string(b)
}

// samlSPEntry is one SP in the registry file both IdPs reread on every
// request (sps.json; SimpleSAMLphp's saml20-sp-remote.php and the pysaml2
// script each read the fields they need).
type samlSPEntry struct {
	ACS                   []sspEndpoint `json:"acs"`
	SLO                   []sspEndpoint `json:"slo"` // SingleLogoutService (Redirect and POST)
	Keys                  []sspKey      `json:"keys"`
	SigningCerts          []string      `json:"signing_certs"` // PEM
	MetadataFile          string        `json:"metadata_file"`
	MetadataSHA256        string        `json:"metadata_sha256"` // a change of metadata alone is a change of the file
	EncryptAssertions     bool          `json:"encrypt_assertions"`
	RequireSignedRequests bool          `json:"require_signed_requests"`
	SignResponseOnly      bool          `json:"sign_response_only"`
}

type sspEndpoint struct {
	Binding          string `json:"Binding"`
	Location         string `json:"Location"`
	ResponseLocation string `json:"ResponseLocation,omitempty"`
	Index            int    `json:"index"`
}

type sspKey struct {
	Type            string `json:"type"`
	X509Certificate string `json:"X509Certificate"`
	Signing         bool   `json:"signing"`
	Encryption      bool   `json:"encryption"`
}

// spMetadata is what AddSP reads from SP metadata (elements matched by local
// name, in any namespace).
type spMetadata struct {
	XMLName  xml.Name
	EntityID string `xml:"entityID,attr"`
	SPSSO    []struct {
		Keys []struct {
			Use   string   `xml:"use,attr"`
			Certs []string `xml:"KeyInfo>X509Data>X509Certificate"`
		} `xml:"KeyDescriptor"`
		ACS []struct {
			Binding  string `xml:"Binding,attr"`
			Location string `xml:"Location,attr"`
			Index    string `xml:"index,attr"`
		} `xml:"AssertionConsumerService"`
		SLO []struct {
			Binding          string `xml:"Binding,attr"`
			Location         string `xml:"Location,attr"`
			ResponseLocation string `xml:"ResponseLocation,attr"`
		} `xml:"SingleLogoutService"`
	} `xml:"SPSSODescriptor"`
}

const bindingHTTPPost = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

// AddSP registers a service provider from its SAML metadata XML (an
// EntityDescriptor with an SPSSODescriptor: entityID, AssertionConsumerService
// HTTP-POST location, optional KeyDescriptors). Safe to call after Start, any
// number of times, for several SPs; takes effect for the next request. Adding
// an entity ID again replaces it. Only the HTTP-POST assertion consumer
// services are registered (the only response binding both IdPs send).
func (p *SAMLIdP) AddSP(t testing.TB, spMetadataXML string, o SPOptions) {
	t.Helper()
	var md spMetadata
	if err := xml.Unmarshal([]byte(spMetadataXML), &md); err != nil {
		t.Fatalf("AddSP: SP metadata is not XML: %v", err)
	}
	if md.XMLName.Local != "EntityDescriptor" || md.EntityID == "" || len(md.SPSSO) == 0 {
		t.Fatalf("AddSP: SP metadata must be an EntityDescriptor with an entityID and an SPSSODescriptor (got <%s entityID=%q>, %d SPSSODescriptor)", md.XMLName.Local, md.EntityID, len(md.SPSSO))
	}
	e := samlSPEntry{
		EncryptAssertions:     o.EncryptAssertions,
		RequireSignedRequests: o.RequireSignedRequests,
		SignResponseOnly:      o.SignResponseOnly,
		ACS:                   []sspEndpoint{},
		SLO:                   []sspEndpoint{},
		Keys:                  []sspKey{},
		SigningCerts:          []string{},
	}
	var encryptionCerts int
	for _, sso := range md.SPSSO {
		for _, acs := range sso.ACS {
			if acs.Binding != bindingHTTPPost {
				continue
			}
			u, err := url.Parse(acs.Location)
			if err != nil || !u.IsAbs() {
				t.Fatalf("AddSP %s: AssertionConsumerService Location %q is not an absolute URL", md.EntityID, acs.Location)
			}
			idx, err := strconv.Atoi(acs.Index)
			if err != nil {
				idx = len(e.ACS)
			}
			e.ACS = append(e.ACS, sspEndpoint{Binding: bindingHTTPPost, Location: acs.Location, Index: idx})
		}
		for _, slo := range sso.SLO {
			if o.SLOBinding != "" && slo.Binding != o.SLOBinding {
				continue
			}
			e.SLO = append(e.SLO, sspEndpoint{Binding: slo.Binding, Location: slo.Location, ResponseLocation: slo.ResponseLocation})
		}
		for _, kd := range sso.Keys {
			use := strings.TrimSpace(kd.Use)
			if use != "" && use != "signing" && use != "encryption" {
				t.Fatalf("AddSP %s: KeyDescriptor use=%q", md.EntityID, kd.Use)
			}
			for _, c := range kd.Certs {
				b64 := strings.Join(strings.Fields(c), "")
				der, err := base64.StdEncoding.DecodeString(b64)
				if err == nil {
					_, err = x509.ParseCertificate(der)
				}
				if err != nil {
					t.Fatalf("AddSP %s: bad X509Certificate in KeyDescriptor: %v", md.EntityID, err)
				}
				k := sspKey{Type: "X509Certificate", X509Certificate: b64, Signing: use != "encryption", Encryption: use != "signing"}
				e.Keys = append(e.Keys, k)
				if k.Signing {
					e.SigningCerts = append(e.SigningCerts, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
				}
				if k.Encryption {
					encryptionCerts++
				}
			}
		}
	}
	if len(e.ACS) == 0 {
		t.Fatalf("AddSP %s: the SP metadata has no AssertionConsumerService with the HTTP-POST binding", md.EntityID)
	}
	if o.EncryptAssertions && encryptionCerts == 0 {
		t.Fatalf("AddSP %s: EncryptAssertions, but the SP metadata has no KeyDescriptor for encryption", md.EntityID)
	}
	if o.RequireSignedRequests && len(e.SigningCerts) == 0 {
		t.Fatalf("AddSP %s: RequireSignedRequests, but the SP metadata has no KeyDescriptor for signing", md.EntityID)
	}
	sum := sha256.Sum256([]byte(md.EntityID))
	e.MetadataFile = filepath.Join(p.dir, "sp-"+hex.EncodeToString(sum[:8])+".xml")
	sum = sha256.Sum256([]byte(spMetadataXML))
	e.MetadataSHA256 = hex.EncodeToString(sum[:])

	p.mu.Lock()
	defer p.mu.Unlock()
	writeFile(t, e.MetadataFile, []byte(spMetadataXML))
	p.sps[md.EntityID] = e
	p.writeSPs(t)
}

// writeSPs replaces the registry file atomically (the IdP may be reading it).
func (p *SAMLIdP) writeSPs(t testing.TB) {
	t.Helper()
	writeJSON(t, p.spsFile, p.sps)
}

// Login plays the browser at the IdP for an SP-initiated login: start is the
// first request to the IdP (a GET of the SP's HTTP-Redirect URL, or a POST of
// the SP's HTTP-POST form with SAMLRequest/RelayState), c is the browser's
// client (a cookie jar; it must NOT follow redirects by itself — Login
// follows them one at a time and never leaves the IdP's host:port). It
// submits username/password on the IdP's login form and returns the
// auto-submit form the IdP answers with. A wrong password or an IdP error is
// an error that includes the IdP's page text (trimmed).
//
// Login uses a copy of c that never follows redirects itself, with its own
// cookie jar when c has none and a 30 s timeout when c has none. When the
// jar already holds a session at the IdP, the IdP may answer without asking
// for the password again (single sign-on); that answer is returned too.
func (p *SAMLIdP) Login(c *http.Client, start *http.Request, username, password string) (SAMLPost, error) {
	if start == nil {
		return SAMLPost{}, errors.New("Login: no start request")
	}
	cc := http.Client{}
	if c != nil {
		cc = *c
	}
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cc.Jar == nil {
		cc.Jar, _ = cookiejar.New(nil)
	}
	if cc.Timeout == 0 {
		cc.Timeout = 30 * time.Second
	}
	base, err := url.Parse(p.BaseURL)
	if err != nil {
		return SAMLPost{}, err
	}
	req := start
	submitted := false
	for step := 0; step < 20; step++ {
		if req.URL.Scheme != base.Scheme || req.URL.Host != base.Host {
			return SAMLPost{}, fmt.Errorf("%s IdP: refusing to leave the IdP (%s) for %s", p.Kind, p.BaseURL, req.URL.Redacted())
		}
		resp, err := cc.Do(req)
		if err != nil {
			return SAMLPost{}, fmt.Errorf("%s IdP: %s %s: %w", p.Kind, req.Method, req.URL.Path, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return SAMLPost{}, fmt.Errorf("%s IdP: %s %s: %w", p.Kind, req.Method, req.URL.Path, err)
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
			loc, err := resp.Location()
			if err != nil {
				return SAMLPost{}, fmt.Errorf("%s IdP: bad redirect from %s: %w", p.Kind, req.URL.Path, err)
			}
			if resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect {
				return SAMLPost{}, fmt.Errorf("%s IdP: %d redirect from %s %s to %s (a browser would resend the body; not supported)", p.Kind, resp.StatusCode, req.Method, req.URL.Path, loc.Redacted())
			}
			if req, err = http.NewRequest(http.MethodGet, loc.String(), nil); err != nil {
				return SAMLPost{}, err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return SAMLPost{}, fmt.Errorf("%s IdP answered %s %s with %s: %s", p.Kind, req.Method, req.URL.Path, resp.Status, pageText(body))
		}
		forms := parseHTMLForms(body)
		for _, f := range forms {
			if f.has("SAMLResponse") {
				action, err := req.URL.Parse(f.action)
				if err != nil {
					return SAMLPost{}, fmt.Errorf("%s IdP: bad form action %q: %w", p.Kind, f.action, err)
				}
				return SAMLPost{Action: action.String(), Fields: f.values()}, nil
			}
		}
		login := loginForm(forms)
		if login == nil {
			return SAMLPost{}, fmt.Errorf("%s IdP: unexpected page at %s %s: %s", p.Kind, req.Method, req.URL.Path, pageText(body))
		}
		if submitted {
			return SAMLPost{}, fmt.Errorf("%s IdP refused the login of %q: %s", p.Kind, username, pageText(body))
		}
		submitted = true
		if req, err = login.request(req.URL, username, password); err != nil {
			return SAMLPost{}, fmt.Errorf("%s IdP: login form: %w", p.Kind, err)
		}
	}
	return SAMLPost{}, fmt.Errorf("%s IdP: too many steps from %s", p.Kind, start.URL.Redacted())
}

// IdPInitiated logs in at the IdP without an AuthnRequest and returns the
// unsolicited response form for the SP with entity ID spEntityID
// (relayState, when not empty, is passed as RelayState).
func (p *SAMLIdP) IdPInitiated(c *http.Client, spEntityID, relayState, username, password string) (SAMLPost, error) {
	q := url.Values{p.idpInitiatedParam: {spEntityID}}
	if relayState != "" {
		q.Set("RelayState", relayState)
	}
	req, err := http.NewRequest(http.MethodGet, p.idpInitiatedURL+"?"+q.Encode(), nil)
	if err != nil {
		return SAMLPost{}, err
	}
	return p.Login(c, req, username, password)
}

// -- HTML ---------------------------------------------------------------------

type htmlInput struct{ name, typ, value string }

type htmlForm struct {
	action, method string
	inputs         []htmlInput
}

func (f *htmlForm) has(name string) bool {
	for _, in := range f.inputs {
		if in.name == name {
			return true
		}
	}
	return false
}

// values are the fields a browser submits without user input (checkboxes
// and radios only when checked are not modelled: the IdPs' forms have none).
func (f *htmlForm) values() url.Values {
	v := url.Values{}
	for _, in := range f.inputs {
		if in.name == "" || in.typ == "submit" || in.typ == "button" || in.typ == "reset" {
			continue
		}
		v.Add(in.name, in.value)
	}
	return v
}

// loginForm is the first form with a password field.
func loginForm(forms []*htmlForm) *htmlForm {
	for _, f := range forms {
		for _, in := range f.inputs {
			if in.typ == "password" {
				return f
			}
		}
	}
	return nil
}

// request fills the username (the field named username, else the first text
// or email field) and the password field and submits the form.
func (f *htmlForm) request(page *url.URL, username, password string) (*http.Request, error) {
	v := f.values()
	user := ""
	for _, in := range f.inputs {
		switch {
		case in.typ == "password":
			v.Set(in.name, password)
		case in.name == "username":
			user = in.name
		case user == "" && (in.typ == "text" || in.typ == "email" || in.typ == ""):
			user = in.name
		}
	}
	if user == "" {
		return nil, errors.New("no username field")
	}
	v.Set(user, username)
	action, err := page.Parse(f.action)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(f.method, "post") {
		req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(v.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}
	action.RawQuery = v.Encode()
	return http.NewRequest(http.MethodGet, action.String(), nil)
}

// parseHTMLForms returns the forms of an HTML page with their inputs.
func parseHTMLForms(page []byte) []*htmlForm {
	var forms []*htmlForm
	var cur *htmlForm
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return forms
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			attr := func(name string) (string, bool) {
				for _, a := range tok.Attr {
					if strings.EqualFold(a.Key, name) {
						return a.Val, true
					}
				}
				return "", false
			}
			switch {
			case tok.Data == "form" && tt == html.EndTagToken:
				cur = nil
			case tok.Data == "form":
				action, _ := attr("action")
				method, _ := attr("method")
				cur = &htmlForm{action: action, method: method}
				forms = append(forms, cur)
			case tok.Data == "input" && tt != html.EndTagToken && cur != nil:
				name, _ := attr("name")
				typ, _ := attr("type")
				value, _ := attr("value")
				cur.inputs = append(cur.inputs, htmlInput{name: name, typ: strings.ToLower(typ), value: value})
			}
		}
	}
}

// hiddenText are the elements whose text pageText leaves out (the title
// repeats the heading on both IdPs' pages).
var hiddenText = map[string]bool{"script": true, "style": true, "title": true}

// pageText is the visible text of an HTML page, whitespace collapsed, cut
// at 2000 bytes.
func pageText(page []byte) string {
	var b strings.Builder
	skip := 0
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			s := strings.Join(strings.Fields(b.String()), " ")
			if len(s) > 2000 {
				s = s[:2000] + "…"
			}
			return s
		case html.StartTagToken:
			if name, _ := z.TagName(); hiddenText[string(name)] {
				skip++
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); hiddenText[string(name)] && skip > 0 {
				skip--
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}

// -- processes ----------------------------------------------------------------

// samlProc is an IdP child process, in its own process group so that
// stopping it also stops what it started (xmlsec1 runs).
type samlProc struct {
	name     string
	cmd      *exec.Cmd
	out      *SyncBuffer // stdout and stderr
	lines    chan string // complete stdout lines, the first few
	exited   chan struct{}
	stopOnce sync.Once
	shown    bool // the output is in a failure message already
}

func startSAMLProc(t testing.TB, name string, cmd *exec.Cmd, log io.Writer) *samlProc {
	t.Helper()
	p := &samlProc{name: name, cmd: cmd, out: &SyncBuffer{}, lines: make(chan string, 16), exited: make(chan struct{})}
	attrs := ChildAttrs()
	if attrs == nil {
		attrs = &syscall.SysProcAttr{}
	}
	attrs.Setpgid = true
	cmd.SysProcAttr = attrs
	var stderr io.Writer = p.out
	if log != nil {
		// stdout and stderr are copied by two goroutines: one lock for log.
		stderr = &lockedWriter{w: io.MultiWriter(p.out, log)}
	}
	cmd.Stderr = stderr
	cmd.Stdout = &lineTee{w: stderr, lines: p.lines}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", name, cmd.Path, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() && log == nil && !p.shown {
			t.Logf("---- output of %s ----\n%s", name, tail(p.out.String(), 32<<10))
		}
	})
	return p
}

func (p *samlProc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop kills the process group. The group is signalled only while its
// leader is not yet reaped, so its ID cannot belong to anyone else.
func (p *samlProc) stop() {
	p.stopOnce.Do(func() {
		if !p.hasExited() {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

func (p *samlProc) firstLine(timeout time.Duration) (string, error) {
	select {
	case l := <-p.lines:
		return l, nil
	case <-p.exited:
		select {
		case l := <-p.lines:
			return l, nil
		default:
		}
		return "", fmt.Errorf("%s exited (%v)", p.name, p.cmd.ProcessState)
	case <-time.After(timeout):
		return "", fmt.Errorf("%s said nothing within %s", p.name, timeout)
	}
}

// waitReady polls the metadata URL until it serves an EntityDescriptor.
func (p *samlProc) waitReady(metadataURL string, timeout time.Duration) error {
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		resp, err := c.Get(metadataURL)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte("EntityDescriptor")) {
				return nil
			}
			err = fmt.Errorf("GET %s: %s: %s", metadataURL, resp.Status, pageText(b))
		}
		last = err
		if p.hasExited() {
			return fmt.Errorf("%s exited (%v); last: %v", p.name, p.cmd.ProcessState, last)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no metadata within %s: %v", timeout, last)
		}
		select {
		case <-p.exited:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// lineTee writes everything to w and sends the first complete lines to lines.
type lineTee struct {
	w     io.Writer
	lines chan string
	mu    sync.Mutex
	buf   []byte
}

func (l *lineTee) Write(b []byte) (int, error) {
	l.mu.Lock()
	if len(l.buf) < 64<<10 {
		l.buf = append(l.buf, b...)
		for {
			i := bytes.IndexByte(l.buf, '\n')
			if i < 0 {
				break
			}
			select {
			case l.lines <- string(l.buf[:i]):
			default:
			}
			l.buf = l.buf[i+1:]
		}
	}
	l.mu.Unlock()
	return l.w.Write(b)
}

// -- helpers ------------------------------------------------------------------

func samlUsers(t testing.TB, users []SAMLUser) []SAMLUser {
	t.Helper()
	if len(users) == 0 {
		users = []SAMLUser{defaultSAMLUser}
	}
	seen := map[string]bool{}
	out := make([]SAMLUser, 0, len(users))
	for _, u := range users {
		if u.Username == "" || strings.Contains(u.Username, ":") || u.Password == "" || u.Email == "" {
			t.Fatalf("SAML test user %q: Username (without ':'), Password and Email are required", u.Username)
		}
		if seen[u.Username] {
			t.Fatalf("SAML test user %q twice", u.Username)
		}
		seen[u.Username] = true
		if u.UID == "" {
			u.UID = u.Username
		}
		out = append(out, u)
	}
	return out
}

// attributes are the user's SAML attributes, empty ones left out.
func (u SAMLUser) attributes() map[string][]string {
	a := map[string][]string{"uid": {u.UID}, "email": {u.Email}}
	if u.GivenName != "" {
		a["givenName"] = []string{u.GivenName}
	}
	if u.Surname != "" {
		a["sn"] = []string{u.Surname}
	}
	if len(u.Groups) > 0 {
		a["groups"] = append([]string(nil), u.Groups...)
	}
	return a
}

// newSAMLSigningKey makes an RSA-2048 key and a self-signed certificate
// (SHA-256), PEM-encoded (the key as PKCS #8).
func newSAMLSigningKey(t testing.TB, cn string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"ssobroker tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}))
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

// writeFile writes atomically (a temporary file renamed over the target),
// readable by the owner only.
func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, append(b, '\n'))
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

package saml_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

// TestSPKeyRotation walks a rotation of the SP key: publish puts the next
// certificate in our metadata (signing and encryption) beside the current
// one while the current one still signs; both decrypt; activate makes the
// next one sign and keeps the old one for decryption only (no longer
// published); retire drops it. Steps out of order are refused.
func TestSPKeyRotation(t *testing.T) {
	r := newRig(t)
	seal := func(pt, ad []byte) ([]byte, error) {
		if string(ad) != "conn_test" {
			return nil, errors.New("sealed for another connection")
		}
		return append([]byte("sealed:"), pt...), nil
	}
	section, _ := json.Marshal(map[string]any{
		"metadata_xml":   r.idp.Metadata("https://idp.example.test/sso"),
		"sp_certificate": r.sp.certPEM,
		"sp_key_sealed":  []byte("sealed:" + string(r.sp.keyDER)),
	})
	step := func(t *testing.T, name string) directory.SPKeys {
		t.Helper()
		out, keys, err := saml.Configurator{}.RotateSPKey(context.Background(), idp.SPKeyRotation{
			ConnectionID: "conn_test", Section: section, Step: name, Seal: seal, Now: time.Now()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		section = out
		return keys
	}
	refused := func(t *testing.T, name, want string) {
		t.Helper()
		_, _, err := saml.Configurator{}.RotateSPKey(context.Background(), idp.SPKeyRotation{
			ConnectionID: "conn_test", Section: section, Step: name, Seal: seal, Now: time.Now()})
		var inv *directory.InvalidError
		if !errors.As(err, &inv) || inv.Field != "step" || !strings.Contains(inv.Message, want) {
			t.Fatalf("%s: %v, want a refusal saying %q", name, err, want)
		}
	}
	build := func(t *testing.T) *saml.Connector {
		t.Helper()
		c, err := saml.New(context.Background(), idp.FactoryInput{
			Config: idp.ConnectionConfig{SAML: section}, CallbackURL: acsURL, EntityID: entityID,
			OpenSecret: func(sealed []byte) ([]byte, error) { return sealed[len("sealed:"):], nil },
		})
		if err != nil {
			t.Fatalf("build connector: %v", err)
		}
		return c.(*saml.Connector)
	}
	// published lists the certificates of our metadata's KeyDescriptors by use.
	published := func(t *testing.T, c *saml.Connector) map[string][]string {
		t.Helper()
		md, _ := c.Metadata(context.Background())
		d := etree.NewDocument()
		if err := d.ReadFromBytes(md); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, kd := range d.FindElements("//KeyDescriptor") {
			out[kd.SelectAttrValue("use", "")] = append(out[kd.SelectAttrValue("use", "")], kd.FindElement(".//X509Certificate").Text())
		}
		return out
	}
	// signer is the certificate whose key signs our AuthnRequests.
	signer := func(t *testing.T, c *saml.Connector, certs ...*x509.Certificate) *x509.Certificate {
		t.Helper()
		req, err := c.AuthnRequest(context.Background(), "relay", acsURL, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, cert := range certs {
			if verifyRedirectSignature(req.URL, cert) == nil {
				return cert
			}
		}
		t.Fatalf("the AuthnRequest is signed by none of the SP certificates")
		return nil
	}
	// decrypts reports whether an assertion encrypted to cert signs in.
	decrypts := func(t *testing.T, c *saml.Connector, cert *x509.Certificate) bool {
		t.Helper()
		rr := &rig{idp: r.idp, sp: r.sp, conn: c, seen: map[string]bool{}}
		_, err := rr.post(r.idp.Response(t, r.params(), samltest.Options{Sign: samltest.SignBoth, EncryptTo: cert}), rr.expect())
		return err == nil
	}
	b64 := func(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }
	certOf := func(p string) *x509.Certificate {
		block, _ := pem.Decode([]byte(p))
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := r.sp.cert

	refused(t, directory.SPKeyActivate, "no next SP key")
	refused(t, directory.SPKeyRetire, "no previous SP key")
	refused(t, "rotate-everything", "step must be")

	keys := step(t, directory.SPKeyPublish)
	if keys.Next == nil || keys.Next.PublishedAt == nil || keys.Next.SHA256 == keys.Current.SHA256 || keys.Previous != nil {
		t.Fatalf("after publish %+v", keys)
	}
	next := certOf(keys.Next.Certificate)
	c := build(t)
	pub := published(t, c)
	for _, use := range []string{"signing", "encryption"} {
		if strings.Join(pub[use], ",") != b64(old)+","+b64(next) {
			t.Fatalf("after publish, %s KeyDescriptors: want the current and the next certificate, got %d", use, len(pub[use]))
		}
	}
	if signer(t, c, old, next) != old {
		t.Fatalf("the next key signs before it is activated")
	}
	if !decrypts(t, c, old) || !decrypts(t, c, next) {
		t.Fatalf("after publish both keys must decrypt")
	}
	refused(t, directory.SPKeyPublish, "already published")

	keys = step(t, directory.SPKeyActivate)
	if keys.Current.SHA256 == "" || certOf(keys.Current.Certificate).Equal(old) || keys.Previous == nil || keys.Next != nil {
		t.Fatalf("after activate %+v", keys)
	}
	c = build(t)
	pub = published(t, c)
	if strings.Join(pub["signing"], ",") != b64(next) || strings.Join(pub["encryption"], ",") != b64(next) {
		t.Fatalf("after activate our metadata must list only the new current certificate: %v", pub)
	}
	if signer(t, c, old, next) != next {
		t.Fatalf("the activated key does not sign")
	}
	if !decrypts(t, c, old) || !decrypts(t, c, next) {
		t.Fatalf("after activate the previous key must still decrypt")
	}
	refused(t, directory.SPKeyPublish, "retire it first")

	keys = step(t, directory.SPKeyRetire)
	if keys.Previous != nil || keys.Next != nil {
		t.Fatalf("after retire %+v", keys)
	}
	c = build(t)
	if decrypts(t, c, old) {
		t.Fatalf("a retired key still decrypts")
	}
	if !decrypts(t, c, next) {
		t.Fatalf("the current key does not decrypt")
	}

	// An admin's save keeps the rotation state: the key pairs are ours.
	step(t, directory.SPKeyPublish)
	var sent map[string]any
	_ = json.Unmarshal(section, &sent)
	delete(sent, "sp_next_certificate")
	delete(sent, "sp_next_key_sealed")
	sent["sp_certificate"] = "forged"
	raw, _ := json.Marshal(sent)
	prep, err := saml.Configurator{}.Validate(context.Background(), idp.ConfigureInput{Section: raw, Stored: section, Now: time.Now()})
	if err != nil || len(prep.Problems) > 0 {
		t.Fatalf("save: %v %v", err, prep.Problems)
	}
	var kept saml.Config
	_ = json.Unmarshal(prep.Section, &kept)
	var before saml.Config
	_ = json.Unmarshal(section, &before)
	if kept.SPNextCertificate != before.SPNextCertificate || kept.SPCertificate != before.SPCertificate || string(kept.SPNextKeySealed) != string(before.SPNextKeySealed) {
		t.Fatalf("a save changed the SP keys")
	}
}

// verifyRedirectSignature checks the query signature (RSA-SHA256) of an
// HTTP-Redirect binding URL against cert.
func verifyRedirectSignature(u string, cert *x509.Certificate) error {
	parsed, err := url.Parse(u)
	if err != nil {
		return err
	}
	raw := parsed.RawQuery
	i := strings.Index(raw, "&Signature=")
	if i < 0 {
		return errors.New("no Signature")
	}
	sig, err := base64.StdEncoding.DecodeString(parsed.Query().Get("Signature"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(raw[:i]))
	return rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig)
}

package saml

import (
	"strings"
	"testing"

	"crypto/x509"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

// The verifier vouches for a response handed to the library only when it is
// the very element goxmldsig verified first: another validly signed response
// (same IdP, same key) is refused, and so is any response when none was
// verified first.
func TestTheVerifierVouchesOnlyForTheVerifiedResponse(t *testing.T) {
	i := samltest.NewIdP(t, "https://idp.example.test/saml")
	p := samltest.Params{SPEntityID: "https://sp.example.test/md", ACSURL: "https://sp.example.test/acs", InResponseTo: "id-1", NameID: "ada@corp.example"}
	ctx := func() *dsig.ValidationContext {
		c := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{i.Cert}})
		c.IdAttribute = "ID"
		return c
	}
	root := func(doc []byte) *etree.Element {
		d := etree.NewDocument()
		if err := d.ReadFromBytes(doc); err != nil {
			t.Fatal(err)
		}
		return d.Root()
	}
	first := root(i.Response(t, p, samltest.Options{Sign: samltest.SignResponse}))
	p.NameID = "mallory@corp.example"
	other := root(i.Response(t, p, samltest.Options{Sign: samltest.SignResponse}))

	v := newVerifier()
	if err := v.VerifySignature(ctx(), first.Copy()); err == nil || !strings.Contains(err.Error(), "not the one whose signature was verified") {
		t.Fatalf("a response vouched for before any was verified: %v", err)
	}
	signed, err := v.verifyResponse(ctx(), first)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifySignature(ctx(), other); err == nil || v.responseVouched() {
		t.Fatalf("another signed response was vouched for: %v", err)
	}
	raw, err := asSigned(signed, directSignature(first))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifySignature(ctx(), root(raw)); err != nil || !v.responseVouched() {
		t.Fatalf("the verified response, as handed to the library, was refused: %v", err)
	}
	if strings.Contains(string(raw), "mallory") {
		t.Fatal("mixed up")
	}
}

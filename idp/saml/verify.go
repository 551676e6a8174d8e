package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Namespaces read here.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
)

// Algorithms we accept in a signature (docs/security.md: never SHA-1).
func allowedSignatureMethods() map[string]bool {
	return map[string]bool{
		dsig.RSASHA256SignatureMethod:   true,
		dsig.RSASHA384SignatureMethod:   true,
		dsig.RSASHA512SignatureMethod:   true,
		dsig.ECDSASHA256SignatureMethod: true,
		dsig.ECDSASHA384SignatureMethod: true,
		dsig.ECDSASHA512SignatureMethod: true,
	}
}

func allowedDigestMethods() map[string]bool {
	return map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#sha256":       true,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512":       true,
	}
}

func allowedTransforms() map[string]bool {
	return map[string]bool{
		string(dsig.EnvelopedSignatureAltorithmId):                  true,
		string(dsig.CanonicalXML10ExclusiveAlgorithmId):             true,
		string(dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId): true,
	}
}

// errRefused marks a document refused by our own checks, before or beside
// the library's.
var errRefused = errors.New("refused")

func refusef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errRefused}, args...)...)
}

// refuseDirectives fails on a DOCTYPE, an entity declaration or any other
// <!…> directive, and on documents that are not well-formed.
func refuseDirectives(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return refusef("not well-formed XML: %v", err)
		}
		if _, ok := tok.(xml.Directive); ok {
			return refusef("the document carries a DOCTYPE or another <!…> directive")
		}
	}
}

// preflight checks the shape of a decoded SAMLResponse before the library
// reads it: no directives, a samlp:Response root, exactly one assertion
// (plain or encrypted) as a child of the root and none anywhere else, IDs
// unique in the document, and no comments inside an assertion (exclusive
// canonicalization ignores comments, so a comment can split a signed value:
// "admin@corp.com<!---->.evil.com").
//
// It returns the parsed document.
func preflight(doc []byte) (*etree.Document, error) {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		// A DOCTYPE declaring entities fails here (entities are never
		// expanded); say so precisely.
		if derr := refuseDirectives(doc); derr != nil {
			return nil, derr
		}
		return nil, refusef("not well-formed XML: %v", err)
	}
	for _, tok := range d.Child {
		if _, ok := tok.(*etree.Directive); ok {
			return nil, refusef("the document carries a DOCTYPE or another <!…> directive")
		}
	}
	root := d.Root()
	if root == nil || root.Tag != "Response" || root.NamespaceURI() != nsProtocol {
		return nil, refusef("the document is not a samlp:Response")
	}
	direct := 0
	for _, ch := range root.ChildElements() {
		if ch.NamespaceURI() == nsAssertion && (ch.Tag == "Assertion" || ch.Tag == "EncryptedAssertion") {
			direct++
		}
	}
	if direct != 1 {
		return nil, refusef("the response carries %d assertions, exactly one is accepted", direct)
	}
	ids := map[string]bool{}
	assertions := 0
	var walk func(el *etree.Element, inAssertion bool) error
	walk = func(el *etree.Element, inAssertion bool) error {
		if el.NamespaceURI() == nsAssertion && (el.Tag == "Assertion" || el.Tag == "EncryptedAssertion") {
			assertions++
			inAssertion = true
		}
		for _, a := range el.Attr {
			if a.Key == "ID" || a.Key == "Id" || a.Key == "id" {
				if ids[a.Value] {
					return refusef("the ID %q appears twice in the document", clip(a.Value))
				}
				ids[a.Value] = true
			}
		}
		for _, tok := range el.Child {
			switch t := tok.(type) {
			case *etree.Comment:
				if inAssertion {
					return refusef("the assertion contains an XML comment")
				}
			case *etree.Directive:
				return refusef("the document carries a DOCTYPE or another <!…> directive")
			case *etree.Element:
				if err := walk(t, inAssertion); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root, false); err != nil {
		return nil, err
	}
	if assertions != 1 {
		return nil, refusef("the document carries %d assertions (some nested), exactly one is accepted", assertions)
	}
	return d, nil
}

// directSignature returns el's ds:Signature child, or nil.
func directSignature(el *etree.Element) *etree.Element {
	for _, ch := range el.ChildElements() {
		if ch.Tag == "Signature" && ch.NamespaceURI() == nsDSig {
			return ch
		}
	}
	return nil
}

// withoutKeyInfoUnlessCertificate removes the KeyInfo of el's signature
// when it names no certificate, so the configured certificates are used
// (the library does the same for assertions).
func withoutKeyInfoUnlessCertificate(el *etree.Element) {
	if el.FindElement("./Signature/KeyInfo/X509Data/X509Certificate") != nil {
		return
	}
	if sig := el.FindElement("./Signature"); sig != nil {
		if ki := sig.FindElement("KeyInfo"); ki != nil {
			sig.RemoveChild(ki)
		}
	}
}

// verifier is the signature check the library calls for every signed
// element (its SignatureVerifier hook). Beside the library's own check it
// pins the signature's shape and algorithms and records which elements
// were verified, so the connector can require that the assertion it reads
// is itself one of them, or sits in the response whose signature was
// verified. One verifier serves one response.
type verifier struct {
	mu       sync.Mutex
	verified map[string]string // ID → local name of the verified element
	// signed is the response as goxmldsig verified it (its canonical
	// form, signature removed), serialized; set by verifyResponse.
	signed []byte
	// vouched is the ID of the response the library was handed as signed,
	// when goxmldsig verified it again and it is the very element signed.
	vouched string
}

func newVerifier() *verifier { return &verifier{verified: map[string]string{}} }

// validate checks el's signature shape and has goxmldsig verify it; it
// returns the element goxmldsig verified (canonical, signature removed).
func (v *verifier) validate(ctx *dsig.ValidationContext, el *etree.Element) (*etree.Element, error) {
	id := el.SelectAttrValue("ID", "")
	if id == "" {
		return nil, refusef("a signed %s has no ID", el.Tag)
	}
	if err := checkSignatureShape(el, id); err != nil {
		return nil, err
	}
	if el.Tag == "Assertion" {
		if len(el.FindElements(".//Assertion")) > 0 {
			return nil, refusef("an assertion nested in the signed assertion")
		}
		if hasComment(el) {
			return nil, refusef("the assertion contains an XML comment")
		}
	}
	signed, err := ctx.Validate(el)
	if err != nil {
		return nil, fmt.Errorf("signature of %s: %w", el.Tag, err)
	}
	if signed == nil || signed.Tag != el.Tag || signed.SelectAttrValue("ID", "") != id {
		return nil, refusef("the signed element is not the %s %q", el.Tag, clip(id))
	}
	v.mu.Lock()
	v.verified[id] = el.Tag
	v.mu.Unlock()
	return signed, nil
}

// VerifySignature implements crewjam/saml's SignatureVerifier.
//
// The library calls it for a Response only when the connector handed it
// the response as verifyResponse returned it (the response-signed form,
// see saml.go): then the element must verify again and be, byte for byte,
// the one verified first.
func (v *verifier) VerifySignature(ctx *dsig.ValidationContext, el *etree.Element) error {
	signed, err := v.validate(ctx, el)
	if err != nil {
		return err
	}
	if el.Tag != "Response" {
		return nil
	}
	got, err := serialize(signed)
	if err != nil {
		return refusef("the signed response cannot be written: %v", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.signed == nil || !bytes.Equal(got, v.signed) {
		return refusef("the response handed to the library is not the one whose signature was verified")
	}
	v.vouched = signed.SelectAttrValue("ID", "")
	return nil
}

// verifyResponse verifies the signature of the response root (the
// document's root element) with goxmldsig and returns the element it
// verified: the response as signed, in canonical form, without its
// signature. Nothing outside it was signed.
func (v *verifier) verifyResponse(ctx *dsig.ValidationContext, root *etree.Element) (*etree.Element, error) {
	signed, err := v.validate(ctx, root)
	if err != nil {
		return nil, err
	}
	b, err := serialize(signed)
	if err != nil {
		return nil, refusef("the signed response cannot be written: %v", err)
	}
	v.mu.Lock()
	v.signed = b
	v.mu.Unlock()
	return signed, nil
}

// signedAssertion reports whether the assertion with id was verified by
// its own signature.
func (v *verifier) signedAssertion(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return id != "" && v.verified[id] == "Assertion"
}

// responseVouched reports whether the library read the response whose
// signature was verified (the response-signed form).
func (v *verifier) responseVouched() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.vouched != "" && v.verified[v.vouched] == "Response"
}

// serialize writes el as a document of its own.
func serialize(el *etree.Element) ([]byte, error) {
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	return d.WriteToBytes()
}

// asSigned is the document the library reads for a response signed as a
// whole with an unsigned assertion inside: the response as goxmldsig
// verified it (signed), with a copy of its signature (sig, carried over
// with its namespace declarations) after the Issuer, so the library sees a
// signed response, asks the verifier about it, and reads the assertion of
// the verified element and nothing else.
func asSigned(signed, sig *etree.Element) ([]byte, error) {
	nsctx, err := etreeutils.NSBuildParentContext(sig)
	if err != nil {
		return nil, err
	}
	if nsctx, err = nsctx.SubContext(sig); err != nil {
		return nil, err
	}
	sigCopy, err := etreeutils.NSDetatch(nsctx, sig)
	if err != nil {
		return nil, err
	}
	root := signed.Copy()
	at := 0
	for _, ch := range root.ChildElements() {
		if ch.Tag == "Issuer" && ch.NamespaceURI() == nsAssertion {
			at = ch.Index() + 1
			break
		}
	}
	root.InsertChildAt(at, sigCopy)
	d := etree.NewDocument()
	d.SetRoot(root)
	return d.WriteToBytes()
}

// checkSignatureShape requires exactly one ds:Signature child of el, no
// other signature in el that claims to sign it, one Reference to "#"+id,
// and only allowed transforms, signature and digest methods.
func checkSignatureShape(el *etree.Element, id string) error {
	var direct []*etree.Element
	for _, ch := range el.ChildElements() {
		if ch.Tag == "Signature" && ch.NamespaceURI() == nsDSig {
			direct = append(direct, ch)
		}
	}
	if len(direct) != 1 {
		return refusef("%s has %d signatures, expected one", el.Tag, len(direct))
	}
	claims := 0
	for _, sig := range el.FindElements(".//Signature") {
		if sig.NamespaceURI() != nsDSig {
			continue
		}
		for _, ref := range sig.FindElements("./SignedInfo/Reference") {
			// An empty URI (the whole document) is not a SAML reference
			// (SAML core §5.4.2) and would claim every element.
			if uri := ref.SelectAttrValue("URI", ""); uri == "#"+id || uri == "" {
				claims++
			}
		}
	}
	if claims != 1 {
		return refusef("%d signature references claim %s %q, expected one", claims, el.Tag, clip(id))
	}
	sig := direct[0]
	refs := sig.FindElements("./SignedInfo/Reference")
	if len(refs) != 1 || refs[0].SelectAttrValue("URI", "") != "#"+id {
		return refusef("the signature of %s must have exactly one Reference, to #%s", el.Tag, clip(id))
	}
	sm := sig.FindElement("./SignedInfo/SignatureMethod")
	if sm == nil || !allowedSignatureMethods()[sm.SelectAttrValue("Algorithm", "")] {
		alg := ""
		if sm != nil {
			alg = sm.SelectAttrValue("Algorithm", "")
		}
		return refusef("signature method %q is not allowed (SHA-256 or stronger)", clip(alg))
	}
	dm := refs[0].FindElement("./DigestMethod")
	if dm == nil || !allowedDigestMethods()[dm.SelectAttrValue("Algorithm", "")] {
		alg := ""
		if dm != nil {
			alg = dm.SelectAttrValue("Algorithm", "")
		}
		return refusef("digest method %q is not allowed (SHA-256 or stronger)", clip(alg))
	}
	for _, t := range refs[0].FindElements("./Transforms/Transform") {
		if !allowedTransforms()[t.SelectAttrValue("Algorithm", "")] {
			return refusef("transform %q is not allowed", clip(t.SelectAttrValue("Algorithm", "")))
		}
	}
	return nil
}

func hasComment(el *etree.Element) bool {
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Comment:
			return true
		case *etree.Element:
			if hasComment(t) {
				return true
			}
		}
	}
	return false
}

// clip bounds a value from a response for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

package samltest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// Case is one hostile response: Build returns the XML to post; the SP must refuse it.
type Case struct {
	Name string // e.g. "XSW1 response wrapping"
	Why  string // the attack in one sentence
	// Base is the signing of the valid response the case starts from: the untampered
	// Response(t, p, Options{Sign: Base}) is what the SP must accept.
	Base Sign
	// Evil, when not "", is the identity (NameID or email attribute value) that an SP fooled by
	// the case comes out with; "" when the case carries the legitimate user's identity and the
	// attack is a misuse of a genuine assertion (expired, wrong audience, ...).
	Evil  string
	Build func(t testing.TB, i *IdP, p Params) []byte
}

// Hostile returns the catalogue. Each case starts from a valid response for p (as
// Response(t, p, Options{Sign: c.Base}) would build) and breaks exactly one thing.
//
// Signature wrapping (XSW1–XSW8) follows Somorovsky et al., "On Breaking SAML: Be Whoever You Want
// to Be" (USENIX Security 2012) and SAML Raider's XSW1–8: XSW1 and XSW2 wrap the response
// signature (so they start from a response-only signature), XSW3–XSW8 the assertion signature (so
// they start from an assertion-only signature: a response signature over the whole document would
// otherwise break first and hide whether the SP resists the wrapping). The evil element always
// carries EvilNameID, as NameID and as the email attribute.
func Hostile() []Case { return hostile(SignBoth) }

// HostileResponseSigned returns the catalogue's cases that start from a response signed as a
// whole and its assertion (Base SignBoth) once more, built from a response whose signature covers
// the whole Response and whose assertion is unsigned (the form Entra ID sends with "Sign SAML
// response"; SAML profiles §4.1.3.5): their Base is SignResponse and their Name ends with
// ResponseSignedSuffix. The cases that already start from another form are left out.
func HostileResponseSigned() []Case {
	both, resp := hostile(SignBoth), hostile(SignResponse)
	var out []Case
	for k := range both {
		if both[k].Base == SignBoth && resp[k].Base == SignResponse {
			c := resp[k]
			c.Name += ResponseSignedSuffix
			out = append(out, c)
		}
	}
	return out
}

// ResponseSignedSuffix ends the names of HostileResponseSigned's cases.
const ResponseSignedSuffix = " (response signed only)"

// hostile is the catalogue, with def the signing of the cases that start from a response signed
// as a whole (SignBoth, or SignResponse for HostileResponseSigned).
func hostile(def Sign) []Case {
	return []Case{
		// --- signature wrapping -------------------------------------------------------------
		{
			Name: "XSW1 response wrapping: signed response inside the Signature's Object",
			Why:  "the signed response, stripped of its signature, is moved into ds:Signature/ds:Object of an evil response (new ID, evil assertion) that keeps the original signature, whose reference still resolves to the copy",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswResponse(t, i, p, true)
			},
		},
		{
			Name: "XSW2 response wrapping: signed response beside the signature",
			Why:  "as XSW1, but the signed response copy is a sibling placed before the (now detached) signature in the evil response",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswResponse(t, i, p, false)
			},
		},
		{
			Name: "XSW3 assertion wrapping: evil assertion (new ID) before the signed one",
			Why:  "an unsigned evil assertion with another ID is inserted before the signed assertion; an SP that verifies by ID but reads the first assertion reads the evil one",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswAssertion(t, i, p, func(t testing.TB, resp, orig *etree.Element) {
					evil := evilCopy(orig, p.NameID, true)
					resp.InsertChildAt(orig.Index(), evil)
				})
			},
		},
		{
			Name: "XSW3 assertion wrapping: evil assertion with the same ID before the signed one",
			Why:  "an unsigned evil assertion carrying the signed assertion's own ID is inserted before it, so an ID lookup may resolve to either",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswAssertion(t, i, p, func(t testing.TB, resp, orig *etree.Element) {
					evil := evilCopy(orig, p.NameID, false)
					resp.InsertChildAt(orig.Index(), evil)
				})
			},
		},
		{
			Name: "XSW4 assertion wrapping: evil assertion wraps the signed one",
			Why:  "an unsigned evil assertion takes the signed assertion's place and contains it as its last child",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswAssertion(t, i, p, func(t testing.TB, resp, orig *etree.Element) {
					evil := evilCopy(orig, p.NameID, true)
					resp.InsertChildAt(orig.Index(), evil)
					evil.AddChild(orig)
				})
			},
		},
		{
			Name: "XSW5 assertion wrapping: evil assertion carries the signature, original appended",
			Why:  "the assertion in place is made evil (new ID) but keeps the signature, and an unsigned copy of the original is appended at the end of the response for the reference to resolve to",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswAssertion(t, i, p, func(t testing.TB, resp, orig *etree.Element) {
					clean := stripSignature(orig.Copy())
					evilize(orig, p.NameID, NewID())
					resp.AddChild(clean)
				})
			},
		},
		{
			Name: "XSW6 assertion wrapping: evil assertion carries the signature, original inside the signature",
			Why:  "as XSW5, but the unsigned copy of the original is placed inside the evil assertion's ds:Signature",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswAssertion(t, i, p, func(t testing.TB, resp, orig *etree.Element) {
					clean := stripSignature(orig.Copy())
					evilize(orig, p.NameID, NewID())
					must(t, child(orig, NSDSig, "Signature"), "assertion Signature").AddChild(clean)
				})
			},
		},
		{
			Name: "XSW7 assertion wrapping: signed assertion inside Extensions, evil assertion after",
			Why:  "the signed assertion is moved into a samlp:Extensions element (schema-valid anywhere) and an unsigned evil assertion (new ID) takes its place as the response's assertion",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswAssertion(t, i, p, func(t testing.TB, resp, orig *etree.Element) {
					evil := evilCopy(orig, p.NameID, true)
					resp.InsertChildAt(orig.Index(), evil)
					ext := etree.NewElement("samlp:Extensions")
					issuer := must(t, child(resp, NSAssertion, "Issuer"), "response Issuer")
					resp.InsertChildAt(issuer.Index()+1, ext)
					ext.AddChild(orig)
				})
			},
		},
		{
			Name: "XSW8 assertion wrapping: original without signature inside the evil assertion's Signature/Object",
			Why:  "the assertion in place is made evil (new ID) and keeps the signature, whose new ds:Object holds an unsigned copy of the original for the reference to resolve to",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return xswAssertion(t, i, p, func(t testing.TB, resp, orig *etree.Element) {
					clean := stripSignature(orig.Copy())
					evilize(orig, p.NameID, NewID())
					sig := must(t, child(orig, NSDSig, "Signature"), "assertion Signature")
					sig.CreateElement("ds:Object").AddChild(clean)
				})
			},
		},

		// --- wrapping aimed at a response signed as a whole (its assertion unsigned) ----------
		{
			Name: "response-signed XSW: evil assertion inside the response Signature's Object",
			Why:  "the enveloped-signature transform drops the whole ds:Signature from the digest, so an evil assertion put in a new ds:Object of the response's signature leaves it valid; an SP that reads any assertion in the document reads the evil one",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				d := parse(t, i.Response(t, p, Options{Sign: SignResponse}))
				orig := must(t, child(d.Root(), NSAssertion, "Assertion"), "Assertion")
				sig := must(t, child(d.Root(), NSDSig, "Signature"), "response Signature")
				sig.CreateElement("ds:Object").AddChild(evilCopy(orig, p.NameID, true))
				return write(t, d)
			},
		},
		{
			Name: "response-signed XSW: signed response inside the Extensions of an evil response",
			Why:  "an evil, unsigned response (new ID, evil assertion) carries the genuine signed response in samlp:Extensions: a signature verifies somewhere in the document, and an SP that then reads the root's assertion reads the evil one",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return wrapSignedResponse(t, i, p, NewID())
			},
		},
		{
			Name: "response-signed XSW: evil response with the signed response's ID, the signed one inside its Extensions",
			Why:  "as the previous case, the evil root response taking the signed response's own ID, so an ID lookup may resolve to either",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return wrapSignedResponse(t, i, p, "")
			},
		},
		{
			Name: "response-signed XSW: signed response without an assertion, evil assertion in its Signature's Object",
			Why:  "the IdP signed a response that carries no assertion; the evil assertion sits outside the signed content (in the signature's ds:Object, dropped by the enveloped transform), so the signature still verifies",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				var evil *etree.Element
				d := parse(t, i.Response(t, p, Options{Sign: SignResponse, Edit: func(d *etree.Document) {
					a := child(d.Root(), NSAssertion, "Assertion")
					evil = evilCopy(a, p.NameID, true)
					d.Root().RemoveChild(a)
				}}))
				sig := must(t, child(d.Root(), NSDSig, "Signature"), "response Signature")
				sig.CreateElement("ds:Object").AddChild(evil)
				return write(t, d)
			},
		},
		{
			Name: "response-signed XSW: evil assertion added to a signed response that had none",
			Why:  "the IdP signed a response that carries no assertion; an evil assertion appended as its child after signing breaks the response digest",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				var evil *etree.Element
				d := parse(t, i.Response(t, p, Options{Sign: SignResponse, Edit: func(d *etree.Document) {
					a := child(d.Root(), NSAssertion, "Assertion")
					evil = evilCopy(a, p.NameID, true)
					d.Root().RemoveChild(a)
				}}))
				d.Root().AddChild(evil)
				return write(t, d)
			},
		},

		// --- content the signature does not see -----------------------------------------------
		{
			Name: "comment injection in NameID",
			Why:  "the IdP signs the attacker's own NameID " + EvilNameID + ".evil.example; a comment inserted after signing (exc-c14n drops comments, so both signatures still verify) makes an SP that reads only the first text node see " + EvilNameID,
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				p.NameID = EvilNameID + ".evil.example"
				b := i.Response(t, p, Options{Sign: def})
				return replaceOnce(t, b, ">"+p.NameID+"</saml:NameID>", ">"+EvilNameID+"<!---->.evil.example</saml:NameID>")
			},
		},
		{
			Name: "comment injection in the email attribute",
			Why:  "as the NameID comment injection, in the email attribute value: signed " + EvilNameID + ".evil.example, read as " + EvilNameID + " by a first-text-node reader",
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				p.Attributes = withAttr(p.Attributes, "email", EvilNameID+".evil.example")
				b := i.Response(t, p, Options{Sign: def})
				return replaceOnce(t, b, ">"+EvilNameID+".evil.example</saml:AttributeValue>", ">"+EvilNameID+"<!---->.evil.example</saml:AttributeValue>")
			},
		},
		{
			Name: "DOCTYPE with an internal entity in NameID",
			Why:  "the signed NameID " + EvilNameID + ".evil.example is rewritten as " + EvilNameID + "&hide; with <!ENTITY hide \".evil.example\"> in an internal DTD subset: the signature verifies after expansion, while a reader that does not expand entities sees another identity; any DOCTYPE must be refused",
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				p.NameID = EvilNameID + ".evil.example"
				b := i.Response(t, p, Options{Sign: def})
				b = replaceOnce(t, b, ">"+p.NameID+"</saml:NameID>", ">"+EvilNameID+"&hide;</saml:NameID>")
				return withDoctype(t, b, `<!ENTITY hide ".evil.example">`)
			},
		},
		{
			Name: "DOCTYPE billion laughs in NameID",
			Why:  "nine levels of entities, each ten references to the one below (3 GB once expanded), used as the NameID text: an SP that expands entities runs out of memory before it can refuse",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				b := i.Response(t, p, Options{Sign: def})
				b = replaceOnce(t, b, ">"+xmlText(p.NameID)+"</saml:NameID>", ">&lol9;</saml:NameID>")
				var dtd strings.Builder
				dtd.WriteString(`<!ENTITY lol0 "lol">`)
				for k := 1; k <= 9; k++ {
					fmt.Fprintf(&dtd, `<!ENTITY lol%d "%s">`, k, strings.Repeat(fmt.Sprintf("&lol%d;", k-1), 10))
				}
				return withDoctype(t, b, dtd.String())
			},
		},

		// --- signatures -------------------------------------------------------------------------
		{
			Name: "assertion replaced after the response was signed",
			Why:  "the response signature was made over another assertion: the signed assertion is swapped for an unsigned evil one, so the response digest no longer matches",
			Base: SignResponse, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				d := parse(t, i.Response(t, p, Options{Sign: SignResponse}))
				orig := must(t, child(d.Root(), NSAssertion, "Assertion"), "Assertion")
				evilize(orig, p.NameID, NewID())
				return write(t, d)
			},
		},
		{
			Name: "neither response nor assertion signed",
			Why:  "no signature at all: anyone can write this response, here naming the evil user",
			Base: SignBoth, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: SignNone, Edit: evilEdit(p.NameID)})
			},
		},
		{
			Name: "two assertions: unsigned evil assertion appended, response signed over both",
			Why:  "a validly signed response carries the signed assertion and, after it, a second unsigned evil assertion; an SP must accept exactly one assertion (Dex #895)",
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					orig := child(d.Root(), NSAssertion, "Assertion")
					d.Root().AddChild(evilCopy(orig, p.NameID, true))
				}})
			},
		},
		{
			Name: "two assertions: unsigned evil assertion first, response signed over both",
			Why:  "as the previous case with the evil assertion before the signed one, for SPs that read the first assertion",
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					orig := child(d.Root(), NSAssertion, "Assertion")
					d.Root().InsertChildAt(orig.Index(), evilCopy(orig, p.NameID, true))
				}})
			},
		},
		{
			Name: "unknown key: response and assertion signed by the attacker, attacker's certificate in KeyInfo",
			Why:  "both signatures are valid but made by a key the SP never configured, whose certificate travels in KeyInfo: an SP that trusts the certificate in the message accepts it (Casdoor GHSA-fwgq-j9r9-qjgr)",
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, SignWith: NewIdP(t, i.EntityID), Edit: evilEdit(p.NameID)})
			},
		},
		{
			Name: "unknown key: assertion alone signed by the attacker, attacker's certificate in KeyInfo",
			Why:  "as the previous case, with the response unsigned, so the assertion signature is the only one to check",
			Base: SignAssertion, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: SignAssertion, SignWith: NewIdP(t, i.EntityID), Edit: evilEdit(p.NameID)})
			},
		},
		{
			Name: "unknown key with the IdP's certificate in KeyInfo",
			Why:  "both signatures are made by the attacker's key but KeyInfo names the IdP's genuine certificate, so an SP that matches KeyInfo against its configured certificates must still check the signature value with it",
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				d := parse(t, i.Response(t, p, Options{Sign: def, SignWith: NewIdP(t, i.EntityID), Edit: evilEdit(p.NameID)}))
				for _, c := range descendants(d.Root(), NSDSig, "X509Certificate") {
					c.SetText(i.CertBase64())
				}
				return write(t, d)
			},
		},
		{
			Name: "SHA-1 signature and digest",
			Why:  "both signatures use rsa-sha1 and sha1 digests, which the SP must refuse (crewjam/goxmldsig accept them)",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, SHA1: true})
			},
		},
		{
			Name: "SHA-1 digest with an RSA-SHA256 signature",
			Why:  "the references are digested with sha1 while SignedInfo is signed with rsa-sha256: a check of the signature method alone misses it",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, DigestMethod: SHA1})
			},
		},
		{
			Name: "RSA-SHA1 signature with a SHA-256 digest",
			Why:  "SignedInfo is signed with rsa-sha1 while the references use sha256: a check of the digest method alone misses it",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, SignatureMethod: RSASHA1})
			},
		},
		{
			Name: "tampered attribute value after signing",
			Why:  "the email attribute is changed to the evil address after signing, which breaks the assertion's (and the response's) digest",
			Base: def, Evil: EvilNameID,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				if _, ok := p.Attributes["email"]; !ok {
					p.Attributes = withAttr(p.Attributes, "email", p.NameID)
				}
				d := parse(t, i.Response(t, p, Options{Sign: def}))
				for _, at := range descendants(d.Root(), NSAssertion, "Attribute") {
					if at.SelectAttrValue("Name", "") == "email" {
						must(t, child(at, NSAssertion, "AttributeValue"), "email AttributeValue").SetText(EvilNameID)
					}
				}
				return write(t, d)
			},
		},

		// --- validity window ------------------------------------------------------------------
		{
			Name: "expired",
			Why:  "issued an hour ago with a five-minute lifetime: Conditions and SubjectConfirmationData NotOnOrAfter are 55 minutes past",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				p.Now = time.Now().Add(-time.Hour)
				p.Lifetime = 5 * time.Minute
				return i.Response(t, p, Options{Sign: def})
			},
		},
		{
			Name: "not yet valid",
			Why:  "Conditions NotBefore is an hour in the future (its NotOnOrAfter moved along with it); everything else is current",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					c := descendant(d.Root(), NSAssertion, "Conditions")
					start := time.Now().Add(time.Hour)
					c.CreateAttr("NotBefore", instant(start))
					c.CreateAttr("NotOnOrAfter", instant(start.Add(5*time.Minute)))
				}})
			},
		},
		{
			Name: "IssueInstant ten minutes old, NotOnOrAfter still in the future",
			Why:  "a response issued ten minutes ago with a fifteen-minute lifetime: every NotOnOrAfter still holds, only the issue instant is stale (an old response replayed or held back)",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				p.Now = time.Now().Add(-10 * time.Minute)
				p.Lifetime = 15 * time.Minute
				return i.Response(t, p, Options{Sign: def})
			},
		},

		// --- addressing -----------------------------------------------------------------------
		{
			Name: "wrong Audience",
			Why:  "the AudienceRestriction names another SP: an assertion issued to it is replayed to us",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					descendant(d.Root(), NSAssertion, "Audience").SetText("https://other-sp.example/saml/metadata")
				}})
			},
		},
		{
			Name: "no AudienceRestriction",
			Why:  "the Conditions carry no AudienceRestriction at all, so the assertion is good for any SP (crewjam lets it pass unless ValidateAudienceRestriction is set)",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					ar := descendant(d.Root(), NSAssertion, "AudienceRestriction")
					ar.Parent().RemoveChild(ar)
				}})
			},
		},
		{
			Name: "wrong Recipient",
			Why:  "the bearer SubjectConfirmationData Recipient is another SP's ACS URL",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					descendant(d.Root(), NSAssertion, "SubjectConfirmationData").CreateAttr("Recipient", "https://evil.example/saml/acs")
				}})
			},
		},
		{
			Name: "no bearer SubjectConfirmation (zero confirmations)",
			Why:  "the Subject has no SubjectConfirmation, so the InResponseTo, Recipient and NotOnOrAfter checks of a per-confirmation loop pass vacuously",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					sc := descendant(d.Root(), NSAssertion, "SubjectConfirmation")
					sc.Parent().RemoveChild(sc)
				}})
			},
		},
		{
			Name: "sender-vouches SubjectConfirmation instead of bearer",
			Why:  "the only SubjectConfirmation has Method sender-vouches: the Web SSO profile requires a bearer confirmation",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					descendant(d.Root(), NSAssertion, "SubjectConfirmation").CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")
				}})
			},
		},
		{
			Name: "wrong Destination",
			Why:  "the signed response's Destination is another SP's ACS URL",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					d.Root().CreateAttr("Destination", "https://evil.example/saml/acs")
				}})
			},
		},
		{
			Name: "no Destination on a signed response",
			Why:  "the POST binding requires a signed response to name its Destination; without it the response can be posted to any SP",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					d.Root().RemoveAttr("Destination")
				}})
			},
		},
		{
			Name: "wrong Issuer in response and assertion",
			Why:  "both Issuers name another entity, though the configured IdP key signed: an IdP (or a tenant of a shared IdP key) speaking for another entity",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					for _, is := range descendants(d.Root(), NSAssertion, "Issuer") {
						is.SetText("https://evil-idp.example/metadata")
					}
				}})
			},
		},
		{
			Name: "wrong Issuer in the assertion only",
			Why:  "the response Issuer is right but the assertion's names another entity, for an SP that checks only the response's",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					a := child(d.Root(), NSAssertion, "Assertion")
					child(a, NSAssertion, "Issuer").SetText("https://evil-idp.example/metadata")
				}})
			},
		},
		{
			Name: "InResponseTo of another request",
			Why:  "the response and its SubjectConfirmationData answer a request the SP did not make (or made for another browser or connection)",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				p.InResponseTo = NewID()
				return i.Response(t, p, Options{Sign: def})
			},
		},
		{
			Name: "Status not Success",
			Why:  "a signed response whose top-level StatusCode is Responder/AuthnFailed still carries an assertion; the SP must go by the status",
			Base: def,
			Build: func(t testing.TB, i *IdP, p Params) []byte {
				return i.Response(t, p, Options{Sign: def, Edit: func(d *etree.Document) {
					sc := descendant(d.Root(), NSProtocol, "StatusCode")
					sc.CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
					sc.CreateElement("samlp:StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
				}})
			},
		},
	}
}

// wrapSignedResponse builds an evil response (ID id, or the signed response's own ID when "")
// whose assertion names EvilNameID, with the genuine response-only-signed response in its
// samlp:Extensions.
func wrapSignedResponse(t testing.TB, i *IdP, p Params, id string) []byte {
	t.Helper()
	d := parse(t, i.Response(t, p, Options{Sign: SignResponse}))
	resp := d.Root()
	orig := resp.Copy()
	stripSignature(resp)
	if id != "" {
		resp.CreateAttr("ID", id)
	}
	evilize(must(t, child(resp, NSAssertion, "Assertion"), "Assertion"), p.NameID, NewID())
	ext := etree.NewElement("samlp:Extensions")
	issuer := must(t, child(resp, NSAssertion, "Issuer"), "response Issuer")
	resp.InsertChildAt(issuer.Index()+1, ext)
	ext.AddChild(orig)
	return write(t, d)
}

// xswResponse builds XSW1 (inObject) or XSW2 from a response-only signature.
func xswResponse(t testing.TB, i *IdP, p Params, inObject bool) []byte {
	t.Helper()
	d := parse(t, i.Response(t, p, Options{Sign: SignResponse}))
	resp := d.Root()
	sig := must(t, child(resp, NSDSig, "Signature"), "response Signature")
	orig := stripSignature(resp.Copy())
	if inObject {
		sig.CreateElement("ds:Object").AddChild(orig)
	} else {
		resp.InsertChildAt(sig.Index(), orig)
	}
	resp.CreateAttr("ID", NewID())
	evilize(must(t, child(resp, NSAssertion, "Assertion"), "Assertion"), p.NameID, NewID())
	return write(t, d)
}

// xswAssertion builds an assertion-wrapping case from an assertion-only signature: wrap gets the
// response and its signed assertion.
func xswAssertion(t testing.TB, i *IdP, p Params, wrap func(t testing.TB, resp, orig *etree.Element)) []byte {
	t.Helper()
	d := parse(t, i.Response(t, p, Options{Sign: SignAssertion}))
	wrap(t, d.Root(), must(t, child(d.Root(), NSAssertion, "Assertion"), "Assertion"))
	return write(t, d)
}

// stripSignature removes e's ds:Signature children and returns e.
func stripSignature(e *etree.Element) *etree.Element {
	for _, s := range children(e, NSDSig, "Signature") {
		e.RemoveChild(s)
	}
	return e
}

// evilCopy is an unsigned copy of the assertion orig naming EvilNameID, with a new ID when newID.
func evilCopy(orig *etree.Element, nameID string, newID bool) *etree.Element {
	e := stripSignature(orig.Copy())
	id := ""
	if newID {
		id = NewID()
	}
	evilize(e, nameID, id)
	return e
}

// evilize makes the assertion a name EvilNameID (in NameID, in the email attribute and wherever an
// attribute repeated the NameID), and gives it the ID id unless id is "".
func evilize(a *etree.Element, nameID, id string) {
	if id != "" {
		a.CreateAttr("ID", id)
	}
	if n := descendant(a, NSAssertion, "NameID"); n != nil {
		n.SetText(EvilNameID)
	}
	for _, at := range descendants(a, NSAssertion, "Attribute") {
		email := strings.EqualFold(at.SelectAttrValue("Name", ""), "email")
		for _, v := range children(at, NSAssertion, "AttributeValue") {
			if email || v.Text() == nameID {
				v.SetText(EvilNameID)
			}
		}
	}
}

// evilEdit is an Options.Edit that evilizes the response's assertion before signing (for forgeries
// whose author signs what he likes).
func evilEdit(nameID string) func(*etree.Document) {
	return func(d *etree.Document) {
		if a := child(d.Root(), NSAssertion, "Assertion"); a != nil {
			evilize(a, nameID, "")
		}
	}
}

func withAttr(attrs map[string][]string, name string, values ...string) map[string][]string {
	out := make(map[string][]string, len(attrs)+1)
	for k, v := range attrs {
		out[k] = v
	}
	out[name] = values
	return out
}

func replaceOnce(t testing.TB, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("samltest: %q not found in the response", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// withDoctype puts <!DOCTYPE samlp:Response [subset]> before the root element.
func withDoctype(t testing.TB, b []byte, subset string) []byte {
	t.Helper()
	k := bytes.Index(b, []byte("<samlp:Response"))
	if k < 0 {
		t.Fatalf("samltest: no <samlp:Response in the response")
	}
	out := append([]byte{}, b[:k]...)
	out = append(out, "<!DOCTYPE samlp:Response ["+subset+"]>\n"...)
	return append(out, b[k:]...)
}

// xmlText escapes s as xmlsec1 (libxml2) writes character data.
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

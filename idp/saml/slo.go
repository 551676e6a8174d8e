package saml

// SAML 2.0 Single Logout (docs/logout.md, "SAML Single Logout"), both
// directions, over the HTTP-Redirect and HTTP-POST bindings.
//
// What we send is signed with the SP key: a Redirect-binding message with
// the query-string signature of SAML bindings §3.4.4.1 (the XML itself
// carries none), a POST-binding message with an enveloped XML signature
// (goxmldsig, through the library's signing context).
//
// What we accept must be signed by one of the IdP's configured
// certificates (SAML profiles §4.4.4: front-channel logout messages are
// signed): on the Redirect binding the query-string signature, checked
// with crypto/x509 over the octets exactly as they arrived; on the POST
// binding the enveloped signature, checked by goxmldsig with the same
// shape and algorithm rules as responses (verify.go), and the message is
// then read from the element goxmldsig verified, nothing else. SHA-1 is
// refused in both.

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobroker/ssobroker/idp"
)

var _ idp.SAMLLogoutConnector = (*Connector)(nil)

// maxLogoutMessage bounds a logout message after decoding and inflating.
const maxLogoutMessage = 64 << 10

// entityFormat is the Issuer format of our messages.
const entityFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"

// querySigAlgs maps the SigAlg values we accept on a Redirect-binding
// message to crypto/x509's algorithms: SHA-256 or stronger only.
func querySigAlgs() map[string]x509.SignatureAlgorithm {
	return map[string]x509.SignatureAlgorithm{
		dsig.RSASHA256SignatureMethod:   x509.SHA256WithRSA,
		dsig.RSASHA384SignatureMethod:   x509.SHA384WithRSA,
		dsig.RSASHA512SignatureMethod:   x509.SHA512WithRSA,
		dsig.ECDSASHA256SignatureMethod: x509.ECDSAWithSHA256,
		dsig.ECDSASHA384SignatureMethod: x509.ECDSAWithSHA384,
		dsig.ECDSASHA512SignatureMethod: x509.ECDSAWithSHA512,
	}
}

// sloEndpoint is the IdP's SingleLogoutService for binding: where requests
// go (Location) and where responses go (ResponseLocation, else Location).
func sloEndpoint(md *crewjam.EntityDescriptor, binding string) (location, responseLocation string) {
	for _, d := range md.IDPSSODescriptors {
		for _, s := range d.SingleLogoutServices {
			if s.Binding == binding && s.Location != "" {
				rl := s.ResponseLocation
				if rl == "" {
					rl = s.Location
				}
				return s.Location, rl
			}
		}
	}
	return "", ""
}

// sloBinding picks the IdP's SingleLogoutService: Redirect when offered,
// else POST; response selects the response location.
func (c *Connector) sloBinding(response bool) (binding, location string) {
	for _, b := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		loc, rl := sloEndpoint(c.sp.IDPMetadata, b)
		if response {
			loc = rl
		}
		if loc != "" {
			return b, loc
		}
	}
	return "", ""
}

// nameKey is the NameID with the qualifiers SAML core §8.3 lets an IdP
// leave out filled in: the IdP's entity ID, ours, and "unspecified".
func (c *Connector) nameKey(n crewjam.NameID) string {
	q, spq, f := n.NameQualifier, n.SPNameQualifier, n.Format
	if q == "" {
		q = c.idpID
	}
	if spq == "" {
		spq = c.sp.EntityID
	}
	if f == "" {
		f = string(crewjam.UnspecifiedNameIDFormat)
	}
	return strings.Join([]string{f, q, spq, n.Value}, "\x00")
}

// samlSession is what the browser session keeps of a's upstream session.
func (c *Connector) samlSession(a *crewjam.Assertion) *idp.SAMLSession {
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		return nil
	}
	n := *a.Subject.NameID
	s := &idp.SAMLSession{NameID: n.Value, Format: n.Format, NameQualifier: n.NameQualifier, SPNameQualifier: n.SPNameQualifier, Key: c.nameKey(n)}
	for _, st := range a.AuthnStatements {
		if st.SessionIndex != "" {
			s.SessionIndex = st.SessionIndex
			break
		}
	}
	return s
}

func newMessageID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

// LogoutRequest builds a signed LogoutRequest ending sess at the IdP.
func (c *Connector) LogoutRequest(_ context.Context, sess idp.SAMLSession, relayState string) (idp.SAMLRequest, bool, error) {
	binding, loc := c.sloBinding(false)
	if loc == "" || c.sp.LogoutBindings == nil {
		return idp.SAMLRequest{}, false, nil
	}
	req := &crewjam.LogoutRequest{
		ID: newMessageID(), Version: "2.0", IssueInstant: crewjam.TimeNow().UTC(), Destination: loc,
		Issuer: &crewjam.Issuer{Format: entityFormat, Value: c.sp.EntityID},
		NameID: &crewjam.NameID{Value: sess.NameID, Format: sess.Format, NameQualifier: sess.NameQualifier, SPNameQualifier: sess.SPNameQualifier},
	}
	if sess.SessionIndex != "" {
		req.SessionIndex = &crewjam.SessionIndex{Value: sess.SessionIndex}
	}
	out, err := c.deliver(binding, "SAMLRequest", loc, relayState, req.Element,
		func(sp *crewjam.ServiceProvider) error { return sp.SignLogoutRequest(req) })
	if err != nil {
		return idp.SAMLRequest{}, false, fmt.Errorf("%w: LogoutRequest: %w", idp.ErrConfig, err)
	}
	out.ID = req.ID
	return out, true, nil
}

// LogoutResponse builds the signed answer to the IdP's LogoutRequest.
func (c *Connector) LogoutResponse(_ context.Context, inResponseTo, status, relayState string) (idp.SAMLRequest, error) {
	binding, loc := c.sloBinding(true)
	if loc == "" {
		return idp.SAMLRequest{}, fmt.Errorf("%w: the IdP's metadata has no SingleLogoutService to answer to", idp.ErrConfig)
	}
	resp := &crewjam.LogoutResponse{
		ID: newMessageID(), InResponseTo: inResponseTo, Version: "2.0", IssueInstant: crewjam.TimeNow().UTC(), Destination: loc,
		Issuer: &crewjam.Issuer{Format: entityFormat, Value: c.sp.EntityID},
		Status: crewjam.Status{StatusCode: crewjam.StatusCode{Value: status}},
	}
	out, err := c.deliver(binding, "SAMLResponse", loc, relayState, resp.Element,
		func(sp *crewjam.ServiceProvider) error { return sp.SignLogoutResponse(resp) })
	if err != nil {
		return idp.SAMLRequest{}, fmt.Errorf("%w: LogoutResponse: %w", idp.ErrConfig, err)
	}
	out.ID = resp.ID
	return out, nil
}

// deliver encodes a message in field for binding: on Redirect unsigned,
// with the query-string signature; on POST signed by sign (an enveloped
// signature) first.
func (c *Connector) deliver(binding, field, loc, relayState string, element func() *etree.Element, sign func(*crewjam.ServiceProvider) error) (idp.SAMLRequest, error) {
	if binding == crewjam.HTTPRedirectBinding {
		return c.redirectMessage(field, element(), loc, relayState)
	}
	sp := c.signingSP()
	if err := sign(&sp); err != nil {
		return idp.SAMLRequest{}, err
	}
	return postMessage(field, element(), loc, relayState)
}

// signingSP is the service provider set to sign with RSA-SHA256 (or
// ECDSA-SHA256), whatever the connection says of AuthnRequests: logout
// messages are always signed.
func (c *Connector) signingSP() crewjam.ServiceProvider {
	sp := c.sp
	sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	if _, ok := sp.Key.(*ecdsa.PrivateKey); ok {
		sp.SignatureMethod = dsig.ECDSASHA256SignatureMethod
	}
	return sp
}

// postMessage is a POST-binding message: el (signed) base64-encoded in
// field, with relayState.
func postMessage(field string, el *etree.Element, loc, relayState string) (idp.SAMLRequest, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	raw, err := doc.WriteToBytes()
	if err != nil {
		return idp.SAMLRequest{}, err
	}
	form := url.Values{field: {base64.StdEncoding.EncodeToString(raw)}}
	if relayState != "" {
		form.Set("RelayState", relayState)
	}
	return idp.SAMLRequest{URL: loc, Form: form}, nil
}

// redirectMessage is a Redirect-binding URL: el (unsigned) deflated and
// base64-encoded in field, with relayState, signed per SAML bindings
// §3.4.4.1: the signature covers the octets
// "field=…&RelayState=…&SigAlg=…" exactly as they appear in the URL.
func (c *Connector) redirectMessage(field string, el *etree.Element, loc, relayState string) (idp.SAMLRequest, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return idp.SAMLRequest{}, err
	}
	if _, err := doc.WriteTo(fw); err != nil {
		return idp.SAMLRequest{}, err
	}
	if err := fw.Close(); err != nil {
		return idp.SAMLRequest{}, err
	}
	sigAlg, hash := dsig.RSASHA256SignatureMethod, crypto.SHA256
	if _, ok := c.sp.Key.(*ecdsa.PrivateKey); ok {
		sigAlg = dsig.ECDSASHA256SignatureMethod
	}
	q := field + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	q += "&SigAlg=" + url.QueryEscape(sigAlg)
	sum := sha256.Sum256([]byte(q))
	sig, err := c.sp.Key.Sign(rand.Reader, sum[:], hash)
	if err != nil {
		return idp.SAMLRequest{}, err
	}
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	u, err := url.Parse(loc)
	if err != nil {
		return idp.SAMLRequest{}, err
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + q
	} else {
		u.RawQuery = q
	}
	return idp.SAMLRequest{URL: u.String()}, nil
}

// logoutMessage is a verified logout message: its root element (as
// verified) and the RelayState that came with it.
type logoutMessage struct {
	root       *etree.Element
	relayState string
}

// readLogoutMessage finds field (SAMLRequest or SAMLResponse) in r by its
// binding (Redirect: the query of a GET; POST: the form), verifies its
// signature with the IdP's certificates and returns the message, whose
// root must be the protocol element root.
func (c *Connector) readLogoutMessage(r *http.Request, field, root string) (logoutMessage, error) {
	if r.Method == http.MethodGet {
		return c.readRedirect(r.URL.RawQuery, field, root)
	}
	if r.PostForm == nil {
		return logoutMessage{}, refusef("the form was not read")
	}
	if len(r.PostForm[field]) != 1 || len(r.PostForm["RelayState"]) > 1 {
		return logoutMessage{}, refusef("the form must carry one %s and at most one RelayState", field)
	}
	raw, err := base64.StdEncoding.DecodeString(r.PostForm.Get(field))
	if err != nil {
		return logoutMessage{}, refusef("%s is not base64", field)
	}
	if len(raw) > maxLogoutMessage {
		return logoutMessage{}, refusef("%s is larger than %d bytes", field, maxLogoutMessage)
	}
	el, err := parseLogoutXML(raw, root)
	if err != nil {
		return logoutMessage{}, err
	}
	if directSignature(el) == nil {
		return logoutMessage{}, refusef("the %s is not signed (a signature is required)", root)
	}
	withoutKeyInfoUnlessCertificate(el)
	signed, err := newVerifier().validate(c.validationContext(), el)
	if err != nil {
		return logoutMessage{}, err
	}
	return logoutMessage{root: signed, relayState: r.PostForm.Get("RelayState")}, nil
}

// readRedirect reads a Redirect-binding message from the raw query and
// checks its query-string signature (SAML bindings §3.4.4.1) over the
// octets as received: field, RelayState when present, and SigAlg, each
// "name=value" with the value still URL-encoded, joined by "&".
func (c *Connector) readRedirect(rawQuery, field, root string) (logoutMessage, error) {
	raw := map[string]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		switch name {
		case field, "RelayState", "SigAlg", "Signature":
			if _, dup := raw[name]; dup {
				return logoutMessage{}, refusef("the query repeats %s", name)
			}
			raw[name] = value
		}
	}
	if _, ok := raw[field]; !ok {
		return logoutMessage{}, refusef("no %s in the query", field)
	}
	if raw["Signature"] == "" || raw["SigAlg"] == "" {
		return logoutMessage{}, refusef("the %s is not signed (Signature and SigAlg are required)", root)
	}
	decode := func(name string) string {
		v, err := url.QueryUnescape(raw[name])
		if err != nil {
			return ""
		}
		return v
	}
	alg, ok := querySigAlgs()[decode("SigAlg")]
	if !ok {
		return logoutMessage{}, refusef("signature algorithm %q is not allowed (SHA-256 or stronger)", clip(decode("SigAlg")))
	}
	sig, err := base64.StdEncoding.DecodeString(decode("Signature"))
	if err != nil || len(sig) == 0 {
		return logoutMessage{}, refusef("the Signature is not base64")
	}
	signed := field + "=" + raw[field]
	if v, ok := raw["RelayState"]; ok {
		signed += "&RelayState=" + v
	}
	signed += "&SigAlg=" + raw["SigAlg"]
	verified := false
	for _, cert := range c.certs {
		if cert.CheckSignature(alg, []byte(signed), sig) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return logoutMessage{}, refusef("the query signature does not verify with the IdP's certificates")
	}
	deflated, err := base64.StdEncoding.DecodeString(decode(field))
	if err != nil {
		return logoutMessage{}, refusef("%s is not base64", field)
	}
	doc, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(deflated)), maxLogoutMessage+1))
	if err != nil {
		return logoutMessage{}, refusef("%s does not inflate: %v", field, err)
	}
	if len(doc) > maxLogoutMessage {
		return logoutMessage{}, refusef("%s inflates to more than %d bytes", field, maxLogoutMessage)
	}
	el, err := parseLogoutXML(doc, root)
	if err != nil {
		return logoutMessage{}, err
	}
	return logoutMessage{root: el, relayState: decode("RelayState")}, nil
}

// parseLogoutXML parses a logout message: no directives, root the
// protocol element root, unique IDs, no comments.
func parseLogoutXML(doc []byte, root string) (*etree.Element, error) {
	if err := refuseDirectives(doc); err != nil {
		return nil, err
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		return nil, refusef("not well-formed XML: %v", err)
	}
	el := d.Root()
	if el == nil || el.Tag != root || el.NamespaceURI() != nsProtocol {
		return nil, refusef("the message is not a samlp:%s", root)
	}
	if hasComment(el) {
		return nil, refusef("the message contains an XML comment")
	}
	return el, nil
}

// messageHeader is what every logout message carries.
type messageHeader struct {
	id, destination, issuer string
	issueInstant            time.Time
}

func readHeader(el *etree.Element) (messageHeader, error) {
	h := messageHeader{id: el.SelectAttrValue("ID", ""), destination: el.SelectAttrValue("Destination", "")}
	if h.id == "" || len(h.id) > 256 {
		return h, refusef("the message has no usable ID")
	}
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return h, refusef("the message's Version is %q, not 2.0", clip(v))
	}
	t, err := time.Parse(time.RFC3339Nano, el.SelectAttrValue("IssueInstant", ""))
	if err != nil {
		return h, refusef("the message has no valid IssueInstant")
	}
	h.issueInstant = t
	for _, ch := range el.ChildElements() {
		if ch.Tag == "Issuer" && ch.NamespaceURI() == nsAssertion {
			h.issuer = strings.TrimSpace(ch.Text())
		}
	}
	return h, nil
}

// checkHeader checks Issuer, Destination (required: the message is
// signed, SAML bindings §3.4.5.2 and §3.5.5.2) and freshness.
func (c *Connector) checkHeader(h messageHeader, now time.Time) error {
	if h.issuer != c.idpID {
		return refusef("the message's Issuer is %q, not the connection's IdP %q", clip(h.issuer), c.idpID)
	}
	if h.destination != c.sp.SloURL.String() {
		return refusef("the message's Destination is %q, not our logout endpoint %q", clip(h.destination), c.sp.SloURL.String())
	}
	if h.issueInstant.After(now.Add(crewjam.MaxClockSkew)) {
		return refusef("the message was issued in the future (%s)", h.issueInstant.UTC().Format(time.RFC3339))
	}
	if h.issueInstant.Add(crewjam.MaxIssueDelay + crewjam.MaxClockSkew).Before(now) {
		return refusef("the message expired: issued at %s", h.issueInstant.UTC().Format(time.RFC3339))
	}
	return nil
}

// HandleLogoutResponse verifies the IdP's answer to our LogoutRequest
// requestID.
func (c *Connector) HandleLogoutResponse(_ context.Context, r *http.Request, requestID string) error {
	m, err := c.readLogoutMessage(r, "SAMLResponse", "LogoutResponse")
	if err != nil {
		return fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
	}
	h, err := readHeader(m.root)
	if err == nil {
		err = c.checkHeader(h, crewjam.TimeNow())
	}
	if err == nil && (requestID == "" || m.root.SelectAttrValue("InResponseTo", "") != requestID) {
		err = refusef("the LogoutResponse answers %q, not our request", clip(m.root.SelectAttrValue("InResponseTo", "")))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
	}
	code := m.root.FindElement("./Status/StatusCode")
	status := ""
	if code != nil {
		status = code.SelectAttrValue("Value", "")
	}
	if status != idp.SAMLStatusSuccess {
		if sub := m.root.FindElement("./Status/StatusCode/StatusCode"); sub != nil {
			status += " / " + sub.SelectAttrValue("Value", "")
		}
		return &idp.UpstreamError{Code: "logout_failed", Description: "SAML status " + clip(status)}
	}
	return nil
}

// HandleLogoutRequest verifies a LogoutRequest from the IdP.
func (c *Connector) HandleLogoutRequest(ctx context.Context, r *http.Request, firstSeen func(context.Context, string, string, time.Time) (bool, error)) (idp.SAMLLogout, error) {
	bad := func(err error) (idp.SAMLLogout, error) {
		return idp.SAMLLogout{}, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
	}
	m, err := c.readLogoutMessage(r, "SAMLRequest", "LogoutRequest")
	if err != nil {
		return bad(err)
	}
	h, err := readHeader(m.root)
	if err != nil {
		return bad(err)
	}
	now := crewjam.TimeNow()
	if err := c.checkHeader(h, now); err != nil {
		return bad(err)
	}
	until := h.issueInstant.Add(crewjam.MaxIssueDelay + crewjam.MaxClockSkew)
	if v := m.root.SelectAttrValue("NotOnOrAfter", ""); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return bad(refusef("the LogoutRequest's NotOnOrAfter is not a time"))
		}
		if !now.Before(t.Add(crewjam.MaxClockSkew)) {
			return bad(refusef("the LogoutRequest expired at %s (NotOnOrAfter)", t.UTC().Format(time.RFC3339)))
		}
		if t.Add(crewjam.MaxClockSkew).Before(until) {
			until = t.Add(crewjam.MaxClockSkew)
		}
	}
	var name *crewjam.NameID
	var indexes []string
	for _, ch := range m.root.ChildElements() {
		switch {
		case ch.Tag == "NameID" && ch.NamespaceURI() == nsAssertion:
			if name != nil {
				return bad(refusef("the LogoutRequest names two NameIDs"))
			}
			name = &crewjam.NameID{Value: strings.TrimSpace(ch.Text()), Format: ch.SelectAttrValue("Format", ""),
				NameQualifier: ch.SelectAttrValue("NameQualifier", ""), SPNameQualifier: ch.SelectAttrValue("SPNameQualifier", "")}
		case ch.Tag == "EncryptedID" || ch.Tag == "BaseID":
			return bad(refusef("the LogoutRequest names the user by %s, which is not supported (only NameID)", ch.Tag))
		case ch.Tag == "SessionIndex" && ch.NamespaceURI() == nsProtocol:
			if v := strings.TrimSpace(ch.Text()); v != "" && len(indexes) < 100 {
				indexes = append(indexes, v)
			}
		}
	}
	if name == nil || name.Value == "" || len(name.Value) > maxSubject {
		return bad(refusef("the LogoutRequest has no usable NameID"))
	}
	if firstSeen == nil {
		return idp.SAMLLogout{}, fmt.Errorf("%w: no replay cache", idp.ErrConfig)
	}
	first, err := firstSeen(ctx, c.idpID, h.id, until.Add(crewjam.MaxClockSkew))
	if err != nil {
		return idp.SAMLLogout{}, fmt.Errorf("%w: replay cache: %w", idp.ErrUpstreamUnavailable, err)
	}
	if !first {
		return bad(refusef("LogoutRequest %q was already received (replay)", clip(h.id)))
	}
	return idp.SAMLLogout{ID: h.id, Key: c.nameKey(*name), SessionIndexes: indexes, RelayState: m.relayState}, nil
}

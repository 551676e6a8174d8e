// Package saml is the upstream SAML 2.0 connector of the broker: one
// service provider per connection, built on github.com/crewjam/saml (which,
// with github.com/russellhaering/goxmldsig, does the XML signature work).
// We configure the library strictly and add the checks it leaves out; we do
// not verify signatures ourselves.
//
// The connection's configuration (directory.Connection.Config) is
//
//	{
//	  "saml": {
//	    "metadata_xml": "<EntityDescriptor …>",    // or "metadata_url", or
//	    "entity_id": "…", "sso_url": "…", "certificates": ["-----BEGIN CERTIFICATE-----…"],
//	    "allow_idp_initiated": false, "idp_initiated_target": "/login/done",
//	    "sign_requests": true, "request_binding": "redirect", "name_id_format": "unspecified",
//	    "want_assertions_signed": false,
//	    "sp_certificate": "-----BEGIN CERTIFICATE-----…", "sp_key_sealed": "<base64>"
//	  },
//	  "attribute_mapping": {"subject": "…", "email": "…", "email_verified": "…", "name": "…",
//	                        "given_name": "…", "family_name": "…", "groups": "…"},
//	  "group_roles": {…}, "group_workspaces": {…}
//	}
//
// Our entity ID is the connection's metadata URL
// ({issuer}/sso/saml/{conn}/metadata); the ACS is {issuer}/sso/saml/{conn}/acs
// (HTTP-POST binding only: artifacts are refused, the library would call out).
//
// A response is accepted only when all of these hold (beside the library's
// own checks of Destination, Issuer, IssueInstant, conditions and
// InResponseTo):
//   - the document has no DOCTYPE or other directive, is a samlp:Response
//     with exactly one assertion (plain or encrypted) and no other assertion
//     anywhere, unique IDs, and no comment inside the assertion;
//   - every signature has exactly one Reference to its parent's ID, only
//     SHA-256-or-stronger signature and digest methods, and verifies with a
//     configured certificate (never one from the message);
//   - the assertion is signed itself, or the response around it is signed
//     as a whole (SAML profiles §4.1.3.5; Entra ID's "Sign SAML response"),
//     and then the assertion is read from the element goxmldsig verified and
//     from nothing else; a connection with want_assertions_signed demands
//     the assertion's own signature (and our metadata says
//     WantAssertionsSigned); docs/security.md, "SAML signature forms";
//   - it names our entity ID in every AudienceRestriction, and there is one;
//   - it has a bearer SubjectConfirmation with our ACS as Recipient, an
//     expiry, and the InResponseTo of the request this browser sent (or, for
//     a connection that allows IdP-initiated login, no InResponseTo at all);
//   - its (issuer, ID) was never accepted before (the replay cache of the
//     session store, shared by every replica).
package saml

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// Type is the connection type this package serves.
const Type = directory.ConnectionSAML

// bearer is the SubjectConfirmation method of Web Browser SSO.
const bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

// maxMetadata bounds IdP metadata fetched from a URL.
const maxMetadata = 1 << 20

// Connector is one SAML service provider: one connection's SP towards its
// IdP. It implements idp.SAMLConnector and is safe for concurrent use: the
// library's ServiceProvider is copied for every request, so per-request
// settings never leak between logins.
type Connector struct {
	sp       crewjam.ServiceProvider
	certs    []*x509.Certificate // the IdP's signing certificates
	cfg      Config
	extra    extraKeys // an SP key rotation in progress (spkeys.go)
	idpID    string
	ssoURL   string
	binding  string
	names    attributeNames
	metadata []byte
	log      *slog.Logger
}

var _ idp.SAMLConnector = (*Connector)(nil)

// New builds the connector of a connection of type "saml": it parses the
// configuration, opens the SP key, and reads the IdP's metadata (fetching a
// metadata URL with in.HTTPClient). Errors wrap idp.ErrConfig, or
// idp.ErrUpstreamUnavailable when the metadata URL cannot be fetched.
func New(ctx context.Context, in idp.FactoryInput) (idp.Connector, error) {
	cfg, err := ParseConfig(in.Config.SAML)
	if err != nil {
		return nil, err
	}
	if in.EntityID == "" || in.CallbackURL == "" {
		return nil, fmt.Errorf("%w: the SP entity ID and ACS URL are required", idp.ErrConfig)
	}
	key, cert, err := spKeyPair(cfg, in.OpenSecret)
	if err != nil {
		return nil, err
	}
	extra, err := openExtraKeys(cfg, in.OpenSecret)
	if err != nil {
		return nil, err
	}
	client := in.HTTPClient
	if client == nil {
		client = idp.NewUpstreamClient(false)
	}
	now := time.Now()
	var md *crewjam.EntityDescriptor
	switch {
	case cfg.MetadataXML != "":
		md, err = ParseIdPMetadata([]byte(cfg.MetadataXML), now)
	case cfg.MetadataURL != "":
		md, err = metadataFromURL(ctx, in, client, cfg.MetadataURL, now)
	default:
		md, err = manualMetadata(cfg, now)
	}
	if err != nil {
		return nil, err
	}
	acs, err := url.Parse(in.CallbackURL)
	if err != nil {
		return nil, fmt.Errorf("%w: ACS URL: %w", idp.ErrConfig, err)
	}
	meta, err := url.Parse(in.EntityID)
	if err != nil {
		return nil, fmt.Errorf("%w: entity ID: %w", idp.ErrConfig, err)
	}
	c := &Connector{cfg: cfg, extra: extra, idpID: md.EntityID, certs: signingCerts(md), names: namesFrom(in.Config.AttributeMapping), log: in.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.binding, c.ssoURL = pickBinding(cfg.RequestBinding, md)
	if c.ssoURL == "" {
		return nil, fmt.Errorf("%w: the IdP has no SingleSignOnService for the %s binding", idp.ErrConfig, cfg.RequestBinding)
	}
	c.sp = crewjam.ServiceProvider{
		EntityID:          in.EntityID,
		Key:               key,
		Certificate:       cert,
		HTTPClient:        client,
		MetadataURL:       *meta,
		AcsURL:            *acs,
		IDPMetadata:       md,
		AuthnNameIDFormat: nameIDFormats()[cfg.NameIDFormat],
		// Per request, and only for responses that arrive with no pending
		// request on a connection that opted in.
		AllowIDPInitiated:           false,
		ValidateAudienceRestriction: c.checkAudience,
	}
	if in.LogoutURL != "" {
		slo, err := url.Parse(in.LogoutURL)
		if err != nil {
			return nil, fmt.Errorf("%w: logout URL: %w", idp.ErrConfig, err)
		}
		// Our metadata advertises Single Logout on both bindings (slo.go).
		c.sp.SloURL = *slo
		c.sp.LogoutBindings = []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding}
	}
	if cfg.signRequests() {
		c.sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	if c.metadata, err = signedMetadata(&c.sp, cfg.WantAssertionsSigned, extra.nextCert); err != nil {
		return nil, fmt.Errorf("%w: SP metadata: %w", idp.ErrConfig, err)
	}
	return c, nil
}

// metadataFromURL fetches and validates the IdP metadata of a metadata URL.
// A document that passes validation is kept as the connection's last good
// one (in.Documents); when the URL cannot be fetched, or what it serves
// fails validation, the last good document kept for that URL is used
// instead, after passing the same validation again (its certificates may
// have expired since), and the fallback is logged. Without one the fetch's
// (or the validation's) error is returned.
func metadataFromURL(ctx context.Context, in idp.FactoryInput, client *http.Client, u string, now time.Time) (*crewjam.EntityDescriptor, error) {
	log := in.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	doc, err := FetchMetadata(ctx, client, u)
	var md *crewjam.EntityDescriptor
	if err == nil {
		if md, err = ParseIdPMetadata(doc, now); err == nil {
			if in.Documents != nil {
				if serr := in.Documents.SaveUpstreamDocument(ctx, directory.UpstreamDocument{
					ConnectionID: in.Connection.ID, URL: u, Document: doc, FetchedAt: now}); serr != nil {
					log.WarnContext(ctx, "SAML metadata: keeping the last good document failed", "metadata_url", u, "err", serr)
				}
			}
			return md, nil
		}
	}
	if in.Documents == nil {
		return nil, err
	}
	kept, kerr := in.Documents.GetUpstreamDocument(ctx, in.Connection.ID, u)
	if kerr != nil {
		if !errors.Is(kerr, directory.ErrNotFound) {
			log.ErrorContext(ctx, "SAML metadata: reading the last good document failed", "metadata_url", u, "err", kerr)
		}
		return nil, err
	}
	md, perr := ParseIdPMetadata(kept.Document, now)
	if perr != nil {
		log.ErrorContext(ctx, "SAML metadata: the metadata URL failed and the last good document no longer passes validation; the connection cannot be used",
			"metadata_url", u, "err", err, "last_good_fetched_at", kept.FetchedAt, "last_good_err", perr)
		return nil, err
	}
	log.WarnContext(ctx, "SAML metadata: the metadata URL failed; using the last good document",
		"metadata_url", u, "err", err, "last_good_fetched_at", kept.FetchedAt)
	return md, nil
}

// pickBinding chooses how AuthnRequests travel: the configured binding, or
// HTTP-Redirect when the IdP offers it, else HTTP-POST.
func pickBinding(want string, md *crewjam.EntityDescriptor) (binding, location string) {
	switch want {
	case BindingPOST:
		return BindingPOST, ssoLocation(md, crewjam.HTTPPostBinding)
	case BindingRedirect:
		return BindingRedirect, ssoLocation(md, crewjam.HTTPRedirectBinding)
	}
	if loc := ssoLocation(md, crewjam.HTTPRedirectBinding); loc != "" {
		return BindingRedirect, loc
	}
	return BindingPOST, ssoLocation(md, crewjam.HTTPPostBinding)
}

// FetchMetadata gets IdP metadata from u with client (at most 1 MiB). It
// fails with an error wrapping idp.ErrUpstreamUnavailable, or idp.ErrConfig
// for an unusable URL or a document too large; a fetch failure also holds an
// *idp.FetchError whose PublicMessage is what an org admin may see.
func FetchMetadata(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata URL: %w", idp.ErrConfig, err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching IdP metadata: %w", idp.ErrUpstreamUnavailable, idp.ClassifyFetch(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: fetching IdP metadata: %w", idp.ErrUpstreamUnavailable,
			idp.FetchStatusError(resp.StatusCode, u+" answered "+resp.Status))
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading IdP metadata: %w", idp.ErrUpstreamUnavailable, idp.ClassifyFetch(err))
	}
	if len(doc) > maxMetadata {
		return nil, fmt.Errorf("%w: %w", idp.ErrConfig, &idp.FetchError{Class: idp.FailureTooLarge, Err: errors.New("IdP metadata larger than 1 MiB")})
	}
	return doc, nil
}

// IdPEntityID is the entity ID of the connection's IdP.
func (c *Connector) IdPEntityID() string { return c.idpID }

// Metadata returns our SP metadata for this connection, signed with the SP
// key: what the org's admin gives their IdP.
func (c *Connector) Metadata(context.Context) ([]byte, error) { return c.metadata, nil }

// IdPInitiated reports whether the connection accepts unsolicited responses
// and the relative path where such a login lands.
func (c *Connector) IdPInitiated() (string, bool) {
	return c.cfg.IDPInitiatedTarget, c.cfg.AllowIDPInitiated
}

// AuthnRequest builds a request for relayState (which must be URL-safe: the
// library does not escape it) to be delivered by the connection's binding.
func (c *Connector) AuthnRequest(_ context.Context, relayState, _, _ string, opts ...idp.LoginOption) (idp.SAMLRequest, error) {
	sp := c.sp
	if slices.Contains(opts, idp.ForceReauthentication) {
		force := true
		sp.ForceAuthn = &force
	}
	if c.binding == BindingRedirect {
		req, err := sp.MakeAuthenticationRequest(c.ssoURL, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
		if err != nil {
			return idp.SAMLRequest{}, fmt.Errorf("%w: AuthnRequest: %w", idp.ErrConfig, err)
		}
		u, err := req.Redirect(relayState, &sp)
		if err != nil {
			return idp.SAMLRequest{}, fmt.Errorf("%w: AuthnRequest: %w", idp.ErrConfig, err)
		}
		return idp.SAMLRequest{ID: req.ID, URL: u.String()}, nil
	}
	req, err := sp.MakeAuthenticationRequest(c.ssoURL, crewjam.HTTPPostBinding, crewjam.HTTPPostBinding)
	if err != nil {
		return idp.SAMLRequest{}, fmt.Errorf("%w: AuthnRequest: %w", idp.ErrConfig, err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	raw, err := doc.WriteToBytes()
	if err != nil {
		return idp.SAMLRequest{}, fmt.Errorf("%w: AuthnRequest: %w", idp.ErrConfig, err)
	}
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {relayState}}
	return idp.SAMLRequest{ID: req.ID, URL: c.ssoURL, Form: form}, nil
}

// HandlePOST validates the response posted to the ACS (r.PostForm already
// parsed, its size bounded by the caller) against expect.
func (c *Connector) HandlePOST(ctx context.Context, r *http.Request, expect idp.SAMLExpect) (idp.Identity, error) {
	if r.PostForm.Has("SAMLart") {
		return idp.Identity{}, fmt.Errorf("%w: artifact binding (SAMLart) is not accepted", idp.ErrInvalidResponse)
	}
	encoded := r.PostForm.Get("SAMLResponse")
	if encoded == "" {
		return idp.Identity{}, fmt.Errorf("%w: no SAMLResponse in the form", idp.ErrInvalidResponse)
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return idp.Identity{}, fmt.Errorf("%w: SAMLResponse is not base64", idp.ErrInvalidResponse)
	}
	return c.handleResponse(ctx, raw, expect)
}

// handleResponse is HandlePOST after decoding.
func (c *Connector) handleResponse(ctx context.Context, raw []byte, expect idp.SAMLExpect) (idp.Identity, error) {
	doc, err := preflight(raw)
	if err != nil {
		return idp.Identity{}, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
	}
	v := newVerifier()
	// The signature forms (docs/security.md, "SAML signature forms"). The
	// library skips the assertion's signature when the response's verifies.
	// So the response signature, when there is one, is checked here (by
	// goxmldsig, as the library would). Then:
	//   - when the assertion carries its own signature, or the connection
	//     wants signed assertions, the response signature is removed and
	//     the library must check the assertion's;
	//   - otherwise (a response signed as a whole, its assertion unsigned)
	//     the library reads the response as goxmldsig verified it, its
	//     signature put back so the library asks our verifier about it
	//     again: the assertion comes from the signed element and nothing
	//     else.
	root := doc.Root()
	if c.cfg.WantAssertionsSigned && plainAssertion(root) && !assertionSelfSigned(root) {
		return idp.Identity{}, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, errUnsignedAssertion)
	}
	if sig := directSignature(root); sig != nil {
		withoutKeyInfoUnlessCertificate(root)
		signed, err := v.verifyResponse(c.validationContext(), root)
		if err != nil {
			return idp.Identity{}, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
		}
		if signed.SelectAttrValue("Destination", "") == "" {
			return idp.Identity{}, fmt.Errorf("%w: a signed response must name its Destination", idp.ErrInvalidResponse)
		}
		if c.cfg.WantAssertionsSigned || assertionSelfSigned(root) {
			root.RemoveChild(sig)
			if raw, err = doc.WriteToBytes(); err != nil {
				return idp.Identity{}, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
			}
		} else {
			if raw, err = asSigned(signed, sig); err != nil {
				return idp.Identity{}, fmt.Errorf("%w: the signed response cannot be written: %w", idp.ErrInvalidResponse, err)
			}
			// The signed element passes the same shape checks.
			if doc, err = preflight(raw); err != nil {
				return idp.Identity{}, fmt.Errorf("%w: the signed response: %w", idp.ErrInvalidResponse, err)
			}
			root = doc.Root()
		}
	}
	sp := c.sp
	sp.SignatureVerifier = v
	var ids []string
	unsolicited := expect.RequestID == ""
	if unsolicited {
		if !c.cfg.AllowIDPInitiated {
			return idp.Identity{}, fmt.Errorf("%w: unsolicited response (IdP-initiated login is off for this connection)", idp.ErrInvalidResponse)
		}
		sp.AllowIDPInitiated = true
	} else {
		ids = []string{expect.RequestID}
	}
	acs := sp.AcsURL
	if expect.ACSURL != "" {
		u, err := url.Parse(expect.ACSURL)
		if err != nil {
			return idp.Identity{}, fmt.Errorf("%w: ACS URL: %w", idp.ErrConfig, err)
		}
		acs = *u
	}
	a, err := parse(&sp, raw, ids, acs)
	if err != nil && len(c.extra.decrypt) > 0 && strings.Contains(err.Error(), "decrypt") {
		// During an SP key rotation the IdP may encrypt to the next key
		// (published) or the previous one (not read our metadata again).
		for _, k := range c.extra.decrypt {
			alt := sp
			alt.Key = k
			if a, err = parse(&alt, raw, ids, acs); err == nil || !strings.Contains(err.Error(), "decrypt") {
				break
			}
		}
	}
	if err != nil {
		return idp.Identity{}, err
	}
	now := crewjam.TimeNow()
	if irt := root.SelectAttrValue("InResponseTo", ""); unsolicited && irt != "" {
		return idp.Identity{}, fmt.Errorf("%w: an unsolicited response answers request %q that this browser did not send", idp.ErrInvalidResponse, clip(irt))
	}
	if err := c.checkAssertion(a, v, unsolicited, now); err != nil {
		return idp.Identity{}, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
	}
	id, err := c.names.identity(c.idpID, a)
	if err != nil {
		return idp.Identity{}, err
	}
	id.SAMLSession = c.samlSession(a)
	if expect.FirstSeen == nil {
		return idp.Identity{}, fmt.Errorf("%w: no replay cache", idp.ErrConfig)
	}
	first, err := expect.FirstSeen(ctx, c.idpID, a.ID, rememberUntil(a, now))
	if err != nil {
		return idp.Identity{}, fmt.Errorf("%w: replay cache: %w", idp.ErrUpstreamUnavailable, err)
	}
	if !first {
		return idp.Identity{}, fmt.Errorf("%w: assertion %q was already used (replay)", idp.ErrInvalidResponse, clip(a.ID))
	}
	return id, nil
}

// parse runs the library's checks. A panic inside the library (it
// dereferences optional elements) is an invalid response, not a crash.
func parse(sp *crewjam.ServiceProvider, raw []byte, ids []string, acs url.URL) (a *crewjam.Assertion, err error) {
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, fmt.Errorf("%w: the response could not be read (%v)", idp.ErrInvalidResponse, p)
		}
	}()
	a, err = sp.ParseXMLResponse(raw, ids, acs)
	if err == nil {
		return a, nil
	}
	var bad crewjam.ErrBadStatus
	var ire *crewjam.InvalidResponseError
	if errors.As(err, &ire) {
		if errors.As(ire.PrivateErr, &bad) {
			code := bad.Status
			if i := strings.LastIndexByte(code, ':'); i >= 0 {
				code = code[i+1:]
			}
			return nil, &idp.UpstreamError{Code: clip(code), Description: "SAML status " + clip(bad.Status)}
		}
		return nil, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, ire.PrivateErr)
	}
	return nil, fmt.Errorf("%w: %w", idp.ErrInvalidResponse, err)
}

// checkAssertion adds what the library leaves out.
func (c *Connector) checkAssertion(a *crewjam.Assertion, v *verifier, unsolicited bool, now time.Time) error {
	switch {
	case v.signedAssertion(a.ID):
	case c.cfg.WantAssertionsSigned:
		return errUnsignedAssertion
	case !v.responseVouched():
		return refusef("neither the assertion nor the response around it is signed")
	}
	if a.IssueInstant.After(now.Add(crewjam.MaxClockSkew)) {
		return refusef("the assertion was issued in the future (%s)", a.IssueInstant.UTC().Format(time.RFC3339))
	}
	if a.Subject == nil || a.Conditions == nil {
		return refusef("the assertion has no Subject or no Conditions")
	}
	bearers := 0
	for _, sc := range a.Subject.SubjectConfirmations {
		d := sc.SubjectConfirmationData
		if sc.Method != bearer || d == nil || d.NotOnOrAfter.IsZero() || d.Recipient != c.sp.AcsURL.String() {
			continue
		}
		if unsolicited && d.InResponseTo != "" {
			continue
		}
		bearers++
	}
	if bearers == 0 {
		return refusef("no bearer SubjectConfirmation with our ACS as Recipient and an expiry")
	}
	return nil
}

// errUnsignedAssertion refuses an assertion without its own signature on a
// connection that wants signed assertions.
var errUnsignedAssertion = refusef("the assertion is not signed (a signed response is not enough: this connection wants signed assertions)")

// plainAssertion reports whether the response's assertion is a plain one
// (not encrypted).
func plainAssertion(root *etree.Element) bool {
	for _, ch := range root.ChildElements() {
		if ch.Tag == "Assertion" && ch.NamespaceURI() == nsAssertion {
			return true
		}
	}
	return false
}

// assertionSelfSigned reports whether the response's plain assertion has a
// signature of its own (an encrypted one cannot be seen into here).
func assertionSelfSigned(root *etree.Element) bool {
	for _, ch := range root.ChildElements() {
		if ch.Tag == "Assertion" && ch.NamespaceURI() == nsAssertion && directSignature(ch) != nil {
			return true
		}
	}
	return false
}

// checkAudience requires at least one AudienceRestriction, each naming our
// entity ID (SAML core §2.5.1.4: every restriction must be satisfied).
func (c *Connector) checkAudience(a *crewjam.Assertion) error {
	if a.Conditions == nil || len(a.Conditions.AudienceRestrictions) == 0 {
		return refusef("the assertion has no AudienceRestriction")
	}
	for _, r := range a.Conditions.AudienceRestrictions {
		if r.Audience.Value != c.sp.EntityID {
			return refusef("the assertion is for audience %q, not %q", clip(r.Audience.Value), c.sp.EntityID)
		}
	}
	return nil
}

// validationContext checks signatures against the IdP's configured
// signing certificates only, never one carried by the message.
func (c *Connector) validationContext() *dsig.ValidationContext {
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: c.certs})
	ctx.IdAttribute = "ID"
	return ctx
}

// rememberUntil is how long an assertion ID stays in the replay cache: past
// the last instant the library would still accept it (IssueInstant +
// MaxIssueDelay), with the clock skew on top.
func rememberUntil(a *crewjam.Assertion, now time.Time) time.Time {
	from := a.IssueInstant
	if from.Before(now) {
		from = now
	}
	return from.Add(crewjam.MaxIssueDelay + crewjam.MaxClockSkew)
}

// spKeyDescriptors lists our SP certificates for signing and for
// encryption: the current one and, during a rotation, the next one
// (published before it signs anything; docs/operations.md).
func spKeyDescriptors(current, next *x509.Certificate) []crewjam.KeyDescriptor {
	var out []crewjam.KeyDescriptor
	for _, cert := range []*x509.Certificate{current, next} {
		if cert == nil {
			continue
		}
		info := crewjam.KeyInfo{X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{{Data: base64.StdEncoding.EncodeToString(cert.Raw)}}}}
		out = append(out,
			crewjam.KeyDescriptor{Use: "signing", KeyInfo: info},
			crewjam.KeyDescriptor{Use: "encryption", KeyInfo: info, EncryptionMethods: []crewjam.EncryptionMethod{
				{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes128-cbc"},
				{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes192-cbc"},
				{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
				{Algorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"},
			}})
	}
	return out
}

// signedMetadata is our SP metadata: the library's, with only the HTTP-POST
// ACS (no artifact binding), WantAssertionsSigned only when the connection
// wants it, an ID, and an enveloped RSA-SHA256 signature by the SP key.
func signedMetadata(sp *crewjam.ServiceProvider, wantAssertionsSigned bool, next *x509.Certificate) ([]byte, error) {
	ed := sp.Metadata()
	sum := sha256.Sum256([]byte(sp.EntityID))
	ed.ID = "_" + hex.EncodeToString(sum[:16])
	for i := range ed.SPSSODescriptors {
		d := &ed.SPSSODescriptors[i]
		if !wantAssertionsSigned {
			d.WantAssertionsSigned = nil
		}
		d.KeyDescriptors = spKeyDescriptors(sp.Certificate, next)
		d.AssertionConsumerServices = slices.DeleteFunc(d.AssertionConsumerServices, func(e crewjam.IndexedEndpoint) bool {
			return e.Binding != crewjam.HTTPPostBinding
		})
	}
	raw, err := xml.Marshal(ed)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, err
	}
	ctx, err := dsig.NewSigningContext(sp.Key, [][]byte{sp.Certificate.Raw})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(doc.Root())
	if err != nil {
		return nil, err
	}
	out := etree.NewDocument()
	out.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	out.SetRoot(signed)
	var buf bytes.Buffer
	if _, err := out.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

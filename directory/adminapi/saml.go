package adminapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

const samlMetadataNS = "urn:oasis:names:tc:SAML:2.0:metadata"

// MetadataFetcher fetches SAML IdP metadata from a URL (the idp package's
// upstream client, with its address policy and size limit).
type MetadataFetcher interface {
	FetchSAMLMetadata(ctx context.Context, url string) ([]byte, error)
}

// publicMessager is an error that says what went wrong in words an org
// admin may see (the idp package's fetch errors).
type publicMessager interface{ PublicMessage() string }

// publicFetchMessage is what an org admin is told about a failed fetch of
// their IdP: the class of failure, never an address, port or library error.
func publicFetchMessage(err error) string {
	var pm publicMessager
	if errors.As(err, &pm) {
		return pm.PublicMessage()
	}
	return "not reachable"
}

// validateSAML checks that exactly one way of describing the IdP is used and
// that it is sound: metadata XML is parsed here, a metadata URL is fetched
// (when the API has a fetcher) and its document checked the same way, so an
// admin learns at configuration time what the sign-in would trip on.
func (a *API) validateSAML(ctx context.Context, s *SAMLSettings) error {
	now := a.now()
	if err := validateSAMLBehaviour(s); err != nil {
		return err
	}
	manual := s.EntityID != "" || s.SSOURL != "" || len(s.Certificates) > 0
	modes := 0
	for _, set := range []bool{s.MetadataXML != "", s.MetadataURL != "", manual} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return invalidField("saml", "describe the IdP by exactly one of: metadata_xml, metadata_url, or entity_id + sso_url + certificates")
	}
	switch {
	case s.MetadataXML != "":
		return validateIdPMetadata("saml.metadata_xml", s.MetadataXML, now)
	case s.MetadataURL != "":
		if err := validateURL("saml.metadata_url", s.MetadataURL); err != nil {
			return err
		}
		if a.fetcher == nil {
			return nil
		}
		doc, err := a.fetcher.FetchSAMLMetadata(ctx, s.MetadataURL)
		if err != nil {
			// The detail (addresses, ports) is for the operator's log only.
			a.log.WarnContext(ctx, "fetching SAML metadata for a connection failed", "url", s.MetadataURL, "err", err)
			return invalidField("saml.metadata_url", "the metadata could not be fetched: "+publicFetchMessage(err))
		}
		return validateIdPMetadata("saml.metadata_url", string(doc), now)
	}
	if s.EntityID == "" || len(s.EntityID) > 1024 || hasControl(s.EntityID) {
		return invalidField("saml.entity_id", "entity_id is required: 1-1024 characters")
	}
	if err := validateURL("saml.sso_url", s.SSOURL); err != nil {
		return err
	}
	if len(s.Certificates) == 0 {
		return invalidField("saml.certificates", "at least one IdP signing certificate (PEM) is required")
	}
	if len(s.Certificates) > 10 {
		return invalidField("saml.certificates", "at most 10 certificates")
	}
	for _, p := range s.Certificates {
		block, rest := pem.Decode([]byte(p))
		if block == nil || block.Type != "CERTIFICATE" {
			return invalidField("saml.certificates", "each certificate must be one PEM block of type CERTIFICATE")
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			return invalidField("saml.certificates", "put one certificate in each entry")
		}
		if err := checkCertificate("saml.certificates", block.Bytes, now); err != nil {
			return err
		}
	}
	return nil
}

// validateSAMLBehaviour checks the SP settings.
func validateSAMLBehaviour(s *SAMLSettings) error {
	switch s.RequestBinding {
	case "", "redirect", "post":
	default:
		return invalidField("saml.request_binding", `request_binding must be "redirect" or "post"`)
	}
	switch s.NameIDFormat {
	case "", "unspecified", "persistent", "email", "transient":
	default:
		return invalidField("saml.name_id_format", `name_id_format must be "unspecified", "persistent", "email" or "transient"`)
	}
	if s.IDPInitiatedTarget != "" && !isRelativePath(s.IDPInitiatedTarget) {
		return invalidField("saml.idp_initiated_target", "idp_initiated_target must be a path on this broker, such as /login/done or /oauth2/authorize?…")
	}
	if s.AllowIDPInitiated && s.IDPInitiatedTarget == "" {
		return invalidField("saml.idp_initiated_target", "allow_idp_initiated needs idp_initiated_target: where an IdP-initiated login lands")
	}
	return nil
}

// isRelativePath accepts a path on this host: "/…", never "//…" or "/\…"
// (other hosts to a browser), no control characters, spaces, backslashes
// or fragments, at most 2048 characters.
func isRelativePath(s string) bool {
	if len(s) < 1 || len(s) > 2048 || s[0] != '/' || (len(s) > 1 && (s[1] == '/' || s[1] == '\\')) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x7f || c == '\\' || c == '#' {
			return false
		}
	}
	return true
}

// newSPKeyPair makes a connection's SP key pair: RSA-2048 and a self-signed
// certificate valid for ten years (IdPs pin it from our metadata; its
// validity period is not what they trust). It returns the certificate as
// PEM and the key as PKCS #8 DER, to be sealed.
func newSPKeyPair(connID string, now time.Time) (string, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "ssobroker SAML SP " + connID},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), keyDER, nil
}

// checkCertificate parses a DER certificate and refuses it when it is not
// valid now or its key is weak.
func checkCertificate(field string, der []byte, now time.Time) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return invalidField(field, "a certificate does not parse: "+err.Error())
	}
	name := cert.Subject.String()
	if now.After(cert.NotAfter) {
		return invalidField(field, "certificate "+quote(name)+" expired on "+cert.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(cert.NotBefore) {
		return invalidField(field, "certificate "+quote(name)+" is not valid before "+cert.NotBefore.UTC().Format(time.DateOnly))
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return invalidField(field, "certificate "+quote(name)+" has an RSA key shorter than 2048 bits")
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return invalidField(field, "certificate "+quote(name)+" has an unsupported key type")
	}
	return nil
}

// validateURL accepts an absolute https URL, or http for a loopback host.
func validateURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
		return invalidField(field, quote(raw)+" must be an absolute URL without user info or fragment")
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil
	}
	return invalidField(field, quote(raw)+" must use https (http only for a loopback host)")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// The parts of SAML 2.0 metadata that validation reads.
type mdEntity struct {
	XMLName  xml.Name
	EntityID string     `xml:"entityID,attr"`
	IDPSSO   []mdIDPSSO `xml:"IDPSSODescriptor"`
	Entities []mdEntity `xml:"EntityDescriptor"`
}

type mdIDPSSO struct {
	Keys []mdKey      `xml:"KeyDescriptor"`
	SSO  []mdEndpoint `xml:"SingleSignOnService"`
}

type mdKey struct {
	Use   string   `xml:"use,attr"`
	Certs []string `xml:"KeyInfo>X509Data>X509Certificate"`
}

type mdEndpoint struct {
	Binding  string `xml:"Binding,attr"`
	Location string `xml:"Location,attr"`
}

// validateIdPMetadata checks IdP metadata: no DOCTYPE (docs/security.md), one
// entity with an IDPSSODescriptor, an SSO endpoint, and signing
// certificates that parse and are valid now.
func validateIdPMetadata(field, doc string, now time.Time) error {
	if err := refuseDirectives(doc); err != nil {
		return invalidField(field, err.Error())
	}
	var root mdEntity
	if err := xml.Unmarshal([]byte(doc), &root); err != nil {
		return invalidField(field, "metadata is not well-formed XML: "+err.Error())
	}
	if root.XMLName.Space != samlMetadataNS {
		return invalidField(field, "metadata must be a SAML 2.0 EntityDescriptor")
	}
	var idps []mdEntity
	switch root.XMLName.Local {
	case "EntityDescriptor":
		idps = []mdEntity{root}
	case "EntitiesDescriptor":
		for _, e := range root.Entities {
			if len(e.IDPSSO) > 0 {
				idps = append(idps, e)
			}
		}
	default:
		return invalidField(field, "metadata must be a SAML 2.0 EntityDescriptor")
	}
	if len(idps) != 1 || len(idps[0].IDPSSO) != 1 {
		return invalidField(field, "metadata must describe exactly one identity provider (one IDPSSODescriptor)")
	}
	e, idp := idps[0], idps[0].IDPSSO[0]
	if e.EntityID == "" {
		return invalidField(field, "the EntityDescriptor has no entityID")
	}
	if len(idp.SSO) == 0 {
		return invalidField(field, "the IdP has no SingleSignOnService")
	}
	for _, ep := range idp.SSO {
		if err := validateURL(field, ep.Location); err != nil {
			return err
		}
	}
	signing := 0
	for _, k := range idp.Keys {
		if k.Use != "" && k.Use != "signing" {
			continue
		}
		for _, c := range k.Certs {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
			if err != nil {
				return invalidField(field, "an X509Certificate is not base64")
			}
			if err := checkCertificate(field, der, now); err != nil {
				return err
			}
			signing++
		}
	}
	if signing == 0 {
		return invalidField(field, "the IdP publishes no signing certificate")
	}
	return nil
}

// refuseDirectives fails on a DOCTYPE or any other <!…> directive, before
// the document is interpreted.
func refuseDirectives(doc string) error {
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errors.New("metadata is not well-formed XML: " + err.Error())
		}
		if _, ok := tok.(xml.Directive); ok {
			return errors.New("metadata must not contain a DOCTYPE or other directive")
		}
	}
}

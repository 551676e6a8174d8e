package saml

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobroker/ssobroker/idp"
)

// Config is the "saml" section of a connection's configuration, as
// Configurator prepares it for the admin API, the console and the setup
// link to store.
type Config struct {
	// The IdP, by exactly one of: its metadata XML, its metadata URL, or
	// entity ID + SSO URL + signing certificates (PEM).
	MetadataXML  string   `json:"metadata_xml,omitempty"`
	MetadataURL  string   `json:"metadata_url,omitempty"`
	EntityID     string   `json:"entity_id,omitempty"`
	SSOURL       string   `json:"sso_url,omitempty"`
	Certificates []string `json:"certificates,omitempty"`

	// AllowIDPInitiated accepts unsolicited responses; IDPInitiatedTarget
	// (a relative path on the broker) is where such a login lands.
	AllowIDPInitiated  bool   `json:"allow_idp_initiated"`
	IDPInitiatedTarget string `json:"idp_initiated_target,omitempty"`
	// SignRequests signs AuthnRequests with the SP key (nil: true).
	SignRequests *bool `json:"sign_requests,omitempty"`
	// RequestBinding is how the AuthnRequest travels: "redirect" (default
	// when the IdP offers it) or "post".
	RequestBinding string `json:"request_binding,omitempty"`
	// NameIDFormat is asked for in the AuthnRequest: "unspecified"
	// (default), "persistent", "email" or "transient".
	NameIDFormat string `json:"name_id_format,omitempty"`
	// WantAssertionsSigned demands the assertion's own signature (and says
	// so in our SP metadata). By default a response signed as a whole with
	// an unsigned assertion inside is accepted too (docs/security.md, "SAML
	// signature forms").
	WantAssertionsSigned bool `json:"want_assertions_signed,omitempty"`

	// The SP's key pair, made by Configurator when the connection is
	// created: the certificate (PEM) and the PKCS #8 private key sealed with
	// the deployment's secret key (associated data: the connection id).
	SPCertificate string `json:"sp_certificate,omitempty"`
	SPKeySealed   []byte `json:"sp_key_sealed,omitempty"`
	// An SP key rotation in progress (spkeys.go; docs/operations.md): the
	// next pair, published in our metadata beside the current one and
	// decrypting, signing nothing until activated; and, after an
	// activation, the previous pair, decrypting only until retired. Sealed
	// like the current key.
	SPNextCertificate     string     `json:"sp_next_certificate,omitempty"`
	SPNextKeySealed       []byte     `json:"sp_next_key_sealed,omitempty"`
	SPNextPublishedAt     *time.Time `json:"sp_next_published_at,omitempty"`
	SPPreviousCertificate string     `json:"sp_previous_certificate,omitempty"`
	SPPreviousKeySealed   []byte     `json:"sp_previous_key_sealed,omitempty"`
}

// keepSPKeys copies the SP key pairs (current, next, previous) of from into
// c: they are ours, never an admin's to set.
func (c *Config) keepSPKeys(from Config) {
	c.SPCertificate, c.SPKeySealed = from.SPCertificate, from.SPKeySealed
	c.SPNextCertificate, c.SPNextKeySealed, c.SPNextPublishedAt = from.SPNextCertificate, from.SPNextKeySealed, from.SPNextPublishedAt
	c.SPPreviousCertificate, c.SPPreviousKeySealed = from.SPPreviousCertificate, from.SPPreviousKeySealed
}

// Request bindings.
const (
	BindingRedirect = "redirect"
	BindingPOST     = "post"
)

// nameIDFormats maps the configuration's names to SAML's URIs.
func nameIDFormats() map[string]crewjam.NameIDFormat {
	return map[string]crewjam.NameIDFormat{
		"":            crewjam.UnspecifiedNameIDFormat,
		"unspecified": crewjam.UnspecifiedNameIDFormat,
		"persistent":  crewjam.PersistentNameIDFormat,
		"email":       crewjam.EmailAddressNameIDFormat,
		"transient":   crewjam.TransientNameIDFormat,
	}
}

// ParseConfig reads and checks the "saml" section. It fails with an error
// wrapping idp.ErrConfig that names every problem.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) == 0 || string(raw) == "null" {
		return c, fmt.Errorf("%w: the connection has no saml section", idp.ErrConfig)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("%w: saml section: %w", idp.ErrConfig, err)
	}
	var problems []error
	for _, p := range settingsProblems(c) {
		problems = append(problems, errors.New(p.Message))
	}
	if c.SPCertificate == "" || len(c.SPKeySealed) == 0 {
		problems = append(problems, errors.New("the connection has no SP key pair (create it through the admin API)"))
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: saml: %w", idp.ErrConfig, errors.Join(problems...))
	}
	return c, nil
}

// signRequests reports whether AuthnRequests are signed.
func (c Config) signRequests() bool { return c.SignRequests == nil || *c.SignRequests }

// spKeyPair opens the SP's private key and parses its certificate.
func spKeyPair(c Config, open func([]byte) ([]byte, error)) (crypto.Signer, *x509.Certificate, error) {
	return openKeyPair(c.SPCertificate, c.SPKeySealed, open)
}

// openKeyPair opens a sealed PKCS #8 RSA key and parses its PEM
// certificate, which must match it.
func openKeyPair(certPEM string, sealed []byte, open func([]byte) ([]byte, error)) (*rsa.PrivateKey, *x509.Certificate, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("%w: sp_certificate is not a PEM certificate", idp.ErrConfig)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: sp_certificate: %w", idp.ErrConfig, err)
	}
	if open == nil {
		return nil, nil, fmt.Errorf("%w: no way to open the SP key", idp.ErrConfig)
	}
	der, err := open(sealed)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: SP key: %w", idp.ErrConfig, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the SP key is %T, not RSA", idp.ErrConfig, k)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, nil, fmt.Errorf("%w: sp_certificate does not match the SP key", idp.ErrConfig)
	}
	return key, cert, nil
}

// ParseIdPMetadata reads IdP metadata: one EntityDescriptor (or an
// EntitiesDescriptor holding exactly one IdP) with one IDPSSODescriptor, a
// SingleSignOnService we can use and at least one signing certificate valid
// at now. DOCTYPEs and other directives are refused before parsing.
func ParseIdPMetadata(doc []byte, now time.Time) (*crewjam.EntityDescriptor, error) {
	if err := refuseDirectives(doc); err != nil {
		return nil, fmt.Errorf("%w: IdP metadata: %s", idp.ErrConfig, strings.TrimPrefix(err.Error(), errRefused.Error()+": "))
	}
	var ed crewjam.EntityDescriptor
	err := xml.Unmarshal(doc, &ed)
	if err != nil {
		var eds crewjam.EntitiesDescriptor
		if xml.Unmarshal(doc, &eds) != nil {
			return nil, fmt.Errorf("%w: IdP metadata is not a SAML EntityDescriptor: %w", idp.ErrConfig, err)
		}
		var idps []crewjam.EntityDescriptor
		for _, e := range eds.EntityDescriptors {
			if len(e.IDPSSODescriptors) > 0 {
				idps = append(idps, e)
			}
		}
		if len(idps) != 1 {
			return nil, fmt.Errorf("%w: IdP metadata lists %d identity providers, expected one", idp.ErrConfig, len(idps))
		}
		ed = idps[0]
	}
	if ed.EntityID == "" {
		return nil, fmt.Errorf("%w: IdP metadata has no entityID", idp.ErrConfig)
	}
	if !ed.ValidUntil.IsZero() && now.After(ed.ValidUntil) {
		return nil, fmt.Errorf("%w: IdP metadata expired at %s (validUntil)", idp.ErrConfig, ed.ValidUntil.UTC().Format(time.RFC3339))
	}
	if len(ed.IDPSSODescriptors) == 0 && len(ed.SPSSODescriptors) > 0 {
		return nil, fmt.Errorf("%w: this is a service provider's metadata (an SPSSODescriptor, no IDPSSODescriptor): give the metadata your identity provider publishes", idp.ErrConfig)
	}
	if len(ed.IDPSSODescriptors) != 1 {
		return nil, fmt.Errorf("%w: IdP metadata has %d IDPSSODescriptors, expected one", idp.ErrConfig, len(ed.IDPSSODescriptors))
	}
	for _, s := range ed.IDPSSODescriptors[0].SingleSignOnServices {
		if s.Binding != crewjam.HTTPRedirectBinding && s.Binding != crewjam.HTTPPostBinding {
			continue
		}
		if err := idp.CheckUpstreamURL(s.Location); err != nil {
			return nil, fmt.Errorf("%w: the IdP's SingleSignOnService %w", idp.ErrConfig, err)
		}
	}
	if ssoLocation(&ed, crewjam.HTTPRedirectBinding) == "" && ssoLocation(&ed, crewjam.HTTPPostBinding) == "" {
		return nil, fmt.Errorf("%w: the IdP has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding", idp.ErrConfig)
	}
	valid := 0
	var last error
	for _, data := range signingCertData(&ed) {
		cert, err := parseBase64Cert(data)
		if err == nil {
			err = usableCert(cert, now)
		}
		if err != nil {
			last = err
			continue
		}
		valid++
	}
	if valid == 0 {
		if last != nil {
			return nil, fmt.Errorf("%w: no usable IdP signing certificate: %w", idp.ErrConfig, last)
		}
		return nil, fmt.Errorf("%w: the IdP publishes no signing certificate", idp.ErrConfig)
	}
	return &ed, nil
}

// manualMetadata builds IdP metadata from an entity ID, an SSO URL and PEM
// certificates.
func manualMetadata(c Config, now time.Time) (*crewjam.EntityDescriptor, error) {
	u, err := url.Parse(c.SSOURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: sso_url %q is not an http(s) URL", idp.ErrConfig, c.SSOURL)
	}
	if c.EntityID == "" {
		return nil, fmt.Errorf("%w: entity_id is empty", idp.ErrConfig)
	}
	parsed, err := parsePEMCertificates(c.Certificates, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", idp.ErrConfig, err)
	}
	var certs []crewjam.X509Certificate
	for _, cert := range parsed {
		certs = append(certs, crewjam.X509Certificate{Data: base64.StdEncoding.EncodeToString(cert.Raw)})
	}
	return &crewjam.EntityDescriptor{
		EntityID: c.EntityID,
		IDPSSODescriptors: []crewjam.IDPSSODescriptor{{
			SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors:             []crewjam.KeyDescriptor{{Use: "signing", KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{X509Certificates: certs}}}},
			}},
			SingleSignOnServices: []crewjam.Endpoint{
				{Binding: crewjam.HTTPRedirectBinding, Location: c.SSOURL},
				{Binding: crewjam.HTTPPostBinding, Location: c.SSOURL},
			},
		}},
	}, nil
}

func parseBase64Cert(data string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
	if err != nil {
		return nil, fmt.Errorf("an X509Certificate is not base64: %w", err)
	}
	return x509.ParseCertificate(der)
}

// usableCert refuses a certificate that is not valid at now or whose RSA
// key is shorter than 2048 bits.
func usableCert(c *x509.Certificate, now time.Time) error {
	name := c.Subject.String()
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("certificate %q expired on %s", name, c.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(c.NotBefore):
		return fmt.Errorf("certificate %q is not valid before %s", name, c.NotBefore.UTC().Format(time.DateOnly))
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("certificate %q has an RSA key shorter than 2048 bits", name)
		}
	case *ecdsa.PublicKey:
	default:
		return fmt.Errorf("certificate %q has a %T key: SAML signatures need RSA or ECDSA", name, c.PublicKey)
	}
	return nil
}

// ssoLocation is the IdP's SingleSignOnService URL for binding, or "".
func ssoLocation(ed *crewjam.EntityDescriptor, binding string) string {
	for _, d := range ed.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			if s.Binding == binding && s.Location != "" {
				return s.Location
			}
		}
	}
	return ""
}

// signingCertData lists the base64 X509Certificate values of IdP metadata
// whose KeyDescriptor is for signing (use "signing" or no use).
func signingCertData(ed *crewjam.EntityDescriptor) []string {
	var out []string
	for _, d := range ed.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
				out = append(out, xc.Data)
			}
		}
	}
	return out
}

// signingCerts are the parseable signing certificates of IdP metadata
// (ParseIdPMetadata has checked that at least one is usable).
func signingCerts(ed *crewjam.EntityDescriptor) []*x509.Certificate {
	var out []*x509.Certificate
	for _, data := range signingCertData(ed) {
		if cert, err := parseBase64Cert(data); err == nil {
			out = append(out, cert)
		}
	}
	return out
}

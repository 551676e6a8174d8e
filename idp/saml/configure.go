package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// Configurator owns the "saml" section of a connection's configuration: it
// checks what an admin sends (the IdP metadata, fetched from its URL through
// the upstream client, or the IdP given by hand) by the rules sign-in
// applies, makes the connection's SP key pair, and says what the IdP's admin
// pastes. It implements idp.SectionConfigurator.
type Configurator struct{}

var _ idp.SectionConfigurator = Configurator{}

// maxCertificates bounds the certificates an admin gives by hand.
const maxCertificates = 10

// expiryWarning is how long before a certificate's end it is flagged.
const expiryWarning = 30 * 24 * time.Hour

func problem(field, msg string) *directory.InvalidError {
	return &directory.InvalidError{Field: field, Message: msg}
}

// settingsProblems checks how our SP behaves and that the IdP is described
// exactly one way: the rules ParseConfig and Validate share.
func settingsProblems(c Config) []*directory.InvalidError {
	var out []*directory.InvalidError
	manual := c.EntityID != "" || c.SSOURL != "" || len(c.Certificates) > 0
	n := 0
	for _, set := range []bool{c.MetadataXML != "", c.MetadataURL != "", manual} {
		if set {
			n++
		}
	}
	if n != 1 {
		out = append(out, problem("saml", "describe the IdP by exactly one of: metadata_xml, metadata_url, or entity_id + sso_url + certificates"))
	}
	if _, ok := nameIDFormats()[c.NameIDFormat]; !ok {
		out = append(out, problem("saml.name_id_format", `name_id_format must be "unspecified", "persistent", "email" or "transient"`))
	}
	switch c.RequestBinding {
	case "", BindingRedirect, BindingPOST:
	default:
		out = append(out, problem("saml.request_binding", `request_binding must be "redirect" or "post"`))
	}
	if c.IDPInitiatedTarget != "" && !idp.ValidReturnTo(c.IDPInitiatedTarget) {
		out = append(out, problem("saml.idp_initiated_target", "idp_initiated_target must be a path on this broker, such as /login/done or /oauth2/authorize?…"))
	} else if c.AllowIDPInitiated && c.IDPInitiatedTarget == "" {
		out = append(out, problem("saml.idp_initiated_target", "allow_idp_initiated needs idp_initiated_target: where an IdP-initiated login lands"))
	}
	return out
}

// parsePEMCertificates reads IdP certificates given by hand: one PEM
// CERTIFICATE per entry, each usable at now.
func parsePEMCertificates(pems []string, now time.Time) ([]*x509.Certificate, error) {
	if len(pems) == 0 {
		return nil, errors.New("at least one IdP signing certificate (PEM) is required")
	}
	if len(pems) > maxCertificates {
		return nil, fmt.Errorf("at most %d certificates", maxCertificates)
	}
	var out []*x509.Certificate
	for i, p := range pems {
		block, rest := pem.Decode([]byte(p))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("certificate %d is not a PEM block of type CERTIFICATE", i+1)
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("certificate %d holds more than one PEM block: put one certificate in each entry", i+1)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", i+1, err)
		}
		if err := usableCert(cert, now); err != nil {
			return nil, err
		}
		out = append(out, cert)
	}
	return out, nil
}

// Validate checks and prepares a "saml" section. The SP key pair is kept
// from the stored section, or made (and sealed) for a new connection.
func (Configurator) Validate(ctx context.Context, in idp.ConfigureInput) (directory.PreparedSection, error) {
	var out directory.PreparedSection
	var c Config
	if err := json.Unmarshal(in.Section, &c); err != nil || len(in.Section) == 0 {
		out.Problems = []*directory.InvalidError{problem("saml", "the saml section must be an object")}
		return out, nil
	}
	// The key pair is ours, never the admin's.
	var stored Config
	if len(in.Stored) > 0 {
		_ = json.Unmarshal(in.Stored, &stored) // unreadable: a new key pair
	}
	c.keepSPKeys(stored)
	if out.Problems = settingsProblems(c); len(out.Problems) > 0 {
		return out, nil
	}
	if p := idpProblem(ctx, in, c); p != nil {
		out.Problems = []*directory.InvalidError{p}
		return out, nil
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return out, err
	}
	out.Section = raw
	if c.SPCertificate != "" && len(c.SPKeySealed) > 0 {
		return out, nil
	}
	if in.Seal == nil {
		return out, idp.ErrNoSealer
	}
	out.Seal = func(connID string) (json.RawMessage, error) {
		certPEM, keyDER, err := newSPKeyPair(connID, in.Now)
		if err != nil {
			return nil, err
		}
		sealed, err := in.Seal(keyDER, []byte(connID))
		if err != nil {
			return nil, err
		}
		withKey := c
		withKey.SPCertificate, withKey.SPKeySealed = certPEM, sealed
		return json.Marshal(withKey)
	}
	return out, nil
}

// idpProblem checks the IdP's description the way sign-in reads it: the
// metadata (fetched when given by URL) through ParseIdPMetadata, or the
// IdP given by hand through manualMetadata's rules.
func idpProblem(ctx context.Context, in idp.ConfigureInput, c Config) *directory.InvalidError {
	switch {
	case c.MetadataXML != "":
		if _, err := ParseIdPMetadata([]byte(c.MetadataXML), in.Now); err != nil {
			return problem("saml.metadata_xml", idp.ConfigMessage(err))
		}
	case c.MetadataURL != "":
		if err := idp.CheckUpstreamURL(c.MetadataURL); err != nil {
			return problem("saml.metadata_url", err.Error())
		}
		client := in.HTTPClient
		if client == nil {
			client = idp.NewUpstreamClient(false)
		}
		doc, err := FetchMetadata(ctx, client, c.MetadataURL)
		if err != nil {
			return problem("saml.metadata_url", "the metadata could not be fetched: "+idp.PublicFetchMessage(err))
		}
		if _, err := ParseIdPMetadata(doc, in.Now); err != nil {
			return problem("saml.metadata_url", idp.ConfigMessage(err))
		}
	default:
		if c.EntityID == "" || len(c.EntityID) > 1024 || hasControl(c.EntityID) {
			return problem("saml.entity_id", "entity_id is required: 1-1024 characters")
		}
		if err := idp.CheckUpstreamURL(c.SSOURL); err != nil {
			return problem("saml.sso_url", err.Error())
		}
		if _, err := parsePEMCertificates(c.Certificates, in.Now); err != nil {
			return problem("saml.certificates", err.Error())
		}
	}
	return nil
}

// Describe says what the IdP's admin pastes (our entity ID, ACS URL, SP
// metadata URL and certificate) and lists the IdP's signing certificates
// that the configuration holds, with their expiry.
func (Configurator) Describe(in idp.DescribeInput) directory.SetupValues {
	v := directory.SetupValues{SPEntityID: in.EntityID, ACSURL: in.CallbackURL, SPMetadataURL: in.EntityID}
	var c Config
	if len(in.Config.SAML) == 0 || json.Unmarshal(in.Config.SAML, &c) != nil {
		return v
	}
	v.SPCertificate = c.SPCertificate
	var certs []*x509.Certificate
	switch {
	case c.MetadataXML != "":
		var ed crewjam.EntityDescriptor
		if refuseDirectives([]byte(c.MetadataXML)) == nil && xml.Unmarshal([]byte(c.MetadataXML), &ed) == nil {
			for _, data := range signingCertData(&ed) {
				if cert, err := parseBase64Cert(data); err == nil {
					certs = append(certs, cert)
				}
			}
		}
	default:
		for _, p := range c.Certificates {
			if block, _ := pem.Decode([]byte(p)); block != nil {
				if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
					certs = append(certs, cert)
				}
			}
		}
	}
	for _, cert := range certs {
		v.Certificates = append(v.Certificates, directory.CertificateInfo{Subject: cert.Subject.String(),
			NotAfter: cert.NotAfter.UTC(), ExpiresSoon: !in.Now.Add(expiryWarning).Before(cert.NotAfter)})
	}
	return v
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

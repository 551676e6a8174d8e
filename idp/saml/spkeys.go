package saml

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// SP key rotation (docs/operations.md, "Rotating a SAML connection's SP
// key"). IdPs pin our SP certificate from our metadata, to check the
// signatures of our requests and to encrypt assertions to us; a new key used
// before the IdP has read it would break sign-in. So a rotation has steps,
// each an explicit action of an admin or operator:
//
//   - publish: a new pair is made and sealed as the next one. Our metadata
//     lists it beside the current one, for signing and for encryption; it
//     decrypts already (an IdP may encrypt to it as soon as it reads the
//     metadata), but signs nothing.
//   - activate: once the IdP has read the metadata again, the next pair
//     becomes the current one (it signs from now on) and the old current
//     one becomes the previous one, which only decrypts (an IdP that has
//     not refreshed may still encrypt to it) and is no longer published.
//   - retire: the previous pair is dropped.
//
// Publishing while a next pair exists, activating without one, and retiring
// without a previous one are refused, as is publishing while a previous one
// is still kept (retire it first): at most three pairs exist at a time.

var _ idp.SPKeyRotator = Configurator{}

func stepProblem(msg string) error { return &directory.InvalidError{Field: "step", Message: msg} }

// RotateSPKey takes one step of the rotation of a connection's SP key.
func (Configurator) RotateSPKey(_ context.Context, in idp.SPKeyRotation) (json.RawMessage, directory.SPKeys, error) {
	var c Config
	if err := json.Unmarshal(in.Section, &c); err != nil {
		return nil, directory.SPKeys{}, fmt.Errorf("%w: saml section: %w", idp.ErrConfig, err)
	}
	if c.SPCertificate == "" || len(c.SPKeySealed) == 0 {
		return nil, directory.SPKeys{}, &directory.InvalidError{Field: "saml", Message: "the connection has no SP key pair yet"}
	}
	switch in.Step {
	case directory.SPKeyPublish:
		switch {
		case c.SPNextCertificate != "":
			return nil, directory.SPKeys{}, stepProblem("a next SP key is already published: activate it first")
		case c.SPPreviousCertificate != "":
			return nil, directory.SPKeys{}, stepProblem("the previous SP key is still kept for decryption: retire it first")
		case in.Seal == nil:
			return nil, directory.SPKeys{}, idp.ErrNoSealer
		}
		certPEM, keyDER, err := newSPKeyPair(in.ConnectionID, in.Now)
		if err != nil {
			return nil, directory.SPKeys{}, err
		}
		sealed, err := in.Seal(keyDER, []byte(in.ConnectionID))
		if err != nil {
			return nil, directory.SPKeys{}, err
		}
		at := in.Now.UTC()
		c.SPNextCertificate, c.SPNextKeySealed, c.SPNextPublishedAt = certPEM, sealed, &at
	case directory.SPKeyActivate:
		if c.SPNextCertificate == "" || len(c.SPNextKeySealed) == 0 {
			return nil, directory.SPKeys{}, stepProblem("there is no next SP key to activate: publish one first")
		}
		c.SPPreviousCertificate, c.SPPreviousKeySealed = c.SPCertificate, c.SPKeySealed
		c.SPCertificate, c.SPKeySealed = c.SPNextCertificate, c.SPNextKeySealed
		c.SPNextCertificate, c.SPNextKeySealed, c.SPNextPublishedAt = "", nil, nil
	case directory.SPKeyRetire:
		if c.SPPreviousCertificate == "" {
			return nil, directory.SPKeys{}, stepProblem("there is no previous SP key to retire")
		}
		c.SPPreviousCertificate, c.SPPreviousKeySealed = "", nil
	default:
		return nil, directory.SPKeys{}, stepProblem(`step must be "publish", "activate" or "retire"`)
	}
	out, err := json.Marshal(c)
	if err != nil {
		return nil, directory.SPKeys{}, err
	}
	return out, describeSPKeys(c), nil
}

// SPKeys describes a section's SP keys.
func (Configurator) SPKeys(section json.RawMessage) (directory.SPKeys, error) {
	var c Config
	if err := json.Unmarshal(section, &c); err != nil {
		return directory.SPKeys{}, fmt.Errorf("%w: saml section: %w", idp.ErrConfig, err)
	}
	return describeSPKeys(c), nil
}

func describeSPKeys(c Config) directory.SPKeys {
	keys := directory.SPKeys{Current: keyInfo(c.SPCertificate)}
	if c.SPNextCertificate != "" {
		k := keyInfo(c.SPNextCertificate)
		k.PublishedAt = c.SPNextPublishedAt
		keys.Next = &k
	}
	if c.SPPreviousCertificate != "" {
		k := keyInfo(c.SPPreviousCertificate)
		keys.Previous = &k
	}
	return keys
}

func keyInfo(certPEM string) directory.SPKeyInfo {
	k := directory.SPKeyInfo{Certificate: certPEM}
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return k
	}
	k.SHA256 = fingerprint(block.Bytes)
	if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
		k.NotAfter = cert.NotAfter.UTC()
	}
	return k
}

// extraKeys opens the next and previous SP key pairs of a rotation in
// progress: the next one is published and decrypts, the previous one only
// decrypts.
type extraKeys struct {
	nextCert *x509.Certificate
	decrypt  []*rsa.PrivateKey // next, then previous
}

func openExtraKeys(c Config, open func([]byte) ([]byte, error)) (extraKeys, error) {
	var out extraKeys
	if c.SPNextCertificate != "" {
		key, cert, err := openKeyPair(c.SPNextCertificate, c.SPNextKeySealed, open)
		if err != nil {
			return out, fmt.Errorf("the next SP key: %w", err)
		}
		out.nextCert = cert
		out.decrypt = append(out.decrypt, key)
	}
	if c.SPPreviousCertificate != "" {
		key, _, err := openKeyPair(c.SPPreviousCertificate, c.SPPreviousKeySealed, open)
		if err != nil {
			return out, fmt.Errorf("the previous SP key: %w", err)
		}
		out.decrypt = append(out.decrypt, key)
	}
	return out, nil
}

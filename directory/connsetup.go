package directory

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"time"
)

// PreparedSection is a connection's protocol section ("saml" or "oidc") as
// the protocol's owner checked and prepared it, for the admin API, the
// console and the setup link to store (docs/architecture.md, "Where each
// rule lives").
type PreparedSection struct {
	// Section is the section to store while the connection has no id yet:
	// normalized, without any secret sent in clear.
	Section json.RawMessage
	// Problems lists each refused field with a sentence for a person
	// (Field such as "saml.metadata_xml" or "oidc.issuer"); when it is not
	// empty nothing may be stored.
	Problems []*InvalidError
	// Seal, when not nil, returns the section with its secrets (a client
	// secret sent in clear, a new SP key pair) sealed for connection
	// connID; it must run once the connection has its id.
	Seal func(connID string) (json.RawMessage, error)
}

// SetupValues is what the IdP's admin copies into their identity provider
// for one connection, and what it tells us about the IdP.
type SetupValues struct {
	// SAML: our entity ID, assertion consumer service and SP metadata URL,
	// and the SP certificate.
	SPEntityID    string `json:"sp_entity_id,omitempty"`
	ACSURL        string `json:"acs_url,omitempty"`
	SPMetadataURL string `json:"sp_metadata_url,omitempty"`
	SPCertificate string `json:"sp_certificate,omitempty"`
	// CallbackURL is the OIDC redirect URI to register at the IdP.
	CallbackURL string `json:"callback_url,omitempty"`
	// Certificates are the IdP's signing certificates as configured (SAML
	// metadata XML or certificates given by hand), with their expiry.
	Certificates []CertificateInfo `json:"certificates,omitempty"`
}

// CertificateInfo describes one IdP certificate.
type CertificateInfo struct {
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	// ExpiresSoon is true from 30 days before NotAfter (and after it).
	ExpiresSoon bool `json:"expires_soon"`
}

// CheckIdPURL is the rule for a URL an admin gives for an identity
// provider or token issuer (metadata, discovery, SSO endpoint, JWKS): an
// absolute https URL without user info or fragment, http only for a
// loopback host, at most 2048 bytes. The error is a sentence for a person.
func CheckIdPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
		return fmt.Errorf("%q must be an absolute URL without user info or fragment", clipValue(raw))
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return nil
	}
	return fmt.Errorf("%q must use https (http only for a loopback host)", clipValue(raw))
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clipValue bounds a value an admin sent before it is quoted back.
func clipValue(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

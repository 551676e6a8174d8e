package directory

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
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

// NewMemberRole is the org role a person admitted by just-in-time
// provisioning gets: the role the connection's group mapping gives
// (mapped), or else the org's default role. ProvisionLogin applies it and a
// test sign-in shows it.
func (s OrgSettings) NewMemberRole(mapped access.OrgRole) access.OrgRole {
	if mapped != "" {
		return mapped
	}
	return s.DefaultOrgRole
}

// States of a ConnectionTest.
const (
	TestPending   = "pending"
	TestSucceeded = "succeeded"
	TestFailed    = "failed"
)

// ConnectionTest is a test sign-in through one connection: a real sign-in
// at the IdP that provisions nobody, and what came back. It lives in the
// session store for a bounded time (never in the directory).
type ConnectionTest struct {
	ID           string     `json:"id"`
	OrgID        string     `json:"org_id"`
	ConnectionID string     `json:"connection_id"`
	StartedBy    string     `json:"started_by"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	// ExpiresAt is when the result is forgotten.
	ExpiresAt time.Time `json:"expires_at"`
	// Identity is what the IdP asserted (a test that succeeded).
	Identity *TestIdentity `json:"identity,omitempty"`
	// Mapping is what the sign-in would give this person.
	Mapping *TestMapping `json:"mapping,omitempty"`
	// Reason is the refusal's stable code (the sign-in diagnostics' codes,
	// e.g. saml.audience), Cause its class and Message the sentence.
	Reason  string `json:"reason,omitempty"`
	Cause   string `json:"cause,omitempty"`
	Message string `json:"message,omitempty"`
	// Reference is what the operator log line of a refusal carries.
	Reference string `json:"reference,omitempty"`
}

// TestIdentity is what an IdP asserted in a test sign-in.
type TestIdentity struct {
	Issuer        string              `json:"issuer"`
	Subject       string              `json:"subject"`
	Email         string              `json:"email"`
	EmailVerified bool                `json:"email_verified"`
	Name          string              `json:"name,omitempty"`
	Groups        []string            `json:"groups"`
	Attributes    map[string][]string `json:"attributes"`
}

// TestMapping is what a test sign-in's identity would get: the org role
// and workspace roles of the connection's group mapping (the function
// sign-in uses) and the org's defaults, and how the org admits a newcomer.
type TestMapping struct {
	// MappedOrgRole is the role the group mapping gives, "" for none.
	MappedOrgRole access.OrgRole `json:"mapped_org_role,omitempty"`
	// OrgRole is the role a newcomer admitted by just-in-time provisioning
	// gets (NewMemberRole); an invitation's role wins over it.
	OrgRole access.OrgRole `json:"org_role"`
	// Workspaces are the workspace roles the group mapping gives, by
	// workspace name or id.
	Workspaces map[string]access.WorkspaceRole `json:"workspaces"`
	// JITMode is the org's admission mode; Admission says in a sentence
	// what it means for a newcomer.
	JITMode   JITMode `json:"jit_mode"`
	Admission string  `json:"admission"`
}

// Admission says what mode m does with a newcomer who has no invitation.
func (m JITMode) Admission() string {
	switch m {
	case JITAuto:
		return "A newcomer joins the organization at the first sign-in."
	case JITApproval:
		return "A newcomer asks to join; an administrator approves the request."
	default:
		return "Only invited people can join; a newcomer without an invitation is refused."
	}
}

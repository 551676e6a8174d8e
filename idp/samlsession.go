package idp

import (
	"context"
	"net/http"
	"time"
)

// SAML Single Logout (docs/logout.md, "SAML Single Logout"): the types a
// SAML connector and the service share. The connector speaks the protocol
// (bindings, signatures, checks); the service keeps the upstream session
// with the browser session and ends sessions (samllogout.go).

// SAMLSession is the upstream SAML session a browser session came through:
// the assertion's NameID (with its qualifiers, as sent) and the
// AuthnStatement's SessionIndex, which a LogoutRequest names.
type SAMLSession struct {
	NameID          string `json:"n"`
	Format          string `json:"f,omitempty"`
	NameQualifier   string `json:"nq,omitempty"`
	SPNameQualifier string `json:"spq,omitempty"`
	SessionIndex    string `json:"si,omitempty"`
	// Key names the NameID with the qualifiers an IdP may leave out filled
	// in with their defaults (SAML core §8.3), so that the NameID of an
	// assertion and of a later LogoutRequest compare equal.
	Key string `json:"k"`
}

// SAMLLogout is a verified LogoutRequest from the IdP.
type SAMLLogout struct {
	// ID is the request's ID, answered as InResponseTo.
	ID string
	// Key is the NameID's key (SAMLSession.Key).
	Key string
	// SessionIndexes are the sessions the IdP ends; none means every
	// session of that NameID.
	SessionIndexes []string
	// RelayState is the IdP's, returned with the response.
	RelayState string
}

// SAML status codes a LogoutResponse carries (SAML core §3.2.2.2).
const (
	SAMLStatusSuccess   = "urn:oasis:names:tc:SAML:2.0:status:Success"
	SAMLStatusResponder = "urn:oasis:names:tc:SAML:2.0:status:Responder"
)

// SAMLLogoutConnector is the optional Single Logout capability of a SAML
// connector. Every message it sends is signed with the SP key; every
// message it accepts must be signed by one of the IdP's certificates.
type SAMLLogoutConnector interface {
	// LogoutRequest builds a LogoutRequest ending sess at the IdP,
	// carrying relayState; ok is false when the IdP's metadata offers no
	// SingleLogoutService (Redirect preferred, else POST).
	LogoutRequest(ctx context.Context, sess SAMLSession, relayState string) (req SAMLRequest, ok bool, err error)
	// HandleLogoutResponse verifies the LogoutResponse r carries (Redirect
	// binding: the query; POST: r.PostForm parsed) as the answer to
	// requestID: signature, Issuer, Destination, freshness, InResponseTo
	// and a Success status. Errors wrap ErrInvalidResponse, or are an
	// *UpstreamError for another status.
	HandleLogoutResponse(ctx context.Context, r *http.Request, requestID string) error
	// HandleLogoutRequest verifies the LogoutRequest r carries: signature
	// (required), Issuer, Destination, IssueInstant and NotOnOrAfter, and
	// that firstSeen has not seen its ID (called only once the signature
	// verified). Errors wrap ErrInvalidResponse.
	HandleLogoutRequest(ctx context.Context, r *http.Request, firstSeen func(ctx context.Context, issuer, id string, until time.Time) (bool, error)) (SAMLLogout, error)
	// LogoutResponse builds the signed answer to the IdP's request
	// inResponseTo with status, carrying relayState, to the IdP's
	// SingleLogoutService response location.
	LogoutResponse(ctx context.Context, inResponseTo, status, relayState string) (SAMLRequest, error)
}

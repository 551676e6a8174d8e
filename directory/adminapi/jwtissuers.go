package adminapi

import (
	"context"
	"net/http"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// JWTIssuer is an external JWT issuer an org trusts; see directory.JWTIssuer.
type JWTIssuer = directory.JWTIssuer

// JWTIssuerStore keeps the trusted JWT issuers of each org. Like the
// directory's other methods, every method is scoped by org, records the
// actor in the audit log and returns directory's typed errors
// (ErrNotFound, ErrConflict for a second issuer with the same issuer and
// audience and subject in the org, ErrInvalid for a bad mapping,
// ErrUnavailable). ListJWTIssuerFailures lists the refusals of tokens that
// named the issuer (docs/jwt-issuers.md, "Refusals").
type JWTIssuerStore interface {
	CreateJWTIssuer(ctx context.Context, actor string, in JWTIssuer) (JWTIssuer, error)
	GetJWTIssuer(ctx context.Context, orgID, id string) (JWTIssuer, error)
	ListJWTIssuers(ctx context.Context, orgID string) ([]JWTIssuer, error)
	DeleteJWTIssuer(ctx context.Context, actor, orgID, id string) error
	ListJWTIssuerFailures(ctx context.Context, orgID, id string) ([]directory.JWTIssuerFailure, error)
}

// JWTIssuerWithFailures is one trusted issuer with its recent refusals.
type JWTIssuerWithFailures struct {
	JWTIssuer
	RecentFailures []directory.JWTIssuerFailure `json:"recent_failures"`
}

// Every JWT issuer route needs org.admin.

func (a *API) jwtIssuerStore(c *caller) (JWTIssuerStore, error) {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return nil, err
	}
	if a.jwtIssuers == nil {
		return nil, &apiError{status: http.StatusNotImplemented, code: "not_implemented",
			message: "trusted JWT issuers are not available on this server yet"}
	}
	return a.jwtIssuers, nil
}

func (a *API) listJWTIssuers(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.jwtIssuerStore(c)
	if err != nil {
		return err
	}
	items, err := s.ListJWTIssuers(r.Context(), c.orgID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, ""))
	return nil
}

type jwtIssuerBody struct {
	Name             string `json:"name"`
	Issuer           string `json:"issuer"`
	JWKSURI          string `json:"jwks_uri"`
	Audience         string `json:"audience"`
	Subject          string `json:"subject"`
	ServiceAccountID string `json:"service_account_id"`
	UserClaim        string `json:"user_claim"`
	UserMatch        string `json:"user_match"`
	RoleClaim        string `json:"role_claim"`
	MaxRole          string `json:"max_role"`
}

func (a *API) createJWTIssuer(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.jwtIssuerStore(c)
	if err != nil {
		return err
	}
	var b jwtIssuerBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Name == "" || len(b.Name) > 100 || hasControl(b.Name) {
		return invalidField("name", "name is required: 1-100 characters")
	}
	if err := validateURL("issuer", b.Issuer); err != nil {
		return err
	}
	if b.JWKSURI != "" {
		if err := validateURL("jwks_uri", b.JWKSURI); err != nil {
			return err
		}
	}
	if b.Audience == "" || len(b.Audience) > 1024 || hasControl(b.Audience) {
		return invalidField("audience", "audience is required: 1-1024 characters")
	}
	if len(b.Subject) > 1024 || hasControl(b.Subject) {
		return invalidField("subject", "subject must be at most 1024 characters")
	}
	// The mapping's rules (one principal, claim names, max_role) are the
	// directory's: its ErrInvalid names the field.
	if b.ServiceAccountID != "" {
		if _, err := a.store.GetServiceAccount(r.Context(), c.orgID(), b.ServiceAccountID); err != nil {
			return err
		}
	}
	iss, err := s.CreateJWTIssuer(r.Context(), c.subject, JWTIssuer{OrgID: c.orgID(), Name: b.Name, Issuer: b.Issuer,
		JWKSURI: b.JWKSURI, Audience: b.Audience, Subject: b.Subject, ServiceAccountID: b.ServiceAccountID,
		UserClaim: b.UserClaim, UserMatch: b.UserMatch, RoleClaim: b.RoleClaim, MaxRole: access.OrgRole(b.MaxRole)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, iss)
	return nil
}

func (a *API) deleteJWTIssuer(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.jwtIssuerStore(c)
	if err != nil {
		return err
	}
	if err := s.DeleteJWTIssuer(r.Context(), c.subject, c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// getJWTIssuer answers one trusted issuer with its recent refusals, the
// diagnostics of docs/jwt-issuers.md.
func (a *API) getJWTIssuer(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.jwtIssuerStore(c)
	if err != nil {
		return err
	}
	j, err := s.GetJWTIssuer(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	fs, err := s.ListJWTIssuerFailures(r.Context(), c.orgID(), j.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, JWTIssuerWithFailures{JWTIssuer: j, RecentFailures: fs})
	return nil
}

// listJWTIssuerFailures answers a trusted issuer's recent refusals, newest first.
func (a *API) listJWTIssuerFailures(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.jwtIssuerStore(c)
	if err != nil {
		return err
	}
	fs, err := s.ListJWTIssuerFailures(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(fs, ""))
	return nil
}

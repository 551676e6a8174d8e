package adminapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// FailureLister lists a connection's recent sign-in failures
// (*directory.SQLStore satisfies it).
type FailureLister interface {
	ListConnectionFailures(ctx context.Context, orgID, connectionID string) ([]directory.ConnectionFailure, error)
}

// SetupLinkStore stores setup links (*directory.SQLStore satisfies it).
type SetupLinkStore interface {
	CreateSetupLink(ctx context.Context, actor, orgID string, ttl time.Duration) (directory.SetupLink, string, error)
	ListSetupLinks(ctx context.Context, orgID string) ([]directory.SetupLink, error)
	RevokeSetupLink(ctx context.Context, actor, orgID, id string) error
}

// listConnectionFailures is GET …/connections/{id}/failures: the
// connection's recent sign-in failures, newest first.
func (a *API) listConnectionFailures(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	conn, err := a.store.GetConnection(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var out []directory.ConnectionFailure
	if a.failures != nil {
		if out, err = a.failures.ListConnectionFailures(r.Context(), c.orgID(), conn.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, newList(out, ""))
	return nil
}

// setupLinkBody is the body of POST …/setup-links.
type setupLinkBody struct {
	// ExpiresIn is a Go duration such as "72h"; default 72h.
	ExpiresIn string `json:"expires_in"`
}

// createdSetupLinkJSON is a new setup link: its URL is shown this once.
type createdSetupLinkJSON struct {
	directory.SetupLink
	URL string `json:"url"`
}

// DefaultSetupLinkTTL is how long a setup link lasts when no expiry is given.
const DefaultSetupLinkTTL = 72 * time.Hour

func (a *API) setupLinkStore(c *caller) (SetupLinkStore, error) {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return nil, err
	}
	if a.setupLinks == nil {
		return nil, &apiError{status: http.StatusNotImplemented, code: "not_implemented", message: "setup links are not available on this server"}
	}
	return a.setupLinks, nil
}

// CreateSetupLink makes a setup link for org orgID as actor, lasting
// expiresIn (a Go duration, "" for DefaultSetupLinkTTL), and returns it
// with its URL ({issuer}/setup/{token}), shown once. The console calls it
// too.
func (a *API) CreateSetupLink(ctx context.Context, actor, orgID, expiresIn string) (directory.SetupLink, string, error) {
	if a.setupLinks == nil {
		return directory.SetupLink{}, "", errors.New("adminapi: no setup link store")
	}
	ttl := DefaultSetupLinkTTL
	if expiresIn != "" {
		d, err := time.ParseDuration(expiresIn)
		if err != nil || d <= 0 || d > directory.MaxSetupLinkTTL {
			return directory.SetupLink{}, "", fieldError("expires_in", `expires_in must be a duration such as "72h", at most 720h (30 days)`)
		}
		ttl = d
	}
	l, token, err := a.setupLinks.CreateSetupLink(ctx, actor, orgID, ttl)
	if err != nil {
		return l, "", err
	}
	return l, strings.TrimSuffix(a.issuer, "/") + "/setup/" + url.PathEscape(token), nil
}

func (a *API) createSetupLink(w http.ResponseWriter, r *http.Request, c *caller) error {
	if _, err := a.setupLinkStore(c); err != nil {
		return err
	}
	var b setupLinkBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	l, u, err := a.CreateSetupLink(r.Context(), c.subject, c.orgID(), b.ExpiresIn)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdSetupLinkJSON{SetupLink: l, URL: u})
	return nil
}

func (a *API) listSetupLinks(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.setupLinkStore(c)
	if err != nil {
		return err
	}
	ls, err := s.ListSetupLinks(r.Context(), c.orgID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(ls, ""))
	return nil
}

func (a *API) revokeSetupLink(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.setupLinkStore(c)
	if err != nil {
		return err
	}
	if err := s.RevokeSetupLink(r.Context(), c.subject, c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// VerifyDomain looks for the domain's verification TXT record, as
// POST …/domains/{domain}/verify does, and when found marks the domain
// verified as actor; a verified domain is returned as it is. The console
// and the setup link call it.
func (a *API) VerifyDomain(ctx context.Context, actor, orgID, domain string) (directory.Domain, error) {
	name, err := directory.NormalizeDomain(domain)
	if err != nil {
		return directory.Domain{}, err
	}
	ds, err := a.store.ListDomains(ctx, orgID)
	if err != nil {
		return directory.Domain{}, err
	}
	for _, d := range ds {
		if d.Domain != name {
			continue
		}
		if d.VerifiedAt != nil {
			return d, nil
		}
		if err := a.findChallenge(ctx, d); err != nil {
			return d, err
		}
		return a.store.MarkDomainVerified(ctx, actor, orgID, name)
	}
	return directory.Domain{}, notFound("domain " + quote(name) + " not found")
}

// DomainVerificationError is the sentence of a failed verification, for the
// console and the setup link: (message, true) for a refusal a person acts
// on, ("", false) for anything else.
func DomainVerificationError(err error) (string, bool) {
	var ae *apiError
	if errors.As(err, &ae) && ae.status < 500 {
		return ae.message, true
	}
	if errors.As(err, &ae) && ae.code == "dns_unavailable" {
		return ae.message, true
	}
	return "", false
}

// DomainRecord is the TXT record that proves control of d: the name to
// publish it at (the challenge name; the domain itself also counts) and its
// value.
func DomainRecord(d directory.Domain) (name, value string) {
	return challengeLabel + "." + d.Domain, verifyPrefix + d.Token
}

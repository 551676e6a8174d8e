package adminapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// NetResolver is the default TXTResolver: the system's DNS through net.Resolver.
type NetResolver struct {
	// Resolver is used when set; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// LookupTXT returns the TXT records of name.
func (n NetResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r := n.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	return r.LookupTXT(ctx, name)
}

// Domain verification: the org proves control of a domain by publishing the
// TXT record "ssobroker-verify=<token>" at _ssobroker-challenge.<domain>
// (preferred: it leaves the apex alone) or at the domain itself.
const (
	challengeLabel = "_ssobroker-challenge"
	verifyPrefix   = "ssobroker-verify="
	dnsTimeout     = 5 * time.Second
)

// domainJSON is a domain as the API shows it, with what to publish while it
// is unverified.
type domainJSON struct {
	directory.Domain
	Verified     bool              `json:"verified"`
	Verification *verificationJSON `json:"verification,omitempty"`
}

type verificationJSON struct {
	RecordType  string   `json:"record_type"`
	RecordNames []string `json:"record_names"`
	RecordValue string   `json:"record_value"`
}

func domainView(d directory.Domain) domainJSON {
	out := domainJSON{Domain: d, Verified: d.VerifiedAt != nil}
	if !out.Verified {
		out.Verification = &verificationJSON{RecordType: "TXT",
			RecordNames: []string{challengeLabel + "." + d.Domain, d.Domain}, RecordValue: verifyPrefix + d.Token}
	}
	return out
}

// Every domain route needs org.admin.

func (a *API) listDomains(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	ds, err := a.store.ListDomains(r.Context(), c.orgID())
	if err != nil {
		return err
	}
	out := make([]domainJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, domainView(d))
	}
	writeJSON(w, http.StatusOK, newList(out, ""))
	return nil
}

type domainBody struct {
	Domain string `json:"domain"`
}

// addDomain claims a domain for the org, pending verification.
func (a *API) addDomain(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b domainBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	d, err := a.store.AddDomain(r.Context(), c.subject, c.orgID(), b.Domain)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orgs/"+c.orgID()+"/domains/"+d.Domain)
	writeJSON(w, http.StatusCreated, domainView(d))
	return nil
}

func (a *API) deleteDomain(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := a.store.DeleteDomain(r.Context(), c.subject, c.orgID(), r.PathValue("domain")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// verifyDomain looks for the verification TXT record and, when found, marks
// the domain verified; verifying a verified domain again is a no-op.
func (a *API) verifyDomain(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := noBody(w, r); err != nil {
		return err
	}
	d, err := a.VerifyDomain(r.Context(), c.subject, c.orgID(), r.PathValue("domain"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, domainView(d))
	return nil
}

// findChallenge looks for the record at the challenge name, then at the
// apex. Missing names and records fail with 422; a resolver that times out
// on every name is our problem, answered with 503.
func (a *API) findChallenge(ctx context.Context, d directory.Domain) error {
	want := verifyPrefix + d.Token
	names := []string{challengeLabel + "." + d.Domain, d.Domain}
	timeouts := 0
	for _, n := range names {
		lctx, cancel := context.WithTimeout(ctx, dnsTimeout)
		txts, err := a.resolver.LookupTXT(lctx, n)
		cancel()
		var de *net.DNSError
		switch {
		case err == nil:
		case errors.As(err, &de) && de.IsNotFound:
			continue
		case errors.As(err, &de) && de.IsTimeout, errors.Is(err, context.DeadlineExceeded):
			timeouts++
			continue
		default:
			a.log.InfoContext(ctx, "domain verification lookup failed", "name", n, "err", err)
			continue
		}
		for _, t := range txts {
			if strings.TrimSpace(t) == want {
				return nil
			}
		}
	}
	if timeouts == len(names) {
		return &apiError{status: http.StatusServiceUnavailable, code: "dns_unavailable",
			message: "DNS lookups for " + d.Domain + " timed out; retry shortly"}
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: "verification_failed", field: "domain",
		message: "no TXT record " + quote(want) + " found at " + names[0] + " or " + names[1] +
			"; publish it and retry (DNS changes can take a while to be visible)"}
}

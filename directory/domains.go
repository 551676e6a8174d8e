package directory

// Domains: the email domains an org claims, verified by DNS or by the
// operator, for home-realm discovery.

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// NormalizeDomain validates an email domain and returns its lowercase ASCII form.
func NormalizeDomain(d string) (string, error) {
	a, err := idna.Lookup.ToASCII(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), "."))
	if err != nil || !strings.Contains(a, ".") || len(a) > 253 || net.ParseIP(a) != nil || slices.Contains(strings.Split(a, "."), "") {
		return "", invalid("domain", "%q is not a valid domain name", d)
	}
	return a, nil
}

const domainCols = `org_id, domain, token, verified_at, created_at`

func scanDomain(r row) (Domain, error) {
	var d Domain
	var verified *int64
	var created int64
	err := r.Scan(&d.OrgID, &d.Domain, &d.Token, &verified, &created)
	d.VerifiedAt, d.CreatedAt = fromNullTS(verified), fromTS(created)
	return d, err
}

// AddDomain claims an email domain for an org, pending DNS verification.
func (s *SQLStore) AddDomain(ctx context.Context, actor, orgID, domain string) (Domain, error) {
	name, err := NormalizeDomain(domain)
	if err != nil {
		return Domain{}, err
	}
	if IsConsumerMailDomain(name) {
		return Domain{}, invalid("domain", "%s is a consumer mail domain: anyone can have an address there, so no organization can claim it", name)
	}
	d := Domain{OrgID: orgID, Domain: name, Token: encodeBase62(randomBytes(16)), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	err = s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		var n int
		if err := q.queryRow(ctx, `SELECT count(*) FROM domains WHERE domain = $1 AND verified_at IS NOT NULL`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return conflict("domain %s is already verified by an organization", name)
		}
		_, err := q.exec(ctx, `INSERT INTO domains (`+domainCols+`) VALUES ($1, $2, $3, NULL, $4)`, orgID, name, d.Token, ts(d.CreatedAt))
		if isUnique(err) {
			return conflict("domain %s is already added", name)
		}
		if err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "domain.add", name, nil, map[string]any{"domain": name})
	})
	if err != nil {
		return Domain{}, fmt.Errorf("add domain: %w", err)
	}
	return d, nil
}

// ListDomains lists the org's domains.
func (s *SQLStore) ListDomains(ctx context.Context, orgID string) ([]Domain, error) {
	r, err := s.db.query(ctx, `SELECT `+domainCols+` FROM domains WHERE org_id = $1 ORDER BY domain`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanDomain)
}

// MarkDomainVerified records that the org proved control of the domain.
func (s *SQLStore) MarkDomainVerified(ctx context.Context, actor, orgID, domain string) (Domain, error) {
	name, err := NormalizeDomain(domain)
	if err != nil {
		return Domain{}, err
	}
	var d Domain
	err = s.mutate(ctx, func(q querier) error {
		d, err = scanDomain(q.queryRow(ctx, `SELECT `+domainCols+` FROM domains WHERE org_id = $1 AND domain = $2`, orgID, name))
		if err == errNoRows {
			return notFound("domain", name)
		}
		if err != nil || d.VerifiedAt != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		_, err = q.exec(ctx, `UPDATE domains SET verified_at = $1 WHERE org_id = $2 AND domain = $3`, ts(now), orgID, name)
		if isUnique(err) {
			return conflict("domain %s is already verified by another organization", name)
		}
		if err != nil {
			return err
		}
		d.VerifiedAt = &now
		return audit(ctx, q, orgID, actor, "domain.verify", name, nil, map[string]any{"verified": true})
	})
	if err != nil {
		return Domain{}, fmt.Errorf("verify domain: %w", err)
	}
	return d, nil
}

// DeleteDomain removes a domain from the org.
func (s *SQLStore) DeleteDomain(ctx context.Context, actor, orgID, domain string) error {
	name, err := NormalizeDomain(domain)
	if err != nil {
		return err
	}
	err = s.mutate(ctx, func(q querier) error {
		n, err := q.exec(ctx, `DELETE FROM domains WHERE org_id = $1 AND domain = $2`, orgID, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("domain", name)
		}
		return audit(ctx, q, orgID, actor, "domain.delete", name, map[string]any{"domain": name}, nil)
	})
	if err != nil {
		return fmt.Errorf("delete domain: %w", err)
	}
	return nil
}

// FindVerifiedDomain finds the org that verified domain.
func (s *SQLStore) FindVerifiedDomain(ctx context.Context, domain string) (Domain, error) {
	name, err := NormalizeDomain(domain)
	if err != nil {
		return Domain{}, err
	}
	d, err := scanDomain(s.db.queryRow(ctx, `SELECT `+domainCols+` FROM domains WHERE domain = $1 AND verified_at IS NOT NULL`, name))
	if err == errNoRows {
		return d, notFound("verified domain", name)
	}
	return d, err
}

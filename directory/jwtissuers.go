package directory

import (
	"context"
	"fmt"
	"time"
)

// JWTIssuer is an external JWT issuer an org trusts (workload identity
// federation, such as a CI system's OIDC tokens): a JWT from Issuer, signed by
// a key of its JWKS, for Audience (and with subject Subject when that is set)
// acts as the service account ServiceAccountID.
type JWTIssuer struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
	// Issuer is the exact "iss" of accepted tokens.
	Issuer string `json:"issuer"`
	// JWKSURI is where the signing keys are; empty means OpenID Connect Discovery from Issuer.
	JWKSURI  string `json:"jwks_uri,omitempty"`
	Audience string `json:"audience"`
	// Subject, when set, is the only "sub" accepted.
	Subject          string    `json:"subject,omitempty"`
	ServiceAccountID string    `json:"service_account_id"`
	CreatedBy        string    `json:"created_by"`
	CreatedAt        time.Time `json:"created_at"`
}

const jwtIssuerCols = `id, org_id, name, issuer, jwks_uri, audience, subject, service_account_id, created_by, created_at`

func scanJWTIssuer(r row) (JWTIssuer, error) {
	var j JWTIssuer
	var created int64
	err := r.Scan(&j.ID, &j.OrgID, &j.Name, &j.Issuer, &j.JWKSURI, &j.Audience, &j.Subject, &j.ServiceAccountID, &j.CreatedBy, &created)
	j.CreatedAt = fromTS(created)
	return j, err
}

// CreateJWTIssuer trusts an external issuer on behalf of one of the org's service accounts.
func (s *SQLStore) CreateJWTIssuer(ctx context.Context, actor string, in JWTIssuer) (JWTIssuer, error) {
	if in.Issuer == "" || in.Audience == "" {
		return JWTIssuer{}, invalid("issuer", "issuer and audience are required")
	}
	if err := validateAccountName(in.Name); err != nil {
		return JWTIssuer{}, invalid("name", "name must be 1-100 characters without leading or trailing spaces")
	}
	in.ID, in.CreatedBy, in.CreatedAt = newID("jwi"), actor, time.Now().UTC().Truncate(time.Microsecond)
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, in.OrgID); err != nil {
			return err
		}
		if _, err := getServiceAccount(ctx, q, in.OrgID, in.ServiceAccountID); err != nil {
			return err
		}
		_, err := q.exec(ctx, `INSERT INTO jwt_issuers (`+jwtIssuerCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			in.ID, in.OrgID, in.Name, in.Issuer, in.JWKSURI, in.Audience, in.Subject, in.ServiceAccountID, actor, ts(in.CreatedAt))
		if isUnique(err) {
			return conflict("issuer %s with this subject is already trusted", in.Issuer)
		}
		if err != nil {
			return err
		}
		return audit(ctx, q, in.OrgID, actor, "jwt_issuer.create", in.ID, nil, in)
	})
	if err != nil {
		return JWTIssuer{}, fmt.Errorf("create JWT issuer: %w", err)
	}
	return in, nil
}

// ListJWTIssuers lists the org's trusted issuers by id.
func (s *SQLStore) ListJWTIssuers(ctx context.Context, orgID string) ([]JWTIssuer, error) {
	r, err := s.db.query(ctx, `SELECT `+jwtIssuerCols+` FROM jwt_issuers WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanJWTIssuer)
}

// FindJWTIssuers lists every org's trust of issuer, for verifying its tokens.
func (s *SQLStore) FindJWTIssuers(ctx context.Context, issuer string) ([]JWTIssuer, error) {
	r, err := s.db.query(ctx, `SELECT `+jwtIssuerCols+` FROM jwt_issuers WHERE issuer = $1 ORDER BY id`, issuer)
	if err != nil {
		return nil, err
	}
	return collect(r, scanJWTIssuer)
}

// DeleteJWTIssuer stops trusting an issuer.
func (s *SQLStore) DeleteJWTIssuer(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		j, err := scanJWTIssuer(q.queryRow(ctx, `SELECT `+jwtIssuerCols+` FROM jwt_issuers WHERE org_id = $1 AND id = $2`, orgID, id))
		if err == errNoRows {
			return notFound("JWT issuer", id)
		}
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM jwt_issuers WHERE id = $1`, id); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "jwt_issuer.delete", id, j, nil)
	})
	if err != nil {
		return fmt.Errorf("delete JWT issuer: %w", err)
	}
	return nil
}

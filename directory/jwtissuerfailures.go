package directory

import (
	"context"
	"fmt"
	"time"
)

// JWTIssuerFailure is one refused token that named a trusted issuer, kept
// for the org's admin like a connection's sign-in failures (failures.go):
// the stable reason code (docs/jwt-issuers.md, "Refusals") and a short
// detail that holds no token material.
type JWTIssuerFailure struct {
	ID          int64     `json:"-"`
	OrgID       string    `json:"org_id"`
	JWTIssuerID string    `json:"jwt_issuer_id"`
	Reason      string    `json:"reason"`
	Detail      string    `json:"detail"`
	At          time.Time `json:"at"`
}

// MaxJWTIssuerFailures is how many recent refusals a trusted issuer keeps.
const MaxJWTIssuerFailures = MaxConnectionFailures

// RecordJWTIssuerFailure keeps f for its trusted issuer, which must exist in
// f.OrgID (else nothing is kept), and prunes the issuer's list to the last
// MaxJWTIssuerFailures. It reports whether f was kept. Failures change no
// cached lookup, so nothing is announced to other replicas.
func (s *SQLStore) RecordJWTIssuerFailure(ctx context.Context, f JWTIssuerFailure) (bool, error) {
	if f.At.IsZero() {
		f.At = time.Now()
	}
	var kept bool
	err := s.db.inTx(ctx, func(q querier) error {
		n, err := q.exec(ctx, `INSERT INTO jwt_issuer_failures (org_id, jwt_issuer_id, reason, detail, at)
			SELECT org_id, id, $1, $2, $3 FROM jwt_issuers WHERE id = $4 AND org_id = $5`,
			clipField(f.Reason, 64), clipField(f.Detail, 256), ts(f.At), f.JWTIssuerID, f.OrgID)
		if err != nil || n == 0 {
			return err
		}
		kept = true
		return keepRecent(ctx, q, "jwt_issuer_failures", "jwt_issuer_id", f.JWTIssuerID, MaxJWTIssuerFailures)
	})
	if err != nil {
		return false, fmt.Errorf("record JWT issuer failure: %w", err)
	}
	return kept, nil
}

// ListJWTIssuerFailures lists a trusted issuer's recent refusals, newest
// first (ErrNotFound when the org has no such issuer).
func (s *SQLStore) ListJWTIssuerFailures(ctx context.Context, orgID, id string) ([]JWTIssuerFailure, error) {
	if _, err := s.GetJWTIssuer(ctx, orgID, id); err != nil {
		return nil, err
	}
	r, err := s.db.query(ctx, `SELECT id, org_id, jwt_issuer_id, reason, detail, at FROM jwt_issuer_failures
		WHERE org_id = $1 AND jwt_issuer_id = $2 ORDER BY id DESC LIMIT $3`, orgID, id, MaxJWTIssuerFailures)
	if err != nil {
		return nil, err
	}
	return collect(r, func(r row) (JWTIssuerFailure, error) {
		var f JWTIssuerFailure
		var at int64
		err := r.Scan(&f.ID, &f.OrgID, &f.JWTIssuerID, &f.Reason, &f.Detail, &at)
		f.At = fromTS(at)
		return f, err
	})
}

package directory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// JWTIssuer is an external JWT issuer an org trusts (workload identity
// federation, such as a CI system's OIDC tokens): a JWT from Issuer, signed by
// a key of its JWKS, for Audience (and with subject Subject when that is set)
// acts as the service account ServiceAccountID — or, with UserClaim, as the
// org member that claim names. RoleClaim and MaxRole narrow the role the
// token gets (docs/jwt-issuers.md).
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
	Subject string `json:"subject,omitempty"`
	// ServiceAccountID is the account the tokens act as; empty for a user mapping.
	ServiceAccountID string `json:"service_account_id"`
	// UserClaim, when set (instead of ServiceAccountID), names the claim
	// whose value is the org member the tokens act as, found as UserMatch says.
	UserClaim string `json:"user_claim,omitempty"`
	// UserMatch is how UserClaim's value finds the member: JWTMatchEmail or
	// JWTMatchIdentity. Empty with a UserClaim is filled in by CreateJWTIssuer.
	UserMatch string `json:"user_match,omitempty"`
	// RoleClaim, when set, names a claim carrying the org role the token
	// asks for; MaxRole is then required.
	RoleClaim string `json:"role_claim,omitempty"`
	// MaxRole, when set, is the highest org role a token of this issuer
	// gets, whatever the principal's own role or the role claim.
	MaxRole   access.OrgRole `json:"max_role,omitempty"`
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
}

// How a trusted issuer's UserClaim finds the member (JWTIssuer.UserMatch).
const (
	// JWTMatchEmail: the value is an email; the member is the org's user
	// with that verified email.
	JWTMatchEmail = "email"
	// JWTMatchIdentity: the value is the subject of an upstream identity of
	// the org whose issuer is the token's iss (a user who signed in through
	// a connection to the same identity provider).
	JWTMatchIdentity = "identity"
)

// maxClaimName bounds a claim name in a mapping.
const maxClaimName = 100

// normalizeJWTMapping checks the mapping fields of in and fills in UserMatch's
// default ("email" for the email claim, else "identity"). Exactly one
// principal: a service account or a user claim.
func normalizeJWTMapping(in *JWTIssuer) error {
	claimName := func(field, v string) error {
		if v == "" {
			return nil
		}
		if len(v) > maxClaimName || strings.TrimSpace(v) != v || hasControlChar(v) {
			return invalid(field, "%s must be a claim name: 1-%d characters without control characters or surrounding spaces", field, maxClaimName)
		}
		return nil
	}
	if err := claimName("user_claim", in.UserClaim); err != nil {
		return err
	}
	if err := claimName("role_claim", in.RoleClaim); err != nil {
		return err
	}
	switch {
	case in.ServiceAccountID == "" && in.UserClaim == "":
		return invalid("service_account_id", "a trusted issuer maps its tokens to a principal: set service_account_id or user_claim")
	case in.ServiceAccountID != "" && in.UserClaim != "":
		return invalid("user_claim", "set either service_account_id or user_claim, not both")
	case in.UserClaim == "" && in.UserMatch != "":
		return invalid("user_match", "user_match needs user_claim")
	}
	if in.UserClaim != "" && in.UserMatch == "" {
		in.UserMatch = JWTMatchIdentity
		if in.UserClaim == "email" {
			in.UserMatch = JWTMatchEmail
		}
	}
	if in.UserMatch != "" && in.UserMatch != JWTMatchEmail && in.UserMatch != JWTMatchIdentity {
		return invalid("user_match", "user_match must be %q or %q", JWTMatchEmail, JWTMatchIdentity)
	}
	if in.MaxRole != "" && !in.MaxRole.Valid() {
		return invalid("max_role", "max_role %q is not an org role", in.MaxRole)
	}
	if in.RoleClaim != "" && in.MaxRole == "" {
		return invalid("max_role", "a role_claim needs max_role: the highest role a token of this issuer may get")
	}
	return nil
}

func hasControlChar(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

const jwtIssuerCols = `id, org_id, name, issuer, jwks_uri, audience, subject, service_account_id, created_by, created_at, user_claim, user_match, role_claim, max_role`

// jwtIssuerSelect reads jwtIssuerCols, a user mapping's NULL account as "".
const jwtIssuerSelect = `SELECT id, org_id, name, issuer, jwks_uri, audience, subject, COALESCE(service_account_id, ''), created_by, created_at,
	user_claim, user_match, role_claim, max_role FROM jwt_issuers`

func scanJWTIssuer(r row) (JWTIssuer, error) {
	var j JWTIssuer
	var created int64
	var maxRole string
	err := r.Scan(&j.ID, &j.OrgID, &j.Name, &j.Issuer, &j.JWKSURI, &j.Audience, &j.Subject, &j.ServiceAccountID, &j.CreatedBy, &created,
		&j.UserClaim, &j.UserMatch, &j.RoleClaim, &maxRole)
	j.CreatedAt, j.MaxRole = fromTS(created), access.OrgRole(maxRole)
	return j, err
}

// CreateJWTIssuer trusts an external issuer on behalf of one of the org's
// service accounts, or (UserClaim) of the members its tokens name. It
// fails with ErrInvalid for a mapping that is not exactly one principal or
// a bad claim name or role, ErrNotFound for an unknown service account and
// ErrConflict when the org already trusts the same issuer, audience and
// subject.
func (s *SQLStore) CreateJWTIssuer(ctx context.Context, actor string, in JWTIssuer) (JWTIssuer, error) {
	if in.Issuer == "" || in.Audience == "" {
		return JWTIssuer{}, invalid("issuer", "issuer and audience are required")
	}
	if err := validateAccountName(in.Name); err != nil {
		return JWTIssuer{}, invalid("name", "name must be 1-100 characters without leading or trailing spaces")
	}
	if err := normalizeJWTMapping(&in); err != nil {
		return JWTIssuer{}, err
	}
	in.ID, in.CreatedBy, in.CreatedAt = newID("jwi"), actor, time.Now().UTC().Truncate(time.Microsecond)
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, in.OrgID); err != nil {
			return err
		}
		if in.ServiceAccountID != "" {
			if _, err := getServiceAccount(ctx, q, in.OrgID, in.ServiceAccountID); err != nil {
				return err
			}
		}
		_, err := q.exec(ctx, `INSERT INTO jwt_issuers (`+jwtIssuerCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9, $10, $11, $12, $13, $14)`,
			in.ID, in.OrgID, in.Name, in.Issuer, in.JWKSURI, in.Audience, in.Subject, in.ServiceAccountID, actor, ts(in.CreatedAt),
			in.UserClaim, in.UserMatch, in.RoleClaim, string(in.MaxRole))
		if isUnique(err) {
			return conflict("issuer %s with this audience and subject is already trusted", in.Issuer)
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

// GetJWTIssuer returns one of the org's trusted issuers (ErrNotFound when
// the org has no such issuer).
func (s *SQLStore) GetJWTIssuer(ctx context.Context, orgID, id string) (JWTIssuer, error) {
	j, err := scanJWTIssuer(s.db.queryRow(ctx, jwtIssuerSelect+` WHERE org_id = $1 AND id = $2`, orgID, id))
	if err == errNoRows {
		return j, notFound("JWT issuer", id)
	}
	return j, err
}

// ListJWTIssuers lists the org's trusted issuers by id.
func (s *SQLStore) ListJWTIssuers(ctx context.Context, orgID string) ([]JWTIssuer, error) {
	r, err := s.db.query(ctx, jwtIssuerSelect+` WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanJWTIssuer)
}

// FindJWTIssuers lists every org's trust of issuer, for verifying its
// tokens. A non-empty answer is served from the lookup cache when warm; an
// issuer nobody trusts is never cached, so unknown issuers in requests
// leave no state behind.
func (s *SQLStore) FindJWTIssuers(ctx context.Context, issuer string) ([]JWTIssuer, error) {
	if c := s.cache.Load(); c != nil {
		if v, ok := c.jwtIssuers.Load(issuer); ok {
			return v.([]JWTIssuer), nil
		}
	}
	c := s.cache.Load()
	r, err := s.db.query(ctx, jwtIssuerSelect+` WHERE issuer = $1 ORDER BY id`, issuer)
	if err != nil {
		return nil, err
	}
	out, err := collect(r, scanJWTIssuer)
	if err == nil && len(out) > 0 && c != nil {
		c.jwtIssuers.Store(issuer, out)
	}
	return out, err
}

// DeleteJWTIssuer stops trusting an issuer.
func (s *SQLStore) DeleteJWTIssuer(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		j, err := scanJWTIssuer(q.queryRow(ctx, jwtIssuerSelect+` WHERE org_id = $1 AND id = $2`, orgID, id))
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

// FindJWTUser finds the org member a trusted issuer's token names with
// value: by verified email (JWTMatchEmail) or by the subject of one of the
// org's upstream identities whose issuer is issuer (JWTMatchIdentity). It
// returns ErrNotFound when no member matches, ErrInvalid for another match.
func (s *SQLStore) FindJWTUser(ctx context.Context, orgID, match, issuer, value string) (Member, error) {
	var r row
	switch match {
	case JWTMatchEmail:
		_, key, err := normalizeEmail(value)
		if err != nil {
			return Member{}, notFound("member", value)
		}
		r = s.db.queryRow(ctx, `SELECT `+memberCols+memberFrom+`
			WHERE m.org_id = $1 AND m.principal_type = 'user' AND u.email_key = $2 AND u.email_verified
			ORDER BY m.created_at, m.principal_id LIMIT 1`, orgID, key)
	case JWTMatchIdentity:
		r = s.db.queryRow(ctx, `SELECT `+memberCols+memberFrom+`
			WHERE m.org_id = $1 AND m.principal_type = 'user' AND m.principal_id IN
				(SELECT i.user_id FROM identities i WHERE i.org_id = $1 AND i.issuer = $2 AND i.subject = $3)
			ORDER BY m.created_at, m.principal_id LIMIT 1`, orgID, issuer, value)
	default:
		return Member{}, invalid("user_match", "unknown match %q", match)
	}
	m, err := scanMember(r)
	if err == errNoRows {
		return m, notFound("member", value)
	}
	return m, err
}

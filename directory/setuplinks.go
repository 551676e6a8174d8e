package directory

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
)

// SetupLink lets a customer's IT admin, who has no account, configure one
// org's connections and domains until it expires or is revoked. Only the
// SHA-256 of its token is stored; changes made through it are audited with
// the actor SetupLinkActor(id).
type SetupLink struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"org_id"`
	CreatedBy string     `json:"created_by"`
	ExpiresAt time.Time  `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Errors of LookupSetupLink besides ErrNotFound.
var (
	ErrSetupLinkExpired = errors.New("directory: setup link expired")
	ErrSetupLinkRevoked = errors.New("directory: setup link revoked")
)

// MaxSetupLinkTTL is the longest validity of a setup link.
const MaxSetupLinkTTL = 30 * 24 * time.Hour

// SetupLinkActor is the audit actor of changes made through link id.
func SetupLinkActor(id string) string { return "setup_link:" + id }

const setupLinkCols = `id, org_id, created_by, expires_at, created_at, revoked_at`

func scanSetupLink(r row) (SetupLink, error) {
	var l SetupLink
	var expires, created int64
	var revoked *int64
	err := r.Scan(&l.ID, &l.OrgID, &l.CreatedBy, &expires, &created, &revoked)
	l.ExpiresAt, l.CreatedAt, l.RevokedAt = fromTS(expires), fromTS(created), fromNullTS(revoked)
	return l, err
}

// CreateSetupLink makes a setup link for org valid for ttl (at most
// MaxSetupLinkTTL) and returns it with its token, shown once.
func (s *SQLStore) CreateSetupLink(ctx context.Context, actor, orgID string, ttl time.Duration) (SetupLink, string, error) {
	if ttl <= 0 || ttl > MaxSetupLinkTTL {
		return SetupLink{}, "", invalid("expires_in", "a setup link lasts more than 0 and at most 30 days (720h)")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	l := SetupLink{ID: newID("setup"), OrgID: orgID, CreatedBy: actor, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	token := "ssbs_" + encodeBase62(randomBytes(32))
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `INSERT INTO setup_links (id, org_id, token_hash, expires_at, revoked_at, created_by, created_at)
			VALUES ($1, $2, $3, $4, NULL, $5, $6)`, l.ID, orgID, HashSecret(token), ts(l.ExpiresAt), actor, ts(now)); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "setup_link.create", l.ID, nil, map[string]any{"expires_at": l.ExpiresAt})
	})
	if err != nil {
		return SetupLink{}, "", fmt.Errorf("create setup link: %w", err)
	}
	return l, token, nil
}

// ListSetupLinks lists the org's setup links, newest first.
func (s *SQLStore) ListSetupLinks(ctx context.Context, orgID string) ([]SetupLink, error) {
	r, err := s.db.query(ctx, `SELECT `+setupLinkCols+` FROM setup_links WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanSetupLink)
}

// RevokeSetupLink ends a setup link at once (revoking it again is a no-op).
func (s *SQLStore) RevokeSetupLink(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		l, err := scanSetupLink(q.queryRow(ctx, `SELECT `+setupLinkCols+` FROM setup_links WHERE org_id = $1 AND id = $2`, orgID, id))
		if err == errNoRows {
			return notFound("setup link", id)
		}
		if err != nil || l.RevokedAt != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE setup_links SET revoked_at = $1 WHERE id = $2`, ts(time.Now()), id); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "setup_link.revoke", id, nil, map[string]any{"revoked": true})
	})
	if err != nil {
		return fmt.Errorf("revoke setup link: %w", err)
	}
	return nil
}

// LookupSetupLink finds the link of token: ErrNotFound for an unknown
// token, ErrSetupLinkRevoked or ErrSetupLinkExpired (with the link) for one
// that no longer works.
func (s *SQLStore) LookupSetupLink(ctx context.Context, token string) (SetupLink, error) {
	if len(token) < 10 || len(token) > 100 {
		return SetupLink{}, notFound("setup link", "")
	}
	hash := HashSecret(token)
	var stored []byte
	l, err := scanSetupLinkHash(s.db.queryRow(ctx, `SELECT `+setupLinkCols+`, token_hash FROM setup_links WHERE token_hash = $1`, hash), &stored)
	if err == errNoRows || (err == nil && subtle.ConstantTimeCompare(stored, hash) != 1) {
		return SetupLink{}, notFound("setup link", "")
	}
	if err != nil {
		return SetupLink{}, err
	}
	switch {
	case l.RevokedAt != nil:
		return l, ErrSetupLinkRevoked
	case !time.Now().Before(l.ExpiresAt):
		return l, ErrSetupLinkExpired
	}
	return l, nil
}

func scanSetupLinkHash(r row, hash *[]byte) (SetupLink, error) {
	var l SetupLink
	var expires, created int64
	var revoked *int64
	err := r.Scan(&l.ID, &l.OrgID, &l.CreatedBy, &expires, &created, &revoked, hash)
	l.ExpiresAt, l.CreatedAt, l.RevokedAt = fromTS(expires), fromTS(created), fromNullTS(revoked)
	return l, err
}

package directory

// Signing keys and revoked token ids: what the token service keeps in the
// directory.

import (
	"context"
	"fmt"
	"sync"
	"time"
)

const keyRowCols = `kid, alg, state, sealed, public_jwk, created_at, activated_at, retired_at, expires_at`

// ListSigningKeys lists every signing key, oldest first.
func (s *SQLStore) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	r, err := s.db.query(ctx, `SELECT `+keyRowCols+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, err
	}
	return collect(r, func(r row) (SigningKey, error) {
		var k SigningKey
		var state string
		var created int64
		var activated, retired, expires *int64
		err := r.Scan(&k.ID, &k.Algorithm, &state, &k.Sealed, &k.PublicJWK, &created, &activated, &retired, &expires)
		k.State, k.CreatedAt = SigningKeyState(state), fromTS(created)
		k.ActivatedAt, k.RetiredAt, k.ExpiresAt = fromNullTS(activated), fromNullTS(retired), fromNullTS(expires)
		return k, err
	})
}

// InsertSigningKey stores a new signing key.
func (s *SQLStore) InsertSigningKey(ctx context.Context, k SigningKey) error {
	return s.mutate(ctx, func(q querier) error {
		_, err := q.exec(ctx, `INSERT INTO signing_keys (`+keyRowCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			k.ID, k.Algorithm, string(k.State), k.Sealed, k.PublicJWK, ts(k.CreatedAt), nullTS(k.ActivatedAt), nullTS(k.RetiredAt), nullTS(k.ExpiresAt))
		if isUnique(err) {
			return conflict("signing key %s already exists", k.ID)
		}
		return err
	})
}

// TransitionSigningKey moves a key between states if it is still in from.
func (s *SQLStore) TransitionSigningKey(ctx context.Context, kid string, from, to SigningKeyState, at time.Time, expiresAt *time.Time) (bool, error) {
	var moved bool
	err := s.mutate(ctx, func(q querier) error {
		var col string
		switch to {
		case KeyActive:
			col = "activated_at"
		case KeyRetired:
			col = "retired_at"
		default:
			return invalid("state", "a key can only move to active or retired")
		}
		n, err := q.exec(ctx, `UPDATE signing_keys SET state = $1, `+col+` = $2, expires_at = $3 WHERE kid = $4 AND state = $5`,
			string(to), ts(at), nullTS(expiresAt), kid, string(from))
		moved = n == 1
		if err == nil && moved {
			err = audit(ctx, q, "", "system", "signing_key."+string(to), kid, map[string]any{"state": from}, map[string]any{"state": to})
		}
		return err
	})
	return moved, err
}

// DeleteExpiredSigningKeys removes retired keys that no live token can need.
func (s *SQLStore) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.mutate(ctx, func(q querier) error {
		var err error
		n, err = q.exec(ctx, `DELETE FROM signing_keys WHERE state = 'retired' AND expires_at IS NOT NULL AND expires_at < $1`, ts(now))
		if err == nil {
			_, err = q.exec(ctx, `DELETE FROM revoked_tokens WHERE expires_at < $1`, ts(now))
		}
		return err
	})
	return int(n), err
}

// DeleteSigningKey removes a key at once.
func (s *SQLStore) DeleteSigningKey(ctx context.Context, actor, kid string) error {
	return s.mutate(ctx, func(q querier) error {
		n, err := q.exec(ctx, `DELETE FROM signing_keys WHERE kid = $1`, kid)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("signing key", kid)
		}
		return audit(ctx, q, "", actor, "signing_key.delete", kid, nil, nil)
	})
}

// RevokeToken records a revoked token id until it would have expired. Like
// every change it drops the lookup caches here and in other replicas, so a
// cached "not revoked" answer never outlives the revocation.
func (s *SQLStore) RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error {
	err := s.mutate(ctx, func(q querier) error {
		_, err := q.exec(ctx, `INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`, jti, ts(expiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// TokenRevoked reports whether jti was revoked, from cache when warm.
func (s *SQLStore) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	return cached(s, func(c *lookupCache) *sync.Map { return &c.revoked }, jti, func() (bool, error) {
		var n int
		if err := s.db.queryRow(ctx, `SELECT count(*) FROM revoked_tokens WHERE jti = $1`, jti).Scan(&n); err != nil {
			return false, fmt.Errorf("check token revocation: %w", err)
		}
		return n > 0, nil
	})
}

var _ Store = (*SQLStore)(nil)

package directory

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// SPKeys describes the SAML SP key pairs of a connection during a rotation
// (docs/operations.md, "Rotating a SAML connection's SP key"): the current
// pair signs and decrypts; the next one is published in our SP metadata
// beside it (signing and encryption) and decrypts, but signs nothing until
// it is activated; the previous one, after an activation, only decrypts
// (an IdP that has not read our metadata again may still encrypt to it)
// until it is retired. Private keys are never part of it.
type SPKeys struct {
	Current  SPKeyInfo  `json:"current"`
	Next     *SPKeyInfo `json:"next,omitempty"`
	Previous *SPKeyInfo `json:"previous,omitempty"`
}

// SPKeyInfo is one SP certificate.
type SPKeyInfo struct {
	Certificate string `json:"certificate"`
	// SHA256 is the certificate's SHA-256 fingerprint (hex, colon-separated),
	// as IdP consoles show it.
	SHA256   string    `json:"sha256"`
	NotAfter time.Time `json:"not_after"`
	// PublishedAt is when a next key was published (next only).
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// SP key rotation steps.
const (
	SPKeyPublish  = "publish"
	SPKeyActivate = "activate"
	SPKeyRetire   = "retire"
)

// SwapConnectionConfig replaces the configuration of connection id of org
// orgID with after, only if it is still exactly before (compare-and-swap:
// of two replicas or operators rotating at once, one wins and the other
// gets an error wrapping ErrConflict, never a mix). The change is audited
// as action with detail, and announced to other replicas like any
// connection change.
func (s *SQLStore) SwapConnectionConfig(ctx context.Context, actor, orgID, id string, before, after []byte, action string, detail map[string]any) (Connection, error) {
	var out Connection
	err := s.mutate(ctx, func(q querier) error {
		c, err := getConnection(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		if !bytes.Equal(c.Config, before) {
			return conflict("the connection changed meanwhile; read it again and retry")
		}
		c.Config = after
		if err := validateConnection(c); err != nil {
			return err
		}
		n, err := q.exec(ctx, `UPDATE connections SET config = $1 WHERE id = $2 AND org_id = $3 AND config = $4`, after, id, orgID, before)
		if err != nil {
			return err
		}
		if n != 1 {
			return conflict("the connection changed meanwhile; read it again and retry")
		}
		out = c
		return audit(ctx, q, orgID, actor, action, id, nil, detail)
	})
	if err != nil {
		return Connection{}, fmt.Errorf("update connection configuration: %w", err)
	}
	return out, nil
}

package directory

// Connections: an org's IdP connections (SAML or OIDC), stored with their
// configuration sealed by the connector that owns it.

import (
	"context"
	"fmt"
	"sync"
	"time"
)

const connCols = `id, org_id, type, name, enabled, config, created_at`

func scanConnection(r row) (Connection, error) {
	var c Connection
	var typ string
	var created int64
	err := r.Scan(&c.ID, &c.OrgID, &typ, &c.Name, &c.Enabled, &c.Config, &created)
	c.Type, c.CreatedAt = ConnectionType(typ), fromTS(created)
	return c, err
}

func validateConnection(c Connection) error {
	if c.Type != ConnectionSAML && c.Type != ConnectionOIDC {
		return invalid("type", "connection type %q is not saml or oidc", c.Type)
	}
	if err := validateAccountName(c.Name); err != nil {
		return invalid("name", "connection name must be 1-100 characters without leading or trailing spaces")
	}
	if len(c.Config) > 1<<20 {
		return invalid("config", "connection configuration must be at most 1 MiB")
	}
	return nil
}

// CreateConnection stores a new upstream IdP connection of an org.
func (s *SQLStore) CreateConnection(ctx context.Context, actor string, c Connection) (Connection, error) {
	if err := validateConnection(c); err != nil {
		return Connection{}, err
	}
	c.ID, c.CreatedAt = newID("conn"), time.Now().UTC().Truncate(time.Microsecond)
	if c.Config == nil {
		c.Config = []byte("{}")
	}
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, c.OrgID); err != nil {
			return err
		}
		_, err := q.exec(ctx, `INSERT INTO connections (`+connCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			c.ID, c.OrgID, string(c.Type), c.Name, c.Enabled, c.Config, ts(c.CreatedAt))
		if isUnique(err) {
			return conflict("a connection named %q already exists", c.Name)
		}
		if err != nil {
			return err
		}
		return audit(ctx, q, c.OrgID, actor, "connection.create", c.ID, nil, map[string]any{"type": c.Type, "name": c.Name, "enabled": c.Enabled})
	})
	if err != nil {
		return Connection{}, fmt.Errorf("create connection: %w", err)
	}
	return c, nil
}

func getConnection(ctx context.Context, q querier, orgID, id string) (Connection, error) {
	c, err := scanConnection(q.queryRow(ctx, `SELECT `+connCols+` FROM connections WHERE org_id = $1 AND id = $2`, orgID, id))
	if err == errNoRows {
		return c, notFound("connection", id)
	}
	return c, err
}

// GetConnection finds a connection of the org, from cache when warm.
func (s *SQLStore) GetConnection(ctx context.Context, orgID, id string) (Connection, error) {
	return cached(s, func(c *lookupCache) *sync.Map { return &c.conns }, orgID+"\x00"+id, func() (Connection, error) {
		return getConnection(ctx, s.db, orgID, id)
	})
}

// ListConnections lists the org's connections by id.
func (s *SQLStore) ListConnections(ctx context.Context, orgID string) ([]Connection, error) {
	r, err := s.db.query(ctx, `SELECT `+connCols+` FROM connections WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanConnection)
}

// UpdateConnection replaces a connection's name, enabled flag and configuration.
func (s *SQLStore) UpdateConnection(ctx context.Context, actor string, c Connection) (Connection, error) {
	var out Connection
	err := s.mutate(ctx, func(q querier) error {
		before, err := getConnection(ctx, q, c.OrgID, c.ID)
		if err != nil {
			return err
		}
		c.Type, c.CreatedAt = before.Type, before.CreatedAt
		if c.Config == nil {
			c.Config = before.Config
		}
		if err := validateConnection(c); err != nil {
			return err
		}
		_, err = q.exec(ctx, `UPDATE connections SET name = $1, enabled = $2, config = $3 WHERE id = $4`, c.Name, c.Enabled, c.Config, c.ID)
		if isUnique(err) {
			return conflict("a connection named %q already exists", c.Name)
		}
		if err != nil {
			return err
		}
		out = c
		return audit(ctx, q, c.OrgID, actor, "connection.update", c.ID,
			map[string]any{"name": before.Name, "enabled": before.Enabled}, map[string]any{"name": c.Name, "enabled": c.Enabled})
	})
	if err != nil {
		return Connection{}, fmt.Errorf("update connection: %w", err)
	}
	return out, nil
}

// DeleteConnection deletes a connection.
func (s *SQLStore) DeleteConnection(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		c, err := getConnection(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM connections WHERE id = $1`, id); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "connection.delete", id, map[string]any{"type": c.Type, "name": c.Name}, nil)
	})
	if err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	return nil
}

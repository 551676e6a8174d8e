package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"
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

const clientCols = `id, name, secret_hash, public, redirect_uris, grant_types, created_at, admin_api`

func scanClient(r row) (Client, error) {
	var c Client
	var uris, grants string
	var created int64
	if err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &uris, &grants, &created, &c.AdminAPI); err != nil {
		return c, err
	}
	c.CreatedAt = fromTS(created)
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return c, fmt.Errorf("client %s: redirect URIs: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(grants), &c.GrantTypes); err != nil {
		return c, fmt.Errorf("client %s: grant types: %w", c.ID, err)
	}
	return c, nil
}

// ValidateRedirectURI checks a client redirect URI: absolute, no fragment,
// https unless it points at a loopback host (RFC 8252 native apps).
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
		return invalid("redirect_uri", "%q must be an absolute URI without fragment or user info", raw)
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return invalid("redirect_uri", "%q must use https (http only for localhost)", raw)
	}
	return nil
}

// CreateClient registers an OAuth client and returns its secret once (empty for public clients).
func (s *SQLStore) CreateClient(ctx context.Context, actor string, in NewClient) (Client, string, error) {
	if err := validateAccountName(in.Name); err != nil {
		return Client{}, "", invalid("name", "client name must be 1-100 characters")
	}
	if len(in.RedirectURIs) == 0 {
		return Client{}, "", invalid("redirect_uri", "at least one redirect URI is required")
	}
	for _, u := range in.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			return Client{}, "", err
		}
	}
	if len(in.GrantTypes) == 0 {
		in.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range in.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return Client{}, "", invalid("grant_types", "grant type %q is not authorization_code or refresh_token", g)
		}
	}
	c := Client{ID: newID("cli"), Name: in.Name, Public: in.Public, RedirectURIs: in.RedirectURIs, GrantTypes: in.GrantTypes,
		AdminAPI: in.AdminAPI, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	var secret string
	if !in.Public {
		secret = "ssbc_" + encodeBase62(randomBytes(32))
		c.SecretHash = HashSecret(secret)
	}
	uris, _ := json.Marshal(c.RedirectURIs)
	grants, _ := json.Marshal(c.GrantTypes)
	err := s.mutate(ctx, func(q querier) error {
		if _, err := q.exec(ctx, `INSERT INTO clients (`+clientCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.ID, c.Name, c.SecretHash, c.Public, string(uris), string(grants), ts(c.CreatedAt), c.AdminAPI); err != nil {
			return err
		}
		return audit(ctx, q, "", actor, "client.create", c.ID, nil, c)
	})
	if err != nil {
		return Client{}, "", fmt.Errorf("create client: %w", err)
	}
	return c, secret, nil
}

// GetClient finds a client by id, from cache when warm.
func (s *SQLStore) GetClient(ctx context.Context, id string) (Client, error) {
	return cached(s, func(c *lookupCache) *sync.Map { return &c.clients }, id, func() (Client, error) {
		c, err := scanClient(s.db.queryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
		if err == errNoRows {
			return c, notFound("client", id)
		}
		return c, err
	})
}

// ListAudit lists the org's audit log, newest first.
func (s *SQLStore) ListAudit(ctx context.Context, orgID string, f AuditFilter) ([]AuditEvent, string, error) {
	limit := limitOf(f.Page)
	qs := `SELECT id, org_id, actor, action, target, at, before, after FROM audit_log WHERE org_id = $1`
	args := []any{orgID}
	if f.After != "" {
		var after int64
		if _, err := fmt.Sscan(f.After, &after); err != nil {
			return nil, "", invalid("cursor", "malformed cursor")
		}
		args = append(args, after)
		qs += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	if f.Actor != "" {
		args = append(args, f.Actor)
		qs += fmt.Sprintf(` AND actor = $%d`, len(args))
	}
	if f.Action != "" {
		args = append(args, f.Action)
		qs += fmt.Sprintf(` AND action = $%d`, len(args))
	}
	if !f.Since.IsZero() {
		args = append(args, ts(f.Since))
		qs += fmt.Sprintf(` AND at >= $%d`, len(args))
	}
	args = append(args, limit)
	qs += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	r, err := s.db.query(ctx, qs, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(r, func(r row) (AuditEvent, error) {
		var e AuditEvent
		var at int64
		err := r.Scan(&e.ID, &e.OrgID, &e.Actor, &e.Action, &e.Target, &at, &e.Before, &e.After)
		e.At = fromTS(at)
		return e, err
	})
	if err != nil || len(out) == 0 {
		return out, "", err
	}
	return out, nextCursor(len(out), limit, fmt.Sprint(out[len(out)-1].ID)), nil
}

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

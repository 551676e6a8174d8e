package directory

// Clients: the OAuth 2.0 clients registered with the broker.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"time"
)

const clientCols = `id, name, secret_hash, public, redirect_uris, grant_types, created_at, admin_api,
	backchannel_logout_uri, backchannel_logout_session_required`

func scanClient(r row) (Client, error) {
	var c Client
	var uris, grants string
	var created int64
	if err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &uris, &grants, &created, &c.AdminAPI,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired); err != nil {
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

// ValidateBackchannelLogoutURI checks a client's backchannel_logout_uri
// (OpenID Connect Back-Channel Logout 1.0 §2.2): absolute, no fragment,
// no user info, https unless it points at a loopback host. Where the
// broker may send to (private addresses) is the outbound client's policy,
// checked at each delivery.
func ValidateBackchannelLogoutURI(raw string) error {
	if len(raw) > 2048 {
		return invalid("backchannel_logout_uri", "must be at most 2048 characters")
	}
	if err := ValidateRedirectURI(raw); err != nil {
		return invalid("backchannel_logout_uri", "%q must be an absolute https URI without fragment or user info (http only for localhost)", raw)
	}
	return nil
}

// BackchannelClients returns the clients that registered a
// backchannel_logout_uri, by id.
func (s *SQLStore) BackchannelClients(ctx context.Context) ([]Client, error) {
	rows, err := s.db.query(ctx, `SELECT `+clientCols+` FROM clients WHERE backchannel_logout_uri <> '' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("backchannel clients: %w", err)
	}
	defer rows.Close()
	var out []Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("backchannel clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backchannel clients: %w", err)
	}
	return out, nil
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
	if in.BackchannelLogoutURI != "" {
		if err := ValidateBackchannelLogoutURI(in.BackchannelLogoutURI); err != nil {
			return Client{}, "", err
		}
	} else if in.BackchannelLogoutSessionRequired {
		return Client{}, "", invalid("backchannel_logout_session_required", "requires a backchannel_logout_uri")
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
		AdminAPI: in.AdminAPI, CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		BackchannelLogoutURI: in.BackchannelLogoutURI, BackchannelLogoutSessionRequired: in.BackchannelLogoutSessionRequired}
	var secret string
	if !in.Public {
		secret = "ssbc_" + encodeBase62(randomBytes(32))
		c.SecretHash = HashSecret(secret)
	}
	uris, _ := json.Marshal(c.RedirectURIs)
	grants, _ := json.Marshal(c.GrantTypes)
	err := s.mutate(ctx, func(q querier) error {
		if _, err := q.exec(ctx, `INSERT INTO clients (`+clientCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			c.ID, c.Name, c.SecretHash, c.Public, string(uris), string(grants), ts(c.CreatedAt), c.AdminAPI,
			c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired); err != nil {
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

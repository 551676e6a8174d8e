package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// ConnectionConfig is the JSON this API stores in directory.Connection.Config,
// for the idp package to read. The OIDC client secret is only ever stored
// sealed by Config.Sealer, with the connection's id as associated data:
// open it with Open(ClientSecretSealed, []byte(connection.ID)).
type ConnectionConfig struct {
	SAML *SAMLConfig `json:"saml,omitempty"`
	OIDC *OIDCConfig `json:"oidc,omitempty"`
	// AttributeMapping maps our attributes (email, email_verified, name,
	// given_name, family_name, groups, subject) to the IdP's attribute or claim names.
	AttributeMapping map[string]string `json:"attribute_mapping,omitempty"`
	// GroupRoles maps an upstream group to the org role its members get.
	GroupRoles map[string]access.OrgRole `json:"group_roles,omitempty"`
	// GroupWorkspaces maps an upstream group to workspace roles (by workspace
	// name or id) that its members get; re-synced at every login.
	GroupWorkspaces map[string]map[string]access.WorkspaceRole `json:"group_workspaces,omitempty"`
}

// SAMLConfig describes a SAML IdP by one of: its metadata XML, its metadata
// URL (fetched when configured and by the idp package when used), or entity
// ID + SSO URL + certificates; plus how our SP behaves, and the SP key pair
// this API makes for the connection.
type SAMLConfig struct {
	SAMLSettings
	// SPCertificate (PEM) and SPKeySealed (PKCS #8, sealed by Config.Sealer
	// with the connection id as associated data) are the connection's SP
	// key pair: it signs AuthnRequests and metadata and decrypts assertions.
	SPCertificate string `json:"sp_certificate,omitempty"`
	SPKeySealed   []byte `json:"sp_key_sealed,omitempty"`
}

// SAMLSettings are the parts of a SAML connection an admin sets.
type SAMLSettings struct {
	MetadataXML  string   `json:"metadata_xml,omitempty"`
	MetadataURL  string   `json:"metadata_url,omitempty"`
	EntityID     string   `json:"entity_id,omitempty"`
	SSOURL       string   `json:"sso_url,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	// AllowIDPInitiated accepts unsolicited responses (docs/security.md: off
	// unless opted in); IDPInitiatedTarget, a relative path on the broker,
	// is then where such a login lands.
	AllowIDPInitiated  bool   `json:"allow_idp_initiated"`
	IDPInitiatedTarget string `json:"idp_initiated_target,omitempty"`
	// SignRequests signs AuthnRequests (nil means true).
	SignRequests *bool `json:"sign_requests,omitempty"`
	// RequestBinding is "redirect" (default when the IdP offers it) or "post".
	RequestBinding string `json:"request_binding,omitempty"`
	// NameIDFormat asked for: "unspecified" (default), "persistent", "email"
	// or "transient" (then map "subject" to an attribute).
	NameIDFormat string `json:"name_id_format,omitempty"`
	// WantAssertionsSigned demands the assertion's own signature; by default
	// a response signed as a whole is enough (docs/security.md, "SAML
	// signature forms").
	WantAssertionsSigned bool `json:"want_assertions_signed,omitempty"`
}

// samlOutput is the "saml" object of a response: the settings, and what the
// org's admin gives their IdP. The SP private key never leaves.
type samlOutput struct {
	SAMLSettings
	SPEntityID    string `json:"sp_entity_id"`
	ACSURL        string `json:"acs_url"`
	SPMetadataURL string `json:"sp_metadata_url"`
	SPCertificate string `json:"sp_certificate"`
}

// OIDCConfig describes an upstream OpenID Provider as stored.
type OIDCConfig struct {
	Issuer             string   `json:"issuer"`
	ClientID           string   `json:"client_id"`
	ClientSecretSealed []byte   `json:"client_secret_sealed,omitempty"`
	Scopes             []string `json:"scopes"`
	// RequireEmailVerified refuses users whose email_verified is not true;
	// nil means true.
	RequireEmailVerified *bool `json:"require_email_verified,omitempty"`
	// Userinfo is when the userinfo endpoint is read: "auto" (when the ID
	// token lacks a claim we read; the default), "always" or "never".
	Userinfo string `json:"userinfo,omitempty"`
}

// oidcInput is the "oidc" object of a request: the secret comes in clear and
// is sealed before it is stored.
type oidcInput struct {
	Issuer               string   `json:"issuer"`
	ClientID             string   `json:"client_id"`
	ClientSecret         *string  `json:"client_secret"`
	Scopes               []string `json:"scopes"`
	RequireEmailVerified *bool    `json:"require_email_verified"`
	Userinfo             string   `json:"userinfo"`
}

// oidcOutput is the "oidc" object of a response: the secret never leaves.
type oidcOutput struct {
	Issuer               string   `json:"issuer"`
	ClientID             string   `json:"client_id"`
	ClientSecretSet      bool     `json:"client_secret_set"`
	Scopes               []string `json:"scopes"`
	RequireEmailVerified bool     `json:"require_email_verified"`
	Userinfo             string   `json:"userinfo"`
}

// connectionBody is the body of POST /connections; in PATCH every field is optional.
type connectionBody struct {
	Type             *directory.ConnectionType                  `json:"type"`
	Name             *string                                    `json:"name"`
	Enabled          *bool                                      `json:"enabled"`
	SAML             *SAMLSettings                              `json:"saml"`
	OIDC             *oidcInput                                 `json:"oidc"`
	AttributeMapping map[string]string                          `json:"attribute_mapping"`
	GroupRoles       map[string]access.OrgRole                  `json:"group_roles"`
	GroupWorkspaces  map[string]map[string]access.WorkspaceRole `json:"group_workspaces"`
}

// connectionJSON is a connection as the API shows it.
type connectionJSON struct {
	ID               string                                     `json:"id"`
	OrgID            string                                     `json:"org_id"`
	Type             directory.ConnectionType                   `json:"type"`
	Name             string                                     `json:"name"`
	Enabled          bool                                       `json:"enabled"`
	CreatedAt        time.Time                                  `json:"created_at"`
	SAML             *samlOutput                                `json:"saml,omitempty"`
	OIDC             *oidcOutput                                `json:"oidc,omitempty"`
	AttributeMapping map[string]string                          `json:"attribute_mapping"`
	GroupRoles       map[string]access.OrgRole                  `json:"group_roles"`
	GroupWorkspaces  map[string]map[string]access.WorkspaceRole `json:"group_workspaces"`
}

func (a *API) connectionView(c directory.Connection) connectionJSON {
	out := connectionJSON{ID: c.ID, OrgID: c.OrgID, Type: c.Type, Name: c.Name, Enabled: c.Enabled, CreatedAt: c.CreatedAt,
		AttributeMapping: map[string]string{}, GroupRoles: map[string]access.OrgRole{},
		GroupWorkspaces: map[string]map[string]access.WorkspaceRole{}}
	var cfg ConnectionConfig
	if json.Unmarshal(c.Config, &cfg) != nil {
		return out // written by something else; show what we can
	}
	if m := cfg.SAML; m != nil {
		sp := a.issuer + "/sso/saml/" + url.PathEscape(c.ID)
		out.SAML = &samlOutput{SAMLSettings: m.SAMLSettings, SPEntityID: sp + "/metadata", ACSURL: sp + "/acs",
			SPMetadataURL: sp + "/metadata", SPCertificate: m.SPCertificate}
	}
	if o := cfg.OIDC; o != nil {
		out.OIDC = &oidcOutput{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecretSet: len(o.ClientSecretSealed) > 0, Scopes: o.Scopes,
			RequireEmailVerified: o.RequireEmailVerified == nil || *o.RequireEmailVerified, Userinfo: o.Userinfo}
		if out.OIDC.Userinfo == "" {
			out.OIDC.Userinfo = "auto"
		}
	}
	if cfg.AttributeMapping != nil {
		out.AttributeMapping = cfg.AttributeMapping
	}
	if cfg.GroupRoles != nil {
		out.GroupRoles = cfg.GroupRoles
	}
	if cfg.GroupWorkspaces != nil {
		out.GroupWorkspaces = cfg.GroupWorkspaces
	}
	return out
}

// Every connection route needs org.admin: configurations are sensitive.

func (a *API) listConnections(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	conns, err := a.store.ListConnections(r.Context(), c.orgID())
	if err != nil {
		return err
	}
	out := make([]connectionJSON, 0, len(conns))
	for _, conn := range conns {
		out = append(out, a.connectionView(conn))
	}
	writeJSON(w, http.StatusOK, newList(out, ""))
	return nil
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	conn, err := a.store.GetConnection(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.connectionView(conn))
	return nil
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := a.store.DeleteConnection(r.Context(), c.subject, c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// createConnection validates and stores a connection. A connection with a
// secret (an OIDC client secret, a SAML SP key) is stored in two steps,
// because secrets are sealed with the connection's id, which the directory
// assigns: first disabled and without the secret, then with it sealed and
// the requested state.
func (a *API) createConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b connectionBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Type == nil {
		return invalidField("type", `type is required: "saml" or "oidc"`)
	}
	if b.Name == nil {
		return invalidField("name", "name is required")
	}
	ctx := r.Context()
	conn := directory.Connection{OrgID: c.orgID(), Type: *b.Type, Name: *b.Name, Enabled: b.Enabled == nil || *b.Enabled}
	var cfg ConnectionConfig
	secret, err := a.applyConnectionBody(ctx, &cfg, conn.Type, b, true)
	if err != nil {
		return err
	}
	sealed := secret != "" || conn.Type == directory.ConnectionSAML
	if sealed && a.sealer == nil {
		return errNoSealer()
	}
	enabled := conn.Enabled
	if sealed {
		conn.Enabled = false
	}
	if conn.Config, err = json.Marshal(cfg); err != nil {
		return err
	}
	conn, err = a.store.CreateConnection(ctx, c.subject, conn)
	if err != nil {
		return err
	}
	if sealed {
		if conn, err = a.storeSecret(ctx, c, conn, cfg, secret, enabled); err != nil {
			if derr := a.store.DeleteConnection(context.WithoutCancel(ctx), c.subject, c.orgID(), conn.ID); derr != nil {
				a.log.ErrorContext(ctx, "removing a half-created connection failed", "connection", conn.ID, "err", derr)
			}
			return err
		}
	}
	w.Header().Set("Location", "/api/v1/orgs/"+c.orgID()+"/connections/"+conn.ID)
	writeJSON(w, http.StatusCreated, a.connectionView(conn))
	return nil
}

// storeSecret seals what conn keeps secret and stores it with the given
// enabled state: the OIDC client secret sent in clear, or a new SAML SP key
// pair.
func (a *API) storeSecret(ctx context.Context, c *caller, conn directory.Connection, cfg ConnectionConfig, secret string, enabled bool) (directory.Connection, error) {
	switch {
	case cfg.OIDC != nil:
		sealed, err := a.sealer.Seal([]byte(secret), []byte(conn.ID))
		if err != nil {
			return conn, err
		}
		cfg.OIDC.ClientSecretSealed = sealed
	case cfg.SAML != nil:
		certPEM, keyDER, err := newSPKeyPair(conn.ID, a.now())
		if err != nil {
			return conn, err
		}
		sealed, err := a.sealer.Seal(keyDER, []byte(conn.ID))
		if err != nil {
			return conn, err
		}
		cfg.SAML.SPCertificate, cfg.SAML.SPKeySealed = certPEM, sealed
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return conn, err
	}
	conn.Config, conn.Enabled = raw, enabled
	return a.store.UpdateConnection(ctx, c.subject, conn)
}

func errNoSealer() error {
	return &apiError{status: http.StatusInternalServerError, code: "secret_sealer_missing",
		message: "this server has no key to encrypt connection secrets with, so it cannot store one"}
}

// patchConnection changes a connection's name, enabled flag or configuration.
// A section sent replaces the stored one, except that an OIDC client secret
// left out keeps the stored secret. The type cannot change.
func (a *API) patchConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b connectionBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	ctx := r.Context()
	conn, err := a.store.GetConnection(ctx, c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if b.Type != nil && *b.Type != conn.Type {
		return invalidField("type", "the type of a connection cannot change; create a new connection")
	}
	var cfg ConnectionConfig
	if len(conn.Config) > 0 {
		if err := json.Unmarshal(conn.Config, &cfg); err != nil {
			return err
		}
	}
	var keep []byte
	if cfg.OIDC != nil {
		keep = cfg.OIDC.ClientSecretSealed
	}
	secret, err := a.applyConnectionBody(ctx, &cfg, conn.Type, b, false)
	if err != nil {
		return err
	}
	if b.Name != nil {
		conn.Name = *b.Name
	}
	if b.Enabled != nil {
		conn.Enabled = *b.Enabled
	}
	// A SAML connection made before SP key pairs existed gets one now.
	if secret != "" || (cfg.SAML != nil && len(cfg.SAML.SPKeySealed) == 0) {
		if a.sealer == nil {
			return errNoSealer()
		}
		conn, err = a.storeSecret(ctx, c, conn, cfg, secret, conn.Enabled)
	} else {
		if cfg.OIDC != nil {
			cfg.OIDC.ClientSecretSealed = keep
		}
		if conn.Config, err = json.Marshal(cfg); err == nil {
			conn, err = a.store.UpdateConnection(ctx, c.subject, conn)
		}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.connectionView(conn))
	return nil
}

// applyConnectionBody validates the sections of b and writes them into cfg.
// It returns the OIDC client secret sent in clear, if any. create requires
// the type's section (and, for OIDC, a secret). A SAML section replaces the
// stored settings and keeps the SP key pair.
func (a *API) applyConnectionBody(ctx context.Context, cfg *ConnectionConfig, typ directory.ConnectionType, b connectionBody, create bool) (string, error) {
	var secret string
	switch typ {
	case directory.ConnectionSAML:
		if b.OIDC != nil {
			return "", invalidField("oidc", "a SAML connection takes a saml section, not oidc")
		}
		if b.SAML != nil {
			if err := a.validateSAML(ctx, b.SAML); err != nil {
				return "", err
			}
			if cfg.SAML == nil {
				cfg.SAML = &SAMLConfig{}
			}
			cfg.SAML.SAMLSettings = *b.SAML
		} else if create {
			return "", invalidField("saml", "a SAML connection needs a saml section: metadata_xml, metadata_url, or entity_id + sso_url + certificates")
		}
	case directory.ConnectionOIDC:
		if b.SAML != nil {
			return "", invalidField("saml", "an OIDC connection takes an oidc section, not saml")
		}
		if b.OIDC != nil {
			o, err := validateOIDC(b.OIDC, create)
			if err != nil {
				return "", err
			}
			cfg.OIDC = o
			if b.OIDC.ClientSecret != nil {
				secret = *b.OIDC.ClientSecret
			}
		} else if create {
			return "", invalidField("oidc", "an OIDC connection needs an oidc section: issuer, client_id, client_secret, scopes")
		}
	default:
		return "", invalidField("type", `type must be "saml" or "oidc"`)
	}
	if b.AttributeMapping != nil {
		if err := validateAttributeMapping(b.AttributeMapping); err != nil {
			return "", err
		}
		cfg.AttributeMapping = b.AttributeMapping
	}
	if b.GroupRoles != nil {
		if err := validateGroupRoles(b.GroupRoles); err != nil {
			return "", err
		}
		cfg.GroupRoles = b.GroupRoles
	}
	if b.GroupWorkspaces != nil {
		if err := validateGroupWorkspaces(b.GroupWorkspaces); err != nil {
			return "", err
		}
		cfg.GroupWorkspaces = b.GroupWorkspaces
	}
	return secret, nil
}

// defaultScopes are asked of an upstream OP when a connection names none.
func defaultScopes() []string { return []string{"openid", "email", "profile"} }

func validateOIDC(in *oidcInput, create bool) (*OIDCConfig, error) {
	if err := validateURL("oidc.issuer", in.Issuer); err != nil {
		return nil, err
	}
	if strings.Contains(in.Issuer, "?") {
		return nil, invalidField("oidc.issuer", "an issuer URL has no query (OpenID Connect Discovery)")
	}
	if in.ClientID == "" || len(in.ClientID) > 255 || hasControl(in.ClientID) {
		return nil, invalidField("oidc.client_id", "client_id is required: 1-255 characters")
	}
	if in.ClientSecret != nil && (*in.ClientSecret == "" || len(*in.ClientSecret) > 1024 || hasControl(*in.ClientSecret)) {
		return nil, invalidField("oidc.client_secret", "client_secret must be 1-1024 characters")
	}
	if create && in.ClientSecret == nil {
		return nil, invalidField("oidc.client_secret", "client_secret is required")
	}
	scopes := in.Scopes
	if scopes == nil {
		scopes = defaultScopes()
	}
	if err := validateScopes(scopes); err != nil {
		return nil, err
	}
	switch in.Userinfo {
	case "", "auto", "always", "never":
	default:
		return nil, invalidField("oidc.userinfo", `userinfo must be "auto", "always" or "never"`)
	}
	return &OIDCConfig{Issuer: in.Issuer, ClientID: in.ClientID, Scopes: scopes,
		RequireEmailVerified: in.RequireEmailVerified, Userinfo: in.Userinfo}, nil
}

// validateScopes checks RFC 6749 scope tokens and that "openid" is among them.
func validateScopes(scopes []string) error {
	if len(scopes) > 50 {
		return invalidField("oidc.scopes", "at most 50 scopes")
	}
	seen := map[string]bool{}
	for _, s := range scopes {
		if s == "" || len(s) > 200 {
			return invalidField("oidc.scopes", "a scope must be 1-200 characters")
		}
		for i := 0; i < len(s); i++ {
			if ch := s[i]; ch < 0x21 || ch == '"' || ch == '\\' || ch > 0x7e {
				return invalidField("oidc.scopes", "scope "+quote(s)+" has a character RFC 6749 does not allow")
			}
		}
		if seen[s] {
			return invalidField("oidc.scopes", "scope "+quote(s)+" is listed twice")
		}
		seen[s] = true
	}
	if !seen["openid"] {
		return invalidField("oidc.scopes", `scopes must include "openid"`)
	}
	return nil
}

// isAttributeName reports whether a mapping may name attribute k.
func isAttributeName(k string) bool {
	switch k {
	case "subject", "email", "email_verified", "name", "given_name", "family_name", "groups":
		return true
	}
	return false
}

func validateAttributeMapping(m map[string]string) error {
	for k, v := range m {
		if !isAttributeName(k) {
			return invalidField("attribute_mapping", "unknown attribute "+quote(k)+": use subject, email, email_verified, name, given_name, family_name or groups")
		}
		if v == "" || len(v) > 256 || hasControl(v) {
			return invalidField("attribute_mapping", "the IdP attribute for "+quote(k)+" must be 1-256 characters")
		}
	}
	return nil
}

func validateGroupRoles(m map[string]access.OrgRole) error {
	if len(m) > 500 {
		return invalidField("group_roles", "at most 500 group mappings")
	}
	for g, role := range m {
		if g == "" || len(g) > 256 || hasControl(g) {
			return invalidField("group_roles", "a group name must be 1-256 characters")
		}
		if !role.Valid() {
			return invalidField("group_roles", "group "+quote(g)+" maps to "+quote(string(role))+", not an org role")
		}
	}
	return nil
}

var workspaceRefRE = regexp.MustCompile(`^([a-z0-9][a-z0-9-]{0,62}|ws_[A-Za-z0-9]{1,40})$`)

func validateGroupWorkspaces(m map[string]map[string]access.WorkspaceRole) error {
	if len(m) > 500 {
		return invalidField("group_workspaces", "at most 500 group mappings")
	}
	for g, wss := range m {
		if g == "" || len(g) > 256 || hasControl(g) {
			return invalidField("group_workspaces", "a group name must be 1-256 characters")
		}
		if len(wss) > 100 {
			return invalidField("group_workspaces", "group "+quote(g)+" maps to more than 100 workspaces")
		}
		for ws, role := range wss {
			if !workspaceRefRE.MatchString(ws) {
				return invalidField("group_workspaces", quote(ws)+" is not a workspace name or id")
			}
			if !role.Valid() {
				return invalidField("group_workspaces", "group "+quote(g)+" maps "+quote(ws)+" to "+quote(string(role))+", not owner or member")
			}
		}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

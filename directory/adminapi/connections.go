package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// ConnectionConfig is the JSON this API stores in directory.Connection.Config.
// The protocol sections are owned by the connector packages, reached through
// the ConnectionConfigurator: this API never reads inside them, apart from
// showing what they hold.
type ConnectionConfig struct {
	SAML json.RawMessage `json:"saml,omitempty"`
	OIDC json.RawMessage `json:"oidc,omitempty"`
	// AttributeMapping maps our attributes (email, email_verified, name,
	// given_name, family_name, groups, subject) to the IdP's attribute or claim names.
	AttributeMapping map[string]string `json:"attribute_mapping,omitempty"`
	// GroupRoles maps an upstream group to the org role its members get.
	GroupRoles map[string]access.OrgRole `json:"group_roles,omitempty"`
	// GroupWorkspaces maps an upstream group to workspace roles (by workspace
	// name or id) that its members get; re-synced at every login.
	GroupWorkspaces map[string]map[string]access.WorkspaceRole `json:"group_workspaces,omitempty"`
}

// ConnectionConfigurator checks, prepares and describes the protocol
// section of a connection: the connector packages own those rules (the idp
// package's Configurator implements it; cmd wires it).
type ConnectionConfigurator interface {
	// Validate checks the section of type typ an admin sent (JSON),
	// against the stored one (nil for a new connection), and prepares it:
	// the problems found name their field; Seal seals secrets once the
	// connection has its id.
	Validate(ctx context.Context, typ directory.ConnectionType, section, stored json.RawMessage) (directory.PreparedSection, error)
	// Describe says what the IdP's admin pastes for c (entity ID, ACS URL,
	// SP metadata URL, callback URL) and the IdP's certificates.
	Describe(c directory.Connection) directory.SetupValues
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
	// IdPCertificates are the IdP's signing certificates the configuration
	// holds, with their expiry.
	IdPCertificates []directory.CertificateInfo `json:"idp_certificates"`
}

// OIDCInput is the "oidc" object of a request: the secret comes in clear and
// is sealed before it is stored; left out, the stored one is kept.
type OIDCInput struct {
	Issuer               string   `json:"issuer"`
	ClientID             string   `json:"client_id"`
	ClientSecret         *string  `json:"client_secret,omitempty"`
	Scopes               []string `json:"scopes,omitempty"`
	RequireEmailVerified *bool    `json:"require_email_verified,omitempty"`
	Userinfo             string   `json:"userinfo,omitempty"`
}

type oidcInput = OIDCInput

// oidcStored is what the view reads of a stored "oidc" section.
type oidcStored struct {
	Issuer               string   `json:"issuer"`
	ClientID             string   `json:"client_id"`
	ClientSecretSealed   []byte   `json:"client_secret_sealed"`
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
	// CallbackURL is the redirect URI to register at the IdP.
	CallbackURL string `json:"callback_url"`
}

// ConnectionInput is a connection as an admin describes it: the body of
// POST /connections, where type, name and the type's section are required,
// and of PATCH, where every field is optional. The console and the setup
// link fill it from their forms.
type ConnectionInput struct {
	Type             *directory.ConnectionType                  `json:"type"`
	Name             *string                                    `json:"name"`
	Enabled          *bool                                      `json:"enabled"`
	SAML             *SAMLSettings                              `json:"saml"`
	OIDC             *OIDCInput                                 `json:"oidc"`
	AttributeMapping map[string]string                          `json:"attribute_mapping"`
	GroupRoles       map[string]access.OrgRole                  `json:"group_roles"`
	GroupWorkspaces  map[string]map[string]access.WorkspaceRole `json:"group_workspaces"`
}

type connectionBody = ConnectionInput

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

// describe is what the IdP's admin pastes for c.
func (a *API) describe(c directory.Connection) directory.SetupValues {
	if a.conns == nil {
		return directory.SetupValues{}
	}
	return a.conns.Describe(c)
}

func (a *API) connectionView(c directory.Connection) connectionJSON {
	out := connectionJSON{ID: c.ID, OrgID: c.OrgID, Type: c.Type, Name: c.Name, Enabled: c.Enabled, CreatedAt: c.CreatedAt,
		AttributeMapping: map[string]string{}, GroupRoles: map[string]access.OrgRole{},
		GroupWorkspaces: map[string]map[string]access.WorkspaceRole{}}
	var cfg ConnectionConfig
	if json.Unmarshal(c.Config, &cfg) != nil {
		return out // written by something else; show what we can
	}
	setup := a.describe(c)
	var settings SAMLSettings
	if len(cfg.SAML) > 0 && json.Unmarshal(cfg.SAML, &settings) == nil {
		out.SAML = &samlOutput{SAMLSettings: settings, SPEntityID: setup.SPEntityID, ACSURL: setup.ACSURL,
			SPMetadataURL: setup.SPMetadataURL, SPCertificate: setup.SPCertificate, IdPCertificates: setup.Certificates}
		if out.SAML.IdPCertificates == nil {
			out.SAML.IdPCertificates = []directory.CertificateInfo{}
		}
	}
	var o oidcStored
	if len(cfg.OIDC) > 0 && json.Unmarshal(cfg.OIDC, &o) == nil {
		out.OIDC = &oidcOutput{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecretSet: len(o.ClientSecretSealed) > 0, Scopes: o.Scopes,
			RequireEmailVerified: o.RequireEmailVerified == nil || *o.RequireEmailVerified, Userinfo: o.Userinfo, CallbackURL: setup.CallbackURL}
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

func (a *API) createConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b ConnectionInput
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	conn, err := a.SaveConnection(r.Context(), c.subject, c.orgID(), "", b)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orgs/"+c.orgID()+"/connections/"+conn.ID)
	writeJSON(w, http.StatusCreated, a.connectionView(conn))
	return nil
}

func (a *API) patchConnection(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b ConnectionInput
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	conn, err := a.SaveConnection(r.Context(), c.subject, c.orgID(), r.PathValue("id"), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.connectionView(conn))
	return nil
}

// DescribeConnection says what the IdP's admin pastes for c (the admin
// console and the setup link show it).
func (a *API) DescribeConnection(c directory.Connection) directory.SetupValues { return a.describe(c) }

// SaveConnection creates (id "") or changes a connection of org orgID as
// actor: the one path of the admin API, the console and the setup link. The
// protocol section is checked and prepared by the ConnectionConfigurator; a
// section sent replaces the stored one (an OIDC client secret left out is
// kept, the SAML SP key pair always). The type cannot change. A refused
// input is a *directory.InvalidError naming its field.
//
// A connection with a secret to seal is stored in two steps, because
// secrets are sealed with the connection's id, which the directory assigns:
// first disabled and without the secret, then with it and the requested
// state.
func (a *API) SaveConnection(ctx context.Context, actor, orgID, id string, in ConnectionInput) (directory.Connection, error) {
	var conn directory.Connection
	var cfg ConnectionConfig
	create := id == ""
	if create {
		if in.Type == nil {
			return conn, fieldError("type", `type is required: "saml" or "oidc"`)
		}
		if in.Name == nil {
			return conn, fieldError("name", "name is required")
		}
		conn = directory.Connection{OrgID: orgID, Type: *in.Type}
	} else {
		var err error
		if conn, err = a.store.GetConnection(ctx, orgID, id); err != nil {
			return conn, err
		}
		if in.Type != nil && *in.Type != conn.Type {
			return conn, fieldError("type", "the type of a connection cannot change; create a new connection")
		}
		if len(conn.Config) > 0 {
			if err := json.Unmarshal(conn.Config, &cfg); err != nil {
				return conn, err
			}
		}
	}
	seal, err := a.applyConnectionInput(ctx, &cfg, conn.Type, in, create)
	if err != nil {
		return conn, err
	}
	if in.Name != nil {
		conn.Name = *in.Name
	}
	enabled := conn.Enabled
	if in.Enabled != nil {
		enabled = *in.Enabled
	} else if create {
		enabled = true
	}
	conn.Enabled = enabled && (seal == nil || !create)
	if conn.Config, err = json.Marshal(cfg); err != nil {
		return conn, err
	}
	if create {
		conn, err = a.store.CreateConnection(ctx, actor, conn)
	} else if seal == nil {
		conn.Enabled = enabled
		conn, err = a.store.UpdateConnection(ctx, actor, conn)
	}
	if err != nil || seal == nil {
		return conn, err
	}
	if conn, err = a.storeSealed(ctx, actor, conn, cfg, seal, enabled); err != nil && create {
		if derr := a.store.DeleteConnection(context.WithoutCancel(ctx), actor, orgID, conn.ID); derr != nil {
			a.log.ErrorContext(ctx, "removing a half-created connection failed", "connection", conn.ID, "err", derr)
		}
	}
	return conn, err
}

// storeSealed stores conn with its protocol section's secrets sealed for
// its id, and the given enabled state.
func (a *API) storeSealed(ctx context.Context, actor string, conn directory.Connection, cfg ConnectionConfig,
	seal func(string) (json.RawMessage, error), enabled bool) (directory.Connection, error) {
	section, err := seal(conn.ID)
	if err != nil {
		return conn, err
	}
	if conn.Type == directory.ConnectionSAML {
		cfg.SAML = section
	} else {
		cfg.OIDC = section
	}
	if conn.Config, err = json.Marshal(cfg); err != nil {
		return conn, err
	}
	conn.Enabled = enabled
	return a.store.UpdateConnection(ctx, actor, conn)
}

// applyConnectionInput checks the sections of in and writes them into cfg.
// It returns the sealing step of the protocol section, if it has one.
// create requires the type's section.
func (a *API) applyConnectionInput(ctx context.Context, cfg *ConnectionConfig, typ directory.ConnectionType, in ConnectionInput, create bool) (func(string) (json.RawMessage, error), error) {
	var section any
	var stored *json.RawMessage
	switch typ {
	case directory.ConnectionSAML:
		if in.OIDC != nil {
			return nil, fieldError("oidc", "a SAML connection takes a saml section, not oidc")
		}
		if in.SAML != nil {
			section = in.SAML
		} else if create {
			return nil, fieldError("saml", "a SAML connection needs a saml section: metadata_xml, metadata_url, or entity_id + sso_url + certificates")
		}
		stored = &cfg.SAML
	case directory.ConnectionOIDC:
		if in.SAML != nil {
			return nil, fieldError("saml", "an OIDC connection takes an oidc section, not saml")
		}
		if in.OIDC != nil {
			section = in.OIDC
		} else if create {
			return nil, fieldError("oidc", "an OIDC connection needs an oidc section: issuer, client_id, client_secret, scopes")
		}
		stored = &cfg.OIDC
	default:
		return nil, fieldError("type", `type must be "saml" or "oidc"`)
	}
	if err := validateMappings(in); err != nil {
		return nil, err
	}
	var seal func(string) (json.RawMessage, error)
	if section != nil {
		if a.conns == nil {
			return nil, &apiError{status: http.StatusInternalServerError, code: "configurator_missing",
				message: "this server cannot check connection configurations, so it cannot store one"}
		}
		raw, err := json.Marshal(section)
		if err != nil {
			return nil, err
		}
		prep, err := a.conns.Validate(ctx, typ, raw, *stored)
		if err != nil {
			return nil, err
		}
		if len(prep.Problems) > 0 {
			return nil, prep.Problems[0]
		}
		*stored, seal = prep.Section, prep.Seal
	}
	if in.AttributeMapping != nil {
		cfg.AttributeMapping = in.AttributeMapping
	}
	if in.GroupRoles != nil {
		cfg.GroupRoles = in.GroupRoles
	}
	if in.GroupWorkspaces != nil {
		cfg.GroupWorkspaces = in.GroupWorkspaces
	}
	return seal, nil
}

// validateMappings checks the attribute and group mappings of in.
func validateMappings(in ConnectionInput) error {
	if in.AttributeMapping != nil {
		if err := validateAttributeMapping(in.AttributeMapping); err != nil {
			return err
		}
	}
	if in.GroupRoles != nil {
		if err := validateGroupRoles(in.GroupRoles); err != nil {
			return err
		}
	}
	if in.GroupWorkspaces != nil {
		return validateGroupWorkspaces(in.GroupWorkspaces)
	}
	return nil
}

// fieldError is a refused input naming its field, for the API (422) and
// the console alike.
func fieldError(field, msg string) error {
	return &directory.InvalidError{Field: field, Message: msg}
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
			return fieldError("attribute_mapping", "unknown attribute "+quote(k)+": use subject, email, email_verified, name, given_name, family_name or groups")
		}
		if v == "" || len(v) > 256 || hasControl(v) {
			return fieldError("attribute_mapping", "the IdP attribute for "+quote(k)+" must be 1-256 characters")
		}
	}
	return nil
}

func validateGroupRoles(m map[string]access.OrgRole) error {
	if len(m) > 500 {
		return fieldError("group_roles", "at most 500 group mappings")
	}
	for g, role := range m {
		if g == "" || len(g) > 256 || hasControl(g) {
			return fieldError("group_roles", "a group name must be 1-256 characters")
		}
		if !role.Valid() {
			return fieldError("group_roles", "group "+quote(g)+" maps to "+quote(string(role))+", not an org role")
		}
	}
	return nil
}

var workspaceRefRE = regexp.MustCompile(`^([a-z0-9][a-z0-9-]{0,62}|ws_[A-Za-z0-9]{1,40})$`)

func validateGroupWorkspaces(m map[string]map[string]access.WorkspaceRole) error {
	if len(m) > 500 {
		return fieldError("group_workspaces", "at most 500 group mappings")
	}
	for g, wss := range m {
		if g == "" || len(g) > 256 || hasControl(g) {
			return fieldError("group_workspaces", "a group name must be 1-256 characters")
		}
		if len(wss) > 100 {
			return fieldError("group_workspaces", "group "+quote(g)+" maps to more than 100 workspaces")
		}
		for ws, role := range wss {
			if !workspaceRefRE.MatchString(ws) {
				return fieldError("group_workspaces", quote(ws)+" is not a workspace name or id")
			}
			if !role.Valid() {
				return fieldError("group_workspaces", "group "+quote(g)+" maps "+quote(ws)+" to "+quote(string(role))+", not owner or member")
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

// validateURL applies directory.CheckIdPURL to field.
func validateURL(field, raw string) error {
	if err := directory.CheckIdPURL(raw); err != nil {
		return fieldError(field, err.Error())
	}
	return nil
}

// ConnectionTester runs test sign-ins through connections: a real sign-in
// at the IdP that provisions nobody (idp.Service implements it; cmd wires
// it). Errors of ConnectionTest wrap directory.ErrNotFound for a test that
// is unknown, expired or another connection's.
type ConnectionTester interface {
	StartConnectionTest(ctx context.Context, actor string, c directory.Connection, landing func(testID string) string) (directory.ConnectionTest, string, error)
	ConnectionTest(ctx context.Context, orgID, connID, testID string) (directory.ConnectionTest, error)
}

// startedTestJSON is the answer of POST …/connections/{id}/test.
type startedTestJSON struct {
	Test directory.ConnectionTest `json:"test"`
	URL  string                   `json:"url"`
}

func (a *API) connectionTester(c *caller) (ConnectionTester, error) {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return nil, err
	}
	if a.tests == nil {
		return nil, &apiError{status: http.StatusNotImplemented, code: "not_implemented", message: "test sign-ins are not available on this server"}
	}
	return a.tests, nil
}

// ConsoleTestPath is the console's page of test tid of connection connID:
// where the browser of a test started through the API lands.
func ConsoleTestPath(orgID, connID string) func(tid string) string {
	return func(tid string) string {
		return "/admin/" + url.PathEscape(orgID) + "/connections/" + url.PathEscape(connID) + "/tests/" + url.PathEscape(tid)
	}
}

// startConnectionTest is POST …/connections/{id}/test.
func (a *API) startConnectionTest(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := a.connectionTester(c)
	if err != nil {
		return err
	}
	conn, err := a.store.GetConnection(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	test, u, err := t.StartConnectionTest(r.Context(), c.subject, conn, ConsoleTestPath(c.orgID(), conn.ID))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, startedTestJSON{Test: test, URL: u})
	return nil
}

// getConnectionTest is GET …/connections/{id}/tests/{tid}.
func (a *API) getConnectionTest(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := a.connectionTester(c)
	if err != nil {
		return err
	}
	conn, err := a.store.GetConnection(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	test, err := t.ConnectionTest(r.Context(), c.orgID(), conn.ID, r.PathValue("tid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, test)
	return nil
}

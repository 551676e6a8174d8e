package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/idp"
)

// ConnectionEditor is the one path that saves connections, verifies
// domains and makes setup links: the admin API's, whose rules the console
// and the setup link share (*adminapi.API satisfies it).
type ConnectionEditor interface {
	SaveConnection(ctx context.Context, actor, orgID, id string, in adminapi.ConnectionInput) (directory.Connection, error)
	DescribeConnection(c directory.Connection) directory.SetupValues
	VerifyDomain(ctx context.Context, actor, orgID, domain string) (directory.Domain, error)
	CreateSetupLink(ctx context.Context, actor, orgID, expiresIn string) (directory.SetupLink, string, error)
}

// SelfServiceStore is what the Connections and Domains tabs and the setup
// link read and change in the directory beside Store (*directory.SQLStore
// satisfies it).
type SelfServiceStore interface {
	GetConnection(ctx context.Context, orgID, id string) (directory.Connection, error)
	// CreateConnection makes the setup link's connection before the IdP
	// is configured (disabled, no protocol section yet).
	CreateConnection(ctx context.Context, actor string, c directory.Connection) (directory.Connection, error)
	ListConnections(ctx context.Context, orgID string) ([]directory.Connection, error)
	DeleteConnection(ctx context.Context, actor, orgID, id string) error
	ListConnectionFailures(ctx context.Context, orgID, connectionID string) ([]directory.ConnectionFailure, error)
	ListDomains(ctx context.Context, orgID string) ([]directory.Domain, error)
	AddDomain(ctx context.Context, actor, orgID, domain string) (directory.Domain, error)
	DeleteDomain(ctx context.Context, actor, orgID, domain string) error
	ListSetupLinks(ctx context.Context, orgID string) ([]directory.SetupLink, error)
	RevokeSetupLink(ctx context.Context, actor, orgID, id string) error
	LookupSetupLink(ctx context.Context, token string) (directory.SetupLink, error)
}

// maxMetadataUpload bounds an uploaded metadata file (the form's limit
// bounds it too).
const maxMetadataUpload = 60 << 10

// connForm is a refused connection form: the field the refusal names, its
// sentence, and everything typed (never the client secret).
type connForm struct {
	Form, Field, Message string
	Values               map[string]string
}

// fieldIs reports whether the refusal names field (for aria-invalid).
func (f *connForm) FieldIs(field string) bool { return f != nil && f.Field == field }

// Value is what the form held for name.
func (f *connForm) Value(name string) string {
	if f == nil {
		return ""
	}
	return f.Values[name]
}

type connRow struct {
	directory.Connection
	Setup directory.SetupValues
}

type connectionsData struct {
	Connections []connRow
	Refused     *connForm
	// Editable is false when the console has no ConnectionEditor.
	Editable   bool
	SetupLinks []directory.SetupLink
	// NewLinkURL is a setup link just made: shown this once.
	NewLinkURL string
	Now        time.Time
	APIPath    string
}

// connectionsPage is the Connections tab: the connections, the forms that
// add one (SAML or OIDC) and the setup links.
func (c *Console) connectionsPage(w http.ResponseWriter, r *http.Request, a *actor) {
	c.connectionsView(w, r, a, http.StatusOK, nil, "")
}

func (c *Console) connectionsView(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *connForm, newLink string) {
	ctx := r.Context()
	conns, err := c.store.ListConnections(ctx, a.orgID())
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := connectionsData{Refused: refused, Editable: c.conns != nil && c.self != nil, NewLinkURL: newLink, Now: c.now(),
		APIPath: "/api/v1/orgs/" + a.orgID() + "/connections"}
	for _, conn := range conns {
		row := connRow{Connection: conn}
		if c.conns != nil {
			row.Setup = c.conns.DescribeConnection(conn)
		}
		d.Connections = append(d.Connections, row)
	}
	if c.self != nil {
		if d.SetupLinks, err = c.self.ListSetupLinks(ctx, a.orgID()); err != nil {
			c.storeError(w, r, a, err)
			return
		}
	}
	c.render(w, r, status, "console/connections", c.view(r, a, "connections", "Connections", d))
}

// connectionFormFields are the inputs of the add and settings forms.
var connectionFormFields = []string{"type", "name", "metadata_xml", "metadata_url", "entity_id", "sso_url", "certificates",
	"issuer", "client_id", "scopes", "name_id_format", "want_assertions_signed"}

// readConnectionForm turns a connection form into the API's input: the
// same input, so the same rules. An uploaded metadata file wins over the
// pasted text. Empty fields are left out.
func readConnectionForm(r *http.Request, typ directory.ConnectionType, create bool) (adminapi.ConnectionInput, map[string]string, error) {
	f := r.PostForm
	vals := map[string]string{}
	for _, n := range connectionFormFields {
		vals[n] = strings.TrimSpace(f.Get(n))
	}
	if r.MultipartForm != nil {
		if files := r.MultipartForm.File["metadata_file"]; len(files) > 0 && files[0].Size > 0 {
			fh, err := files[0].Open()
			if err != nil {
				return adminapi.ConnectionInput{}, vals, &directory.InvalidError{Field: "saml.metadata_xml", Message: "the uploaded file could not be read"}
			}
			b, err := io.ReadAll(io.LimitReader(fh, maxMetadataUpload+1))
			_ = fh.Close()
			if err != nil || len(b) > maxMetadataUpload {
				return adminapi.ConnectionInput{}, vals, &directory.InvalidError{Field: "saml.metadata_xml", Message: "the uploaded metadata must be at most 60 KiB"}
			}
			vals["metadata_xml"] = strings.TrimSpace(string(b))
		}
	}
	var in adminapi.ConnectionInput
	if create {
		in.Type = &typ
		name := vals["name"]
		in.Name = &name
	}
	switch typ {
	case directory.ConnectionSAML:
		s := &adminapi.SAMLSettings{MetadataXML: vals["metadata_xml"], MetadataURL: vals["metadata_url"], EntityID: vals["entity_id"],
			SSOURL: vals["sso_url"], NameIDFormat: vals["name_id_format"], WantAssertionsSigned: vals["want_assertions_signed"] == "on"}
		if certs := splitPEM(vals["certificates"]); len(certs) > 0 {
			s.Certificates = certs
		}
		in.SAML = s
	case directory.ConnectionOIDC:
		o := &adminapi.OIDCInput{Issuer: vals["issuer"], ClientID: vals["client_id"]}
		if secret := f.Get("client_secret"); secret != "" {
			o.ClientSecret = &secret
		}
		if sc := strings.Fields(strings.ReplaceAll(vals["scopes"], ",", " ")); len(sc) > 0 {
			o.Scopes = sc
		}
		in.OIDC = o
	default:
		return in, vals, &directory.InvalidError{Field: "type", Message: `choose "SAML" or "OpenID Connect"`}
	}
	return in, vals, nil
}

// splitPEM splits pasted text into its PEM certificates (each entry one
// block, as the API takes them); text that is not PEM stays one entry so
// the rules can say what is wrong with it.
func splitPEM(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	const end = "-----END CERTIFICATE-----"
	var out []string
	for {
		i := strings.Index(s, end)
		if i < 0 {
			if t := strings.TrimSpace(s); t != "" {
				out = append(out, t)
			}
			return out
		}
		out = append(out, strings.TrimSpace(s[:i+len(end)]))
		s = s[i+len(end):]
	}
}

// formRefusal turns a refused save into the form's field and sentence; ok
// is false for anything else (a store failure).
func formRefusal(err error) (status int, field, msg string, ok bool) {
	var inv *directory.InvalidError
	if errors.As(err, &inv) {
		return http.StatusUnprocessableEntity, inv.Field, upperFirst(inv.Message), true
	}
	if s, m, ok := refusal(err); ok {
		return s, "", upperFirst(m), true
	}
	return 0, "", "", false
}

// createConnection is POST /admin/{org}/connections.
func (c *Console) createConnection(w http.ResponseWriter, r *http.Request, a *actor) {
	if c.conns == nil {
		c.message(w, r, a, http.StatusNotImplemented, "Not available", "Connections cannot be configured on this server.")
		return
	}
	typ := directory.ConnectionType(r.PostForm.Get("type"))
	in, vals, err := readConnectionForm(r, typ, true)
	if err == nil {
		var conn directory.Connection
		if conn, err = c.conns.SaveConnection(r.Context(), a.userID(), a.orgID(), "", in); err == nil {
			c.done(w, r, c.adminPath(a, "connections", conn.ID), "Connection "+conn.Name+" created. Give your identity provider the values below.")
			return
		}
	}
	status, field, msg, ok := formRefusal(err)
	if !ok {
		c.storeError(w, r, a, err)
		return
	}
	c.connectionsView(w, r, a, status, &connForm{Form: string(typ), Field: field, Message: msg, Values: vals}, "")
}

// mappingRow is one group → role row of the mapping editor.
type mappingRow struct {
	Group, OrgRole, Workspace, WorkspaceRole string
}

type connectionData struct {
	Conn     directory.Connection
	Setup    directory.SetupValues
	SAML     adminapi.SAMLSettings
	OIDC     adminapi.OIDCInput
	Mapping  []mappingRow
	Roles    []access.OrgRole
	Failures []directory.ConnectionFailure
	Refused  *connForm
	Now      time.Time
}

// emptyMappingRows is how many blank rows the mapping editor offers.
const emptyMappingRows = 3

// connectionPage is GET /admin/{org}/connections/{id}.
func (c *Console) connectionPage(w http.ResponseWriter, r *http.Request, a *actor) {
	c.connectionView(w, r, a, http.StatusOK, nil)
}

func (c *Console) connectionView(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *connForm) {
	if c.self == nil || c.conns == nil {
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such page.")
		return
	}
	ctx := r.Context()
	conn, err := c.self.GetConnection(ctx, a.orgID(), r.PathValue("id"))
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := connectionData{Conn: conn, Setup: c.conns.DescribeConnection(conn), Roles: access.OrgRoles(), Refused: refused, Now: c.now()}
	var cfg struct {
		SAML            *adminapi.SAMLSettings                     `json:"saml"`
		OIDC            *adminapi.OIDCInput                        `json:"oidc"`
		GroupRoles      map[string]access.OrgRole                  `json:"group_roles"`
		GroupWorkspaces map[string]map[string]access.WorkspaceRole `json:"group_workspaces"`
	}
	if json.Unmarshal(conn.Config, &cfg) == nil {
		if cfg.SAML != nil {
			d.SAML = *cfg.SAML
		}
		if cfg.OIDC != nil {
			d.OIDC = *cfg.OIDC
		}
		d.Mapping = mappingRows(cfg.GroupRoles, cfg.GroupWorkspaces)
	}
	for range emptyMappingRows {
		d.Mapping = append(d.Mapping, mappingRow{})
	}
	if d.Failures, err = c.self.ListConnectionFailures(ctx, a.orgID(), conn.ID); err != nil {
		c.storeError(w, r, a, err)
		return
	}
	c.render(w, r, status, "console/connection", c.view(r, a, "connections", "Connection "+conn.Name, d))
}

// mappingRows lays the group mappings out as rows, sorted by group.
func mappingRows(roles map[string]access.OrgRole, wss map[string]map[string]access.WorkspaceRole) []mappingRow {
	var out []mappingRow
	for g, role := range roles {
		out = append(out, mappingRow{Group: g, OrgRole: string(role)})
	}
	for g, m := range wss {
		for ws, role := range m {
			out = append(out, mappingRow{Group: g, Workspace: ws, WorkspaceRole: string(role)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Workspace < out[j].Workspace
	})
	return out
}

// maxMappingRows bounds the rows one mapping form may send.
const maxMappingRows = 200

// readMapping reads the mapping editor's rows (group[], org_role[],
// workspace[], workspace_role[]); blank rows are skipped.
func readMapping(r *http.Request) (map[string]access.OrgRole, map[string]map[string]access.WorkspaceRole, error) {
	f := r.PostForm
	groups, orgRoles, wss, wsRoles := f["group"], f["org_role"], f["workspace"], f["workspace_role"]
	if len(groups) > maxMappingRows {
		return nil, nil, &directory.InvalidError{Field: "group_roles", Message: "at most 200 rows"}
	}
	at := func(s []string, i int) string {
		if i < len(s) {
			return strings.TrimSpace(s[i])
		}
		return ""
	}
	roles := map[string]access.OrgRole{}
	wsMap := map[string]map[string]access.WorkspaceRole{}
	for i := range groups {
		g := at(groups, i)
		if g == "" {
			continue
		}
		if role := at(orgRoles, i); role != "" {
			roles[g] = access.OrgRole(role)
		}
		if ws := at(wss, i); ws != "" {
			role := at(wsRoles, i)
			if role == "" {
				role = string(access.WorkspaceMember)
			}
			if wsMap[g] == nil {
				wsMap[g] = map[string]access.WorkspaceRole{}
			}
			wsMap[g][ws] = access.WorkspaceRole(role)
		}
	}
	return roles, wsMap, nil
}

// connectionPost is POST /admin/{org}/connections/{id}/{action}: enable,
// disable, settings, mapping or delete.
func (c *Console) connectionPost(w http.ResponseWriter, r *http.Request, a *actor) {
	if c.self == nil || c.conns == nil {
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such page.")
		return
	}
	ctx := r.Context()
	list := c.adminPath(a, "connections")
	conn, err := c.self.GetConnection(ctx, a.orgID(), r.PathValue("id"))
	if err != nil {
		c.refused(w, r, list, err)
		return
	}
	page := c.adminPath(a, "connections", conn.ID)
	var in adminapi.ConnectionInput
	var vals map[string]string
	form := r.PathValue("action")
	switch form {
	case "enable", "disable":
		on := form == "enable"
		in.Enabled = &on
	case "settings":
		in, vals, err = readConnectionForm(r, conn.Type, false)
		if name := strings.TrimSpace(r.PostForm.Get("name")); name != "" {
			in.Name = &name
		}
	case "mapping":
		in.GroupRoles, in.GroupWorkspaces, err = readMapping(r)
	case "test":
		c.startTest(w, r, a, conn)
		return
	case "delete":
		if err := c.self.DeleteConnection(ctx, a.userID(), a.orgID(), conn.ID); err != nil {
			c.refused(w, r, page, err)
			return
		}
		c.done(w, r, list, "Connection "+conn.Name+" deleted: nobody signs in through it any more.")
		return
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
		return
	}
	if err == nil {
		if conn, err = c.conns.SaveConnection(ctx, a.userID(), a.orgID(), conn.ID, in); err == nil {
			msg := map[string]string{"enable": "enabled", "disable": "disabled", "settings": "saved", "mapping": "group mapping saved"}[form]
			c.done(w, r, page, "Connection "+conn.Name+": "+msg+".")
			return
		}
	}
	status, field, msg, ok := formRefusal(err)
	if !ok {
		c.storeError(w, r, a, err)
		return
	}
	if vals == nil {
		vals = map[string]string{}
	}
	c.connectionView(w, r, a, status, &connForm{Form: form, Field: field, Message: msg, Values: vals})
}

// setupLinkPost is POST /admin/{org}/setup-links (create) and
// POST /admin/{org}/setup-links/{id}/revoke.
func (c *Console) createSetupLink(w http.ResponseWriter, r *http.Request, a *actor) {
	if c.conns == nil || c.self == nil {
		c.message(w, r, a, http.StatusNotImplemented, "Not available", "Setup links are not available on this server.")
		return
	}
	_, u, err := c.conns.CreateSetupLink(r.Context(), a.userID(), a.orgID(), r.PostForm.Get("expires_in"))
	if err != nil {
		status, field, msg, ok := formRefusal(err)
		if !ok {
			c.storeError(w, r, a, err)
			return
		}
		c.connectionsView(w, r, a, status, &connForm{Form: "setup-link", Field: field, Message: msg}, "")
		return
	}
	// The URL is rendered into this answer only, never into a cookie or a
	// redirect, and never stored.
	a.flash = &flash{Kind: "ok", Message: "Setup link created. Copy it now: it is shown only this once."}
	c.connectionsView(w, r, a, http.StatusCreated, nil, u)
}

func (c *Console) revokeSetupLink(w http.ResponseWriter, r *http.Request, a *actor) {
	list := c.adminPath(a, "connections")
	if c.self == nil {
		c.redirect(w, r, list)
		return
	}
	if err := c.self.RevokeSetupLink(r.Context(), a.userID(), a.orgID(), r.PathValue("id")); err != nil {
		c.refused(w, r, list, err)
		return
	}
	c.done(w, r, list, "Setup link revoked: it no longer opens.")
}

// selfServiceRoutes registers the Connections and Domains tabs' own routes
// and the setup link's pages.
func (c *Console) selfServiceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/{org}/connections/{id}", c.admin(c.connectionPage))
	mux.HandleFunc("POST /admin/{org}/connections/{id}/{action}", c.admin(c.connectionPost))
	mux.HandleFunc("GET /admin/{org}/connections/{id}/tests/{tid}", c.admin(c.testPage))
	mux.HandleFunc("POST /admin/{org}/setup-links/{id}/revoke", c.admin(c.revokeSetupLink))
	mux.HandleFunc("POST /admin/{org}/domains/{domain}/{action}", c.admin(c.domainPost))
	c.setupRoutes(mux)
}

// startTest is POST /admin/{org}/connections/{id}/test: it starts a test
// sign-in and sends this browser to it; the browser lands on testPage.
func (c *Console) startTest(w http.ResponseWriter, r *http.Request, a *actor, conn directory.Connection) {
	page := c.adminPath(a, "connections", conn.ID)
	if c.tests == nil {
		c.setFlash(w, "error", "Test sign-ins are not available on this server.")
		c.redirect(w, r, page)
		return
	}
	_, u, err := c.tests.StartConnectionTest(r.Context(), a.userID(), conn, func(tid string) string {
		return c.base + adminapi.ConsoleTestPath(a.orgID(), conn.ID)(tid)
	})
	if err != nil {
		c.log.WarnContext(r.Context(), "console: starting a test sign-in failed", "connection", conn.ID, "err", err)
		c.setFlash(w, "error", "The test sign-in could not be started: "+testStartProblem(err))
		c.redirect(w, r, page)
		return
	}
	c.redirect(w, r, withLoginHint(u, r.PostForm.Get("login_hint")))
}

// withLoginHint adds the optional "test as" email of a test form to the
// test's URL.
func withLoginHint(u, hint string) string {
	if hint = strings.TrimSpace(hint); hint == "" || len(hint) > 254 {
		return u
	}
	return u + "?" + url.Values{"login_hint": {hint}}.Encode()
}

// testStartProblem is the sentence of a test that could not start.
func testStartProblem(err error) string {
	if errors.Is(err, idp.ErrConfig) {
		return idp.ConfigMessage(err) + "."
	}
	return "please try again in a moment."
}

// testData is the data of the "console/connection-test" page.
type testData struct {
	Conn directory.Connection
	Test directory.ConnectionTest
	// Attributes are the identity's attributes sorted by name.
	Attributes []testAttribute
	// Workspaces are the mapped workspace roles sorted by workspace.
	Workspaces []testAttribute
	// Again is the form action that starts another test.
	Again string
}

type testAttribute struct {
	Name   string
	Values []string
}

// testPage is GET /admin/{org}/connections/{id}/tests/{tid}: a test
// sign-in's result.
func (c *Console) testPage(w http.ResponseWriter, r *http.Request, a *actor) {
	if c.self == nil || c.tests == nil {
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such page.")
		return
	}
	conn, err := c.self.GetConnection(r.Context(), a.orgID(), r.PathValue("id"))
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d, err := c.testView(r.Context(), a.orgID(), conn, r.PathValue("tid"))
	if errors.Is(err, directory.ErrNotFound) {
		c.message(w, r, a, http.StatusNotFound, "Test not found",
			"This test sign-in is unknown or its result has expired (results are kept one hour). Start a new test from the connection's page.")
		return
	}
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d.Again = c.adminPath(a, "connections", conn.ID, "test")
	c.render(w, r, http.StatusOK, "console/connection-test", c.view(r, a, "connections", "Test of "+conn.Name, d))
}

// testView reads test tid of conn for a result page (the console's and
// the setup link's).
func (c *Console) testView(ctx context.Context, orgID string, conn directory.Connection, tid string) (testData, error) {
	t, err := c.tests.ConnectionTest(ctx, orgID, conn.ID, tid)
	if err != nil {
		return testData{}, err
	}
	d := testData{Conn: conn, Test: t}
	if t.Identity != nil {
		for n, v := range t.Identity.Attributes {
			d.Attributes = append(d.Attributes, testAttribute{Name: n, Values: v})
		}
		sort.Slice(d.Attributes, func(i, j int) bool { return d.Attributes[i].Name < d.Attributes[j].Name })
	}
	if t.Mapping != nil {
		for ws, role := range t.Mapping.Workspaces {
			d.Workspaces = append(d.Workspaces, testAttribute{Name: ws, Values: []string{string(role)}})
		}
		sort.Slice(d.Workspaces, func(i, j int) bool { return d.Workspaces[i].Name < d.Workspaces[j].Name })
	}
	return d, nil
}

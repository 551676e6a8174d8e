package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/templates"
)

// The setup link (/setup/{token}): a customer's IT admin, who has no
// account, configures one org's connections and domains through it
// (docs/setup-link.md, docs/security.md "Setup links"). The token is the
// authority of every request: looked up by its SHA-256 in the directory
// (LookupSetupLink), never logged, kept out of Referer (Referrer-Policy
// no-referrer on every page). Every change goes through the same paths as
// the console and the admin API, with the link as the audit actor
// (directory.SetupLinkActor). Forms carry a CSRF token: the HMAC of the
// link's id and a random cookie of this browser (setupCSRFCookie), so
// there is no server state for it and a token of one link or browser is
// worthless for another.

// setupCSRFCookie is the per-browser secret of the setup pages' CSRF
// tokens (Path /setup/).
const setupCSRFCookie = "ssb_setup_csrf"

// setupProviders are the guides a setup link offers, in order.
func setupProviders() []setupProvider {
	return []setupProvider{
		{ID: "okta", Name: "Okta", Type: directory.ConnectionSAML},
		{ID: "entra", Name: "Microsoft Entra ID", Type: directory.ConnectionSAML},
		{ID: "google", Name: "Google Workspace", Type: directory.ConnectionSAML},
		{ID: "saml", Name: "Another SAML 2.0 identity provider", Type: directory.ConnectionSAML},
		{ID: "oidc", Name: "Another OpenID Connect provider", Type: directory.ConnectionOIDC},
	}
}

type setupProvider struct {
	ID, Name string
	Type     directory.ConnectionType
}

func providerByID(id string) (setupProvider, bool) {
	for _, p := range setupProviders() {
		if p.ID == id {
			return p, true
		}
	}
	return setupProvider{}, false
}

// setupConn is one connection on the setup page.
type setupConn struct {
	directory.Connection
	Setup directory.SetupValues
	// Configured is true once the protocol section is saved.
	Configured bool
}

type setupData struct {
	Base     string // /setup/{token}
	CSRF     string
	OrgName  string
	Provider setupProvider
	// Providers are the guides to choose from (no provider chosen yet).
	Providers []setupProvider
	Conns     []setupConn
	Domains   []domainRow
	Refused   *connForm
	Flash     *flash
	Expires   string
	// Test is a test result (the result page only).
	Test *testData
}

// setupRoutes registers the setup link's pages.
func (c *Console) setupRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /setup/{token}", c.setupLink(c.setupPage))
	mux.HandleFunc("POST /setup/{token}/{action}", c.setupLink(c.setupPost))
	mux.HandleFunc("POST /setup/{token}/connections/{id}/{action}", c.setupLink(c.setupConnPost))
	mux.HandleFunc("POST /setup/{token}/domains/{domain}/verify", c.setupLink(c.setupVerify))
	mux.HandleFunc("GET /setup/{token}/connections/{id}/tests/{tid}", c.setupLink(c.setupTestPage))
}

// setupHandler serves a request through a live setup link.
type setupHandler func(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization)

// setupLink resolves {token} to a live link: an unknown, expired or
// revoked link gets a page saying which, and nothing else happens. POSTs
// need the link's CSRF token.
func (c *Console) setupLink(h setupHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		templates.SetSecurityHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		if c.self == nil || c.conns == nil {
			c.setupMessage(w, r, http.StatusNotFound, "Setup links are not available", "This server does not offer setup links.")
			return
		}
		l, err := c.self.LookupSetupLink(r.Context(), r.PathValue("token"))
		switch {
		case errors.Is(err, directory.ErrSetupLinkExpired):
			c.setupMessage(w, r, http.StatusGone, "This setup link has expired",
				"It expired on "+l.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")+". Ask the person who sent it for a new one.")
			return
		case errors.Is(err, directory.ErrSetupLinkRevoked):
			c.setupMessage(w, r, http.StatusGone, "This setup link was revoked",
				"An administrator of the organization revoked it. Ask the person who sent it for a new one.")
			return
		case errors.Is(err, directory.ErrNotFound):
			c.setupMessage(w, r, http.StatusNotFound, "Unknown setup link",
				"This setup link does not exist. Check that you copied all of it, or ask for a new one.")
			return
		case err != nil:
			c.unavailable(w, r, "setup link lookup", err)
			return
		}
		org, err := c.store.GetOrg(r.Context(), l.OrgID)
		if err != nil {
			c.unavailable(w, r, "organization lookup", err)
			return
		}
		if r.Method == http.MethodPost && !c.checkSetupCSRF(w, r, l) {
			c.log.WarnContext(r.Context(), "setup link: CSRF token missing or wrong", "setup_link", l.ID)
			c.setupMessage(w, r, http.StatusForbidden, "Form expired",
				"This form has expired or was sent from another site. Open the setup link again and retry.")
			return
		}
		h(w, r, l, org)
	}
}

// setupCSRF returns the CSRF token of link l for this browser, setting the
// browser's secret cookie when there is none.
func (c *Console) setupCSRF(w http.ResponseWriter, r *http.Request, l directory.SetupLink) string {
	secret, ok := session.FromRequest(r, setupCSRFCookie)
	if !ok || !isToken(secret) {
		secret = randomToken()
		ck := session.Cookie(setupCSRFCookie, secret, c.secure, 0)
		ck.Path = c.base + "/setup/"
		http.SetCookie(w, ck)
		r.Header.Add("Cookie", setupCSRFCookie+"="+secret)
	}
	return c.setupCSRFFor(l.ID, secret)
}

func (c *Console) setupCSRFFor(linkID, secret string) string {
	m := hmac.New(sha256.New, c.setupKey)
	m.Write([]byte(linkID + "\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkSetupCSRF parses the form (bounded) and checks its csrf field
// against this browser's secret and link l, in constant time.
func (c *Console) checkSetupCSRF(w http.ResponseWriter, r *http.Request, l directory.SetupLink) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	parse := r.ParseForm
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		parse = func() error { return r.ParseMultipartForm(maxFormBytes) }
	}
	if err := parse(); err != nil {
		return false
	}
	secret, ok := session.FromRequest(r, setupCSRFCookie)
	if !ok || !isToken(secret) {
		return false
	}
	return hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(c.setupCSRFFor(l.ID, secret)))
}

func (c *Console) setupMessage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	c.render(w, r, status, "console/message", c.view(r, nil, "", title, messageData{Message: msg}))
}

// setupBase is the setup link's own path.
func (c *Console) setupBase(r *http.Request) string {
	return c.base + "/setup/" + url.PathEscape(r.PathValue("token"))
}

// setupPage is GET /setup/{token}: the guide. ?idp= chooses the provider.
func (c *Console) setupPage(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization) {
	c.setupView(w, r, l, org, http.StatusOK, nil)
}

func (c *Console) setupView(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization, status int, refused *connForm) {
	ctx := r.Context()
	d, err := c.setupState(ctx, l, org)
	if err != nil {
		c.storeError(w, r, nil, err)
		return
	}
	d.Base, d.CSRF, d.Refused, d.Flash = c.setupBase(r), c.setupCSRF(w, r, l), refused, c.takeFlash(w, r)
	p, ok := providerByID(r.URL.Query().Get("idp"))
	if !ok && refused != nil {
		p, ok = providerByID(refused.Value("idp"))
	}
	if !ok && len(d.Conns) > 0 {
		p = setupProvider{ID: string(d.Conns[0].Type), Name: "your identity provider", Type: d.Conns[0].Type}
		ok = true
	}
	if ok {
		d.Provider = p
	} else {
		d.Providers = setupProviders()
	}
	c.render(w, r, status, "console/setup", &view{Title: "Set up sign-in for " + org.Name, OrgName: org.Name, D: d})
}

// setupState reads what the setup page shows: the org's connections and
// domains, nothing else.
func (c *Console) setupState(ctx context.Context, l directory.SetupLink, org directory.Organization) (setupData, error) {
	d := setupData{OrgName: org.Name, Expires: l.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")}
	conns, err := c.self.ListConnections(ctx, l.OrgID)
	if err != nil {
		return d, err
	}
	for _, conn := range conns {
		d.Conns = append(d.Conns, setupConn{Connection: conn, Setup: c.conns.DescribeConnection(conn), Configured: configured(conn)})
	}
	ds, err := c.self.ListDomains(ctx, l.OrgID)
	if err != nil {
		return d, err
	}
	d.Domains = domainRows(ds)
	return d, nil
}

// configured reports whether conn's protocol section is saved.
func configured(conn directory.Connection) bool {
	var cfg adminapi.ConnectionConfig
	if json.Unmarshal(conn.Config, &cfg) != nil {
		return false
	}
	return len(cfg.SAML) > 0 || len(cfg.OIDC) > 0
}

// setupPost is POST /setup/{token}/{action}: "start" (create the
// connection, disabled, and add the email domain) or "domain".
func (c *Console) setupPost(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization) {
	ctx := r.Context()
	actor := directory.SetupLinkActor(l.ID)
	base := c.setupBase(r)
	switch r.PathValue("action") {
	case "start":
		p, ok := providerByID(r.PostForm.Get("idp"))
		vals := map[string]string{"idp": r.PostForm.Get("idp"), "name": strings.TrimSpace(r.PostForm.Get("name")),
			"domain": strings.TrimSpace(r.PostForm.Get("domain"))}
		if !ok {
			c.setupView(w, r, l, org, http.StatusUnprocessableEntity, &connForm{Form: "start", Field: "idp", Message: "Choose your identity provider.", Values: vals})
			return
		}
		name := vals["name"]
		if name == "" {
			name = p.Name
		}
		// The domain first: a refused domain (another org's, a consumer
		// mail domain) leaves nothing behind.
		if vals["domain"] != "" {
			if _, err := c.self.AddDomain(ctx, actor, l.OrgID, vals["domain"]); err != nil && !alreadyOurs(ctx, c, l.OrgID, vals["domain"]) {
				c.setupRefused(w, r, l, org, err, "start", vals)
				return
			}
		}
		conn, err := c.self.CreateConnection(ctx, actor, directory.Connection{OrgID: l.OrgID, Type: p.Type, Name: name})
		if err != nil {
			c.setupRefused(w, r, l, org, err, "start", vals)
			return
		}
		c.setFlash(w, "ok", "Connection "+conn.Name+" created (not active yet). Give your identity provider the values below.")
		c.redirect(w, r, base+"?idp="+url.QueryEscape(p.ID))
	case "domain":
		vals := map[string]string{"domain": strings.TrimSpace(r.PostForm.Get("domain"))}
		if _, err := c.self.AddDomain(ctx, actor, l.OrgID, vals["domain"]); err != nil {
			c.setupRefused(w, r, l, org, err, "domain", vals)
			return
		}
		c.setFlash(w, "ok", "Domain "+vals["domain"]+" added. Publish the TXT record below, then verify.")
		c.redirect(w, r, base)
	default:
		c.setupMessage(w, r, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

// alreadyOurs reports whether the org already has domain (adding it again
// is then no refusal).
func alreadyOurs(ctx context.Context, c *Console, orgID, domain string) bool {
	name, err := directory.NormalizeDomain(domain)
	if err != nil {
		return false
	}
	ds, err := c.self.ListDomains(ctx, orgID)
	if err != nil {
		return false
	}
	for _, d := range ds {
		if d.Domain == name {
			return true
		}
	}
	return false
}

// setupRefused shows the page again with the refusal's field and sentence
// and what was typed; anything else is a store failure.
func (c *Console) setupRefused(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization, err error, form string, vals map[string]string) {
	status, field, msg, ok := formRefusal(err)
	if !ok {
		c.storeError(w, r, nil, err)
		return
	}
	c.setupView(w, r, l, org, status, &connForm{Form: form, Field: field, Message: msg, Values: vals})
}

// setupConnPost is POST /setup/{token}/connections/{id}/{action}:
// "settings" (the IdP's metadata or OIDC client), "test" or "activate".
// Only the link's org's connections exist here.
func (c *Console) setupConnPost(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization) {
	ctx := r.Context()
	actor := directory.SetupLinkActor(l.ID)
	base := c.setupBase(r)
	conn, err := c.self.GetConnection(ctx, l.OrgID, r.PathValue("id"))
	if err != nil {
		c.setupRefused(w, r, l, org, err, "conn", nil)
		return
	}
	switch r.PathValue("action") {
	case "settings":
		in, vals, err := readConnectionForm(r, conn.Type, false)
		vals["idp"] = r.PostForm.Get("idp")
		if err == nil {
			_, err = c.conns.SaveConnection(ctx, actor, l.OrgID, conn.ID, in)
		}
		if err != nil {
			c.setupRefused(w, r, l, org, err, "settings", vals)
			return
		}
		c.setFlash(w, "ok", "Identity provider settings saved and checked.")
		c.redirect(w, r, base+"?idp="+url.QueryEscape(r.PostForm.Get("idp")))
	case "test":
		if c.tests == nil {
			c.setupMessage(w, r, http.StatusNotImplemented, "Not available", "Test sign-ins are not available on this server.")
			return
		}
		_, u, err := c.tests.StartConnectionTest(ctx, actor, conn, func(tid string) string {
			return base + "/connections/" + url.PathEscape(conn.ID) + "/tests/" + url.PathEscape(tid)
		})
		if err != nil {
			c.log.WarnContext(ctx, "setup link: starting a test sign-in failed", "connection", conn.ID, "err", err)
			c.setFlash(w, "error", "The test sign-in could not be started: "+testStartProblem(err))
			c.redirect(w, r, base)
			return
		}
		c.redirect(w, r, withLoginHint(u, r.PostForm.Get("login_hint")))
	case "activate":
		on := true
		if _, err := c.conns.SaveConnection(ctx, actor, l.OrgID, conn.ID, adminapi.ConnectionInput{Enabled: &on}); err != nil {
			c.setupRefused(w, r, l, org, err, "activate", nil)
			return
		}
		c.setFlash(w, "ok", "Connection "+conn.Name+" is active: people of "+org.Name+" can sign in through it.")
		c.redirect(w, r, base)
	default:
		c.setupMessage(w, r, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

// setupVerify is POST /setup/{token}/domains/{domain}/verify.
func (c *Console) setupVerify(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization) {
	name := r.PathValue("domain")
	if _, err := c.conns.VerifyDomain(r.Context(), directory.SetupLinkActor(l.ID), l.OrgID, name); err != nil {
		if msg, ok := adminapi.DomainVerificationError(err); ok {
			c.setupView(w, r, l, org, http.StatusUnprocessableEntity, &connForm{Form: "verify", Field: "domain", Message: upperFirst(msg),
				Values: map[string]string{"domain": name}})
			return
		}
		c.setupRefused(w, r, l, org, err, "verify", map[string]string{"domain": name})
		return
	}
	c.setFlash(w, "ok", "Domain "+name+" verified.")
	c.redirect(w, r, c.setupBase(r))
}

// setupTestPage is GET /setup/{token}/connections/{id}/tests/{tid}.
func (c *Console) setupTestPage(w http.ResponseWriter, r *http.Request, l directory.SetupLink, org directory.Organization) {
	conn, err := c.self.GetConnection(r.Context(), l.OrgID, r.PathValue("id"))
	if err != nil || c.tests == nil {
		c.setupMessage(w, r, http.StatusNotFound, "Not found", "There is no such connection.")
		return
	}
	td, err := c.testView(r.Context(), l.OrgID, conn, r.PathValue("tid"))
	if errors.Is(err, directory.ErrNotFound) {
		c.setupMessage(w, r, http.StatusNotFound, "Test not found",
			"This test sign-in is unknown or its result has expired (results are kept one hour). Start a new test from the setup page.")
		return
	}
	if err != nil {
		c.storeError(w, r, nil, err)
		return
	}
	base := c.setupBase(r)
	td.Again = base + "/connections/" + url.PathEscape(conn.ID) + "/test"
	d := setupData{Base: base, CSRF: c.setupCSRF(w, r, l), OrgName: org.Name, Test: &td, Conns: []setupConn{{Connection: conn}}}
	c.render(w, r, http.StatusOK, "console/setup-test", &view{Title: "Test of " + conn.Name, OrgName: org.Name, D: d})
}

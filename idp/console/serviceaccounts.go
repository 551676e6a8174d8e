package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

type serviceAccountsData struct {
	// Q searches the service accounts by name.
	Q        string
	Accounts []directory.ServiceAccount
	Pager    pager
	Roles    []access.OrgRole
	Refused  *refusedForm
	// Create form values.
	Name, Role, Workspaces, WorkspaceRole string
}

func (c *Console) serviceAccountsPage(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *refusedForm) {
	p := readPage(r)
	if r.Method != http.MethodGet {
		p.After = ""
	}
	q := searchParam(r.URL.Query())
	if r.Method != http.MethodGet {
		q = ""
	}
	items, next, err := c.store.SearchServiceAccounts(r.Context(), a.orgID(), directory.ListFilter{Q: q, Page: p})
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := serviceAccountsData{Q: q, Accounts: items, Roles: access.OrgRoles(), Refused: refused,
		Role: string(access.RolePlatformMember), WorkspaceRole: string(access.WorkspaceMember)}
	if refused != nil {
		d.Name, d.Role, d.Workspaces, d.WorkspaceRole = refused.Values["name"], refused.Values["role"], refused.Values["workspaces"], refused.Values["workspace_role"]
	}
	d.Pager = pagerFor(c.adminPath(a, "service-accounts"), keepQuery(url.Values{"q": {q}}, "q"), p.After, next)
	c.render(w, r, status, "console/service-accounts", c.view(r, a, "service-accounts", "Service accounts", d))
}

// createServiceAccount is POST /admin/{org}/service-accounts.
func (c *Console) createServiceAccount(w http.ResponseWriter, r *http.Request, a *actor) {
	refused := &refusedForm{Form: "create", Values: keep(r, "name", "role", "workspaces", "workspace_role")}
	// Only admins get here: no per-workspace grant check (an admin may grant
	// any membership), and the role is validated by the directory.
	grants, err := c.workspaceGrants(r, a, nil)
	if err != nil {
		c.refuseForm(w, r, a, err, refused, c.serviceAccountsPage)
		return
	}
	sa, err := c.store.CreateServiceAccount(r.Context(), a.userID(), directory.NewServiceAccount{OrgID: a.orgID(),
		Name: strings.TrimSpace(r.PostForm.Get("name")), Role: access.OrgRole(r.PostForm.Get("role")), Workspaces: grants})
	if err != nil {
		c.refuseForm(w, r, a, err, refused, c.serviceAccountsPage)
		return
	}
	c.done(w, r, c.adminPath(a, "service-accounts", sa.ID), "Service account "+sa.Name+" created. Create a key for it below.")
}

type serviceAccountData struct {
	Account directory.ServiceAccount
	Keys    []directory.APIKey
	// Secret is a key just created: shown this once.
	Secret string
	NewKey string
}

// serviceAccountPage is GET /admin/{org}/service-accounts/{id}: its keys.
func (c *Console) serviceAccountPage(w http.ResponseWriter, r *http.Request, a *actor) {
	c.serviceAccountView(w, r, a, http.StatusOK, "", "")
}

func (c *Console) serviceAccountView(w http.ResponseWriter, r *http.Request, a *actor, status int, secret, keyID string) {
	ctx := r.Context()
	sa, err := c.store.GetServiceAccount(ctx, a.orgID(), r.PathValue("id"))
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	keys, err := c.store.ListAPIKeys(ctx, a.orgID(), sa.ID)
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := serviceAccountData{Account: sa, Keys: keys, Secret: secret, NewKey: keyID}
	c.render(w, r, status, "console/service-account", c.view(r, a, "service-accounts", "Service account "+sa.Name, d))
}

// serviceAccountPost is POST /admin/{org}/service-accounts/{id}/{keys|delete}.
func (c *Console) serviceAccountPost(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	list := c.adminPath(a, "service-accounts")
	sa, err := c.store.GetServiceAccount(ctx, a.orgID(), r.PathValue("id"))
	if err != nil {
		c.refused(w, r, list, err)
		return
	}
	switch r.PathValue("action") {
	case "keys":
		k, secret, err := c.store.CreateAPIKey(ctx, a.userID(), a.orgID(), sa.ID)
		if err != nil {
			c.refused(w, r, c.adminPath(a, "service-accounts", sa.ID), err)
			return
		}
		c.showOnce(a, "Key "+k.Prefix+"… created. Copy it now: it is shown only this once.",
			func(status int) { c.serviceAccountView(w, r, a, status, secret, k.ID) })
	case "delete":
		if err := c.store.DeleteServiceAccount(ctx, a.userID(), a.orgID(), sa.ID); err != nil {
			c.refused(w, r, list, err)
			return
		}
		c.done(w, r, list, "Service account "+sa.Name+" deleted; its keys no longer work.")
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

// revokeKey is POST /admin/{org}/service-accounts/{id}/keys/{key}/revoke.
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	page := c.adminPath(a, "service-accounts", r.PathValue("id"))
	keys, err := c.store.ListAPIKeys(ctx, a.orgID(), r.PathValue("id"))
	if err != nil {
		c.refused(w, r, c.adminPath(a, "service-accounts"), err)
		return
	}
	for _, k := range keys {
		if k.ID == r.PathValue("key") {
			if err := c.store.RevokeAPIKey(ctx, a.userID(), a.orgID(), k.ID); err != nil {
				c.refused(w, r, page, err)
				return
			}
			c.done(w, r, page, "Key "+k.Prefix+"… revoked: it no longer works.")
			return
		}
	}
	c.setFlash(w, "error", "No such key for this service account.")
	c.redirect(w, r, page)
}

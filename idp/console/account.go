package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/idp"
)

type orgRow struct {
	ID, Name string
	Role     access.OrgRole
	Current  bool
	// SwitchURL signs in to that org (token-exchange switching comes later).
	SwitchURL string
	AdminURL  string
}

type accountWorkspace struct {
	directory.WorkspaceMember
	Default bool
	// ManageURL is set when the person may manage the workspace's members.
	ManageURL string
}

type accountData struct {
	UserID     string
	Orgs       []orgRow
	Workspaces []accountWorkspace
	Role       access.OrgRole
	AMR        []string
}

// myOrgs lists the person's org memberships.
func (c *Console) myOrgs(r *http.Request, a *actor) ([]orgRow, error) {
	ms, err := c.store.ListPrincipalOrgs(r.Context(), a.userID())
	if err != nil {
		return nil, err
	}
	var out []orgRow
	for _, m := range ms {
		row := orgRow{ID: m.OrgID, Role: m.Role, Current: m.OrgID == a.orgID()}
		if row.Current {
			row.Name = a.pa.Org.Name
			if a.isAdmin() {
				row.AdminURL = c.adminPath(a, "general")
			}
		} else {
			o, err := c.store.GetOrg(r.Context(), m.OrgID)
			if errors.Is(err, directory.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			row.Name = o.Name
			row.SwitchURL = c.base + idp.LoginPath + "/" + url.PathEscape(m.OrgID) + "?" +
				url.Values{idp.ReturnToParam: {"/account"}}.Encode()
		}
		out = append(out, row)
	}
	return out, nil
}

// accountPage is GET /account: who the person is, their orgs with roles,
// their workspaces in the current org, switching org and signing out.
func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, a *actor) {
	orgs, err := c.myOrgs(r, a)
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := accountData{UserID: a.userID(), Orgs: orgs, Role: a.pa.Member.Role, AMR: a.sess.AMR}
	for _, wm := range a.pa.Workspaces {
		aw := accountWorkspace{WorkspaceMember: wm, Default: wm.WorkspaceID == a.pa.DefaultWorkspace.ID}
		if a.permissions(wm.WorkspaceID).Has(access.WorkspaceInvite) {
			aw.ManageURL = c.base + "/account/workspaces/" + url.PathEscape(wm.WorkspaceID)
		}
		d.Workspaces = append(d.Workspaces, aw)
	}
	c.render(w, r, http.StatusOK, "console/account", c.view(r, a, "", "Your account", d))
}

// accountWorkspace loads {ws} for the workspace-owner page and checks that
// the person may manage its members at all (workspace.invite); the grant
// rules of each change are access.MayGrantWorkspace's.
func (c *Console) accountWorkspaceOf(w http.ResponseWriter, r *http.Request, a *actor) (directory.Workspace, bool) {
	ws, err := c.store.GetWorkspace(r.Context(), a.orgID(), r.PathValue("ws"))
	if err != nil {
		c.storeError(w, r, a, err)
		return ws, false
	}
	if !a.permissions(ws.ID).Has(access.WorkspaceInvite) {
		c.message(w, r, a, http.StatusForbidden, "Not allowed",
			"Managing the members of workspace "+ws.Name+" needs the workspace.invite permission: ask an owner of the workspace or an admin of "+a.pa.Org.Name+".")
		return ws, false
	}
	return ws, true
}

// accountWorkspacePage is GET /account/workspaces/{ws}.
func (c *Console) accountWorkspacePage(w http.ResponseWriter, r *http.Request, a *actor) {
	ws, ok := c.accountWorkspaceOf(w, r, a)
	if !ok {
		return
	}
	c.accountWorkspaceView(w, r, a, ws, http.StatusOK, nil)
}

func (c *Console) accountWorkspaceView(w http.ResponseWriter, r *http.Request, a *actor, ws directory.Workspace, status int, refused *refusedForm) {
	base := c.base + "/account/workspaces/" + url.PathEscape(ws.ID)
	d, ok := c.workspaceData(w, r, a, ws, base, refused)
	if !ok {
		return
	}
	d.BaseURL = base
	c.render(w, r, status, "console/workspace", c.view(r, a, "", "Workspace "+ws.Name, d))
}

// accountWorkspacePost is POST /account/workspaces/{ws}/members (add).
func (c *Console) accountWorkspacePost(w http.ResponseWriter, r *http.Request, a *actor) {
	ws, ok := c.accountWorkspaceOf(w, r, a)
	if !ok {
		return
	}
	if r.PathValue("action") != "members" {
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
		return
	}
	back := c.base + "/account/workspaces/" + url.PathEscape(ws.ID)
	c.putWorkspaceMember(w, r, a, ws, r.PostForm.Get("principal"), back,
		func(status int, f *refusedForm) { c.accountWorkspaceView(w, r, a, ws, status, f) })
}

// accountWorkspaceMemberPost is POST /account/workspaces/{ws}/members/{principal}/{update|remove}.
func (c *Console) accountWorkspaceMemberPost(w http.ResponseWriter, r *http.Request, a *actor) {
	ws, ok := c.accountWorkspaceOf(w, r, a)
	if !ok {
		return
	}
	back := c.base + "/account/workspaces/" + url.PathEscape(ws.ID)
	c.changeWorkspaceMember(w, r, a, ws, back, func(status int, f *refusedForm) { c.accountWorkspaceView(w, r, a, ws, status, f) })
}

package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/session"
)

type orgRow struct {
	ID, Name string
	Role     access.OrgRole
	Current  bool
	AdminURL string
}

type accountWorkspace struct {
	directory.WorkspaceMember
	Default bool
	// ManageURL is set when the person may manage the workspace's members.
	ManageURL string
}

type accountData struct {
	UserID string
	// SwitchAction is where the org switcher's forms post (switchOrg).
	SwitchAction string
	Orgs         []orgRow
	Workspaces   []accountWorkspace
	Role         access.OrgRole
	AMR          []string
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
	d := accountData{UserID: a.userID(), SwitchAction: c.base + "/account/switch", Orgs: orgs, Role: a.pa.Member.Role, AMR: a.sess.AMR}
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

// switchOrg is POST /account/switch (field org: the organization's id):
// the browser session moves to another of the person's organizations
// without signing in again (docs/org-switching.md). Membership is
// re-checked now by directory.SwitchStanding, the check the token
// exchange makes; a person who is not (any more) a member stays where they
// are and is told so.
//
// Sessions are fixed at creation, so the move is a new session — the same
// user, connection, authentication methods, auth time and absolute expiry,
// in the new org — under a new cookie value (a session id is renewed when
// what it grants changes). The old session is deleted and the refresh
// tokens applications got from it end with it, as at sign-out, except
// offline access: an application asks again and is answered for the new
// org without a sign-in.
func (c *Console) switchOrg(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	target := r.PostForm.Get("org")
	if target == "" {
		c.message(w, r, a, http.StatusBadRequest, "No organization", "Choose an organization to switch to.")
		return
	}
	pa, err := c.store.SwitchStanding(ctx, a.sess.OrgID, a.sess.UserID, a.sess.ConnectionID, target)
	switch {
	case errors.Is(err, directory.ErrNotMember):
		c.log.InfoContext(ctx, "console: org switch refused", "user", a.userID(), "org", a.orgID(), "target", target, "err", err)
		c.message(w, r, a, http.StatusForbidden, "Not a member",
			"You are not a member of that organization (any more), so you are still signed in to "+a.pa.Org.Name+". Ask an admin of that organization to invite you.")
		return
	case err != nil:
		c.storeError(w, r, a, err)
		return
	case pa.Org.ID == a.orgID():
		c.done(w, r, c.base+"/account", "You are signed in to "+pa.Org.Name+".")
		return
	}
	s := a.sess
	next, err := c.sessions.CreateSession(ctx, session.Session{UserID: s.UserID, OrgID: pa.Org.ID, ConnectionID: s.ConnectionID,
		AMR: s.AMR, AuthTime: s.AuthTime, AbsoluteExpiry: s.AbsoluteExpiry, IdleTimeout: s.IdleTimeout, Data: s.Data})
	if err != nil {
		c.unavailable(w, r, "moving the session", err)
		return
	}
	if err := c.sessions.DeleteSession(ctx, s.ID); err != nil {
		c.log.ErrorContext(ctx, "console: deleting the session left by an org switch failed", "user", s.UserID, "session", s.Handle, "err", err)
	}
	if _, err := c.sessions.RevokeSessionFamilies(ctx, s.UserID, s.Handle, true); err != nil {
		c.log.ErrorContext(ctx, "console: ending the refresh tokens of the session left by an org switch failed", "user", s.UserID,
			"session", s.Handle, "err", err)
	}
	c.cookie.Set(w, next.ID)
	c.log.InfoContext(ctx, "console: org switched", "user", s.UserID, "from_org", s.OrgID, "org", pa.Org.ID, "session", next.Handle)
	c.done(w, r, c.base+"/account", "You switched to "+pa.Org.Name+".")
}

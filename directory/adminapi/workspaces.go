package adminapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// workspace finds a workspace of the caller's org by id or name; "default"
// (any case) is the org's default workspace.
func (a *API) workspace(r *http.Request, c *caller, ref string) (directory.Workspace, error) {
	if isDefaultRef(ref) {
		ref = c.access.Org.Settings.DefaultWorkspace
	}
	return a.store.GetWorkspace(r.Context(), c.orgID(), ref)
}

// listWorkspaces lists the workspaces the caller may read: every workspace of
// the org for those who can read one without being a member (admins), the
// caller's own for everyone else (docs/permissions.md decision 5). ?q= keeps names
// containing q, case-insensitively.
func (a *API) listWorkspaces(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query().Get("q")
	if len(q) > 100 {
		return invalidField("q", "q must be at most 100 characters")
	}
	if c.narrowed != "" {
		return a.listNarrowedWorkspace(w, r, c, q)
	}
	f := directory.WorkspaceFilter{Q: q, Page: p}
	if !c.can(access.WorkspaceRead, nil) {
		f.MemberOf = c.subject
	}
	items, next, err := a.store.ListWorkspaces(r.Context(), c.orgID(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// listNarrowedWorkspace lists at most the one workspace a narrowed token may see.
func (a *API) listNarrowedWorkspace(w http.ResponseWriter, r *http.Request, c *caller, q string) error {
	items := []directory.Workspace{}
	ws, err := a.store.GetWorkspace(r.Context(), c.orgID(), c.narrowed)
	switch {
	case errors.Is(err, directory.ErrNotFound):
	case err != nil:
		return err
	case c.can(access.WorkspaceRead, &ws) && strings.Contains(strings.ToLower(ws.Name), strings.ToLower(q)):
		items = append(items, ws)
	}
	writeJSON(w, http.StatusOK, newList(items, ""))
	return nil
}

// workspaceBody is the body of POST /workspaces and PATCH /workspaces/{ws}.
type workspaceBody struct {
	Name *string `json:"name"`
}

func (b workspaceBody) name() (string, error) {
	if b.Name == nil {
		return "", invalidField("name", "name is required")
	}
	return *b.Name, nil
}

// createWorkspace creates a workspace whose owner is its creator (org.create_workspace).
func (a *API) createWorkspace(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgCreateWorkspace, nil); err != nil {
		return err
	}
	var b workspaceBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	name, err := b.name()
	if err != nil {
		return err
	}
	ws, err := a.store.CreateWorkspace(r.Context(), c.subject, c.orgID(), name, c.subject)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orgs/"+c.orgID()+"/workspaces/"+ws.ID)
	writeJSON(w, http.StatusCreated, ws)
	return nil
}

// getWorkspace answers those who can read the workspace.
func (a *API) getWorkspace(w http.ResponseWriter, r *http.Request, c *caller) error {
	ws, err := a.workspace(r, c, r.PathValue("ws"))
	if err != nil {
		return err
	}
	if err := c.require(access.WorkspaceRead, &ws); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

// patchWorkspace renames a workspace (workspace.configure).
func (a *API) patchWorkspace(w http.ResponseWriter, r *http.Request, c *caller) error {
	ws, err := a.workspace(r, c, r.PathValue("ws"))
	if err != nil {
		return err
	}
	if err := c.require(access.WorkspaceConfigure, &ws); err != nil {
		return err
	}
	var b workspaceBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	name, err := b.name()
	if err != nil {
		return err
	}
	ws, err = a.store.RenameWorkspace(r.Context(), c.subject, c.orgID(), ws.ID, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

// deleteWorkspace deletes a workspace (org.admin); the default one needs
// ?new_default= naming its successor.
func (a *API) deleteWorkspace(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	ws, err := a.workspace(r, c, r.PathValue("ws"))
	if err != nil {
		return err
	}
	if err := a.store.DeleteWorkspace(r.Context(), c.subject, c.orgID(), ws.ID, r.URL.Query().Get("new_default")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// putDefaultWorkspace makes a workspace the org's default (org.admin); idempotent.
func (a *API) putDefaultWorkspace(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := noBody(w, r); err != nil {
		return err
	}
	ws, err := a.workspace(r, c, r.PathValue("ws"))
	if err != nil {
		return err
	}
	if err := a.store.SetDefaultWorkspace(r.Context(), c.subject, c.orgID(), ws.ID); err != nil {
		return err
	}
	ws.Default = true
	writeJSON(w, http.StatusOK, ws)
	return nil
}

// listWorkspaceMembers answers those who can read the workspace.
func (a *API) listWorkspaceMembers(w http.ResponseWriter, r *http.Request, c *caller) error {
	ws, err := a.workspace(r, c, r.PathValue("ws"))
	if err != nil {
		return err
	}
	if err := c.require(access.WorkspaceRead, &ws); err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.store.ListWorkspaceMembers(r.Context(), c.orgID(), ws.ID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// membershipBody is the body of PUT …/workspaces/{ws}/members/{principal}.
type membershipBody struct {
	Role          *access.WorkspaceRole `json:"role"`
	CanInvite     bool                  `json:"can_invite"`
	CanMakePublic bool                  `json:"can_make_public"`
}

// putWorkspaceMember adds an org member to a workspace or changes its role
// and flags; idempotent. Adding someone as a plain member (both flags false)
// needs workspace.invite; making someone owner, setting a flag, or changing
// an existing owner or flagged member needs what only owners and admins hold,
// workspace.configure; and a non-admin never adds a permission they do not
// hold in the workspace themselves (access.MayGrantWorkspace,
// docs/security.md "Grants and tenant inputs").
func (a *API) putWorkspaceMember(w http.ResponseWriter, r *http.Request, c *caller) error {
	ws, err := a.workspace(r, c, r.PathValue("ws"))
	if err != nil {
		return err
	}
	var b membershipBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Role == nil || !b.Role.Valid() {
		return invalidField("role", `role must be "owner" or "member"`)
	}
	m := access.Membership{Role: *b.Role, CanInvite: b.CanInvite, CanMakePublic: b.CanMakePublic}
	principal := r.PathValue("principal")
	current, err := a.workspaceMembership(r, c, ws.ID, principal)
	if err != nil {
		return err
	}
	plain := access.Membership{Role: access.WorkspaceMember}
	perm := access.WorkspaceConfigure
	if m == plain && (current == nil || *current == plain) {
		perm = access.WorkspaceInvite
	}
	if err := c.require(perm, &ws); err != nil {
		return err
	}
	grantee, err := a.store.GetMember(r.Context(), c.orgID(), principal)
	if err != nil {
		return err
	}
	if err := c.mayGrantWorkspace(&ws, access.WorkspaceGrant{Grantee: grantee.Role, Current: current, Membership: m}); err != nil {
		return err
	}
	out, err := a.store.PutWorkspaceMember(r.Context(), c.subject, c.orgID(), ws.ID, principal, m)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if current == nil {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
	return nil
}

// workspaceMembership returns principal's membership of workspace wsID in the
// caller's org, or nil when it has none.
func (a *API) workspaceMembership(r *http.Request, c *caller, wsID, principal string) (*access.Membership, error) {
	wms, err := a.store.PrincipalWorkspaces(r.Context(), c.orgID(), principal)
	if err != nil {
		return nil, err
	}
	for _, wm := range wms {
		if wm.WorkspaceID == wsID {
			return &wm.Membership, nil
		}
	}
	return nil, nil
}

// deleteWorkspaceMember removes a principal from a workspace (owners and
// admins: workspace.configure, decision 4).
func (a *API) deleteWorkspaceMember(w http.ResponseWriter, r *http.Request, c *caller) error {
	ws, err := a.workspace(r, c, r.PathValue("ws"))
	if err != nil {
		return err
	}
	if err := c.require(access.WorkspaceConfigure, &ws); err != nil {
		return err
	}
	if err := a.store.RemoveWorkspaceMember(r.Context(), c.subject, c.orgID(), ws.ID, r.PathValue("principal")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// mayGrantWorkspace applies access.MayGrantWorkspace to the caller in ws and
// answers 403 with the reason when the grant goes beyond what the caller
// holds there.
func (c *caller) mayGrantWorkspace(ws *directory.Workspace, g access.WorkspaceGrant) error {
	var own *access.Membership
	for i := range c.access.Workspaces {
		if c.access.Workspaces[i].WorkspaceID == ws.ID {
			own = &c.access.Workspaces[i].Membership
			break
		}
	}
	if access.MayGrantWorkspace(c.access.Member.Role, own, g) {
		return nil
	}
	mine := access.WorkspacePermissions(c.access.Member.Role, own)
	missing := (access.WorkspacePermissions(g.Grantee, &g.Membership) &^ access.WorkspacePermissions(g.Grantee, g.Current)) &^ mine
	if missing == 0 {
		missing = access.Set(access.WorkspaceConfigure)
	}
	return forbidden("missing permission " + strings.Join(missing.Names(), ", ") + " in workspace " + quote(ws.Name) +
		": a member may not give a " + string(g.Grantee) + " permissions they do not hold there themselves; ask an owner or an admin")
}

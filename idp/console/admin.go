package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// adminIndex is GET /admin: an admin of the session's org goes to its
// console; anyone else learns which of their orgs they administer (the
// console serves the session's org only: switching org is signing in to it).
func (c *Console) adminIndex(w http.ResponseWriter, r *http.Request) {
	a, ok := c.authenticate(w, r)
	if !ok {
		return
	}
	if a.isAdmin() {
		c.redirect(w, r, c.adminPath(a, "general"))
		return
	}
	orgs, err := c.myOrgs(r, a)
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	var admin []orgRow
	for _, o := range orgs {
		if o.Role == access.RoleAdmin {
			admin = append(admin, o)
		}
	}
	if len(admin) == 0 {
		c.message(w, r, a, http.StatusForbidden, "Admins only",
			"The admin console needs the org.admin permission: ask an admin of "+a.pa.Org.Name+".")
		return
	}
	c.render(w, r, http.StatusOK, "console/choose", c.view(r, a, "", "Choose an organization", admin))
}

// orgHome is GET /admin/{org}: the General tab.
func (c *Console) orgHome(w http.ResponseWriter, r *http.Request, a *actor) {
	c.redirect(w, r, c.adminPath(a, "general"))
}

// tabPage is GET /admin/{org}/{tab}.
func (c *Console) tabPage(w http.ResponseWriter, r *http.Request, a *actor) {
	c.dispatch(w, r, a, r.PathValue("tab"), "page", map[string]func(){
		"general":          func() { c.generalPage(w, r, a, http.StatusOK, nil) },
		"workspaces":       func() { c.workspacesPage(w, r, a, http.StatusOK, nil) },
		"users":            func() { c.usersPage(w, r, a, http.StatusOK, nil, nil) },
		"settings":         func() { c.settingsPage(w, r, a, http.StatusOK, nil) },
		"service-accounts": func() { c.serviceAccountsPage(w, r, a, http.StatusOK, nil) },
		"billing":          func() { c.billingPage(w, r, a) },
		"audit":            func() { c.auditPage(w, r, a) },
		"connections":      func() { c.connectionsPage(w, r, a) },
		"domains":          func() { c.domainsPage(w, r, a) },
	})
}

// tabPost is POST /admin/{org}/{tab}: the tab's main form.
func (c *Console) tabPost(w http.ResponseWriter, r *http.Request, a *actor) {
	c.dispatch(w, r, a, r.PathValue("tab"), "page", map[string]func(){
		"general":          func() { c.generalPost(w, r, a) },
		"workspaces":       func() { c.createWorkspace(w, r, a) },
		"invitations":      func() { c.createInvitation(w, r, a) },
		"settings":         func() { c.settingsPost(w, r, a) },
		"service-accounts": func() { c.createServiceAccount(w, r, a) },
		"connections":      func() { c.createConnection(w, r, a) },
		"domains":          func() { c.addDomain(w, r, a) },
		"setup-links":      func() { c.createSetupLink(w, r, a) },
	})
}

// ---- General ----

type generalData struct {
	Org     directory.Organization
	Refused *refusedForm
	Name    string
}

func (c *Console) generalPage(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *refusedForm) {
	d := generalData{Org: a.pa.Org, Name: a.pa.Org.Name, Refused: refused}
	if refused != nil {
		d.Name = refused.Values["name"]
	}
	c.render(w, r, status, "console/general", c.view(r, a, "general", "General", d))
}

func (c *Console) generalPost(w http.ResponseWriter, r *http.Request, a *actor) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	o, err := c.store.UpdateOrg(r.Context(), a.userID(), a.orgID(), directory.OrgUpdate{Name: &name})
	if err != nil {
		c.refuseForm(w, r, a, err, &refusedForm{Form: "name", Values: keep(r, "name")}, c.generalPage)
		return
	}
	c.done(w, r, c.adminPath(a, "general"), "The organization is now named "+o.Name+".")
}

// refuseForm shows page again with the refused form's sentence and values
// (409 for an invariant or conflict, 422 for invalid input); a store
// failure is an error page.
func (c *Console) refuseForm(w http.ResponseWriter, r *http.Request, a *actor, err error, f *refusedForm,
	page func(http.ResponseWriter, *http.Request, *actor, int, *refusedForm)) {
	status, msg, ok := refusal(err)
	if !ok {
		c.storeError(w, r, a, err)
		return
	}
	f.Message = sentence(msg)
	page(w, r, a, status, f)
}

// ---- Organization settings ----

type settingsData struct {
	Org              directory.Organization
	DefaultWorkspace string
	Roles            []access.OrgRole
	JITModes         []directory.JITMode
	Refused          *refusedForm
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *refusedForm) {
	d := settingsData{Org: a.pa.Org, DefaultWorkspace: a.pa.DefaultWorkspace.Name, Roles: access.OrgRoles(),
		JITModes: []directory.JITMode{directory.JITAuto, directory.JITApproval, directory.JITInviteOnly}, Refused: refused}
	if refused != nil {
		d.DefaultWorkspace = refused.Values["default_workspace"]
	}
	c.render(w, r, status, "console/settings", c.view(r, a, "settings", "Organization settings", d))
}

func (c *Console) settingsPost(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	f := r.PostForm
	only := f.Get("only_admins_can_invite") == "on"
	jit := directory.JITMode(f.Get("jit_mode"))
	role := access.OrgRole(f.Get("default_org_role"))
	refused := &refusedForm{Form: "settings", Values: keep(r, "default_workspace")}
	wsRef := strings.TrimSpace(f.Get("default_workspace"))
	if wsRef != "" && wsRef != a.pa.DefaultWorkspace.Name && wsRef != a.pa.DefaultWorkspace.ID {
		ws, err := c.store.GetWorkspace(ctx, a.orgID(), wsRef)
		if err != nil {
			c.refuseForm(w, r, a, err, refused, c.settingsPage)
			return
		}
		if err := c.store.SetDefaultWorkspace(ctx, a.userID(), a.orgID(), ws.ID); err != nil {
			c.refuseForm(w, r, a, err, refused, c.settingsPage)
			return
		}
	}
	if _, err := c.store.UpdateOrg(ctx, a.userID(), a.orgID(), directory.OrgUpdate{
		OnlyAdminsCanInvite: &only, JITMode: &jit, DefaultOrgRole: &role,
	}); err != nil {
		c.refuseForm(w, r, a, err, refused, c.settingsPage)
		return
	}
	c.done(w, r, c.adminPath(a, "settings"), "Organization settings saved.")
}

// ---- Workspaces ----

type workspaceRow struct {
	directory.Workspace
	// Mine is the admin's own membership (the seeds' green badge), if any.
	Mine *access.Membership
}

type workspacesData struct {
	Q       string
	Rows    []workspaceRow
	Pager   pager
	Refused *refusedForm
	NewName string
}

func (c *Console) workspacesPage(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *refusedForm) {
	q := searchParam(r.URL.Query())
	p := readPage(r)
	items, next, err := c.store.ListWorkspaces(r.Context(), a.orgID(), directory.WorkspaceFilter{Q: q, Page: p})
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := workspacesData{Q: q, Refused: refused}
	if refused != nil {
		d.NewName = refused.Values["name"]
	}
	for _, ws := range items {
		d.Rows = append(d.Rows, workspaceRow{Workspace: ws, Mine: a.membership(ws.ID)})
	}
	qv := map[string][]string{}
	if q != "" {
		qv["q"] = []string{q}
	}
	d.Pager = pagerFor(c.adminPath(a, "workspaces"), qv, p.After, next)
	c.render(w, r, status, "console/workspaces", c.view(r, a, "workspaces", "Workspaces", d))
}

func (c *Console) createWorkspace(w http.ResponseWriter, r *http.Request, a *actor) {
	if !a.permissions("").Has(access.OrgCreateWorkspace) {
		c.message(w, r, a, http.StatusForbidden, "Not allowed", "Creating a workspace needs the org.create_workspace permission.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	ws, err := c.store.CreateWorkspace(r.Context(), a.userID(), a.orgID(), name, a.userID())
	if err != nil {
		c.refuseForm(w, r, a, err, &refusedForm{Form: "create", Values: keep(r, "name")}, c.workspacesPage)
		return
	}
	c.done(w, r, c.adminPath(a, "workspaces"), "Workspace "+ws.Name+" created; you are its owner.")
}

// workspaceOf loads the {ws} of an admin's POST; an unknown one goes back
// to the Workspaces tab with the directory's sentence.
func (c *Console) workspaceOf(w http.ResponseWriter, r *http.Request, a *actor) (directory.Workspace, bool) {
	ws, err := c.store.GetWorkspace(r.Context(), a.orgID(), r.PathValue("ws"))
	if err != nil {
		c.refused(w, r, c.adminPath(a, "workspaces"), err)
		return ws, false
	}
	return ws, true
}

// workspacePost is POST /admin/{org}/workspaces/{ws}/{action}: default,
// delete, or members (add a member).
func (c *Console) workspacePost(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	ws, ok := c.workspaceOf(w, r, a)
	if !ok {
		return
	}
	back := c.adminPath(a, "workspaces")
	switch r.PathValue("action") {
	case "default":
		if err := c.store.SetDefaultWorkspace(ctx, a.userID(), a.orgID(), ws.ID); err != nil {
			c.refused(w, r, back, err)
			return
		}
		c.done(w, r, back, "Workspace "+ws.Name+" is now the default workspace.")
	case "delete":
		newDefault := strings.TrimSpace(r.PostForm.Get("new_default"))
		if err := c.store.DeleteWorkspace(ctx, a.userID(), a.orgID(), ws.ID, newDefault); err != nil {
			if errors.Is(err, directory.ErrInvariant) || errors.Is(err, directory.ErrNotFound) {
				// Shown on the workspace's page, where the new default is asked for.
				status, msg, _ := refusal(err)
				c.workspaceView(w, r, a, ws, status, &refusedForm{Form: "delete", Message: sentence(msg), Values: keep(r, "new_default")})
				return
			}
			c.refused(w, r, back, err)
			return
		}
		msg := "Workspace " + ws.Name + " deleted."
		if newDefault != "" && ws.Default {
			msg += " " + newDefault + " is now the default workspace."
		}
		c.done(w, r, back, msg)
	case "members":
		c.putWorkspaceMember(w, r, a, ws, strings.TrimSpace(r.PostForm.Get("principal")), c.adminPath(a, "workspaces", ws.ID),
			func(status int, f *refusedForm) { c.workspaceView(w, r, a, ws, status, f) })
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

type workspaceData struct {
	WS       directory.Workspace
	Members  []directory.WorkspaceMember
	Pager    pager
	Refused  *refusedForm
	BaseURL  string
	Roles    []access.WorkspaceRole
	CanAdd   bool
	CanOwner bool
	// Delete is shown on the admin page only.
	Admin bool
	// Q searches the org's members who are not in the workspace yet (by
	// name or email, on the server); Candidates are the matches, a page at
	// a time.
	Q          string
	Candidates []directory.Member
	CandPage   pager
	// Add form values (kept when refused).
	Principal, Role              string
	CanInviteOn, CanMakePublicOn bool
	NewDefault                   string
}

// candidatePageSize is how many search results the add-a-member search
// shows at a time.
const candidatePageSize = 20

// workspacePage is GET /admin/{org}/workspaces/{ws}: its members (the seeds'
// "manage users" dialog, as a page that works without scripts).
func (c *Console) workspacePage(w http.ResponseWriter, r *http.Request, a *actor) {
	ws, err := c.store.GetWorkspace(r.Context(), a.orgID(), r.PathValue("ws"))
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	c.workspaceView(w, r, a, ws, http.StatusOK, nil)
}

func (c *Console) workspaceView(w http.ResponseWriter, r *http.Request, a *actor, ws directory.Workspace, status int, refused *refusedForm) {
	d, ok := c.workspaceData(w, r, a, ws, c.adminPath(a, "workspaces", ws.ID), refused)
	if !ok {
		return
	}
	d.Admin = true
	d.BaseURL = c.adminPath(a, "workspaces", ws.ID)
	c.render(w, r, status, "console/workspace", c.view(r, a, "workspaces", "Workspace "+ws.Name, d))
}

func (c *Console) workspaceData(w http.ResponseWriter, r *http.Request, a *actor, ws directory.Workspace, base string, refused *refusedForm) (workspaceData, bool) {
	ctx := r.Context()
	q := r.URL.Query()
	if r.Method != http.MethodGet {
		// A refused form shows the first pages again, with the search it
		// was sent from.
		q = url.Values{"q": {r.PostForm.Get("q")}}
	}
	p := readPage(r)
	if r.Method != http.MethodGet {
		p = directory.Page{Limit: pageSize}
	}
	items, next, err := c.store.ListWorkspaceMembers(ctx, a.orgID(), ws.ID, p)
	if err != nil {
		c.storeError(w, r, a, err)
		return workspaceData{}, false
	}
	perms := a.permissions(ws.ID)
	d := workspaceData{WS: ws, Members: items, Refused: refused, Q: searchParam(q),
		Roles:    []access.WorkspaceRole{access.WorkspaceMember, access.WorkspaceOwner},
		CanAdd:   perms.Has(access.WorkspaceInvite),
		CanOwner: perms.Has(access.WorkspaceConfigure), Role: string(access.WorkspaceMember)}
	d.Pager = pagerFor(base, keepQuery(q, "q", "cand_after"), p.After, next)
	d.Pager.Label = "Pages of members"
	if d.CanAdd && d.Q != "" {
		after := q.Get("cand_after")
		if len(after) > 200 {
			after = ""
		}
		cands, candNext, err := c.store.SearchMembers(ctx, a.orgID(), directory.MemberFilter{Q: d.Q, NotInWorkspace: ws.ID,
			Page: directory.Page{After: after, Limit: candidatePageSize}})
		if err != nil {
			c.storeError(w, r, a, err)
			return workspaceData{}, false
		}
		d.Candidates = cands
		d.CandPage = pagerOn(base, keepQuery(q, "q", "after"), "cand_after", after, candNext)
		d.CandPage.Label = "Search results pages"
	}
	if refused != nil {
		d.Principal, d.Role = refused.Values["principal"], refused.Values["role"]
		d.CanInviteOn, d.CanMakePublicOn = refused.Values["can_invite"] == "on", refused.Values["can_make_public"] == "on"
		d.NewDefault = refused.Values["new_default"]
	}
	return d, true
}

// putWorkspaceMember adds principal to ws or changes its membership, with
// the grant rules of access.MayGrantWorkspace (the admin API's rules).
func (c *Console) putWorkspaceMember(w http.ResponseWriter, r *http.Request, a *actor, ws directory.Workspace, principal, back string,
	refuse func(status int, f *refusedForm)) {
	ctx := r.Context()
	f := r.PostForm
	m := access.Membership{Role: access.WorkspaceRole(f.Get("role")), CanInvite: f.Get("can_invite") == "on", CanMakePublic: f.Get("can_make_public") == "on"}
	refused := &refusedForm{Form: "member", Values: keep(r, "principal", "role", "can_invite", "can_make_public")}
	if principal == "" || len(principal) > 100 {
		refused.Message = "Choose the member to add: search the organization's members by name or email, then pick one."
		refuse(http.StatusUnprocessableEntity, refused)
		return
	}
	if !m.Role.Valid() {
		refused.Message = `The workspace role must be "owner" or "member".`
		refuse(http.StatusUnprocessableEntity, refused)
		return
	}
	grantee, err := c.store.GetMember(ctx, a.orgID(), principal)
	if err != nil {
		if _, msg, ok := refusal(err); ok {
			refused.Message = upperFirst(msg) + ": only members of the organization can be added to its workspaces."
			refuse(http.StatusUnprocessableEntity, refused)
			return
		}
		c.storeError(w, r, a, err)
		return
	}
	current, err := c.currentMembership(r, a, ws.ID, principal)
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	if !access.MayGrantWorkspace(a.pa.Member.Role, a.membership(ws.ID), access.WorkspaceGrant{Grantee: grantee.Role, Current: current, Membership: m}) {
		refused.Message = "You cannot grant this membership of workspace " + ws.Name + ": it would give permissions you do not hold there yourself (only owners set flags or make owners). Ask an owner or an admin."
		refuse(http.StatusForbidden, refused)
		return
	}
	out, err := c.store.PutWorkspaceMember(ctx, a.userID(), a.orgID(), ws.ID, principal, m)
	if err != nil {
		status, msg, ok := refusal(err)
		if !ok {
			c.storeError(w, r, a, err)
			return
		}
		refused.Message = sentence(msg)
		refuse(status, refused)
		return
	}
	who := out.Name
	if who == "" {
		who = out.Email
	}
	verb := "added to"
	if current != nil {
		verb = "updated in"
	}
	if q := searchParam(url.Values{"q": {f.Get("q")}}); q != "" && current == nil {
		// Back to the same search, to add the next person.
		back += "?" + url.Values{"q": {q}}.Encode()
	}
	c.done(w, r, back, who+" "+verb+" workspace "+ws.Name+" as "+string(out.Role)+".")
}

// currentMembership is principal's membership of wsID, or nil.
func (c *Console) currentMembership(r *http.Request, a *actor, wsID, principal string) (*access.Membership, error) {
	wms, err := c.store.PrincipalWorkspaces(r.Context(), a.orgID(), principal)
	if err != nil {
		return nil, err
	}
	for _, wm := range wms {
		if wm.WorkspaceID == wsID {
			m := wm.Membership
			return &m, nil
		}
	}
	return nil, nil
}

// workspaceMemberPost is POST …/workspaces/{ws}/members/{principal}/{update|remove}.
func (c *Console) workspaceMemberPost(w http.ResponseWriter, r *http.Request, a *actor) {
	ws, ok := c.workspaceOf(w, r, a)
	if !ok {
		return
	}
	back := c.adminPath(a, "workspaces", ws.ID)
	c.changeWorkspaceMember(w, r, a, ws, back, func(status int, f *refusedForm) { c.workspaceView(w, r, a, ws, status, f) })
}

func (c *Console) changeWorkspaceMember(w http.ResponseWriter, r *http.Request, a *actor, ws directory.Workspace, back string,
	refuse func(status int, f *refusedForm)) {
	principal := r.PathValue("principal")
	switch r.PathValue("action") {
	case "update":
		c.putWorkspaceMember(w, r, a, ws, principal, back, refuse)
	case "remove":
		// Removing a member needs what owners and admins hold (the admin API's rule).
		if !a.permissions(ws.ID).Has(access.WorkspaceConfigure) {
			c.setFlash(w, "error", "Removing a member of workspace "+ws.Name+" needs the workspace.configure permission: ask an owner of the workspace or an admin.")
			c.redirect(w, r, back)
			return
		}
		if err := c.store.RemoveWorkspaceMember(r.Context(), a.userID(), a.orgID(), ws.ID, principal); err != nil {
			c.refused(w, r, back, err)
			return
		}
		c.done(w, r, back, "Removed from workspace "+ws.Name+".")
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

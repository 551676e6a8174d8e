package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/session"
)

type memberRow struct {
	directory.Member
	Workspaces []directory.WorkspaceMember
	Me         bool
}

type createdInvitation struct {
	Invitation directory.Invitation
	AcceptURL  string
	// Mail is "sent", "not_configured" or "failed".
	Mail string
}

type usersData struct {
	// Q, InvQ and ReqQ search the members by name or email, the
	// invitations by email and the join requests by email or name.
	Q, InvQ, ReqQ string
	Members       []memberRow
	MembersPage   pager
	Invitations   []directory.Invitation
	InvPage       pager
	Requests      []directory.JoinRequest
	ReqPage       pager
	Roles         []access.OrgRole
	Refused       *refusedForm
	Created       *createdInvitation
	MailEnabled   bool
	// Invite form values (kept when refused).
	Email, Role, Workspaces, WorkspaceRole string
}

// usersPage is the Users tab: members (with role and workspaces),
// invitations and join requests, each paginated on its own cursor.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *refusedForm, created *createdInvitation) {
	ctx := r.Context()
	q := r.URL.Query()
	if r.Method != http.MethodGet {
		q = url.Values{}
	}
	cursor := func(name string) string {
		v := q.Get(name)
		if len(v) > 200 {
			return ""
		}
		return v
	}
	d := usersData{Roles: access.OrgRoles(), Refused: refused, Created: created, MailEnabled: c.mailer != nil,
		Role: string(a.pa.Org.Settings.DefaultOrgRole), WorkspaceRole: string(access.WorkspaceMember)}
	if refused != nil && refused.Form == "invite" {
		d.Email, d.Role, d.Workspaces, d.WorkspaceRole = refused.Values["email"], refused.Values["role"], refused.Values["workspaces"], refused.Values["workspace_role"]
	}
	path := c.adminPath(a, "users")
	d.Q = searchParam(q)
	members, next, err := c.store.SearchMembers(ctx, a.orgID(), directory.MemberFilter{Q: d.Q, Page: directory.Page{After: cursor("after"), Limit: pageSize}})
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	// The workspaces column of the whole page comes in one store call.
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.PrincipalID
	}
	wss, err := c.store.WorkspacesOfPrincipals(ctx, a.orgID(), ids)
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	for _, m := range members {
		d.Members = append(d.Members, memberRow{Member: m, Me: m.PrincipalID == a.userID(), Workspaces: wss[m.PrincipalID]})
	}
	// Each list has its own search and cursor; paging one keeps the others.
	all := []string{"q", "after", "inv_q", "inv_after", "req_q", "req_after"}
	others := func(own ...string) url.Values {
		return keepQuery(q, slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(own, n) })...)
	}
	d.MembersPage = pagerFor(path, others("after"), cursor("after"), next)
	d.MembersPage.Label = "Pages of members"
	d.InvQ, d.ReqQ = searchParam(url.Values{"q": {q.Get("inv_q")}}), searchParam(url.Values{"q": {q.Get("req_q")}})
	invs, invNext, err := c.store.SearchInvitations(ctx, a.orgID(), directory.ListFilter{Q: d.InvQ, Page: directory.Page{After: cursor("inv_after"), Limit: pageSize}})
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d.Invitations = invs
	d.InvPage = pagerOn(path, others("inv_after"), "inv_after", cursor("inv_after"), invNext)
	d.InvPage.Label = "Pages of invitations"
	reqs, reqNext, err := c.store.SearchJoinRequests(ctx, a.orgID(), directory.ListFilter{Q: d.ReqQ, Page: directory.Page{After: cursor("req_after"), Limit: pageSize}})
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d.Requests = reqs
	d.ReqPage = pagerOn(path, others("req_after"), "req_after", cursor("req_after"), reqNext)
	d.ReqPage.Label = "Pages of join requests"
	c.render(w, r, status, "console/users", c.view(r, a, "users", "Users", d))
}

// keepQuery returns the named parameters of q.
func keepQuery(q url.Values, names ...string) url.Values {
	out := url.Values{}
	for _, n := range names {
		if v := q.Get(n); v != "" {
			out.Set(n, v)
		}
	}
	return out
}

// createInvitation is POST /admin/{org}/invitations: invite an email with a
// role and workspaces; the accept link is shown once, and mailed when mail
// is configured.
func (c *Console) createInvitation(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	f := r.PostForm
	refused := &refusedForm{Form: "invite", Values: keep(r, "email", "role", "workspaces", "workspace_role")}
	page := func(w http.ResponseWriter, r *http.Request, a *actor, status int, f *refusedForm) {
		c.usersPage(w, r, a, status, f, nil)
	}
	role := access.OrgRole(f.Get("role"))
	if !role.Valid() {
		c.refuseForm(w, r, a, &formError{http.StatusUnprocessableEntity, "Choose the role the invitation grants."}, refused, page)
		return
	}
	if !access.MayGrantOrgRole(a.pa.Member.Role, a.pa.Org.Settings.Access(), role) {
		c.refuseForm(w, r, a, &formError{http.StatusForbidden, "Your role cannot invite with role " + string(role) + "."}, refused, page)
		return
	}
	grants, err := c.workspaceGrants(r, a, &role)
	if err != nil {
		c.refuseForm(w, r, a, err, refused, page)
		return
	}
	inv, err := c.store.CreateInvitation(ctx, a.userID(), directory.NewInvitation{OrgID: a.orgID(), Email: strings.TrimSpace(f.Get("email")), Role: role, Workspaces: grants})
	if err != nil {
		c.refuseForm(w, r, a, err, refused, page)
		return
	}
	created := &createdInvitation{Invitation: inv, AcceptURL: c.acceptURL(inv), Mail: c.mailInvitation(r, a, inv)}
	c.showOnce(a, "Invitation for "+inv.Email+" created.", func(status int) { c.usersPage(w, r, a, status, nil, created) })
}

// workspaceGrants reads the workspaces a new invitation or service account
// joins: "workspaces", names separated by commas or spaces (at most 50),
// each resolved in the org, all with the role "workspace_role" (default
// member). When grantee is not nil each membership must pass
// access.MayGrantWorkspace for the actor (an invitation: the inviter may
// not be an admin). A refusal is a *formError or the directory's error.
func (c *Console) workspaceGrants(r *http.Request, a *actor, grantee *access.OrgRole) ([]directory.InvitationWorkspace, error) {
	f := r.PostForm
	wsRole := access.WorkspaceRole(f.Get("workspace_role"))
	if wsRole == "" {
		wsRole = access.WorkspaceMember
	}
	if !wsRole.Valid() {
		return nil, &formError{http.StatusUnprocessableEntity, `The workspace role must be "owner" or "member".`}
	}
	names := strings.FieldsFunc(f.Get("workspaces"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	if len(names) > 50 {
		return nil, &formError{http.StatusUnprocessableEntity, "Name at most 50 workspaces."}
	}
	var out []directory.InvitationWorkspace
	for _, n := range names {
		ws, err := c.store.GetWorkspace(r.Context(), a.orgID(), n)
		if err != nil {
			return nil, err
		}
		if grantee != nil && !access.MayGrantWorkspace(a.pa.Member.Role, a.membership(ws.ID), access.WorkspaceGrant{Grantee: *grantee, Membership: access.Membership{Role: wsRole}}) {
			return nil, &formError{http.StatusForbidden, "You cannot grant this membership of workspace " + ws.Name + "."}
		}
		out = append(out, directory.InvitationWorkspace{WorkspaceID: ws.ID, Role: wsRole})
	}
	return out, nil
}

func (c *Console) acceptURL(inv directory.Invitation) string {
	return c.issuer + "/invite/" + url.PathEscape(inv.ID)
}

// mailInvitation sends the invitation when mail is configured; a failure
// never loses the invitation.
func (c *Console) mailInvitation(r *http.Request, a *actor, inv directory.Invitation) string {
	if c.mailer == nil {
		return "not_configured"
	}
	inviter := a.pa.Member.Name
	if inviter == "" {
		inviter = a.pa.Member.Email
	}
	if err := c.mailer.SendInvitation(r.Context(), inv, a.pa.Org.Name, inviter, c.acceptURL(inv)); err != nil {
		c.log.WarnContext(r.Context(), "console: sending an invitation failed", "invitation", inv.ID, "err", err)
		return "failed"
	}
	return "sent"
}

// invitationPost is POST /admin/{org}/invitations/{id}/{revoke|resend}.
func (c *Console) invitationPost(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	back := c.adminPath(a, "users")
	inv, err := c.store.GetInvitation(ctx, a.orgID(), r.PathValue("id"))
	if err != nil {
		c.refused(w, r, back, err)
		return
	}
	switch r.PathValue("action") {
	case "revoke":
		if err := c.store.RevokeInvitation(ctx, a.userID(), a.orgID(), inv.ID); err != nil {
			c.refused(w, r, back, err)
			return
		}
		c.done(w, r, back, "Invitation for "+inv.Email+" revoked.")
	case "resend":
		if inv.State != directory.InvitationPending {
			c.setFlash(w, "error", "The invitation for "+inv.Email+" is "+string(inv.State)+": only a pending invitation can be sent again.")
			c.redirect(w, r, back)
			return
		}
		switch c.mailInvitation(r, a, inv) {
		case "sent":
			c.done(w, r, back, "Invitation for "+inv.Email+" sent again.")
		case "failed":
			c.setFlash(w, "error", "Sending the invitation for "+inv.Email+" failed; it is still pending. Send this link yourself: "+c.acceptURL(inv))
			c.redirect(w, r, back)
		default:
			c.setFlash(w, "error", "Mail is not configured. Send this link to "+inv.Email+" yourself: "+c.acceptURL(inv))
			c.redirect(w, r, back)
		}
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

// requestPost is POST /admin/{org}/requests/{id}/{approve|deny}.
func (c *Console) requestPost(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	back := c.adminPath(a, "users")
	id := r.PathValue("id")
	switch r.PathValue("action") {
	case "approve":
		m, err := c.store.ApproveJoinRequest(ctx, a.userID(), a.orgID(), id)
		if err != nil {
			c.refused(w, r, back, err)
			return
		}
		c.done(w, r, back, "Join request approved: "+display(m)+" is now a member ("+string(m.Role)+").")
	case "deny":
		if err := c.store.DenyJoinRequest(ctx, a.userID(), a.orgID(), id); err != nil {
			c.refused(w, r, back, err)
			return
		}
		c.done(w, r, back, "Join request denied.")
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

func display(m directory.Member) string {
	if m.Email != "" {
		return m.Email
	}
	if m.Name != "" {
		return m.Name
	}
	return m.PrincipalID
}

type memberData struct {
	Member     directory.Member
	Me         bool
	Workspaces []directory.WorkspaceMember
	Sessions   []session.Session
	Roles      []access.OrgRole
	Refused    *refusedForm
	Role       string
	// Add-to-workspace form values.
	WSName, WSRole string
}

// memberPage is GET /admin/{org}/users/{principal}: role, workspaces, active
// sessions.
func (c *Console) memberPage(w http.ResponseWriter, r *http.Request, a *actor) {
	c.memberView(w, r, a, http.StatusOK, nil)
}

func (c *Console) memberView(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *refusedForm) {
	ctx := r.Context()
	m, err := c.store.GetMember(ctx, a.orgID(), r.PathValue("principal"))
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := memberData{Member: m, Me: m.PrincipalID == a.userID(), Roles: access.OrgRoles(), Refused: refused, Role: string(m.Role),
		WSRole: string(access.WorkspaceMember)}
	if refused != nil {
		switch refused.Form {
		case "role":
			d.Role = refused.Values["role"]
		case "member":
			d.WSName, d.WSRole = refused.Values["workspace"], refused.Values["role"]
		}
	}
	if d.Workspaces, err = c.store.PrincipalWorkspaces(ctx, a.orgID(), m.PrincipalID); err != nil {
		c.storeError(w, r, a, err)
		return
	}
	if m.Type == directory.PrincipalUser {
		all, err := c.sessions.ListUserSessions(ctx, m.PrincipalID)
		if err != nil {
			c.storeError(w, r, a, err)
			return
		}
		for _, s := range all {
			if s.OrgID == a.orgID() {
				d.Sessions = append(d.Sessions, s)
			}
		}
	}
	c.render(w, r, status, "console/member", c.view(r, a, "users", display(m), d))
}

// memberPost is POST /admin/{org}/users/{principal}/{role|remove|signout|workspace}.
func (c *Console) memberPost(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	principal := r.PathValue("principal")
	page := c.adminPath(a, "users", principal)
	switch r.PathValue("action") {
	case "role":
		role := access.OrgRole(r.PostForm.Get("role"))
		refused := &refusedForm{Form: "role", Values: keep(r, "role")}
		if !role.Valid() {
			refused.Message = "Choose one of the four roles."
			c.memberView(w, r, a, http.StatusUnprocessableEntity, refused)
			return
		}
		if !access.MayGrantOrgRole(a.pa.Member.Role, a.pa.Org.Settings.Access(), role) {
			refused.Message = "Your role cannot grant role " + string(role) + "."
			c.memberView(w, r, a, http.StatusForbidden, refused)
			return
		}
		m, err := c.store.SetMemberRole(ctx, a.userID(), a.orgID(), principal, role, 0)
		if err != nil {
			c.refuseForm(w, r, a, err, refused, c.memberView)
			return
		}
		c.done(w, r, page, display(m)+" is now "+string(m.Role)+".")
	case "remove":
		m, err := c.store.GetMember(ctx, a.orgID(), principal)
		if err != nil {
			c.refused(w, r, c.adminPath(a, "users"), err)
			return
		}
		if err := c.store.RemoveMember(ctx, a.userID(), a.orgID(), principal); err != nil {
			c.refused(w, r, c.adminPath(a, "users"), err)
			return
		}
		if err := c.revokeSessions(r, principal); err != nil {
			c.setFlash(w, "error", display(m)+" was removed, but ending their sessions failed: use \"Sign out everywhere\" on their page or DELETE /api/v1/orgs/{org}/members/{user}/sessions.")
			c.redirect(w, r, c.adminPath(a, "users"))
			return
		}
		c.done(w, r, c.adminPath(a, "users"), display(m)+" was removed from the organization and signed out.")
	case "signout":
		m, err := c.store.GetMember(ctx, a.orgID(), principal)
		if err != nil {
			c.refused(w, r, c.adminPath(a, "users"), err)
			return
		}
		if err := c.revokeSessions(r, principal); err != nil {
			c.storeError(w, r, a, err)
			return
		}
		c.done(w, r, page, display(m)+" was signed out everywhere: their sessions and refresh tokens are ended.")
	case "workspace":
		ws, err := c.store.GetWorkspace(ctx, a.orgID(), strings.TrimSpace(r.PostForm.Get("workspace")))
		if err != nil {
			status, msg, ok := refusal(err)
			if !ok {
				c.storeError(w, r, a, err)
				return
			}
			c.memberView(w, r, a, status, &refusedForm{Form: "member", Message: sentence(msg), Values: keep(r, "workspace", "role", "can_invite", "can_make_public")})
			return
		}
		c.putWorkspaceMember(w, r, a, ws, principal, page, func(status int, f *refusedForm) {
			f.Values = keep(r, "workspace", "role", "can_invite", "can_make_public")
			c.memberView(w, r, a, status, f)
		})
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

// revokeSessions ends a user's browser sessions and refresh-token families
// (the admin API's SessionRevoker does the same).
func (c *Console) revokeSessions(r *http.Request, principal string) error {
	if directory.PrincipalTypeOf(principal) != directory.PrincipalUser {
		return nil
	}
	if _, err := c.sessions.RevokeUserSessions(r.Context(), principal); err != nil {
		return err
	}
	_, err := c.sessions.RevokeUserFamilies(r.Context(), principal)
	return err
}

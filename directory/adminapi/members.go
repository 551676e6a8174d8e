package adminapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// listMembers lists the org's members: any member may (decision 5).
func (a *API) listMembers(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.store.ListMembers(r.Context(), c.orgID(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// getMember shows one member, with its version as ETag (any member may).
func (a *API) getMember(w http.ResponseWriter, r *http.Request, c *caller) error {
	m, err := a.store.GetMember(r.Context(), c.orgID(), r.PathValue("user"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(m.Version))
	writeJSON(w, http.StatusOK, m)
	return nil
}

type memberPatch struct {
	Role *access.OrgRole `json:"role"`
}

// patchMember changes a member's org role (org.admin), honouring If-Match.
// The directory refuses a self change and demoting the last admin (409).
func (a *API) patchMember(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b memberPatch
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Role == nil {
		return invalidField("role", "role is required")
	}
	if !b.Role.Valid() {
		return invalidField("role", "role must be one of admin, platform_member, opik_member, view_only_platform_member")
	}
	if !access.MayGrantOrgRole(c.access.Member.Role, c.access.Org.Settings.Access(), *b.Role) {
		return errGrantBeyond(c.access.Member.Role, c.access.Org.Settings.Access(), *b.Role)
	}
	v, err := ifMatch(r)
	if err != nil {
		return err
	}
	m, err := a.store.SetMemberRole(r.Context(), c.subject, c.orgID(), r.PathValue("user"), *b.Role, v)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(m.Version))
	writeJSON(w, http.StatusOK, m)
	return nil
}

// deleteMember removes a user and their workspace memberships from the org
// (org.admin) and ends their sessions there.
func (a *API) deleteMember(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	user := r.PathValue("user")
	if err := a.store.RemoveMember(r.Context(), c.subject, c.orgID(), user); err != nil {
		return err
	}
	if err := a.revokeSessions(r, c, user); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// deleteMemberSessions ends a member's sessions and refresh tokens in the org
// (org.admin). Until the sign-in issue provides a SessionRevoker there are no
// sessions to end, and the answer is 204 all the same.
func (a *API) deleteMemberSessions(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	m, err := a.store.GetMember(r.Context(), c.orgID(), r.PathValue("user"))
	if err != nil {
		return err
	}
	if err := a.revokeSessions(r, c, m.PrincipalID); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (a *API) revokeSessions(r *http.Request, c *caller, user string) error {
	if a.sessions == nil || directory.PrincipalTypeOf(user) != directory.PrincipalUser {
		return nil
	}
	if err := a.sessions.RevokeUser(r.Context(), c.orgID(), user); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
			message: "ending the user's sessions failed; retry DELETE /api/v1/orgs/{org}/members/{user}/sessions", cause: err}
	}
	return nil
}

// listInvitations shows admins every invitation of the org, and members who
// may invite the invitations they made themselves.
func (a *API) listInvitations(w http.ResponseWriter, r *http.Request, c *caller) error {
	all := c.can(access.OrgAdmin, nil)
	if !all {
		if err := c.require(access.OrgInvite, nil); err != nil {
			return err
		}
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.store.ListInvitations(r.Context(), c.orgID(), p)
	if err != nil {
		return err
	}
	if !all {
		own := items[:0]
		for _, inv := range items {
			if inv.InvitedBy == c.subject {
				own = append(own, inv)
			}
		}
		items = own
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// maxInvitationSeconds is the longest validity of an invitation: 90 days.
const maxInvitationSeconds = 90 * 24 * 3600

// invitationBody is the body of POST /invitations.
type invitationBody struct {
	Email string          `json:"email"`
	Role  *access.OrgRole `json:"role"`
	// Workspaces are granted on acceptance; workspace_id takes an id or a name.
	Workspaces []directory.InvitationWorkspace `json:"workspaces"`
	// ExpiresIn is the validity in seconds; absent means 7 days.
	ExpiresIn *int64 `json:"expires_in"`
}

// createInvitation invites an email into the org (org.invite). A non-admin
// may invite only with a role whose permissions they hold themselves
// (access.MayGrantOrgRole), and into workspaces where they could add the
// invitee themselves (access.MayGrantWorkspace).
func (a *API) createInvitation(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgInvite, nil); err != nil {
		return err
	}
	var b invitationBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	role := c.access.Org.Settings.DefaultOrgRole
	if b.Role != nil {
		role = *b.Role
	}
	if !role.Valid() {
		return invalidField("role", "role must be one of admin, platform_member, opik_member, view_only_platform_member")
	}
	settings := c.access.Org.Settings.Access()
	if !access.MayGrantOrgRole(c.access.Member.Role, settings, role) {
		return errGrantBeyond(c.access.Member.Role, settings, role)
	}
	in := directory.NewInvitation{OrgID: c.orgID(), Email: strings.TrimSpace(b.Email), Role: role}
	if b.ExpiresIn != nil {
		// Bounded here as well as in the directory, so that no value can overflow a Duration.
		if *b.ExpiresIn <= 0 || *b.ExpiresIn > maxInvitationSeconds {
			return invalidField("expires_in", "expires_in must be from 1 second to 90 days (7776000 seconds)")
		}
		in.TTL = time.Duration(*b.ExpiresIn) * time.Second
	}
	for _, g := range b.Workspaces {
		if !g.Role.Valid() {
			return invalidField("workspaces", `a workspace role must be "owner" or "member"`)
		}
		ws, err := a.workspace(r, c, g.WorkspaceID)
		if err != nil {
			return err
		}
		perm := access.WorkspaceInvite
		if g.Role == access.WorkspaceOwner {
			perm = access.WorkspaceConfigure
		}
		if err := c.require(perm, &ws); err != nil {
			return err
		}
		if err := c.mayGrantWorkspace(&ws, access.WorkspaceGrant{Grantee: role, Membership: access.Membership{Role: g.Role}}); err != nil {
			return err
		}
		in.Workspaces = append(in.Workspaces, directory.InvitationWorkspace{WorkspaceID: ws.ID, Role: g.Role})
	}
	inv, err := a.store.CreateInvitation(r.Context(), c.subject, in)
	if err != nil {
		return err
	}
	// Mail goes after the commit: its failure never loses the invitation.
	a.writeInvitation(w, r, c, http.StatusCreated, inv)
	return nil
}

// revokeInvitation revokes a pending invitation: admins any, others their own (decision 6).
func (a *API) revokeInvitation(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	if !c.can(access.OrgAdmin, nil) {
		inv, err := a.store.GetInvitation(r.Context(), c.orgID(), id)
		if err != nil {
			return err
		}
		if inv.InvitedBy != c.subject {
			return forbidden("missing permission org.admin: only admins and the inviter may revoke an invitation")
		}
	}
	if err := a.store.RevokeInvitation(r.Context(), c.subject, c.orgID(), id); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// listJoinRequests lists join requests (org.admin).
func (a *API) listJoinRequests(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.store.ListJoinRequests(r.Context(), c.orgID(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// approveJoinRequest makes the requester a member with the org's default role (org.admin).
func (a *API) approveJoinRequest(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := noBody(w, r); err != nil {
		return err
	}
	m, err := a.store.ApproveJoinRequest(r.Context(), c.subject, c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// denyJoinRequest denies a pending join request (org.admin).
func (a *API) denyJoinRequest(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := noBody(w, r); err != nil {
		return err
	}
	if err := a.store.DenyJoinRequest(r.Context(), c.subject, c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// errGrantBeyond is the 403 of an org role the caller may not grant: it names
// the permissions the role holds that the caller does not.
func errGrantBeyond(granter access.OrgRole, s access.Settings, grant access.OrgRole) error {
	missing := access.Beyond(granter, grant, s)
	if missing == 0 {
		missing = access.Set(access.OrgInvite)
	}
	return forbidden("missing permission " + strings.Join(missing.Names(), ", ") + ": a " + string(granter) +
		" cannot grant the role " + string(grant) + ", which holds permissions they do not; ask an admin")
}

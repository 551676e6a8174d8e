package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

func (a *API) getOpenAPI(w http.ResponseWriter, _ *http.Request, _ *caller) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(a.openapi)
	return err
}

// meJSON is GET /api/v1/me.
type meJSON struct {
	Principal principalJSON `json:"principal"`
	// Org is the organization this credential acts in; Workspace the
	// workspace a narrowed token is limited to.
	Org       string      `json:"org"`
	Workspace string      `json:"workspace,omitempty"`
	Orgs      []meOrgJSON `json:"orgs"`
}

type principalJSON struct {
	ID    string                  `json:"id"`
	Type  directory.PrincipalType `json:"type"`
	Name  string                  `json:"name"`
	Email string                  `json:"email,omitempty"`
}

type meOrgJSON struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Role             access.OrgRole    `json:"role"`
	Current          bool              `json:"current"`
	Permissions      []string          `json:"permissions"`
	DefaultWorkspace string            `json:"default_workspace"`
	Workspaces       []meWorkspaceJSON `json:"workspaces"`
}

type meWorkspaceJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	access.Membership
	Permissions []string `json:"permissions"`
}

// getMe describes the caller, every org it belongs to with its role, and the
// workspaces it is an explicit member of (admins hold every workspace of
// their org without being listed, as in tokens). Permissions are computed
// only for the credential's org; other orgs need a credential of their own.
func (a *API) getMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	m := c.access.Member
	out := meJSON{
		Principal: principalJSON{ID: c.subject, Type: directory.PrincipalTypeOf(c.subject), Name: m.Name, Email: m.Email},
		Org:       c.orgID(), Workspace: c.narrowed, Orgs: []meOrgJSON{},
	}
	memberships, err := a.store.ListPrincipalOrgs(ctx, c.subject)
	if err != nil {
		return err
	}
	for _, om := range memberships {
		pa := c.access
		if om.OrgID != c.orgID() {
			if pa, err = a.store.PrincipalAccess(ctx, om.OrgID, c.subject); err != nil {
				if errors.Is(err, directory.ErrNotFound) {
					continue // left the org meanwhile
				}
				return err
			}
		}
		o := meOrgJSON{ID: pa.Org.ID, Name: pa.Org.Name, Role: pa.Member.Role, Current: pa.Org.ID == c.orgID(),
			Permissions: []string{}, DefaultWorkspace: pa.DefaultWorkspace.Name, Workspaces: []meWorkspaceJSON{}}
		if o.Current {
			o.Permissions = (c.permissions(nil) & orgScoped).Names()
		}
		for _, wm := range pa.Workspaces {
			mw := meWorkspaceJSON{ID: wm.WorkspaceID, Name: wm.WorkspaceName, Membership: wm.Membership, Permissions: []string{}}
			if o.Current {
				ws := directory.Workspace{ID: wm.WorkspaceID, Name: wm.WorkspaceName}
				mw.Permissions = (c.permissions(&ws) &^ orgScoped).Names()
			}
			o.Workspaces = append(o.Workspaces, mw)
		}
		out.Orgs = append(out.Orgs, o)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getOrg answers any member of the org, with the version as ETag.
func (a *API) getOrg(w http.ResponseWriter, r *http.Request, c *caller) error {
	o := c.access.Org
	w.Header().Set("ETag", etag(o.Version))
	if notModified(r, o.Version) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

// orgPatch is the body of PATCH /orgs/{org}. plan and plan_started_at are
// read-only: sending them is a 422, not a silent no-op.
type orgPatch struct {
	Name          *string          `json:"name"`
	Settings      *orgSettingPatch `json:"settings"`
	Plan          json.RawMessage  `json:"plan"`
	PlanStartedAt json.RawMessage  `json:"plan_started_at"`
}

type orgSettingPatch struct {
	OnlyAdminsCanInvite *bool              `json:"only_admins_can_invite"`
	JITMode             *directory.JITMode `json:"jit_mode"`
	DefaultOrgRole      *access.OrgRole    `json:"default_org_role"`
	// DefaultWorkspace may be sent back unchanged; changing it is
	// PUT …/workspaces/{ws}/default.
	DefaultWorkspace *string `json:"default_workspace"`
}

// patchOrg renames the org or changes its settings (org.admin), honouring If-Match.
func (a *API) patchOrg(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var p orgPatch
	if err := decode(w, r, &p, false); err != nil {
		return err
	}
	if p.Plan != nil {
		return invalidField("plan", "plan is read-only: it changes with the subscription, not through this API")
	}
	if p.PlanStartedAt != nil {
		return invalidField("plan_started_at", "plan_started_at is read-only")
	}
	v, err := ifMatch(r)
	if err != nil {
		return err
	}
	u := directory.OrgUpdate{Name: p.Name, IfVersion: v}
	if s := p.Settings; s != nil {
		if s.DefaultWorkspace != nil {
			cur := c.access.DefaultWorkspace
			if *s.DefaultWorkspace != cur.ID && *s.DefaultWorkspace != cur.Name {
				return invalidField("settings.default_workspace",
					"change the default workspace with PUT /api/v1/orgs/{org}/workspaces/{ws}/default")
			}
		}
		u.OnlyAdminsCanInvite, u.JITMode, u.DefaultOrgRole = s.OnlyAdminsCanInvite, s.JITMode, s.DefaultOrgRole
	}
	o, err := a.store.UpdateOrg(r.Context(), c.subject, c.orgID(), u)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(o.Version))
	writeJSON(w, http.StatusOK, o)
	return nil
}

// billingJSON is the billing overview of the seeds' Billing tab.
type billingJSON struct {
	Plan          directory.Plan `json:"plan"`
	PlanStartedAt time.Time      `json:"plan_started_at"`
	// Members counts human members; service accounts are counted apart.
	Members         int `json:"members"`
	Admins          int `json:"admins"`
	ServiceAccounts int `json:"service_accounts"`
	PendingRequests int `json:"pending_requests"`
}

// getBilling counts the org's members, admins and pending join requests (org.admin).
func (a *API) getBilling(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	n, err := a.store.CountMembers(r.Context(), c.orgID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, billingJSON{Plan: c.access.Org.Plan, PlanStartedAt: c.access.Org.PlanStartedAt,
		Members: n.Users, Admins: n.Admins, ServiceAccounts: n.ServiceAccounts, PendingRequests: n.PendingRequests})
	return nil
}

// isDefaultRef reports whether a workspace reference means "the org's default".
func isDefaultRef(ref string) bool { return strings.EqualFold(ref, "default") }

package adminapi

import (
	"net/http"
	"strconv"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// Everything about service accounts needs org.admin (docs/permissions.md, org table).

func (a *API) listServiceAccounts(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.store.ListServiceAccounts(r.Context(), c.orgID(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

// serviceAccountBody is the body of POST /service-accounts.
type serviceAccountBody struct {
	Name       string                          `json:"name"`
	Role       access.OrgRole                  `json:"role"`
	Workspaces []directory.InvitationWorkspace `json:"workspaces"`
}

// createServiceAccount creates a service account with an org role and
// workspace memberships; its keys are created with POST …/keys.
func (a *API) createServiceAccount(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b serviceAccountBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	in := directory.NewServiceAccount{OrgID: c.orgID(), Name: b.Name, Role: b.Role}
	for _, g := range b.Workspaces {
		ws, err := a.workspace(r, c, g.WorkspaceID)
		if err != nil {
			return err
		}
		in.Workspaces = append(in.Workspaces, directory.InvitationWorkspace{WorkspaceID: ws.ID, Role: g.Role})
	}
	sa, err := a.store.CreateServiceAccount(r.Context(), c.subject, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sa)
	return nil
}

type serviceAccountPatch struct {
	Name *string `json:"name"`
}

// patchServiceAccount renames a service account; its role changes through
// PATCH …/members/{id} like any member's.
func (a *API) patchServiceAccount(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	var b serviceAccountPatch
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Name == nil {
		return invalidField("name", "name is required")
	}
	sa, err := a.store.RenameServiceAccount(r.Context(), c.subject, c.orgID(), r.PathValue("id"), *b.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sa)
	return nil
}

// deleteServiceAccount deletes the account, its memberships and keys; its
// keys stop working at once.
func (a *API) deleteServiceAccount(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := a.store.DeleteServiceAccount(r.Context(), c.subject, c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// listAPIKeys lists an account's keys by prefix, creation and last use; never secrets.
func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	keys, err := a.store.ListAPIKeys(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(keys, ""))
	return nil
}

// createdKeyJSON is a new key with its secret, which is shown this once.
type createdKeyJSON struct {
	directory.APIKey
	Secret string `json:"secret"`
}

// createAPIKey creates a key; several may live at once, for rotation.
func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := noBody(w, r); err != nil {
		return err
	}
	k, secret, err := a.store.CreateAPIKey(r.Context(), c.subject, c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orgs/"+c.orgID()+"/service-accounts/"+k.ServiceAccountID+"/keys/"+k.ID)
	writeJSON(w, http.StatusCreated, createdKeyJSON{APIKey: k, Secret: secret})
	return nil
}

// revokeAccountAPIKey revokes a key of the named account; idempotent.
func (a *API) revokeAccountAPIKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	keys, err := a.store.ListAPIKeys(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	id := r.PathValue("key")
	for _, k := range keys {
		if k.ID == id {
			if err := a.store.RevokeAPIKey(r.Context(), c.subject, c.orgID(), id); err != nil {
				return err
			}
			writeNoContent(w)
			return nil
		}
	}
	return notFound("API key " + strconv.Quote(id) + " not found")
}

// revokeAPIKey revokes a key of any account of the org, by key id alone; idempotent.
func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if err := a.store.RevokeAPIKey(r.Context(), c.subject, c.orgID(), r.PathValue("key")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

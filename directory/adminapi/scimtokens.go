package adminapi

import (
	"context"
	"net/http"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// SCIMTokenStore keeps the SCIM bearer tokens of each org (docs/scim.md).
// *directory.SQLStore satisfies it; a Store without it answers 501 on the
// /scim-tokens routes.
type SCIMTokenStore interface {
	CreateSCIMToken(ctx context.Context, actor, orgID, name string) (directory.SCIMToken, string, error)
	ListSCIMTokens(ctx context.Context, orgID string) ([]directory.SCIMToken, error)
	RevokeSCIMToken(ctx context.Context, actor, orgID, id string) error
}

// scimTokenCreated is a new SCIM token with its secret, shown once.
type scimTokenCreated struct {
	directory.SCIMToken
	Token string `json:"token"`
}

type scimTokenBody struct {
	Name string `json:"name"`
}

// Every SCIM token route needs org.admin.
func (a *API) scimTokenStore(c *caller) (SCIMTokenStore, error) {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return nil, err
	}
	s, ok := a.store.(SCIMTokenStore)
	if !ok {
		return nil, &apiError{status: http.StatusNotImplemented, code: "not_implemented", message: "SCIM tokens are not available on this server"}
	}
	return s, nil
}

func (a *API) listSCIMTokens(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.scimTokenStore(c)
	if err != nil {
		return err
	}
	items, err := s.ListSCIMTokens(r.Context(), c.orgID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, ""))
	return nil
}

func (a *API) createSCIMToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.scimTokenStore(c)
	if err != nil {
		return err
	}
	var b scimTokenBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	if len(b.Name) > 100 || hasControl(b.Name) {
		return invalidField("name", "name must be at most 100 characters")
	}
	t, secret, err := s.CreateSCIMToken(r.Context(), c.subject, c.orgID(), b.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, scimTokenCreated{SCIMToken: t, Token: secret})
	return nil
}

func (a *API) revokeSCIMToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.scimTokenStore(c)
	if err != nil {
		return err
	}
	if err := s.RevokeSCIMToken(r.Context(), c.subject, c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

package adminapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// SAML SP key rotation (docs/operations.md, "Rotating a SAML connection's
// SP key"):
//
//	GET  /api/v1/orgs/{org}/connections/{id}/sp-keys          the current, next and previous SP certificates
//	POST /api/v1/orgs/{org}/connections/{id}/sp-keys/rotate   {"step": "publish" | "activate" | "retire"}
//
// The connector package owns the steps (idp/saml/spkeys.go); this file
// reads the connection, has the step taken, and stores the result with a
// compare-and-swap on the configuration it read, audited as
// connection.sp_key.<step>. The CLI (`ssobroker admin connection
// sp-key-rotate`) and the console call RotateSPKey too.

// SPKeyRotator takes the steps of an SP key rotation (idp.Configurator).
type SPKeyRotator interface {
	RotateSPKey(ctx context.Context, conn directory.Connection, step string) ([]byte, directory.SPKeys, error)
	SPKeys(conn directory.Connection) (directory.SPKeys, error)
}

// SPKeyStore reads a connection and swaps its configuration
// (*directory.SQLStore).
type SPKeyStore interface {
	GetConnection(ctx context.Context, orgID, id string) (directory.Connection, error)
	SwapConnectionConfig(ctx context.Context, actor, orgID, id string, before, after []byte, action string, detail map[string]any) (directory.Connection, error)
}

// errNoRotation answers when the deployment cannot rotate SP keys.
var errNoRotation = errors.New("SP key rotation is not available on this server")

// RotateSPKey takes one step of the rotation of the SP key of connection id
// of org orgID, as actor.
func RotateSPKey(ctx context.Context, store SPKeyStore, rot SPKeyRotator, actor, orgID, id, step string) (directory.SPKeys, error) {
	conn, err := store.GetConnection(ctx, orgID, id)
	if err != nil {
		return directory.SPKeys{}, err
	}
	after, keys, err := rot.RotateSPKey(ctx, conn, step)
	if err != nil {
		return directory.SPKeys{}, err
	}
	detail := map[string]any{"step": step, "current_sha256": keys.Current.SHA256}
	if keys.Next != nil {
		detail["next_sha256"] = keys.Next.SHA256
	}
	if keys.Previous != nil {
		detail["previous_sha256"] = keys.Previous.SHA256
	}
	if _, err := store.SwapConnectionConfig(ctx, actor, orgID, conn.ID, conn.Config, after, "connection.sp_key."+step, detail); err != nil {
		return directory.SPKeys{}, err
	}
	return keys, nil
}

// RotateSPKey is RotateSPKey with this API's store and configurator (the
// console's path).
func (a *API) RotateSPKey(ctx context.Context, actor, orgID, id, step string) (directory.SPKeys, error) {
	store, rot, err := a.spKeyParts()
	if err != nil {
		return directory.SPKeys{}, err
	}
	return RotateSPKey(ctx, store, rot, actor, orgID, id, step)
}

func (a *API) spKeyParts() (SPKeyStore, SPKeyRotator, error) {
	store, ok := a.store.(SPKeyStore)
	rot, ok2 := a.conns.(SPKeyRotator)
	if !ok || !ok2 {
		return nil, nil, &apiError{status: http.StatusNotImplemented, code: "not_implemented", message: errNoRotation.Error()}
	}
	return store, rot, nil
}

func (a *API) getSPKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	conn, err := a.store.GetConnection(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	_, rot, err := a.spKeyParts()
	if err != nil {
		return err
	}
	keys, err := rot.SPKeys(conn)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keys)
	return nil
}

// spKeyStep is the body of POST …/sp-keys/rotate.
type spKeyStep struct {
	Step string `json:"step"`
}

func (a *API) rotateSPKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	if _, err := a.store.GetConnection(r.Context(), c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	var b spKeyStep
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	keys, err := a.RotateSPKey(r.Context(), c.subject, c.orgID(), r.PathValue("id"), b.Step)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keys)
	return nil
}

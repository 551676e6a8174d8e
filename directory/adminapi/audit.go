package adminapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// auditJSON is an audit entry with its before and after states as JSON.
type auditJSON struct {
	ID     int64           `json:"id"`
	OrgID  string          `json:"org_id"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	At     time.Time       `json:"at"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	if !json.Valid([]byte(s)) {
		b, _ := json.Marshal(s)
		return b
	}
	return json.RawMessage(s)
}

// listAudit lists the org's audit log, newest first (org.admin), filtered by
// ?since= (RFC 3339), ?actor= and ?action=.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := directory.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Page: p}
	if len(f.Actor) > 200 || len(f.Action) > 200 {
		return invalidField("actor", "actor and action must be at most 200 characters")
	}
	if s := q.Get("since"); s != "" {
		if f.Since, err = time.Parse(time.RFC3339, s); err != nil {
			return invalidField("since", "since must be an RFC 3339 time such as 2025-01-31T12:00:00Z")
		}
	}
	events, next, err := a.store.ListAudit(r.Context(), c.orgID(), f)
	if err != nil {
		return err
	}
	out := make([]auditJSON, 0, len(events))
	for _, e := range events {
		out = append(out, auditJSON{ID: e.ID, OrgID: e.OrgID, Actor: e.Actor, Action: e.Action, Target: e.Target, At: e.At,
			Before: rawJSON(e.Before), After: rawJSON(e.After)})
	}
	writeJSON(w, http.StatusOK, newList(out, next))
	return nil
}

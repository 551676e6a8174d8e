package adminapi

import (
	"context"
	"net/http"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// WebhookService manages an org's webhooks (docs/webhooks.md): it checks
// URLs and event types and makes the signing secret, which CreateWebhook
// returns once. *webhooks.Admin satisfies it; without one the /webhooks
// routes answer 501.
type WebhookService interface {
	CreateWebhook(ctx context.Context, actor, orgID string, in directory.NewWebhook) (directory.Webhook, string, error)
	GetWebhook(ctx context.Context, orgID, id string) (directory.Webhook, error)
	ListWebhooks(ctx context.Context, orgID string) ([]directory.Webhook, error)
	UpdateWebhook(ctx context.Context, actor, orgID, id string, u directory.WebhookUpdate) (directory.Webhook, error)
	DeleteWebhook(ctx context.Context, actor, orgID, id string) error
	ListWebhookDeliveries(ctx context.Context, orgID, id string, p directory.Page) ([]directory.WebhookDelivery, string, error)
	RetryWebhookDelivery(ctx context.Context, actor, orgID, id, did string) (directory.WebhookDelivery, error)
}

// webhookCreated is a new webhook with its signing secret, shown once.
type webhookCreated struct {
	directory.Webhook
	Secret string `json:"secret"`
}

type webhookBody struct {
	URL         *string  `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description *string  `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

// Every webhook route needs org.admin.
func (a *API) webhookService(c *caller) (WebhookService, error) {
	if err := c.require(access.OrgAdmin, nil); err != nil {
		return nil, err
	}
	if a.webhooks == nil {
		return nil, &apiError{status: http.StatusNotImplemented, code: "not_implemented", message: "webhooks are not available on this server"}
	}
	return a.webhooks, nil
}

func checkWebhookBody(b webhookBody) error {
	if b.Description != nil && (len(*b.Description) > directory.MaxWebhookDescriptionLn || hasControl(*b.Description)) {
		return invalidField("description", "description must be at most 200 characters without control characters")
	}
	if b.URL != nil && hasControl(*b.URL) {
		return invalidField("url", "url must not contain control characters")
	}
	if len(b.EventTypes) > directory.MaxWebhookEventTypes {
		return invalidField("event_types", "at most 32 event types")
	}
	return nil
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.webhookService(c)
	if err != nil {
		return err
	}
	items, err := s.ListWebhooks(r.Context(), c.orgID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, ""))
	return nil
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.webhookService(c)
	if err != nil {
		return err
	}
	var b webhookBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if err := checkWebhookBody(b); err != nil {
		return err
	}
	if b.URL == nil {
		return invalidField("url", "url is required")
	}
	in := directory.NewWebhook{URL: *b.URL, EventTypes: b.EventTypes, Enabled: b.Enabled}
	if b.Description != nil {
		in.Description = *b.Description
	}
	hook, secret, err := s.CreateWebhook(r.Context(), c.subject, c.orgID(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, webhookCreated{Webhook: hook, Secret: secret})
	return nil
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.webhookService(c)
	if err != nil {
		return err
	}
	hook, err := s.GetWebhook(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hook)
	return nil
}

func (a *API) patchWebhook(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.webhookService(c)
	if err != nil {
		return err
	}
	// An empty body changes nothing (and still answers 404 for an
	// unknown webhook).
	var b webhookBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	if err := checkWebhookBody(b); err != nil {
		return err
	}
	hook, err := s.UpdateWebhook(r.Context(), c.subject, c.orgID(), r.PathValue("id"),
		directory.WebhookUpdate{URL: b.URL, EventTypes: b.EventTypes, Description: b.Description, Enabled: b.Enabled})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hook)
	return nil
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.webhookService(c)
	if err != nil {
		return err
	}
	if err := s.DeleteWebhook(r.Context(), c.subject, c.orgID(), r.PathValue("id")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (a *API) listWebhookDeliveries(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.webhookService(c)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := s.ListWebhookDeliveries(r.Context(), c.orgID(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (a *API) retryWebhookDelivery(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := a.webhookService(c)
	if err != nil {
		return err
	}
	if err := noBody(w, r); err != nil {
		return err
	}
	d, err := s.RetryWebhookDelivery(r.Context(), c.subject, c.orgID(), r.PathValue("id"), r.PathValue("did"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, d)
	return nil
}

// webhookOpenAPIPaths are the webhook routes of the OpenAPI document.
func webhookOpenAPIPaths(o, admin string) map[string]map[string]op {
	return map[string]map[string]op{
		o + "/webhooks": {
			"get":  {id: "listWebhooks", summary: "Webhooks of the org (docs/webhooks.md); secrets are never returned", perm: admin, status: 200, resp: "WebhookList"},
			"post": {id: "createWebhook", summary: "Create a webhook; its signing secret (whsec_…) is in this answer only", perm: admin, body: "WebhookCreate", status: 201, resp: "WebhookCreated"},
		},
		o + "/webhooks/{id}": {
			"get":    {id: "getWebhook", summary: "A webhook", perm: admin, status: 200, resp: "Webhook"},
			"patch":  {id: "patchWebhook", summary: "Change a webhook's URL, event types, description or enabled flag", perm: admin, body: "WebhookPatch", optionalBody: true, status: 200, resp: "Webhook"},
			"delete": {id: "deleteWebhook", summary: "Delete a webhook and its delivery log", perm: admin, status: 204},
		},
		o + "/webhooks/{id}/deliveries":             {"get": {id: "listWebhookDeliveries", summary: "The webhook's delivery log, newest event first", perm: admin, query: []string{"cursor", "limit"}, status: 200, resp: "WebhookDeliveryList"}},
		o + "/webhooks/{id}/deliveries/{did}/retry": {"post": {id: "retryWebhookDelivery", summary: "Send a delivery again now (a failed one gets one more attempt)", perm: admin, body: "Empty", optionalBody: true, status: 202, resp: "WebhookDelivery"}},
	}
}

// webhookOpenAPISchemas are the webhook schemas of the OpenAPI document.
func webhookOpenAPISchemas() map[string]any {
	events := describe(arr(str()), `Event types: user.provisioned, user.deprovisioned, member.removed, role.changed, connection.changed, key.rotated, setup_link.used, signin.failed, certificate.expiring; "*" for all of them; "audit.*" (or "audit.<action>") for the audit stream`)
	hook := func() map[string]any {
		return map[string]any{"id": str(), "org_id": str(), "url": str(), "event_types": events, "description": str(),
			"enabled": boolean(), "created_by": str(), "created_at": dateTime(), "updated_at": dateTime()}
	}
	created := hook()
	created["secret"] = describe(str(), "whsec_<base64>: the Standard Webhooks signing secret, shown once; stored sealed")
	fields := func() map[string]any {
		return map[string]any{"url": describe(str(), "https URL (http only when the operator allows private upstreams); reached through the same address policy as IdP fetches"),
			"event_types": events, "description": str(), "enabled": describe(boolean(), "Default true; enabling again starts from now")}
	}
	return map[string]any{
		"Webhook":        object(hook()),
		"WebhookList":    listOf("Webhook"),
		"WebhookCreated": object(created, "secret"),
		"WebhookCreate":  input(fields(), "url", "event_types"),
		"WebhookPatch":   input(fields()),
		"WebhookDelivery": object(map[string]any{"id": describe(str(), "msg_…: the webhook-id header, the same on every attempt"),
			"webhook_id": str(), "audit_id": describe(integer(), "The audit row the event comes from"), "event_type": str(),
			"status": enum("pending", "delivered", "failed"), "attempts": integer(),
			"last_status_code": describe(integer(), "HTTP status of the last answer"),
			"last_error":       describe(str(), "Class of the last failure: status, timeout, connect, tls, blocked, network, secret"),
			"created_at":       dateTime(), "next_attempt_at": dateTime(), "last_attempt_at": nullableTime(), "delivered_at": nullableTime()}),
		"WebhookDeliveryList": listOf("WebhookDelivery"),
	}
}

// withSchemas adds more to schemas and returns it.
func withSchemas(schemas, more map[string]any) map[string]any {
	for k, v := range more {
		schemas[k] = v
	}
	return schemas
}

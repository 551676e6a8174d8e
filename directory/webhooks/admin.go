package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
)

// AdminStore is what Admin needs of the directory; *directory.SQLStore
// satisfies it.
type AdminStore interface {
	CreateWebhook(ctx context.Context, actor string, w directory.Webhook) (directory.Webhook, error)
	GetWebhook(ctx context.Context, orgID, id string) (directory.Webhook, error)
	ListWebhooks(ctx context.Context, orgID string) ([]directory.Webhook, error)
	UpdateWebhook(ctx context.Context, actor, orgID, id string, u directory.WebhookUpdate) (directory.Webhook, error)
	DeleteWebhook(ctx context.Context, actor, orgID, id string) error
	ListWebhookDeliveries(ctx context.Context, orgID, id string, p directory.Page) ([]directory.WebhookDelivery, string, error)
	RetryWebhookDelivery(ctx context.Context, actor, orgID, id, did string) (directory.WebhookDelivery, error)
}

// Sealer seals secrets at rest (*secretbox.Box satisfies it).
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
}

// AdminConfig is what NewAdmin needs; Store and Sealer are required.
type AdminConfig struct {
	Store  AdminStore
	Sealer Sealer
	// AllowHTTP accepts http:// URLs; the wiring sets it when the operator
	// lets the broker reach private addresses (SSOBROKER_ALLOW_PRIVATE_IDP).
	// Otherwise only https is accepted.
	AllowHTTP bool
}

// Admin manages an org's webhooks: it checks URLs and event types, makes
// and seals signing secrets, and hands the rest to the directory. The admin
// API uses it.
type Admin struct {
	store     AdminStore
	sealer    Sealer
	allowHTTP bool
}

// NewAdmin returns an Admin, or an error when a required field is missing.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	if cfg.Store == nil || cfg.Sealer == nil {
		return nil, errors.New("webhooks: AdminConfig.Store and Sealer are required")
	}
	return &Admin{store: cfg.Store, sealer: cfg.Sealer, allowHTTP: cfg.AllowHTTP}, nil
}

// CheckURL is the rule for a delivery URL: absolute, without user info or
// fragment, at most directory.MaxWebhookURLLen bytes, https (or http when
// allowHTTP). Where it may point is the delivery client's address policy.
func CheckURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > directory.MaxWebhookURLLen {
		return &directory.InvalidError{Field: "url", Message: "url must be an absolute URL without user info or fragment, at most 2048 bytes"}
	}
	if u.Scheme == "https" || (u.Scheme == "http" && allowHTTP) {
		return nil
	}
	if u.Scheme == "http" {
		return &directory.InvalidError{Field: "url", Message: "url must use https (this server does not allow http endpoints)"}
	}
	return &directory.InvalidError{Field: "url", Message: "url must use https"}
}

func checkTypes(types []string) error {
	if len(types) == 0 || len(types) > directory.MaxWebhookEventTypes {
		return &directory.InvalidError{Field: "event_types", Message: fmt.Sprintf("event_types needs 1 to %d event types", directory.MaxWebhookEventTypes)}
	}
	seen := map[string]bool{}
	for _, t := range types {
		if len(t) > directory.MaxWebhookEventTypeLen || !ValidSubscription(t) || strings.ContainsAny(t, " \t\r\n") {
			return &directory.InvalidError{Field: "event_types", Message: fmt.Sprintf("%q is not an event type; use %s, %q, %q or %q followed by an audit action",
				clip(t), strings.Join(KnownEventTypes(), ", "), All, AllAudit, AuditPrefix)}
		}
		if seen[t] {
			return &directory.InvalidError{Field: "event_types", Message: fmt.Sprintf("%q is listed twice", clip(t))}
		}
		seen[t] = true
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// CreateWebhook creates a webhook for orgID and returns it with its signing
// secret, which is shown this once and stored only sealed.
func (a *Admin) CreateWebhook(ctx context.Context, actor, orgID string, in directory.NewWebhook) (directory.Webhook, string, error) {
	if err := CheckURL(in.URL, a.allowHTTP); err != nil {
		return directory.Webhook{}, "", err
	}
	if err := checkTypes(in.EventTypes); err != nil {
		return directory.Webhook{}, "", err
	}
	w := directory.Webhook{ID: directory.NewWebhookID(), OrgID: orgID, URL: in.URL, EventTypes: in.EventTypes,
		Description: in.Description, Enabled: in.Enabled == nil || *in.Enabled}
	secret := NewSecret()
	sealed, err := a.sealer.Seal([]byte(secret), []byte(w.ID))
	if err != nil {
		return directory.Webhook{}, "", fmt.Errorf("webhooks: seal secret: %w", err)
	}
	w.SealedSecret = sealed
	w, err = a.store.CreateWebhook(ctx, actor, w)
	if err != nil {
		return directory.Webhook{}, "", err
	}
	return w, secret, nil
}

// GetWebhook returns the org's webhook id.
func (a *Admin) GetWebhook(ctx context.Context, orgID, id string) (directory.Webhook, error) {
	return a.store.GetWebhook(ctx, orgID, id)
}

// ListWebhooks returns the org's webhooks.
func (a *Admin) ListWebhooks(ctx context.Context, orgID string) ([]directory.Webhook, error) {
	return a.store.ListWebhooks(ctx, orgID)
}

// UpdateWebhook checks and applies u to the org's webhook id.
func (a *Admin) UpdateWebhook(ctx context.Context, actor, orgID, id string, u directory.WebhookUpdate) (directory.Webhook, error) {
	if u.URL != nil {
		if err := CheckURL(*u.URL, a.allowHTTP); err != nil {
			return directory.Webhook{}, err
		}
	}
	if u.EventTypes != nil {
		if err := checkTypes(u.EventTypes); err != nil {
			return directory.Webhook{}, err
		}
	}
	return a.store.UpdateWebhook(ctx, actor, orgID, id, u)
}

// DeleteWebhook removes the org's webhook id and its delivery log.
func (a *Admin) DeleteWebhook(ctx context.Context, actor, orgID, id string) error {
	return a.store.DeleteWebhook(ctx, actor, orgID, id)
}

// ListWebhookDeliveries returns a page of the webhook's delivery log.
func (a *Admin) ListWebhookDeliveries(ctx context.Context, orgID, id string, p directory.Page) ([]directory.WebhookDelivery, string, error) {
	return a.store.ListWebhookDeliveries(ctx, orgID, id, p)
}

// RetryWebhookDelivery makes a delivery due now.
func (a *Admin) RetryWebhookDelivery(ctx context.Context, actor, orgID, id, did string) (directory.WebhookDelivery, error) {
	return a.store.RetryWebhookDelivery(ctx, actor, orgID, id, did)
}

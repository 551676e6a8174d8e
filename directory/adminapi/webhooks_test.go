package adminapi

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/webhooks"
)

func newWebhookAdmin(t testing.TB, s *directory.SQLStore, sealer webhooks.Sealer) WebhookService {
	t.Helper()
	a, err := webhooks.NewAdmin(webhooks.AdminConfig{Store: s, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newWebhook creates a webhook of orgID subscribed to the audit stream.
func (f *fixture) newWebhook(orgID string) string {
	f.t.Helper()
	w, _, err := f.api.webhooks.CreateWebhook(f.ctx, "system:test", orgID,
		directory.NewWebhook{URL: "https://hooks.example.com/in", EventTypes: []string{"audit.*"}})
	f.must(err)
	return w.ID
}

// newWebhookDelivery creates a webhook of orgID, a change it receives, and
// its delivery (the fan-out the worker would do).
func (f *fixture) newWebhookDelivery(orgID string) (string, string) {
	f.t.Helper()
	id := f.newWebhook(orgID)
	_, err := f.store.CreateWorkspace(f.ctx, "system:test", orgID, fmt.Sprintf("hook-%d", f.next()), "")
	f.must(err)
	// On PostgreSQL the fan-out reads only changes below the cluster's
	// transaction horizon (docs/webhooks.md), which any open transaction
	// elsewhere in the database (another package's test) holds back: fan out
	// again, as the worker would, until the change is below it, within a bound.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = f.store.FanOutWebhookEvents(f.ctx, webhooks.Derive, 100)
		f.must(err)
		ds, _, err := f.store.ListWebhookDeliveries(f.ctx, orgID, id, directory.Page{})
		f.must(err)
		if len(ds) > 0 {
			return id, ds[0].ID
		}
		if time.Now().After(deadline) {
			f.t.Fatal("no delivery 30 s after a change")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// foreignWebhookDelivery is one webhook of org B with a delivery, made once.
func (f *fixture) foreignWebhookDelivery() (string, string) {
	if f.ids["b-webhook"] == "" {
		f.ids["b-webhook"], f.ids["b-delivery"] = f.newWebhookDelivery(f.b.org.ID)
	}
	return f.ids["b-webhook"], f.ids["b-delivery"]
}

// sharedWebhook is one webhook of org A for the read-only matrix cases.
func (f *fixture) sharedWebhook() string {
	if f.ids["a-webhook"] == "" {
		f.ids["a-webhook"] = f.newWebhook(f.orgA.ID)
	}
	return f.ids["a-webhook"]
}

// webhookCase is a matrix setup on a webhook of org A (a fresh one for
// DELETE), at suffix (a body for PATCH, a sub-path for GET).
func webhookCase(suffixOrBody string) func(*fixture, string) (string, string) {
	return func(f *fixture, _ string) (string, string) {
		p := f.pathA("/webhooks/" + f.sharedWebhook())
		if strings.HasPrefix(suffixOrBody, "/") {
			return p + suffixOrBody, ""
		}
		return p, suffixOrBody
	}
}

func webhookRetryCase(f *fixture, _ string) (string, string) {
	if f.ids["a-delivery"] == "" {
		f.ids["a-webhook-r"], f.ids["a-delivery"] = f.newWebhookDelivery(f.orgA.ID)
	}
	id, did := f.ids["a-webhook-r"], f.ids["a-delivery"]
	return f.pathA("/webhooks/" + id + "/deliveries/" + did + "/retry"), ""
}

// TestWebhooks: an admin creates a webhook (secret shown once as whsec_…),
// reads and lists it without the secret, is refused bad URLs and event
// types, sees its delivery log, retries a delivery, and cannot reach
// another org's webhook.
func TestWebhooks(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cAdmin, "POST", f.pathA("/webhooks"), `{"url":"https://siem.example.com/collect","event_types":["audit.*","user.provisioned"],"description":"SIEM"}`)
		if r.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Code, r.Body.String())
		}
		body := r.Body.String()
		secret, id := jsonField(t, body, "secret"), jsonField(t, body, "id")
		if !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(id, "whk_") {
			t.Fatalf("created: %s", body)
		}
		for _, path := range []string{"/webhooks", "/webhooks/" + id} {
			g := f.as(cAdmin, "GET", f.pathA(path), "")
			if g.Code != http.StatusOK || !strings.Contains(g.Body.String(), id) || strings.Contains(g.Body.String(), secret) ||
				strings.Contains(g.Body.String(), strings.TrimPrefix(secret, "whsec_")) {
				t.Fatalf("GET %s: %d %s", path, g.Code, g.Body.String())
			}
		}
		for _, c := range []struct{ body, field string }{
			{`{"url":"http://siem.example.com/x","event_types":["*"]}`, "url"},
			{`{"url":"https://siem.example.com/x","event_types":["nope"]}`, "event_types"},
			{`{"url":"https://siem.example.com/x","event_types":[]}`, "event_types"},
			{`{"event_types":["*"]}`, "url"},
		} {
			r := f.as(cAdmin, "POST", f.pathA("/webhooks"), c.body)
			if _, _, field := r.errorCode(t); r.Code != http.StatusUnprocessableEntity || field != c.field {
				t.Fatalf("%s: %d %s, want 422 on %s", c.body, r.Code, r.Body.String(), c.field)
			}
		}
		if r := f.as(cAdmin, "PATCH", f.pathA("/webhooks/"+id), `{"url":"ftp://x.example.com/"}`); r.Code != http.StatusUnprocessableEntity {
			t.Fatalf("patch with a bad URL: %d %s", r.Code, r.Body.String())
		}
		hook, did := f.newWebhookDelivery(f.orgA.ID)
		l := f.as(cAdmin, "GET", f.pathA("/webhooks/"+hook+"/deliveries"), "")
		if l.Code != http.StatusOK || !strings.Contains(l.Body.String(), did) || !strings.Contains(l.Body.String(), `"event_type":"audit.workspace.create"`) {
			t.Fatalf("deliveries: %d %s", l.Code, l.Body.String())
		}
		if r := f.as(cAdmin, "POST", f.pathA("/webhooks/"+hook+"/deliveries/"+did+"/retry"), ""); r.Code != http.StatusAccepted || jsonField(t, r.Body.String(), "status") != "pending" {
			t.Fatalf("retry: %d %s", r.Code, r.Body.String())
		}
		if r := f.as(cAdmin, "POST", f.pathA("/webhooks/"+hook+"/deliveries/msg_nope/retry"), ""); r.Code != http.StatusNotFound {
			t.Fatalf("retry of an unknown delivery: %d %s", r.Code, r.Body.String())
		}
		// Org B's admin sees none of org A's webhooks.
		other, _, err := f.api.webhooks.CreateWebhook(f.ctx, "system:test", f.b.org.ID, directory.NewWebhook{URL: "https://b.example.com/", EventTypes: []string{"*"}})
		f.must(err)
		for _, m := range []struct{ method, path string }{
			{"GET", "/webhooks/" + other.ID}, {"PATCH", "/webhooks/" + other.ID}, {"DELETE", "/webhooks/" + other.ID},
			{"GET", "/webhooks/" + other.ID + "/deliveries"},
		} {
			body := ""
			if m.method == "PATCH" {
				body = `{"enabled":false}`
			}
			if r := f.as(cAdmin, m.method, f.pathA(m.path), body); r.Code != http.StatusNotFound {
				t.Fatalf("%s %s of another org's webhook: %d %s", m.method, m.path, r.Code, r.Body.String())
			}
		}
		if d := f.as(cAdmin, "DELETE", f.pathA("/webhooks/"+id), ""); d.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", d.Code, d.Body.String())
		}
	})
}

// The webhook schemas of the OpenAPI document match the Go types.
func TestWebhookOpenAPISchemas(t *testing.T) {
	schemas := servedDocument(t)["components"].(map[string]any)["schemas"].(map[string]any)
	for _, c := range []struct {
		schema []string
		typ    any
	}{
		{[]string{"Webhook"}, directory.Webhook{}},
		{[]string{"WebhookCreated"}, webhookCreated{}},
		{[]string{"WebhookCreate"}, webhookBody{}},
		{[]string{"WebhookPatch"}, webhookBody{}},
		{[]string{"WebhookDelivery"}, directory.WebhookDelivery{}},
	} {
		s, ok := schemas[c.schema[0]].(map[string]any)
		if !ok {
			t.Fatalf("no schema %s", c.schema[0])
		}
		if got, want := schemaFields(s), jsonFields(reflect.TypeOf(c.typ)); !slices.Equal(got, want) {
			t.Errorf("schema %s has %v; the Go type has %v", strings.Join(c.schema, "."), got, want)
		}
	}
}

// freshWebhookCase is a matrix setup on a new webhook of org A (for DELETE).
func freshWebhookCase(f *fixture, _ string) (string, string) {
	return f.pathA("/webhooks/" + f.newWebhook(f.orgA.ID)), ""
}

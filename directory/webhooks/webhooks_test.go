package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/webhooks"
)

func TestEventMapping(t *testing.T) {
	cases := []struct {
		name string
		e    directory.AuditEvent
		want []string
	}{
		{"a user added by an admin is provisioned", directory.AuditEvent{OrgID: "org_1", Action: "member.add", Target: "usr_1"}, []string{webhooks.UserProvisioned}},
		{"a service account added is not a user", directory.AuditEvent{OrgID: "org_1", Action: "member.add", Target: "sa_1"}, nil},
		{"just-in-time provisioning", directory.AuditEvent{OrgID: "org_1", Action: "member.jit", Target: "usr_1"}, []string{webhooks.UserProvisioned}},
		{"an accepted invitation", directory.AuditEvent{OrgID: "org_1", Action: "invitation.accept", Actor: "usr_1", Target: "inv_1"}, []string{webhooks.UserProvisioned}},
		{"a removed user is deprovisioned and removed", directory.AuditEvent{OrgID: "org_1", Action: "member.remove", Target: "usr_1"}, []string{webhooks.UserDeprovisioned, webhooks.MemberRemoved}},
		{"a removed service account is only removed", directory.AuditEvent{OrgID: "org_1", Action: "member.remove", Target: "sa_1"}, []string{webhooks.MemberRemoved}},
		{"a deleted service account is removed", directory.AuditEvent{OrgID: "org_1", Action: "service_account.delete", Target: "sa_1"}, []string{webhooks.MemberRemoved}},
		{"a role set by an admin", directory.AuditEvent{OrgID: "org_1", Action: "member.role", Target: "usr_1"}, []string{webhooks.RoleChanged}},
		{"a role synced from groups", directory.AuditEvent{OrgID: "org_1", Action: "member.role.sync", Target: "usr_1"}, []string{webhooks.RoleChanged}},
		{"a connection changed through a setup link", directory.AuditEvent{OrgID: "org_1", Action: "connection.update", Actor: "setup_link:sl_1", Target: "conn_1"}, []string{webhooks.ConnectionChanged, webhooks.SetupLinkUsed}},
		{"a signing key activated", directory.AuditEvent{OrgID: "", Action: "signing_key.active", Target: "kid"}, []string{webhooks.KeyRotated}},
		{"other deployment rows are nobody's", directory.AuditEvent{OrgID: "", Action: "user.create", Target: "usr_1"}, nil},
		{"aggregated sign-in failures", directory.AuditEvent{OrgID: "org_1", Action: "signin.failed", Actor: "system", Target: "conn_1"}, []string{webhooks.SignInFailed}},
		{"an expiring certificate", directory.AuditEvent{OrgID: "org_1", Action: "certificate.expiring", Actor: "system", Target: "conn_1"}, []string{webhooks.CertificateExpiring}},
		{"a workspace rename is only in the audit stream", directory.AuditEvent{OrgID: "org_1", Action: "workspace.rename", Target: "ws_1"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := webhooks.EventTypes(c.e); !slices.Equal(got, c.want) {
				t.Fatalf("EventTypes = %v, want %v", got, c.want)
			}
		})
	}
	w := directory.Webhook{OrgID: "org_1", EventTypes: []string{"audit.*", webhooks.RoleChanged}}
	if got := webhooks.Derive(w, directory.AuditEvent{OrgID: "org_1", Action: "member.role", Target: "usr_1"}); !slices.Equal(got, []string{webhooks.RoleChanged, "audit.member.role"}) {
		t.Fatalf("Derive = %v", got)
	}
	if got := webhooks.Derive(w, directory.AuditEvent{OrgID: "org_2", Action: "member.role", Target: "usr_1"}); got != nil {
		t.Fatalf("another org's row reached the webhook: %v", got)
	}
	if got := webhooks.Derive(w, directory.AuditEvent{OrgID: "", Action: "signing_key.active"}); got != nil {
		t.Fatalf("the audit stream carries deployment rows: %v", got)
	}
}

func TestSignatureVerifiedByStandardWebhooks(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			box := newBox(t)
			rc := newReceiver(t, nil)
			admin, err := webhooks.NewAdmin(webhooks.AdminConfig{Store: s, Sealer: box, AllowHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			org := newOrg(t, s)
			ctx := context.Background()
			w, secret, err := admin.CreateWebhook(ctx, "usr_admin", org, directory.NewWebhook{URL: rc.URL + "/hook", EventTypes: []string{"*", "audit.*"}})
			if err != nil {
				t.Fatal(err)
			}
			runWorker(t, webhooks.WorkerConfig{Store: s, Secrets: box, Client: &http.Client{}, Changes: s, Poll: 50 * time.Millisecond})
			changeMembers(t, s, org, 1)
			// user.provisioned, role.changed, user.deprovisioned, member.removed
			// and the three audit rows (member.add, member.role, member.remove).
			waitFor(t, 20*time.Second, "7 deliveries", func() bool { return len(rc.distinct()) >= 7 })
			types := map[string]int{}
			var msgs []signed
			for _, m := range rc.distinct() {
				var p webhooks.Payload
				if err := json.Unmarshal(m.Body, &p); err != nil {
					t.Fatalf("body %s: %v", m.Body, err)
				}
				if p.Data.OrgID != org {
					t.Fatalf("event of org %s delivered to a webhook of %s", p.Data.OrgID, org)
				}
				types[p.Type]++
				msgs = append(msgs, toSigned(t, secret, m, true))
			}
			for _, want := range []string{webhooks.UserProvisioned, webhooks.RoleChanged, webhooks.UserDeprovisioned, webhooks.MemberRemoved,
				"audit.member.add", "audit.member.role", "audit.member.remove"} {
				if types[want] != 1 {
					t.Fatalf("got %v, want one %s", types, want)
				}
			}
			if len(types) != 7 {
				t.Fatalf("unexpected events: %v (events before the webhook existed, or its own audit row, must not be sent)", types)
			}
			// The verifier must be able to refuse: a changed body, another
			// secret and another id are each refused.
			bad := msgs[0]
			tampered := bad
			tampered.BodyBase64 = "e30=" // {}
			tampered.ExpectValid = false
			other := bad
			other.Secret = webhooks.NewSecret()
			other.ExpectValid = false
			moved := bad
			moved.ID = "msg_other"
			moved.ExpectValid = false
			verifyWithNode(t, append(msgs, tampered, other, moved))

			// The delivery log says delivered, once each.
			ds, _, err := admin.ListWebhookDeliveries(ctx, org, w.ID, directory.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 7 {
				t.Fatalf("delivery log has %d entries, want 7", len(ds))
			}
			for _, d := range ds {
				if d.Status != directory.DeliveryDelivered || d.Attempts != 1 || d.LastStatusCode != http.StatusNoContent || d.DeliveredAt == nil {
					t.Fatalf("delivery %+v, want delivered at the first attempt", d)
				}
			}
		})
	}
}

func TestRetriesWithBackoffThenDelivered(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			box := newBox(t)
			// 500, 500, then 200.
			rc := newReceiver(t, func(_ message, n int) int {
				if n <= 2 {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			})
			admin, _ := webhooks.NewAdmin(webhooks.AdminConfig{Store: s, Sealer: box, AllowHTTP: true})
			org := newOrg(t, s)
			ctx := context.Background()
			w, secret, err := admin.CreateWebhook(ctx, "usr_admin", org, directory.NewWebhook{URL: rc.URL, EventTypes: []string{webhooks.RoleChanged}})
			if err != nil {
				t.Fatal(err)
			}
			backoff := func(n int) time.Duration { return time.Duration(200<<(n-1)) * time.Millisecond }
			runWorker(t, webhooks.WorkerConfig{Store: s, Secrets: box, Client: &http.Client{}, Changes: s, Poll: 20 * time.Millisecond, Backoff: backoff})
			changeMembers(t, s, org, 1)
			waitFor(t, 20*time.Second, "three attempts", func() bool { return len(rc.messages()) >= 3 })
			got := rc.messages()
			for i := 1; i < 3; i++ {
				if got[i].ID != got[0].ID {
					t.Fatalf("attempt %d has webhook-id %s, the first had %s: the id must be stable", i+1, got[i].ID, got[0].ID)
				}
				if gap := got[i].At.Sub(got[i-1].At); gap < backoff(i) {
					t.Fatalf("attempt %d came %s after the previous one, before its backoff of %s", i+1, gap, backoff(i))
				}
			}
			var d directory.WebhookDelivery
			waitFor(t, 10*time.Second, "the delivery log to say delivered", func() bool {
				ds, _, err := admin.ListWebhookDeliveries(ctx, org, w.ID, directory.Page{})
				if err != nil || len(ds) != 1 {
					return false
				}
				d = ds[0]
				return d.Status == directory.DeliveryDelivered
			})
			if d.Attempts != 3 || d.LastStatusCode != http.StatusOK || d.EventType != webhooks.RoleChanged || d.ID != got[0].ID {
				t.Fatalf("delivery %+v, want role.changed delivered at attempt 3 with 200 under id %s", d, got[0].ID)
			}
			msgs := []signed{}
			for _, m := range got {
				msgs = append(msgs, toSigned(t, secret, m, true))
			}
			verifyWithNode(t, msgs)
		})
	}
}

func TestFailedAfterRetryWindowThenManualRetry(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			box := newBox(t)
			var up atomic.Bool
			rc := newReceiver(t, func(message, int) int {
				if up.Load() {
					return http.StatusOK
				}
				return http.StatusServiceUnavailable
			})
			admin, _ := webhooks.NewAdmin(webhooks.AdminConfig{Store: s, Sealer: box, AllowHTTP: true})
			org := newOrg(t, s)
			ctx := context.Background()
			w, _, err := admin.CreateWebhook(ctx, "usr_admin", org, directory.NewWebhook{URL: rc.URL, EventTypes: []string{webhooks.MemberRemoved}})
			if err != nil {
				t.Fatal(err)
			}
			runWorker(t, webhooks.WorkerConfig{Store: s, Secrets: box, Client: &http.Client{}, Changes: s, Poll: 20 * time.Millisecond,
				RetryFor: 300 * time.Millisecond, Backoff: func(int) time.Duration { return 50 * time.Millisecond }})
			changeMembers(t, s, org, 1)
			var d directory.WebhookDelivery
			waitFor(t, 20*time.Second, "the delivery to fail", func() bool {
				ds, _, err := admin.ListWebhookDeliveries(ctx, org, w.ID, directory.Page{})
				if err != nil || len(ds) != 1 {
					return false
				}
				d = ds[0]
				return d.Status == directory.DeliveryFailed
			})
			if d.Attempts < 2 || d.LastStatusCode != http.StatusServiceUnavailable || d.LastError != "status" {
				t.Fatalf("failed delivery %+v, want several attempts ending in 503", d)
			}
			before := len(rc.messages())
			time.Sleep(200 * time.Millisecond)
			if n := len(rc.messages()); n != before {
				t.Fatalf("a failed delivery was sent again (%d → %d) without a manual retry", before, n)
			}
			up.Store(true)
			if _, err := admin.RetryWebhookDelivery(ctx, "usr_admin", org, w.ID, d.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, "the manual retry to deliver", func() bool {
				ds, _, err := admin.ListWebhookDeliveries(ctx, org, w.ID, directory.Page{})
				return err == nil && len(ds) == 1 && ds[0].Status == directory.DeliveryDelivered
			})
			if _, err := admin.RetryWebhookDelivery(ctx, "usr_admin", newOrg(t, s), w.ID, d.ID); !errors.Is(err, directory.ErrNotFound) {
				t.Fatalf("another org retried the delivery: %v", err)
			}
		})
	}
}

func TestAdminRefusesBadInput(t *testing.T) {
	s := directorytest.SQLite(t)
	box := newBox(t)
	strict, _ := webhooks.NewAdmin(webhooks.AdminConfig{Store: s, Sealer: box})
	org := newOrg(t, s)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		in   directory.NewWebhook
	}{
		{"http when the operator did not allow it", directory.NewWebhook{URL: "http://hooks.example.com/x", EventTypes: []string{"*"}}},
		{"user info", directory.NewWebhook{URL: "https://u:p@hooks.example.com/x", EventTypes: []string{"*"}}},
		{"not absolute", directory.NewWebhook{URL: "/x", EventTypes: []string{"*"}}},
		{"other scheme", directory.NewWebhook{URL: "file:///etc/passwd", EventTypes: []string{"*"}}},
		{"no event types", directory.NewWebhook{URL: "https://hooks.example.com/x"}},
		{"unknown event type", directory.NewWebhook{URL: "https://hooks.example.com/x", EventTypes: []string{"user.exploded"}}},
		{"bare audit prefix", directory.NewWebhook{URL: "https://hooks.example.com/x", EventTypes: []string{"audit."}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := strict.CreateWebhook(ctx, "usr_admin", org, c.in); !errors.Is(err, directory.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
	w, secret, err := strict.CreateWebhook(ctx, "usr_admin", org, directory.NewWebhook{URL: "https://hooks.example.com/x", EventTypes: []string{"audit.member.role", "*"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 40 || secret[:6] != "whsec_" {
		t.Fatalf("secret %q is not whsec_<base64 of 32 bytes>", secret)
	}
	if string(w.SealedSecret) == secret || len(w.SealedSecret) == 0 {
		t.Fatal("the secret is stored unsealed")
	}
	if _, err := strict.GetWebhook(ctx, newOrg(t, s), w.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("another org read the webhook: %v", err)
	}
}

// Package webhooks delivers an organization's directory and security events
// to its HTTP endpoints, signed per the Standard Webhooks scheme, at least
// once (docs/webhooks.md).
//
// The audit log is the outbox. Every change writes its audit row in the
// transaction that makes it, so an event can neither be lost nor invented;
// this package derives events from committed audit rows (EventTypes, the one
// mapping table), and a Worker on every replica turns them into deliveries,
// claims due deliveries through the database (so each is sent by one
// replica), sends them with the HTTP client it is given, and retries with
// exponential backoff and jitter. Admin manages webhooks for the admin API.
package webhooks

import (
	"encoding/json"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
)

// Event types a webhook can subscribe to.
const (
	// UserProvisioned: a user became a member of the org (admin API,
	// invitation accepted, just-in-time at sign-in, SCIM activation).
	UserProvisioned = "user.provisioned"
	// UserDeprovisioned: a user stopped being a member (removed by an admin,
	// SCIM deactivation or deletion).
	UserDeprovisioned = "user.deprovisioned"
	// MemberRemoved: a principal (user or service account) left the org.
	MemberRemoved = "member.removed"
	// RoleChanged: a member's org role changed (by an admin, or synced from
	// the IdP's groups at sign-in or over SCIM).
	RoleChanged = "role.changed"
	// ConnectionChanged: an upstream connection was created, changed or
	// deleted.
	ConnectionChanged = "connection.changed"
	// KeyRotated: a new token signing key became active (the deployment's
	// keys, so every org's webhooks may receive it).
	KeyRotated = "key.rotated"
	// SetupLinkUsed: a change was made through a setup link.
	SetupLinkUsed = "setup_link.used"
	// SignInFailed: sign-ins through a connection failed for one reason;
	// at most one event per connection and reason per window, carrying the
	// count (FailureAggregator; the audit action directory.ActionSignInFailed).
	SignInFailed = "signin.failed"
	// CertificateExpiring: a SAML connection's IdP signing certificate or SP
	// certificate expires within a threshold (30 or 7 days by default); one
	// event per certificate and threshold (saml.ExpiryCheck; the audit
	// action directory.ActionCertificateExpiring).
	CertificateExpiring = "certificate.expiring"
)

// AuditPrefix starts the type of every audit-stream event: the audit row
// with action A is delivered as "audit.A" to a webhook subscribed to
// "audit.*" (or to that exact type).
const AuditPrefix = "audit."

// Wildcards: All is every event type above, AllAudit is the audit stream.
const (
	All      = "*"
	AllAudit = "audit.*"
)

// KnownEventTypes lists the event types above, for validation and the docs.
func KnownEventTypes() []string {
	return []string{UserProvisioned, UserDeprovisioned, MemberRemoved, RoleChanged, ConnectionChanged,
		KeyRotated, SetupLinkUsed, SignInFailed, CertificateExpiring}
}

// EventTypes is the mapping table: the event types an audit row stands for,
// apart from the audit stream. Rows of the deployment (org "") count only
// for key rotation.
func EventTypes(e directory.AuditEvent) []string {
	if e.OrgID == "" {
		if e.Action == "signing_key.active" {
			return []string{KeyRotated}
		}
		return nil
	}
	var out []string
	user := strings.HasPrefix(e.Target, "usr_")
	switch e.Action {
	case "member.add", "member.jit":
		if user {
			out = append(out, UserProvisioned)
		}
	case "invitation.accept":
		out = append(out, UserProvisioned)
	case "member.remove":
		if user {
			out = append(out, UserDeprovisioned)
		}
		out = append(out, MemberRemoved)
	case "service_account.delete":
		// A service account leaves an org only by being deleted
		// (directory.RemoveMember refuses it), and is a member until then.
		out = append(out, MemberRemoved)
	case "member.role", "member.role.sync":
		out = append(out, RoleChanged)
	case "connection.create", "connection.update", "connection.delete":
		out = append(out, ConnectionChanged)
	case directory.ActionSignInFailed:
		out = append(out, SignInFailed)
	case directory.ActionCertificateExpiring:
		out = append(out, CertificateExpiring)
	}
	if strings.HasPrefix(e.Actor, "setup_link:") {
		out = append(out, SetupLinkUsed)
	}
	return out
}

// ValidSubscription reports whether t may appear in a webhook's event
// types: a known type, a wildcard, or an audit-stream type.
func ValidSubscription(t string) bool {
	if t == All || t == AllAudit {
		return true
	}
	if strings.HasPrefix(t, AuditPrefix) {
		return len(t) > len(AuditPrefix)
	}
	for _, n := range KnownEventTypes() {
		if t == n {
			return true
		}
	}
	return false
}

// Derive returns the event types of audit row e that webhook w receives:
// its subscribed types among EventTypes(e), and the audit-stream type when
// it subscribes to the stream and the row is its org's own.
func Derive(w directory.Webhook, e directory.AuditEvent) []string {
	if e.OrgID != "" && e.OrgID != w.OrgID {
		return nil
	}
	subs := map[string]bool{}
	for _, t := range w.EventTypes {
		subs[t] = true
	}
	var out []string
	for _, t := range EventTypes(e) {
		if subs[All] || subs[t] {
			out = append(out, t)
		}
	}
	if e.OrgID == w.OrgID {
		if a := AuditPrefix + e.Action; subs[AllAudit] || subs[a] {
			out = append(out, a)
		}
	}
	return out
}

// Payload is the JSON body of a delivery, in the Standard Webhooks shape.
type Payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      Data   `json:"data"`
}

// Data is the audit row an event comes from.
type Data struct {
	// AuditID is the audit row's id; with the event type it identifies the
	// event (the webhook-id header is derived from both).
	AuditID int64           `json:"audit_id"`
	OrgID   string          `json:"org_id"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Target  string          `json:"target"`
	User    string          `json:"user,omitempty"`
	Before  json.RawMessage `json:"before,omitempty"`
	After   json.RawMessage `json:"after,omitempty"`
}

// Body returns the delivery body of e as eventType. It is the same on every
// attempt: the timestamp is the audit row's, not the send time.
func Body(eventType string, e directory.AuditEvent) ([]byte, error) {
	d := Data{AuditID: e.ID, OrgID: e.OrgID, Actor: e.Actor, Action: e.Action, Target: e.Target,
		Before: rawJSON(e.Before), After: rawJSON(e.After)}
	switch {
	case strings.HasPrefix(e.Target, "usr_"):
		d.User = e.Target
	case e.Action == "invitation.accept" && strings.HasPrefix(e.Actor, "usr_"):
		d.User = e.Actor
	}
	return json.Marshal(Payload{Type: eventType, Timestamp: e.At.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Data: d})
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

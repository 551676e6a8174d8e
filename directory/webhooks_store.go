package directory

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Webhooks (docs/webhooks.md). The audit log is the outbox: every change
// writes its audit row in the transaction that makes it, so an event can
// neither be lost nor invented. A webhook's cursor says how far its org's
// audit rows have been turned into deliveries; a delivery is sent, retried
// and recorded by whichever replica holds its lease.

// Webhook is an org's HTTP endpoint and the event types it receives.
type Webhook struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id"`
	URL         string    `json:"url"`
	EventTypes  []string  `json:"event_types"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// SealedSecret is the signing secret sealed for the webhook's id; it
	// never leaves the server.
	SealedSecret []byte `json:"-"`
}

// WebhookUpdate changes the fields that are not nil.
type WebhookUpdate struct {
	URL         *string
	EventTypes  []string // nil: unchanged
	Description *string
	Enabled     *bool
}

// DeliveryStatus is where a delivery is: pending (waiting for its next
// attempt), delivered (a 2xx answer) or failed (retries exhausted).
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// WebhookDelivery is one event for one webhook. Its ID is the webhook-id
// header, the same on every attempt, so a receiver can drop duplicates.
type WebhookDelivery struct {
	ID             string         `json:"id"`
	WebhookID      string         `json:"webhook_id"`
	AuditID        int64          `json:"audit_id"`
	EventType      string         `json:"event_type"`
	Status         DeliveryStatus `json:"status"`
	Attempts       int            `json:"attempts"`
	LastStatusCode int            `json:"last_status_code,omitempty"`
	LastError      string         `json:"last_error,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	NextAttemptAt  time.Time      `json:"next_attempt_at"`
	LastAttemptAt  *time.Time     `json:"last_attempt_at,omitempty"`
	DeliveredAt    *time.Time     `json:"delivered_at,omitempty"`
}

// WebhookJob is a claimed delivery with what sending it needs.
type WebhookJob struct {
	Delivery     WebhookDelivery
	OrgID        string
	URL          string
	SealedSecret []byte
	Event        AuditEvent
}

// WebhookClaim asks for due deliveries. Owner names the claiming worker;
// Busy counts the deliveries it is already sending per webhook, and no
// webhook gets more than PerWebhook at once, so one slow endpoint cannot
// take every sender.
type WebhookClaim struct {
	Owner      string
	Now        time.Time
	Lease      time.Duration
	Limit      int
	PerWebhook int
	Busy       map[string]int
}

// WebhookAttempt is the outcome of one attempt, as the worker decided it.
type WebhookAttempt struct {
	At            time.Time
	Status        DeliveryStatus
	StatusCode    int
	ErrorClass    string
	NextAttemptAt time.Time
}

// Bounds of webhook input.
const (
	MaxWebhooksPerOrg       = 20
	MaxWebhookURLLen        = 2048
	MaxWebhookEventTypes    = 32
	MaxWebhookEventTypeLen  = 64
	MaxWebhookDescriptionLn = 200
)

// NewWebhookID returns a fresh webhook id ("whk_…"); the caller seals the
// secret for it before CreateWebhook.
func NewWebhookID() string { return newID("whk") }

// deliveryID is the stable id of the delivery of audit row auditID as
// eventType to webhookID.
func deliveryID(webhookID string, auditID int64, eventType string) string {
	h := sha256.Sum256([]byte(webhookID + "\x00" + strconv.FormatInt(auditID, 10) + "\x00" + eventType))
	return "msg_" + encodeBase62(h[:16])
}

// The engine-specific pieces of the webhook queries.
func (s *SQLStore) txHorizon() string {
	if s.pg != nil {
		// Every transaction with a smaller id has finished.
		return `pg_snapshot_xmin(pg_current_snapshot())::text::bigint`
	}
	return `9223372036854775807`
}

// startCursor is the cursor position of "now": after every row visible to
// the current transaction, and (on PostgreSQL) after the rows of this very
// transaction.
func (s *SQLStore) startCursor() (txid, auditID string) {
	if s.pg != nil {
		return `pg_current_xact_id()::text::bigint`, `9223372036854775807`
	}
	return `0`, `(SELECT coalesce(max(id), 0) FROM audit_log)`
}

func (s *SQLStore) skipLocked() string {
	if s.pg != nil {
		return ` FOR UPDATE SKIP LOCKED`
	}
	return ``
}

const webhookCols = `id, org_id, url, secret_sealed, event_types, description, enabled, created_by, created_at, updated_at`

func scanWebhook(r row) (Webhook, error) {
	var w Webhook
	var types string
	var created, updated int64
	err := r.Scan(&w.ID, &w.OrgID, &w.URL, &w.SealedSecret, &types, &w.Description, &w.Enabled, &w.CreatedBy, &created, &updated)
	w.EventTypes = strings.Fields(types)
	w.CreatedAt, w.UpdatedAt = fromTS(created), fromTS(updated)
	return w, err
}

const deliveryCols = `id, webhook_id, audit_id, event_type, status, attempts, last_status_code, last_error, created_at, next_attempt_at, last_attempt_at, delivered_at`

func scanDelivery(r row) (WebhookDelivery, error) {
	var d WebhookDelivery
	var status string
	var created, next int64
	var last, delivered *int64
	err := r.Scan(&d.ID, &d.WebhookID, &d.AuditID, &d.EventType, &status, &d.Attempts, &d.LastStatusCode, &d.LastError,
		&created, &next, &last, &delivered)
	d.Status = DeliveryStatus(status)
	d.CreatedAt, d.NextAttemptAt = fromTS(created), fromTS(next)
	d.LastAttemptAt, d.DeliveredAt = fromNullTS(last), fromNullTS(delivered)
	return d, err
}

func checkWebhookFields(url string, types []string, description string) error {
	if url == "" || len(url) > MaxWebhookURLLen {
		return invalid("url", "url is required and at most %d bytes", MaxWebhookURLLen)
	}
	if len(types) == 0 || len(types) > MaxWebhookEventTypes {
		return invalid("event_types", "event_types needs 1 to %d event types", MaxWebhookEventTypes)
	}
	for _, t := range types {
		if t == "" || len(t) > MaxWebhookEventTypeLen || strings.ContainsAny(t, " \t\r\n") {
			return invalid("event_types", "an event type is 1 to %d characters without spaces", MaxWebhookEventTypeLen)
		}
	}
	if len(description) > MaxWebhookDescriptionLn {
		return invalid("description", "description must be at most %d bytes", MaxWebhookDescriptionLn)
	}
	return nil
}

// webhookAudit is what the audit log keeps of a webhook (never its secret).
func webhookAudit(w Webhook) map[string]any {
	return map[string]any{"url": w.URL, "event_types": w.EventTypes, "enabled": w.Enabled}
}

// CreateWebhook stores w (ID from NewWebhookID, SealedSecret set) for its
// org; it receives the events committed from now on. It fails with
// ErrInvalid on bad fields and ErrConflict beyond MaxWebhooksPerOrg.
func (s *SQLStore) CreateWebhook(ctx context.Context, actor string, w Webhook) (Webhook, error) {
	if !strings.HasPrefix(w.ID, "whk_") || len(w.SealedSecret) == 0 {
		return Webhook{}, invalid("id", "a webhook needs an id from NewWebhookID and a sealed secret")
	}
	if err := checkWebhookFields(w.URL, w.EventTypes, w.Description); err != nil {
		return Webhook{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	w.CreatedAt, w.UpdatedAt, w.CreatedBy = now, now, actor
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, w.OrgID); err != nil {
			return err
		}
		var n int
		if err := q.queryRow(ctx, `SELECT count(*) FROM webhooks WHERE org_id = $1`, w.OrgID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxWebhooksPerOrg {
			return conflict("an organization has at most %d webhooks", MaxWebhooksPerOrg)
		}
		if _, err := q.exec(ctx, `INSERT INTO webhooks (`+webhookCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			w.ID, w.OrgID, w.URL, w.SealedSecret, strings.Join(w.EventTypes, " "), w.Description, w.Enabled, actor, ts(now), ts(now)); err != nil {
			if isUnique(err) {
				return conflict("webhook %s already exists", w.ID)
			}
			return err
		}
		if err := audit(ctx, q, w.OrgID, actor, "webhook.create", w.ID, nil, webhookAudit(w)); err != nil {
			return err
		}
		tx, id := s.startCursor()
		_, err := q.exec(ctx, `INSERT INTO webhook_cursors (webhook_id, txid, audit_id) VALUES ($1, `+tx+`, `+id+`)`, w.ID)
		return err
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// GetWebhook returns the org's webhook id, or ErrNotFound.
func (s *SQLStore) GetWebhook(ctx context.Context, orgID, id string) (Webhook, error) {
	return getWebhook(ctx, s.db, orgID, id)
}

func getWebhook(ctx context.Context, q querier, orgID, id string) (Webhook, error) {
	w, err := scanWebhook(q.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE org_id = $1 AND id = $2`, orgID, id))
	if err == errNoRows {
		return Webhook{}, notFound("webhook", id)
	}
	return w, err
}

// ListWebhooks returns the org's webhooks (at most MaxWebhooksPerOrg).
func (s *SQLStore) ListWebhooks(ctx context.Context, orgID string) ([]Webhook, error) {
	r, err := s.db.query(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanWebhook)
}

// UpdateWebhook changes the org's webhook id. Enabling a disabled webhook
// moves its cursor to now: it does not receive what happened while it was
// off.
func (s *SQLStore) UpdateWebhook(ctx context.Context, actor, orgID, id string, u WebhookUpdate) (Webhook, error) {
	var out Webhook
	err := s.mutate(ctx, func(q querier) error {
		cur, err := scanWebhook(q.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
		if err == errNoRows {
			return notFound("webhook", id)
		}
		if err != nil {
			return err
		}
		next := cur
		if u.URL != nil {
			next.URL = *u.URL
		}
		if u.EventTypes != nil {
			next.EventTypes = u.EventTypes
		}
		if u.Description != nil {
			next.Description = *u.Description
		}
		if u.Enabled != nil {
			next.Enabled = *u.Enabled
		}
		if err := checkWebhookFields(next.URL, next.EventTypes, next.Description); err != nil {
			return err
		}
		next.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		if _, err := q.exec(ctx, `UPDATE webhooks SET url = $1, event_types = $2, description = $3, enabled = $4, updated_at = $5 WHERE id = $6`,
			next.URL, strings.Join(next.EventTypes, " "), next.Description, next.Enabled, ts(next.UpdatedAt), id); err != nil {
			return err
		}
		if next.Enabled && !cur.Enabled {
			tx, aid := s.startCursor()
			if _, err := q.exec(ctx, `UPDATE webhook_cursors SET txid = `+tx+`, audit_id = `+aid+` WHERE webhook_id = $1`, id); err != nil {
				return err
			}
		}
		out = next
		return audit(ctx, q, orgID, actor, "webhook.update", id, webhookAudit(cur), webhookAudit(next))
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("update webhook: %w", err)
	}
	return out, nil
}

// DeleteWebhook removes the org's webhook id and its deliveries.
func (s *SQLStore) DeleteWebhook(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		cur, err := getWebhook(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		for _, stmt := range []string{
			`DELETE FROM webhook_deliveries WHERE webhook_id = $1`,
			`DELETE FROM webhook_cursors WHERE webhook_id = $1`,
			`DELETE FROM webhooks WHERE id = $1`,
		} {
			if _, err := q.exec(ctx, stmt, id); err != nil {
				return err
			}
		}
		return audit(ctx, q, orgID, actor, "webhook.delete", id, webhookAudit(cur), nil)
	})
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// ListWebhookDeliveries returns the deliveries of the org's webhook id, the
// newest event first.
func (s *SQLStore) ListWebhookDeliveries(ctx context.Context, orgID, id string, p Page) ([]WebhookDelivery, string, error) {
	if _, err := getWebhook(ctx, s.db, orgID, id); err != nil {
		return nil, "", err
	}
	limit := limitOf(p)
	qs := `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE webhook_id = $1`
	args := []any{id}
	if p.After != "" {
		auditPart, idPart, ok := strings.Cut(p.After, ".")
		after, err := strconv.ParseInt(auditPart, 10, 64)
		if !ok || err != nil || len(idPart) > 64 {
			return nil, "", invalid("cursor", "malformed cursor")
		}
		args = append(args, after, idPart)
		qs += ` AND (audit_id < $2 OR (audit_id = $2 AND id < $3))`
	}
	args = append(args, limit)
	qs += fmt.Sprintf(` ORDER BY audit_id DESC, id DESC LIMIT $%d`, len(args))
	r, err := s.db.query(ctx, qs, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(r, scanDelivery)
	if err != nil || len(out) == 0 {
		return out, "", err
	}
	last := out[len(out)-1]
	return out, nextCursor(len(out), limit, fmt.Sprintf("%d.%s", last.AuditID, last.ID)), nil
}

// RetryWebhookDelivery makes delivery did of the org's webhook id due now,
// whatever its status. A failed delivery gets one more attempt; a pending
// one continues its schedule if that attempt fails.
func (s *SQLStore) RetryWebhookDelivery(ctx context.Context, actor, orgID, id, did string) (WebhookDelivery, error) {
	var out WebhookDelivery
	err := s.mutate(ctx, func(q querier) error {
		if _, err := getWebhook(ctx, q, orgID, id); err != nil {
			return err
		}
		now := ts(time.Now())
		n, err := q.exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1 WHERE id = $2 AND webhook_id = $3`, now, did, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("delivery", did)
		}
		if out, err = scanDelivery(q.queryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = $1`, did)); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "webhook.retry", did, nil, map[string]any{"webhook": id})
	})
	if err != nil {
		return WebhookDelivery{}, fmt.Errorf("retry webhook delivery: %w", err)
	}
	return out, nil
}

// FanOutWebhookEvents turns committed audit rows into deliveries, at most
// batch rows per webhook per call. derive says which event types of row e
// webhook w receives (none: the row only moves the cursor). The org's rows
// and the deployment's ("" org: signing keys) are read. Each webhook's
// cursor is locked while it moves, so replicas never fan out one row twice;
// a locked cursor is skipped. It returns the number of deliveries created.
func (s *SQLStore) FanOutWebhookEvents(ctx context.Context, derive func(w Webhook, e AuditEvent) []string, batch int) (int, error) {
	if batch <= 0 || batch > 1000 {
		batch = 500
	}
	horizon := s.txHorizon()
	r, err := s.db.query(ctx, `SELECT w.id FROM webhooks w JOIN webhook_cursors c ON c.webhook_id = w.id
		WHERE w.enabled AND EXISTS (SELECT 1 FROM audit_log a WHERE a.org_id IN (w.org_id, '')
			AND (a.txid > c.txid OR (a.txid = c.txid AND a.id > c.audit_id)) AND a.txid < `+horizon+`)`)
	if err != nil {
		return 0, fmt.Errorf("webhook fan-out: %w", err)
	}
	ids, err := collect(r, func(r row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("webhook fan-out: %w", err)
	}
	total := 0
	for _, id := range ids {
		n, err := s.fanOutWebhook(ctx, id, derive, batch)
		if err != nil {
			return total, fmt.Errorf("webhook fan-out %s: %w", id, err)
		}
		total += n
	}
	return total, nil
}

func (s *SQLStore) fanOutWebhook(ctx context.Context, id string, derive func(Webhook, AuditEvent) []string, batch int) (int, error) {
	created := 0
	err := s.db.inTx(ctx, func(q querier) error {
		created = 0
		var tx, aid int64
		lock := ` FOR UPDATE`
		if s.pg != nil {
			lock = ` FOR UPDATE SKIP LOCKED`
		}
		err := q.queryRow(ctx, `SELECT txid, audit_id FROM webhook_cursors WHERE webhook_id = $1`+lock, id).Scan(&tx, &aid)
		if err == errNoRows {
			return nil // another replica holds it, or the webhook is gone
		}
		if err != nil {
			return err
		}
		w, err := scanWebhook(q.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id))
		if err == errNoRows {
			return nil
		}
		if err != nil || !w.Enabled {
			return err
		}
		r, err := q.query(ctx, `SELECT id, txid, org_id, actor, action, target, at, before, after FROM audit_log
			WHERE org_id IN ($1, '') AND (txid > $2 OR (txid = $2 AND id > $3)) AND txid < `+s.txHorizon()+`
			ORDER BY txid, id LIMIT $4`, w.OrgID, tx, aid, batch)
		if err != nil {
			return err
		}
		type auditRow struct {
			e    AuditEvent
			txid int64
		}
		rowsRead, err := collect(r, func(r row) (auditRow, error) {
			var a auditRow
			var at int64
			err := r.Scan(&a.e.ID, &a.txid, &a.e.OrgID, &a.e.Actor, &a.e.Action, &a.e.Target, &at, &a.e.Before, &a.e.After)
			a.e.At = fromTS(at)
			return a, err
		})
		if err != nil || len(rowsRead) == 0 {
			return err
		}
		now := ts(time.Now())
		for _, a := range rowsRead {
			for _, typ := range derive(w, a.e) {
				n, err := q.exec(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, audit_id, event_type, status, attempts, last_status_code, last_error,
						created_at, next_attempt_at, lease_owner, lease_until)
					VALUES ($1, $2, $3, $4, 'pending', 0, 0, '', $5, $5, '', 0) ON CONFLICT (id) DO NOTHING`,
					deliveryID(w.ID, a.e.ID, typ), w.ID, a.e.ID, typ, now)
				if err != nil {
					return err
				}
				created += int(n)
			}
		}
		last := rowsRead[len(rowsRead)-1]
		_, err = q.exec(ctx, `UPDATE webhook_cursors SET txid = $1, audit_id = $2 WHERE webhook_id = $3`, last.txid, last.e.ID, id)
		return err
	})
	return created, err
}

// ClaimWebhookDeliveries leases due deliveries of enabled webhooks to
// c.Owner until c.Now+c.Lease and returns them with their webhook and
// audit row. A delivery leased to a worker that died is due again once its
// lease has passed.
func (s *SQLStore) ClaimWebhookDeliveries(ctx context.Context, c WebhookClaim) ([]WebhookJob, error) {
	now := ts(c.Now)
	r, err := s.db.query(ctx, `SELECT d.webhook_id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.lease_until <= $1 AND w.enabled
		GROUP BY d.webhook_id ORDER BY min(d.next_attempt_at) LIMIT 200`, now)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	hooks, err := collect(r, func(r row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	var jobs []WebhookJob
	for _, hook := range hooks {
		room := min(c.PerWebhook-c.Busy[hook], c.Limit-len(jobs))
		if room <= 0 {
			continue
		}
		got, err := s.claimFor(ctx, hook, c, room)
		if err != nil {
			return jobs, fmt.Errorf("claim webhook deliveries: %w", err)
		}
		jobs = append(jobs, got...)
		if len(jobs) >= c.Limit {
			break
		}
	}
	return jobs, nil
}

func (s *SQLStore) claimFor(ctx context.Context, hook string, c WebhookClaim, n int) ([]WebhookJob, error) {
	now, until := ts(c.Now), ts(c.Now.Add(c.Lease))
	r, err := s.db.query(ctx, `UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $3 AND status = 'pending'
			AND next_attempt_at <= $4 AND lease_until <= $4 ORDER BY next_attempt_at, id LIMIT $5`+s.skipLocked()+`)
		RETURNING `+deliveryCols, c.Owner, until, hook, now, n)
	if err != nil {
		return nil, err
	}
	claimed, err := collect(r, scanDelivery)
	if err != nil || len(claimed) == 0 {
		return nil, err
	}
	w, err := scanWebhook(s.db.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, hook))
	if err != nil {
		return nil, err
	}
	ph := make([]string, len(claimed))
	args := make([]any, len(claimed))
	for i, d := range claimed {
		ph[i] = "$" + strconv.Itoa(i+1)
		args[i] = d.AuditID
	}
	r, err = s.db.query(ctx, `SELECT id, org_id, actor, action, target, at, before, after FROM audit_log WHERE id IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return nil, err
	}
	events, err := collect(r, func(r row) (AuditEvent, error) {
		var e AuditEvent
		var at int64
		err := r.Scan(&e.ID, &e.OrgID, &e.Actor, &e.Action, &e.Target, &at, &e.Before, &e.After)
		e.At = fromTS(at)
		return e, err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]AuditEvent, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	jobs := make([]WebhookJob, 0, len(claimed))
	for _, d := range claimed {
		jobs = append(jobs, WebhookJob{Delivery: d, OrgID: w.OrgID, URL: w.URL, SealedSecret: w.SealedSecret, Event: byID[d.AuditID]})
	}
	return jobs, nil
}

// RecordWebhookAttempt stores the outcome of an attempt at delivery id and
// ends owner's lease. It reports false when owner no longer held the lease
// (it expired and another worker took the delivery); the outcome is then
// left to that worker.
func (s *SQLStore) RecordWebhookAttempt(ctx context.Context, owner, id string, a WebhookAttempt) (bool, error) {
	var delivered *int64
	if a.Status == DeliveryDelivered {
		v := ts(a.At)
		delivered = &v
	}
	n, err := s.db.exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1, last_status_code = $2, last_error = $3,
			last_attempt_at = $4, next_attempt_at = $5, delivered_at = coalesce($6, delivered_at), lease_owner = '', lease_until = 0
		WHERE id = $7 AND lease_owner = $8`,
		string(a.Status), a.StatusCode, clipField(a.ErrorClass, 64), ts(a.At), ts(a.NextAttemptAt), delivered, id, owner)
	if err != nil {
		return false, fmt.Errorf("record webhook attempt: %w", err)
	}
	return n == 1, nil
}

// PruneWebhookDeliveries deletes delivered and failed deliveries created
// before before, and returns how many.
func (s *SQLStore) PruneWebhookDeliveries(ctx context.Context, before time.Time) (int, error) {
	n, err := s.db.exec(ctx, `DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	return int(n), nil
}

// NewWebhook is a webhook an admin asks for; the signing secret is made by
// the webhooks package (docs/webhooks.md).
type NewWebhook struct {
	URL         string
	EventTypes  []string
	Description string
	// Enabled defaults to true.
	Enabled *bool
}

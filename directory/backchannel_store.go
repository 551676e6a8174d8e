package directory

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Back-channel logout deliveries (docs/logout.md): the durable queue of
// logout notices that package tokens/backchannel fills when a browser
// session ends and drains from every replica. A row holds what a logout
// token is minted from (client, subject, sid), never a token or a secret;
// the lease (owner, until) lets one replica send it at a time, and a
// replica that dies leaves it to the others once the lease has passed.
// When to retry and when to give up is the sender's decision, recorded
// with RecordBackchannelAttempt.

// BackchannelLogout is one logout notice to send: the end of browser
// session SID (its Handle) of UserID, for ClientID.
type BackchannelLogout struct {
	ClientID string
	UserID   string
	SID      string
}

// BackchannelDelivery is a queued logout notice and where it is.
type BackchannelDelivery struct {
	ID string
	BackchannelLogout
	Status         DeliveryStatus
	Attempts       int
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	NextAttemptAt  time.Time
}

// BackchannelJob is a claimed delivery with the client's current
// backchannel_logout_uri ("" when the client is gone or no longer has one).
type BackchannelJob struct {
	Delivery BackchannelDelivery
	URI      string
}

// BackchannelClaim asks for at most Limit due deliveries, leased to Owner
// until Now+Lease.
type BackchannelClaim struct {
	Owner string
	Now   time.Time
	Lease time.Duration
	Limit int
}

// BackchannelAttempt is the outcome of one attempt, as the sender decided
// it: delivered (the row goes), pending again at NextAttemptAt, or failed
// (kept for the operator until pruned).
type BackchannelAttempt struct {
	At            time.Time
	Status        DeliveryStatus
	StatusCode    int
	ErrorClass    string
	NextAttemptAt time.Time
}

// backchannelDeliveryID is the stable id of the notice of (session, client),
// so a notice queued twice (a session reported twice) is sent once.
func backchannelDeliveryID(l BackchannelLogout) string {
	h := sha256.Sum256([]byte(l.SID + "\x00" + l.ClientID))
	return "bcl_" + encodeBase62(h[:16])
}

const backchannelCols = `id, client_id, user_id, sid, status, attempts, last_status_code, last_error, created_at, next_attempt_at`

func scanBackchannelDelivery(r row) (BackchannelDelivery, error) {
	var d BackchannelDelivery
	var status string
	var created, next int64
	err := r.Scan(&d.ID, &d.ClientID, &d.UserID, &d.SID, &status, &d.Attempts, &d.LastStatusCode, &d.LastError, &created, &next)
	d.Status = DeliveryStatus(status)
	d.CreatedAt, d.NextAttemptAt = fromTS(created), fromTS(next)
	return d, err
}

// EnqueueBackchannelLogouts queues the notices, due at now, in one
// transaction; a notice already queued for the same (session, client) is
// left as it is. It returns how many were queued.
func (s *SQLStore) EnqueueBackchannelLogouts(ctx context.Context, now time.Time, ls []BackchannelLogout) (int, error) {
	if len(ls) == 0 {
		return 0, nil
	}
	queued := 0
	err := s.db.inTx(ctx, func(q querier) error {
		queued = 0
		for _, l := range ls {
			n, err := q.exec(ctx, `INSERT INTO backchannel_deliveries (`+backchannelCols+`, lease_owner, lease_until)
				VALUES ($1, $2, $3, $4, 'pending', 0, 0, '', $5, $5, '', 0) ON CONFLICT (id) DO NOTHING`,
				backchannelDeliveryID(l), l.ClientID, l.UserID, l.SID, ts(now))
			if err != nil {
				return err
			}
			queued += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue back-channel logouts: %w", err)
	}
	return queued, nil
}

// ClaimBackchannelLogouts leases due deliveries to c.Owner and returns
// them with their client's URI. A delivery leased to a sender that died is
// due again once its lease has passed.
func (s *SQLStore) ClaimBackchannelLogouts(ctx context.Context, c BackchannelClaim) ([]BackchannelJob, error) {
	if c.Limit <= 0 {
		return nil, nil
	}
	now, until := ts(c.Now), ts(c.Now.Add(c.Lease))
	r, err := s.db.query(ctx, `UPDATE backchannel_deliveries SET lease_owner = $1, lease_until = $2
		WHERE id IN (SELECT id FROM backchannel_deliveries WHERE status = 'pending'
			AND next_attempt_at <= $3 AND lease_until <= $3 ORDER BY next_attempt_at, id LIMIT $4`+s.skipLocked()+`)
		RETURNING `+backchannelCols, c.Owner, until, now, c.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim back-channel logouts: %w", err)
	}
	claimed, err := collect(r, scanBackchannelDelivery)
	if err != nil || len(claimed) == 0 {
		if err != nil {
			err = fmt.Errorf("claim back-channel logouts: %w", err)
		}
		return nil, err
	}
	ph := make([]string, len(claimed))
	args := make([]any, len(claimed))
	for i, d := range claimed {
		ph[i] = "$" + strconv.Itoa(i+1)
		args[i] = d.ClientID
	}
	r, err = s.db.query(ctx, `SELECT id, backchannel_logout_uri FROM clients WHERE id IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("claim back-channel logouts: %w", err)
	}
	type uri struct{ id, uri string }
	uris, err := collect(r, func(r row) (uri, error) {
		var u uri
		return u, r.Scan(&u.id, &u.uri)
	})
	if err != nil {
		return nil, fmt.Errorf("claim back-channel logouts: %w", err)
	}
	byClient := make(map[string]string, len(uris))
	for _, u := range uris {
		byClient[u.id] = u.uri
	}
	jobs := make([]BackchannelJob, len(claimed))
	for i, d := range claimed {
		jobs[i] = BackchannelJob{Delivery: d, URI: byClient[d.ClientID]}
	}
	return jobs, nil
}

// RecordBackchannelAttempt stores the outcome of an attempt at delivery id
// and ends owner's lease: a delivered notice is deleted, any other outcome
// is written. It reports false when owner no longer held the lease (it
// expired and another sender took the delivery); the outcome is then left
// to that sender.
func (s *SQLStore) RecordBackchannelAttempt(ctx context.Context, owner, id string, a BackchannelAttempt) (bool, error) {
	var n int64
	var err error
	if a.Status == DeliveryDelivered {
		n, err = s.db.exec(ctx, `DELETE FROM backchannel_deliveries WHERE id = $1 AND lease_owner = $2`, id, owner)
	} else {
		n, err = s.db.exec(ctx, `UPDATE backchannel_deliveries SET attempts = attempts + 1, status = $1, last_status_code = $2,
				last_error = $3, next_attempt_at = $4, lease_owner = '', lease_until = 0
			WHERE id = $5 AND lease_owner = $6`,
			string(a.Status), a.StatusCode, clipField(a.ErrorClass, 64), ts(a.NextAttemptAt), id, owner)
	}
	if err != nil {
		return false, fmt.Errorf("record back-channel logout attempt: %w", err)
	}
	return n == 1, nil
}

// BackchannelDeliveries returns the queued deliveries that are not
// delivered (pending or failed), oldest first, at most limit.
func (s *SQLStore) BackchannelDeliveries(ctx context.Context, limit int) ([]BackchannelDelivery, error) {
	r, err := s.db.query(ctx, `SELECT `+backchannelCols+` FROM backchannel_deliveries ORDER BY created_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("back-channel deliveries: %w", err)
	}
	out, err := collect(r, scanBackchannelDelivery)
	if err != nil {
		return nil, fmt.Errorf("back-channel deliveries: %w", err)
	}
	return out, nil
}

// PruneBackchannelLogouts deletes failed deliveries created before before,
// and returns how many.
func (s *SQLStore) PruneBackchannelLogouts(ctx context.Context, before time.Time) (int, error) {
	n, err := s.db.exec(ctx, `DELETE FROM backchannel_deliveries WHERE status <> 'pending' AND created_at < $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune back-channel logouts: %w", err)
	}
	return int(n), nil
}

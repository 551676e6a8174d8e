package directory

// Security events that no admin change makes: aggregated sign-in failures
// and expiring certificates. Both are audit rows, so they reach webhooks
// through the audit log like every other event (docs/webhooks.md); both are
// written at most once per key, decided inside the writing transaction
// while the connection's row is locked, so replicas need no protocol of
// their own.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Audit actions of the security events.
const (
	// ActionSignInFailed is an aggregate of failed sign-ins through one
	// connection for one reason (SignInFailures).
	ActionSignInFailed = "signin.failed"
	// ActionCertificateExpiring is a certificate of a connection crossing
	// an expiry threshold (ExpiringCertificate).
	ActionCertificateExpiring = "certificate.expiring"
)

// SystemActor is the audit actor of rows the broker writes by itself.
const SystemActor = "system"

// MaxSignInFailedPerOrgWindow bounds the signin.failed rows of one org in
// one window, whatever the number of connections and reasons.
const MaxSignInFailedPerOrgWindow = 100

// SignInFailures counts failed sign-ins through one connection for one
// reason code since the last signin.failed row of that pair.
type SignInFailures struct {
	ConnectionID string `json:"connection_id"`
	Reason       string `json:"reason"`
	// Cause is the class of the latest failure (availability, policy,
	// configuration, response).
	Cause string `json:"cause"`
	// Count is the number of failures, at least 1.
	Count int64 `json:"count"`
	// First and Last are the times of the first and the latest failure
	// counted.
	First time.Time `json:"first_at"`
	Last  time.Time `json:"last_at"`
	// WindowSeconds is the aggregation window the row was written under.
	WindowSeconds int64 `json:"window_seconds"`
}

// RecordSignInFailures writes f as one signin.failed audit row of the
// connection's org, unless a row for the same connection and reason was
// written within window, or the org already has
// MaxSignInFailedPerOrgWindow such rows within window: then nothing is
// written and written is false (the caller keeps counting and tries
// again). A connection that no longer exists is ErrNotFound. The check and
// the write are one transaction holding the connection's row lock, so two
// replicas never both write for one pair within a window.
func (s *SQLStore) RecordSignInFailures(ctx context.Context, f SignInFailures, window time.Duration) (written bool, err error) {
	if f.ConnectionID == "" || f.Reason == "" || f.Count < 1 {
		return false, invalid("failures", "a sign-in failure count needs its connection, reason and a count of at least 1")
	}
	f.Reason, f.Cause = clipField(f.Reason, 64), clipField(f.Cause, 32)
	f.WindowSeconds = int64(window / time.Second)
	err = s.db.inTx(ctx, func(q querier) error {
		orgID, err := lockConnection(ctx, q, f.ConnectionID)
		if err != nil {
			return err
		}
		// The org's latest rows of this action, newest first: at most the
		// per-org bound of them can fall within the window, so reading one
		// more than that sees every row that matters (and the read never
		// grows with the org's history).
		since := ts(time.Now().Add(-window))
		r, err := q.query(ctx, `SELECT target, at, after FROM audit_log WHERE org_id = $1 AND action = $2
			ORDER BY id DESC LIMIT $3`, orgID, ActionSignInFailed, MaxSignInFailedPerOrgWindow+1)
		if err != nil {
			return err
		}
		type prior struct {
			target, after string
			at            int64
		}
		rows, err := collect(r, func(r row) (prior, error) {
			var p prior
			return p, r.Scan(&p.target, &p.at, &p.after)
		})
		if err != nil {
			return err
		}
		recent := 0
		for _, p := range rows {
			if p.at < since {
				break
			}
			recent++
			var a SignInFailures
			if p.target == f.ConnectionID && json.Unmarshal([]byte(p.after), &a) == nil && a.Reason == f.Reason {
				return nil
			}
		}
		if recent >= MaxSignInFailedPerOrgWindow {
			return nil
		}
		written = true
		return audit(ctx, q, orgID, SystemActor, ActionSignInFailed, f.ConnectionID, nil, f)
	})
	if err != nil {
		return false, fmt.Errorf("record sign-in failures: %w", err)
	}
	return written, nil
}

// lockConnection takes connection id's row lock for the rest of the
// transaction and returns its org.
func lockConnection(ctx context.Context, q querier, id string) (string, error) {
	var orgID string
	err := q.queryRow(ctx, `SELECT org_id FROM connections WHERE id = $1 FOR UPDATE`, id).Scan(&orgID)
	if err == errNoRows {
		return "", notFound("connection", id)
	}
	return orgID, err
}

// ExpiringCertificate is a certificate of a connection that expires within
// a threshold: an IdP signing certificate, or one of the connection's SP
// key pairs.
type ExpiringCertificate struct {
	ConnectionID string `json:"connection_id"`
	// Kind is "idp_signing", "sp_current", "sp_next" or "sp_previous".
	Kind string `json:"kind"`
	// Fingerprint is the SHA-256 of the certificate's DER, upper-case hex
	// pairs joined by colons.
	Fingerprint string    `json:"fingerprint_sha256"`
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	// ThresholdDays is the threshold crossed (for example 30 or 7).
	ThresholdDays int `json:"threshold_days"`
	// DaysLeft is the whole days until NotAfter when the row was written
	// (negative once expired).
	DaysLeft int `json:"days_left"`
}

// RecordCertificateExpiring writes c as one certificate.expiring audit row
// of the connection's org, unless a row for the same connection and
// certificate with a threshold at most c.ThresholdDays exists already (a
// certificate first seen inside its 7-day threshold never gets a 30-day
// row afterwards). It reports whether it wrote. A connection that no
// longer exists is ErrNotFound. The check and the write are one
// transaction holding the connection's row lock, so replicas checking at
// once, and restarts, write each row once.
func (s *SQLStore) RecordCertificateExpiring(ctx context.Context, c ExpiringCertificate) (written bool, err error) {
	if c.ConnectionID == "" || c.Fingerprint == "" || c.ThresholdDays <= 0 {
		return false, invalid("certificate", "an expiring certificate needs its connection, fingerprint and a positive threshold")
	}
	c.Kind, c.Subject = clipField(c.Kind, 32), clipField(c.Subject, 256)
	err = s.db.inTx(ctx, func(q querier) error {
		orgID, err := lockConnection(ctx, q, c.ConnectionID)
		if err != nil {
			return err
		}
		// A connection's rows of this action: two per certificate it ever
		// held, at most.
		r, err := q.query(ctx, `SELECT after FROM audit_log WHERE org_id = $1 AND action = $2 AND target = $3`,
			orgID, ActionCertificateExpiring, c.ConnectionID)
		if err != nil {
			return err
		}
		afters, err := collect(r, func(r row) (string, error) {
			var a string
			return a, r.Scan(&a)
		})
		if err != nil {
			return err
		}
		for _, a := range afters {
			var prior ExpiringCertificate
			if json.Unmarshal([]byte(a), &prior) == nil && prior.Fingerprint == c.Fingerprint && prior.ThresholdDays <= c.ThresholdDays {
				return nil
			}
		}
		written = true
		return audit(ctx, q, orgID, SystemActor, ActionCertificateExpiring, c.ConnectionID, nil, c)
	})
	if err != nil {
		return false, fmt.Errorf("record expiring certificate: %w", err)
	}
	return written, nil
}

// ListConnectionsOfType lists every org's connections of type t, for
// checks that run over the whole deployment (certificate expiry).
func (s *SQLStore) ListConnectionsOfType(ctx context.Context, t ConnectionType) ([]Connection, error) {
	r, err := s.db.query(ctx, `SELECT `+connCols+` FROM connections WHERE type = $1 ORDER BY id`, string(t))
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return collect(r, scanConnection)
}

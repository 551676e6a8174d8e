package directory

import (
	"context"
	"fmt"
	"time"
)

// ConnectionFailure is one failed sign-in through a connection, kept for
// the org's admin: the stable reason code, the reference the user was
// shown (also in the operator's log line), and whether the cause was the
// IdP's availability, a policy, or the configuration.
type ConnectionFailure struct {
	ID           int64     `json:"-"`
	OrgID        string    `json:"org_id"`
	ConnectionID string    `json:"connection_id"`
	Reason       string    `json:"reason"`
	Reference    string    `json:"reference"`
	At           time.Time `json:"at"`
	DetailClass  string    `json:"detail_class"`
}

// MaxConnectionFailures is how many recent failures a connection keeps.
const MaxConnectionFailures = 50

const failureCols = `id, org_id, connection_id, reason, reference, at, detail_class`

func clipField(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// RecordConnectionFailure keeps f for its connection, which must exist (its
// org is the connection's; f.OrgID, when set, must match, else nothing is
// kept), and prunes the connection's list to the last MaxConnectionFailures.
// It reports whether f was kept. Failures change no cached lookup, so
// nothing is announced to other replicas.
func (s *SQLStore) RecordConnectionFailure(ctx context.Context, f ConnectionFailure) (bool, error) {
	if f.At.IsZero() {
		f.At = time.Now()
	}
	var kept bool
	err := s.db.inTx(ctx, func(q querier) error {
		n, err := q.exec(ctx, `INSERT INTO connection_failures (org_id, connection_id, reason, reference, at, detail_class)
			SELECT org_id, id, $1, $2, $3, $4 FROM connections WHERE id = $5 AND ($6 = '' OR org_id = $6)`,
			clipField(f.Reason, 64), clipField(f.Reference, 64), ts(f.At), clipField(f.DetailClass, 32), f.ConnectionID, f.OrgID)
		if err != nil || n == 0 {
			return err
		}
		kept = true
		return keepRecent(ctx, q, "connection_failures", "connection_id", f.ConnectionID, MaxConnectionFailures)
	})
	if err != nil {
		return false, fmt.Errorf("record connection failure: %w", err)
	}
	return kept, nil
}

// ListConnectionFailures lists a connection's recent failures, newest first.
func (s *SQLStore) ListConnectionFailures(ctx context.Context, orgID, connectionID string) ([]ConnectionFailure, error) {
	if _, err := s.GetConnection(ctx, orgID, connectionID); err != nil {
		return nil, err
	}
	r, err := s.db.query(ctx, `SELECT `+failureCols+` FROM connection_failures WHERE org_id = $1 AND connection_id = $2
		ORDER BY id DESC LIMIT $3`, orgID, connectionID, MaxConnectionFailures)
	if err != nil {
		return nil, err
	}
	return collect(r, func(r row) (ConnectionFailure, error) {
		var f ConnectionFailure
		var at int64
		err := r.Scan(&f.ID, &f.OrgID, &f.ConnectionID, &f.Reason, &f.Reference, &at, &f.DetailClass)
		f.At = fromTS(at)
		return f, err
	})
}

// keepRecent deletes the rows of table (connection_failures,
// jwt_issuer_failures: constant names, never input) under key in column
// col but the newest max.
func keepRecent(ctx context.Context, q querier, table, col, key string, max int) error {
	_, err := q.exec(ctx, `DELETE FROM `+table+` WHERE `+col+` = $1 AND id NOT IN
		(SELECT id FROM `+table+` WHERE `+col+` = $1 ORDER BY id DESC LIMIT $2)`, key, max)
	return err
}

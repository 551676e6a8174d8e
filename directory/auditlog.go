package directory

// The audit log as admins read it.

import (
	"context"
	"fmt"
)

// ListAudit lists the org's audit log, newest first.
func (s *SQLStore) ListAudit(ctx context.Context, orgID string, f AuditFilter) ([]AuditEvent, string, error) {
	limit := limitOf(f.Page)
	qs := `SELECT id, org_id, actor, action, target, at, before, after FROM audit_log WHERE org_id = $1`
	args := []any{orgID}
	if f.After != "" {
		var after int64
		if _, err := fmt.Sscan(f.After, &after); err != nil {
			return nil, "", invalid("cursor", "malformed cursor")
		}
		args = append(args, after)
		qs += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	if f.Actor != "" {
		args = append(args, f.Actor)
		qs += fmt.Sprintf(` AND actor = $%d`, len(args))
	}
	if f.Action != "" {
		args = append(args, f.Action)
		qs += fmt.Sprintf(` AND action = $%d`, len(args))
	}
	if !f.Since.IsZero() {
		args = append(args, ts(f.Since))
		qs += fmt.Sprintf(` AND at >= $%d`, len(args))
	}
	args = append(args, limit)
	qs += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	r, err := s.db.query(ctx, qs, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(r, func(r row) (AuditEvent, error) {
		var e AuditEvent
		var at int64
		err := r.Scan(&e.ID, &e.OrgID, &e.Actor, &e.Action, &e.Target, &at, &e.Before, &e.After)
		e.At = fromTS(at)
		return e, err
	})
	if err != nil || len(out) == 0 {
		return out, "", err
	}
	return out, nextCursor(len(out), limit, fmt.Sprint(out[len(out)-1].ID)), nil
}

package session

import (
	"fmt"
	"log/slog"
	"time"
)

// String describes s without its ID (the cookie value), so that a session
// printed by mistake leaks no credential. The Handle identifies it.
func (s Session) String() string {
	return fmt.Sprintf("Session{Handle:%s UserID:%s OrgID:%s ConnectionID:%s AMR:%v AuthTime:%s CreatedAt:%s LastSeen:%s AbsoluteExpiry:%s IdleTimeout:%s Data:%d keys}",
		s.Handle, s.UserID, s.OrgID, s.ConnectionID, s.AMR, s.AuthTime.Format(time.RFC3339), s.CreatedAt.Format(time.RFC3339),
		s.LastSeen.Format(time.RFC3339), s.AbsoluteExpiry.Format(time.RFC3339), s.IdleTimeout, len(s.Data))
}

// GoString is String, so that %#v does not print the ID either.
func (s Session) GoString() string { return s.String() }

// LogValue makes slog log a session without its ID.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("handle", s.Handle),
		slog.String("user_id", s.UserID),
		slog.String("org_id", s.OrgID),
		slog.String("connection_id", s.ConnectionID),
		slog.Time("auth_time", s.AuthTime),
		slog.Time("absolute_expiry", s.AbsoluteExpiry),
	)
}

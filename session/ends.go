package session

import (
	"context"
	"errors"
	"fmt"
)

// EndListener hears of browser sessions that ended: logged out (the
// broker's sign-out, RP-initiated logout, SAML Single Logout), replaced by
// a new sign-in in the same browser, or revoked with every session of a
// user (deprovisioning). Expiry is not reported. SessionsEnded is called
// after the store removed the sessions, on the request's goroutine: it must
// not block (OpenID Connect Back-Channel Logout queues its deliveries,
// docs/logout.md).
type EndListener interface {
	SessionsEnded(ctx context.Context, ended []Session)
}

// WithEndListener returns s, whose DeleteSession and RevokeUserSessions —
// the two ways a browser session ends before it expires — report each
// session they removed to l. Every caller that ends sessions goes through
// the store, so wrapping it once (cmd/ssobroker) makes this the one place
// where "a session ended" happens. A nil l returns s unchanged.
func WithEndListener(s Store, l EndListener) Store {
	if l == nil {
		return s
	}
	return endingStore{Store: s, l: l}
}

type endingStore struct {
	Store
	l EndListener
}

// DeleteSession reads the session first (it says whose session it was and
// its Handle), deletes it, then reports it. An unknown or expired id is
// deleted and reported to no one.
func (e endingStore) DeleteSession(ctx context.Context, id string) error {
	sess, err := e.Store.GetSession(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("session: reading the session to end: %w", err)
	}
	if err := e.Store.DeleteSession(ctx, id); err != nil {
		return err
	}
	if sess.Handle != "" {
		e.l.SessionsEnded(ctx, []Session{sess})
	}
	return nil
}

// RevokeUserSessions lists the user's live sessions, revokes them all, and
// reports those listed (a session created concurrently may be neither
// revoked nor reported).
func (e endingStore) RevokeUserSessions(ctx context.Context, userID string) (int, error) {
	live, err := e.Store.ListUserSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	n, err := e.Store.RevokeUserSessions(ctx, userID)
	if err != nil {
		return n, err
	}
	if len(live) > 0 {
		e.l.SessionsEnded(ctx, live)
	}
	return n, nil
}

// DeleteSessionByHandle (SAML Single Logout) finds the session among the
// user's live ones, deletes it, and reports it when it was there.
func (e endingStore) DeleteSessionByHandle(ctx context.Context, userID, handle string) (bool, error) {
	live, err := e.Store.ListUserSessions(ctx, userID)
	if err != nil {
		return false, err
	}
	ended, err := e.Store.DeleteSessionByHandle(ctx, userID, handle)
	if err != nil || !ended {
		return ended, err
	}
	for _, s := range live {
		if s.Handle == handle {
			e.l.SessionsEnded(ctx, []Session{s})
			break
		}
	}
	return true, nil
}

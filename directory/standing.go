package directory

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrNoStanding means a sign-in no longer grants access: the user is not a
// member of the organization (any more), the organization is gone, or the
// connection the user signed in through was deleted, disabled or belongs to
// another organization. Errors of SessionStanding that wrap it are the
// caller's "sign in again" answer; any other error means the directory
// could not be read (ErrUnavailable) and is answered with 503.
var ErrNoStanding = errors.New("directory: the sign-in no longer grants access")

// LinkConnection is the ConnectionID of a browser session opened by an
// operator's one-time sign-in link (no upstream IdP involved).
// SessionStanding skips the connection check for it; surfaces that must
// name an IdP (the OpenID provider's ID tokens) refuse such sessions
// themselves.
const LinkConnection = "operator-link"

// SessionStanding is THE validity check of a browser session's sign-in —
// (organization, user, connection) — made by every surface that accepts a
// browser session or a grant that came from one: the OpenID provider at
// every code, redemption and refresh, the Opik session endpoints, the
// console and /account (docs/security.md, "Sessions and admin tokens").
//
// It holds when userID is a user (usr_…) who is a member of the existing
// organization orgID and, unless connectionID is LinkConnection, the
// connection connectionID exists, belongs to orgID and is enabled. It
// returns the user's current access, an error wrapping ErrNoStanding that
// says which rule failed, or the store's error (ErrUnavailable).
//
// Both lookups are served from the directory's cache (PrincipalAccess,
// GetConnection), which every change to the directory, here or in another
// replica, drops: a warm check never reaches the database, and disabling or
// deleting a connection or removing a member takes effect at the next
// request.
func (s *SQLStore) SessionStanding(ctx context.Context, orgID, userID, connectionID string) (PrincipalAccess, error) {
	if orgID == "" || userID == "" || connectionID == "" || PrincipalTypeOf(userID) != PrincipalUser {
		return PrincipalAccess{}, noStanding("the session names no user, organization or connection")
	}
	// The verdict is cached as a whole, refusals included, so a session
	// that lost its standing does not reach the database at every request
	// either; store errors are not cached.
	key := orgID + "\x00" + userID + "\x00" + connectionID
	v, err := cached(s, func(c *lookupCache) *sync.Map { return &c.standing }, key, func() (sessionStanding, error) {
		return s.loadSessionStanding(ctx, orgID, userID, connectionID)
	})
	if err != nil {
		return PrincipalAccess{}, fmt.Errorf("session standing: %w", err)
	}
	if v.refused != "" {
		return PrincipalAccess{}, noStanding(v.refused)
	}
	return v.access, nil
}

// sessionStanding is SessionStanding's cached verdict: the access, or why
// the sign-in no longer grants it.
type sessionStanding struct {
	access  PrincipalAccess
	refused string
}

func (s *SQLStore) loadSessionStanding(ctx context.Context, orgID, userID, connectionID string) (sessionStanding, error) {
	pa, err := s.PrincipalAccess(ctx, orgID, userID)
	if errors.Is(err, ErrNotFound) {
		return sessionStanding{refused: "the user is not a member of the organization, or it was deleted"}, nil
	}
	if err != nil {
		return sessionStanding{}, err
	}
	// TODO(user deactivation): the directory has no notion of a deactivated
	// user yet (the users table has no status column; removal from the org
	// is how access ends). When it gets one, refuse deactivated users here:
	// every surface that accepts a browser session comes through this one
	// function.
	if connectionID == LinkConnection {
		return sessionStanding{access: pa}, nil
	}
	conn, err := s.GetConnection(ctx, orgID, connectionID)
	if errors.Is(err, ErrNotFound) {
		return sessionStanding{refused: "the connection the user signed in through was deleted or belongs to another organization"}, nil
	}
	if err != nil {
		return sessionStanding{}, err
	}
	if !conn.Enabled {
		return sessionStanding{refused: "the connection the user signed in through is disabled"}, nil
	}
	return sessionStanding{access: pa}, nil
}

func noStanding(why string) error {
	return fmt.Errorf("%w: %s", ErrNoStanding, why)
}

package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
// connection connectionID exists, is enabled, and belongs to orgID — or
// belongs to another organization the user is still a member of: a sign-in
// moved to another of the user's organizations without signing in again
// (SwitchStanding, docs/org-switching.md). It returns the user's current
// access in orgID, an error wrapping ErrNoStanding that says which rule
// failed, or the store's error (ErrUnavailable).
//
// Both lookups are served from the directory's cache (PrincipalAccess,
// connectionHome), which every change to the directory, here or in another
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
	h, err := s.connectionHome(ctx, connectionID)
	switch {
	case err != nil:
		return sessionStanding{}, err
	case !h.found:
		return sessionStanding{refused: "the connection the user signed in through was deleted"}, nil
	case !h.enabled:
		return sessionStanding{refused: "the connection the user signed in through is disabled"}, nil
	case h.org == orgID:
		return sessionStanding{access: pa}, nil
	}
	// A sign-in through another organization's connection: one moved here
	// by SwitchStanding. It holds while the user is still a member of the
	// organization they signed in to: leaving it ends every organization
	// the sign-in was moved to.
	if _, err := s.PrincipalAccess(ctx, h.org, userID); errors.Is(err, ErrNotFound) {
		return sessionStanding{refused: "the user is no longer a member of the organization they signed in to"}, nil
	} else if err != nil {
		return sessionStanding{}, err
	}
	return sessionStanding{access: pa}, nil
}

// connHome is where a connection belongs and whether it is enabled; found
// is false when no connection has that id.
type connHome struct {
	org            string
	enabled, found bool
}

// connectionHome looks a connection up by id alone, from the directory's
// cache when warm: SessionStanding asks it for the home organization and
// for every organization a sign-in was moved to, so one read serves them
// all. Unknown ids are cached too (as not found) until the next change.
func (s *SQLStore) connectionHome(ctx context.Context, id string) (connHome, error) {
	return cached(s, func(c *lookupCache) *sync.Map { return &c.connHomes }, id, func() (connHome, error) {
		var h connHome
		err := s.db.queryRow(ctx, `SELECT org_id, enabled FROM connections WHERE id = $1`, id).Scan(&h.org, &h.enabled)
		if err == errNoRows {
			return connHome{}, nil
		}
		h.found = err == nil
		return h, err
	})
}

func noStanding(why string) error {
	return fmt.Errorf("%w: %s", ErrNoStanding, why)
}

// ErrNotMember means SwitchStanding's target organization does not exist
// or the user is not (any more) a member of it; the two are one answer so
// that it does not reveal which organizations exist.
var ErrNotMember = errors.New("directory: not a member of that organization")

// SwitchStanding is THE check of moving a sign-in — (orgID, userID,
// connectionID), as SessionStanding takes it — to another organization of
// the same user without signing in again: the token exchange of package
// tokens and the console's org switcher on /account both call it
// (docs/org-switching.md). target names the organization by id or name.
//
// It re-reads the directory now (the cache it serves from is dropped by
// every committed change, here and in other replicas): the sign-in must
// still stand (else an error wrapping ErrNoStanding) and the user must be a
// member of target (else an error wrapping ErrNotMember). It returns the
// user's access in target, or the store's error (ErrUnavailable).
func (s *SQLStore) SwitchStanding(ctx context.Context, orgID, userID, connectionID, target string) (PrincipalAccess, error) {
	if _, err := s.SessionStanding(ctx, orgID, userID, connectionID); err != nil {
		return PrincipalAccess{}, err
	}
	targetID := target
	if !strings.HasPrefix(target, "org_") {
		o, err := s.GetOrg(ctx, target)
		if errors.Is(err, ErrNotFound) {
			return PrincipalAccess{}, fmt.Errorf("%w: no organization %q", ErrNotMember, target)
		}
		if err != nil {
			return PrincipalAccess{}, fmt.Errorf("switch standing: %w", err)
		}
		targetID = o.ID
	}
	pa, err := s.SessionStanding(ctx, targetID, userID, connectionID)
	if errors.Is(err, ErrNoStanding) {
		// The sign-in stands, so the only rule left is membership of target.
		return PrincipalAccess{}, fmt.Errorf("%w: %w", ErrNotMember, err)
	}
	return pa, err
}

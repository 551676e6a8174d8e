package opik

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// principal is an authenticated caller and its current standing in its one
// organization, read from the directory at this request.
type principal struct {
	access directory.PrincipalAccess
	// narrowed is the workspace a narrowed access token is limited to.
	narrowed *tokens.WorkspaceRef
}

// UserName is what Opik records as the author of what the caller stores and
// hands back in X-Opik-OAuth-Username: a user's email (the sign-in identity
// a person recognises), a service account's name, and the principal id for a
// principal that has neither. Never empty.
func UserName(m directory.Member) string {
	switch {
	case m.Type == directory.PrincipalUser && m.Email != "":
		return m.Email
	case m.Name != "":
		return m.Name
	}
	return m.PrincipalID
}

func (p *principal) userName() string { return UserName(p.access.Member) }

// permissions is the caller's set in workspace ws of its org, by the one
// permission function; m is its membership there (nil: none). A narrowed
// token has nothing outside its workspace.
func (p *principal) permissions(ws directory.Workspace, m *access.Membership) access.Set {
	if ws.OrgID != p.access.Org.ID || (p.narrowed != nil && ws.ID != p.narrowed.ID) {
		return 0
	}
	return access.Effective(p.access.Member.Role, m, p.access.Org.Settings.Access())
}

func (p *principal) isAdmin() bool { return p.access.Member.Role == access.RoleAdmin }

// authenticator finds the caller of r. workspace is the workspace the
// request is about ("" when none), which only the by-username path needs:
// a user name is looked up among the members of that workspace's org.
type authenticator func(r *http.Request, workspace string) (principal, error)

const apiKeyPrefix = "ssb_"

var (
	errNoCredentials = unauthorized("no credentials: send an ssobroker API key or access token in the Authorization header")
	errBadCredential = unauthorized("the API key or access token is invalid, expired or revoked")
	errNoSession     = unauthorized("no ssobroker session: sign in first")
	errEndedSession  = unauthorized("the ssobroker session has ended: sign in again")
)

// byAuthorization authenticates the Authorization header: an API key, raw
// (the Opik SDK sends no scheme) or after "Bearer ", or an access token,
// bearer or bare. The Opik SDK may append "*" and base64 JSON to a key; that
// suffix is dropped before the lookup (no JWT contains "*").
func (s *Service) byAuthorization(r *http.Request, _ string) (principal, error) {
	cred := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(cred) > 7 && strings.EqualFold(cred[:7], "bearer ") {
		cred = strings.TrimSpace(cred[7:])
	}
	cred, _, _ = strings.Cut(cred, "*")
	switch {
	case cred == "":
		return principal{}, errNoCredentials
	case strings.HasPrefix(cred, apiKeyPrefix):
		return s.byAPIKey(r.Context(), cred)
	case strings.Count(cred, ".") == 2 && s.tokens != nil:
		return s.byAccessToken(r.Context(), cred)
	}
	return principal{}, errBadCredential
}

func (s *Service) byAPIKey(ctx context.Context, key string) (principal, error) {
	kp, err := s.dir.LookupAPIKey(ctx, key)
	if err != nil {
		return principal{}, storeError(err, errBadCredential)
	}
	if err := s.dir.TouchAPIKey(ctx, kp.Key.ID, s.now()); err != nil {
		s.log.WarnContext(ctx, "opik: recording API key use failed", "key", kp.Key.ID, "err", err)
	}
	return s.standing(ctx, kp.Key.OrgID, kp.Account.ID, errBadCredential)
}

func (s *Service) byAccessToken(ctx context.Context, token string) (principal, error) {
	c, err := s.tokens.VerifyAccessToken(ctx, token)
	if errors.Is(err, tokens.ErrInvalidAccessToken) {
		return principal{}, errBadCredential
	}
	if err != nil {
		return principal{}, unavailable(err)
	}
	if c.Subject == "" || c.Org.ID == "" {
		return principal{}, errBadCredential
	}
	p, err := s.standing(ctx, c.Org.ID, c.Subject, errBadCredential)
	if err != nil {
		return principal{}, err
	}
	p.narrowed = c.Narrowed
	return p, nil
}

// bySession authenticates the sessionToken cookie, read leniently (Opik
// forwards it as `$Version=1;sessionToken=…`), and checks that the sign-in
// behind the session still stands: a session whose connection was disabled
// or deleted, or whose user left the org, is refused at once, as the OpenID
// provider refuses it.
func (s *Service) bySession(r *http.Request, _ string) (principal, error) {
	id, ok := session.FromRequest(r, session.CookieName)
	if !ok || s.sessions == nil {
		return principal{}, errNoSession
	}
	ctx := r.Context()
	sess, err := s.sessions.GetSession(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		return principal{}, errEndedSession
	}
	if err != nil {
		return principal{}, unavailable(err)
	}
	// The directory's one validity check of a sign-in: still a member, the
	// org still there, the connection signed in through still the org's and
	// enabled (docs/security.md, "Sessions and admin tokens"). Cached, so a
	// warm check reaches no database.
	pa, err := s.dir.SessionStanding(ctx, sess.OrgID, sess.UserID, sess.ConnectionID)
	if errors.Is(err, directory.ErrNoStanding) {
		s.log.DebugContext(ctx, "opik: session refused", "session", sess.Handle, "cause", err)
		return principal{}, errEndedSession
	}
	if err != nil {
		return principal{}, storeError(err, errEndedSession)
	}
	return principal{access: pa}, nil
}

// byCookieOrAuthorization authenticates the session cookie when one is sent,
// else the Authorization header.
func (s *Service) byCookieOrAuthorization(r *http.Request, ws string) (principal, error) {
	if _, ok := session.FromRequest(r, session.CookieName); ok {
		return s.bySession(r, ws)
	}
	return s.byAuthorization(r, ws)
}

// byUsername believes X-Opik-OAuth-Username (when the deployment trusts it)
// and finds the member of the workspace's org whose UserName it is. Opik's
// MCP OAuth mode sends it after checking its own bearer token; the name is
// the one /opik/auth-session answered at consent. An unknown or ambiguous
// name is refused, and so is "default": without a principal there is no org
// to take a default workspace from.
func (s *Service) byUsername(r *http.Request, workspace string) (principal, error) {
	if !s.trust {
		return principal{}, unauthorized("authentication by user name is disabled on this ssobroker (SSOBROKER_OPIK_TRUST_USERNAME_HEADER)")
	}
	name := strings.TrimSpace(r.Header.Get(UsernameHeader))
	if name == "" {
		return principal{}, unauthorized("no user name in " + UsernameHeader)
	}
	if isDefault(workspace) {
		return principal{}, forbidden("name the workspace: \"default\" cannot be resolved from a user name")
	}
	ctx := r.Context()
	ws, err := s.workspaceNamed(ctx, workspace)
	if err != nil {
		return principal{}, storeError(err, errNotAllowed)
	}
	id, err := s.memberNamed(ctx, ws.OrgID, name)
	if err != nil {
		return principal{}, err
	}
	return s.standing(ctx, ws.OrgID, id, errUnknownUser)
}

var errUnknownUser = unauthorized("no single member of the workspace's organization has that user name")

// standing loads the principal's current org role and memberships. A
// principal that is no longer a member of the org is refused with gone.
func (s *Service) standing(ctx context.Context, orgID, principalID string, gone error) (principal, error) {
	pa, err := s.dir.PrincipalAccess(ctx, orgID, principalID)
	if err != nil {
		return principal{}, storeError(err, gone)
	}
	return principal{access: pa}, nil
}

// storeError turns a directory or session lookup error into an answer:
// "not found" becomes notFound; anything else means the store is away (503,
// which Opik retries).
func storeError(err error, notFound error) error {
	if errors.Is(err, directory.ErrNotFound) || errors.Is(err, session.ErrNotFound) {
		return notFound
	}
	return unavailable(err)
}

// Package opik answers the open-source Opik backend's remote-auth calls
// (README.md, "Opik compatibility"). With AUTH_ENABLED=true and
// REACT_SERVICE_URL pointing at ssobroker, Opik asks these endpoints, on every
// request it serves, who is calling and whether they may act in a workspace.
//
// Callers are authenticated by an API key (raw, as the Opik SDK sends it, or
// "Bearer ssb_…"), by one of the broker's access tokens, by the browser
// session cookie Opik forwards, or — only when Config.TrustUsernameHeader is
// set — by the user name Opik's MCP OAuth mode puts in X-Opik-OAuth-Username.
// Their standing is read from the directory's cached lookups on every call,
// and every decision is made by access.Effective, the one permission
// function; this package only maps Opik's permission names onto ours.
package opik

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// Directory is the part of the directory the Opik endpoints read.
// LookupAPIKey and PrincipalAccess are served from the directory's cache,
// which every change drops in every replica, and TouchAPIKey is buffered, so
// a warm /opik/auth never reaches the database.
type Directory interface {
	LookupAPIKey(ctx context.Context, secret string) (directory.KeyPrincipal, error)
	TouchAPIKey(ctx context.Context, keyID string, at time.Time) error
	PrincipalAccess(ctx context.Context, orgID, principalID string) (directory.PrincipalAccess, error)
	// SessionStanding is the one validity check of a browser session's
	// sign-in (member, org, connection enabled); cached like PrincipalAccess.
	SessionStanding(ctx context.Context, orgID, userID, connectionID string) (directory.PrincipalAccess, error)
	FindWorkspace(ctx context.Context, name string) (directory.Workspace, error)
	ListWorkspaces(ctx context.Context, orgID string, f directory.WorkspaceFilter) ([]directory.Workspace, string, error)
	ListMembers(ctx context.Context, orgID string, p directory.Page) ([]directory.Member, string, error)
	// Subscribe calls fn after every committed change to the directory, here
	// or in another replica; this package drops its own name cache then.
	Subscribe(fn func()) (cancel func())
}

// Sessions finds the browser session a sessionToken cookie names.
type Sessions interface {
	GetSession(ctx context.Context, id string) (session.Session, error)
}

// AccessTokens verifies the broker's own access tokens (*tokens.Issuer). It
// returns tokens.ErrInvalidAccessToken for a token that is not an active
// access token of this issuer; any other error means the keys or the store
// are unavailable.
type AccessTokens interface {
	VerifyAccessToken(ctx context.Context, token string) (tokens.AccessClaims, error)
}

// Config is what the Opik endpoints need. Directory is required.
type Config struct {
	Directory Directory
	// Sessions authenticates the cookie endpoints; nil refuses them (401).
	Sessions Sessions
	// Tokens accepts access tokens where API keys are accepted; nil refuses
	// them (401).
	Tokens AccessTokens
	// TrustUsernameHeader enables /opik/auth-by-username and
	// /opik/workspace-permissions-by-username, which believe whatever user
	// name X-Opik-OAuth-Username carries. Off by default: turn it on only
	// when those paths are reachable from the Opik backend alone.
	TrustUsernameHeader bool
	// Permissions maps Opik permission names the built-in table does not
	// know onto ours (SSOBROKER_OPIK_PERMISSION_MAP, ParsePermissionMap);
	// the zero value maps none, and a name nobody maps is granted to
	// admins only.
	Permissions PermissionMap
	// Logger receives store failures (warn) and refusals (debug).
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves the Opik endpoints. It is safe for concurrent use.
type Service struct {
	dir      Directory
	sessions Sessions
	tokens   AccessTokens
	trust    bool
	perms    PermissionMap
	unknown  *unknownNames
	log      *slog.Logger
	now      func() time.Time
	names    *nameCache
	unsub    func()
}

// New returns the Opik endpoints on cfg. It fails when cfg.Directory is
// nil: a missing dependency is reported at construction, never by a panic
// (docs/architecture.md, "Construction and failures").
func New(cfg Config) (*Service, error) {
	if cfg.Directory == nil {
		return nil, errors.New("opik: Config.Directory is required")
	}
	s := &Service{dir: cfg.Directory, sessions: cfg.Sessions, tokens: cfg.Tokens,
		trust: cfg.TrustUsernameHeader, perms: cfg.Permissions, unknown: &unknownNames{seen: map[string]bool{}},
		log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Permissions.Len() > 0 {
		s.log.Info("opik: operator-mapped permissions (SSOBROKER_OPIK_PERMISSION_MAP)", "map", cfg.Permissions.String())
	}
	s.names = newNameCache(s.now)
	s.unsub = cfg.Directory.Subscribe(s.names.drop)
	if s.trust {
		s.log.Warn("opik: X-Opik-OAuth-Username is trusted (SSOBROKER_OPIK_TRUST_USERNAME_HEADER): " +
			"/opik/auth-by-username and /opik/workspace-permissions-by-username must be reachable only from the Opik backend")
	}
	return s, nil
}

// Close stops following directory changes.
func (s *Service) Close() { s.unsub() }

// Paths of the endpoints, as the Opik backend and SDK call them.
const (
	PathAuth                     = "/opik/auth"
	PathAuthSession              = "/opik/auth-session"
	PathAuthByUsername           = "/opik/auth-by-username"
	PathWorkspacePermissions     = "/opik/workspace-permissions"
	PathWorkspacePermissionsSess = "/opik/workspace-permissions-session"
	PathWorkspacePermissionsUser = "/opik/workspace-permissions-by-username"
	PathWorkspaces               = "/workspaces"
	PathWorkspaceID              = "/workspaces/workspace-id"
	PathAccountDetails           = "/api/rest/v2/account-details"
	PathAccountWorkspaces        = "/api/rest/v2/workspaces"
)

// UsernameHeader carries the user name Opik's MCP OAuth mode vouches for.
const UsernameHeader = "X-Opik-OAuth-Username"

// Routes mounts every Opik endpoint on mux. The by-username paths are always
// mounted; while TrustUsernameHeader is off they answer 401, so Opik reports
// a refusal rather than the 500 it makes of a 404.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.Handle("POST "+PathAuth, s.authHandler(s.byAuthorization))
	mux.Handle("POST "+PathAuthSession, s.authHandler(s.bySession))
	mux.Handle("POST "+PathAuthByUsername, s.authHandler(s.byUsername))
	mux.Handle("POST "+PathWorkspacePermissions, s.permissionsHandler(s.byAuthorization))
	mux.Handle("POST "+PathWorkspacePermissionsSess, s.permissionsHandler(s.bySession))
	mux.Handle("POST "+PathWorkspacePermissionsUser, s.permissionsHandler(s.byUsername))
	mux.HandleFunc("GET "+PathWorkspaces, s.workspacesHandler)
	mux.HandleFunc("GET "+PathWorkspaceID, s.workspaceIDHandler)
	mux.HandleFunc("GET "+PathAccountDetails, s.accountDetailsHandler)
	mux.HandleFunc("GET "+PathAccountWorkspaces, s.accountWorkspacesHandler)
	mux.HandleFunc("HEAD /{$}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
}

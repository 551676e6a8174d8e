package adminapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

const (
	// challenge is WWW-Authenticate when no credentials came (RFC 6750 §3).
	challenge = `Bearer realm="ssobroker"`
	// challengeInvalid is WWW-Authenticate for refused credentials.
	challengeInvalid = `Bearer realm="ssobroker", error="invalid_token"`
	// challengeScope is WWW-Authenticate for a user's token that was not
	// issued for the admin API (RFC 6750 §3.1).
	challengeScope = `Bearer realm="ssobroker", error="insufficient_scope", scope="` + AdminScope + `"`
	apiKeyPrefix   = "ssb_"
)

// AdminScope is the scope a user's access token must carry (with the admin
// API named in its aud) to call the admin API; only clients an operator
// registered with --admin-api may ask for it (docs/security.md, "Sessions
// and admin tokens"). It is the tokens package's ScopeAdmin.
const AdminScope = "ssobroker:admin"

// caller is an authenticated principal acting in one organization.
type caller struct {
	// subject is the principal id: "usr_…" or "sa_…".
	subject string
	// keyID is the API key used, when the caller authenticated with one.
	keyID string
	// narrowed is the workspace (name or id) a narrowed token is limited to.
	narrowed string
	// access is the caller's current standing in its org, from the directory.
	access directory.PrincipalAccess
}

// orgID is the one organization the caller acts in.
func (c *caller) orgID() string { return c.access.Org.ID }

func errNoCredentials() error {
	return &apiError{status: http.StatusUnauthorized, code: "unauthorized",
		message: "authentication required: send an access token or API key in the Authorization header", wwwAuthenticate: challenge}
}

// errInsufficientScope refuses a user's access token issued for another
// application: it carries none of its user's admin power.
func errInsufficientScope() error {
	return &apiError{status: http.StatusForbidden, code: "insufficient_scope",
		message: "this access token was not issued for the admin API: sign in through a client allowed the " + AdminScope +
			" scope (ssobroker admin client create --admin-api) and ask for scope " + AdminScope + ", or use an API key",
		wwwAuthenticate: challengeScope}
}

func errInvalidCredentials(cause error) error {
	return &apiError{status: http.StatusUnauthorized, code: "invalid_token",
		message: "the access token or API key is invalid, expired or revoked", wwwAuthenticate: challengeInvalid, cause: cause}
}

// authenticate finds who is calling from the Authorization header and loads
// their current standing from the directory. An API key is "Bearer ssb_…" or
// a bare "ssb_…" (as the Opik SDK sends it); anything else after "Bearer " is
// an access token.
func (a *API) authenticate(r *http.Request) (*caller, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return nil, errNoCredentials()
	}
	cred := h
	if scheme, rest, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		cred = strings.TrimSpace(rest)
	} else if !strings.HasPrefix(h, apiKeyPrefix) {
		return nil, errInvalidCredentials(errors.New("unsupported authorization scheme"))
	}
	if cred == "" {
		return nil, errInvalidCredentials(errors.New("empty credential"))
	}
	ctx := r.Context()
	c := &caller{}
	var orgID string
	if strings.HasPrefix(cred, apiKeyPrefix) {
		kp, err := a.store.LookupAPIKey(ctx, cred)
		if errors.Is(err, directory.ErrNotFound) {
			return nil, errInvalidCredentials(nil)
		}
		if err != nil {
			return nil, err
		}
		if err := a.store.TouchAPIKey(ctx, kp.Key.ID, a.now()); err != nil {
			a.log.WarnContext(ctx, "recording API key use failed", "key", kp.Key.ID, "err", err)
		}
		c.subject, c.keyID, orgID = kp.Account.ID, kp.Key.ID, kp.Key.OrgID
	} else {
		if a.tokens == nil {
			return nil, errInvalidCredentials(errors.New("no token verifier configured"))
		}
		tp, err := a.tokens.VerifyAccessToken(ctx, cred)
		if err != nil {
			if errors.Is(err, ErrVerifierUnavailable) || errors.Is(err, directory.ErrUnavailable) {
				return nil, &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
					message: "access tokens cannot be verified right now; retry shortly", cause: err}
			}
			return nil, errInvalidCredentials(nil)
		}
		if tp.Subject == "" || tp.OrgID == "" {
			return nil, errInvalidCredentials(errors.New("token names no subject or organization"))
		}
		// A user's token is admin power only when issued for the admin
		// API; a service account's token is the org's own automation.
		if directory.PrincipalTypeOf(tp.Subject) == directory.PrincipalUser && !tp.AdminAPI {
			return nil, errInsufficientScope()
		}
		c.subject, c.narrowed, orgID = tp.Subject, tp.Workspace, tp.OrgID
	}
	pa, err := a.store.PrincipalAccess(ctx, orgID, c.subject)
	if errors.Is(err, directory.ErrNotFound) {
		// A valid credential of someone no longer a member (or of a deleted
		// org) grants nothing: removal takes effect at once.
		return nil, errInvalidCredentials(err)
	}
	if err != nil {
		return nil, err
	}
	c.access = pa
	return c, nil
}

// checkOrg confines the caller to its own organization: {org} naming any
// other (by id or name) is "not found", exactly as for an org that does not
// exist, and is decided without looking the other org up.
func (c *caller) checkOrg(ref string) error {
	o := c.access.Org
	if ref == o.ID || strings.ToLower(ref) == strings.ToLower(o.Name) {
		return nil
	}
	return notFound("organization \"" + ref + "\" not found")
}

// orgScoped are the permissions that are not about one workspace.
const orgScoped = access.Set(access.OrgCreateWorkspace | access.OrgInvite | access.OrgAdmin)

// permissions returns the caller's permissions in workspace ws (nil: none in
// particular, only the org-scoped ones and what holds in every workspace)
// under the org's current settings, by the one permission function. A
// narrowed token keeps only its workspace's workspace-scoped permissions.
func (c *caller) permissions(ws *directory.Workspace) access.Set {
	var m *access.Membership
	if ws != nil {
		for i := range c.access.Workspaces {
			if c.access.Workspaces[i].WorkspaceID == ws.ID {
				m = &c.access.Workspaces[i].Membership
				break
			}
		}
	}
	set := access.Effective(c.access.Member.Role, m, c.access.Org.Settings.Access())
	if c.narrowed != "" {
		if ws == nil || (ws.ID != c.narrowed && ws.Name != c.narrowed) {
			return 0
		}
		set &^= orgScoped
	}
	return set
}

// can reports whether the caller has perm in ws (nil for org-scoped permissions).
func (c *caller) can(perm access.Permission, ws *directory.Workspace) bool {
	return c.permissions(ws).Has(perm)
}

// require is the one authorization check of the admin API: it fails with 403
// naming perm unless the caller has it in ws (nil for org-scoped permissions).
func (c *caller) require(perm access.Permission, ws *directory.Workspace) error {
	if c.can(perm, ws) {
		return nil
	}
	return forbidden("missing permission " + perm.String())
}

// isNarrowedAway reports whether a narrowed token may not see workspace ws.
func (c *caller) isNarrowedAway(ws directory.Workspace) bool {
	return c.narrowed != "" && ws.ID != c.narrowed && ws.Name != c.narrowed
}

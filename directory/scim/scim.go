// Package scim is ssobroker's SCIM 2.0 server (RFC 7643, RFC 7644), one per
// organization at /scim/v2/{org}: Users, Groups, ServiceProviderConfig,
// ResourceTypes and Schemas, in application/scim+json. An organization's
// identity provider (Microsoft Entra ID, Okta, …) authenticates with a SCIM
// token of that organization (scim_…, created by an org admin through the
// admin API) and reads and writes only that organization.
//
// Users are the org's members plus the users its SCIM client created or
// deactivated; userName is the sign-in email, active is membership. Turning
// a user inactive or deleting it removes it from the org and ends its
// browser sessions and refresh-token families at once (SessionRevoker).
// Groups feed the org's connections' group → role mapping by display name.
// docs/scim.md describes the dialects accepted and the mapping.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// Store is what the SCIM server needs of the directory; *directory.SQLStore
// satisfies it.
type Store interface {
	LookupSCIMToken(ctx context.Context, secret string) (directory.SCIMToken, error)
	GetOrg(ctx context.Context, ref string) (directory.Organization, error)
	ListConnections(ctx context.Context, orgID string) ([]directory.Connection, error)

	ListSCIMUsers(ctx context.Context, orgID string, f directory.SCIMUserFilter) ([]directory.SCIMUser, int, error)
	GetSCIMUser(ctx context.Context, orgID, userID string) (directory.SCIMUser, error)
	CreateSCIMUser(ctx context.Context, actor, orgID string, in directory.SCIMUserInput, m directory.GroupMapping) (directory.SCIMUser, error)
	ReplaceSCIMUser(ctx context.Context, actor, orgID, userID string, in directory.SCIMUserInput, ifVersion int64, m directory.GroupMapping) (directory.SCIMUser, error)
	DeleteSCIMUser(ctx context.Context, actor, orgID, userID string, ifVersion int64) error

	ListSCIMGroups(ctx context.Context, orgID string, f directory.SCIMGroupFilter) ([]directory.SCIMGroup, int, error)
	GetSCIMGroup(ctx context.Context, orgID, id string, withMembers bool) (directory.SCIMGroup, error)
	CreateSCIMGroup(ctx context.Context, actor, orgID, displayName, externalID string, members []string, m directory.GroupMapping) (directory.SCIMGroup, error)
	UpdateSCIMGroup(ctx context.Context, actor, orgID, id string, ch directory.SCIMGroupChange, ifVersion int64, m directory.GroupMapping) (directory.SCIMGroup, error)
	DeleteSCIMGroup(ctx context.Context, actor, orgID, id string, ifVersion int64, m directory.GroupMapping) error
}

var _ Store = (*directory.SQLStore)(nil)

// SessionRevoker ends a user's browser sessions and refresh-token families
// (the admin API's revoker does it for removed members too).
type SessionRevoker interface {
	RevokeUser(ctx context.Context, orgID, userID string) error
}

// Config is what New needs; Store and Sessions are required.
type Config struct {
	Store Store
	// Sessions ends the sessions of users SCIM deactivates or deletes.
	Sessions SessionRevoker
	// Issuer is the broker's public base URL, for meta.location.
	Issuer string
	// Logger receives failures; nil discards them. Tokens are never logged.
	Logger *slog.Logger
}

// Server serves the SCIM API. Create it with New and mount it with Routes.
type Server struct {
	store    Store
	sessions SessionRevoker
	issuer   string
	log      *slog.Logger
}

// New returns the SCIM server for cfg; a missing dependency is an error
// (docs/architecture.md, "Construction and failures").
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("scim: Config.Store is required")
	}
	if cfg.Sessions == nil {
		return nil, errors.New("scim: Config.Sessions is required (deactivation must end sessions)")
	}
	s := &Server{store: cfg.Store, sessions: cfg.Sessions, issuer: strings.TrimRight(cfg.Issuer, "/"), log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Prefix is where the SCIM API lives.
const Prefix = "/scim/v2/{org}"

// Routes registers every SCIM route on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	for _, rt := range []struct {
		pattern string
		h       func(*Server, http.ResponseWriter, *http.Request, *caller) error
	}{
		{"GET " + Prefix + "/Users", (*Server).listUsers},
		{"POST " + Prefix + "/Users", (*Server).createUser},
		{"GET " + Prefix + "/Users/{id}", (*Server).getUser},
		{"PUT " + Prefix + "/Users/{id}", (*Server).putUser},
		{"PATCH " + Prefix + "/Users/{id}", (*Server).patchUser},
		{"DELETE " + Prefix + "/Users/{id}", (*Server).deleteUser},
		{"GET " + Prefix + "/Groups", (*Server).listGroups},
		{"POST " + Prefix + "/Groups", (*Server).createGroup},
		{"GET " + Prefix + "/Groups/{id}", (*Server).getGroup},
		{"PUT " + Prefix + "/Groups/{id}", (*Server).putGroup},
		{"PATCH " + Prefix + "/Groups/{id}", (*Server).patchGroup},
		{"DELETE " + Prefix + "/Groups/{id}", (*Server).deleteGroup},
		{"GET " + Prefix + "/ServiceProviderConfig", (*Server).serviceProviderConfig},
		{"GET " + Prefix + "/ResourceTypes", (*Server).resourceTypes},
		{"GET " + Prefix + "/ResourceTypes/{id}", (*Server).resourceType},
		{"GET " + Prefix + "/Schemas", (*Server).schemas},
		{"GET " + Prefix + "/Schemas/{id}", (*Server).schema},
	} {
		mux.Handle(rt.pattern, s.handler(rt.h))
	}
}

// caller is an authenticated SCIM client: one token of one org.
type caller struct {
	token directory.SCIMToken
	org   directory.Organization
	base  string // {issuer}/scim/v2/{org id}
}

func (c *caller) actor() string { return "scim:" + c.token.ID }

func (s *Server) handler(h func(*Server, http.ResponseWriter, *http.Request, *caller) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		c, err := s.authenticate(r)
		if err == nil {
			err = h(s, w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authenticate accepts "Authorization: Bearer scim_…" of the org in the
// path; a token of another org gets 404, as an org that does not exist.
func (s *Server) authenticate(r *http.Request) (*caller, error) {
	auth := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, &scimError{status: http.StatusUnauthorized, detail: "a SCIM bearer token of this organization is required"}
	}
	tok, err := s.store.LookupSCIMToken(r.Context(), strings.TrimSpace(secret))
	if errors.Is(err, directory.ErrNotFound) {
		return nil, &scimError{status: http.StatusUnauthorized, detail: "the SCIM token is unknown or revoked"}
	}
	if err != nil {
		return nil, err
	}
	ref := r.PathValue("org")
	org, err := s.store.GetOrg(r.Context(), tok.OrgID)
	if err != nil {
		return nil, err
	}
	if ref != org.ID && !strings.EqualFold(ref, org.Name) {
		return nil, &scimError{status: http.StatusNotFound, detail: "organization " + strconv.Quote(ref) + " not found"}
	}
	return &caller{token: tok, org: org, base: s.issuer + "/scim/v2/" + org.ID}, nil
}

// mapping reads the group → role mapping of the org's enabled connections
// (group_roles, group_workspaces in their configuration, as sign-in applies
// it), merged: the strongest role per group, owner over member per workspace.
func (s *Server) mapping(ctx context.Context, orgID string) (directory.GroupMapping, error) {
	conns, err := s.store.ListConnections(ctx, orgID)
	if err != nil {
		return directory.GroupMapping{}, err
	}
	var m directory.GroupMapping
	for _, c := range conns {
		if !c.Enabled {
			continue
		}
		var cfg struct {
			GroupRoles      map[string]access.OrgRole                  `json:"group_roles"`
			GroupWorkspaces map[string]map[string]access.WorkspaceRole `json:"group_workspaces"`
		}
		if len(c.Config) > 0 {
			if err := json.Unmarshal(c.Config, &cfg); err != nil {
				s.log.WarnContext(ctx, "SCIM: connection configuration unreadable; its group mapping is not applied", "org", orgID, "connection", c.ID, "err", err)
				continue
			}
		}
		for g, role := range cfg.GroupRoles {
			if m.Roles == nil {
				m.Roles = map[string]access.OrgRole{}
			}
			m.Roles[g] = access.Stronger(m.Roles[g], role)
		}
		if cfg.GroupWorkspaces != nil && m.Workspaces == nil {
			m.Workspaces = map[string]map[string]access.WorkspaceRole{}
		}
		for g, refs := range cfg.GroupWorkspaces {
			if m.Workspaces[g] == nil {
				m.Workspaces[g] = map[string]access.WorkspaceRole{}
			}
			for ref, role := range refs {
				if m.Workspaces[g][ref] != access.WorkspaceOwner {
					m.Workspaces[g][ref] = role
				}
			}
		}
	}
	return m, nil
}

// --- errors (RFC 7644 §3.12) ---

const errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// scimError is an answer with the SCIM error schema.
type scimError struct {
	status   int
	scimType string
	detail   string
}

func (e *scimError) Error() string { return e.detail }

func badRequest(scimType, format string, a ...any) error {
	return &scimError{status: http.StatusBadRequest, scimType: scimType, detail: fmt.Sprintf(format, a...)}
}

// classify turns an error into a SCIM error; the second result says whether
// it is ours (logged).
func classify(err error) (*scimError, bool) {
	var se *scimError
	var ie *directory.InvalidError
	var inv *directory.InvariantError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se, false
	case errors.As(err, &mbe):
		return &scimError{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}, false
	case errors.Is(err, directory.ErrNotFound):
		return &scimError{status: http.StatusNotFound, detail: "resource not found"}, false
	case errors.Is(err, directory.ErrConflict):
		var ce *directory.ConflictError
		d := "the resource conflicts with an existing one"
		if errors.As(err, &ce) {
			d = ce.Message
		}
		return &scimError{status: http.StatusConflict, scimType: "uniqueness", detail: d}, false
	case errors.Is(err, directory.ErrVersionMismatch):
		return &scimError{status: http.StatusPreconditionFailed, detail: "the resource changed: its version no longer matches If-Match"}, false
	case errors.As(err, &ie):
		return &scimError{status: http.StatusBadRequest, scimType: "invalidValue", detail: ie.Error()}, false
	case errors.As(err, &inv):
		return &scimError{status: http.StatusBadRequest, scimType: "mutability", detail: inv.Message}, false
	case errors.Is(err, directory.ErrUnavailable):
		return &scimError{status: http.StatusServiceUnavailable, detail: "the directory is unavailable; retry later"}, true
	}
	return &scimError{status: http.StatusInternalServerError, detail: "internal error"}, true
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	se, ours := classify(err)
	if ours {
		s.log.ErrorContext(r.Context(), "SCIM request failed", "method", r.Method, "path", r.URL.Path, "status", se.status, "err", err)
	}
	if se.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
	}
	body := map[string]any{"schemas": []string{errorSchema}, "status": strconv.Itoa(se.status), "detail": se.detail}
	if se.scimType != "" {
		body["scimType"] = se.scimType
	}
	writeJSON(w, se.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"schemas":["`+errorSchema+`"],"status":"500","detail":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/scim+json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// maxBody bounds a request body: a group PUT with 10,000 members fits.
const maxBody = 4 << 20

// readBody decodes a JSON object body with case as sent.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("invalidSyntax", "the request body is not a JSON object")
	}
	if dec.More() {
		return nil, badRequest("invalidSyntax", "the request body has data after the JSON object")
	}
	if m == nil {
		return nil, badRequest("invalidSyntax", "the request body is not a JSON object")
	}
	return m, nil
}

// --- ETags ---

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version If-Match names: 0 when absent or "*".
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	v = strings.TrimPrefix(v, "W/")
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if err != nil || n <= 0 {
		return 0, &scimError{status: http.StatusPreconditionFailed, detail: "If-Match names no version of this resource"}
	}
	return n, nil
}

// notModified answers 304 when If-None-Match names the current version.
func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		if t = strings.TrimSpace(t); t == etag(version) || t == strings.TrimPrefix(etag(version), "W/") {
			w.Header().Set("ETag", etag(version))
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339) }

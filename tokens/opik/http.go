package opik

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// failure is a refusal with the status Opik acts on: 400 (its message is
// passed on), 401, 403, and 503 (retried) only when a store is away. Opik
// turns any other status into a 500.
type failure struct {
	status int
	msg    string
	cause  error
}

func (f *failure) Error() string {
	if f.cause != nil {
		return f.msg + ": " + f.cause.Error()
	}
	return f.msg
}

func (f *failure) Unwrap() error { return f.cause }

func badRequest(msg string) *failure   { return &failure{status: http.StatusBadRequest, msg: msg} }
func unauthorized(msg string) *failure { return &failure{status: http.StatusUnauthorized, msg: msg} }
func forbidden(msg string) *failure    { return &failure{status: http.StatusForbidden, msg: msg} }

func unavailable(cause error) *failure {
	return &failure{status: http.StatusServiceUnavailable, msg: "ssobroker cannot reach its directory or session store right now; retry shortly", cause: cause}
}

func quote(s string) string { return strconv.Quote(s) }

// isUnavailable reports whether err is a store failure (503) rather than a refusal.
func isUnavailable(err error) bool {
	var f *failure
	return !errors.As(err, &f) || f.status == http.StatusServiceUnavailable
}

// errorBody is every error answer: {"msg":"…","code":401}, what the Opik
// backend reads (ReactServiceErrorResponse).
type errorBody struct {
	Msg  string `json:"msg"`
	Code int    `json:"code"`
}

// fail renders err, the one place errors become answers. An error that is
// not a *failure can only come from a store, so it is a 503.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var f *failure
	if !errors.As(err, &f) {
		f = unavailable(err)
	}
	if f.status == http.StatusServiceUnavailable {
		s.log.WarnContext(r.Context(), "opik: store unavailable", "path", r.URL.Path, "err", err)
		w.Header()["Retry-After"] = retryOnce
	} else {
		s.log.DebugContext(r.Context(), "opik: refused", "path", r.URL.Path, "status", f.status, "reason", f.msg)
	}
	writeJSON(w, f.status, errorBody{Msg: f.msg, Code: f.status})
}

// Header values shared by every answer: assigning a slice no one modifies
// saves three allocations per call on the hot path.
var (
	jsonType  = []string{"application/json"}
	textType  = []string{"text/plain; charset=utf-8"}
	noStore   = []string{"no-store"}
	noSniff   = []string{"nosniff"}
	retryOnce = []string{"1"}
)

func setHeaders(w http.ResponseWriter, contentType []string) {
	h := w.Header()
	h["Content-Type"] = contentType
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"msg":"internal error","code":500}`)
	}
	setHeaders(w, jsonType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// maxBody bounds a request body; Opik's are a few hundred bytes.
const maxBody = 64 << 10

// workspaceRequest is the body of every POST: the auth endpoints send all
// three fields (path and requiredPermissions may be absent), the
// workspace-permissions endpoints only workspaceName. Path is the Opik
// route being authorised — /v1/private/… or, since Opik's Agent Insights,
// /v1/internal/analytics-queries/… — and decides nothing: every path is
// answered by the caller, the workspace and the required permissions alone
// (docs/opik.md), so a route Opik adds needs no change here. Unknown fields are
// ignored, so a newer Opik adding one is still understood.
type workspaceRequest struct {
	WorkspaceName       string   `json:"workspaceName"`
	Path                string   `json:"path"`
	RequiredPermissions []string `json:"requiredPermissions"`
}

// readRequest decodes the body; anything but a JSON object naming a
// workspace is a 400.
func readRequest(r *http.Request) (workspaceRequest, error) {
	var req workspaceRequest
	bp := bodies.Get().(*[]byte)
	defer bodies.Put(bp)
	body, err := readBody(r.Body, (*bp)[:0])
	*bp = body[:0]
	switch {
	case errors.Is(err, errTooLarge):
		return req, badRequest("the request body is larger than 64 KiB")
	case err != nil:
		return req, badRequest("the request body could not be read")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, badRequest("malformed JSON body: " + err.Error())
	}
	if req.WorkspaceName == "" {
		return req, badRequest("workspaceName is required")
	}
	return req, nil
}

// bodies recycles request buffers: the JSON decoder copies what it keeps.
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

var errTooLarge = errors.New("body too large")

// readBody appends body to buf, up to maxBody bytes.
func readBody(body io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxBody {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// authAnswer is what RemoteAuthService reads from a successful /opik/auth*.
type authAnswer struct {
	User          string     `json:"user"`
	WorkspaceID   string     `json:"workspaceId"`
	WorkspaceName string     `json:"workspaceName"`
	Quotas        []struct{} `json:"quotas"`
}

// authHandler answers /opik/auth, /opik/auth-session and
// /opik/auth-by-username: may the caller act in the workspace with the
// required permissions?
func (s *Service) authHandler(by authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readRequest(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, err := by(r, req.WorkspaceName)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		g, err := s.authorize(r.Context(), &p, req.WorkspaceName, req.RequiredPermissions)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, authAnswer{User: p.userName(), WorkspaceID: g.ws.ID, WorkspaceName: g.ws.Name, Quotas: []struct{}{}})
	})
}

type permissionValue struct {
	Name  string `json:"permissionName"`
	Value string `json:"permissionValue"`
}

type permissionsAnswer struct {
	UserName      string            `json:"userName"`
	WorkspaceName string            `json:"workspaceName"`
	Permissions   []permissionValue `json:"permissions"`
}

// permissionsHandler answers /opik/workspace-permissions*: every Opik
// permission of the table, then every name of the operator's map, with
// "true" or "false" for the caller in the workspace. A
// workspace the caller may not use at all is a 403, as for /opik/auth.
func (s *Service) permissionsHandler(by authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readRequest(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, err := by(r, req.WorkspaceName)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		g, err := s.authorize(r.Context(), &p, req.WorkspaceName, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := permissionsAnswer{UserName: p.userName(), WorkspaceName: g.ws.Name,
			Permissions: make([]permissionValue, 0, len(opikPermissions)+s.perms.Len())}
		for _, op := range opikPermissions {
			out.Permissions = append(out.Permissions, permissionValue{Name: op.name, Value: strconv.FormatBool(g.set.Has(op.perm))})
		}
		// Then the operator's names, sorted.
		for _, name := range s.perms.names {
			out.Permissions = append(out.Permissions, permissionValue{Name: name, Value: strconv.FormatBool(g.set.Has(s.perms.m[name]))})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

type workspaceEntry struct {
	ID   string `json:"workspaceId"`
	Name string `json:"workspaceName"`
}

// workspacesHandler answers GET /workspaces (Opik's UI, with the session
// cookie; an Authorization header works too): the caller's workspaces.
// withoutExtendedData is accepted and changes nothing: no extended data is
// ever sent.
func (s *Service) workspacesHandler(w http.ResponseWriter, r *http.Request) {
	p, err := s.byCookieOrAuthorization(r, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.workspaces(r.Context(), &p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]workspaceEntry, len(list))
	for i, ws := range list {
		out[i] = workspaceEntry{ID: ws.ID, Name: ws.Name}
	}
	writeJSON(w, http.StatusOK, out)
}

// workspaceIDHandler answers GET /workspaces/workspace-id?name=NAME without
// credentials, as Opik asks it for public projects: the id as plain text,
// or 400 {"msg"} for a name that names no workspace ("default" included:
// there is no caller to take a default from).
func (s *Service) workspaceIDHandler(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		s.fail(w, r, badRequest("the name query parameter is required"))
		return
	}
	ws, err := s.workspaceNamed(r.Context(), name)
	if err != nil {
		s.fail(w, r, storeError(err, badRequest("workspace "+quote(name)+" not found")))
		return
	}
	setHeaders(w, textType)
	_, _ = io.WriteString(w, ws.ID)
}

// accountDetailsHandler answers GET /api/rest/v2/account-details for the
// Opik SDK's `opik configure`: the caller's user name and default workspace
// ("" when it has none).
func (s *Service) accountDetailsHandler(w http.ResponseWriter, r *http.Request) {
	p, err := s.byAuthorization(r, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	def, err := s.defaultWorkspaceName(r.Context(), &p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		UserName             string `json:"userName"`
		DefaultWorkspaceName string `json:"defaultWorkspaceName"`
	}{p.userName(), def})
}

// accountWorkspacesHandler answers GET /api/rest/v2/workspaces for the Opik
// SDK: the names of the caller's workspaces.
func (s *Service) accountWorkspacesHandler(w http.ResponseWriter, r *http.Request) {
	p, err := s.byAuthorization(r, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.workspaces(r.Context(), &p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := make([]string, len(list))
	for i, ws := range list {
		names[i] = ws.Name
	}
	writeJSON(w, http.StatusOK, struct {
		WorkspaceNames []string `json:"workspaceNames"`
	}{names})
}

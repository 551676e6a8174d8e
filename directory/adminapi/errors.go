package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ssobroker/ssobroker/directory"
)

// apiError is an error with the HTTP status, code and message the client sees.
type apiError struct {
	status  int
	code    string
	message string
	field   string
	// wwwAuthenticate, when set, is sent as the WWW-Authenticate header.
	wwwAuthenticate string
	// cause is logged, never shown.
	cause error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.message + ": " + e.cause.Error()
	}
	return e.message
}

func (e *apiError) Unwrap() error { return e.cause }

// errorBody is the JSON of every error: {"error":{"code","message","field"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func badRequest(msg string) error {
	return &apiError{status: http.StatusBadRequest, code: "bad_request", message: msg}
}

func invalidField(field, msg string) error {
	return &apiError{status: http.StatusUnprocessableEntity, code: "invalid", message: msg, field: field}
}

func forbidden(msg string) error {
	return &apiError{status: http.StatusForbidden, code: "forbidden", message: msg}
}

func notFound(msg string) error {
	return &apiError{status: http.StatusNotFound, code: "not_found", message: msg}
}

// retryAfterSeconds is what a 503 tells clients to wait.
const retryAfterSeconds = "5"

// classify turns any error into what the client sees. It is the one place
// where errors become statuses.
func classify(err error) (status int, body errorDetail, hdr map[string]string, logIt bool) {
	var ae *apiError
	var inv *directory.InvalidError
	var inva *directory.InvariantError
	var nf *directory.NotFoundError
	var cf *directory.ConflictError
	var mbe *http.MaxBytesError
	var ge *directory.GrantError
	switch {
	case errors.As(err, &ae):
		hdr = map[string]string{}
		if ae.wwwAuthenticate != "" {
			hdr["WWW-Authenticate"] = ae.wwwAuthenticate
		}
		if ae.status == http.StatusServiceUnavailable {
			hdr["Retry-After"] = retryAfterSeconds
		}
		return ae.status, errorDetail{Code: ae.code, Message: ae.message, Field: ae.field}, hdr, ae.status >= 500
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, errorDetail{Code: "too_large", Message: "the request body is larger than 64 KiB"}, nil, false
	case errors.As(err, &ge):
		return http.StatusForbidden, errorDetail{Code: "forbidden", Message: ge.Message}, nil, false
	case errors.Is(err, directory.ErrGrantNotAllowed):
		return http.StatusForbidden, errorDetail{Code: "forbidden", Message: "the grant goes beyond your own permissions"}, nil, false
	case errors.As(err, &inv):
		return http.StatusUnprocessableEntity, errorDetail{Code: "invalid", Message: inv.Message, Field: inv.Field}, nil, false
	case errors.As(err, &inva):
		return http.StatusConflict, errorDetail{Code: inva.Rule, Message: inva.Message}, nil, false
	case errors.As(err, &nf):
		return http.StatusNotFound, errorDetail{Code: "not_found", Message: nf.Error()}, nil, false
	case errors.As(err, &cf):
		return http.StatusConflict, errorDetail{Code: "conflict", Message: cf.Message}, nil, false
	case errors.Is(err, directory.ErrNotFound):
		return http.StatusNotFound, errorDetail{Code: "not_found", Message: "not found"}, nil, false
	case errors.Is(err, directory.ErrConflict):
		return http.StatusConflict, errorDetail{Code: "conflict", Message: "the change conflicts with an existing object"}, nil, false
	case errors.Is(err, directory.ErrInvariant):
		return http.StatusConflict, errorDetail{Code: "invariant", Message: "the change would break a rule of the directory"}, nil, false
	case errors.Is(err, directory.ErrInvalid):
		return http.StatusUnprocessableEntity, errorDetail{Code: "invalid", Message: "invalid input"}, nil, false
	case errors.Is(err, directory.ErrVersionMismatch):
		return http.StatusPreconditionFailed, errorDetail{Code: "precondition_failed",
			Message: "the object changed since the version named in If-Match; read it again"}, nil, false
	case errors.Is(err, directory.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, errorDetail{Code: "unavailable", Message: "the directory is unavailable; retry shortly"},
			map[string]string{"Retry-After": retryAfterSeconds}, true
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return http.StatusServiceUnavailable, errorDetail{Code: "canceled", Message: "request canceled"}, nil, false
	}
	return http.StatusInternalServerError, errorDetail{Code: "internal", Message: "internal error"}, nil, true
}

// writeError renders err and logs what the client must not see.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, hdr, logIt := classify(err)
	if logIt {
		a.log.LogAttrs(r.Context(), levelFor(status), "admin API request failed",
			slogString("method", r.Method), slogString("path", r.URL.Path),
			slogInt("status", status), slogString("err", err.Error()))
	}
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	writeJSON(w, status, errorBody{Error: body})
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here; they always marshal.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeNoContent answers 204.
func writeNoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

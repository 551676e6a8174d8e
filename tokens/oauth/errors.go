package oauth

import (
	"errors"
	"net/http"
	"time"

	"github.com/ssobroker/ssobroker/tokens"
)

// Error is an OAuth 2.0 error as answered over HTTP: a tokens.Error with
// the HTTP status its code is sent with, or an error of this package's own
// (a request body too large). asOAuth is the one place where errors become
// statuses.
type Error struct {
	Code        string
	Description string
	Status      int
	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration
	Cause      error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// asOAuth returns the HTTP answer to err: an *Error of this package as it
// is; a tokens.Error with its status — 401 invalid_client, 429 when
// throttled (tokens.ErrThrottled), 503 temporarily_unavailable, 500
// server_error, 400 otherwise (RFC 6749 §5.2); any other error a 500
// server_error.
func asOAuth(err error) *Error {
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	te := tokens.AsError(err)
	status := http.StatusBadRequest
	switch {
	case te.Code == tokens.CodeInvalidClient:
		status = http.StatusUnauthorized
	case te.Code == tokens.CodeTemporarilyUnavailable && errors.Is(te.Cause, tokens.ErrThrottled):
		status = http.StatusTooManyRequests
	case te.Code == tokens.CodeTemporarilyUnavailable:
		status = http.StatusServiceUnavailable
	case te.Code == tokens.CodeServerError:
		status = http.StatusInternalServerError
	}
	return &Error{Code: te.Code, Description: te.Description, Status: status, RetryAfter: te.RetryAfter, Cause: te.Cause}
}

// errTooLargeBody is the answer to a request body past maxFormBytes.
func errTooLargeBody() *Error {
	return &Error{Code: tokens.CodeInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
}

// invalidRequest is invalid_request (400) with description desc.
func invalidRequest(desc string) *Error { return asOAuth(tokens.InvalidRequest(desc)) }

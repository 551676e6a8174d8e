package tokens

import (
	"errors"
	"net/http"
	"time"
)

// OAuth 2.0 error codes (RFC 6749 §5.2, RFC 7009 §2.2.1) used by this package.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeInvalidGrant           = "invalid_grant"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeServerError            = "server_error"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is an OAuth 2.0 error: what the token, introspection and
// revocation endpoints answer, with its HTTP status. Cause, when set, is the
// internal reason; it is logged, never sent.
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

func oauthErr(status int, code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

func errInvalidRequest(desc string) *Error {
	return oauthErr(http.StatusBadRequest, CodeInvalidRequest, desc)
}

// errInvalidClient is one answer for every authentication failure, so the
// response never tells an unknown client from a wrong secret.
func errInvalidClient(cause error) *Error {
	return &Error{Code: CodeInvalidClient, Description: "client authentication failed", Status: http.StatusUnauthorized, Cause: cause}
}

func errUnavailable(cause error) *Error {
	return &Error{Code: CodeTemporarilyUnavailable, Description: "the authorization server is temporarily unavailable",
		Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Cause: cause}
}

func errServer(cause error) *Error {
	return &Error{Code: CodeServerError, Description: "internal error", Status: http.StatusInternalServerError, Cause: cause}
}

// asOAuth turns any error into an *Error, a plain error being a server error.
func asOAuth(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return errServer(err)
}

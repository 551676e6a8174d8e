package tokens

import (
	"errors"
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

// ErrThrottled is the cause of the answer to a failed client
// authentication past the failure limits (Issuer.Throttle): the HTTP
// surface (package tokens/oauth) answers it 429, not 503.
var ErrThrottled = errors.New("tokens: too many failed authentication attempts")

// Error is an OAuth 2.0 error: what the token, authorization,
// introspection and revocation endpoints answer. Which HTTP status each
// code is sent with is decided in one place, package tokens/oauth. Cause,
// when set, is the internal reason; it is logged, never sent.
type Error struct {
	Code        string
	Description string
	// RetryAfter, when positive, is how long the client should wait
	// (sent as the Retry-After header).
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

// ServerSide reports whether the error is ours rather than the client's:
// server_error, or temporarily_unavailable other than throttling.
func (e *Error) ServerSide() bool {
	return e.Code == CodeServerError || (e.Code == CodeTemporarilyUnavailable && !errors.Is(e.Cause, ErrThrottled))
}

func oauthErr(code, desc string) *Error { return &Error{Code: code, Description: desc} }

// InvalidRequest returns the invalid_request error with description desc.
func InvalidRequest(desc string) *Error { return oauthErr(CodeInvalidRequest, desc) }

func errInvalidRequest(desc string) *Error { return InvalidRequest(desc) }

// InvalidClient is one answer for every authentication failure, so the
// response never tells an unknown client from a wrong secret; cause says
// which (logged).
func InvalidClient(cause error) *Error {
	return &Error{Code: CodeInvalidClient, Description: "client authentication failed", Cause: cause}
}

func errInvalidClient(cause error) *Error { return InvalidClient(cause) }

func errUnavailable(cause error) *Error {
	return &Error{Code: CodeTemporarilyUnavailable, Description: "the authorization server is temporarily unavailable",
		RetryAfter: time.Second, Cause: cause}
}

// ServerError is the answer to an internal failure, cause logged.
func ServerError(cause error) *Error {
	return &Error{Code: CodeServerError, Description: "internal error", Cause: cause}
}

func errServer(cause error) *Error { return ServerError(cause) }

// AsError turns any error into an *Error, a plain error being a server
// error.
func AsError(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return errServer(err)
}

func asOAuth(err error) *Error { return AsError(err) }

package verify

import "errors"

// ErrInvalidToken is wrapped by every error Verify returns for a token that
// must be refused: malformed, forged, expired, meant for someone else. Test
// with errors.Is; errors.As with *TokenError gives the precise reason.
var ErrInvalidToken = errors.New("invalid token")

// ErrExpired is wrapped (together with ErrInvalidToken) by the error Verify
// returns for a token whose exp has passed, beyond the leeway. Clients may
// react by refreshing instead of signing in again.
var ErrExpired = errors.New("token expired")

// ErrUnknownKey is returned by a KeySource when it holds no key with the
// requested kid. Verify wraps it in a *TokenError.
var ErrUnknownKey = errors.New("unknown key id")

// ErrKeysUnavailable is returned by a KeySource that has never obtained any
// key (the JWKS endpoint was never reachable). Verify passes it through
// without ErrInvalidToken: the token may be fine, the verifier cannot tell,
// and Middleware answers 503 rather than 401.
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// ErrKIDRequired is returned by a RemoteKeySet with KeysWithoutKID when a
// token names no key and the set holds several: which one is meant must
// not be guessed.
var ErrKIDRequired = errors.New("kid required: the key set holds several keys")

// TokenError is the error Verify returns for a refused token. It wraps
// ErrInvalidToken and, when there is one, a more precise cause such as
// ErrExpired or ErrUnknownKey.
type TokenError struct {
	// Reason is a short, fixed, client-safe description such as
	// "token expired" or "signature invalid". It never contains input
	// taken from the token, so it may go into a WWW-Authenticate header.
	Reason string
	// Err is the underlying cause, or nil. It may carry details from the
	// token or from jwx, meant for logs rather than for the client.
	Err error
}

// Error returns "invalid token: " followed by the reason and, when present,
// the cause.
func (e *TokenError) Error() string {
	if e.Err == nil {
		return "invalid token: " + e.Reason
	}
	return "invalid token: " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns ErrInvalidToken and the cause, so that errors.Is matches
// both.
func (e *TokenError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidToken}
	}
	return []error{ErrInvalidToken, e.Err}
}

// invalid builds a *TokenError.
func invalid(reason string, cause error) error {
	return &TokenError{Reason: reason, Err: cause}
}

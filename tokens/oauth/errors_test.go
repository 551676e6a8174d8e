package oauth

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"
)

// TestEachErrorHasItsStatus: the one mapping of tokens.Error codes to HTTP
// statuses (RFC 6749 §5.2), a throttled failure being 429 (see also
// tokens.TestThrottledAnswerKeepsTheCause).
func TestEachErrorHasItsStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{tokens.InvalidRequest("x"), http.StatusBadRequest},
		{&tokens.Error{Code: tokens.CodeInvalidGrant}, http.StatusBadRequest},
		{&tokens.Error{Code: tokens.CodeInvalidScope}, http.StatusBadRequest},
		{&tokens.Error{Code: tokens.CodeUnsupportedGrantType}, http.StatusBadRequest},
		{tokens.InvalidClient(nil), http.StatusUnauthorized},
		{fmt.Errorf("wrapped: %w", tokens.InvalidClient(nil)), http.StatusUnauthorized},
		{&tokens.Error{Code: tokens.CodeTemporarilyUnavailable, RetryAfter: time.Second}, http.StatusServiceUnavailable},
		{&tokens.Error{Code: tokens.CodeTemporarilyUnavailable, Cause: fmt.Errorf("%w: x", tokens.ErrThrottled)}, http.StatusTooManyRequests},
		{tokens.ServerError(nil), http.StatusInternalServerError},
		{fmt.Errorf("plain"), http.StatusInternalServerError},
		{errTooLargeBody(), http.StatusRequestEntityTooLarge},
	} {
		if got := asOAuth(c.err).Status; got != c.want {
			t.Errorf("%v: status %d, want %d", c.err, got, c.want)
		}
	}
}

package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ssobroker/ssobroker/directory/access"
)

type claimsContextKey struct{}

// WithClaims returns a copy of ctx carrying c, as Middleware stores it. It
// lets tests of relying services fake an authenticated request.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsContextKey{}, c)
}

// FromContext returns the claims Middleware stored in ctx, or false when
// there are none.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsContextKey{}).(*Claims)
	return c, ok && c != nil
}

// Middleware authenticates each request with v. It accepts
// "Authorization: Bearer <jwt>" (scheme in any case) and a bare
// "Authorization: <jwt>", and passes the request on with the claims in its
// context (see FromContext). Otherwise it answers, with a JSON body
// {"error":{"code","message"}}:
//   - no token: 401, WWW-Authenticate: Bearer realm="…" (no error code,
//     RFC 6750 §3.1), code "unauthorized";
//   - several Authorization headers: 400, error="invalid_request";
//   - a refused token or another scheme: 401, WWW-Authenticate: Bearer
//     realm="…", error="invalid_token", error_description="<reason>", code
//     "invalid_token";
//   - keys unavailable or any other failure to decide: 503 with Retry-After,
//     code "unavailable".
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header.Values("Authorization")
			if len(values) > 1 {
				v.challenge(w, http.StatusBadRequest, "invalid_request", "send one Authorization header")
				return
			}
			token, scheme := "", ""
			if len(values) == 1 {
				token, scheme = bearerToken(values[0])
			}
			switch {
			case scheme != "":
				v.challenge(w, http.StatusUnauthorized, "invalid_token", "unsupported authorization scheme; use Bearer")
				return
			case token == "":
				v.challenge(w, http.StatusUnauthorized, "", "authentication required: send a bearer access token")
				return
			}
			claims, err := v.Verify(r.Context(), token)
			if err != nil {
				var te *TokenError
				if errors.As(err, &te) {
					v.challenge(w, http.StatusUnauthorized, "invalid_token", te.Reason)
					return
				}
				w.Header().Set("Retry-After", "5")
				writeError(w, http.StatusServiceUnavailable, "unavailable", "cannot verify access tokens right now; retry shortly")
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
		})
	}
}

// bearerToken extracts the token from an Authorization value: "Bearer <t>"
// or a bare "<t>". For another scheme it returns that scheme instead.
func bearerToken(value string) (token, otherScheme string) {
	value = strings.TrimSpace(value)
	i := strings.IndexAny(value, " \t")
	if i < 0 {
		if strings.EqualFold(value, "Bearer") {
			return "", ""
		}
		return value, ""
	}
	scheme, rest := value[:i], strings.TrimSpace(value[i+1:])
	if !strings.EqualFold(scheme, "Bearer") {
		return "", scheme
	}
	return rest, ""
}

// challenge answers with a Bearer challenge (RFC 6750 §3) and the JSON
// error body. An empty errCode means "no credentials": the challenge then
// carries only the realm and the body code is "unauthorized".
func (v *Verifier) challenge(w http.ResponseWriter, status int, errCode, message string) {
	c := `Bearer realm="` + quotable(v.realm) + `"`
	code := "unauthorized"
	if errCode != "" {
		c += `, error="` + errCode + `", error_description="` + quotable(message) + `"`
		code = errCode
	}
	w.Header().Set("WWW-Authenticate", c)
	writeError(w, status, code, message)
}

// quotable keeps only the characters RFC 6750 allows inside
// error_description and realm (%x20-21 / %x23-5B / %x5D-7E), so that no
// value can break out of the quoted string or inject a header.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// errorBody is {"error":{"code","message"}}, the error shape of the admin API (README.md).
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	out, err := json.Marshal(b)
	if err != nil { // two strings always marshal
		out = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(out, '\n'))
}

// RequirePermission returns middleware that lets a request through only if
// the claims Middleware stored grant p in the workspace workspaceFrom names
// (nil or "" checks org-scoped permissions; "default" is the token's default
// workspace; see Claims.Permissions). It answers 403 with code "forbidden"
// and a message naming the missing permission, or 401 when the request
// carries no claims (Middleware is not in front of it).
func RequirePermission(p access.Permission, workspaceFrom func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, ok := FromContext(r.Context())
			if !ok {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeError(w, http.StatusUnauthorized, "unauthorized", "authentication required: send a bearer access token")
				return
			}
			ws := ""
			if workspaceFrom != nil {
				ws = workspaceFrom(r)
			}
			if !claims.Permissions(ws).Has(p) {
				msg := "missing permission " + p.String()
				if ws != "" {
					msg += " in workspace " + strconv.Quote(ws)
				}
				writeError(w, http.StatusForbidden, "forbidden", msg)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

package session

import (
	"net/http"
	"strings"
	"time"
)

// CookieName is the session cookie's name. Opik's backend forwards the
// browser's cookie named sessionToken to /opik/auth-session (README.md, "Opik compatibility"), so the
// broker uses that name.
const CookieName = "sessionToken"

// maxCookieValue bounds what FromRequest accepts.
const maxCookieValue = 4096

// Cookie returns the session cookie carrying id: Path=/, HttpOnly,
// SameSite=Lax, Secure when secure (the issuer is https). maxAge > 0 sets
// Max-Age (rounded up to whole seconds) and Expires; maxAge == 0 makes a
// browser-session cookie; maxAge < 0 returns a cookie that deletes it (id is
// ignored). Set Domain on the result to share it with the platform's domain.
func Cookie(name, id string, secure bool, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge > 0:
		secs := int((maxAge + time.Second - 1) / time.Second)
		c.MaxAge = secs
		c.Expires = time.Now().Add(time.Duration(secs) * time.Second).UTC()
	case maxAge < 0:
		c.Value = ""
		c.MaxAge = -1
		c.Expires = time.Unix(0, 0).UTC()
	}
	return c
}

// FromRequest returns the value of the first cookie called name in r's
// Cookie headers, and false when there is none. It is lenient where
// net/http is strict: it accepts the RFC 2965 form Opik's backend forwards
// (`$Version=1;sessionToken=…`, with `$Path`-style attributes ignored),
// commas as separators, and double-quoted values.
func FromRequest(r *http.Request, name string) (string, bool) {
	if r == nil || name == "" {
		return "", false
	}
	for _, header := range r.Header.Values("Cookie") {
		for _, part := range strings.FieldsFunc(header, func(c rune) bool { return c == ';' || c == ',' }) {
			k, v, ok := strings.Cut(part, "=")
			if !ok || strings.TrimSpace(k) != name {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// validCookieValue accepts non-empty printable ASCII without separators,
// quotes or backslashes.
func validCookieValue(v string) bool {
	if v == "" || len(v) > maxCookieValue {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ';' || c == ',' || c == '\\' {
			return false
		}
	}
	return true
}

package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/session"
)

// Names and paths shared with package tokens (which defines the same
// literals: tokens and idp never import each other).
const (
	// SessionCookie is the browser session cookie (session.CookieName;
	// Opik's backend forwards a cookie of this name).
	SessionCookie = "sessionToken"
	// LoginPath is home-realm discovery; tokens sends the browser here as
	// LoginPath?authz=<id>[&login_hint=<email>][&organization=<org>][&prompt=login].
	LoginPath = "/login"
	// LoginDonePath shows who is signed in, when no client asked for the login.
	LoginDonePath = "/login/done"
	// LogoutPath ends the browser session (POST with the CSRF token).
	LogoutPath = "/logout"
	// ContinuePath is where a login started by tokens ends:
	// ContinuePath?authz=<id>, with the session cookie set.
	ContinuePath = "/oauth2/authorize/continue"
	// AuthzParam names the opaque pending-authorization id tokens passes.
	AuthzParam = "authz"
	// ReturnToParam names a relative path to land on after a login that no
	// client asked for.
	ReturnToParam = "return_to"
)

// Cookies of the sign-in flow besides the session cookie. Not `__Host-`:
// the broker also runs on plain-HTTP loopback, where browsers refuse that
// prefix without Secure.
const (
	// CSRFCookie holds the double-submit token of the login and logout forms.
	CSRFCookie = "ssb_csrf"
	// BindingCookie holds a random value whose hash every pending upstream
	// login of this browser records: a callback is completed only in the
	// browser that started it.
	BindingCookie = "ssb_login"
	// LoginStateCookiePrefix starts the name of the cookie that carries one
	// upstream login's sealed state, LoginStateCookiePrefix + the first 12
	// characters of its state (RelayState); Path /sso/, Max-Age
	// Options.LoginStateTTL.
	LoginStateCookiePrefix = "ssb_ls_"
)

// MaxAuthzLen bounds the authz value (tokens.MaxAuthzLen, the same
// number): a sealed pending authorization, carried with the login state in
// one cookie, and a cookie holds at most 4096 bytes.
const MaxAuthzLen = 2400

// Defaults of the per-source SAML start budget (Options). One source may
// make the broker sign 10 AuthnRequests a second (about 2% of a core with
// RSA-2048), 100 at once: a flood from one source costs little CPU, and a
// whole office behind one NAT address signing in at nine still passes.
const (
	DefaultSAMLStartsPerMinute = 600
	DefaultSAMLStartBurst      = 100
)

// maxBudgetSources bounds the per-source tables (about 200 bytes a source).
const maxBudgetSources = 10_000

// randomToken returns 256 random bits, base64url (43 characters).
// crypto/rand.Read never fails (the runtime aborts if the source breaks).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenLen is the length of every randomToken.
const tokenLen = 43

// isToken reports whether s has the shape of a randomToken.
func isToken(s string) bool {
	return len(s) == tokenLen && isIDChars(s)
}

// isIDChars reports whether s is made of [A-Za-z0-9_-] only.
func isIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidAuthz reports whether s is acceptable as the opaque authz value:
// [A-Za-z0-9_-]{1,64}, or a sealed value (session.LooksSealed, what tokens
// sends) of at most MaxAuthzLen characters. idp never opens it.
func ValidAuthz(s string) bool {
	if len(s) > 64 {
		return len(s) <= MaxAuthzLen && session.LooksSealed(s)
	}
	return s != "" && isIDChars(s)
}

// ValidReturnTo reports whether s may be redirected to after a login: a
// relative path that starts with exactly one "/" (never "//" or "/\", which
// browsers read as another host), with no scheme, host, backslash, control
// character or fragment, at most 2048 bytes.
func ValidReturnTo(s string) bool {
	if len(s) < 1 || len(s) > 2048 || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x7f || c == '\\' || c == '#' {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	// An encoded slash or backslash at the start decodes to "//" in some
	// proxies and frameworks.
	if p := strings.ToLower(u.EscapedPath()); strings.HasPrefix(p, "/%2f") || strings.HasPrefix(p, "/%5c") {
		return false
	}
	return true
}

// bindingHash is what a login state records of the browser binding cookie.
func bindingHash(v string) string {
	d := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// sameSecret compares two secrets in constant time (for equal lengths).
func sameSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookieValue returns the well-formed token in cookie name, or "".
func cookieValue(r *http.Request, name string) string {
	v, ok := session.FromRequest(r, name)
	if !ok || !isToken(v) {
		return ""
	}
	return v
}

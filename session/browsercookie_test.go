package session_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/session"
	"golang.org/x/net/publicsuffix"
)

func TestValidateCookieDomain(t *testing.T) {
	for _, c := range []struct {
		domain, host, want string
		err                string // a fragment of the error; "" for none
	}{
		{domain: "", host: "sso.example.com", want: ""},
		{domain: "example.com", host: "sso.example.com", want: "example.com"},
		{domain: ".Example.COM", host: "sso.example.com", want: "example.com"},
		{domain: "ml.example.com", host: "sso.ml.example.com", want: "ml.example.com"},
		{domain: "sso.example.com", host: "sso.example.com", want: "sso.example.com"},
		{domain: "example.co.uk", host: "sso.example.co.uk", want: "example.co.uk"},
		{domain: "corp.internal", host: "sso.corp.internal", want: "corp.internal"},
		{domain: "example.com", host: "SSO.Example.com.", want: "example.com"},

		{domain: "com", host: "sso.example.com", err: "public suffix"},
		{domain: "co.uk", host: "sso.example.co.uk", err: "public suffix"},
		{domain: "github.io", host: "sso.github.io", err: "public suffix"}, // the list's private section
		{domain: "internal", host: "sso.internal", err: "public suffix"},   // an unlisted top-level label
		{domain: "other.com", host: "sso.example.com", err: "parent domains"},
		{domain: "ample.com", host: "sso.example.com", err: "parent domains"}, // a suffix, not a parent
		{domain: "opik.example.com", host: "sso.example.com", err: "parent domains"},
		{domain: "127.0.0.1", host: "127.0.0.1", err: "IP address"},
		{domain: "example.com", host: "10.0.0.1", err: "IP address"},
		{domain: "exa_mple.com", host: "sso.exa_mple.com", err: "label"},
		{domain: "example..com", host: "sso.example.com", err: "label"},
		{domain: "-example.com", host: "sso.-example.com", err: "label"},
		{domain: ".", host: "sso.example.com", err: "must name a domain"},
	} {
		got, err := session.ValidateCookieDomain(c.domain, c.host)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ValidateCookieDomain(%q, %q): %v", c.domain, c.host, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ValidateCookieDomain(%q, %q) = %q, %v; want an error naming %q", c.domain, c.host, got, err, c.err)
		case c.err == "" && got != c.want:
			t.Errorf("ValidateCookieDomain(%q, %q) = %q, want %q", c.domain, c.host, got, c.want)
		}
	}
}

func TestBrowserCookie(t *testing.T) {
	setCookies := func(fn func(w http.ResponseWriter)) []string {
		rec := httptest.NewRecorder()
		fn(rec)
		return rec.Header().Values("Set-Cookie")
	}
	t.Run("host-only: one cookie, no Domain", func(t *testing.T) {
		got := setCookies(func(w http.ResponseWriter) { session.BrowserCookie{Secure: true}.Set(w, "abc") })
		if len(got) != 1 || !strings.HasPrefix(got[0], "sessionToken=abc;") || strings.Contains(got[0], "Domain") ||
			!strings.Contains(got[0], "Secure") || !strings.Contains(got[0], "HttpOnly") || !strings.Contains(got[0], "SameSite=Lax") {
			t.Fatalf("Set-Cookie %q", got)
		}
	})
	t.Run("with a domain: the stale host-only cookie is deleted and the domain cookie set", func(t *testing.T) {
		got := setCookies(func(w http.ResponseWriter) { session.BrowserCookie{Domain: "example.com"}.Set(w, "abc") })
		if len(got) != 2 || !strings.HasPrefix(got[0], "sessionToken=;") || strings.Contains(got[0], "Domain") || !strings.Contains(got[0], "Max-Age=0") ||
			!strings.HasPrefix(got[1], "sessionToken=abc;") || !strings.Contains(got[1], "Domain=example.com") {
			t.Fatalf("Set-Cookie %q", got)
		}
	})
	t.Run("clear with a domain deletes both", func(t *testing.T) {
		got := setCookies(func(w http.ResponseWriter) { session.BrowserCookie{Domain: "example.com"}.Clear(w) })
		if len(got) != 2 || strings.Contains(got[0], "Domain") || !strings.Contains(got[1], "Domain=example.com") ||
			!strings.Contains(got[0], "Max-Age=0") || !strings.Contains(got[1], "Max-Age=0") {
			t.Fatalf("Set-Cookie %q", got)
		}
	})
	t.Run("clear host-only", func(t *testing.T) {
		got := setCookies(func(w http.ResponseWriter) { session.BrowserCookie{}.Clear(w) })
		if len(got) != 1 || strings.Contains(got[0], "Domain") || !strings.Contains(got[0], "Max-Age=0") {
			t.Fatalf("Set-Cookie %q", got)
		}
	})
}

// TestBrowserCookieReachesSiblingHost: a browser-like jar (net/http/cookiejar
// with the public suffix list) that got the cookie from the issuer's host
// sends it to a sibling host under the domain — Opik's UI — and only one
// sessionToken, not the deleted host-only one; without a domain it does not.
func TestBrowserCookieReachesSiblingHost(t *testing.T) {
	sso, _ := url.Parse("https://sso.example.com/callback")
	opik, _ := url.Parse("https://opik.example.com/api/v1/private/projects")
	other, _ := url.Parse("https://example.org/")
	for _, c := range []struct {
		domain string
		toOpik bool
	}{{"example.com", true}, {"", false}} {
		jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
		if err != nil {
			t.Fatal(err)
		}
		// A host-only cookie from before the domain was configured.
		jar.SetCookies(sso, []*http.Cookie{{Name: session.CookieName, Value: "stale", Path: "/"}})
		rec := httptest.NewRecorder()
		session.BrowserCookie{Domain: c.domain, Secure: true}.Set(rec, "fresh")
		jar.SetCookies(sso, (&http.Response{Header: rec.Header()}).Cookies())
		got := jar.Cookies(opik)
		if c.toOpik != (len(got) == 1 && got[0].Value == "fresh") || (!c.toOpik && len(got) != 0) {
			t.Errorf("domain %q: the sibling host gets %v", c.domain, got)
		}
		if own := jar.Cookies(sso); len(own) != 1 || own[0].Value != "fresh" {
			t.Errorf("domain %q: the issuer's host gets %v, want only the fresh cookie", c.domain, own)
		}
		if got := jar.Cookies(other); len(got) != 0 {
			t.Errorf("domain %q: another site gets %v", c.domain, got)
		}
	}
}

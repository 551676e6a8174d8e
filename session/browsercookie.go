package session

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// BrowserCookie writes the browser session cookie (CookieName): every
// package that signs a browser in or out sets and clears it through one
// value built from the deployment's settings, so its attributes have one
// owner.
type BrowserCookie struct {
	// Domain is the Domain attribute (empty: a host-only cookie, sent to
	// the issuer's host alone). Set it with ValidateCookieDomain's answer so
	// that Opik's UI on a sibling host receives the cookie
	// (SSOBROKER_SESSION_COOKIE_DOMAIN, docs/opik.md).
	Domain string
	// Secure marks the cookie Secure (the issuer is https).
	Secure bool
}

// Set writes the session cookie carrying id, for the browser session's
// lifetime. With a Domain it also deletes a host-only cookie of the same
// name a browser may still hold from before the domain was configured:
// the browser would send both, the older first, and the stale one would
// win.
func (c BrowserCookie) Set(w http.ResponseWriter, id string) {
	if c.Domain != "" {
		http.SetCookie(w, Cookie(CookieName, "", c.Secure, -1))
	}
	s := Cookie(CookieName, id, c.Secure, 0)
	s.Domain = c.Domain
	http.SetCookie(w, s)
}

// Clear deletes the session cookie: the one with the Domain and, with a
// Domain, the host-only one too.
func (c BrowserCookie) Clear(w http.ResponseWriter) {
	s := Cookie(CookieName, "", c.Secure, -1)
	if c.Domain != "" {
		http.SetCookie(w, Cookie(CookieName, "", c.Secure, -1))
		s.Domain = c.Domain
	}
	http.SetCookie(w, s)
}

// ValidateCookieDomain checks the session cookie's Domain setting against
// the issuer's host and returns it normalised (lower case, no leading
// dot); "" stays "" (a host-only cookie). A domain is refused when a
// browser would ignore it or when it would hand the cookie to hosts that
// are not the deployment's: it must be a host name (not an IP address), be
// the issuer's host or one of its parent domains, and not be a public
// suffix (golang.org/x/net/publicsuffix, which includes the list's private
// section, such as github.io), so "com", "co.uk" and a bare unlisted
// top-level label such as "internal" are refused.
func ValidateCookieDomain(domain, issuerHost string) (string, error) {
	d := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(domain), "."))
	if d == "" {
		if domain != "" {
			return "", errors.New("must name a domain, such as example.com")
		}
		return "", nil
	}
	if net.ParseIP(d) != nil {
		return "", errors.New("must be a domain name, not an IP address (browsers never send a cookie to other hosts of an address)")
	}
	if err := checkHostName(d); err != nil {
		return "", err
	}
	host := strings.ToLower(strings.TrimSuffix(issuerHost, "."))
	if net.ParseIP(host) != nil {
		return "", fmt.Errorf("the issuer's host %s is an IP address: a cookie domain needs the issuer on a host name under it", host)
	}
	if host != d && !strings.HasSuffix(host, "."+d) {
		return "", fmt.Errorf("must be the issuer's host %s or one of its parent domains (a browser refuses a cookie for any other domain)", host)
	}
	if suffix, _ := publicsuffix.PublicSuffix(d); suffix == d {
		return "", fmt.Errorf("%s is a public suffix: every site under it would receive the session cookie, and browsers refuse it; name a domain of your own under it", d)
	}
	return d, nil
}

// checkHostName accepts dot-separated labels of letters, digits and
// hyphens (not at a label's ends), at most 253 characters.
func checkHostName(d string) error {
	if len(d) > 253 {
		return errors.New("is longer than 253 characters")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q is not a valid host name label", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("label %q is not a valid host name label (letters, digits and hyphens only)", label)
			}
		}
	}
	return nil
}

package oidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ssobroker/ssobroker/idp"
)

// Bounds on what an IdP may assert.
const (
	maxSubject = 1024
	maxGroups  = 1000
	maxGroup   = 512
	maxAMR     = 16
)

// claimNames are the IdP's claim names for the attributes we read.
type claimNames struct {
	subject, email, emailVerified, name, givenName, familyName, groups string
}

// claimNamesFrom applies the connection's attribute_mapping to the
// standard OIDC claim names.
func claimNamesFrom(m map[string]string) claimNames {
	pick := func(attr, def string) string {
		if v := m[attr]; v != "" {
			return v
		}
		return def
	}
	return claimNames{
		subject:       pick("subject", "sub"),
		email:         pick("email", "email"),
		emailVerified: pick("email_verified", "email_verified"),
		name:          pick("name", "name"),
		givenName:     pick("given_name", "given_name"),
		familyName:    pick("family_name", "family_name"),
		groups:        pick("groups", "groups"),
	}
}

// wanted lists the claims whose absence from the ID token is a reason to
// ask userinfo.
func (n claimNames) wanted(groups bool) []string {
	w := []string{n.subject, n.email, n.emailVerified, n.name}
	if groups {
		w = append(w, n.groups)
	}
	return w
}

// identity maps claims to an Identity and applies the refusals: no
// subject or email (ErrMissingClaim), email not verified while required
// (ErrEmailNotVerified).
func (n claimNames) identity(issuer string, claims map[string]json.RawMessage, requireVerified bool) (idp.Identity, error) {
	id := idp.Identity{Issuer: issuer}
	var ok bool
	if id.Subject, ok = stringClaim(claims[n.subject], true); !ok || id.Subject == "" || len(id.Subject) > maxSubject {
		return idp.Identity{}, fmt.Errorf("%w: subject claim %q", idp.ErrMissingClaim, n.subject)
	}
	if id.Email, ok = stringClaim(claims[n.email], false); !ok || id.Email == "" {
		return idp.Identity{}, fmt.Errorf("%w: email claim %q", idp.ErrMissingClaim, n.email)
	}
	id.EmailVerified = boolClaim(claims[n.emailVerified])
	if requireVerified && !id.EmailVerified {
		state := "false"
		if _, present := claims[n.emailVerified]; !present {
			state = "absent"
		}
		return idp.Identity{}, fmt.Errorf("%w: claim %q is %s", idp.ErrEmailNotVerified, n.emailVerified, state)
	}
	id.Name, _ = stringClaim(claims[n.name], false)
	if id.Name == "" {
		given, _ := stringClaim(claims[n.givenName], false)
		family, _ := stringClaim(claims[n.familyName], false)
		id.Name = strings.TrimSpace(given + " " + family)
	}
	id.Groups = stringsClaim(claims[n.groups], maxGroups, maxGroup)
	id.AMR = stringsClaim(claims["amr"], maxAMR, 64)
	for name, raw := range claims {
		if !isProtocolClaim(name) {
			id.Attributes = id.Attributes.Add(name, claimText(raw)...)
		}
	}
	return id, nil
}

// stringClaim reads a JSON string; with numbers, also a JSON integer (some
// IdPs send numeric subjects), as its decimal text.
func stringClaim(raw json.RawMessage, numbers bool) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	if numbers {
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			if _, err := n.Int64(); err == nil {
				return n.String(), true
			}
		}
	}
	return "", false
}

// boolClaim reads true, or "true" (some IdPs send strings); anything else,
// including absence, is false.
func boolClaim(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.EqualFold(s, "true")
}

// stringsClaim reads an array of strings, or one string, keeping at most max
// values of at most maxLen bytes; other elements are skipped.
func stringsClaim(raw json.RawMessage, max, maxLen int) []string {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil || one == "" || len(one) > maxLen {
			return nil
		}
		return []string{one}
	}
	var out []string
	for _, el := range list {
		var s string
		if json.Unmarshal(el, &s) != nil || s == "" || len(s) > maxLen {
			continue
		}
		if out = append(out, s); len(out) == max {
			break
		}
	}
	return out
}

// isProtocolClaim reports whether name is one of the ID token's own
// claims, not an attribute of the user.
func isProtocolClaim(name string) bool {
	switch name {
	case "iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "azp", "auth_time", "sid", "jti", "acr":
		return true
	}
	return false
}

// claimText is a claim's value as text: strings as they are, arrays
// element by element, anything else as its JSON.
func claimText(raw json.RawMessage) []string {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, e := range list {
			out = append(out, claimText(e)...)
		}
		return out
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	return []string{string(bytes.TrimSpace(raw))}
}

package saml

import (
	"fmt"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobroker/ssobroker/idp"
)

// Bounds on what an IdP may assert.
const (
	maxSubject = 1024
	maxEmail   = 254
	maxName    = 256
	maxGroups  = 1000
	maxGroup   = 512
)

// attributeNames lists, for each attribute we read, the SAML attribute
// names (Name or FriendlyName) that carry it, in order of preference.
type attributeNames struct {
	subject, email, emailVerified, name, givenName, familyName, groups []string
}

// namesFrom applies a connection's attribute_mapping over the names common
// IdPs use (LDAP/eduPerson OIDs and short names, Entra ID and ADFS claim
// URIs). A mapped attribute replaces the defaults for that attribute.
func namesFrom(m map[string]string) attributeNames {
	pick := func(attr string, defaults ...string) []string {
		if v := m[attr]; v != "" {
			return []string{v}
		}
		return defaults
	}
	return attributeNames{
		subject: pick("subject"),
		email: pick("email", "email", "mail", "emailAddress", "urn:oid:0.9.2342.19200300.100.1.3",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
		emailVerified: pick("email_verified"),
		name: pick("name", "displayName", "name", "cn", "urn:oid:2.16.840.1.113730.3.1.241",
			"http://schemas.microsoft.com/identity/claims/displayname"),
		givenName: pick("given_name", "givenName", "firstName", "given_name", "urn:oid:2.5.4.42",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"),
		familyName: pick("family_name", "sn", "surname", "lastName", "family_name", "urn:oid:2.5.4.4",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"),
		groups: pick("groups", "groups", "group", "memberOf", "isMemberOf", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
			"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"),
	}
}

// values returns the values of the first attribute in names that the
// assertion carries.
func values(a *crewjam.Assertion, names []string) []string {
	for _, n := range names {
		var out []string
		found := false
		for _, st := range a.AttributeStatements {
			for _, at := range st.Attributes {
				if at.Name != n && at.FriendlyName != n {
					continue
				}
				found = true
				for _, v := range at.Values {
					if s := strings.TrimSpace(v.Value); s != "" {
						out = append(out, s)
					}
				}
			}
		}
		if found {
			return out
		}
	}
	return nil
}

func first(a *crewjam.Assertion, names []string) string {
	if v := values(a, names); len(v) > 0 {
		return v[0]
	}
	return ""
}

// identity maps a verified assertion to an Identity. The subject is the
// mapped attribute, or else the NameID unless it is transient; the email is
// the email attribute, or else an emailAddress-format NameID.
func (n attributeNames) identity(issuer string, a *crewjam.Assertion) (idp.Identity, error) {
	id := idp.Identity{Issuer: issuer, AMR: []string{"saml"}}
	var nameID *crewjam.NameID
	if a.Subject != nil {
		nameID = a.Subject.NameID
	}
	if len(n.subject) > 0 {
		id.Subject = first(a, n.subject)
		if id.Subject == "" {
			return idp.Identity{}, fmt.Errorf("%w: subject attribute %q", idp.ErrMissingClaim, n.subject[0])
		}
	} else {
		if nameID == nil || strings.TrimSpace(nameID.Value) == "" {
			return idp.Identity{}, fmt.Errorf("%w: the assertion has no NameID", idp.ErrMissingClaim)
		}
		if nameID.Format == string(crewjam.TransientNameIDFormat) {
			return idp.Identity{}, fmt.Errorf("%w: a transient NameID changes at every login; ask the IdP for a persistent or email NameID, or map \"subject\" to an attribute", idp.ErrMissingClaim)
		}
		id.Subject = strings.TrimSpace(nameID.Value)
	}
	if len(id.Subject) > maxSubject || hasControl(id.Subject) {
		return idp.Identity{}, fmt.Errorf("%w: the subject is longer than %d characters or has control characters", idp.ErrMissingClaim, maxSubject)
	}
	id.Email = first(a, n.email)
	if id.Email == "" && nameID != nil && nameID.Format == string(crewjam.EmailAddressNameIDFormat) {
		id.Email = strings.TrimSpace(nameID.Value)
	}
	if id.Email == "" || len(id.Email) > maxEmail || hasControl(id.Email) {
		return idp.Identity{}, fmt.Errorf("%w: email (attributes %v, or an emailAddress NameID)", idp.ErrMissingClaim, n.email)
	}
	if len(n.emailVerified) > 0 {
		switch strings.ToLower(first(a, n.emailVerified)) {
		case "true", "1":
			id.EmailVerified = true
		}
	}
	id.Name = first(a, n.name)
	if id.Name == "" {
		id.Name = strings.TrimSpace(first(a, n.givenName) + " " + first(a, n.familyName))
	}
	if len(id.Name) > maxName || hasControl(id.Name) {
		id.Name = ""
	}
	groups := values(a, n.groups)
	if len(groups) > maxGroups {
		return idp.Identity{}, fmt.Errorf("%w: more than %d groups", idp.ErrInvalidResponse, maxGroups)
	}
	for _, g := range groups {
		if len(g) <= maxGroup && !hasControl(g) {
			id.Groups = append(id.Groups, g)
		}
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				id.Attributes = id.Attributes.Add(at.Name, v.Value)
			}
		}
	}
	return id, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

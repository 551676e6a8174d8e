package tokens

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// AccessClaims are the claims of an ssobroker access token: RFC 9068's
// registered claims plus the org and workspace claims of README.md ("Access
// tokens"), exactly as services decode them with tokens/verify.
type AccessClaims = verify.Claims

// WorkspaceRef names the workspace a narrowed token is restricted to.
type WorkspaceRef = verify.WorkspaceRef

// grant is what a token states about its principal, built from the
// directory. Minting encodes it straight from the directory's records so
// the hot path builds no intermediate claim values.
type grant struct {
	sub, clientID, aud, scope, name string
	// aud2, when set, is a second audience: the admin API's resource
	// identifier, for a user's token carrying ScopeAdmin.
	aud2 string
	// sid, email, idp and amr describe a user's sign-in (empty for service
	// accounts): the session handle, the user's email, the connection and
	// the authentication methods.
	sid, email, idp string
	amr             []string
	access          *directory.PrincipalAccess
	// first is the index in access.Workspaces of the membership listed first
	// (the default or the narrowed workspace), or -1; only lists it alone.
	first     int
	only      bool
	max       int
	truncated bool
	deflt     string
	narrowed  *WorkspaceRef
	// notAfter, when not zero, caps the token's exp: an exchanged token
	// never outlives its subject's family (docs/org-switching.md).
	notAfter time.Time
}

// listed yields the indexes into access.Workspaces that the token lists, in order.
func (g *grant) listed(yield func(int) bool) {
	n := 0
	if g.first >= 0 {
		if !yield(g.first) {
			return
		}
		n++
	}
	if g.only {
		return
	}
	for i := range g.access.Workspaces {
		if n >= g.max {
			return
		}
		if i == g.first {
			continue
		}
		if !yield(i) {
			return
		}
		n++
	}
}

// claims returns the grant as AccessClaims (for callers and tests; minting
// uses appendPayload, which writes the same JSON).
func (g *grant) claims(iss string, iat, exp int64, jti string) AccessClaims {
	pa := g.access
	aud := verify.Audience{g.aud}
	if g.aud2 != "" {
		aud = append(aud, g.aud2)
	}
	c := AccessClaims{Issuer: iss, Subject: g.sub, Audience: aud, ExpiresAt: exp, IssuedAt: iat,
		JWTID: jti, ClientID: g.clientID, Scope: g.scope, SessionID: g.sid, Email: g.email, Name: g.name, IdP: g.idp, AMR: g.amr,
		PrincipalType:       principalType(g.sub),
		Org:                 verify.Org{ID: pa.Org.ID, Name: pa.Org.Name, Role: pa.Member.Role, OnlyAdminsCanInvite: pa.Org.Settings.OnlyAdminsCanInvite},
		DefaultWorkspace:    g.deflt,
		WorkspacesTruncated: g.truncated, Narrowed: g.narrowed}
	for i := range g.listed {
		w := pa.Workspaces[i]
		c.Workspaces = append(c.Workspaces, verify.Workspace{ID: w.WorkspaceID, Name: w.WorkspaceName, Role: w.Role, CanInvite: w.CanInvite, CanMakePublic: w.CanMakePublic})
	}
	return c
}

func principalType(sub string) string {
	if directory.PrincipalTypeOf(sub) == directory.PrincipalServiceAccount {
		return string(directory.PrincipalServiceAccount)
	}
	return ""
}

// appendPayload appends the claims as JSON, byte for byte what encoding/json
// makes of g.claims(…), without allocating.
func (g *grant) appendPayload(b []byte, iss string, iat, exp int64, jti []byte) []byte {
	pa := g.access
	b = append(b, `{"iss":`...)
	b = appendString(b, iss)
	b = append(b, `,"sub":`...)
	b = appendString(b, g.sub)
	b = append(b, `,"aud":`...)
	if g.aud2 != "" {
		b = append(b, '[')
		b = appendString(b, g.aud)
		b = append(b, ',')
		b = appendString(b, g.aud2)
		b = append(b, ']')
	} else {
		b = appendString(b, g.aud)
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"jti":"`...)
	b = append(b, jti...) // base64url: nothing to escape
	b = append(b, `","client_id":`...)
	b = appendString(b, g.clientID)
	if g.scope != "" {
		b = append(b, `,"scope":`...)
		b = appendString(b, g.scope)
	}
	if g.sid != "" {
		b = append(b, `,"sid":`...)
		b = appendString(b, g.sid)
	}
	if g.email != "" {
		b = append(b, `,"email":`...)
		b = appendString(b, g.email)
	}
	if g.name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, g.name)
	}
	if g.idp != "" {
		b = append(b, `,"idp":`...)
		b = appendString(b, g.idp)
	}
	if len(g.amr) > 0 {
		b = append(b, `,"amr":`...)
		b = appendStrings(b, g.amr)
	}
	if pt := principalType(g.sub); pt != "" {
		b = append(b, `,"principal_type":`...)
		b = appendString(b, pt)
	}
	b = append(b, `,"org":{"id":`...)
	b = appendString(b, pa.Org.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, pa.Org.Name)
	b = append(b, `,"role":`...)
	b = appendString(b, string(pa.Member.Role))
	if pa.Org.Settings.OnlyAdminsCanInvite {
		b = append(b, `,"only_admins_can_invite":true`...)
	}
	b = append(b, '}')
	n := 0
	for i := range g.listed {
		w := &pa.Workspaces[i]
		if n == 0 {
			b = append(b, `,"workspaces":[`...)
		} else {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"id":`...)
		b = appendString(b, w.WorkspaceID)
		b = append(b, `,"name":`...)
		b = appendString(b, w.WorkspaceName)
		b = append(b, `,"role":`...)
		b = appendString(b, string(w.Role))
		if w.CanInvite {
			b = append(b, `,"can_invite":true`...)
		}
		if w.CanMakePublic {
			b = append(b, `,"can_make_public":true`...)
		}
		b = append(b, '}')
	}
	if n > 0 {
		b = append(b, ']')
	}
	if g.deflt != "" {
		b = append(b, `,"default_workspace":`...)
		b = appendString(b, g.deflt)
	}
	if g.truncated {
		b = append(b, `,"workspaces_truncated":true`...)
	}
	if g.narrowed != nil {
		b = append(b, `,"workspace":{"id":`...)
		b = appendString(b, g.narrowed.ID)
		b = append(b, `,"name":`...)
		b = appendString(b, g.narrowed.Name)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendStrings appends a JSON array of strings.
func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json writes it
// (HTML-safe escaping, invalid UTF-8 replaced by U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// MaxAccessTokenBytes bounds an access token's length, whatever the
// algorithm and the names involved: it fits an 8 KiB request-header line
// ("Authorization: Bearer " included), the smallest common limit (nginx's
// default large_client_header_buffers). The workspace list is capped at
// IssuerConfig.MaxTokenWorkspaces entries and further shortened, setting
// workspaces_truncated, while the claims exceed maxPayloadBytes.
const MaxAccessTokenBytes = 8000

// maxPayloadBytes keeps the token under MaxAccessTokenBytes: 5400 bytes of
// JSON are 7200 in base64url, plus at most 96 for the header and 512 for an
// RS256-3072 signature.
const maxPayloadBytes = 5400

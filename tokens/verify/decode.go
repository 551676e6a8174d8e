package verify

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/ssobroker/ssobroker/directory/access"
)

// Claims and headers are decoded by encoding/json, with a fast path in front
// for the shape the broker's own minting produces: known keys only, each
// once, simple strings (no escapes, valid UTF-8), integer times. The fast
// path accepts a strict subset of JSON and, on anything outside it, gives up
// without side effects that matter: the caller then decodes the same bytes
// with encoding/json into a zeroed value. So the result is always what
// encoding/json gives (FuzzDecodeClaimsMatchesEncodingJSON checks it); the
// fast path only saves time (about 5 µs per token, see bench_test.go).

// decodeClaims decodes payload into c. It returns encoding/json's error for
// anything that is not a valid claims object.
func decodeClaims(payload []byte, c *Claims) error {
	if decodeClaimsFast(string(payload), c) {
		return nil
	}
	*c = Claims{}
	return json.Unmarshal(payload, c)
}

// lexer reads the JSON subset of the fast path. Every method returns false
// when the input leaves that subset.
type lexer struct {
	s string
	i int
}

func (l *lexer) skipSpace() {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

// next consumes c, after optional whitespace.
func (l *lexer) next(c byte) bool {
	l.skipSpace()
	if l.i < len(l.s) && l.s[l.i] == c {
		l.i++
		return true
	}
	return false
}

// atEnd reports whether only whitespace is left.
func (l *lexer) atEnd() bool {
	l.skipSpace()
	return l.i == len(l.s)
}

// str reads a string without escapes or control characters, in valid UTF-8,
// and returns it as a substring of the input (no copy).
func (l *lexer) str() (string, bool) {
	if !l.next('"') {
		return "", false
	}
	start, ascii := l.i, true
	for ; l.i < len(l.s); l.i++ {
		switch c := l.s[l.i]; {
		case c == '"':
			v := l.s[start:l.i]
			l.i++
			return v, ascii || utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// integer reads an integer of at most 18 digits (so it fits int64), refusing
// fractions and exponents, which encoding/json would refuse for an int64.
func (l *lexer) integer() (int64, bool) {
	l.skipSpace()
	start := l.i
	if l.i < len(l.s) && l.s[l.i] == '-' {
		l.i++
	}
	digits := l.i
	for l.i < len(l.s) && l.s[l.i] >= '0' && l.s[l.i] <= '9' {
		l.i++
	}
	n := l.i - digits
	if n == 0 || n > 18 || (n > 1 && l.s[digits] == '0') {
		return 0, false
	}
	if l.i < len(l.s) && (l.s[l.i] == '.' || l.s[l.i] == 'e' || l.s[l.i] == 'E') {
		return 0, false
	}
	v, err := strconv.ParseInt(l.s[start:l.i], 10, 64)
	return v, err == nil
}

// boolean reads true or false.
func (l *lexer) boolean() (bool, bool) {
	l.skipSpace()
	rest := l.s[l.i:]
	switch {
	case len(rest) >= 4 && rest[:4] == "true":
		l.i += 4
		return true, true
	case len(rest) >= 5 && rest[:5] == "false":
		l.i += 5
		return false, true
	}
	return false, false
}

// object reads an object whose members field decodes (each key at most
// once, bit being the key's own bit, 0 for an unknown key).
func (l *lexer) object(field func(key string) (bit uint32, ok bool)) bool {
	if !l.next('{') {
		return false
	}
	if l.next('}') {
		return true
	}
	var seen uint32
	for {
		key, ok := l.str()
		if !ok || !l.next(':') {
			return false
		}
		bit, ok := field(key)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if l.next(',') {
			continue
		}
		return l.next('}')
	}
}

// array reads an array, calling elem for each element; empty reports an
// empty array, which encoding/json decodes as a non-nil empty slice.
func (l *lexer) array(elem func() bool) (empty, ok bool) {
	if !l.next('[') {
		return false, false
	}
	if l.next(']') {
		return true, true
	}
	for {
		if !elem() {
			return false, false
		}
		if l.next(',') {
			continue
		}
		return false, l.next(']')
	}
}

func (l *lexer) stringArray() ([]string, bool) {
	var out []string
	empty, ok := l.array(func() bool {
		s, ok := l.str()
		out = append(out, s)
		return ok
	})
	if empty {
		out = []string{}
	}
	return out, ok
}

// decodeClaimsFast is the fast path of decodeClaims.
func decodeClaimsFast(s string, c *Claims) bool {
	l := &lexer{s: s}
	ok := l.object(func(key string) (uint32, bool) {
		var ok bool
		switch key {
		case "iss":
			c.Issuer, ok = l.str()
			return 1 << 0, ok
		case "sub":
			c.Subject, ok = l.str()
			return 1 << 1, ok
		case "aud":
			l.skipSpace()
			if l.i < len(l.s) && l.s[l.i] == '"' {
				var a string
				a, ok = l.str()
				c.Audience = Audience{a}
			} else {
				var a []string
				a, ok = l.stringArray()
				c.Audience = a
			}
			return 1 << 2, ok
		case "exp":
			c.ExpiresAt, ok = l.integer()
			return 1 << 3, ok
		case "iat":
			c.IssuedAt, ok = l.integer()
			return 1 << 4, ok
		case "nbf":
			c.NotBefore, ok = l.integer()
			return 1 << 5, ok
		case "jti":
			c.JWTID, ok = l.str()
			return 1 << 6, ok
		case "client_id":
			c.ClientID, ok = l.str()
			return 1 << 7, ok
		case "scope":
			c.Scope, ok = l.str()
			return 1 << 8, ok
		case "sid":
			c.SessionID, ok = l.str()
			return 1 << 9, ok
		case "email":
			c.Email, ok = l.str()
			return 1 << 10, ok
		case "name":
			c.Name, ok = l.str()
			return 1 << 11, ok
		case "idp":
			c.IdP, ok = l.str()
			return 1 << 12, ok
		case "amr":
			c.AMR, ok = l.stringArray()
			return 1 << 13, ok
		case "principal_type":
			c.PrincipalType, ok = l.str()
			return 1 << 14, ok
		case "org":
			return 1 << 15, l.org(&c.Org)
		case "workspaces":
			var empty bool
			empty, ok = l.array(func() bool {
				if c.Workspaces == nil {
					c.Workspaces = make([]Workspace, 0, 4)
				}
				c.Workspaces = append(c.Workspaces, Workspace{})
				return l.workspace(&c.Workspaces[len(c.Workspaces)-1])
			})
			if empty {
				c.Workspaces = []Workspace{}
			}
			return 1 << 16, ok
		case "default_workspace":
			c.DefaultWorkspace, ok = l.str()
			return 1 << 17, ok
		case "workspaces_truncated":
			c.WorkspacesTruncated, ok = l.boolean()
			return 1 << 18, ok
		case "workspace":
			c.Narrowed = &WorkspaceRef{}
			return 1 << 19, l.workspaceRef(c.Narrowed)
		}
		return 0, false
	})
	return ok && l.atEnd()
}

func (l *lexer) workspaceRef(w *WorkspaceRef) bool {
	return l.object(func(key string) (uint32, bool) {
		var ok bool
		switch key {
		case "id":
			w.ID, ok = l.str()
			return 1 << 0, ok
		case "name":
			w.Name, ok = l.str()
			return 1 << 1, ok
		}
		return 0, false
	})
}

func (l *lexer) org(o *Org) bool {
	return l.object(func(key string) (uint32, bool) {
		var ok bool
		switch key {
		case "id":
			o.ID, ok = l.str()
			return 1 << 0, ok
		case "name":
			o.Name, ok = l.str()
			return 1 << 1, ok
		case "role":
			var r string
			r, ok = l.str()
			o.Role = access.OrgRole(r)
			return 1 << 2, ok
		case "only_admins_can_invite":
			o.OnlyAdminsCanInvite, ok = l.boolean()
			return 1 << 3, ok
		}
		return 0, false
	})
}

func (l *lexer) workspace(w *Workspace) bool {
	return l.object(func(key string) (uint32, bool) {
		var ok bool
		switch key {
		case "id":
			w.ID, ok = l.str()
			return 1 << 0, ok
		case "name":
			w.Name, ok = l.str()
			return 1 << 1, ok
		case "role":
			var r string
			r, ok = l.str()
			w.Role = access.WorkspaceRole(r)
			return 1 << 2, ok
		case "can_invite":
			w.CanInvite, ok = l.boolean()
			return 1 << 3, ok
		case "can_make_public":
			w.CanMakePublic, ok = l.boolean()
			return 1 << 4, ok
		}
		return 0, false
	})
}

// decodeHeaderFast is the fast path of ParseHeader: it takes only headers
// made of alg, kid and typ, so any other parameter (and every forbidden one)
// goes through encoding/json.
func decodeHeaderFast(s string, h *Header) bool {
	l := &lexer{s: s}
	ok := l.object(func(key string) (uint32, bool) {
		var ok bool
		switch key {
		case "alg":
			h.Alg, ok = l.str()
			return 1 << 0, ok
		case "kid":
			h.KID, ok = l.str()
			h.HasKID = true
			return 1 << 1, ok
		case "typ":
			h.Typ, ok = l.str()
			return 1 << 2, ok
		}
		return 0, false
	})
	return ok && l.atEnd()
}

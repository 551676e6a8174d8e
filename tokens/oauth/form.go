package oauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/tokens"
)

// maxFormBytes bounds a token, introspection or revocation request body.
const maxFormBytes = 128 << 10

// maxTargets bounds the audience and resource values of one request.
const maxTargets = 8

// form holds the parameters these endpoints read; others are ignored
// (RFC 6749 §3.2). It is parsed by hand, without url.Values, to keep the
// token endpoint's allocations down.
type form struct {
	buf []byte // the body, decoded in place

	grantType, clientID, clientSecret, scope, workspace, token string
	// code, redirectURI and codeVerifier (authorization_code) and
	// refreshToken (refresh_token).
	code, redirectURI, codeVerifier, refreshToken string
	// assertion is the external JWT of the jwt-bearer grant (RFC 7523 §2.1).
	assertion string
	// The token-exchange parameters (RFC 8693 §2.1; exchange.go), and
	// organization (id or name) to switch to.
	subjectToken, subjectTokenType, requestedTokenType string
	actorToken, actorTokenType, organization           string
	// audience and resource may be repeated (RFC 8693 §2.1), up to
	// maxTargets values each.
	audience, resource []string

	basic                  bool // credentials came in an Authorization: Basic header
	basicID, basicSecret   string
	authHeader, hasPostSec bool
}

func (f *form) hasCredentials() bool { return f.basic || f.hasPostSec }

// clientIDForLog is the client the request claimed to be (not secret).
func (f *form) clientIDForLog() string {
	if f.basic {
		return f.basicID
	}
	return f.clientID
}

// credentials returns the client's credentials: from Basic (RFC 6749
// §2.3.1, both parts form-urlencoded) or from client_id/client_secret in the
// body. Using both at once is invalid_request; none is invalid_client.
func (f *form) credentials() (tokens.Credentials, error) {
	switch {
	case f.basic && f.hasPostSec:
		return tokens.Credentials{}, invalidRequest("use one client authentication method, not both client_secret_basic and client_secret_post")
	case f.basic:
		if f.clientID != "" && f.clientID != f.basicID {
			return tokens.Credentials{}, invalidRequest("client_id differs from the authenticated client")
		}
		return tokens.Credentials{ID: f.basicID, Secret: f.basicSecret}, nil
	case f.hasPostSec:
		if f.clientID == "" {
			return tokens.Credentials{}, invalidRequest("client_id is required with client_secret")
		}
		return tokens.Credentials{ID: f.clientID, Secret: f.clientSecret}, nil
	case f.authHeader:
		return tokens.Credentials{}, tokens.InvalidClient(errors.New("unsupported Authorization scheme"))
	default:
		return tokens.Credentials{}, tokens.InvalidClient(errors.New("no client credentials"))
	}
}

// clientAuth returns the credentials of a registered client's request,
// for tokens.Provider.AuthenticateClient: those of credentials() when the
// request carries a secret, else client_id alone (a public client). An
// Authorization header of another scheme is invalid_client.
func (f *form) clientAuth() (tokens.Credentials, error) {
	switch {
	case f.hasCredentials():
		return f.credentials()
	case f.authHeader:
		return tokens.Credentials{}, tokens.InvalidClient(errors.New("unsupported Authorization scheme"))
	}
	return tokens.Credentials{ID: f.clientID}, nil
}

// parseForm reads an application/x-www-form-urlencoded POST body into buf
// and the Basic credentials, refusing what RFC 6749 forbids: other content
// types, repeated parameters, and credentials in the query string.
func parseForm(r *http.Request, buf []byte) (form, error) {
	f := form{buf: buf}
	if err := f.parseBasic(r.Header.Get("Authorization")); err != nil {
		return f, err
	}
	if q := r.URL.RawQuery; q != "" && (strings.Contains(q, "client_secret") || strings.Contains(q, "token") || strings.Contains(q, "code")) {
		return f, invalidRequest("credentials and tokens must be sent in the request body, not the URL")
	}
	ct := r.Header.Get("Content-Type")
	if ct != "application/x-www-form-urlencoded" && !hasMediaType(ct, "application/x-www-form-urlencoded") {
		return f, invalidRequest("the request body must be application/x-www-form-urlencoded")
	}
	if r.ContentLength > maxFormBytes {
		return f, errTooLargeBody()
	}
	body, err := readAll(r.Body, f.buf, maxFormBytes)
	f.buf = body
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return f, errTooLargeBody()
		}
		return f, invalidRequest("cannot read the request body")
	}
	var seen uint32
	for rest := body; len(rest) > 0; {
		var pair []byte
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			pair, rest = rest, nil
		}
		k, v, _ := bytes.Cut(pair, []byte{'='})
		k, okK := unescapeInPlace(k)
		v, okV := unescapeInPlace(v)
		if !okK || !okV {
			return f, invalidRequest("malformed form encoding")
		}
		if len(v) == 0 {
			continue // RFC 6749 §3.1: a parameter without a value is omitted
		}
		var dst *string
		var bit uint32
		switch string(k) {
		case "grant_type":
			dst, bit = &f.grantType, 1
		case "client_id":
			dst, bit = &f.clientID, 2
		case "client_secret":
			dst, bit = &f.clientSecret, 4
			f.hasPostSec = true
		case "scope":
			dst, bit = &f.scope, 8
		case "workspace":
			dst, bit = &f.workspace, 16
		case "token":
			dst, bit = &f.token, 32
		case "code":
			dst, bit = &f.code, 64
		case "redirect_uri":
			dst, bit = &f.redirectURI, 128
		case "code_verifier":
			dst, bit = &f.codeVerifier, 256
		case "refresh_token":
			dst, bit = &f.refreshToken, 512
		case "assertion":
			dst, bit = &f.assertion, 1<<16
		case "subject_token":
			dst, bit = &f.subjectToken, 1<<10
		case "subject_token_type":
			dst, bit = &f.subjectTokenType, 1<<11
		case "requested_token_type":
			dst, bit = &f.requestedTokenType, 1<<12
		case "actor_token":
			dst, bit = &f.actorToken, 1<<13
		case "actor_token_type":
			dst, bit = &f.actorTokenType, 1<<14
		case "organization":
			dst, bit = &f.organization, 1<<15
		case "audience", "resource":
			list := &f.audience
			if string(k) == "resource" {
				list = &f.resource
			}
			if len(*list) == maxTargets {
				return f, invalidRequest("too many " + string(k) + " parameters")
			}
			*list = append(*list, string(v))
			continue
		default:
			continue
		}
		if seen&bit != 0 {
			return f, invalidRequest("parameter " + string(k) + " repeated")
		}
		seen |= bit
		*dst = string(v)
	}
	return f, nil
}

// parseBasic reads client_secret_basic credentials.
func (f *form) parseBasic(h string) error {
	if h == "" {
		return nil
	}
	f.authHeader = true
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil // reported by credentials()
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return invalidRequest("malformed Basic credentials")
	}
	id, secret, ok := bytes.Cut(raw, []byte{':'})
	if !ok {
		return invalidRequest("malformed Basic credentials")
	}
	// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
	id, okID := unescapeInPlace(id)
	secret, okS := unescapeInPlace(secret)
	if !okID || !okS {
		return invalidRequest("malformed Basic credentials")
	}
	f.basic, f.basicID, f.basicSecret = true, string(id), string(secret)
	return nil
}

func hasMediaType(ct, want string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), want)
}

var errTooLarge = errors.New("request body too large")

// readAll appends r to buf, failing with errTooLarge past limit bytes.
func readAll(r io.Reader, buf []byte, limit int) ([]byte, error) {
	if buf == nil {
		buf = make([]byte, 0, 512)
	}
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return buf, errTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// unescapeInPlace decodes application/x-www-form-urlencoded in place: '+' is
// a space and %XX a byte. It reports false for a malformed escape.
func unescapeInPlace(b []byte) ([]byte, bool) {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return b, true
	}
	j := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '+':
			b[j] = ' '
		case '%':
			if i+2 >= len(b) {
				return nil, false
			}
			hi, ok1 := unhex(b[i+1])
			lo, ok2 := unhex(b[i+2])
			if !ok1 || !ok2 {
				return nil, false
			}
			b[j] = hi<<4 | lo
			i += 2
		default:
			b[j] = c
		}
		j++
	}
	return b[:j], true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

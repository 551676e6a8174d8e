package tokens

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

// Header values shared by every response; net/http never modifies them.
var (
	hdrJSON      = []string{"application/json"}
	hdrNoStore   = []string{"no-store"}
	hdrNoCache   = []string{"no-cache"}
	hdrNoSniff   = []string{"nosniff"}
	hdrAnyOrigin = []string{"*"}
)

// Server serves the token service over HTTP: the JWKS, the discovery
// documents, and the token, introspection and revocation endpoints. Its
// handlers only translate between HTTP and the Issuer and Keyring.
type Server struct {
	keys      *Keyring
	issuer    *Issuer
	provider  *Provider // nil without the OpenID Connect features
	discovery staticDoc
	features  Features
	sources   session.Sources
	log       *slog.Logger
	bufs      sync.Pool
}

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithProvider serves the OpenID Connect features (Features.AuthorizationCode,
// RefreshToken, UserInfo, EndSession) with p.
func WithProvider(p *Provider) ServerOption {
	return func(s *Server) { s.provider = p }
}

// WithSources sets how a request's network source is found, the key of the
// failed-authentication limits (session.NewSources with the trusted
// proxies). Without it the source is the connection's peer address.
func WithSources(src session.Sources) ServerOption {
	return func(s *Server) { s.sources = src }
}

// NewServer returns the HTTP face of keys and issuer with the given
// features enabled. It fails when an OpenID Connect feature is enabled
// without WithProvider, or if the discovery document cannot be encoded.
func NewServer(keys *Keyring, issuer *Issuer, f Features, opts ...ServerOption) (*Server, error) {
	s := &Server{keys: keys, issuer: issuer, features: f, log: issuer.cfg.Log}
	for _, o := range opts {
		o(s)
	}
	if f.oidc() && s.provider == nil {
		return nil, errors.New("tokens: the OpenID Connect features need a Provider (WithProvider)")
	}
	if f.AuthorizationCode && len(f.IDTokenAlgorithms) == 0 {
		f.IDTokenAlgorithms = []Algorithm{keys.cfg.IDTokenAlgorithm}
	}
	doc := BuildDiscovery(issuer.cfg.Issuer, f, issuer.cfg.ServiceAccountScopes)
	d, err := newStaticDoc(doc, int(DefaultDiscoveryMaxAge/time.Second))
	if err != nil {
		return nil, err
	}
	s.discovery, s.features = d, f
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return s, nil
}

// Routes mounts the JWKS, the discovery documents and the endpoints of the
// enabled features on mux. Other methods on these paths get 405 from the mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+PathJWKS, s.JWKSHandler())
	mux.Handle("GET "+PathOpenIDConfig, s.DiscoveryHandler())
	mux.Handle("GET "+PathOAuthServerMeta, s.DiscoveryHandler())
	f := s.features
	if f.ClientCredentials || f.AuthorizationCode || f.RefreshToken {
		mux.Handle("POST "+PathToken, s.TokenHandler())
		mux.Handle("OPTIONS "+PathToken, corsPreflight("POST"))
	}
	if p := s.provider; p != nil {
		if f.AuthorizationCode {
			mux.Handle("GET "+PathAuthorize, p.AuthorizeHandler())
			mux.Handle("POST "+PathAuthorize, p.AuthorizeHandler())
			mux.Handle("GET "+PathAuthorizeContinue, p.ContinueHandler())
		}
		if f.UserInfo {
			mux.Handle("GET "+PathUserInfo, p.UserInfoHandler())
			mux.Handle("POST "+PathUserInfo, p.UserInfoHandler())
			mux.Handle("OPTIONS "+PathUserInfo, corsPreflight("GET, POST"))
		}
		if f.EndSession {
			mux.Handle("GET "+PathLogout, p.LogoutHandler())
			mux.Handle("POST "+PathLogout, p.LogoutHandler())
		}
	}
	if s.features.Introspection {
		mux.Handle("POST "+PathIntrospect, s.IntrospectionHandler())
	}
	if s.features.Revocation {
		mux.Handle("POST "+PathRevoke, s.RevocationHandler())
	}
}

// JWKSHandler serves the public keys of every published key — next, active
// and retired — with Cache-Control max-age (KeyConfig.JWKSMaxAge), a strong
// ETag and 304 for a matching If-None-Match. It never allocates the document
// per request: it is serialized once per key change.
func (s *Server) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks := s.keys.cur.Load()
		serveStatic(w, r, ks.jwks, ks.jwksETag, ks.jwksCC)
	})
}

// DiscoveryHandler serves the OpenID Provider / OAuth 2.0 Authorization
// Server metadata.
func (s *Server) DiscoveryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveStatic(w, r, s.discovery.body, s.discovery.etag, s.discovery.cc)
	})
}

func serveStatic(w http.ResponseWriter, r *http.Request, body []byte, etag, cc []string) {
	h := w.Header()
	h["Etag"] = etag
	h["Cache-Control"] = cc
	h["Access-Control-Allow-Origin"] = hdrAnyOrigin
	h["X-Content-Type-Options"] = hdrNoSniff
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = hdrJSON
	_, _ = w.Write(body)
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// TokenHandler serves POST /oauth2/token (RFC 6749 §3.2). Grants:
// client_credentials for service accounts, authenticated with
// client_secret_basic or client_secret_post (not both); with a Provider,
// authorization_code and refresh_token for registered clients (see
// Provider.authenticateClient). Errors are RFC 6749
// §5.2 JSON bodies: invalid_request, invalid_client (401, with
// WWW-Authenticate when Basic was used or no credentials were sent),
// invalid_grant, invalid_scope, unsupported_grant_type (400), 429
// temporarily_unavailable with Retry-After while a client is throttled after
// failed attempts, and 503 when the store is down.
func (s *Server) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bp := s.bufs.Get().(*[]byte)
		defer func() {
			if cap(*bp) <= maxPooledBuffer {
				s.bufs.Put(bp)
			}
		}()
		f, err := parseForm(r, (*bp)[:0])
		*bp = f.buf[:0]
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		h := w.Header()
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin
		switch {
		case f.grantType == GrantClientCredentials && s.features.ClientCredentials:
		case (f.grantType == GrantAuthorizationCode && s.features.AuthorizationCode) ||
			(f.grantType == GrantRefreshToken && s.features.RefreshToken):
			out, err := s.providerGrant(r, &f)
			if err != nil {
				s.fail(w, r, f, err)
				return
			}
			h["Content-Type"] = hdrJSON
			noStore(h)
			_, _ = w.Write(out)
			*bp = out[:0]
			return
		case f.grantType == "":
			s.fail(w, r, f, errInvalidRequest("grant_type is required"))
			return
		default:
			s.fail(w, r, f, oauthErr(http.StatusBadRequest, CodeUnsupportedGrantType, "grant_type not supported"))
			return
		}
		creds, err := f.credentials()
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		req := ClientCredentialsRequest{ClientID: creds.ID, ClientSecret: creds.Secret, Scope: f.scope, Workspace: f.workspace}
		// The parameters are copied out of the body, so its buffer is reused.
		out := append(f.buf[:0], `{"access_token":"`...)
		out, _, err = s.issuer.clientCredentials(r.Context(), req, out)
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		out = append(out, `","token_type":"Bearer","expires_in":`...)
		out = strconv.AppendInt(out, int64(s.issuer.cfg.AccessTokenTTL/time.Second), 10)
		if req.Scope != "" {
			out = append(out, `,"scope":`...)
			out = appendString(out, req.Scope)
		}
		out = append(out, '}')
		h["Content-Type"] = hdrJSON
		h["Cache-Control"] = hdrNoStore
		h["Pragma"] = hdrNoCache
		_, _ = w.Write(out)
		*bp = out[:0]
	})
}

// IntrospectionHandler serves POST /oauth2/introspect (RFC 7662) for
// service accounts authenticated like at the token endpoint; see
// Issuer.Introspect for when a token is active.
func (s *Server) IntrospectionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, nil)
		if err == nil && f.token == "" {
			err = errInvalidRequest("the token parameter is required")
		}
		var creds Credentials
		if err == nil {
			creds, err = f.credentials()
		}
		var in Introspection
		if err == nil {
			in, err = s.issuer.Introspect(r.Context(), creds, f.token)
		}
		var body []byte
		if err == nil {
			body, err = in.MarshalJSON()
		}
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// RevocationHandler serves POST /oauth2/revoke (RFC 7009) for every client
// type (see Server.revoke): 200 with an empty body for a revoked or an
// unknown token, errors as at the token endpoint.
func (s *Server) RevocationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, nil)
		if err == nil {
			err = s.revoke(r.Context(), &f)
		}
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		h := w.Header()
		h["Cache-Control"] = hdrNoStore
		h["Pragma"] = hdrNoCache
		w.WriteHeader(http.StatusOK)
	})
}

// providerGrant answers the authorization_code and refresh_token grants;
// the response is built in the form's buffer (its parameters are copies).
func (s *Server) providerGrant(r *http.Request, f *form) ([]byte, error) {
	ctx := r.Context()
	client, err := s.provider.authenticateClient(ctx, f)
	if err != nil {
		return nil, err
	}
	if err := allowGrant(client, f.grantType); err != nil {
		return nil, err
	}
	if f.grantType == GrantAuthorizationCode {
		return s.provider.redeemCode(ctx, client, codeGrant{code: f.code, redirectURI: f.redirectURI, verifier: f.codeVerifier}, f.buf[:0])
	}
	return s.provider.refresh(ctx, client, refreshGrant{token: f.refreshToken, scope: f.scope}, f.buf[:0])
}

// corsPreflight answers CORS preflight requests of endpoints that
// browser-based public clients call with a bearer token or client
// credentials, never with cookies (so any origin may).
func corsPreflight(methods string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fail writes err as an RFC 6749 §5.2 error response; this is the one place
// where errors of this package become HTTP.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f form, err error) {
	var af *authFailure
	if errors.As(err, &af) {
		// A failed client authentication: counted per (source, client) and
		// per source; past the limits it is answered 429 (see failureLimiter).
		if wait := s.issuer.limiter.failed(r.Context(), s.sources.Of(r), af.clientID); wait > 0 {
			err = errThrottled(wait, af)
		}
	}
	oe := asOAuth(err)
	switch {
	case oe.Status >= 500:
		s.log.Error("token service error", "path", r.URL.Path, "error", oe.Code, "cause", oe.Cause)
	case oe.Status == http.StatusTooManyRequests:
		// Throttled attempts would flood the log during an attack.
		s.log.Debug("oauth request throttled", "path", r.URL.Path, "client_id", f.clientIDForLog())
	default:
		s.log.Info("oauth request refused", "path", r.URL.Path, "client_id", f.clientIDForLog(), "error", oe.Code,
			"description", oe.Description, "cause", oe.Cause)
	}
	h := w.Header()
	if oe.Status == http.StatusUnauthorized && (f.basic || !f.hasCredentials()) {
		h.Set("WWW-Authenticate", `Basic realm="ssobroker", charset="UTF-8"`)
	}
	if oe.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((oe.RetryAfter+time.Second-1)/time.Second)))
	}
	b := append(make([]byte, 0, 128), `{"error":`...)
	b = appendString(b, oe.Code)
	if oe.Description != "" {
		b = append(b, `,"error_description":`...)
		b = appendString(b, oe.Description)
	}
	b = append(b, '}')
	writeJSON(w, oe.Status, b)
}

var errTooLarge = errors.New("request body too large")

// maxPooledBuffer keeps an occasional large request from pinning its buffer.
const maxPooledBuffer = 16 << 10

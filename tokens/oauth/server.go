// Package oauth is the HTTP surface of the token service: it serves the
// JWKS, the discovery documents, the token, introspection and revocation
// endpoints and, with a tokens.Provider, the authorization endpoint, its
// continuation after sign-in, userinfo and RP-initiated logout. Its
// handlers only translate: they parse forms, headers and cookies, call the
// core in package tokens (which knows nothing of HTTP), and write the
// answer — one place (this package) decides the HTTP status of every
// tokens.Error. cmd/ssobroker mounts it with Server.Routes.
package oauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
)

// Header values shared by every response; net/http never modifies them.
var (
	hdrJSON      = []string{"application/json"}
	hdrNoStore   = []string{"no-store"}
	hdrNoCache   = []string{"no-cache"}
	hdrNoSniff   = []string{"nosniff"}
	hdrAnyOrigin = []string{"*"}
)

// Server serves the token service over HTTP. Its handlers only translate
// between HTTP and the tokens.Issuer, tokens.Keyring and tokens.Provider.
type Server struct {
	keys      *tokens.Keyring
	issuer    *tokens.Issuer
	provider  *tokens.Provider // nil without the OpenID Connect features
	pages     pages            // with a provider
	discovery tokens.Document
	features  tokens.Features
	sources   session.Sources
	log       *slog.Logger
	bufs      sync.Pool // *[]byte: a token request's body, then its answer
}

// maxPooledBuffer bounds the buffers the token endpoint keeps for reuse: a
// request that needed more (a large form) leaves its buffer to the GC.
const maxPooledBuffer = 16 << 10

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithProvider serves the OpenID Connect features (Features.AuthorizationCode,
// RefreshToken, UserInfo, EndSession) with p.
func WithProvider(p *tokens.Provider) ServerOption {
	return func(s *Server) { s.provider = p }
}

// WithSources sets how a request's network source is found, the key of the
// failed-authentication limits (session.NewSources with the trusted
// proxies). Without it the source is the connection's peer address.
func WithSources(src session.Sources) ServerOption {
	return func(s *Server) { s.sources = src }
}

// NewServer returns the HTTP face of keys and issuer with the given
// features enabled. It fails when an argument is missing, when an OpenID
// Connect feature is enabled without WithProvider, or if the discovery
// document cannot be encoded.
func NewServer(keys *tokens.Keyring, issuer *tokens.Issuer, f tokens.Features, opts ...ServerOption) (*Server, error) {
	if keys == nil || issuer == nil {
		return nil, errors.New("oauth: a keyring and an issuer are required")
	}
	s := &Server{keys: keys, issuer: issuer, features: f, log: issuer.Logger()}
	s.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	for _, o := range opts {
		o(s)
	}
	if f.NeedsProvider() && s.provider == nil {
		return nil, errors.New("tokens: the OpenID Connect features need a Provider (WithProvider)")
	}
	d, err := issuer.DiscoveryDocument(f)
	if err != nil {
		return nil, err
	}
	s.discovery = d
	if s.provider != nil {
		if s.pages, err = parsePages(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Routes mounts the JWKS, the discovery documents and the endpoints of the
// enabled features on mux. Other methods on these paths get 405 from the mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+tokens.PathJWKS, s.JWKSHandler())
	mux.Handle("GET "+tokens.PathOpenIDConfig, s.DiscoveryHandler())
	mux.Handle("GET "+tokens.PathOAuthServerMeta, s.DiscoveryHandler())
	f := s.features
	if f.ClientCredentials || f.AuthorizationCode || f.RefreshToken || f.TokenExchange {
		mux.Handle("POST "+tokens.PathToken, s.TokenHandler())
		mux.Handle("OPTIONS "+tokens.PathToken, corsPreflight("POST"))
	}
	if s.provider != nil {
		if f.AuthorizationCode {
			mux.Handle("GET "+tokens.PathAuthorize, s.AuthorizeHandler())
			mux.Handle("POST "+tokens.PathAuthorize, s.AuthorizeHandler())
			mux.Handle("GET "+tokens.PathAuthorizeContinue, s.ContinueHandler())
		}
		if f.UserInfo {
			mux.Handle("GET "+tokens.PathUserInfo, s.UserInfoHandler())
			mux.Handle("POST "+tokens.PathUserInfo, s.UserInfoHandler())
			mux.Handle("OPTIONS "+tokens.PathUserInfo, corsPreflight("GET, POST"))
		}
		if f.EndSession {
			mux.Handle("GET "+tokens.PathLogout, s.LogoutHandler())
			mux.Handle("POST "+tokens.PathLogout, s.LogoutHandler())
		}
	}
	if s.features.Introspection {
		mux.Handle("POST "+tokens.PathIntrospect, s.IntrospectionHandler())
	}
	if s.features.Revocation {
		mux.Handle("POST "+tokens.PathRevoke, s.RevocationHandler())
	}
}

// JWKSHandler serves the public keys of every published key — next, active
// and retired — with Cache-Control max-age (KeyConfig.JWKSMaxAge), a strong
// ETag and 304 for a matching If-None-Match. It never allocates the document
// per request: it is serialized once per key change.
func (s *Server) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveStatic(w, r, s.keys.JWKS())
	})
}

// DiscoveryHandler serves the OpenID Provider / OAuth 2.0 Authorization
// Server metadata.
func (s *Server) DiscoveryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveStatic(w, r, s.discovery)
	})
}

func serveStatic(w http.ResponseWriter, r *http.Request, d tokens.Document) {
	h := w.Header()
	h["Etag"] = d.ETag
	h["Cache-Control"] = d.CacheControl
	h["Access-Control-Allow-Origin"] = hdrAnyOrigin
	h["X-Content-Type-Options"] = hdrNoSniff
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, d.ETag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = hdrJSON
	_, _ = w.Write(d.Body)
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
// tokens.Provider.AuthenticateClient), RFC 8693 token exchange
// (exchange.go) and, with external JWTs enabled, RFC 7523 jwt-bearer
// (jwtbearer.go, docs/jwt-issuers.md). Errors are RFC 6749 §5.2 JSON
// bodies: invalid_request, invalid_client (401, with WWW-Authenticate when
// Basic was used or no credentials were sent), invalid_grant,
// invalid_scope, unsupported_grant_type (400), 429 temporarily_unavailable
// with Retry-After while a client is throttled after failed attempts, and
// 503 when the store is down.
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
		w.Header()["Access-Control-Allow-Origin"] = hdrAnyOrigin
		var body []byte
		switch {
		case f.grantType == tokens.GrantClientCredentials && s.features.ClientCredentials:
			// The parameters were copied out of the body: its buffer takes the answer.
			body, err = s.clientCredentials(r, &f, f.buf[:0])
			*bp = body[:0]
		case (f.grantType == tokens.GrantAuthorizationCode && s.features.AuthorizationCode) ||
			(f.grantType == tokens.GrantRefreshToken && s.features.RefreshToken):
			body, err = marshalTokenResponse(s.providerGrant(r, &f))
		case f.grantType == tokens.GrantJWTBearer && s.issuer.ExternalJWTsEnabled():
			body, err = marshalTokenResponse(s.jwtBearer(r, &f))
		case f.grantType == tokens.GrantTokenExchange && s.features.TokenExchange:
			body, err = marshalTokenResponse(s.tokenExchange(r, &f))
		case f.grantType == "":
			err = tokens.InvalidRequest("grant_type is required")
		default:
			err = &tokens.Error{Code: tokens.CodeUnsupportedGrantType, Description: "grant_type not supported"}
		}
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// marshalTokenResponse encodes a grant's answer (the grants other than
// client_credentials, which appends its own).
func marshalTokenResponse(out tokens.TokenResponse, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, tokens.ServerError(err)
	}
	return body, nil
}

// clientCredentials answers the client_credentials grant of a service
// account: the token response is appended to dst.
func (s *Server) clientCredentials(r *http.Request, f *form, dst []byte) ([]byte, error) {
	creds, err := f.credentials()
	if err != nil {
		return dst, err
	}
	return s.issuer.AppendClientCredentialsResponse(r.Context(), dst, tokens.ClientCredentialsRequest{ClientID: creds.ID,
		ClientSecret: creds.Secret, Scope: f.scope, Workspace: f.workspace})
}

// providerGrant answers the authorization_code and refresh_token grants.
func (s *Server) providerGrant(r *http.Request, f *form) (tokens.TokenResponse, error) {
	creds, err := f.clientAuth()
	if err != nil {
		return tokens.TokenResponse{}, err
	}
	client, err := s.provider.AuthenticateClient(r.Context(), creds)
	if err != nil {
		return tokens.TokenResponse{}, err
	}
	return s.provider.Token(r.Context(), client, tokens.TokenRequest{GrantType: f.grantType, Code: f.code, RedirectURI: f.redirectURI,
		CodeVerifier: f.codeVerifier, RefreshToken: f.refreshToken, Scope: f.scope})
}

// IntrospectionHandler serves POST /oauth2/introspect (RFC 7662) for
// service accounts authenticated like at the token endpoint; see
// tokens.Issuer.Introspect for when a token is active.
func (s *Server) IntrospectionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bp := s.bufs.Get().(*[]byte)
		defer func() {
			if cap(*bp) <= maxPooledBuffer {
				s.bufs.Put(bp)
			}
		}()
		f, err := parseForm(r, (*bp)[:0])
		*bp = f.buf[:0]
		if err == nil && f.token == "" {
			err = tokens.InvalidRequest("the token parameter is required")
		}
		var creds tokens.Credentials
		if err == nil {
			creds, err = f.credentials()
		}
		var in tokens.Introspection
		if err == nil {
			in, err = s.issuer.Introspect(r.Context(), creds, f.token)
		}
		var body []byte
		if err == nil {
			// The parameters were copied out of the body: its buffer takes the answer.
			if body, err = in.AppendJSON(f.buf[:0]); err != nil {
				err = tokens.ServerError(err)
			}
			*bp = body[:0]
		}
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// RevocationHandler serves POST /oauth2/revoke (RFC 7009) for every client
// type (see tokens.Provider.Revoke; tokens.Issuer.Revoke without a
// Provider): 200 with an empty body for a revoked or an unknown token,
// errors as at the token endpoint.
func (s *Server) RevocationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseForm(r, nil)
		if err == nil {
			err = s.revoke(r, &f)
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

// revoke reads the caller's credentials — a service account's (sa_…) as at
// the token endpoint, a registered client's as for its grants — and
// revokes the token.
func (s *Server) revoke(r *http.Request, f *form) error {
	if s.provider == nil || strings.HasPrefix(f.clientIDForLog(), "sa_") {
		creds, err := f.credentials()
		if err != nil {
			return err
		}
		if s.provider == nil {
			return s.issuer.Revoke(r.Context(), creds, f.token)
		}
		return s.provider.Revoke(r.Context(), creds, f.token)
	}
	creds, err := f.clientAuth()
	if err != nil {
		return err
	}
	return s.provider.Revoke(r.Context(), creds, f.token)
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
	noStore(h)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// noStore sets the headers every answer carrying or leading to a secret has.
func noStore(h http.Header) {
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
}

// oauthErrorBody is an RFC 6749 §5.2 error response.
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// fail writes err as an RFC 6749 §5.2 error response, after counting a
// failed client authentication (tokens.Issuer.Throttle).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f form, err error) {
	oe := asOAuth(s.issuer.Throttle(r.Context(), s.sources.Of(r), err))
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
	b, jerr := json.Marshal(oauthErrorBody{Error: oe.Code, Description: oe.Description})
	if jerr != nil {
		b = []byte(`{"error":"server_error"}`)
	}
	writeJSON(w, oe.Status, b)
}

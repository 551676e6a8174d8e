package oauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/tokens"
)

// jwtBearer answers the RFC 7523 jwt-bearer grant: assertion is an
// external JWT of an org's trusted issuer (docs/jwt-issuers.md).
func (s *Server) jwtBearer(r *http.Request, f *form) (tokens.TokenResponse, error) {
	if f.assertion == "" {
		return tokens.TokenResponse{}, invalidRequest("assertion is required")
	}
	tok, err := s.externalJWT(r, f, f.assertion)
	if err != nil {
		return tokens.TokenResponse{}, err
	}
	return tokens.TokenResponse{AccessToken: tok.AccessToken, TokenType: tok.TokenType, ExpiresIn: tok.ExpiresIn, Scope: tok.Scope}, nil
}

// exchangeExternalJWT answers RFC 8693 token exchange with
// subject_token_type …:jwt: subject_token is an external JWT of an org's
// trusted issuer, exchanged like a jwt-bearer assertion for our access
// token (issued_token_type …:access_token). organization, when sent, must
// be the trust's org (else invalid_target); actor tokens, audience and
// resource are not supported for this type.
func (s *Server) exchangeExternalJWT(r *http.Request, f *form) (tokens.TokenResponse, error) {
	switch {
	case !s.issuer.ExternalJWTsEnabled():
		return tokens.TokenResponse{}, invalidRequest("subject_token_type " + tokens.TokenTypeJWT + " is not supported on this server")
	case f.subjectToken == "":
		return tokens.TokenResponse{}, invalidRequest("subject_token is required")
	case f.requestedTokenType != "" && f.requestedTokenType != tokens.TokenTypeAccessToken:
		return tokens.TokenResponse{}, invalidRequest("requested_token_type must be " + tokens.TokenTypeAccessToken)
	case f.actorToken != "" || f.actorTokenType != "":
		return tokens.TokenResponse{}, invalidRequest("actor tokens are not supported")
	case len(f.audience) > 0 || len(f.resource) > 0:
		return tokens.TokenResponse{}, invalidRequest("audience and resource are not supported for an external JWT")
	}
	tok, err := s.externalJWT(r, f, f.subjectToken)
	if err != nil {
		return tokens.TokenResponse{}, err
	}
	return tokens.TokenResponse{AccessToken: tok.AccessToken, TokenType: tok.TokenType, ExpiresIn: tok.ExpiresIn, Scope: tok.Scope,
		IssuedTokenType: tokens.TokenTypeAccessToken}, nil
}

// externalJWT authenticates the client when the request names one — RFC
// 7523 §3.1 and RFC 8693 §2.1 make client authentication optional for
// these grants, but credentials that are sent are checked — and exchanges
// the external JWT.
func (s *Server) externalJWT(r *http.Request, f *form, assertion string) (tokens.Token, error) {
	clientID, err := s.optionalClient(r, f)
	if err != nil {
		return tokens.Token{}, err
	}
	return s.issuer.ExternalJWT(r.Context(), tokens.ExternalJWTRequest{Assertion: assertion, ClientID: clientID,
		Scope: f.scope, Workspace: f.workspace, Organization: f.organization})
}

// optionalClient returns the client a request authenticated ("" when it
// names none): a service account (sa_… with an API key) or, with a
// Provider, a registered client as for its own grants.
func (s *Server) optionalClient(r *http.Request, f *form) (string, error) {
	switch {
	case !f.hasCredentials() && !f.authHeader && f.clientID == "":
		return "", nil
	case strings.HasPrefix(f.clientIDForLog(), "sa_"):
		creds, err := f.credentials()
		if err != nil {
			return "", err
		}
		return s.issuer.AuthenticateServiceAccount(r.Context(), creds)
	case s.provider == nil:
		return "", tokens.InvalidClient(errors.New("no registered clients on this server"))
	}
	creds, err := f.clientAuth()
	if err != nil {
		return "", err
	}
	c, err := s.provider.AuthenticateClient(r.Context(), creds)
	return c.ID, err
}

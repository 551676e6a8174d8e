package oauth

import (
	"net/http"

	"github.com/ssobroker/ssobroker/tokens"
)

// tokenExchange answers the RFC 8693 token-exchange grant
// (docs/org-switching.md), dispatching by subject_token_type: our own
// access and refresh tokens switch organization or narrow to a workspace
// (tokens.Provider.Exchange); an external JWT goes to
// exchangeExternalJWT. Any other type, or none, is invalid_request (RFC
// 8693 §2.2.2: a request that is not valid).
func (s *Server) tokenExchange(r *http.Request, f *form) (tokens.TokenResponse, error) {
	switch f.subjectTokenType {
	case tokens.TokenTypeAccessToken, tokens.TokenTypeRefreshToken:
		return s.exchangeOwnToken(r, f)
	case tokens.TokenTypeJWT:
		return s.exchangeExternalJWT(r, f)
	case "":
		return tokens.TokenResponse{}, invalidRequest("subject_token_type is required")
	}
	return tokens.TokenResponse{}, invalidRequest("subject_token_type is not supported")
}

// exchangeOwnToken exchanges one of our access or refresh tokens for the
// client it was issued to, authenticated as at the token endpoint
// (confidential clients with their secret, public clients with client_id).
func (s *Server) exchangeOwnToken(r *http.Request, f *form) (tokens.TokenResponse, error) {
	if s.provider == nil {
		return tokens.TokenResponse{}, invalidRequest("subject_token_type is not supported")
	}
	creds, err := f.clientAuth()
	if err != nil {
		return tokens.TokenResponse{}, err
	}
	client, err := s.provider.AuthenticateClient(r.Context(), creds)
	if err != nil {
		return tokens.TokenResponse{}, err
	}
	return s.provider.Exchange(r.Context(), client, tokens.ExchangeRequest{
		SubjectToken: f.subjectToken, SubjectTokenType: f.subjectTokenType, RequestedTokenType: f.requestedTokenType,
		Organization: f.organization, Workspace: f.workspace, Scope: f.scope,
		Audience: f.audience, Resource: f.resource, ActorToken: f.actorToken != "" || f.actorTokenType != "",
	})
}

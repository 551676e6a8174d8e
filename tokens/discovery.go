package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Features says which protocol features are enabled; the discovery document
// lists exactly these. The OpenID Connect features (AuthorizationCode,
// RefreshToken, UserInfo, EndSession) need a Provider (WithProvider).
type Features struct {
	ClientCredentials bool
	Introspection     bool
	Revocation        bool
	// AuthorizationCode is the OpenID Connect code flow: /oauth2/authorize,
	// its continuation after sign-in, the authorization_code grant and ID
	// tokens.
	AuthorizationCode bool
	// RefreshToken is the refresh_token grant (rotation, reuse detection).
	RefreshToken bool
	// UserInfo is the /oauth2/userinfo endpoint.
	UserInfo bool
	// EndSession is RP-initiated logout at /oauth2/logout.
	EndSession bool
	// BackchannelLogout is OpenID Connect Back-Channel Logout 1.0: logout
	// tokens POSTed to clients' backchannel_logout_uri (tokens/backchannel).
	BackchannelLogout bool
	// TokenExchange is the RFC 8693 token-exchange grant
	// (GrantTokenExchange) at the token endpoint: switching organization or
	// narrowing to a workspace without signing in again
	// (docs/org-switching.md). Our own subject tokens need a Provider.
	TokenExchange bool
	// IDTokenAlgorithms lists the algorithms ID tokens are signed with;
	// Issuer.DiscoveryDocument fills it from the keyring when it is empty.
	IDTokenAlgorithms []Algorithm
}

// NeedsProvider reports whether any feature needs a Provider.
func (f Features) NeedsProvider() bool {
	return f.AuthorizationCode || f.RefreshToken || f.UserInfo || f.EndSession
}

// Discovery is the OpenID Provider Metadata / OAuth 2.0 Authorization Server
// Metadata (OIDC Discovery 1.0 §3, RFC 8414 §2) of this deployment. Fields
// of features not enabled are omitted rather than promised.
type Discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string `json:"token_endpoint,omitempty"`
	UserinfoEndpoint      string `json:"userinfo_endpoint,omitempty"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint,omitempty"`
	// BackchannelLogoutSupported and BackchannelLogoutSessionSupported
	// announce OpenID Connect Back-Channel Logout 1.0 (§2.1) with sid.
	BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported,omitempty"`
	BackchannelLogoutSessionSupported bool     `json:"backchannel_logout_session_supported,omitempty"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	// ResponseTypesSupported is REQUIRED by both specifications; it is empty
	// (not omitted) while no flow uses the authorization endpoint.
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                        []string `json:"grant_types_supported,omitempty"`
	SubjectTypesSupported                      []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported,omitempty"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty"`
	ClaimsSupported                            []string `json:"claims_supported,omitempty"`
	PromptValuesSupported                      []string `json:"prompt_values_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
	// RequestParameterSupported and RequestURIParameterSupported are sent
	// (as false) with the authorization endpoint: request_uri's default is
	// true (OIDC Discovery §3), and request objects are not supported.
	RequestParameterSupported    *bool `json:"request_parameter_supported,omitempty"`
	RequestURIParameterSupported *bool `json:"request_uri_parameter_supported,omitempty"`
	ClaimsParameterSupported     *bool `json:"claims_parameter_supported,omitempty"`
}

// The endpoint paths, relative to the issuer.
const (
	PathJWKS            = "/.well-known/jwks.json"
	PathOpenIDConfig    = "/.well-known/openid-configuration"
	PathOAuthServerMeta = "/.well-known/oauth-authorization-server"
	PathToken           = "/oauth2/token"
	PathIntrospect      = "/oauth2/introspect"
	PathRevoke          = "/oauth2/revoke"
	// PathAuthorize is the authorization endpoint (OIDC Core §3.1.2).
	PathAuthorize = "/oauth2/authorize"
	// PathAuthorizeContinue is where package idp sends the browser back
	// after a sign-in, as PathAuthorizeContinue?authz=<id> with the session
	// cookie set; the code is issued there.
	PathAuthorizeContinue = "/oauth2/authorize/continue"
	// PathUserInfo is the UserInfo endpoint (OIDC Core §5.3).
	PathUserInfo = "/oauth2/userinfo"
	// PathLogout is the end-session endpoint (RP-Initiated Logout 1.0).
	PathLogout = "/oauth2/logout"
	// PathLogin is home-realm discovery in package idp, where a browser
	// without a usable session is sent as
	// PathLogin?authz=<id>[&login_hint=…][&organization=…][&prompt=login].
	PathLogin = "/login"
)

// Protocol names this package implements.
const (
	GrantClientCredentials = "client_credentials"  // RFC 6749 §4.4
	GrantAuthorizationCode = "authorization_code"  // RFC 6749 §4.1
	GrantRefreshToken      = "refresh_token"       // RFC 6749 §6
	AuthClientSecretBasic  = "client_secret_basic" // RFC 6749 §2.3.1, HTTP Basic
	AuthClientSecretPost   = "client_secret_post"  // RFC 6749 §2.3.1, in the body
	AuthNone               = "none"                // public clients: client_id and PKCE
)

// Scope values of OpenID Connect (OIDC Core §5.4, §11) that the provider
// understands; no other value may be asked for at the authorization endpoint.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// oidcScopes are the scope values of the authorization endpoint.
var oidcScopes = [...]string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}

// oidcClaims are the claims of ID tokens and userinfo answers.
var oidcClaims = [...]string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "at_hash", "sid",
	"email", "email_verified", "name", "org", "workspaces", "default_workspace"}

// BuildDiscovery returns the metadata document for issuer with features f;
// scopes are the scope values clients may ask for.
func BuildDiscovery(issuer string, f Features, scopes []string) Discovery {
	secretAuth := []string{AuthClientSecretBasic, AuthClientSecretPost}
	d := Discovery{
		Issuer:                 issuer,
		JWKSURI:                issuer + PathJWKS,
		ResponseTypesSupported: []string{},
		// Every client sees the same sub for a principal.
		SubjectTypesSupported: []string{"public"},
		ScopesSupported:       slices.Clone(scopes),
	}
	if f.AuthorizationCode {
		no := false
		d.AuthorizationEndpoint = issuer + PathAuthorize
		d.ResponseTypesSupported = []string{"code"}
		d.ResponseModesSupported = []string{"query"}
		d.GrantTypesSupported = append(d.GrantTypesSupported, GrantAuthorizationCode)
		d.CodeChallengeMethodsSupported = []string{"S256"}
		for _, a := range f.IDTokenAlgorithms {
			d.IDTokenSigningAlgValuesSupported = append(d.IDTokenSigningAlgValuesSupported, string(a))
		}
		d.ClaimsSupported = slices.Clone(oidcClaims[:])
		d.PromptValuesSupported = []string{"none", "login", "consent", "select_account"}
		d.AuthorizationResponseIssParameterSupported = true
		d.RequestParameterSupported, d.RequestURIParameterSupported, d.ClaimsParameterSupported = &no, &no, &no
		// ScopeAdmin is asked for at the authorization endpoint too, by the
		// clients an operator allowed it (AdminAPI).
		for _, s := range append(oidcScopes[:], ScopeAdmin) {
			if !slices.Contains(d.ScopesSupported, s) {
				d.ScopesSupported = append(d.ScopesSupported, s)
			}
		}
	}
	if f.RefreshToken {
		d.GrantTypesSupported = append(d.GrantTypesSupported, GrantRefreshToken)
	}
	if f.ClientCredentials {
		d.GrantTypesSupported = append(d.GrantTypesSupported, GrantClientCredentials)
	}
	if f.TokenExchange {
		d.GrantTypesSupported = append(d.GrantTypesSupported, GrantTokenExchange)
	}
	switch {
	case f.AuthorizationCode || f.RefreshToken:
		d.TokenEndpoint = issuer + PathToken
		d.TokenEndpointAuthMethodsSupported = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthNone}
	case f.ClientCredentials:
		d.TokenEndpoint = issuer + PathToken
		d.TokenEndpointAuthMethodsSupported = secretAuth
	}
	if f.UserInfo {
		d.UserinfoEndpoint = issuer + PathUserInfo
	}
	if f.EndSession {
		d.EndSessionEndpoint = issuer + PathLogout
	}
	if f.BackchannelLogout {
		d.BackchannelLogoutSupported, d.BackchannelLogoutSessionSupported = true, true
	}
	if f.Introspection {
		d.IntrospectionEndpoint = issuer + PathIntrospect
		d.IntrospectionEndpointAuthMethodsSupported = secretAuth
	}
	if f.Revocation {
		d.RevocationEndpoint = issuer + PathRevoke
		d.RevocationEndpointAuthMethodsSupported = secretAuth
		if f.AuthorizationCode || f.RefreshToken {
			// Registered public clients revoke with client_id alone (RFC 7009 §2.1).
			d.RevocationEndpointAuthMethodsSupported = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthNone}
		}
	}
	return d
}

// DiscoveryDocument returns the metadata document of this issuer with
// features f (BuildDiscovery; the ID-token algorithms default to the
// keyring's) serialized once, with its ETag and Cache-Control max-age
// (DefaultDiscoveryMaxAge).
func (i *Issuer) DiscoveryDocument(f Features) (Document, error) {
	if f.AuthorizationCode && len(f.IDTokenAlgorithms) == 0 {
		f.IDTokenAlgorithms = []Algorithm{i.keys.cfg.IDTokenAlgorithm}
	}
	d := BuildDiscovery(i.cfg.Issuer, f, i.cfg.ServiceAccountScopes)
	if i.ExternalJWTsEnabled() && d.TokenEndpoint != "" {
		// RFC 7523 jwt-bearer for trusted issuers' JWTs (docs/jwt-issuers.md).
		d.GrantTypesSupported = append(d.GrantTypesSupported, GrantJWTBearer)
	}
	return newDocument(d, int(DefaultDiscoveryMaxAge/time.Second))
}

func newDocument(v any, maxAgeSeconds int) (Document, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return Document{}, fmt.Errorf("tokens: encode document: %w", err)
	}
	sum := sha256.Sum256(body)
	return Document{Body: body, ETag: []string{`"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`},
		CacheControl: []string{fmt.Sprintf("public, max-age=%d", maxAgeSeconds)}}, nil
}

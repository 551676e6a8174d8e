package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
)

// Features says which protocol features are enabled; the discovery document
// lists exactly these. Later features (the authorization-code flow, refresh
// tokens, userinfo, ID tokens, logout) add a field here and their entries in
// Discovery.
type Features struct {
	ClientCredentials bool
	Introspection     bool
	Revocation        bool
}

// Discovery is the OpenID Provider Metadata / OAuth 2.0 Authorization Server
// Metadata (OIDC Discovery 1.0 §3, RFC 8414 §2) of this deployment. Fields
// of features not enabled are omitted rather than promised.
type Discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string   `json:"token_endpoint,omitempty"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint,omitempty"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint,omitempty"`
	IntrospectionEndpoint string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint    string   `json:"revocation_endpoint,omitempty"`
	ScopesSupported       []string `json:"scopes_supported,omitempty"`
	// ResponseTypesSupported is REQUIRED by both specifications; it is empty
	// (not omitted) while no flow uses the authorization endpoint.
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported,omitempty"`
	SubjectTypesSupported                      []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported,omitempty"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty"`
	ClaimsSupported                            []string `json:"claims_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// The endpoint paths, relative to the issuer.
const (
	PathJWKS            = "/.well-known/jwks.json"
	PathOpenIDConfig    = "/.well-known/openid-configuration"
	PathOAuthServerMeta = "/.well-known/oauth-authorization-server"
	PathToken           = "/oauth2/token"
	PathIntrospect      = "/oauth2/introspect"
	PathRevoke          = "/oauth2/revoke"
)

// Protocol names this package implements.
const (
	GrantClientCredentials = "client_credentials"  // RFC 6749 §4.4
	AuthClientSecretBasic  = "client_secret_basic" // RFC 6749 §2.3.1, HTTP Basic
	AuthClientSecretPost   = "client_secret_post"  // RFC 6749 §2.3.1, in the body
)

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
	if f.ClientCredentials {
		d.TokenEndpoint = issuer + PathToken
		d.GrantTypesSupported = append(d.GrantTypesSupported, GrantClientCredentials)
		d.TokenEndpointAuthMethodsSupported = secretAuth
	}
	if f.Introspection {
		d.IntrospectionEndpoint = issuer + PathIntrospect
		d.IntrospectionEndpointAuthMethodsSupported = secretAuth
	}
	if f.Revocation {
		d.RevocationEndpoint = issuer + PathRevoke
		d.RevocationEndpointAuthMethodsSupported = secretAuth
	}
	return d
}

// staticDoc is a pre-serialized JSON document with its strong ETag.
type staticDoc struct {
	body []byte
	etag []string
	cc   []string
}

func newStaticDoc(v any, maxAgeSeconds int) (staticDoc, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return staticDoc{}, fmt.Errorf("tokens: encode document: %w", err)
	}
	sum := sha256.Sum256(body)
	return staticDoc{body: body, etag: []string{`"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`},
		cc: []string{fmt.Sprintf("public, max-age=%d", maxAgeSeconds)}}, nil
}

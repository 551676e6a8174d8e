// Package oidc is the upstream OpenID Connect connector of the broker: an
// org's corporate IdP (Okta, Entra ID, Google, Keycloak, oidc-provider…)
// reached with the authorization code flow, PKCE S256 and a nonce.
//
// It uses github.com/coreos/go-oidc/v3 for discovery and ID token
// verification and golang.org/x/oauth2 for the code exchange; it configures
// them and maps claims, it does not re-implement them.
//
// The connection's configuration (directory.Connection.Config) is
//
//	{
//	  "oidc": {
//	    "issuer": "https://idp.example.com",        // exact; discovery at /.well-known/openid-configuration
//	    "client_id": "…",
//	    "client_secret_sealed": "<base64>",         // secretbox, associated data = connection id; absent: public client
//	    "scopes": ["openid", "email", "profile"],   // default; add "groups" where the IdP needs it
//	    "require_email_verified": true,             // default true; false admits email_verified false or absent
//	    "userinfo": "auto"                          // auto (default) | always | never
//	  },
//	  "attribute_mapping": {"subject": "sub", "email": "email", "email_verified": "email_verified",
//	                        "name": "name", "given_name": "given_name", "family_name": "family_name",
//	                        "groups": "groups"},    // defaults shown
//	  "group_roles": {"admins": "admin"},
//	  "group_workspaces": {"ml": {"research": "member"}}
//	}
//
// Checks at the callback: RFC 9207 `iss` in the authorization response
// (required when the IdP announces it), the code exchange with the PKCE
// verifier, an ID token whose `iss` is exactly the configured issuer, whose
// `aud` holds the client id (and `azp`, when present or when there are
// several audiences, is the client id), signed with an asymmetric key of the
// IdP's JWKS, unexpired, whose `nonce` is the one sent, whose `at_hash`
// (when present) matches; userinfo's `sub` must equal the ID token's.
package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// Type is the connection type this package serves.
const Type = directory.ConnectionOIDC

// UserInfo modes: when the connector calls the userinfo endpoint.
const (
	// UserInfoAuto calls it when the ID token lacks a claim the broker reads.
	UserInfoAuto = "auto"
	// UserInfoAlways calls it at every login.
	UserInfoAlways = "always"
	// UserInfoNever never calls it.
	UserInfoNever = "never"
)

// Config is the "oidc" section of a connection's configuration.
type Config struct {
	Issuer             string   `json:"issuer"`
	ClientID           string   `json:"client_id"`
	ClientSecretSealed []byte   `json:"client_secret_sealed,omitempty"`
	Scopes             []string `json:"scopes,omitempty"`
	// RequireEmailVerified, when nil or true, refuses a login whose
	// email_verified claim is not true.
	RequireEmailVerified *bool `json:"require_email_verified,omitempty"`
	// UserInfo is UserInfoAuto (default), UserInfoAlways or UserInfoNever.
	UserInfo string `json:"userinfo,omitempty"`
}

// ParseConfig reads and validates the "oidc" section. It fails with an
// error wrapping idp.ErrConfig that names every problem.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) == 0 || string(raw) == "null" {
		return c, fmt.Errorf("%w: the connection has no oidc section", idp.ErrConfig)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("%w: oidc section: %w", idp.ErrConfig, err)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = defaultScopes()
	}
	if c.UserInfo == "" {
		c.UserInfo = UserInfoAuto
	}
	var problems []error
	for _, p := range settingsProblems(c) {
		problems = append(problems, errors.New(p.Message))
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: oidc: %w", idp.ErrConfig, errors.Join(problems...))
	}
	return c, nil
}

// Connector is an upstream OpenID Provider for one connection. It
// implements idp.CallbackConnector and is safe for concurrent use.
type Connector struct {
	cfg       Config
	issuer    string
	oauth     oauth2.Config
	provider  *gooidc.Provider
	verifier  *gooidc.IDTokenVerifier
	client    *http.Client
	claims    claimNames
	needsIss  bool // the IdP sends RFC 9207 iss in authorization responses
	useGroups bool
	// endSession is the IdP's end_session_endpoint (OIDC RP-Initiated
	// Logout 1.0), or "" when it offers none.
	endSession string
}

var (
	_ idp.CallbackConnector = (*Connector)(nil)
	_ idp.LogoutConnector   = (*Connector)(nil)
)

// New builds the connector of a connection of type "oidc": it parses the
// configuration, opens the client secret and fetches the IdP's discovery
// document (whose issuer must be exactly the configured one). Errors wrap
// idp.ErrConfig (configuration, secret, issuer mismatch) or
// idp.ErrUpstreamUnavailable (discovery failed).
func New(ctx context.Context, in idp.FactoryInput) (idp.Connector, error) {
	cfg, err := ParseConfig(in.Config.OIDC)
	if err != nil {
		return nil, err
	}
	var secret []byte
	if len(cfg.ClientSecretSealed) > 0 {
		if in.OpenSecret == nil {
			return nil, fmt.Errorf("%w: no way to open the client secret", idp.ErrConfig)
		}
		if secret, err = in.OpenSecret(cfg.ClientSecretSealed); err != nil {
			return nil, err
		}
	}
	client := in.HTTPClient
	if client == nil {
		client = idp.NewUpstreamClient(false)
	}
	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("%w: discovery: %w", idp.ErrConfig, err)
		}
		return nil, fmt.Errorf("%w: discovery of %s: %w", idp.ErrUpstreamUnavailable, cfg.Issuer, discoveryError(err))
	}
	var meta struct {
		IssParam   bool     `json:"authorization_response_iss_parameter_supported"`
		PKCE       []string `json:"code_challenge_methods_supported"`
		EndSession string   `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery document: %w", idp.ErrUpstreamUnavailable, err)
	}
	if len(meta.PKCE) > 0 && !slices.Contains(meta.PKCE, "S256") && in.Logger != nil {
		in.Logger.Warn("the identity provider does not announce PKCE S256; sending it anyway", "issuer", cfg.Issuer)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if len(secret) == 0 {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	c := &Connector{
		cfg:    cfg,
		issuer: cfg.Issuer,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: string(secret), Endpoint: ep,
			RedirectURL: in.CallbackURL, Scopes: cfg.Scopes},
		provider: provider,
		// Keys are fetched with our client; go-oidc keeps them across logins
		// and refetches on an unknown kid. Only asymmetric algorithms are
		// accepted (go-oidc's list: never none or HS*).
		verifier:  provider.VerifierContext(gooidc.ClientContext(context.Background(), client), &gooidc.Config{ClientID: cfg.ClientID}),
		client:    client,
		claims:    claimNamesFrom(in.Config.AttributeMapping),
		needsIss:  meta.IssParam,
		useGroups: in.Config.UsesGroups(),
	}
	if u, err := url.Parse(meta.EndSession); meta.EndSession != "" && (err != nil || u.Host == "" || u.Fragment != "" ||
		u.Scheme != "https" && !(u.Scheme == "http" && strings.HasPrefix(cfg.Issuer, "http:"))) {
		// A browser is sent there: an https URL (http only for an http
		// issuer, a test IdP), else no upstream logout.
		if in.Logger != nil {
			in.Logger.Warn("the identity provider's end_session_endpoint is not a usable URL; sign-out stays local", "issuer", cfg.Issuer)
		}
	} else {
		c.endSession = meta.EndSession
	}
	return c, nil
}

// LogoutURL returns the IdP's end_session_endpoint with id_token_hint,
// post_logout_redirect_uri, state and client_id (OIDC RP-Initiated Logout
// 1.0 §2), or ok false when the IdP announces none. The IdP must have
// postLogoutRedirectURI registered for the client.
func (c *Connector) LogoutURL(idTokenHint, postLogoutRedirectURI, state string) (string, bool) {
	if c.endSession == "" {
		return "", false
	}
	u, err := url.Parse(c.endSession)
	if err != nil {
		return "", false
	}
	q := u.Query()
	q.Set("id_token_hint", idTokenHint)
	q.Set("post_logout_redirect_uri", postLogoutRedirectURI)
	q.Set("state", state)
	q.Set("client_id", c.cfg.ClientID)
	u.RawQuery = q.Encode()
	return u.String(), true
}

// Issuer returns the configured issuer.
func (c *Connector) Issuer() string { return c.issuer }

// LoginURL returns the IdP's authorization endpoint with a code request.
func (c *Connector) LoginURL(_ context.Context, state, nonce, pkceChallenge, redirectURI, loginHint string, opts ...idp.LoginOption) (string, error) {
	cfg := c.oauth
	cfg.RedirectURL = redirectURI
	params := []oauth2.AuthCodeOption{
		gooidc.Nonce(nonce),
		oauth2.SetAuthURLParam("code_challenge", pkceChallenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256"),
	}
	if loginHint != "" {
		params = append(params, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	if slices.Contains(opts, idp.ForceReauthentication) {
		params = append(params, oauth2.SetAuthURLParam("prompt", "login"))
	}
	return cfg.AuthCodeURL(state, params...), nil
}

// HandleCallback exchanges the code and verifies what comes back.
func (c *Connector) HandleCallback(ctx context.Context, r *http.Request, expect idp.CallbackExpect) (idp.Identity, error) {
	q := r.URL.Query()
	if q.Get("state") != expect.State {
		return idp.Identity{}, fmt.Errorf("%w: state does not match", idp.ErrInvalidResponse)
	}
	// RFC 9207: who answered must be the IdP we asked (mix-up defence).
	if iss := q.Get("iss"); iss != "" && iss != c.issuer {
		return idp.Identity{}, fmt.Errorf("%w: authorization response from issuer %q, expected %q", idp.ErrInvalidResponse, clip(iss), c.issuer)
	} else if iss == "" && c.needsIss {
		return idp.Identity{}, fmt.Errorf("%w: authorization response without the iss parameter the IdP announces", idp.ErrInvalidResponse)
	}
	if code := q.Get("error"); code != "" {
		return idp.Identity{}, &idp.UpstreamError{Code: clip(code), Description: clip(q.Get("error_description"))}
	}
	code := q.Get("code")
	if code == "" {
		return idp.Identity{}, fmt.Errorf("%w: callback without code", idp.ErrInvalidResponse)
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.client)
	cfg := c.oauth
	cfg.RedirectURL = expect.RedirectURI
	tok, err := cfg.Exchange(hctx, code, oauth2.VerifierOption(expect.PKCEVerifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			// The token endpoint refused: a replayed or foreign code, a wrong
			// PKCE verifier or redirect URI. Only the error code is kept.
			return idp.Identity{}, fmt.Errorf("%w: token endpoint refused the code: %s %s", idp.ErrInvalidResponse, re.Response.Status, clip(re.ErrorCode))
		}
		return idp.Identity{}, fmt.Errorf("%w: token endpoint: %w", idp.ErrUpstreamUnavailable, scrub(err))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return idp.Identity{}, fmt.Errorf("%w: token response without id_token", idp.ErrInvalidResponse)
	}
	idt, err := c.verify(gooidc.ClientContext(ctx, c.client), rawID, expect.Nonce)
	if err != nil {
		return idp.Identity{}, err
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return idp.Identity{}, fmt.Errorf("%w: at_hash: %w", idp.ErrInvalidResponse, err)
		}
	}
	claims := map[string]json.RawMessage{}
	if err := idt.Claims(&claims); err != nil {
		return idp.Identity{}, fmt.Errorf("%w: ID token claims: %w", idp.ErrInvalidResponse, err)
	}
	if c.wantUserInfo(claims) {
		if err := c.mergeUserInfo(gooidc.ClientContext(ctx, c.client), tok, idt.Subject, claims); err != nil {
			return idp.Identity{}, err
		}
	}
	id, err := c.claims.identity(idt.Issuer, claims, c.requireVerified())
	if err != nil {
		return id, err
	}
	id.IDToken = rawID
	return id, nil
}

// verify checks the ID token. The issuer is compared before any key is
// fetched, so a token from another IdP fails with a precise reason and
// never makes us refetch our IdP's keys.
func (c *Connector) verify(ctx context.Context, rawID, nonce string) (*gooidc.IDToken, error) {
	if iss, err := unverifiedIssuer(rawID); err != nil {
		return nil, fmt.Errorf("%w: ID token: %w", idp.ErrInvalidResponse, err)
	} else if iss != c.issuer {
		return nil, fmt.Errorf("%w: ID token from another issuer %q, expected %q", idp.ErrInvalidResponse, clip(iss), c.issuer)
	}
	idt, err := c.verifier.Verify(ctx, rawID)
	if err != nil {
		return nil, fmt.Errorf("%w: ID token: %w", idp.ErrInvalidResponse, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, fmt.Errorf("%w: ID token nonce does not match the one sent", idp.ErrInvalidResponse)
	}
	var azp struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&azp); err != nil {
		return nil, fmt.Errorf("%w: ID token claims: %w", idp.ErrInvalidResponse, err)
	}
	if (azp.AZP != "" || len(idt.Audience) > 1) && azp.AZP != c.cfg.ClientID {
		return nil, fmt.Errorf("%w: ID token azp %q is not our client id", idp.ErrInvalidResponse, clip(azp.AZP))
	}
	return idt, nil
}

// unverifiedIssuer reads iss from a JWT without checking it: only to
// choose the error, never to trust.
func unverifiedIssuer(jwt string) (string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", errors.New("not a signed JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("payload is not base64url")
	}
	var p struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", errors.New("payload is not a JSON object")
	}
	return p.Iss, nil
}

func (c *Connector) requireVerified() bool {
	return c.cfg.RequireEmailVerified == nil || *c.cfg.RequireEmailVerified
}

// wantUserInfo decides whether to call userinfo: in auto mode, when the ID
// token lacks a claim we read (oidc-provider and many IdPs put email, name
// and groups only in userinfo).
func (c *Connector) wantUserInfo(claims map[string]json.RawMessage) bool {
	switch c.cfg.UserInfo {
	case UserInfoAlways:
		return true
	case UserInfoNever:
		return false
	}
	for _, name := range c.claims.wanted(c.useGroups) {
		if _, ok := claims[name]; !ok {
			return true
		}
	}
	return false
}

// mergeUserInfo adds userinfo's claims that the ID token lacks. A failure is
// a failed login: carrying on without the groups would strip mapped roles.
func (c *Connector) mergeUserInfo(ctx context.Context, tok *oauth2.Token, subject string, claims map[string]json.RawMessage) error {
	if c.provider.UserInfoEndpoint() == "" {
		if c.cfg.UserInfo == UserInfoAlways {
			return fmt.Errorf("%w: userinfo is required by the connection and the IdP has no userinfo endpoint", idp.ErrConfig)
		}
		return nil
	}
	ui, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: userinfo: %w", idp.ErrUpstreamUnavailable, scrub(err))
	}
	if ui.Subject != subject {
		return fmt.Errorf("%w: userinfo sub differs from the ID token's", idp.ErrInvalidResponse)
	}
	extra := map[string]json.RawMessage{}
	if err := ui.Claims(&extra); err != nil {
		return fmt.Errorf("%w: userinfo claims: %w", idp.ErrInvalidResponse, err)
	}
	for k, v := range extra {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// clip bounds a value from the IdP before it reaches a log line or a page.
func clip(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// discoveryError classifies a failed discovery for the org admin
// (idp.FetchError). go-oidc reports an unexpected status as "404 Not Found:
// body"; the body stays out of the message.
func discoveryError(err error) error {
	msg := err.Error()
	if len(msg) > 4 && msg[3] == ' ' {
		if code, e := strconv.Atoi(msg[:3]); e == nil && code >= 100 && code <= 599 {
			return idp.FetchStatusError(code, "discovery answered "+clip(strings.SplitN(msg, ":", 2)[0]))
		}
	}
	return idp.ClassifyFetch(err)
}

// scrub drops response bodies from library errors (they may echo tokens or
// personal data) and keeps the status line or network error.
func scrub(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "\nResponse:"); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, ": {"); i >= 0 {
		msg = msg[:i]
	}
	return errors.New(clip(msg))
}

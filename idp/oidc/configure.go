package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// Configurator owns the "oidc" section of a connection's configuration: it
// checks what an admin sends by the rules sign-in applies, fetches the IdP's
// discovery document through the upstream client (reachable, `issuer`
// exactly the configured one, the code flow, PKCE S256), seals the client
// secret, and says which callback URL to register at the IdP. It implements
// idp.SectionConfigurator.
type Configurator struct{}

var _ idp.SectionConfigurator = Configurator{}

// defaultScopes are asked of an IdP when a connection names none.
func defaultScopes() []string { return []string{"openid", "email", "profile"} }

// sectionInput is the "oidc" section as an admin sends it: the client
// secret in clear (sealed before it is stored), absent to keep the stored one.
type sectionInput struct {
	Issuer               string   `json:"issuer"`
	ClientID             string   `json:"client_id"`
	ClientSecret         *string  `json:"client_secret"`
	Scopes               []string `json:"scopes"`
	RequireEmailVerified *bool    `json:"require_email_verified"`
	UserInfo             string   `json:"userinfo"`
}

func problem(field, msg string) *directory.InvalidError {
	return &directory.InvalidError{Field: field, Message: msg}
}

// settingsProblems checks a section without calling the IdP: the rules
// ParseConfig and Validate share.
func settingsProblems(c Config) []*directory.InvalidError {
	var out []*directory.InvalidError
	if err := idp.CheckUpstreamURL(c.Issuer); err != nil {
		out = append(out, problem("oidc.issuer", err.Error()))
	} else if strings.Contains(c.Issuer, "?") {
		out = append(out, problem("oidc.issuer", "an issuer URL has no query (OpenID Connect Discovery)"))
	}
	if c.ClientID == "" || len(c.ClientID) > 255 || hasControl(c.ClientID) {
		out = append(out, problem("oidc.client_id", "client_id is required: 1-255 characters"))
	}
	if p := scopesProblem(c.Scopes); p != nil {
		out = append(out, p)
	}
	switch c.UserInfo {
	case UserInfoAuto, UserInfoAlways, UserInfoNever:
	default:
		out = append(out, problem("oidc.userinfo", `userinfo must be "auto", "always" or "never"`))
	}
	return out
}

// scopesProblem checks RFC 6749 scope tokens and that "openid" is among them.
func scopesProblem(scopes []string) *directory.InvalidError {
	if len(scopes) > 50 {
		return problem("oidc.scopes", "at most 50 scopes")
	}
	seen := map[string]bool{}
	for _, s := range scopes {
		if s == "" || len(s) > 200 {
			return problem("oidc.scopes", "a scope must be 1-200 characters")
		}
		for i := 0; i < len(s); i++ {
			if ch := s[i]; ch < 0x21 || ch == '"' || ch == '\\' || ch > 0x7e {
				return problem("oidc.scopes", fmt.Sprintf("scope %q has a character RFC 6749 does not allow", clip(s)))
			}
		}
		if seen[s] {
			return problem("oidc.scopes", fmt.Sprintf("scope %q is listed twice", clip(s)))
		}
		seen[s] = true
	}
	if !seen["openid"] {
		return problem("oidc.scopes", `scopes must include "openid"`)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// Validate checks and prepares an "oidc" section. A client secret sent is
// sealed once the connection has its id; none sent keeps the stored one (a
// new connection needs one).
func (Configurator) Validate(ctx context.Context, in idp.ConfigureInput) (directory.PreparedSection, error) {
	var out directory.PreparedSection
	var s sectionInput
	if err := json.Unmarshal(in.Section, &s); err != nil || len(in.Section) == 0 {
		out.Problems = []*directory.InvalidError{problem("oidc", "the oidc section must be an object")}
		return out, nil
	}
	c := Config{Issuer: s.Issuer, ClientID: s.ClientID, Scopes: s.Scopes, RequireEmailVerified: s.RequireEmailVerified, UserInfo: s.UserInfo}
	if c.Scopes == nil {
		c.Scopes = defaultScopes()
	}
	if c.UserInfo == "" {
		c.UserInfo = UserInfoAuto
	}
	out.Problems = settingsProblems(c)
	switch {
	case s.ClientSecret != nil && (*s.ClientSecret == "" || len(*s.ClientSecret) > 1024 || hasControl(*s.ClientSecret)):
		out.Problems = append(out.Problems, problem("oidc.client_secret", "client_secret must be 1-1024 characters"))
	case s.ClientSecret == nil && len(in.Stored) == 0:
		out.Problems = append(out.Problems, problem("oidc.client_secret", "client_secret is required"))
	case s.ClientSecret == nil:
		var stored Config
		if err := json.Unmarshal(in.Stored, &stored); err == nil {
			c.ClientSecretSealed = stored.ClientSecretSealed
		}
	}
	if len(out.Problems) > 0 {
		return out, nil
	}
	if p := discoveryProblem(ctx, in, c.Issuer); p != nil {
		out.Problems = []*directory.InvalidError{p}
		return out, nil
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return out, err
	}
	out.Section = raw
	if s.ClientSecret == nil {
		return out, nil
	}
	if in.Seal == nil {
		return out, idp.ErrNoSealer
	}
	secret := []byte(*s.ClientSecret)
	out.Seal = func(connID string) (json.RawMessage, error) {
		sealed, err := in.Seal(secret, []byte(connID))
		if err != nil {
			return nil, err
		}
		withSecret := c
		withSecret.ClientSecretSealed = sealed
		return json.Marshal(withSecret)
	}
	return out, nil
}

// discoveryProblem fetches the IdP's discovery document as sign-in will and
// checks what sign-in needs of it: reachable, `issuer` exactly the
// configured one, the code flow, and PKCE S256 when the IdP lists methods.
func discoveryProblem(ctx context.Context, in idp.ConfigureInput, issuer string) *directory.InvalidError {
	client := in.HTTPClient
	if client == nil {
		client = idp.NewUpstreamClient(false)
	}
	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, client), issuer)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return problem("oidc.issuer", fmt.Sprintf("The identity provider's discovery document names the issuer %q, not %q: the issuer must match exactly (mind a trailing slash)",
				clip(mismatch.Discovered), clip(issuer)))
		}
		return problem("oidc.issuer", "The identity provider's discovery document could not be fetched: "+idp.PublicFetchMessage(discoveryError(err)))
	}
	var meta struct {
		ResponseTypes []string `json:"response_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return problem("oidc.issuer", "The identity provider's discovery document could not be read")
	}
	if !slices.Contains(meta.ResponseTypes, "code") {
		return problem("oidc.issuer", "The identity provider does not offer the authorization code flow (response_types_supported lacks \"code\")")
	}
	if len(meta.PKCE) > 0 && !slices.Contains(meta.PKCE, "S256") {
		return problem("oidc.issuer", "The identity provider does not offer PKCE with S256 (code_challenge_methods_supported)")
	}
	return nil
}

// Describe says which redirect URI to register at the IdP.
func (Configurator) Describe(in idp.DescribeInput) directory.SetupValues {
	return directory.SetupValues{CallbackURL: in.CallbackURL}
}

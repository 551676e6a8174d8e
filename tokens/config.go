package tokens

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Algorithm names a JWS signature algorithm a deployment signs with.
type Algorithm string

// The signing algorithms a deployment can choose.
const (
	ES256 Algorithm = "ES256" // ECDSA P-256 with SHA-256, the default
	EdDSA Algorithm = "EdDSA" // Ed25519
	RS256 Algorithm = "RS256" // RSA PKCS#1 v1.5 with SHA-256, 3072-bit keys
)

// Valid reports whether a is one of ES256, EdDSA and RS256.
func (a Algorithm) Valid() bool { return a == ES256 || a == EdDSA || a == RS256 }

// Validate is Valid as the error a configuration check reports: this package
// owns the algorithm names (cmd only collects the errors).
func (a Algorithm) Validate() error {
	if !a.Valid() {
		return fmt.Errorf("%q is not a signing algorithm: use ES256, EdDSA or RS256", string(a))
	}
	return nil
}

// Defaults. The rotation timings obey JWKSMaxAge + ReloadInterval ≤ PublishLead:
// a verifier that fetched the key set just before a new key appeared has
// refetched it before any token is signed with that key.
const (
	DefaultAccessTokenTTL      = 10 * time.Minute
	DefaultLeeway              = time.Minute
	DefaultRotateEvery         = 24 * time.Hour
	DefaultPublishLead         = time.Hour
	DefaultJWKSMaxAge          = 5 * time.Minute
	DefaultReloadInterval      = 10 * time.Second
	DefaultRotationCheck       = time.Minute
	DefaultMaxTokenWorkspaces  = 30
	DefaultDiscoveryMaxAge     = time.Hour
	maxAccessTokenTTL          = 24 * time.Hour
	defaultFailedAuthClientCap = 100_000
)

// KeyConfig configures signing keys and their rotation.
type KeyConfig struct {
	// Algorithm of new keys; empty means ES256. Keys already made with another
	// algorithm keep theirs until they retire.
	Algorithm Algorithm
	// IDTokenAlgorithm signs OpenID Connect ID tokens; empty means RS256,
	// the algorithm OpenID Connect requires every provider to support and
	// relying parties assume when nothing else is agreed. When it differs
	// from Algorithm the keyring keeps a second lane of keys for ID tokens,
	// with the same lifecycle and rotation timings (RS256 keys of this lane
	// are 2048-bit: a third of the signing time of 3072-bit keys). When it
	// equals Algorithm, ID tokens are signed with the access-token key.
	IDTokenAlgorithm Algorithm
	// RotateEvery is how long a key signs before the next one takes over.
	RotateEvery time.Duration
	// PublishLead is how long a new key is published in the JWKS before it
	// signs anything. It must be at least JWKSMaxAge + ReloadInterval.
	PublishLead time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS document.
	JWKSMaxAge time.Duration
	// ReloadInterval is how often a replica re-reads the key set from the
	// store even without a change notification.
	ReloadInterval time.Duration
	// RotationCheck is how often the background loop runs Rotate.
	RotationCheck time.Duration
	// MaxTokenTTL is the longest lifetime of any token signed with these keys;
	// a retired key stays published for MaxTokenTTL + Leeway + ReloadInterval.
	MaxTokenTTL time.Duration
	// Leeway is the clock skew verifiers are assumed to allow.
	Leeway time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// Log receives lifecycle events (never key material); nil discards them.
	Log *slog.Logger
}

func (c KeyConfig) withDefaults() KeyConfig {
	if c.Algorithm == "" {
		c.Algorithm = ES256
	}
	if c.IDTokenAlgorithm == "" {
		c.IDTokenAlgorithm = RS256
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.RotateEvery, DefaultRotateEvery)
	def(&c.PublishLead, DefaultPublishLead)
	def(&c.JWKSMaxAge, DefaultJWKSMaxAge)
	def(&c.ReloadInterval, DefaultReloadInterval)
	def(&c.RotationCheck, DefaultRotationCheck)
	def(&c.MaxTokenTTL, DefaultAccessTokenTTL)
	def(&c.Leeway, DefaultLeeway)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports every problem at once.
func (c KeyConfig) validate() error {
	var errs []error
	if !c.Algorithm.Valid() {
		errs = append(errs, fmt.Errorf("signing algorithm %q is not one of ES256, EdDSA, RS256", c.Algorithm))
	}
	if !c.IDTokenAlgorithm.Valid() {
		errs = append(errs, fmt.Errorf("ID token signing algorithm %q is not one of ES256, EdDSA, RS256", c.IDTokenAlgorithm))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"rotation period", c.RotateEvery}, {"publish lead", c.PublishLead}, {"JWKS max-age", c.JWKSMaxAge},
		{"reload interval", c.ReloadInterval}, {"rotation check interval", c.RotationCheck},
		{"maximum token lifetime", c.MaxTokenTTL}, {"leeway", c.Leeway}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		}
	}
	if c.JWKSMaxAge < time.Second {
		errs = append(errs, errors.New("JWKS max-age must be at least one second"))
	}
	if c.PublishLead < c.JWKSMaxAge+c.ReloadInterval {
		errs = append(errs, fmt.Errorf("publish lead %v must be at least JWKS max-age %v + reload interval %v, or verifiers may see tokens signed by a key they have not fetched",
			c.PublishLead, c.JWKSMaxAge, c.ReloadInterval))
	}
	if c.RotateEvery < c.PublishLead {
		errs = append(errs, fmt.Errorf("rotation period %v must be at least the publish lead %v", c.RotateEvery, c.PublishLead))
	}
	return errors.Join(errs...)
}

// Retention is how long a retired key stays published: until every token it
// signed has expired, counting the verifiers' clock skew and the time a
// replica that has not reloaded yet may still sign with it.
func (c KeyConfig) Retention() time.Duration { return c.MaxTokenTTL + c.Leeway + c.ReloadInterval }

// IssuerConfig configures minting and the token endpoints.
type IssuerConfig struct {
	// Issuer is the public base URL, the "iss" of every token (SSOBROKER_ISSUER).
	Issuer string
	// AccessTokenTTL is the lifetime of access tokens; zero means 10 minutes.
	AccessTokenTTL time.Duration
	// Audience is the "aud" of client-credentials tokens. Empty means the
	// client's own id, as for user tokens (README.md, "Access tokens": aud is the client id).
	Audience string
	// ServiceAccountScopes lists the scope values a service account may ask
	// for; any other value is invalid_scope. Empty: no scope may be asked for.
	ServiceAccountScopes []string
	// MaxTokenWorkspaces caps the workspaces listed in a token (see
	// Issuer.Mint); zero means DefaultMaxTokenWorkspaces.
	MaxTokenWorkspaces int
	// FailedAuthLimit is how many failed client authentications from one
	// source (session.Sources) for one client are answered normally per
	// FailedAuthWindow; further failures get 429 with Retry-After. A correct
	// secret is never refused. Zero means DefaultFailedAuthLimit.
	FailedAuthLimit int
	// FailedAuthSourceLimit is the same limit for one source across all
	// clients; zero means DefaultFailedAuthSourceLimit.
	FailedAuthSourceLimit int
	// FailedAuthWindow is the fixed window of both limits; zero means
	// DefaultFailedAuthWindow.
	FailedAuthWindow time.Duration
	// FailureCounter keeps the failure counts; the session store, so that
	// replicas sharing Redis share them. Nil counts in this process only.
	FailureCounter FailureCounter
	// ExternalJWTs, with a Verifier, serves the jwt-bearer grant and token
	// exchange of trusted issuers' JWTs (docs/jwt-issuers.md); without one
	// both answer unsupported_grant_type.
	ExternalJWTs ExternalJWTs
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Log receives request outcomes (never secrets or tokens); nil discards them.
	Log *slog.Logger
}

func (c IssuerConfig) withDefaults() IssuerConfig {
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.MaxTokenWorkspaces == 0 {
		c.MaxTokenWorkspaces = DefaultMaxTokenWorkspaces
	}
	if c.FailedAuthLimit == 0 {
		c.FailedAuthLimit = DefaultFailedAuthLimit
	}
	if c.FailedAuthSourceLimit == 0 {
		c.FailedAuthSourceLimit = DefaultFailedAuthSourceLimit
	}
	if c.FailedAuthWindow == 0 {
		c.FailedAuthWindow = DefaultFailedAuthWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c IssuerConfig) validate() error {
	var errs []error
	u, err := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "":
		errs = append(errs, errors.New("issuer URL is required"))
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, fmt.Errorf("issuer %q must be an absolute http(s) URL", c.Issuer))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("issuer %q must not have a query or fragment (OIDC Discovery)", c.Issuer))
	}
	if c.AccessTokenTTL < time.Second || c.AccessTokenTTL > maxAccessTokenTTL {
		errs = append(errs, fmt.Errorf("access token lifetime %v must be between 1s and %v", c.AccessTokenTTL, maxAccessTokenTTL))
	}
	if c.MaxTokenWorkspaces < 1 {
		errs = append(errs, errors.New("the workspace cap of a token must be at least 1"))
	}
	if c.FailedAuthLimit < 1 || c.FailedAuthSourceLimit < 1 || c.FailedAuthWindow < time.Second {
		errs = append(errs, errors.New("the failed-authentication limits must be positive, their window at least a second"))
	}
	if (c.ExternalJWTs.Verifier == nil) != (c.ExternalJWTs.Directory == nil) {
		errs = append(errs, errors.New("external JWTs need both a verifier and a directory"))
	}
	for _, s := range c.ServiceAccountScopes {
		if !validScopeToken(s) {
			errs = append(errs, fmt.Errorf("scope %q is not a valid scope token (RFC 6749 §3.3)", s))
		}
	}
	return errors.Join(errs...)
}

// validScopeToken reports whether s is a scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

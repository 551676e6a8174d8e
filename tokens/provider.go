package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// ProviderDirectory is the part of the directory the OpenID provider reads
// besides what the Issuer reads (IssuerStore). *directory.SQLStore
// satisfies it.
type ProviderDirectory interface {
	GetClient(ctx context.Context, id string) (directory.Client, error)
	GetOrg(ctx context.Context, ref string) (directory.Organization, error)
	GetUser(ctx context.Context, id string) (directory.User, error)
	// SessionStanding is the directory's one validity check of a sign-in
	// (docs/security.md, "Sessions and admin tokens").
	SessionStanding(ctx context.Context, orgID, userID, connectionID string) (directory.PrincipalAccess, error)
}

// SessionStore is the part of the session store the OpenID provider uses:
// browser sessions (read and, at logout, delete), single-use records and
// refresh-token families. session.Store satisfies it.
type SessionStore interface {
	GetSession(ctx context.Context, id string) (session.Session, error)
	DeleteSession(ctx context.Context, id string) error
	PutOnce(ctx context.Context, kind session.Kind, key string, value []byte, ttl time.Duration) error
	TakeOnce(ctx context.Context, kind session.Kind, key string) ([]byte, error)
	Remember(ctx context.Context, kind session.Kind, key string, ttl time.Duration) (bool, error)
	CreateRefresh(ctx context.Context, family session.RefreshFamily) (string, error)
	GetRefresh(ctx context.Context, token string) (session.RefreshFamily, error)
	RotateRefresh(ctx context.Context, token string) (session.RefreshFamily, string, error)
	RevokeFamily(ctx context.Context, familyID string) error
}

// Defaults of ProviderConfig.
const (
	DefaultIDTokenTTL      = 10 * time.Minute
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	DefaultCodeTTL         = time.Minute
	DefaultPendingTTL      = 10 * time.Minute
	// MaxCodeTTL bounds authorization codes (docs/security.md: ≤ 60 s).
	MaxCodeTTL = time.Minute
)

// ProviderConfig configures the OpenID provider. The zero value is usable.
type ProviderConfig struct {
	// IDTokenTTL is the lifetime of ID tokens; zero means 10 minutes. It
	// may not exceed the keyring's MaxTokenTTL.
	IDTokenTTL time.Duration
	// RefreshTokenTTL is the absolute lifetime of a refresh-token family
	// (rotation does not extend it); zero means 30 days.
	RefreshTokenTTL time.Duration
	// CodeTTL is the lifetime of authorization codes; zero means, and at
	// most, 60 seconds.
	CodeTTL time.Duration
	// PendingTTL is how long a sign-in may take between /oauth2/authorize
	// and its continuation; zero means 10 minutes.
	PendingTTL time.Duration
	// LoginURL is where a browser without a usable session is sent; empty
	// means the issuer's PathLogin (package idp).
	LoginURL string
	// SealKey (session.SealKeySize bytes, used for nothing else) seals the
	// pending authorizations browsers carry to sign-in and back. Every
	// replica needs the same key; empty means a random key, which works
	// in a single process only.
	SealKey []byte
	// CookieDomain is the Domain attribute package idp sets on the session
	// cookie (empty: none); logout clears the cookie with the same.
	CookieDomain string
	// Log receives request outcomes (never codes, tokens or secrets); nil
	// means the Issuer's logger.
	Log *slog.Logger
}

func (c ProviderConfig) withDefaults(i *Issuer) ProviderConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.IDTokenTTL, DefaultIDTokenTTL)
	def(&c.RefreshTokenTTL, DefaultRefreshTokenTTL)
	def(&c.CodeTTL, DefaultCodeTTL)
	def(&c.PendingTTL, DefaultPendingTTL)
	if c.LoginURL == "" {
		c.LoginURL = i.cfg.Issuer + PathLogin
	}
	if c.Log == nil {
		c.Log = i.cfg.Log
	}
	return c
}

func (c ProviderConfig) validate(keys KeyConfig) error {
	var errs []error
	if c.IDTokenTTL < time.Second || c.IDTokenTTL > keys.MaxTokenTTL {
		errs = append(errs, fmt.Errorf("ID token lifetime %v must be between 1s and the keyring's maximum token lifetime %v", c.IDTokenTTL, keys.MaxTokenTTL))
	}
	if c.RefreshTokenTTL < time.Minute {
		errs = append(errs, fmt.Errorf("refresh token lifetime %v must be at least a minute", c.RefreshTokenTTL))
	}
	if c.CodeTTL < time.Second || c.CodeTTL > MaxCodeTTL {
		errs = append(errs, fmt.Errorf("authorization code lifetime %v must be between 1s and %v", c.CodeTTL, MaxCodeTTL))
	}
	if c.PendingTTL < time.Minute {
		errs = append(errs, fmt.Errorf("sign-in lifetime %v must be at least a minute", c.PendingTTL))
	}
	if u, err := url.Parse(c.LoginURL); err != nil || !u.IsAbs() || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("login URL %q must be absolute, without query or fragment", c.LoginURL))
	}
	return errors.Join(errs...)
}

// Provider is the broker as an OpenID Connect provider for registered
// clients: the authorization endpoint and its continuation after sign-in,
// the authorization_code and refresh_token grants, ID tokens, userinfo and
// RP-initiated logout. It mints access tokens with its Issuer and signs ID
// tokens with the Issuer's keyring. It knows nothing of HTTP: package
// tokens/oauth serves it (oauth.WithProvider). It is safe for concurrent
// use.
type Provider struct {
	cfg      ProviderConfig
	issuer   *Issuer
	keys     *Keyring
	dir      ProviderDirectory
	sessions SessionStore
	log      *slog.Logger
	// secure marks cookies Secure (the issuer is https); basePath is the
	// issuer's path, the prefix of every cookie path.
	secure   bool
	basePath string
	sealer   *session.Sealer
}

// NewProvider returns the OpenID provider over issuer, the directory dir
// and the session store sessions. It fails when an argument is missing or
// the configuration is invalid (every problem is listed).
func NewProvider(issuer *Issuer, dir ProviderDirectory, sessions SessionStore, cfg ProviderConfig) (*Provider, error) {
	if issuer == nil || dir == nil || sessions == nil {
		return nil, errors.New("tokens: an issuer, a directory and a session store are required")
	}
	cfg = cfg.withDefaults(issuer)
	if err := cfg.validate(issuer.keys.cfg); err != nil {
		return nil, fmt.Errorf("tokens: provider configuration: %w", err)
	}
	u, err := url.Parse(issuer.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("tokens: issuer: %w", err)
	}
	sealer := session.NewRandomSealer()
	if len(cfg.SealKey) > 0 {
		if sealer, err = session.NewSealer(cfg.SealKey); err != nil {
			return nil, fmt.Errorf("tokens: provider configuration: %w", err)
		}
	}
	return &Provider{cfg: cfg, issuer: issuer, keys: issuer.keys, dir: dir, sessions: sessions, log: cfg.Log,
		secure: u.Scheme == "https", basePath: strings.TrimRight(u.Path, "/"), sealer: sealer}, nil
}

// CookieSettings are what the HTTP surface needs to set and clear the
// provider's cookies (AuthzCookie, LogoutCookie, and the session cookie at
// logout).
type CookieSettings struct {
	// Secure marks cookies Secure (the issuer is https).
	Secure bool
	// BasePath is the issuer's path, the prefix of every cookie path.
	BasePath string
	// MaxAge is the lifetime of AuthzCookie and LogoutCookie
	// (ProviderConfig.PendingTTL).
	MaxAge time.Duration
	// Session writes and clears the browser session cookie with the
	// deployment's attributes (Domain from ProviderConfig.CookieDomain,
	// Secure): session.BrowserCookie is their one owner.
	Session session.BrowserCookie
}

// CookieSettings returns the provider's cookie settings.
func (p *Provider) CookieSettings() CookieSettings {
	return CookieSettings{Secure: p.secure, BasePath: p.basePath, MaxAge: p.cfg.PendingTTL,
		Session: session.BrowserCookie{Domain: p.cfg.CookieDomain, Secure: p.secure}}
}

// Logger is where the provider reports request outcomes
// (ProviderConfig.Log).
func (p *Provider) Logger() *slog.Logger { return p.log }

// now is the provider's clock: the Issuer's, so that every time in a
// token response agrees.
func (p *Provider) now() time.Time { return p.issuer.cfg.Now() }

// RandomToken returns 256 random bits, base64url (43 characters): codes,
// pending-authorization ids and cookie values. crypto/rand.Read never
// fails (Go ≥ 1.24).
func RandomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// randomTokenLen is the length of every RandomToken.
const randomTokenLen = 43

// IsRandomToken reports whether s has the shape of a RandomToken.
func IsRandomToken(s string) bool {
	if len(s) != randomTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// storeErr maps a directory or session-store failure that is not a
// not-found to 503 temporarily_unavailable.
func storeErr(err error) *Error { return errUnavailable(err) }

// notFound reports whether err is a not-found of the directory or the session store.
func notFound(err error) bool {
	return errors.Is(err, directory.ErrNotFound) || errors.Is(err, session.ErrNotFound)
}

// isExists reports whether err is the session store's ErrExists.
func isExists(err error) bool { return errors.Is(err, session.ErrExists) }

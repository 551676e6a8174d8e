package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/mail"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/opik"
)

// config is everything the broker reads from its environment and flags.
type config struct {
	Addr        string
	Issuer      string
	DatabaseURL string
	RedisURL    string
	DataDir     string
	SecretKey   string
	LogFormat   string
	SigningAlg  string
	IDTokenAlg  string
	// AllowPrivateIdP lets org connections reach IdPs on loopback and private
	// networks; off by default, because org admins are customers who could
	// otherwise aim the broker at its own network.
	AllowPrivateIdP bool
	// IdPAllowCIDRs are prefixes connections may reach even without
	// AllowPrivateIdP, or in special-purpose ranges (comma-separated CIDRs;
	// see idp.UpstreamPolicy). Cloud metadata addresses stay refused.
	IdPAllowCIDRs string
	// OpikTrustUsernameHeader lets Opik's MCP OAuth mode authenticate users
	// by the X-Opik-OAuth-Username header it sends to the by-username
	// endpoints; off by default, because anyone who can reach those paths
	// could then claim to be anyone.
	OpikTrustUsernameHeader bool
	// OpikPermissionMap maps Opik permission names ssobroker does not know
	// onto ours ("name=workspace.write,…"; opik.ParsePermissionMap).
	OpikPermissionMap string
	// SessionCookieDomain is the Domain of the browser session cookie
	// (session.ValidateCookieDomain), so that Opik's UI on a sibling host
	// receives sessionToken (docs/opik.md); empty: host-only.
	SessionCookieDomain string
	// TrustedProxies are the reverse proxies (comma-separated CIDRs or
	// addresses) whose X-Forwarded-For is believed when finding a request's
	// source for the per-source limits (session.NewSources).
	TrustedProxies string
	// DNSResolver (host:port) is the DNS server that domain verification
	// asks for TXT records; empty: the system's resolver.
	DNSResolver string
	// SMTPURL and MailFrom configure outgoing mail (idp/mail): invitations
	// and join-request notices. Empty SMTPURL: no mail is sent.
	SMTPURL  string
	MailFrom string
	// MigrationLockTimeout bounds the wait for the PostgreSQL migration
	// lock another replica holds (a Go duration; directory.PostgresOptions).
	MigrationLockTimeout string
	// CertExpiryInterval, CertExpiryFirstCheck and CertExpiryThresholds
	// drive the SAML certificate expiry check (docs/webhooks.md).
	CertExpiryInterval   string
	CertExpiryFirstCheck string
	CertExpiryThresholds string
	JSON                 bool
	// Tracing is what the standard OTEL_* variables say (tracing.go); off
	// unless they ask for it.
	Tracing tracingConfig

	// sealed is set by checkSealed once the store was opened: the secret
	// key that opens its sealed data (nil when there is none and no key is
	// configured), and whether that check ran.
	sealedKey     []byte
	sealedChecked bool
	// flags are the groups of flags the command registered.
	flags flagGroup
}

// bindConfig registers the shared configuration flags on fs, with defaults
// taken from the environment (so flags override the environment).
func bindConfig(fs *flag.FlagSet, getenv func(string) string) *config {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := &config{}
	fs.StringVar(&c.Addr, "addr", env("SSOBROKER_ADDR", "127.0.0.1:8080"), "listen address (SSOBROKER_ADDR)")
	fs.StringVar(&c.Issuer, "issuer", env("SSOBROKER_ISSUER", "http://127.0.0.1:8080"), "public base URL, the iss of every token (SSOBROKER_ISSUER)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("SSOBROKER_DATABASE_URL", ""), "postgres:// URL; empty: embedded SQLite in the data dir (SSOBROKER_DATABASE_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", env("SSOBROKER_REDIS_URL", ""), "redis://host:port/db, rediss://, comma-separated for a Cluster, redis+sentinel://…?master_name=M, unix:///path; empty: in-process session store (SSOBROKER_REDIS_URL)")
	fs.StringVar(&c.DataDir, "data-dir", env("SSOBROKER_DATA_DIR", "./data"), "embedded database and generated dev secret (SSOBROKER_DATA_DIR)")
	fs.StringVar(&c.SecretKey, "secret-key", env("SSOBROKER_SECRET_KEY", ""), "base64 32-byte key encrypting secrets at rest (SSOBROKER_SECRET_KEY)")
	fs.StringVar(&c.SigningAlg, "signing-alg", env("SSOBROKER_SIGNING_ALG", "ES256"), "algorithm of new signing keys: ES256, EdDSA or RS256 (SSOBROKER_SIGNING_ALG)")
	fs.StringVar(&c.IDTokenAlg, "id-token-alg", env("SSOBROKER_ID_TOKEN_ALG", "RS256"), "algorithm of ID tokens: RS256 (what OIDC Discovery requires), ES256 or EdDSA (SSOBROKER_ID_TOKEN_ALG)")
	fs.StringVar(&c.LogFormat, "log-format", env("SSOBROKER_LOG_FORMAT", "text"), "text or json (SSOBROKER_LOG_FORMAT)")
	fs.BoolVar(&c.AllowPrivateIdP, "allow-private-idp", env("SSOBROKER_ALLOW_PRIVATE_IDP", "") == "true",
		"let connections reach IdPs on loopback and private networks (SSOBROKER_ALLOW_PRIVATE_IDP=true)")
	fs.StringVar(&c.IdPAllowCIDRs, "idp-allow-cidrs", env("SSOBROKER_IDP_ALLOW_CIDRS", ""),
		"comma-separated CIDRs connections may reach besides public addresses, e.g. 10.20.0.0/16; never cloud metadata (SSOBROKER_IDP_ALLOW_CIDRS)")
	fs.BoolVar(&c.OpikTrustUsernameHeader, "opik-trust-username-header", env("SSOBROKER_OPIK_TRUST_USERNAME_HEADER", "") == "true",
		"trust X-Opik-OAuth-Username at /opik/*-by-username; expose those paths to the Opik backend only (SSOBROKER_OPIK_TRUST_USERNAME_HEADER=true)")
	fs.StringVar(&c.OpikPermissionMap, "opik-permission-map", env("SSOBROKER_OPIK_PERMISSION_MAP", ""),
		"Opik permission names ssobroker does not know, mapped to ours: name=workspace.write,name2=experiment_view,…; unmapped unknown names are granted to org admins only (SSOBROKER_OPIK_PERMISSION_MAP)")
	fs.StringVar(&c.SessionCookieDomain, "session-cookie-domain", env("SSOBROKER_SESSION_COOKIE_DOMAIN", ""),
		"Domain of the sessionToken cookie, the issuer's host or a parent of it, e.g. example.com so opik.example.com receives it; empty: the issuer's host only (SSOBROKER_SESSION_COOKIE_DOMAIN)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("SSOBROKER_TRUSTED_PROXIES", ""),
		"comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For names the client, for per-source limits; empty: the peer address (SSOBROKER_TRUSTED_PROXIES)")
	fs.StringVar(&c.DNSResolver, "dns-resolver", env("SSOBROKER_DNS_RESOLVER", ""),
		"host:port of the DNS server asked for domain-verification TXT records; empty: the system resolver (SSOBROKER_DNS_RESOLVER)")
	fs.StringVar(&c.SMTPURL, "smtp-url", env("SSOBROKER_SMTP_URL", ""),
		"smtp://user:pass@host:port (STARTTLS when offered; ?starttls=required insists) or smtps://… (implicit TLS); empty: no mail (SSOBROKER_SMTP_URL)")
	fs.StringVar(&c.MailFrom, "mail-from", env("SSOBROKER_MAIL_FROM", ""),
		"sender of the broker's mail, e.g. \"ssobroker <no-reply@example.com>\" (SSOBROKER_MAIL_FROM)")
	fs.StringVar(&c.MigrationLockTimeout, "migration-lock-timeout", env("SSOBROKER_MIGRATION_LOCK_TIMEOUT", "2m"),
		"how long to wait for the migration lock another replica holds before exiting non-zero, e.g. 2m (SSOBROKER_MIGRATION_LOCK_TIMEOUT)")
	fs.StringVar(&c.CertExpiryInterval, "cert-expiry-interval", env("SSOBROKER_CERT_EXPIRY_INTERVAL", "24h"),
		"how often serve checks SAML certificates for certificate.expiring events, 1m-168h (SSOBROKER_CERT_EXPIRY_INTERVAL)")
	fs.StringVar(&c.CertExpiryFirstCheck, "cert-expiry-first-check", env("SSOBROKER_CERT_EXPIRY_FIRST_CHECK", "1m"),
		"wait from serve's start to its first certificate expiry check, 1s-24h (SSOBROKER_CERT_EXPIRY_FIRST_CHECK)")
	fs.StringVar(&c.CertExpiryThresholds, "cert-expiry-thresholds", env("SSOBROKER_CERT_EXPIRY_THRESHOLDS", "30,7"),
		"comma-separated days before expiry at which certificate.expiring is sent, each 1-365 (SSOBROKER_CERT_EXPIRY_THRESHOLDS)")
	fs.BoolVar(&c.JSON, "json", false, "print machine-readable JSON")
	c.Tracing = readTracingConfig(getenv)
	return c
}

// flagGroup is a set of configuration flags; each command registers only
// the groups it reads, so its help lists only those.
type flagGroup uint

const (
	// flagsServer: what only the server reads (listen address, Redis, IdP
	// reach, proxies, …). A flag bindConfig registers that groupOf does not
	// name is a server flag.
	flagsServer flagGroup = 1 << iota
	// flagsStore: where the directory is and the key sealing its secrets.
	flagsStore
	// flagsIssuer: the public base URL, for commands that print links.
	flagsIssuer
	// flagsMail: outgoing mail.
	flagsMail
	// flagsKeys: the algorithms of new signing keys.
	flagsKeys
	// flagsJSON: --json output.
	flagsJSON
)

// groupOf names the groups a configuration flag belongs to.
func groupOf(name string) flagGroup {
	switch name {
	case "database-url", "data-dir", "secret-key", "log-format", "migration-lock-timeout":
		return flagsStore
	case "issuer":
		return flagsServer | flagsIssuer
	case "smtp-url", "mail-from":
		return flagsServer | flagsMail
	case "signing-alg", "id-token-alg":
		return flagsServer | flagsKeys
	case "json":
		return flagsJSON
	default:
		return flagsServer
	}
}

// bindConfigFor is bindConfig registering on fs only the flags of groups;
// the environment is read for every setting all the same.
func bindConfigFor(fs *flag.FlagSet, getenv func(string) string, groups flagGroup) *config {
	all := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	c := bindConfig(all, getenv)
	all.VisitAll(func(f *flag.Flag) {
		if groupOf(f.Name)&groups != 0 {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	c.flags = groups
	return c
}

// validate checks every setting and reports every problem at once.
func (c *config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_ADDR %q: %v", c.Addr, err))
	}
	if err := validateIssuer(c.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_ISSUER %q: %v", c.Issuer, err))
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("SSOBROKER_DATABASE_URL must be a postgres:// or postgresql:// URL"))
		}
	}
	if c.RedisURL != "" {
		// The session package owns the URL forms (session.NewRedis).
		if err := session.ValidateURL(c.RedisURL); err != nil {
			errs = append(errs, fmt.Errorf("SSOBROKER_REDIS_URL: %v (forms: %s)", err, session.URLForms))
		}
	}
	if _, err := c.migrationLockTimeout(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_MIGRATION_LOCK_TIMEOUT %q: %v", c.MigrationLockTimeout, err))
	}
	if _, err := c.certExpiry(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.sources(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_TRUSTED_PROXIES: %v", err))
	}
	if c.SecretKey != "" {
		if _, err := decodeSecretKey(c.SecretKey); err != nil {
			errs = append(errs, fmt.Errorf("SSOBROKER_SECRET_KEY: %v", err))
		}
	}
	// The tokens package owns the algorithms (tokens.Algorithm.Valid).
	if err := tokens.Algorithm(c.SigningAlg).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_SIGNING_ALG: %w", err))
	}
	if err := tokens.Algorithm(c.IDTokenAlg).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_ID_TOKEN_ALG: %w", err))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("SSOBROKER_LOG_FORMAT %q must be text or json", c.LogFormat))
	}
	// The opik package owns the map's form (opik.ParsePermissionMap).
	if _, err := opik.ParsePermissionMap(c.OpikPermissionMap); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_OPIK_PERMISSION_MAP: %v", err))
	}
	if _, err := c.sessionCookieDomain(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_SESSION_COOKIE_DOMAIN %q: %v", c.SessionCookieDomain, err))
	}
	if _, err := c.upstreamPolicy(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_IDP_ALLOW_CIDRS: %v", err))
	}
	if _, err := dnsResolver(c.DNSResolver); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_DNS_RESOLVER %q: %v", c.DNSResolver, err))
	}
	if err := c.Tracing.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.SMTPURL != "" {
		if err := mail.ValidateURL(c.SMTPURL); err != nil {
			errs = append(errs, fmt.Errorf("SSOBROKER_SMTP_URL %v", err))
		}
		if err := mail.ValidateFrom(c.MailFrom); err != nil {
			errs = append(errs, fmt.Errorf("SSOBROKER_MAIL_FROM %v", err))
		}
	}
	return errors.Join(errs...)
}

// outgoingMail returns what sends the broker's mail — invitations (for the
// admin API and the console) and join-request notices (for sign-in) — or
// nils when SSOBROKER_SMTP_URL is empty. The nils are untyped: a nil
// *mail.Mailer in an interface would look configured.
func (e *env) outgoingMail(members mail.MemberLister) (adminapi.InvitationMailer, idp.JoinRequestNotifier, error) {
	m, err := e.cfg.mailer(e.log)
	if err != nil || m == nil {
		if err == nil {
			e.log.Info("mail: not configured (SSOBROKER_SMTP_URL is empty); invitation links are shown, not mailed")
		}
		return nil, nil, err
	}
	e.log.Info("mail: SMTP", "server", m.Describe(), "from", e.cfg.MailFrom)
	return m, &mail.JoinRequestNotices{Mailer: m, Members: members, Issuer: e.cfg.Issuer, Logger: e.log}, nil
}

// mailer returns the configured Mailer, or nil when SSOBROKER_SMTP_URL is
// empty (no mail is sent; invitations still carry their link).
func (c *config) mailer(log *slog.Logger) (*mail.Mailer, error) {
	if c.SMTPURL == "" {
		return nil, nil
	}
	return mail.New(mail.Config{URL: c.SMTPURL, From: c.MailFrom, Logger: log})
}

// migrationLockTimeout parses SSOBROKER_MIGRATION_LOCK_TIMEOUT.
func (c *config) migrationLockTimeout() (time.Duration, error) {
	d, err := time.ParseDuration(c.MigrationLockTimeout)
	if err != nil {
		return 0, errors.New("must be a duration such as 2m or 30s")
	}
	if d < time.Second || d > 24*time.Hour {
		return 0, errors.New("must be between 1s and 24h")
	}
	return d, nil
}

// certExpiry is the certificate expiry check's schedule and thresholds
// (SSOBROKER_CERT_EXPIRY_*).
func (c *config) certExpiry() (saml.ExpiryConfig, error) {
	var out saml.ExpiryConfig
	var errs []error
	dur := func(name, v string, lo, hi time.Duration) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			errs = append(errs, fmt.Errorf("%s %q: must be a duration between %s and %s", name, v, lo, hi))
		}
		return d
	}
	out.Interval = dur("SSOBROKER_CERT_EXPIRY_INTERVAL", c.CertExpiryInterval, time.Minute, 168*time.Hour)
	out.FirstRun = dur("SSOBROKER_CERT_EXPIRY_FIRST_CHECK", c.CertExpiryFirstCheck, time.Second, 24*time.Hour)
	for _, f := range strings.Split(c.CertExpiryThresholds, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 365 {
			errs = append(errs, fmt.Errorf("SSOBROKER_CERT_EXPIRY_THRESHOLDS %q: each entry must be a whole number of days, 1-365", c.CertExpiryThresholds))
			break
		}
		out.ThresholdDays = append(out.ThresholdDays, n)
	}
	return out, errors.Join(errs...)
}

// postgresOptions are the directory's PostgreSQL options from the
// configuration (validated before any command runs).
func (c *config) postgresOptions() directory.PostgresOptions {
	d, _ := c.migrationLockTimeout()
	return directory.PostgresOptions{MigrationLockTimeout: d}
}

// sessionCookieDomain is the session cookie's Domain, normalised; the
// session package owns the rule (session.ValidateCookieDomain).
func (c *config) sessionCookieDomain() (string, error) {
	if c.SessionCookieDomain == "" {
		return "", nil
	}
	u, err := url.Parse(c.Issuer)
	if err != nil {
		return "", errors.New("needs a valid SSOBROKER_ISSUER")
	}
	return session.ValidateCookieDomain(c.SessionCookieDomain, u.Hostname())
}

// upstreamPolicy is the address policy of the client that calls org IdPs.
func (c *config) upstreamPolicy() (idp.UpstreamPolicy, error) {
	cidrs, err := idp.ParseAllowCIDRs(c.IdPAllowCIDRs)
	return idp.UpstreamPolicy{AllowPrivate: c.AllowPrivateIdP, AllowCIDRs: cidrs}, err
}

// sources returns how to find a request's network source, trusting
// X-Forwarded-For from TrustedProxies.
func (c *config) sources() (session.Sources, error) {
	return session.NewSources(strings.Split(c.TrustedProxies, ","))
}

func validateIssuer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if !u.IsAbs() || u.Host == "" {
		return errors.New("must be an absolute URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("must not carry a query, fragment or user info (OIDC Discovery §3)")
	}
	if strings.HasSuffix(u.Path, "/") {
		return errors.New("must not end with a slash")
	}
	host := u.Hostname()
	loopback := host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return errors.New("must use https (plain http is allowed only for loopback hosts)")
	}
	return nil
}

func decodeSecretKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
	}
	if err != nil {
		return nil, errors.New("must be base64")
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("must decode to 32 bytes, got %d", len(b))
	}
	return b, nil
}

// devKeyPath is where a development secret key is kept when
// SSOBROKER_SECRET_KEY is not set.
func (c *config) devKeyPath() string { return filepath.Join(c.DataDir, "secret.key") }

// readDevKey returns the development key in the data dir, or nil when there
// is none.
func (c *config) readDevKey() ([]byte, error) {
	path := c.devKeyPath()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	k, err := decodeSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// signingKeyStore lists the sealed signing keys (*directory.SQLStore).
type signingKeyStore interface {
	ListSigningKeys(ctx context.Context) ([]directory.SigningKey, error)
}

// signingKeyAD is the associated data a signing key is sealed with; it
// must match tokens/keys.go (sealAD). TestCLIRefusesSealedDataItCannotOpen
// fails if they drift: the right key would no longer be accepted.
func signingKeyAD(kid string) []byte { return []byte("ssobroker signing key " + kid) }

// checkSealed refuses a directory whose sealed data the configured secret
// key cannot open, before anything is read or written with the wrong key:
// signing keys sealed with another key, signing keys but no key at all
// (a new development key would never open them), or a development key in
// the data dir that differs from SSOBROKER_SECRET_KEY. It records the key
// that opens the data for secretKey.
func (c *config) checkSealed(ctx context.Context, s signingKeyStore) error {
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		dir = c.DataDir
	}
	dev, err := c.readDevKey()
	if err != nil {
		return err
	}
	key, source := dev, "the development key "+filepath.Join(dir, "secret.key")
	if c.SecretKey != "" {
		if key, err = decodeSecretKey(c.SecretKey); err != nil {
			return fmt.Errorf("SSOBROKER_SECRET_KEY: %w", err)
		}
		source = "SSOBROKER_SECRET_KEY"
	}
	keys, err := s.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("reading the sealed signing keys: %w", err)
	}
	const fix = "set SSOBROKER_SECRET_KEY to the key the server runs with"
	switch {
	case len(keys) > 0 && key == nil:
		return fmt.Errorf("this directory holds signing keys sealed with a secret key, but SSOBROKER_SECRET_KEY is not set and the data dir %s holds no development key: %s (a new key would never open them)", dir, fix)
	case len(keys) > 0:
		box, err := secretbox.New(key)
		if err != nil {
			return err
		}
		opened := false
		for _, k := range keys {
			if _, err := box.Open(k.Sealed, signingKeyAD(k.ID)); err == nil {
				opened = true
				break
			}
		}
		if !opened {
			return fmt.Errorf("%s cannot open the signing keys of this directory (data dir %s): they were sealed with another key; %s", source, dir, fix)
		}
	case dev != nil && c.SecretKey != "" && !bytes.Equal(dev, key):
		return fmt.Errorf("the data dir %s holds a development key (secret.key) that differs from SSOBROKER_SECRET_KEY, and data sealed with it would not open: use that key as SSOBROKER_SECRET_KEY, or remove secret.key if the server never ran with it", dir)
	}
	c.sealedKey, c.sealedChecked = key, true
	return nil
}

// secretKey returns the key sealing secrets at rest: the configured one,
// else the development key in the data dir, generating it (with a warning)
// only when the store was checked and holds nothing sealed (checkSealed).
func (c *config) secretKey(log *slog.Logger) ([]byte, error) {
	if c.SecretKey != "" {
		return decodeSecretKey(c.SecretKey)
	}
	path := c.devKeyPath()
	k, err := c.readDevKey()
	if err != nil {
		return nil, err
	}
	if k != nil {
		log.Warn("SSOBROKER_SECRET_KEY is not set; using the development key in the data dir — set it in production", "path", path)
		return k, nil
	}
	if !c.sealedChecked || c.sealedKey != nil {
		return nil, errors.New("no secret key: a development key is made only once the store was opened and holds nothing sealed")
	}
	k = make([]byte, 32)
	_, _ = rand.Read(k) // never fails: docs/architecture.md, "Construction and failures"
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// O_EXCL: never replace a key another process just wrote.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	log.Warn("SSOBROKER_SECRET_KEY is not set; generated a development key into the data dir — set it in production", "path", path)
	return k, nil
}

func (c *config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// sqlitePath is where the embedded directory lives.
func (c *config) sqlitePath() string { return filepath.Join(c.DataDir, "ssobroker.db") }

const shutdownGrace = 15 * time.Second

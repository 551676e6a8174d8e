package main

import (
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
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/session"
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
	// TrustedProxies are the reverse proxies (comma-separated CIDRs or
	// addresses) whose X-Forwarded-For is believed when finding a request's
	// source for the per-source limits (session.NewSources).
	TrustedProxies string
	// DNSResolver (host:port) is the DNS server that domain verification
	// asks for TXT records; empty: the system's resolver.
	DNSResolver string
	JSON        bool
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
	fs.StringVar(&c.RedisURL, "redis-url", env("SSOBROKER_REDIS_URL", ""), "redis:// or rediss:// URL; empty: in-process session store (SSOBROKER_REDIS_URL)")
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
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("SSOBROKER_TRUSTED_PROXIES", ""),
		"comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For names the client, for per-source limits; empty: the peer address (SSOBROKER_TRUSTED_PROXIES)")
	fs.StringVar(&c.DNSResolver, "dns-resolver", env("SSOBROKER_DNS_RESOLVER", ""),
		"host:port of the DNS server asked for domain-verification TXT records; empty: the system resolver (SSOBROKER_DNS_RESOLVER)")
	fs.BoolVar(&c.JSON, "json", false, "print machine-readable JSON")
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
		for _, raw := range strings.Split(c.RedisURL, ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
				errs = append(errs, errors.New("SSOBROKER_REDIS_URL must be redis:// or rediss:// URLs, comma-separated for a cluster"))
				break
			}
		}
	}
	if _, err := c.sources(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_TRUSTED_PROXIES: %v", err))
	}
	if c.SecretKey != "" {
		if _, err := decodeSecretKey(c.SecretKey); err != nil {
			errs = append(errs, fmt.Errorf("SSOBROKER_SECRET_KEY: %v", err))
		}
	}
	if c.SigningAlg != "ES256" && c.SigningAlg != "EdDSA" && c.SigningAlg != "RS256" {
		errs = append(errs, fmt.Errorf("SSOBROKER_SIGNING_ALG %q must be ES256, EdDSA or RS256", c.SigningAlg))
	}
	if c.IDTokenAlg != "ES256" && c.IDTokenAlg != "EdDSA" && c.IDTokenAlg != "RS256" {
		errs = append(errs, fmt.Errorf("SSOBROKER_ID_TOKEN_ALG %q must be RS256, ES256 or EdDSA", c.IDTokenAlg))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("SSOBROKER_LOG_FORMAT %q must be text or json", c.LogFormat))
	}
	if _, err := c.upstreamPolicy(); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_IDP_ALLOW_CIDRS: %v", err))
	}
	if _, err := dnsResolver(c.DNSResolver); err != nil {
		errs = append(errs, fmt.Errorf("SSOBROKER_DNS_RESOLVER %q: %v", c.DNSResolver, err))
	}
	return errors.Join(errs...)
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

// secretKey returns the configured key or, when none is set, the key kept in
// the data dir, generating it on first use with a warning.
func (c *config) secretKey(log *slog.Logger) ([]byte, error) {
	if c.SecretKey != "" {
		return decodeSecretKey(c.SecretKey)
	}
	path := filepath.Join(c.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := decodeSecretKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		log.Warn("SSOBROKER_SECRET_KEY is not set; using the development key in the data dir — set it in production", "path", path)
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k) // never fails: docs/architecture.md, "Construction and failures"
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
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

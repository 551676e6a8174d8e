package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// Configuration of connections: each protocol package owns its section of
// a connection's configuration — checking what an admin sends (fetching and
// checking the IdP's metadata or discovery document through the upstream
// client), preparing it (sealing secrets, making the SP key pair) and saying
// what the IdP's admin must paste. The admin API, the console and the setup
// link reach those rules through one Configurator (docs/architecture.md,
// "Where each rule lives").

// ConfigureInput is what a protocol's SectionConfigurator checks.
type ConfigureInput struct {
	// Section is the protocol section as the admin sent it (JSON).
	Section json.RawMessage
	// Stored is the section stored now; nil when the connection is new.
	Stored json.RawMessage
	// HTTPClient is the upstream client (address policy, limits).
	HTTPClient *http.Client
	// Seal seals a secret for a connection (associated data: its id); nil
	// when the deployment has no key, and then no secret may be stored.
	Seal func(plaintext, associatedData []byte) ([]byte, error)
	Now  time.Time
}

// DescribeInput is what a protocol's SectionConfigurator describes.
type DescribeInput struct {
	Connection directory.Connection
	Config     ConnectionConfig
	// CallbackURL is the connection's OIDC callback or SAML ACS URL;
	// EntityID our SAML entity ID (the SP metadata URL).
	CallbackURL, EntityID string
	Now                   time.Time
}

// SectionConfigurator is one protocol's owner of its configuration section.
type SectionConfigurator interface {
	// Validate checks and prepares a section. Problems an admin can fix are
	// in the result's Problems; the error is for anything else.
	Validate(ctx context.Context, in ConfigureInput) (directory.PreparedSection, error)
	// Describe says what the IdP's admin pastes, and the IdP certificates.
	Describe(in DescribeInput) directory.SetupValues
}

// Configurators maps a connection type to its configurator; the wiring fills
// it (e.g. {directory.ConnectionSAML: saml.Configurator{}}).
type Configurators map[directory.ConnectionType]SectionConfigurator

// SecretSealer seals secrets at rest (*secretbox.Box satisfies it).
type SecretSealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
}

// ConfiguratorConfig is what NewConfigurator needs; Issuer and Protocols
// are required.
type ConfiguratorConfig struct {
	Issuer    string
	Protocols Configurators
	// Sealer seals connection secrets; nil refuses every secret.
	Sealer SecretSealer
	// HTTPClient fetches metadata and discovery documents; nil means
	// NewUpstreamClient(false).
	HTTPClient *http.Client
	Now        func() time.Time
}

// Configurator validates, prepares and describes connections of every
// configured protocol. It implements the admin API's
// ConnectionConfigurator.
type Configurator struct {
	issuer    string
	protocols Configurators
	sealer    SecretSealer
	client    *http.Client
	now       func() time.Time
}

// NewConfigurator returns the configurator for cfg.
func NewConfigurator(cfg ConfiguratorConfig) (*Configurator, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("idp: issuer %q is not an absolute http(s) URL", cfg.Issuer)
	}
	if len(cfg.Protocols) == 0 {
		return nil, errors.New("idp: the configurator needs at least one protocol")
	}
	c := &Configurator{issuer: strings.TrimSuffix(cfg.Issuer, "/"), protocols: cfg.Protocols, sealer: cfg.Sealer,
		client: cfg.HTTPClient, now: cfg.Now}
	if c.client == nil {
		c.client = NewUpstreamClient(false)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// ErrNoSealer is returned when a section carries a secret and the
// deployment has no key to seal it with.
var ErrNoSealer = errors.New("idp: no key to encrypt connection secrets with")

// Validate checks and prepares the protocol section of a connection of type
// typ: section as the admin sent it, stored as it is now (nil when new).
func (c *Configurator) Validate(ctx context.Context, typ directory.ConnectionType, section, stored json.RawMessage) (directory.PreparedSection, error) {
	p := c.protocols[typ]
	if p == nil {
		return directory.PreparedSection{Problems: []*directory.InvalidError{{Field: "type",
			Message: `type must be "saml" or "oidc"`}}}, nil
	}
	in := ConfigureInput{Section: section, Stored: stored, HTTPClient: c.client, Now: c.now()}
	if c.sealer != nil {
		in.Seal = c.sealer.Seal
	}
	return p.Validate(ctx, in)
}

// Describe says what the IdP's admin pastes for conn.
func (c *Configurator) Describe(conn directory.Connection) directory.SetupValues {
	p := c.protocols[conn.Type]
	if p == nil {
		return directory.SetupValues{}
	}
	cfg, _ := ParseConnectionConfig(conn.Config)
	callback, entity := connectionURLs(c.issuer, conn)
	return p.Describe(DescribeInput{Connection: conn, Config: cfg, CallbackURL: callback, EntityID: entity, Now: c.now()})
}

// connectionURLs are a connection's callback (OIDC) or ACS (SAML) URL and,
// for SAML, our entity ID.
func connectionURLs(issuer string, c directory.Connection) (callback, entityID string) {
	if c.Type == directory.ConnectionSAML {
		base := issuer + "/sso/saml/" + url.PathEscape(c.ID)
		return base + "/acs", base + "/metadata"
	}
	return issuer + "/sso/oidc/" + url.PathEscape(c.ID) + "/callback", ""
}

// CheckUpstreamURL accepts the URL of an IdP endpoint an admin gives
// (directory.CheckIdPURL: https, or http for a loopback host). It returns a
// sentence for a person.
func CheckUpstreamURL(raw string) error { return directory.CheckIdPURL(raw) }

// PublicFetchMessage is what an org admin is told about a failed fetch of
// their IdP: the class of failure, never an address, port or library error.
func PublicFetchMessage(err error) string {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.PublicMessage()
	}
	return "not reachable"
}

// ConfigMessage is the sentence of an error wrapping ErrConfig, without the
// package's prefix, for a person.
func ConfigMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, ErrConfig.Error()+": ")
	msg = strings.TrimPrefix(msg, ErrUpstreamUnavailable.Error()+": ")
	return msg
}

// SPKeyRotation is one step of a rotation of a connection's SAML SP key
// (docs/operations.md, "Rotating a SAML connection's SP key").
type SPKeyRotation struct {
	ConnectionID string
	// Section is the protocol section stored now.
	Section json.RawMessage
	// Step is directory.SPKeyPublish, SPKeyActivate or SPKeyRetire.
	Step string
	// Seal seals the new private key (associated data: the connection id);
	// nil when the deployment has no key.
	Seal func(plaintext, associatedData []byte) ([]byte, error)
	Now  time.Time
}

// SPKeyRotator is a protocol whose connections have SP keys (SAML).
type SPKeyRotator interface {
	// RotateSPKey takes one step and returns the new section. A step that
	// cannot be taken now is a *directory.InvalidError (field "step").
	RotateSPKey(ctx context.Context, in SPKeyRotation) (json.RawMessage, directory.SPKeys, error)
	// SPKeys describes the section's SP keys.
	SPKeys(section json.RawMessage) (directory.SPKeys, error)
}

// RotateSPKey takes one step of the rotation of conn's SP key and returns
// conn's new configuration (only the protocol section changes) and its SP
// keys. The caller stores it with a compare-and-swap on the configuration
// read (directory.SQLStore.SwapConnectionConfig).
func (c *Configurator) RotateSPKey(ctx context.Context, conn directory.Connection, step string) ([]byte, directory.SPKeys, error) {
	r, section, cfg, err := c.rotator(conn)
	if err != nil {
		return nil, directory.SPKeys{}, err
	}
	in := SPKeyRotation{ConnectionID: conn.ID, Section: section, Step: step, Now: c.now()}
	if c.sealer != nil {
		in.Seal = c.sealer.Seal
	}
	next, keys, err := r.RotateSPKey(ctx, in)
	if err != nil {
		return nil, directory.SPKeys{}, err
	}
	cfg[string(conn.Type)] = next
	out, err := json.Marshal(cfg)
	if err != nil {
		return nil, directory.SPKeys{}, err
	}
	return out, keys, nil
}

// SPKeys describes conn's SP keys.
func (c *Configurator) SPKeys(conn directory.Connection) (directory.SPKeys, error) {
	r, section, _, err := c.rotator(conn)
	if err != nil {
		return directory.SPKeys{}, err
	}
	return r.SPKeys(section)
}

func (c *Configurator) rotator(conn directory.Connection) (SPKeyRotator, json.RawMessage, map[string]json.RawMessage, error) {
	r, ok := c.protocols[conn.Type].(SPKeyRotator)
	if !ok {
		return nil, nil, nil, &directory.InvalidError{Field: "type", Message: "only SAML connections have SP keys"}
	}
	cfg := map[string]json.RawMessage{}
	if len(conn.Config) > 0 {
		if err := json.Unmarshal(conn.Config, &cfg); err != nil {
			return nil, nil, nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	section := cfg[string(conn.Type)]
	if len(section) == 0 {
		return nil, nil, nil, &directory.InvalidError{Field: string(conn.Type), Message: "the connection has no SP key pair yet"}
	}
	return r, section, cfg, nil
}

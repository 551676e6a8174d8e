package saml

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// The certificate expiry check (docs/webhooks.md, "certificate.expiring"):
// every interval, over every SAML connection, the IdP's signing
// certificates (from the metadata XML, the last good document of a metadata
// URL, or the certificates given by hand) and the connection's SP key pairs
// (current, next, previous; spkeys.go) are compared with the thresholds.
// A certificate within a threshold is written once as a
// certificate.expiring audit row of the connection's org, and so becomes a
// webhook event; the directory decides "once" in the writing transaction,
// so every replica may run the check.

// ExpiryStore is what the check reads and writes.
type ExpiryStore interface {
	ListConnectionsOfType(ctx context.Context, t directory.ConnectionType) ([]directory.Connection, error)
	GetUpstreamDocument(ctx context.Context, connectionID, url string) (directory.UpstreamDocument, error)
	RecordCertificateExpiring(ctx context.Context, c directory.ExpiringCertificate) (bool, error)
}

// ExpiryConfig configures an ExpiryCheck.
type ExpiryConfig struct {
	Store ExpiryStore
	// Interval between checks (default 24 h).
	Interval time.Duration
	// FirstRun is the wait from Run to the first check (default 1 min).
	FirstRun time.Duration
	// ThresholdDays, e.g. 30 and 7 (the default).
	ThresholdDays []int
	Logger        *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultExpiryThresholds are the default thresholds, in days.
func DefaultExpiryThresholds() []int { return []int{30, 7} }

// ExpiryCheck finds SAML certificates about to expire.
type ExpiryCheck struct{ cfg ExpiryConfig }

// NewExpiryCheck checks cfg and applies its defaults.
func NewExpiryCheck(cfg ExpiryConfig) (*ExpiryCheck, error) {
	if cfg.Store == nil {
		return nil, errors.New("saml: the certificate expiry check needs a store")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 24 * time.Hour
	}
	if cfg.FirstRun <= 0 {
		cfg.FirstRun = time.Minute
	}
	if len(cfg.ThresholdDays) == 0 {
		cfg.ThresholdDays = DefaultExpiryThresholds()
	}
	cfg.ThresholdDays = slices.Clone(cfg.ThresholdDays)
	slices.Sort(cfg.ThresholdDays)
	if cfg.ThresholdDays[0] <= 0 {
		return nil, fmt.Errorf("saml: certificate expiry thresholds must be positive days, got %d", cfg.ThresholdDays[0])
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ExpiryCheck{cfg: cfg}, nil
}

// Run checks after FirstRun and then every Interval until ctx ends.
func (e *ExpiryCheck) Run(ctx context.Context) error {
	t := time.NewTimer(e.cfg.FirstRun)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		n, err := e.Check(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			e.cfg.Logger.WarnContext(ctx, "certificate expiry check", "written", n, "err", err)
		case n > 0:
			e.cfg.Logger.InfoContext(ctx, "certificate expiry check: certificate.expiring events written", "written", n)
		}
		t.Reset(e.cfg.Interval)
	}
}

// Check runs the check once and returns how many certificate.expiring rows
// it wrote. A connection it cannot read is skipped and reported in the
// error; the others are checked.
func (e *ExpiryCheck) Check(ctx context.Context) (int, error) {
	conns, err := e.cfg.Store.ListConnectionsOfType(ctx, directory.ConnectionSAML)
	if err != nil {
		return 0, err
	}
	now := e.cfg.Now()
	var errs []error
	written := 0
	for _, conn := range conns {
		if ctx.Err() != nil {
			return written, ctx.Err()
		}
		for _, c := range e.certificates(ctx, conn) {
			days := int(c.cert.NotAfter.Sub(now).Hours() / 24)
			threshold := 0
			for _, th := range e.cfg.ThresholdDays {
				if c.cert.NotAfter.Before(now.Add(time.Duration(th) * 24 * time.Hour)) {
					threshold = th
					break
				}
			}
			if threshold == 0 {
				continue
			}
			ok, err := e.cfg.Store.RecordCertificateExpiring(ctx, directory.ExpiringCertificate{
				ConnectionID: conn.ID, Kind: c.kind, Fingerprint: fingerprint(c.cert.Raw), Subject: c.cert.Subject.String(),
				NotAfter: c.cert.NotAfter.UTC(), ThresholdDays: threshold, DaysLeft: days})
			switch {
			case errors.Is(err, directory.ErrNotFound): // deleted meanwhile
			case err != nil:
				errs = append(errs, fmt.Errorf("connection %s: %w", conn.ID, err))
			case ok:
				written++
			}
		}
	}
	return written, errors.Join(errs...)
}

type kindCert struct {
	kind string
	cert *x509.Certificate
}

// certificates lists a SAML connection's certificates with their kind. What
// does not parse is skipped: the connection's own checks report it.
func (e *ExpiryCheck) certificates(ctx context.Context, conn directory.Connection) []kindCert {
	cc, err := idp.ParseConnectionConfig(conn.Config)
	if err != nil || len(cc.SAML) == 0 {
		return nil
	}
	var c Config
	if err := json.Unmarshal(cc.SAML, &c); err != nil {
		return nil
	}
	var out []kindCert
	var idpCerts []*x509.Certificate
	switch {
	case c.MetadataXML != "":
		idpCerts = metadataCerts([]byte(c.MetadataXML))
	case c.MetadataURL != "":
		if d, err := e.cfg.Store.GetUpstreamDocument(ctx, conn.ID, c.MetadataURL); err == nil {
			idpCerts = metadataCerts(d.Document)
		}
	default:
		for _, p := range c.Certificates {
			if cert := pemCert(p); cert != nil {
				idpCerts = append(idpCerts, cert)
			}
		}
	}
	for _, cert := range idpCerts {
		out = append(out, kindCert{"idp_signing", cert})
	}
	for _, sp := range []struct{ kind, pem string }{
		{"sp_current", c.SPCertificate}, {"sp_next", c.SPNextCertificate}, {"sp_previous", c.SPPreviousCertificate},
	} {
		if cert := pemCert(sp.pem); cert != nil {
			out = append(out, kindCert{sp.kind, cert})
		}
	}
	return out
}

// metadataCerts are the signing certificates of IdP metadata, parsed
// without ParseIdPMetadata's validity checks (an expired certificate is
// exactly what the check is for).
func metadataCerts(doc []byte) []*x509.Certificate {
	if refuseDirectives(doc) != nil {
		return nil
	}
	var ed crewjam.EntityDescriptor
	if xml.Unmarshal(doc, &ed) != nil {
		var eds crewjam.EntitiesDescriptor
		if xml.Unmarshal(doc, &eds) != nil {
			return nil
		}
		var out []*x509.Certificate
		for i := range eds.EntityDescriptors {
			out = append(out, signingCerts(&eds.EntityDescriptors[i])...)
		}
		return out
	}
	return signingCerts(&ed)
}

func pemCert(p string) *x509.Certificate {
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return cert
}

// fingerprint is the SHA-256 of der as upper-case hex pairs joined by
// colons, the form the console shows for SP keys (keyInfo).
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	hexed := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(hexed); i += 2 {
		parts = append(parts, hexed[i:i+2])
	}
	return strings.Join(parts, ":")
}

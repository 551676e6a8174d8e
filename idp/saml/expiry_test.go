package saml_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/internal/certtest"
)

// certExpiring makes a self-signed certificate valid until now+in.
func certExpiring(t *testing.T, cn string, in time.Duration) (string, *x509.Certificate) {
	t.Helper()
	der, cert := certtest.SelfSigned(t, certtest.ECDSAKey(t), x509.Certificate{Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(in)})
	return certtest.PEM(der), cert
}

type expiringRow struct {
	OrgID string
	directory.ExpiringCertificate
}

func expiringRows(t *testing.T, s *directory.SQLStore, orgID string) []expiringRow {
	t.Helper()
	evs, _, err := s.ListAudit(context.Background(), orgID, directory.AuditFilter{Action: directory.ActionCertificateExpiring})
	if err != nil {
		t.Fatal(err)
	}
	var out []expiringRow
	for _, e := range evs {
		var c directory.ExpiringCertificate
		if err := json.Unmarshal([]byte(e.After), &c); err != nil {
			t.Fatalf("certificate.expiring row %s: %v", e.After, err)
		}
		if e.Actor != directory.SystemActor || e.Target != c.ConnectionID {
			t.Fatalf("row actor %q target %q, want system and the connection", e.Actor, e.Target)
		}
		out = append(out, expiringRow{e.OrgID, c})
	}
	return out
}

// TestCertificateExpiryCheck runs the check on both engines over SAML
// connections whose IdP certificate (given by hand, or in metadata XML)
// or SP certificate expires soon: one certificate.expiring row per
// certificate and threshold, the same after the check runs again, from a
// second replica at the same time, or after a restart; a later check
// inside the 7-day threshold adds that row; a certificate far from expiry
// has none.
func TestCertificateExpiryCheck(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			stores := directorytest.Replicas(t, engine)
			a, b := stores[0], stores[1]
			o, _, err := a.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "certs-" + engine})
			if err != nil {
				t.Fatal(err)
			}
			idp20, idp20Cert := certExpiring(t, "idp in 20 days", 20*24*time.Hour)
			far, _ := certExpiring(t, "idp in 200 days", 200*24*time.Hour)
			sp5, sp5Cert := certExpiring(t, "sp in 5 days", 5*24*time.Hour)
			_, mdCert := certExpiring(t, "metadata idp in 3 days", 3*24*time.Hour)
			mk := func(name string, section map[string]any) directory.Connection {
				cfg, _ := json.Marshal(map[string]any{"saml": section})
				c, err := a.CreateConnection(ctx, "system:test", directory.Connection{OrgID: o.ID, Type: directory.ConnectionSAML, Name: name, Config: cfg})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			manual := mk("manual", map[string]any{"entity_id": "https://idp.example", "sso_url": "https://idp.example/sso",
				"certificates": []string{idp20, far}, "sp_certificate": sp5})
			withMetadata := mk("metadata", map[string]any{"metadata_xml": metadataWith(mdCert)})
			mk("fine", map[string]any{"entity_id": "https://idp2.example", "sso_url": "https://idp2.example/sso", "certificates": []string{far}})
			// Not SAML: never looked at.
			if _, err := a.CreateConnection(ctx, "system:test", directory.Connection{OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "oidc"}); err != nil {
				t.Fatal(err)
			}

			check := func(s *directory.SQLStore, now time.Time) (*saml.ExpiryCheck, func() int) {
				c, err := saml.NewExpiryCheck(saml.ExpiryConfig{Store: s, Now: func() time.Time { return now }})
				if err != nil {
					t.Fatal(err)
				}
				return c, func() int {
					n, err := c.Check(ctx)
					if err != nil {
						t.Fatalf("check: %v", err)
					}
					return n
				}
			}
			now := time.Now()
			// Two replicas at once, three times each: three rows in all.
			var wg sync.WaitGroup
			var mu sync.Mutex
			total := 0
			for _, s := range []*directory.SQLStore{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, run := check(s, now)
					for range 3 {
						n := run()
						mu.Lock()
						total += n
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			rows := expiringRows(t, a, o.ID)
			if total != 3 || len(rows) != 3 {
				t.Fatalf("two replicas wrote %d rows (%d listed), want 3: %+v", total, len(rows), rows)
			}
			want := map[string]struct {
				conn, kind string
				th         int
			}{
				sha256Pairs(idp20Cert.Raw): {manual.ID, "idp_signing", 30},
				sha256Pairs(sp5Cert.Raw):   {manual.ID, "sp_current", 7},
				sha256Pairs(mdCert.Raw):    {withMetadata.ID, "idp_signing", 7},
			}
			for _, r := range rows {
				w, ok := want[r.Fingerprint]
				if !ok || r.ConnectionID != w.conn || r.Kind != w.kind || r.ThresholdDays != w.th || r.OrgID != o.ID {
					t.Fatalf("unexpected row %+v (want one of %+v)", r, want)
				}
				if r.DaysLeft < 2 || r.DaysLeft > 20 || r.NotAfter.IsZero() || r.Subject == "" {
					t.Fatalf("row details %+v", r)
				}
			}

			// A restart (a new check on a new store handle) writes nothing new.
			_, again := check(b, now)
			if n := again(); n != 0 {
				t.Fatalf("the check after a restart wrote %d rows", n)
			}
			// 16 days later the 20-day certificate is inside 7 days: one
			// more row; the 5-day ones have theirs already.
			_, later := check(a, now.Add(16*24*time.Hour))
			if n := later(); n != 1 {
				t.Fatalf("16 days later: %d rows written, want 1 (the 20-day certificate at 7 days)", n)
			}
			if n := later(); n != 0 {
				t.Fatalf("16 days later, again: %d rows written", n)
			}
			if rows := expiringRows(t, a, o.ID); len(rows) != 4 || rows[0].Fingerprint != sha256Pairs(idp20Cert.Raw) || rows[0].ThresholdDays != 7 {
				t.Fatalf("rows after 16 days: %+v", rows)
			}
		})
	}
}

// TestCertificateExpiryRunStops: Run checks first after FirstRun and
// returns when its context ends.
func TestCertificateExpiryRunStops(t *testing.T) {
	s := directorytest.SQLite(t)
	ctx := context.Background()
	o, _, err := s.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "certs-run"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := certExpiring(t, "soon", 24*time.Hour)
	cfg, _ := json.Marshal(map[string]any{"saml": map[string]any{"certificates": []string{p}}})
	if _, err := s.CreateConnection(ctx, "system:test", directory.Connection{OrgID: o.ID, Type: directory.ConnectionSAML, Name: "c", Config: cfg}); err != nil {
		t.Fatal(err)
	}
	c, err := saml.NewExpiryCheck(saml.ExpiryConfig{Store: s, FirstRun: 10 * time.Millisecond, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- c.Run(runCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(expiringRows(t, s, o.ID)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no row written by Run's first check")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := saml.NewExpiryCheck(saml.ExpiryConfig{Store: s, ThresholdDays: []int{30, 0}}); err == nil {
		t.Fatal("a threshold of 0 days was accepted")
	}
}

// metadataWith is IdP metadata listing cert as its signing certificate.
func metadataWith(cert *x509.Certificate) string {
	return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://md.example">` +
		`<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		base64.StdEncoding.EncodeToString(cert.Raw) + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://md.example/sso"/>` +
		`</IDPSSODescriptor></EntityDescriptor>`
}

// sha256Pairs is the fingerprint form of the rows: SHA-256 of the DER,
// upper-case hex pairs joined by colons.
func sha256Pairs(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

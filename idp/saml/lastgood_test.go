package saml_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

// metadataServer serves the IdP's metadata until it is told to fail.
type metadataServer struct {
	mu   sync.Mutex
	body string
	fail int // status to answer instead, 0: serve body
}

func (m *metadataServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != 0 {
		http.Error(w, "down", m.fail)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write([]byte(m.body))
}

func (m *metadataServer) set(body string, fail int) {
	m.mu.Lock()
	m.body, m.fail = body, fail
	m.mu.Unlock()
}

// TestAMetadataURLsLastGoodDocumentSurvivesARestart builds the connector of
// a connection configured by metadata URL the way the broker does at each
// start and refresh, against the real directory on both engines: a fetched
// document that validates is kept; when the URL is down (or serves
// something that fails validation) the kept document is used and the
// fallback logged; a kept document that no longer validates is never used.
func TestAMetadataURLsLastGoodDocumentSurvivesARestart(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := open(t)
			ctx := context.Background()
			org, _, err := store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "lastgood-" + strings.ToLower(name)})
			if err != nil {
				t.Fatal(err)
			}
			conn, err := store.CreateConnection(ctx, "system:test", directory.Connection{OrgID: org.ID, Type: directory.ConnectionSAML, Name: "IdP"})
			if err != nil {
				t.Fatal(err)
			}
			idpA := samltest.NewIdP(t, "https://idp.example.test/saml")
			srv := &metadataServer{body: idpA.Metadata("https://idp.example.test/sso")}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			mdURL := hs.URL + "/metadata"
			sp := newSPKeyPair(t)
			raw, _ := json.Marshal(map[string]any{"metadata_url": mdURL, "sp_certificate": sp.certPEM, "sp_key_sealed": []byte("sealed:" + string(sp.keyDER))})
			var logs bytes.Buffer
			build := func() (idp.Connector, error) {
				return saml.New(ctx, idp.FactoryInput{
					Connection: conn, Config: idp.ConnectionConfig{SAML: raw},
					CallbackURL: acsURL, EntityID: entityID,
					OpenSecret: func(sealed []byte) ([]byte, error) { return sealed[len("sealed:"):], nil },
					HTTPClient: idp.NewUpstreamClient(true),
					Documents:  store,
					Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
				})
			}

			// Up: the connector is built and the document kept.
			if _, err := build(); err != nil {
				t.Fatalf("with the URL up: %v", err)
			}
			kept, err := store.GetUpstreamDocument(ctx, conn.ID, mdURL)
			if err != nil || string(kept.Document) != srv.body {
				t.Fatalf("the good document was not kept: %v", err)
			}

			// A restart while the URL is down: the kept document is used.
			for _, status := range []int{http.StatusServiceUnavailable, http.StatusNotFound} {
				srv.set(srv.body, status)
				logs.Reset()
				c, err := build()
				if err != nil {
					t.Fatalf("URL answering %d with a good document kept: %v", status, err)
				}
				if c.(*saml.Connector).IdPEntityID() != idpA.EntityID {
					t.Fatalf("entity %q", c.(*saml.Connector).IdPEntityID())
				}
				if !strings.Contains(logs.String(), "using the last good document") || !strings.Contains(logs.String(), "last_good_fetched_at") {
					t.Fatalf("the fallback was not logged:\n%s", logs.String())
				}
			}

			// The URL serves something that fails validation (an SP's
			// metadata): not used, not kept; the last good one is used.
			good := srv.body
			spMetadata := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>`
			srv.set(spMetadata, 0)
			if _, err := build(); err != nil {
				t.Fatalf("an invalid fetched document with a good one kept: %v", err)
			}
			if k, _ := store.GetUpstreamDocument(ctx, conn.ID, mdURL); string(k.Document) != good {
				t.Fatalf("a document that fails validation was kept:\n%s", k.Document)
			}

			// A kept document that no longer validates (here: replaced behind
			// our back by one whose certificate expired) is never used.
			idpB := samltest.NewIdP(t, "https://idp.example.test/saml")
			stale := strings.Replace(idpB.Metadata("https://idp.example.test/sso"), idpB.CertBase64(), base64.StdEncoding.EncodeToString(expiredCert(t)), 1)
			if err := store.SaveUpstreamDocument(ctx, directory.UpstreamDocument{ConnectionID: conn.ID, URL: mdURL, Document: []byte(stale)}); err != nil {
				t.Fatal(err)
			}
			srv.set(good, http.StatusBadGateway)
			logs.Reset()
			if _, err := build(); !errors.Is(err, idp.ErrUpstreamUnavailable) {
				t.Fatalf("a kept document that fails validation: err %v, want the fetch's ErrUpstreamUnavailable", err)
			}
			if !strings.Contains(logs.String(), "no longer passes validation") {
				t.Fatalf("the refusal of the kept document was not logged:\n%s", logs.String())
			}

			// Another URL never falls back to this URL's document.
			raw, _ = json.Marshal(map[string]any{"metadata_url": mdURL + "?v=2", "sp_certificate": sp.certPEM, "sp_key_sealed": []byte("sealed:" + string(sp.keyDER))})
			if _, err := build(); !errors.Is(err, idp.ErrUpstreamUnavailable) {
				t.Fatalf("another URL, down: %v", err)
			}
		})
	}
}

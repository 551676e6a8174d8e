package adminapi

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testCert returns a self-signed certificate (DER) valid from notBefore to notAfter.
func testCert(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp.test"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func idpMetadata(der []byte, sso string) string {
	return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.test/saml">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
      ` + base64.StdEncoding.EncodeToString(der) + `
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + sso + `"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestConnectionValidation(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		now := time.Now()
		good := testCert(t, ecKey(t), now.Add(-time.Hour), now.Add(365*24*time.Hour))
		expired := testCert(t, ecKey(t), now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		future := testCert(t, ecKey(t), now.Add(24*time.Hour), now.Add(48*time.Hour))
		weakKey, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		weak := testCert(t, weakKey, now.Add(-time.Hour), now.Add(time.Hour))
		md := idpMetadata(good, "https://idp.test/sso")
		saml := func(section string) string {
			return fmt.Sprintf(`{"type":"saml","name":"saml-%d","saml":%s}`, f.next(), section)
		}
		oidc := func(section string) string {
			return fmt.Sprintf(`{"type":"oidc","name":"oidc-%d","oidc":%s}`, f.next(), section)
		}
		for _, c := range []struct {
			name, body string
			want       int
			field      string
		}{
			{"SAML metadata XML", saml(`{"metadata_xml":` + jsonString(md) + `}`), 201, ""},
			{"SAML metadata with loopback http SSO", saml(`{"metadata_xml":` + jsonString(idpMetadata(good, "http://127.0.0.1:8081/sso")) + `}`), 201, ""},
			{"SAML metadata with plain-http SSO", saml(`{"metadata_xml":` + jsonString(idpMetadata(good, "http://idp.test/sso")) + `}`), 422, "saml.metadata_xml"},
			{"SAML metadata with DOCTYPE", saml(`{"metadata_xml":` + jsonString(`<!DOCTYPE x [<!ENTITY a "b">]>`+md[strings.Index(md, "<md:"):]) + `}`), 422, "saml.metadata_xml"},
			{"SAML metadata with an expired certificate", saml(`{"metadata_xml":` + jsonString(idpMetadata(expired, "https://idp.test/sso")) + `}`), 422, "saml.metadata_xml"},
			{"SAML metadata that is not XML", saml(`{"metadata_xml":"<md:EntityDescriptor"}`), 422, "saml.metadata_xml"},
			{"SP metadata is not IdP metadata", saml(`{"metadata_xml":` + jsonString(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="sp"><SPSSODescriptor/></EntityDescriptor>`) + `}`), 422, "saml.metadata_xml"},
			{"SAML metadata URL", saml(`{"metadata_url":"https://idp.test/metadata"}`), 201, ""},
			{"SAML metadata URL over http", saml(`{"metadata_url":"http://idp.test/metadata"}`), 422, "saml.metadata_url"},
			{"SAML by hand", saml(`{"entity_id":"https://idp.test","sso_url":"https://idp.test/sso","certificates":[` + jsonString(pemOf(good)) + `]}`), 201, ""},
			{"SAML by hand without certificates", saml(`{"entity_id":"https://idp.test","sso_url":"https://idp.test/sso"}`), 422, "saml.certificates"},
			{"SAML certificate expired", saml(`{"entity_id":"e","sso_url":"https://idp.test/sso","certificates":[` + jsonString(pemOf(expired)) + `]}`), 422, "saml.certificates"},
			{"SAML certificate not yet valid", saml(`{"entity_id":"e","sso_url":"https://idp.test/sso","certificates":[` + jsonString(pemOf(future)) + `]}`), 422, "saml.certificates"},
			{"SAML certificate with a 1024-bit RSA key", saml(`{"entity_id":"e","sso_url":"https://idp.test/sso","certificates":[` + jsonString(pemOf(weak)) + `]}`), 422, "saml.certificates"},
			{"SAML certificate that is not PEM", saml(`{"entity_id":"e","sso_url":"https://idp.test/sso","certificates":["MIIB"]}`), 422, "saml.certificates"},
			{"SAML certificate with garbage DER", saml(`{"entity_id":"e","sso_url":"https://idp.test/sso","certificates":[` + jsonString(pemOf([]byte("junk"))) + `]}`), 422, "saml.certificates"},
			{"SAML two ways at once", saml(`{"metadata_url":"https://idp.test/md","entity_id":"e"}`), 422, "saml"},
			{"SAML nothing", saml(`{}`), 422, "saml"},
			{"SAML without section", `{"type":"saml","name":"x"}`, 422, "saml"},
			{"SAML with an oidc section", `{"type":"saml","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"}}`, 422, "oidc"},
			{"OIDC", oidc(`{"issuer":"https://accounts.test","client_id":"c","client_secret":"s","scopes":["openid","groups"]}`), 201, ""},
			{"OIDC on loopback http", oidc(`{"issuer":"http://127.0.0.1:9000","client_id":"c","client_secret":"s"}`), 201, ""},
			{"OIDC on localhost http", oidc(`{"issuer":"http://localhost:9000/realms/x","client_id":"c","client_secret":"s"}`), 201, ""},
			{"OIDC on plain http", oidc(`{"issuer":"http://accounts.test","client_id":"c","client_secret":"s"}`), 422, "oidc.issuer"},
			{"OIDC issuer with a query", oidc(`{"issuer":"https://accounts.test/?x=1","client_id":"c","client_secret":"s"}`), 422, "oidc.issuer"},
			{"OIDC relative issuer", oidc(`{"issuer":"accounts.test","client_id":"c","client_secret":"s"}`), 422, "oidc.issuer"},
			{"OIDC without client_id", oidc(`{"issuer":"https://a.test","client_secret":"s"}`), 422, "oidc.client_id"},
			{"OIDC without client_secret", oidc(`{"issuer":"https://a.test","client_id":"c"}`), 422, "oidc.client_secret"},
			{"OIDC scopes without openid", oidc(`{"issuer":"https://a.test","client_id":"c","client_secret":"s","scopes":["email"]}`), 422, "oidc.scopes"},
			{"OIDC scope with a space", oidc(`{"issuer":"https://a.test","client_id":"c","client_secret":"s","scopes":["openid","a b"]}`), 422, "oidc.scopes"},
			{"OIDC unknown field", oidc(`{"issuer":"https://a.test","client_id":"c","client_secret":"s","discovery":true}`), 422, "discovery"},
			{"unknown type", `{"type":"ldap","name":"x"}`, 422, "type"},
			{"missing type", `{"name":"x"}`, 422, "type"},
			{"attribute mapping", fmt.Sprintf(`{"type":"oidc","name":"m-%d","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"attribute_mapping":{"email":"mail","groups":"memberOf"},"group_roles":{"Admins":"admin"}}`, f.next()), 201, ""},
			{"unknown attribute", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"attribute_mapping":{"shoe_size":"s"}}`, 422, "attribute_mapping"},
			{"group mapped to no role", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"group_roles":{"g":"owner"}}`, 422, "group_roles"},
			{"group workspace mapping", fmt.Sprintf(`{"type":"oidc","name":"gw-%d","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s","require_email_verified":false,"userinfo":"always"},"group_workspaces":{"ml":{"research":"owner","ws_abc":"member"}}}`, f.next()), 201, ""},
			{"group workspace mapped to an org role", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"group_workspaces":{"ml":{"research":"admin"}}}`, 422, "group_workspaces"},
			{"group workspace that is no name", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"group_workspaces":{"ml":{"Bad Name":"member"}}}`, 422, "group_workspaces"},
			{"unknown userinfo mode", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s","userinfo":"sometimes"}}`, 422, "oidc.userinfo"},
			{"empty name", `{"type":"oidc","name":"","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"}}`, 422, "name"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := f.as(cAdmin, "POST", f.pathA("/connections"), c.body)
				wantStatus(t, r, c.want)
				if c.field != "" {
					if _, _, field := r.errorCode(t); field != c.field {
						t.Fatalf("field %q, want %q: %s", field, c.field, r.Body.String())
					}
				}
			})
		}
		// Exactly the 9 accepted ones were stored: nothing refused left a half-created connection.
		r := f.as(cAdmin, "GET", f.pathA("/connections"), "")
		if n := len(r.json(t)["items"].([]any)); n != 9 {
			t.Fatalf("%d connections stored, want 9", n)
		}
	})
}

func TestOIDCClientSecretIsSealedAndNeverShown(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cAdmin, "POST", f.pathA("/connections"),
			`{"type":"oidc","name":"Okta","enabled":true,"oidc":{"issuer":"https://acme.okta.test","client_id":"broker","client_secret":"first-s3cret"}}`)
		wantStatus(t, r, 201)
		c := r.json(t)
		id := c["id"].(string)
		o := c["oidc"].(map[string]any)
		if o["client_secret_set"] != true || c["enabled"] != true || strings.Contains(r.Body.String(), "s3cret") ||
			fmt.Sprint(o["scopes"]) != "[openid email profile]" {
			t.Fatalf("created %s", r.Body.String())
		}
		opened := func() string {
			t.Helper()
			conn, err := f.store.GetConnection(f.ctx, f.orgA.ID, id)
			f.must(err)
			if strings.Contains(string(conn.Config), "s3cret") {
				t.Fatalf("client secret stored in clear: %s", conn.Config)
			}
			var cfg ConnectionConfig
			f.must(json.Unmarshal(conn.Config, &cfg))
			plain, err := f.sealer.Open(cfg.OIDC.ClientSecretSealed, []byte(id))
			if err != nil {
				t.Fatalf("sealed secret does not open with the connection id as associated data: %v", err)
			}
			return string(plain)
		}
		if got := opened(); got != "first-s3cret" {
			t.Fatalf("secret %q", got)
		}
		for _, p := range []string{"/connections/" + id, "/connections"} {
			if r := f.as(cAdmin, "GET", f.pathA(p), ""); strings.Contains(r.Body.String(), "s3cret") || strings.Contains(r.Body.String(), "sealed") {
				t.Fatalf("GET %s shows the secret: %s", p, r.Body.String())
			}
		}
		// PATCH without a secret keeps it; with one, replaces it.
		r = f.as(cAdmin, "PATCH", f.pathA("/connections/"+id), `{"name":"Okta 2","oidc":{"issuer":"https://acme.okta.test","client_id":"broker2"}}`)
		wantStatus(t, r, 200)
		if got := opened(); got != "first-s3cret" || r.json(t)["oidc"].(map[string]any)["client_id"] != "broker2" {
			t.Fatalf("secret %q after PATCH without one: %s", got, r.Body.String())
		}
		wantStatus(t, f.as(cAdmin, "PATCH", f.pathA("/connections/"+id), `{"oidc":{"issuer":"https://acme.okta.test","client_id":"broker2","client_secret":"second-s3cret"}}`), 200)
		if got := opened(); got != "second-s3cret" {
			t.Fatalf("secret %q after rotation", got)
		}
		r = f.as(cAdmin, "PATCH", f.pathA("/connections/"+id), `{"enabled":false}`)
		if wantStatus(t, r, 200); r.json(t)["enabled"] != false || opened() != "second-s3cret" {
			t.Fatalf("disable: %s", r.Body.String())
		}
		wantStatus(t, f.as(cAdmin, "PATCH", f.pathA("/connections/"+id), `{"type":"saml"}`), 422)

		// Without a sealer, secrets are refused rather than stored in clear.
		api := newAPI(t, Config{Store: f.store, Tokens: f.verifier})
		f.mux = http.NewServeMux()
		api.Routes(f.mux)
		r = f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"oidc","name":"Clear","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s3cret"}}`)
		wantStatus(t, r, 500)
		if code, _, _ := r.errorCode(t); code != "secret_sealer_missing" {
			t.Fatalf("code %q", code)
		}
		if conns, _ := f.store.ListConnections(f.ctx, f.orgA.ID); len(conns) != 1 {
			t.Fatalf("a connection was stored without a sealer: %d", len(conns))
		}
		// SAML connections keep a sealed SP key: refused too.
		r = f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"saml","name":"ADFS","saml":{"metadata_url":"https://adfs.acme.test/md.xml"}}`)
		wantStatus(t, r, 500)
		if conns, _ := f.store.ListConnections(f.ctx, f.orgA.ID); len(conns) != 1 {
			t.Fatalf("a SAML connection was stored without a sealer: %d", len(conns))
		}
	})
}

func TestSAMLConnectionGetsASealedSPKeyPair(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		good := testCert(t, ecKey(t), time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		body := `{"type":"saml","name":"Entra","saml":{"metadata_xml":` + jsonString(idpMetadata(good, "https://idp.test/sso")) + `,"name_id_format":"persistent"}}`
		r := f.as(cAdmin, "POST", f.pathA("/connections"), body)
		wantStatus(t, r, 201)
		c := r.json(t)
		id := c["id"].(string)
		s := c["saml"].(map[string]any)
		base := "https://sso.example.test/sso/saml/" + id
		if s["sp_entity_id"] != base+"/metadata" || s["sp_metadata_url"] != base+"/metadata" || s["acs_url"] != base+"/acs" ||
			c["enabled"] != true || s["name_id_format"] != "persistent" {
			t.Fatalf("created %s", r.Body.String())
		}
		if strings.Contains(r.Body.String(), "sp_key") || strings.Contains(r.Body.String(), "PRIVATE") {
			t.Fatalf("the SP key leaks: %s", r.Body.String())
		}
		block, _ := pem.Decode([]byte(s["sp_certificate"].(string)))
		if block == nil {
			t.Fatalf("sp_certificate is not PEM: %v", s["sp_certificate"])
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		f.must(err)
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() != 2048 || time.Until(cert.NotAfter) < 9*365*24*time.Hour {
			t.Fatalf("SP certificate %T %v until %s", cert.PublicKey, cert.Subject, cert.NotAfter)
		}
		stored := func() SAMLConfig {
			t.Helper()
			conn, err := f.store.GetConnection(f.ctx, f.orgA.ID, id)
			f.must(err)
			var cfg ConnectionConfig
			f.must(json.Unmarshal(conn.Config, &cfg))
			return *cfg.SAML
		}
		cfg := stored()
		der, err := f.sealer.Open(cfg.SPKeySealed, []byte(id))
		if err != nil {
			t.Fatalf("the SP key does not open with the connection id as associated data: %v", err)
		}
		key, err := x509.ParsePKCS8PrivateKey(der)
		f.must(err)
		if !pub.Equal(key.(*rsa.PrivateKey).Public()) {
			t.Fatal("the sealed key is not the certificate's")
		}
		if _, err := f.sealer.Open(cfg.SPKeySealed, []byte("conn_other")); err == nil {
			t.Fatal("the sealed key opens for another connection")
		}
		// Changing the settings keeps the key pair.
		r = f.as(cAdmin, "PATCH", f.pathA("/connections/"+id), `{"saml":{"metadata_xml":`+jsonString(idpMetadata(good, "https://idp.test/sso2"))+`,"sign_requests":false}}`)
		wantStatus(t, r, 200)
		if after := stored(); after.SPCertificate != cfg.SPCertificate || string(after.SPKeySealed) != string(cfg.SPKeySealed) || after.SignRequests == nil || *after.SignRequests {
			t.Fatalf("PATCH changed the key pair or lost the setting: %s", r.Body.String())
		}
	})
}

// fakeFetcher serves metadata documents by URL.
type fakeFetcher map[string]string

func (f fakeFetcher) FetchSAMLMetadata(_ context.Context, u string) ([]byte, error) {
	doc, ok := f[u]
	if !ok {
		return nil, errors.New("connection refused")
	}
	return []byte(doc), nil
}

func TestSAMLMetadataURLIsFetchedAndCheckedWhenConfigured(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		now := time.Now()
		good := testCert(t, ecKey(t), now.Add(-time.Hour), now.Add(24*time.Hour))
		expired := testCert(t, ecKey(t), now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		noKeys := strings.Replace(idpMetadata(good, "https://idp.test/sso"), `use="signing"`, `use="encryption"`, 1)
		f.api = newAPI(t, Config{Store: f.store, Tokens: f.verifier, Sealer: f.sealer, Issuer: "https://sso.example.test",
			SAMLMetadata: fakeFetcher{
				"https://idp.test/good":    idpMetadata(good, "https://idp.test/sso"),
				"https://idp.test/expired": idpMetadata(expired, "https://idp.test/sso"),
				"https://idp.test/nokeys":  noKeys,
				"https://idp.test/html":    "<html><body>login</body></html>",
				"https://idp.test/doctype": `<!DOCTYPE x [<!ENTITY a "b">]><x/>`,
			}})
		f.mux = http.NewServeMux()
		f.api.Routes(f.mux)
		for _, c := range []struct{ url, want string }{
			// The class only: network detail stays in the operator's log.
			{"https://idp.test/down", "could not be fetched: not reachable"},
			{"https://idp.test/expired", "expired on"},
			{"https://idp.test/nokeys", "no signing certificate"},
			{"https://idp.test/html", "SAML 2.0 EntityDescriptor"},
			{"https://idp.test/doctype", "DOCTYPE"},
		} {
			r := f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"saml","name":"x","saml":{"metadata_url":"`+c.url+`"}}`)
			wantStatus(t, r, 422)
			if _, msg, field := r.errorCode(t); field != "saml.metadata_url" || !strings.Contains(msg, c.want) {
				t.Errorf("%s: field %q message %q, want %q", c.url, field, msg, c.want)
			}
		}
		r := f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"saml","name":"ok","saml":{"metadata_url":"https://idp.test/good"}}`)
		wantStatus(t, r, 201)
		if conns, _ := f.store.ListConnections(f.ctx, f.orgA.ID); len(conns) != 1 {
			t.Fatalf("%d connections stored; the refused ones must leave nothing", len(conns))
		}
	})
}

func TestSAMLBehaviourSettingsAreValidated(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		good := testCert(t, ecKey(t), time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		md := `"metadata_xml":` + jsonString(idpMetadata(good, "https://idp.test/sso"))
		for _, c := range []struct{ settings, field string }{
			{`"request_binding":"artifact"`, "saml.request_binding"},
			{`"name_id_format":"kerberos"`, "saml.name_id_format"},
			{`"allow_idp_initiated":true`, "saml.idp_initiated_target"},
			{`"allow_idp_initiated":true,"idp_initiated_target":"//evil.example/x"`, "saml.idp_initiated_target"},
			{`"allow_idp_initiated":true,"idp_initiated_target":"https://evil.example/"`, "saml.idp_initiated_target"},
			{`"idp_initiated_target":"/\\evil.example"`, "saml.idp_initiated_target"},
			{`"sp_key_sealed":"AAAA"`, "sp_key_sealed"},
			{`"sp_certificate":"x"`, "sp_certificate"},
		} {
			r := f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"saml","name":"x","saml":{`+md+`,`+c.settings+`}}`)
			wantStatus(t, r, 422)
			if _, _, field := r.errorCode(t); field != c.field {
				t.Errorf("%s: field %q, want %q", c.settings, field, c.field)
			}
		}
		r := f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"saml","name":"idp-init","saml":{`+md+`,"allow_idp_initiated":true,"idp_initiated_target":"/oauth2/authorize?client_id=cli_x&response_type=code","request_binding":"post"}}`)
		wantStatus(t, r, 201)
	})
}

package adminapi

import (
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
		api := New(Config{Store: f.store, Tokens: f.verifier})
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
		// SAML needs no secret and works without a sealer.
		r = f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"saml","name":"ADFS","saml":{"metadata_url":"https://adfs.acme.test/md.xml"}}`)
		wantStatus(t, r, 201)
	})
}

package console_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/console"
	"github.com/ssobroker/ssobroker/idp/oidc"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/internal/certtest"
)

// selfService is the fixture with the Connections and Domains tabs wired as
// cmd wires them: the admin API's save path with the connector packages'
// configurator (upstream client allowing loopback, as tests need), and an
// API key of an admin service account to call the API with.
type selfService struct {
	*fixture
	api    http.Handler
	apiKey string
	tests  *idp.Service
}

func newSelfService(t *testing.T, f *fixture) *selfService {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := idp.NewConfigurator(idp.ConfiguratorConfig{Issuer: "http://sso.test", Sealer: box, HTTPClient: idp.NewUpstreamClient(true),
		Protocols: idp.Configurators{directory.ConnectionSAML: saml.Configurator{}, directory.ConnectionOIDC: oidc.Configurator{}}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := adminapi.New(adminapi.Config{Store: f.store, Connections: conf, Failures: f.store, SetupLinks: f.store, Issuer: "http://sso.test"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := idp.New(idp.Options{Issuer: "http://sso.test", Directory: f.store, Sessions: f.sessions, Secrets: box,
		Connectors: idp.Registry{directory.ConnectionOIDC: oidc.New, directory.ConnectionSAML: saml.New}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	f.console, err = console.New(console.Config{Issuer: "http://sso.test", Store: f.store, Sessions: f.sessions,
		Key: []byte(strings.Repeat("k", 32)), Connections: api, SelfService: f.store, Tests: svc})
	if err != nil {
		t.Fatal(err)
	}
	f.mux = http.NewServeMux()
	f.console.Routes(f.mux)
	apiMux := http.NewServeMux()
	api.Routes(apiMux)
	sa, err := f.store.CreateServiceAccount(bg, "test", directory.NewServiceAccount{OrgID: f.org.ID, Name: "automation", Role: access.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := f.store.CreateAPIKey(bg, "test", f.org.ID, sa.ID)
	if err != nil {
		t.Fatal(err)
	}
	return &selfService{fixture: f, api: apiMux, apiKey: secret, tests: svc}
}

// callAPI sends a JSON body to the admin API.
func (s *selfService) callAPI(method, path, body string) (int, map[string]any) {
	s.t.Helper()
	req := httptest.NewRequest(method, "/api/v1/orgs/"+s.org.ID+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.api.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// postMultipart sends a multipart form with one file, as a browser uploads.
func (s *selfService) postMultipart(p person, path string, form url.Values, file string) resp {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	form.Set("csrf", csrfValue)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("metadata_file", "metadata.xml")
	_, _ = fw.Write([]byte(file))
	_ = mw.Close()
	req := httptest.NewRequest("POST", path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Cookie", p.cookie)
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return resp{rec}
}

func makeCert(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) []byte {
	t.Helper()
	der, _ := certtest.SelfSigned(t, key, x509.Certificate{Subject: pkix.Name{CommonName: "idp.test"}, NotBefore: notBefore, NotAfter: notAfter})
	return der
}

func idpMetadata(der []byte, sso string) string {
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.test/entity">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(der) +
		`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
		`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + sso + `"/>` +
		`</md:IDPSSODescriptor></md:EntityDescriptor>`
}

// discoveryServer serves an OpenID Provider's discovery document on
// loopback; edit changes it before it is served.
func discoveryServer(t testing.TB, edit func(doc map[string]any)) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/auth", "token_endpoint": srv.URL + "/token",
			"jwks_uri": srv.URL + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"}}
		if edit != nil {
			edit(doc)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Each bad input gets its field and a sentence at save time, through the
// admin API and through the console's form alike; nothing is stored.
func TestBadConnectionInputIsRefusedWithItsFieldInTheAPIAndTheForm(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		s := newSelfService(t, f)
		now := time.Now()
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		expired := makeCert(t, ec, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		weakKey, _ := rsa.GenerateKey(rand.Reader, 1024)
		weak := makeCert(t, weakKey, now.Add(-time.Hour), now.Add(time.Hour))
		closed := httptest.NewServer(http.NotFoundHandler())
		closedURL := closed.URL
		closed.Close()
		mismatch := discoveryServer(t, func(doc map[string]any) { doc["issuer"] = "https://other.example" })
		noPKCE := discoveryServer(t, func(doc map[string]any) { doc["code_challenge_methods_supported"] = []string{"plain"} })

		for _, c := range []struct {
			name, typ string
			form      url.Values
			field     string
			message   string
		}{
			{"metadata that does not parse", "saml", url.Values{"metadata_xml": {"<md:EntityDescriptor"}}, "saml.metadata_xml", "not well-formed"},
			{"SP metadata instead of the IdP's", "saml", url.Values{"metadata_xml": {`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="sp"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></EntityDescriptor>`}},
				"saml.metadata_xml", "service provider's metadata"},
			{"metadata with an expired certificate", "saml", url.Values{"metadata_xml": {idpMetadata(expired, "https://idp.test/sso")}}, "saml.metadata_xml", "expired on"},
			{"an expired certificate by hand", "saml", url.Values{"entity_id": {"https://idp.test"}, "sso_url": {"https://idp.test/sso"}, "certificates": {certtest.PEM(expired)}},
				"saml.certificates", "expired on"},
			{"a weak certificate", "saml", url.Values{"entity_id": {"https://idp.test"}, "sso_url": {"https://idp.test/sso"}, "certificates": {certtest.PEM(weak)}},
				"saml.certificates", "shorter than 2048 bits"},
			{"an unreachable metadata URL", "saml", url.Values{"metadata_url": {closedURL + "/md"}}, "saml.metadata_url", "could not be fetched: not reachable"},
			{"metadata URL over plain http", "saml", url.Values{"metadata_url": {"http://idp.example/md"}}, "saml.metadata_url", "must use https"},
			{"an unreachable discovery document", "oidc", url.Values{"issuer": {closedURL}, "client_id": {"c"}, "client_secret": {"s"}},
				"oidc.issuer", "The identity provider's discovery document could not be fetched: not reachable"},
			{"an issuer mismatch", "oidc", url.Values{"issuer": {mismatch}, "client_id": {"c"}, "client_secret": {"s"}}, "oidc.issuer", "must match exactly"},
			{"no PKCE S256", "oidc", url.Values{"issuer": {noPKCE}, "client_id": {"c"}, "client_secret": {"s"}}, "oidc.issuer", "S256"},
			{"scopes without openid", "oidc", url.Values{"issuer": {mismatch}, "client_id": {"c"}, "client_secret": {"s"}, "scopes": {"email"}}, "oidc.scopes", `"openid"`},
		} {
			t.Run(c.name, func(t *testing.T) {
				// The API, with the same values as JSON.
				section := map[string]any{}
				for k, v := range c.form {
					switch k {
					case "certificates":
						section[k] = []string{v[0]}
					case "scopes":
						section[k] = strings.Fields(v[0])
					default:
						section[k] = v[0]
					}
				}
				body, _ := json.Marshal(map[string]any{"type": c.typ, "name": "api " + c.name, c.typ: section})
				code, out := s.callAPI("POST", "/connections", string(body))
				e, _ := out["error"].(map[string]any)
				if code != http.StatusUnprocessableEntity || e["field"] != c.field || !strings.Contains(fmt.Sprint(e["message"]), c.message) {
					t.Fatalf("API: %d %v, want 422 %s %q", code, out, c.field, c.message)
				}
				// The console's form.
				form := url.Values{"type": {c.typ}, "name": {"form " + c.name}}
				for k, v := range c.form {
					form[k] = v
				}
				r := f.post(f.admin, f.path("/connections"), form)
				wantStatus(t, r, http.StatusUnprocessableEntity)
				wantBody(t, r, `role="alert"`, c.field, html.EscapeString(c.message), `aria-invalid="true"`)
				if c.typ == "oidc" {
					wantBody(t, r, `value="`+html.EscapeString(c.form.Get("issuer"))+`"`)
				}
				if strings.Contains(r.body(), `value="s"`) {
					t.Fatal("the client secret is sent back into the page")
				}
			})
		}
		// A domain another org verified.
		other, _, err := f.store.CreateOrg(bg, "test", directory.NewOrg{Name: "globex"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AddDomain(bg, "test", other.ID, "globex.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.MarkDomainVerified(bg, "test", other.ID, "globex.test"); err != nil {
			t.Fatal(err)
		}
		code, out := s.callAPI("POST", "/domains", `{"domain":"globex.test"}`)
		if e, _ := out["error"].(map[string]any); code != http.StatusConflict || !strings.Contains(fmt.Sprint(e["message"]), "already verified") {
			t.Fatalf("API domain: %d %v", code, out)
		}
		r := f.post(f.admin, f.path("/domains"), url.Values{"domain": {"globex.test"}})
		wantStatus(t, r, http.StatusConflict)
		wantBody(t, r, "already verified", `value="globex.test"`, `aria-invalid="true"`)

		if conns, _ := f.store.ListConnections(bg, f.org.ID); len(conns) != 0 {
			t.Fatalf("%d connections stored by refused inputs", len(conns))
		}
	})
}

// Good inputs: an OIDC connection checked against a discovery server on
// loopback shows its callback URL; a SAML connection from an uploaded
// metadata file shows the values to paste and its certificate; enable,
// disable, the group mapping editor and the domain steps work through forms.
func TestConnectionsAndDomainsTabs(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		s := newSelfService(t, f)
		issuer := discoveryServer(t, nil)
		code, out := s.callAPI("POST", "/connections", `{"type":"oidc","name":"Okta API","oidc":{"issuer":"`+issuer+`","client_id":"c","client_secret":"s3cret"}}`)
		if code != http.StatusCreated || !strings.HasSuffix(fmt.Sprint(out["oidc"].(map[string]any)["callback_url"]), "/callback") {
			t.Fatalf("API create: %d %v", code, out)
		}
		r := f.follow(f.admin, f.post(f.admin, f.path("/connections"), url.Values{"type": {"oidc"}, "name": {"Okta"}, "issuer": {issuer},
			"client_id": {"broker"}, "client_secret": {"s3cret"}}))
		wantBody(t, r, "Okta", "http://sso.test/sso/oidc/conn_", "/callback", `class="copy"`)
		if strings.Contains(r.body(), "s3cret") {
			t.Fatal("the secret is shown")
		}

		now := time.Now()
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		soon := makeCert(t, ec, now.Add(-time.Hour), now.Add(10*24*time.Hour))
		r = s.postMultipart(f.admin, f.path("/connections"), url.Values{"type": {"saml"}, "name": {"Entra"}}, idpMetadata(soon, "https://idp.test/sso"))
		r = f.follow(f.admin, r)
		page := r.Header().Get("Location")
		wantBody(t, r, "Entra", "/sso/saml/conn_", "/acs", "/metadata", "expires within 30 days")
		conns, err := f.store.ListConnections(bg, f.org.ID)
		if err != nil || len(conns) != 3 {
			t.Fatalf("connections %v %v", conns, err)
		}
		var entra directory.Connection
		for _, c := range conns {
			if c.Name == "Entra" {
				entra = c
			}
		}
		if !entra.Enabled || !strings.Contains(string(entra.Config), "sp_key_sealed") {
			t.Fatalf("SAML connection stored %+v %s", entra, page)
		}
		// Disable, then the mapping editor.
		f.follow(f.admin, f.post(f.admin, f.path("/connections/"+entra.ID+"/disable"), nil))
		if c, _ := f.store.GetConnection(bg, f.org.ID, entra.ID); c.Enabled {
			t.Fatal("still enabled")
		}
		wantStatus(t, f.post(f.admin, f.path("/connections/"+entra.ID+"/enable"), nil, true), http.StatusForbidden) // no CSRF
		r = f.post(f.admin, f.path("/connections/"+entra.ID+"/mapping"), url.Values{"group": {"admins", "ml", ""},
			"org_role": {"admin", "", ""}, "workspace": {"", f.ws0.Name, ""}, "workspace_role": {"member", "owner", "member"}})
		r = f.follow(f.admin, r)
		wantBody(t, r, `value="admins"`, `value="ml"`, "group mapping saved")
		r = f.post(f.admin, f.path("/connections/"+entra.ID+"/mapping"), url.Values{"group": {"x"}, "org_role": {"owner"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "group_roles", "not an org role")

		// Domains: add, instructions, verify fails without the record.
		r = f.follow(f.admin, f.post(f.admin, f.path("/domains"), url.Values{"domain": {"acme.test"}}))
		ds, _ := f.store.ListDomains(bg, f.org.ID)
		if len(ds) != 1 {
			t.Fatalf("domains %v", ds)
		}
		wantBody(t, r, "_ssobroker-challenge.acme.test", "ssobroker-verify="+ds[0].Token, "/domains/acme.test/verify")

		// Setup links: created once visible, revoked.
		r = f.post(f.admin, f.path("/setup-links"), url.Values{"expires_in": {"72h"}})
		wantStatus(t, r, http.StatusCreated)
		wantBody(t, r, "http://sso.test/setup/ssbs_")
		links, _ := f.store.ListSetupLinks(bg, f.org.ID)
		if len(links) != 1 {
			t.Fatalf("links %v", links)
		}
		f.follow(f.admin, f.post(f.admin, f.path("/setup-links/"+links[0].ID+"/revoke"), nil))
		if links, _ = f.store.ListSetupLinks(bg, f.org.ID); links[0].RevokedAt == nil {
			t.Fatal("not revoked")
		}
	})
}

func TestTestThisConnectionButtonAndResultPage(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		s := newSelfService(t, f)
		issuer := discoveryServer(t, nil)
		r := f.follow(f.admin, f.post(f.admin, f.path("/connections"), url.Values{"type": {"oidc"}, "name": {"Okta"}, "issuer": {issuer},
			"client_id": {"broker"}, "client_secret": {"s3cret"}}))
		wantBody(t, r, "Test this connection")
		conns, err := f.store.ListConnections(bg, f.org.ID)
		if err != nil || len(conns) != 1 {
			t.Fatalf("connections %v %v", conns, err)
		}
		c := conns[0]
		// The button starts a test and sends this browser to its one-time URL.
		r = f.post(f.admin, f.path("/connections/"+c.ID+"/test"), url.Values{})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header().Get("Location"); !strings.HasPrefix(loc, "http://sso.test"+idp.TestStartPath) {
			t.Fatalf("sent to %q", loc)
		}
		// Without the CSRF token nothing starts.
		wantStatus(t, f.post(f.admin, f.path("/connections/"+c.ID+"/test"), url.Values{}, true), http.StatusForbidden)
		test, _, err := s.tests.StartConnectionTest(bg, f.admin.id, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		r = f.get(f.admin, f.path("/connections/"+c.ID+"/tests/"+test.ID))
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, "Test of Okta", "Waiting for the identity provider", `data-status="pending"`)
		wantStatus(t, f.get(f.admin, f.path("/connections/"+c.ID+"/tests/ctest_unknown")), http.StatusNotFound)
	})
}

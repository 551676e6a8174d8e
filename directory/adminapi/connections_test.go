package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
)

// The protocol sections' own rules (SAML metadata, certificates, OIDC
// discovery) belong to the connector packages and are tested through this
// API with the real configurator in idp/console (connections_test.go).
// Here the configurator is a stand-in: the API's own part is tested — the
// generic fields, the mappings, the configurator's problem as a 422 naming
// its field, and the two-step storage of sealed secrets.

// fakeConfigurator passes a section through; an "oidc" client_secret is
// sealed for the connection's id as client_secret_sealed (the stored one is
// kept when none is sent); issuer https://refused.test is refused.
type fakeConfigurator struct{ sealer *testSealer }

func (f fakeConfigurator) Validate(_ context.Context, typ directory.ConnectionType, section, stored json.RawMessage) (directory.PreparedSection, error) {
	var m map[string]any
	if err := json.Unmarshal(section, &m); err != nil {
		return directory.PreparedSection{}, err
	}
	if m["issuer"] == "https://refused.test" {
		return directory.PreparedSection{Problems: []*directory.InvalidError{{Field: "oidc.issuer", Message: "the discovery document could not be fetched: not reachable"}}}, nil
	}
	secret, hasSecret := m["client_secret"].(string)
	delete(m, "client_secret")
	if typ == directory.ConnectionOIDC && !hasSecret && len(stored) > 0 {
		var old map[string]any
		if json.Unmarshal(stored, &old) == nil && old["client_secret_sealed"] != nil {
			m["client_secret_sealed"] = old["client_secret_sealed"]
		}
	}
	raw, _ := json.Marshal(m)
	out := directory.PreparedSection{Section: raw}
	if hasSecret {
		out.Seal = func(id string) (json.RawMessage, error) {
			sealed, err := f.sealer.Seal([]byte(secret), []byte(id))
			if err != nil {
				return nil, err
			}
			m["client_secret_sealed"] = sealed
			return json.Marshal(m)
		}
	}
	return out, nil
}

func (fakeConfigurator) Describe(c directory.Connection) directory.SetupValues {
	return directory.SetupValues{CallbackURL: "https://sso.example.test/sso/oidc/" + c.ID + "/callback"}
}

func TestConnectionValidation(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		oidc := func(section string) string {
			return fmt.Sprintf(`{"type":"oidc","name":"oidc-%d","oidc":%s}`, f.next(), section)
		}
		for _, c := range []struct {
			name, body string
			want       int
			field      string
		}{
			{"OIDC", oidc(`{"issuer":"https://accounts.test","client_id":"c","client_secret":"s","scopes":["openid","groups"]}`), 201, ""},
			{"the configurator's refusal names its field", oidc(`{"issuer":"https://refused.test","client_id":"c","client_secret":"s"}`), 422, "oidc.issuer"},
			{"OIDC unknown field", oidc(`{"issuer":"https://a.test","client_id":"c","client_secret":"s","discovery":true}`), 422, "discovery"},
			{"SAML without section", `{"type":"saml","name":"x"}`, 422, "saml"},
			{"SAML with an oidc section", `{"type":"saml","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"}}`, 422, "oidc"},
			{"OIDC without section", `{"type":"oidc","name":"x"}`, 422, "oidc"},
			{"unknown type", `{"type":"ldap","name":"x"}`, 422, "type"},
			{"missing type", `{"name":"x"}`, 422, "type"},
			{"missing name", `{"type":"oidc","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"}}`, 422, "name"},
			{"attribute mapping", fmt.Sprintf(`{"type":"oidc","name":"m-%d","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"attribute_mapping":{"email":"mail","groups":"memberOf"},"group_roles":{"Admins":"admin"}}`, f.next()), 201, ""},
			{"unknown attribute", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"attribute_mapping":{"shoe_size":"s"}}`, 422, "attribute_mapping"},
			{"group mapped to no role", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"group_roles":{"g":"owner"}}`, 422, "group_roles"},
			{"group workspace mapping", fmt.Sprintf(`{"type":"oidc","name":"gw-%d","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"group_workspaces":{"ml":{"research":"owner","ws_abc":"member"}}}`, f.next()), 201, ""},
			{"group workspace mapped to an org role", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"group_workspaces":{"ml":{"research":"admin"}}}`, 422, "group_workspaces"},
			{"group workspace that is no name", `{"type":"oidc","name":"x","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s"},"group_workspaces":{"ml":{"Bad Name":"member"}}}`, 422, "group_workspaces"},
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
		// Exactly the 3 accepted ones were stored: nothing refused left a half-created connection.
		r := f.as(cAdmin, "GET", f.pathA("/connections"), "")
		if n := len(r.json(t)["items"].([]any)); n != 3 {
			t.Fatalf("%d connections stored, want 3", n)
		}
	})
}

func TestConnectionSecretIsSealedWithItsIDAndNeverShown(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cAdmin, "POST", f.pathA("/connections"),
			`{"type":"oidc","name":"Okta","enabled":true,"oidc":{"issuer":"https://acme.okta.test","client_id":"broker","client_secret":"first-s3cret"}}`)
		wantStatus(t, r, 201)
		c := r.json(t)
		id := c["id"].(string)
		o := c["oidc"].(map[string]any)
		if o["client_secret_set"] != true || c["enabled"] != true || strings.Contains(r.Body.String(), "s3cret") ||
			o["callback_url"] != "https://sso.example.test/sso/oidc/"+id+"/callback" {
			t.Fatalf("created %s", r.Body.String())
		}
		opened := func() string {
			t.Helper()
			conn, err := f.store.GetConnection(f.ctx, f.orgA.ID, id)
			f.must(err)
			if strings.Contains(string(conn.Config), "s3cret") {
				t.Fatalf("client secret stored in clear: %s", conn.Config)
			}
			var cfg struct {
				OIDC struct {
					Sealed []byte `json:"client_secret_sealed"`
				} `json:"oidc"`
			}
			f.must(json.Unmarshal(conn.Config, &cfg))
			plain, err := f.sealer.Open(cfg.OIDC.Sealed, []byte(id))
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

		// Without a configurator, nothing is configured.
		api := newAPI(t, Config{Store: f.store, Tokens: f.verifier})
		f.mux = http.NewServeMux()
		api.Routes(f.mux)
		r = f.as(cAdmin, "POST", f.pathA("/connections"), `{"type":"oidc","name":"Clear","oidc":{"issuer":"https://a.test","client_id":"c","client_secret":"s3cret"}}`)
		wantStatus(t, r, 500)
		if code, _, _ := r.errorCode(t); code != "configurator_missing" {
			t.Fatalf("code %q", code)
		}
		if conns, _ := f.store.ListConnections(f.ctx, f.orgA.ID); len(conns) != 1 {
			t.Fatalf("a connection was stored without a configurator: %d", len(conns))
		}
	})
}

func TestSetupLinksAndFailures(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cAdmin, "POST", f.pathA("/setup-links"), `{"expires_in":"72h"}`)
		wantStatus(t, r, 201)
		l := r.json(t)
		id, u := l["id"].(string), l["url"].(string)
		if !strings.HasPrefix(u, "https://sso.example.test/setup/ssbs_") || l["expires_at"] == nil {
			t.Fatalf("created %s", r.Body.String())
		}
		link, err := f.store.LookupSetupLink(f.ctx, strings.TrimPrefix(u, "https://sso.example.test/setup/"))
		if err != nil || link.ID != id || link.OrgID != f.orgA.ID {
			t.Fatalf("lookup: %+v %v", link, err)
		}
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/setup-links"), `{"expires_in":"9000h"}`), 422)
		wantStatus(t, f.as(cPM, "POST", f.pathA("/setup-links"), `{}`), 403)
		r = f.as(cAdmin, "GET", f.pathA("/setup-links"), "")
		if wantStatus(t, r, 200); strings.Contains(r.Body.String(), "ssbs_") || len(r.json(t)["items"].([]any)) != 1 {
			t.Fatalf("list: %s", r.Body.String())
		}
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/setup-links/"+id), ""), 204)
		if _, err := f.store.LookupSetupLink(f.ctx, strings.TrimPrefix(u, "https://sso.example.test/setup/")); err != directory.ErrSetupLinkRevoked {
			t.Fatalf("after revocation: %v", err)
		}

		conn := f.newConnection()
		for i := range directory.MaxConnectionFailures + 5 {
			kept, err := f.store.RecordConnectionFailure(f.ctx, directory.ConnectionFailure{OrgID: f.orgA.ID, ConnectionID: conn,
				Reason: "saml.audience", Reference: fmt.Sprintf("ref%d", i), DetailClass: "response"})
			if err != nil || !kept {
				t.Fatalf("record: %v %v", kept, err)
			}
		}
		if kept, _ := f.store.RecordConnectionFailure(f.ctx, directory.ConnectionFailure{OrgID: f.b.org.ID, ConnectionID: conn, Reason: "x"}); kept {
			t.Fatal("a failure was kept for another org's connection")
		}
		r = f.as(cAdmin, "GET", f.pathA("/connections/"+conn+"/failures"), "")
		wantStatus(t, r, 200)
		items := r.json(t)["items"].([]any)
		if len(items) != directory.MaxConnectionFailures || items[0].(map[string]any)["reference"] != fmt.Sprintf("ref%d", directory.MaxConnectionFailures+4) {
			t.Fatalf("%d failures, newest %v", len(items), items[0])
		}
		wantStatus(t, f.as(cAdmin, "GET", f.pathA("/connections/"+f.b.conn+"/failures"), ""), 404)
	})
}

package adminapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
)

func servedDocument(t *testing.T) map[string]any {
	t.Helper()
	mux := http.NewServeMux()
	newAPI(t, Config{Store: noStore{}, Issuer: "https://sso.example.test/"}).Routes(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

var braceRE = regexp.MustCompile(`\{[a-z]+\}`)

// The mux holds exactly the route table, and the document describes exactly
// the mux's routes: a route missing from the document, or a documented route
// that does not exist, fails here.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	mux := http.NewServeMux()
	newAPI(t, Config{Store: noStore{}}).Routes(mux)
	routes := map[string]bool{}
	for _, rt := range routeTable() {
		key := rt.method + " " + rt.pattern
		if routes[key] {
			t.Errorf("route %s listed twice", key)
		}
		routes[key] = true
		// The mux routes a request for this path to this very pattern.
		path := braceRE.ReplaceAllString(rt.pattern, "x1")
		_, pattern := mux.Handler(httptest.NewRequest(rt.method, path, nil))
		if pattern != key {
			t.Errorf("%s %s is served by %q", rt.method, path, pattern)
		}
	}

	doc := servedDocument(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	if s := doc["servers"].([]any)[0].(map[string]any)["url"]; s != "https://sso.example.test" {
		t.Errorf("server %v", s)
	}
	documented := map[string]bool{}
	ids := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			if !routes[key] {
				t.Errorf("the document names %s, which is not a route", key)
			}
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s: operationId %q missing or repeated", key, id)
			}
			ids[id] = true
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				if pm := p.(map[string]any); pm["in"] == "path" {
					declared["{"+pm["name"].(string)+"}"] = true
				}
			}
			for _, b := range braceRE.FindAllString(path, -1) {
				if !declared[b] {
					t.Errorf("%s: path parameter %s not declared", key, b)
				}
			}
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("route %s is missing from the document", key)
		}
	}
	// Every $ref resolves.
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	responses := doc["components"].(map[string]any)["responses"].(map[string]any)
	raw, _ := json.Marshal(doc)
	for _, m := range regexp.MustCompile(`"#/components/(schemas|responses)/([A-Za-z0-9]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if (m[1] == "schemas" && schemas[m[2]] == nil) || (m[1] == "responses" && responses[m[2]] == nil) {
			t.Errorf("dangling $ref %s", m[0])
		}
	}
}

// jsonFields lists the JSON names of a struct's fields, embedded ones flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func schemaFields(s map[string]any) []string {
	var out []string
	for k := range s["properties"].(map[string]any) {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Every schema names exactly the JSON fields of the Go type it describes, so
// the document cannot promise a field the API does not send or accept.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	schemas := servedDocument(t)["components"].(map[string]any)["schemas"].(map[string]any)
	prop := func(path ...string) map[string]any {
		s := schemas[path[0]].(map[string]any)
		for _, p := range path[1:] {
			s = s["properties"].(map[string]any)[p].(map[string]any)
		}
		return s
	}
	for _, c := range []struct {
		schema []string
		typ    any
		input  bool
	}{
		{[]string{"Error"}, errorBody{}, false},
		{[]string{"Error", "error"}, errorDetail{}, false},
		{[]string{"Empty"}, struct{}{}, true},
		{[]string{"Me"}, meJSON{}, false},
		{[]string{"Me", "principal"}, principalJSON{}, false},
		{[]string{"Organization"}, directory.Organization{}, false},
		{[]string{"Organization", "settings"}, directory.OrgSettings{}, false},
		{[]string{"OrgPatch"}, orgPatch{}, true},
		{[]string{"OrgPatch", "settings"}, orgSettingPatch{}, true},
		{[]string{"Billing"}, billingJSON{}, false},
		{[]string{"Workspace"}, directory.Workspace{}, false},
		{[]string{"WorkspaceList"}, list[directory.Workspace]{}, false},
		{[]string{"WorkspaceCreate"}, workspaceBody{}, true},
		{[]string{"WorkspacePatch"}, workspaceBody{}, true},
		{[]string{"WorkspaceMember"}, directory.WorkspaceMember{}, false},
		{[]string{"WorkspaceMemberPut"}, membershipBody{}, true},
		{[]string{"Member"}, directory.Member{}, false},
		{[]string{"MemberPatch"}, memberPatch{}, true},
		{[]string{"Invitation"}, directory.Invitation{}, false},
		{[]string{"InvitationCreated"}, invitationAnswer{}, false},
		{[]string{"InvitationCreate"}, invitationBody{}, true},
		{[]string{"JoinRequest"}, directory.JoinRequest{}, false},
		{[]string{"ServiceAccount"}, directory.ServiceAccount{}, false},
		{[]string{"ServiceAccountCreate"}, serviceAccountBody{}, true},
		{[]string{"ServiceAccountPatch"}, serviceAccountPatch{}, true},
		{[]string{"APIKey"}, directory.APIKey{}, false},
		{[]string{"CreatedAPIKey"}, createdKeyJSON{}, false},
		{[]string{"Connection"}, connectionJSON{}, false},
		{[]string{"Connection", "saml"}, samlOutput{}, false},
		{[]string{"ConnectionCreate", "saml"}, SAMLSettings{}, true},
		{[]string{"Connection", "oidc"}, oidcOutput{}, false},
		{[]string{"ConnectionCreate"}, connectionBody{}, true},
		{[]string{"ConnectionCreate", "oidc"}, oidcInput{}, true},
		{[]string{"ConnectionPatch"}, connectionBody{}, true},
		{[]string{"Domain"}, domainJSON{}, false},
		{[]string{"Domain", "verification"}, verificationJSON{}, false},
		{[]string{"DomainCreate"}, domainBody{}, true},
		{[]string{"JWTIssuer"}, JWTIssuer{}, false},
		{[]string{"JWTIssuerCreate"}, jwtIssuerBody{}, true},
		{[]string{"JWTIssuerFailure"}, directory.JWTIssuerFailure{}, false},
		{[]string{"AuditEvent"}, auditJSON{}, false},
		{[]string{"AuditList"}, list[auditJSON]{}, false},
	} {
		name := strings.Join(c.schema, ".")
		s := prop(c.schema...)
		if got, want := schemaFields(s), jsonFields(reflect.TypeOf(c.typ)); !slices.Equal(got, want) {
			t.Errorf("schema %s has %v; the Go type has %v", name, got, want)
		}
		if c.input && s["additionalProperties"] != false {
			t.Errorf("request schema %s must say additionalProperties: false (unknown fields are refused)", name)
		}
	}
}

package scim_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/scim"
)

var bg = context.Background()

// revoker records RevokeUser calls (the session store's own revocation is
// tested with the real stores in cmd/ssobroker's TestSCIMDeactivationEndsSessions).
type revoker struct {
	mu    sync.Mutex
	users []string
}

func (r *revoker) RevokeUser(_ context.Context, _, userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, userID)
	return nil
}

func (r *revoker) revoked(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.users {
		if u == id {
			return true
		}
	}
	return false
}

// env is one store, one org with a SCIM token, the handler, and every
// response seen, kept for the independent validation.
type env struct {
	t       testing.TB
	store   *directory.SQLStore
	org     directory.Organization
	secret  string
	mux     *http.ServeMux
	rev     *revoker
	mu      sync.Mutex
	answers []string // {"kind":…,"body":…} lines for e2e/scim-check.mjs
}

func newEnv(t testing.TB, store *directory.SQLStore) *env {
	t.Helper()
	o, _, err := store.CreateOrg(bg, "system:test", directory.NewOrg{Name: "Scim " + randName()})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := store.CreateSCIMToken(bg, "system:test", o.ID, "idp")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, org: o, secret: secret, mux: http.NewServeMux(), rev: &revoker{}}
	srv, err := scim.New(scim.Config{Store: store, Sessions: e.rev, Issuer: "https://sso.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Routes(e.mux)
	return e
}

func randName() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

type answer struct {
	code int
	body map[string]any
	hdr  http.Header
	raw  string
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

// do sends one request with the org's token to /scim/v2/{org}+path.
func (e *env) do(method, path, body string, hdr ...string) answer {
	e.t.Helper()
	return e.doAs(e.secret, e.org.ID, method, path, body, hdr...)
}

func (e *env) doAs(secret, org, method, path, body string, hdr ...string) answer {
	e.t.Helper()
	req := httptest.NewRequest(method, "/scim/v2/"+url.PathEscape(org)+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, req)
	a := answer{code: w.Code, hdr: w.Header(), raw: w.Body.String()}
	if w.Body.Len() > 0 {
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			e.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &a.body); err != nil {
			e.t.Fatalf("%s %s: %d not JSON: %s", method, path, w.Code, w.Body.String())
		}
		e.record(a)
	}
	return a
}

// record keeps an answer for the independent validation, by its kind.
func (e *env) record(a answer) {
	kind := ""
	schemas, _ := a.body["schemas"].([]any)
	for _, s := range schemas {
		switch s {
		case "urn:ietf:params:scim:api:messages:2.0:Error":
			kind = "Error"
		case "urn:ietf:params:scim:api:messages:2.0:ListResponse":
			kind = "ListResponse"
		case "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig":
			kind = "ServiceProviderConfig"
		case "urn:ietf:params:scim:schemas:core:2.0:ResourceType":
			kind = "ResourceType"
		case "urn:ietf:params:scim:schemas:core:2.0:Schema":
			kind = "Schema"
		case "urn:ietf:params:scim:schemas:core:2.0:User":
			kind = "User"
		case "urn:ietf:params:scim:schemas:core:2.0:Group":
			kind = "Group"
		}
	}
	line, _ := json.Marshal(map[string]any{"kind": kind, "body": a.body})
	e.mu.Lock()
	e.answers = append(e.answers, string(line))
	e.mu.Unlock()
}

func (e *env) want(a answer, code int, what string) {
	e.t.Helper()
	if a.code != code {
		e.t.Fatalf("%s: status %d, want %d: %s", what, a.code, code, a.raw)
	}
}

func (e *env) wantError(a answer, code int, scimType, what string) {
	e.t.Helper()
	e.want(a, code, what)
	if a.str("status") != fmt.Sprint(code) || a.str("scimType") != scimType {
		e.t.Fatalf("%s: error %s", what, a.raw)
	}
}

func (e *env) role(userID string) access.OrgRole {
	e.t.Helper()
	m, err := e.store.GetMember(bg, e.org.ID, userID)
	if err != nil {
		e.t.Fatalf("member %s: %v", userID, err)
	}
	return m.Role
}

func (e *env) isMember(userID string) bool {
	_, err := e.store.GetMember(bg, e.org.ID, userID)
	return err == nil
}

// TestEntraID replays the requests of Microsoft Entra ID's published
// examples: "Tutorial: Develop and plan provisioning for a SCIM endpoint in
// Microsoft Entra ID" (learn.microsoft.com/entra/identity/app-provisioning/
// use-scim-to-provision-users-and-groups), section "User Operations" and
// "Group Operations" request bodies, and "Known issues and resolutions with
// SCIM 2.0 protocol compliance of the Microsoft Entra user provisioning
// service" (…/application-provisioning-config-problem-scim-compatibility):
// PATCH ops in any case ("Replace", "Add", "Remove"), active sent as the
// string "False", `emails[type eq "work"].value`, pathless replace with
// dotted keys, members removed by `members[value eq "…"]`.
func TestEntraID(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open(t))
			runEntra(e)
			validate(t, e.answers)
		})
	}
}

func runEntra(e *env) {
	// "Get User by query - Zero results".
	a := e.do("GET", `/Users?filter=userName+eq+%22non-existent%20user%22`, "")
	e.want(a, 200, "query zero results")
	if a.body["totalResults"].(float64) != 0 {
		e.t.Fatalf("zero results: %s", a.raw)
	}
	// "Create User" (userName is not an email; the primary work email is).
	a = e.do("POST", "/Users", `{
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    "active": true,
    "emails": [{
        "primary": true,
        "type": "work",
        "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
    }],
    "meta": {
        "resourceType": "User"
    },
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName"
    },
    "roles": []
}`)
	e.want(a, 201, "create user")
	id := a.str("id")
	if a.hdr.Get("Location") == "" || a.hdr.Get("ETag") != `W/"1"` || !e.isMember(id) || e.role(id) != e.org.Settings.DefaultOrgRole {
		e.t.Fatalf("created: %v %s", a.hdr, a.raw)
	}
	// "Create User" again: 409 uniqueness.
	e.wantError(e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1","emails":[{"primary":true,"value":"x@testuser.com"}]}`),
		409, "uniqueness", "duplicate userName")
	// "Get User" and "Get User by query".
	e.want(e.do("GET", "/Users/"+id, ""), 200, "get user")
	a = e.do("GET", `/Users?filter=userName%20eq%20%22Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1%22`, "")
	e.want(a, 200, "get user by query")
	if a.body["totalResults"].(float64) != 1 {
		e.t.Fatalf("by query: %s", a.raw)
	}
	a = e.do("GET", `/Users?filter=externalId%20eq%20%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22%20and%20userName%20eq%20%22Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1%22`, "")
	if a.code != 200 || a.body["totalResults"].(float64) != 1 {
		e.t.Fatalf("and: %s", a.raw)
	}
	// Unsupported filters are invalidFilter.
	for _, f := range []string{`userName%20sw%20%22T%22`, `userName%20eq%20%22a%22%20or%20userName%20eq%20%22b%22`, `title%20eq%20%22x%22`, `emails%5Btype%20eq%20%22work%22%5D`, `userName%20eq`} {
		e.wantError(e.do("GET", "/Users?filter="+f, ""), 400, "invalidFilter", "filter "+f)
	}
	// "Update User [Multi-valued properties]".
	a = e.do("PATCH", "/Users/"+id, `{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
            {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "updatedEmail@microsoft.com"
            },
            {
            "op": "Replace",
            "path": "name.familyName",
            "value": "updatedFamilyName"
            }
    ]
}`)
	e.want(a, 200, "update multi-valued")
	if !strings.Contains(a.raw, "updatedEmail@microsoft.com") || !strings.Contains(a.raw, "updatedFamilyName") || a.hdr.Get("ETag") != `W/"2"` {
		e.t.Fatalf("multi-valued: %s", a.raw)
	}
	// "Update User [Single-valued properties]".
	a = e.do("PATCH", "/Users/"+id, `{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "userName",
        "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    }]
}`)
	e.want(a, 200, "update single-valued")
	if a.str("userName") != "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" {
		e.t.Fatalf("single-valued: %s", a.raw)
	}
	// Add of an attribute, and a pathless replace with dotted keys.
	a = e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Add","path":"displayName","value":"Test User"},
		{"op":"replace","value":{"name.givenName":"Ada","externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"}}]}`)
	if a.code != 200 || a.str("displayName") != "Test User" || !strings.Contains(a.raw, `"givenName":"Ada"`) {
		e.t.Fatalf("add + pathless: %s", a.raw)
	}
	// An attribute this server does not keep is invalidPath, not a silent no-op.
	e.wantError(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"title","value":"Boss"}]}`),
		400, "invalidPath", "unknown attribute")
	e.wantError(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"7"}]}`),
		400, "invalidPath", "extension attribute")
	e.wantError(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"maybe"}]}`),
		400, "invalidValue", "bad active")
	e.wantError(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove"}]}`),
		400, "noTarget", "remove without path")
	// If-Match with an old version: 412.
	e.want(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"x"}]}`, "If-Match", `W/"1"`), 412, "stale If-Match")

	// Groups: "Create Group", "Get Group" without members, "Get Group by displayName".
	a = e.do("POST", "/Groups", `{
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {
        "resourceType": "Group"
    },
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
    ]
}`)
	e.want(a, 201, "create group")
	gid := a.str("id")
	a = e.do("GET", "/Groups/"+gid+"?excludedAttributes=members", "")
	if a.code != 200 || a.body["members"] != nil || a.str("displayName") != "displayName" {
		e.t.Fatalf("get group excluding members: %s", a.raw)
	}
	a = e.do("GET", `/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22`, "")
	if a.code != 200 || a.body["totalResults"].(float64) != 1 {
		e.t.Fatalf("group by displayName: %s", a.raw)
	}
	// "Update Group [Non-member attributes]".
	e.want(e.do("PATCH", "/Groups/"+gid, `{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "displayName",
        "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    }]
}`), 204, "update group name")
	// "Update Group [Add Members]" and "[Remove Members]".
	e.want(e.do("PATCH", "/Groups/"+gid, `{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Add",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "`+id+`"
        }]
    }]
}`), 204, "add members")
	a = e.do("GET", "/Groups/"+gid, "")
	if !strings.Contains(a.raw, id) {
		e.t.Fatalf("member not added: %s", a.raw)
	}
	e.want(e.do("PATCH", "/Groups/"+gid, `{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Remove",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "`+id+`"
        }]
    }]
}`), 204, "remove members")
	// The same with a filter path (Entra ID's compliant form).
	e.want(e.do("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":"`+id+`"}]}]}`), 204, "re-add")
	e.want(e.do("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members[value eq \"`+id+`\"]"}]}`), 204, "remove by filter")
	if a = e.do("GET", "/Groups/"+gid, ""); strings.Contains(a.raw, id) {
		e.t.Fatalf("member not removed: %s", a.raw)
	}
	e.wantError(e.do("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":"usr_notours"}]}]}`), 400, "invalidValue", "foreign member")

	// "Disable User", with the string "False" Entra ID sends.
	a = e.do("PATCH", "/Users/"+id, `{
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": "False"
        }
    ],
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ]
}`)
	e.want(a, 200, "disable user")
	if a.body["active"] != false || e.isMember(id) || !e.rev.revoked(id) {
		e.t.Fatalf("disabled: member=%v revoked=%v %s", e.isMember(id), e.rev.revoked(id), a.raw)
	}
	// Re-enabling re-adds with the default role.
	a = e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`)
	if a.code != 200 || !e.isMember(id) || e.role(id) != e.org.Settings.DefaultOrgRole {
		e.t.Fatalf("re-enabled: %s", a.raw)
	}
	// "Delete User", then "Delete Group".
	e.want(e.do("DELETE", "/Users/"+id, ""), 204, "delete user")
	e.want(e.do("GET", "/Users/"+id, ""), 404, "deleted user")
	e.want(e.do("DELETE", "/Groups/"+gid, ""), 204, "delete group")
	e.want(e.do("GET", "/Groups/"+gid, ""), 404, "deleted group")

	// Discovery.
	e.want(e.do("GET", "/ServiceProviderConfig", ""), 200, "ServiceProviderConfig")
	e.want(e.do("GET", "/ResourceTypes", ""), 200, "ResourceTypes")
	e.want(e.do("GET", "/ResourceTypes/User", ""), 200, "ResourceType User")
	e.want(e.do("GET", "/Schemas", ""), 200, "Schemas")
	e.want(e.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", ""), 200, "Schema Group")
}

// TestOkta replays the requests of Okta's "SCIM 2.0 protocol reference"
// (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20): create
// with a password (ignored, never stored), list with startIndex and count,
// PUT of the whole user, deactivation by a pathless replace
// {"op":"replace","value":{"active":false}}, groups with members sent in
// POST and PUT (as Okta does, ory/polis#3136), pathless group replace that
// repeats the id, member removal by filter.
func TestOkta(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open(t))
			runOkta(e)
			validate(t, e.answers)
		})
	}
}

func runOkta(e *env) {
	// A member who signed in before provisioning existed is found by
	// userName eq <email>, whatever the case.
	old, err := e.store.CreateUser(bg, "system:test", directory.NewUser{Email: "Early.Bird@okta.local", EmailVerified: true, Name: "Early Bird"})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.AddMember(bg, "system:test", e.org.ID, old.ID, access.RoleAdmin); err != nil {
		e.t.Fatal(err)
	}
	a := e.do("GET", `/Users?filter=userName%20eq%20%22early.bird%40okta.local%22&startIndex=1&count=100`, "")
	if a.code != 200 || a.body["totalResults"].(float64) != 1 || !strings.Contains(a.raw, old.ID) {
		e.t.Fatalf("pre-SCIM member by userName: %s", a.raw)
	}
	// Create User.
	a = e.do("POST", "/Users", `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName": "test.user@okta.local",
  "name": {
    "givenName": "Test",
    "familyName": "User"
  },
  "emails": [{
    "primary": true,
    "value": "test.user@okta.local",
    "type": "work"
  }],
  "displayName": "Test User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "password": "1mz050nq",
  "active": true
}`)
	e.want(a, 201, "create user")
	id := a.str("id")
	if strings.Contains(a.raw, "1mz050nq") || strings.Contains(a.raw, "password") {
		e.t.Fatalf("the password came back: %s", a.raw)
	}
	// Retrieve users: by filter with paging, then all.
	a = e.do("GET", `/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100`, "")
	if a.code != 200 || a.body["totalResults"].(float64) != 1 {
		e.t.Fatalf("filter: %s", a.raw)
	}
	a = e.do("GET", `/Users?startIndex=1&count=100`, "")
	if a.code != 200 || a.body["totalResults"].(float64) != 2 || a.body["itemsPerPage"].(float64) != 2 {
		e.t.Fatalf("list: %s", a.raw)
	}
	a = e.do("GET", `/Users?startIndex=2&count=1`, "")
	if a.code != 200 || a.body["totalResults"].(float64) != 2 || a.body["itemsPerPage"].(float64) != 1 || a.body["startIndex"].(float64) != 2 {
		e.t.Fatalf("page 2: %s", a.raw)
	}
	// Update a specific user (PUT of the whole user).
	a = e.do("PUT", "/Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "id": "`+id+`",
  "userName": "test.user@okta.local",
  "name": {
    "givenName": "Another",
    "familyName": "User"
  },
  "emails": [{
    "primary": true,
    "value": "test.user@okta.local",
    "type": "work"
  }],
  "displayName": "Another User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "password": "1mz050nq",
  "active": true,
  "meta": {"resourceType": "User"}
}`)
	if a.code != 200 || a.str("displayName") != "Another User" || !strings.Contains(a.raw, `"givenName":"Another"`) {
		e.t.Fatalf("put: %s", a.raw)
	}
	// Groups mapped by the connection's group_roles.
	_, err = e.store.CreateConnection(bg, "system:test", directory.Connection{OrgID: e.org.ID, Type: directory.ConnectionOIDC, Name: "Okta", Enabled: true,
		Config: []byte(`{"group_roles":{"Test SCIMv2":"admin","Viewers":"view_only_platform_member"}}`)})
	if err != nil {
		e.t.Fatal(err)
	}
	// Create Group (with members, as Okta may send them).
	a = e.do("POST", "/Groups", `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "displayName": "Test SCIMv2",
  "members": [{"value": "`+id+`", "display": "test.user@okta.local"}]
}`)
	e.want(a, 201, "create group")
	gid := a.str("id")
	if e.role(id) != access.RoleAdmin {
		e.t.Fatalf("the mapped group gave %s", e.role(id))
	}
	e.want(e.do("GET", "/Groups?startIndex=1&count=100", ""), 200, "list groups")
	a = e.do("GET", `/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100`, "")
	if a.code != 200 || a.body["totalResults"].(float64) != 1 {
		e.t.Fatalf("group filter: %s", a.raw)
	}
	// Update Group name (pathless replace repeating the id): the mapping
	// no longer names it, so the role falls back to the default.
	e.want(e.do("PATCH", "/Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
    "op": "replace",
    "value": {
      "id": "`+gid+`",
      "displayName": "Test SCIMv2 renamed"
    }
  }]
}`), 204, "rename group")
	if e.role(id) != e.org.Settings.DefaultOrgRole {
		e.t.Fatalf("after the rename: %s", e.role(id))
	}
	// PUT of the group with its memberships (ory/polis#3136): back to the mapped name.
	a = e.do("PUT", "/Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "`+gid+`",
  "displayName": "Test SCIMv2",
  "members": [{"value": "`+id+`", "display": "test.user@okta.local"}, {"value": "`+old.ID+`", "display": "early.bird@okta.local"}]
}`)
	if a.code != 200 || len(a.body["members"].([]any)) != 2 || e.role(id) != access.RoleAdmin {
		e.t.Fatalf("put group: %s role %s", a.raw, e.role(id))
	}
	// The early member was made by an admin: its role is not the mapping's to change.
	// Remove a member by filter.
	e.want(e.do("PATCH", "/Groups/"+gid, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
    "op": "remove",
    "path": "members[value eq \"`+id+`\"]"
  }]
}`), 204, "remove member by filter")
	if e.role(id) != e.org.Settings.DefaultOrgRole {
		e.t.Fatalf("after leaving the group: %s", e.role(id))
	}
	// Deactivate: pathless replace {"active": false}.
	a = e.do("PATCH", "/Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
    "op": "replace",
    "value": {
      "active": false
    }
  }]
}`)
	if a.code != 200 || a.body["active"] != false || e.isMember(id) || !e.rev.revoked(id) {
		e.t.Fatalf("deactivate: %s", a.raw)
	}
	// The last admin (the early member) cannot be deactivated.
	e.wantError(e.do("PATCH", "/Users/"+old.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`),
		400, "mutability", "last admin")
	e.want(e.do("DELETE", "/Groups/"+gid, ""), 204, "delete group")
}

// TestTokensAndOrgs: no token, a malformed, unknown or revoked one is 401;
// a token of another org is 404 for this org's paths and ids.
func TestTokensAndOrgs(t *testing.T) {
	store := directorytest.SQLite(t)
	e := newEnv(t, store)
	other := newEnv(t, store)
	// One mux serves both orgs, as in the broker.
	u := e.do("POST", "/Users", `{"userName":"iso@example.com"}`)
	e.want(u, 201, "create")
	// Another last character: one secret in 62 already ends in "0".
	last := "0"
	if strings.HasSuffix(e.secret, last) {
		last = "1"
	}
	for _, secret := range []string{"", "scim_short", "ssb_" + e.secret[5:], e.secret[:len(e.secret)-1] + last} {
		a := e.doAs(secret, e.org.ID, "GET", "/Users", "")
		e.wantError(a, 401, "", "token "+secret)
		if a.hdr.Get("WWW-Authenticate") == "" {
			e.t.Fatal("401 without WWW-Authenticate")
		}
	}
	e.want(e.doAs(other.secret, e.org.ID, "GET", "/Users", ""), 404, "another org's token on this org")
	e.want(e.doAs(other.secret, e.org.Name, "GET", "/Users/"+u.str("id"), ""), 404, "another org's token by name")
	e.want(e.doAs(other.secret, other.org.ID, "GET", "/Users/"+u.str("id"), ""), 404, "this org's user through another org")
	e.want(e.doAs(other.secret, other.org.ID, "DELETE", "/Users/"+u.str("id"), ""), 404, "delete through another org")
	e.want(e.do("GET", "/Users/"+u.str("id"), ""), 200, "still there")
	tokens, err := store.ListSCIMTokens(bg, e.org.ID)
	if err != nil || len(tokens) != 1 {
		t.Fatal(tokens, err)
	}
	if err := store.RevokeSCIMToken(bg, "system:test", e.org.ID, tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	e.wantError(e.do("GET", "/Users", ""), 401, "", "revoked token")
	validate(t, append(e.answers, other.answers...))
}

// validate runs e2e/scim-check.mjs (npm SCIMMY) over every answer. It fails
// when node or the module is missing: run `npm ci` in e2e/.
func validate(t *testing.T, answers []string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the SCIM answers cannot be validated")
	}
	dir, err := filepath.Abs("../../e2e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "scimmy", "package.json")); err != nil {
		t.Fatal("npm module scimmy is missing: run npm ci in e2e/")
	}
	cmd := exec.Command(node, "scim-check.mjs")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(answers, "\n") + "\n")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scim-check.mjs: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(&out)
	n := 0
	for sc.Scan() {
		if sc.Text() != "ok" {
			t.Errorf("SCIMMY refused answer %d: %s\n%s", n, sc.Text(), answers[n])
		}
		n++
	}
	if n != len(answers) || n == 0 {
		t.Fatalf("scim-check.mjs answered %d lines for %d answers", n, len(answers))
	}
}

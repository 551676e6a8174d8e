package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
)

func TestStrictInput(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ws := f.pathA("/workspaces")
		for _, c := range []struct {
			name, method, path, body, contentType string
			want                                  int
			code, field                           string
		}{
			{"body must be JSON", "POST", ws, `{"name":"a"}`, "text/plain", 415, "unsupported_media_type", ""},
			{"form bodies are refused", "POST", ws, `name=a`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
			{"charset parameter is fine", "POST", ws, `{"name":"charset-ok"}`, "application/json; charset=utf-8", 201, "", ""},
			{"unknown field", "POST", ws, `{"name":"a","owner":"me"}`, "", 422, "invalid", "owner"},
			{"unknown nested field", "PATCH", f.pathA(""), `{"settings":{"colour":"red"}}`, "", 422, "invalid", "colour"},
			{"wrong type", "POST", ws, `{"name":5}`, "", 422, "invalid", "name"},
			{"trailing data", "POST", ws, `{"name":"a"} {"name":"b"}`, "", 400, "bad_request", ""},
			{"trailing garbage", "POST", ws, `{"name":"a"}x`, "", 400, "bad_request", ""},
			{"malformed JSON", "POST", ws, `{"name":`, "", 400, "bad_request", ""},
			{"missing body", "POST", ws, "", "", 400, "bad_request", ""},
			{"too large", "POST", ws, `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, "", 413, "too_large", ""},
			{"missing name", "POST", ws, `{}`, "", 422, "invalid", "name"},
			{"invalid workspace name", "POST", ws, `{"name":"Not Valid"}`, "", 422, "invalid", "name"},
			{"reserved workspace name", "POST", ws, `{"name":"default"}`, "", 422, "invalid", "name"},
			{"taken workspace name", "POST", ws, `{"name":"research"}`, "", 409, "conflict", ""},
			{"plan is read-only", "PATCH", f.pathA(""), `{"plan":"enterprise"}`, "", 422, "invalid", "plan"},
			{"plan_started_at is read-only", "PATCH", f.pathA(""), `{"plan_started_at":"2020-01-01T00:00:00Z"}`, "", 422, "invalid", "plan_started_at"},
			{"id is not writable", "PATCH", f.pathA(""), `{"id":"org_x"}`, "", 422, "invalid", "id"},
			{"bad jit_mode", "PATCH", f.pathA(""), `{"settings":{"jit_mode":"sometimes"}}`, "", 422, "invalid", "jit_mode"},
			{"default_org_role cannot be admin", "PATCH", f.pathA(""), `{"settings":{"default_org_role":"admin"}}`, "", 422, "invalid", "default_org_role"},
			{"default workspace changes elsewhere", "PATCH", f.pathA(""), `{"settings":{"default_workspace":"research"}}`, "", 422, "invalid", "settings.default_workspace"},
			{"bad org role", "PATCH", f.pathA("/members/" + f.ids[cPM]), `{"role":"owner"}`, "", 422, "invalid", "role"},
			{"bad workspace role", "PUT", f.pathA("/workspaces/research/members/" + f.ids[cPM]), `{"role":"admin"}`, "", 422, "invalid", "role"},
			{"missing workspace role", "PUT", f.pathA("/workspaces/research/members/" + f.ids[cPM]), `{}`, "", 422, "invalid", "role"},
			{"bad email", "POST", f.pathA("/invitations"), `{"email":"not-an-email"}`, "", 422, "invalid", "email"},
			{"negative expiry", "POST", f.pathA("/invitations"), `{"email":"a@b.test","expires_in":-1}`, "", 422, "invalid", "expires_in"},
			{"expiry over 90 days", "POST", f.pathA("/invitations"), `{"email":"a@b.test","expires_in":9999999999}`, "", 422, "invalid", "expires_in"},
			{"bad limit", "GET", ws + "?limit=0", "", "", 422, "invalid", "limit"},
			{"huge limit", "GET", ws + "?limit=501", "", "", 422, "invalid", "limit"},
			{"forged cursor", "GET", ws + "?cursor=***", "", "", 422, "invalid", "cursor"},
			{"bad since", "GET", f.pathA("/audit?since=yesterday"), "", "", 422, "invalid", "since"},
			{"no-body POST refuses a body with fields", "POST", f.pathA("/service-accounts/" + f.ids[cSA] + "/keys"), `{"x":1}`, "", 422, "invalid", "x"},
			{"no-body POST accepts {}", "POST", f.pathA("/service-accounts/" + f.ids[cSA] + "/keys"), `{}`, "", 201, "", ""},
			{"bad domain", "POST", f.pathA("/domains"), `{"domain":"localhost"}`, "", 422, "invalid", "domain"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := f.do(req{method: c.method, path: c.path, auth: f.creds[cAdmin], body: c.body, contentType: c.contentType})
				wantStatus(t, r, c.want)
				if c.code == "" {
					return
				}
				code, _, field := r.errorCode(t)
				if code != c.code || field != c.field {
					t.Fatalf("code %q field %q, want %q %q: %s", code, field, c.code, c.field, r.Body.String())
				}
				if ct := r.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Fatalf("Content-Type %q", ct)
				}
			})
		}
	})
}

func TestInvariantsAre409WithTheirRule(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		check := func(r response, rule string) {
			t.Helper()
			wantStatus(t, r, 409)
			if code, msg, _ := r.errorCode(t); code != rule || msg == "" {
				t.Fatalf("code %q, want %q: %s", code, rule, r.Body.String())
			}
		}
		check(f.as(cAdmin, "PATCH", f.pathA("/members/"+f.ids[cAdmin]), `{"role":"platform_member"}`), "self_role_change")
		check(f.as(cAdmin, "DELETE", f.pathA("/members/"+f.ids[cAdmin]), ""), "self_removal")
		check(f.as(cAdmin, "DELETE", f.pathA("/workspaces/"+f.defaultA.Name), ""), "default_workspace_needs_replacement")

		// Org B has one human admin, and an admin service account that tries to demote and remove them.
		bot := "Bearer " + f.b.keySecret
		borg := "/api/v1/orgs/" + f.b.org.ID
		r := f.do(req{method: "PATCH", path: borg + "/members/" + f.b.admin, auth: bot, body: `{"role":"opik_member"}`})
		check(r, "last_admin")
		check(f.do(req{method: "DELETE", path: borg + "/members/" + f.b.admin, auth: bot}), "last_admin")
		// Deleting down to one workspace, then the last one.
		wantStatus(t, f.do(req{method: "DELETE", path: borg + "/workspaces/globex-secret", auth: bot}), 204)
		check(f.do(req{method: "DELETE", path: borg + "/workspaces/" + f.b.ws.Name + "?new_default=" + f.b.ws.Name, auth: bot}), "only_workspace")
	})
}

func TestDeleteDefaultWorkspaceNamesASuccessor(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		borg := "/api/v1/orgs/" + f.b.org.ID
		bot := "Bearer " + f.b.keySecret
		r := f.do(req{method: "DELETE", path: borg + "/workspaces/" + f.b.ws.Name + "?new_default=globex-secret", auth: bot})
		wantStatus(t, r, 204)
		r = f.do(req{method: "GET", path: borg + "/workspaces/default", auth: bot})
		wantStatus(t, r, 200)
		if r.json(t)["name"] != "globex-secret" {
			t.Fatalf("new default: %s", r.Body.String())
		}
		r = f.do(req{method: "DELETE", path: borg + "/workspaces/globex-secret", auth: bot})
		wantStatus(t, r, 409)
		if code, _, _ := r.errorCode(t); code != "only_workspace" {
			t.Fatalf("code %q", code)
		}
	})
}

func TestETags(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		org := f.pathA("")
		r := f.as(cAdmin, "GET", org, "")
		wantStatus(t, r, 200)
		tag := r.Header().Get("ETag")
		if tag != fmt.Sprintf(`"%d"`, f.orgA.Version) {
			t.Fatalf("ETag %q for version %d", tag, f.orgA.Version)
		}
		if r := f.do(req{method: "GET", path: org, auth: f.creds[cPM], header: map[string]string{"If-None-Match": tag}}); r.Code != 304 {
			t.Fatalf("If-None-Match: %d", r.Code)
		}
		patch := func(ifMatch, body string) response {
			return f.do(req{method: "PATCH", path: org, auth: f.creds[cAdmin], body: body, header: map[string]string{"If-Match": ifMatch}})
		}
		r = patch(tag, `{"settings":{"only_admins_can_invite":false,"jit_mode":"approval"}}`)
		wantStatus(t, r, 200)
		newTag := r.Header().Get("ETag")
		if newTag == tag || r.json(t)["settings"].(map[string]any)["jit_mode"] != "approval" {
			t.Fatalf("ETag %q after change from %q: %s", newTag, tag, r.Body.String())
		}
		// The second admin, still holding the old ETag, does not overwrite silently.
		r = patch(tag, `{"name":"Acme Two"}`)
		wantStatus(t, r, 412)
		if code, _, _ := r.errorCode(t); code != "precondition_failed" {
			t.Fatalf("code %q", code)
		}
		wantStatus(t, patch(`"0"`, `{"name":"Acme Two"}`), 412)
		wantStatus(t, patch(`W/"2"`, `{"name":"Acme Two"}`), 412)
		wantStatus(t, patch(`garbage`, `{"name":"Acme Two"}`), 412)
		wantStatus(t, patch("*", `{"name":"Acme"}`), 200)
		// Setting the default workspace changes the org's version too.
		before := f.as(cAdmin, "GET", org, "").Header().Get("ETag")
		wantStatus(t, f.as(cAdmin, "PUT", f.pathA("/workspaces/research/default"), ""), 200)
		wantStatus(t, f.as(cAdmin, "PUT", f.pathA("/workspaces/research/default"), ""), 200) // idempotent
		if after := f.as(cAdmin, "GET", org, "").Header().Get("ETag"); after == before {
			t.Fatal("default workspace change kept the ETag")
		}

		// Members.
		u := f.newMember("platform_member", "etag")
		r = f.as(cPM, "GET", f.pathA("/members/"+u), "")
		wantStatus(t, r, 200)
		mtag := r.Header().Get("ETag")
		patchMember := func(ifMatch, role string) response {
			return f.do(req{method: "PATCH", path: f.pathA("/members/" + u), auth: f.creds[cAdmin], body: `{"role":"` + role + `"}`,
				header: map[string]string{"If-Match": ifMatch}})
		}
		r = patchMember(mtag, "opik_member")
		wantStatus(t, r, 200)
		if r.Header().Get("ETag") == mtag {
			t.Fatal("member ETag unchanged")
		}
		wantStatus(t, patchMember(mtag, "view_only_platform_member"), 412)
		if m, _ := f.store.GetMember(f.ctx, f.orgA.ID, u); m.Role != "opik_member" {
			t.Fatalf("stale write went through: %v", m.Role)
		}
	})
}

// TestErrorMapping covers what real stores cannot be made to return on demand.
func TestErrorMapping(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("list: %w", directory.ErrUnavailable), 503, "unavailable"},
		{context.DeadlineExceeded, 503, "unavailable"},
		{fmt.Errorf("x: %w", &directory.InvariantError{Rule: "last_admin", Message: "m"}), 409, "last_admin"},
		{&directory.InvalidError{Field: "name", Message: "bad"}, 422, "invalid"},
		{fmt.Errorf("x: %w", &directory.NotFoundError{Kind: "workspace", Ref: "w"}), 404, "not_found"},
		{fmt.Errorf("x: %w", directory.ErrVersionMismatch), 412, "precondition_failed"},
		{&directory.ConflictError{Message: "taken"}, 409, "conflict"},
		{errors.New("pq: relation does not exist"), 500, "internal"},
	} {
		rec := httptest.NewRecorder()
		a := newAPI(t, Config{Store: noStore{}})
		a.writeError(rec, httptest.NewRequest("GET", "/api/v1/me", nil), c.err)
		r := response{rec}
		wantStatus(t, r, c.status)
		if code, msg, _ := r.errorCode(t); code != c.code || (c.status == 500 && strings.Contains(msg, "relation")) {
			t.Errorf("%v: code %q message %q", c.err, code, msg)
		}
		if c.status == 503 && rec.Header().Get("Retry-After") == "" {
			t.Errorf("%v: 503 without Retry-After", c.err)
		}
	}
	if rec := httptest.NewRecorder(); true {
		newAPI(t, Config{Store: noStore{}}).writeError(rec, httptest.NewRequest("GET", "/", nil), &http.MaxBytesError{Limit: 1})
		if rec.Code != 413 {
			t.Errorf("MaxBytesError: %d", rec.Code)
		}
	}
}

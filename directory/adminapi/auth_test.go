package adminapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
)

func TestAuthentication(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		orgPath := f.pathA("")
		for _, c := range []struct {
			name, auth string
			want       int
			challenge  string
		}{
			{"no credentials", "", 401, `Bearer realm="ssobroker"`},
			{"API key with Bearer", "Bearer " + f.saKeySecret, 200, ""},
			{"bare API key, as the Opik SDK sends it", f.saKeySecret, 200, ""},
			{"lowercase bearer scheme", "bearer " + f.saKeySecret, 200, ""},
			{"access token", f.creds[cAdmin], 200, ""},
			{"unknown well-formed API key", "Bearer ssb_" + strings.Repeat("A", 43), 401, `Bearer realm="ssobroker", error="invalid_token"`},
			{"malformed API key", "Bearer ssb_short", 401, `Bearer realm="ssobroker", error="invalid_token"`},
			{"API key with a character changed", "Bearer " + changedLast(f.saKeySecret), 401, `Bearer realm="ssobroker", error="invalid_token"`},
			{"unknown access token", "Bearer eyJ.forged.token", 401, `Bearer realm="ssobroker", error="invalid_token"`},
			{"empty bearer", "Bearer ", 401, `Bearer realm="ssobroker", error="invalid_token"`},
			{"basic scheme", "Basic dXNlcjpwYXNz", 401, `Bearer realm="ssobroker", error="invalid_token"`},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := f.do(req{method: "GET", path: orgPath, auth: c.auth})
				wantStatus(t, r, c.want)
				if got := r.Header().Get("WWW-Authenticate"); got != c.challenge {
					t.Fatalf("WWW-Authenticate = %q, want %q", got, c.challenge)
				}
				if c.want == 401 && strings.Contains(r.Body.String(), "ssb_") {
					t.Fatalf("the answer echoes the credential: %s", r.Body.String())
				}
			})
		}

		t.Run("a revoked key stops working at once", func(t *testing.T) {
			sa := f.newServiceAccount()
			r := f.as(cAdmin, "POST", f.pathA("/service-accounts/"+sa+"/keys"), "")
			wantStatus(t, r, 201)
			secret, id := r.json(t)["secret"].(string), r.json(t)["id"].(string)
			wantStatus(t, f.do(req{method: "GET", path: orgPath, auth: secret}), 200)
			wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/keys/"+id), ""), 204)
			wantStatus(t, f.do(req{method: "GET", path: orgPath, auth: secret}), 401)
			// Revoking again is idempotent.
			wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/service-accounts/"+sa+"/keys/"+id), ""), 204)
		})

		t.Run("a deleted service account's keys stop working", func(t *testing.T) {
			sa := f.newServiceAccount()
			r := f.as(cAdmin, "POST", f.pathA("/service-accounts/"+sa+"/keys"), "")
			secret := r.json(t)["secret"].(string)
			wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/service-accounts/"+sa), ""), 204)
			wantStatus(t, f.do(req{method: "GET", path: orgPath, auth: secret}), 401)
		})

		t.Run("a removed member's token grants nothing", func(t *testing.T) {
			u := f.newMember(access.RolePlatformMember, "leaver")
			tok := "Bearer " + f.verifier.issue(TokenPrincipal{Subject: u, OrgID: f.orgA.ID})
			wantStatus(t, f.do(req{method: "GET", path: orgPath, auth: tok}), 200)
			wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/members/"+u), ""), 204)
			wantStatus(t, f.do(req{method: "GET", path: orgPath, auth: tok}), 401)
			if !f.sessions.called(f.orgA.ID, u) {
				t.Fatal("removing a member must end their sessions")
			}
		})

		t.Run("a demotion takes effect on the next request", func(t *testing.T) {
			u := f.newMember(access.RoleAdmin, "demoted")
			tok := "Bearer " + f.verifier.issue(TokenPrincipal{Subject: u, OrgID: f.orgA.ID})
			wantStatus(t, f.do(req{method: "GET", path: f.pathA("/billing"), auth: tok}), 200)
			wantStatus(t, f.as(cAdmin, "PATCH", f.pathA("/members/"+u), `{"role":"platform_member"}`), 200)
			wantStatus(t, f.do(req{method: "GET", path: f.pathA("/billing"), auth: tok}), 403)
		})

		t.Run("verifier unavailable is 503 with Retry-After", func(t *testing.T) {
			f.verifier.mu.Lock()
			f.verifier.down = true
			f.verifier.mu.Unlock()
			defer func() { f.verifier.mu.Lock(); f.verifier.down = false; f.verifier.mu.Unlock() }()
			r := f.as(cAdmin, "GET", orgPath, "")
			wantStatus(t, r, 503)
			if r.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		})

		t.Run("API key use is recorded as last use", func(t *testing.T) {
			r := f.as(cAdmin, "GET", f.pathA("/service-accounts/"+f.ids[cSA]+"/keys"), "")
			wantStatus(t, r, 200)
			items := r.json(t)["items"].([]any)
			if len(items) != 1 || items[0].(map[string]any)["last_used_at"] == nil {
				t.Fatalf("last_used_at not recorded: %s", r.Body.String())
			}
			if strings.Contains(r.Body.String(), f.saKeySecret) {
				t.Fatal("key list shows the secret")
			}
		})
	})
}

// A token narrowed to a workspace acts in that workspace only.
func TestNarrowedToken(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		tok := "Bearer " + f.verifier.issue(TokenPrincipal{Subject: f.ids[cAdmin], OrgID: f.orgA.ID, Workspace: "research"})
		as := func(method, path, body string) response {
			return f.do(req{method: method, path: path, auth: tok, body: body})
		}
		wantStatus(t, as("GET", f.pathA("/workspaces/research"), ""), 200)
		wantStatus(t, as("GET", f.pathA("/workspaces/"+f.defaultA.Name), ""), 403)
		wantStatus(t, as("GET", f.pathA("/billing"), ""), 403)
		wantStatus(t, as("POST", f.pathA("/workspaces"), `{"name":"narrow-new"}`), 403)
		r := as("GET", f.pathA("/workspaces"), "")
		wantStatus(t, r, 200)
		if items := r.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "research" {
			t.Fatalf("narrowed list: %s", r.Body.String())
		}
		if me := as("GET", "/api/v1/me", "").json(t); me["workspace"] != "research" {
			t.Fatalf("/me: %v", me)
		}
	})
}

func TestMe(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cWO, "GET", "/api/v1/me", "")
		wantStatus(t, r, 200)
		me := r.json(t)
		if p := me["principal"].(map[string]any); p["id"] != f.ids[cWO] || p["type"] != "user" {
			t.Fatalf("principal %v", p)
		}
		orgs := me["orgs"].([]any)
		if len(orgs) != 1 {
			t.Fatalf("orgs %v", orgs)
		}
		o := orgs[0].(map[string]any)
		if o["id"] != f.orgA.ID || o["role"] != "platform_member" || o["current"] != true {
			t.Fatalf("org %v", o)
		}
		if got := strings.Join(toStrings(o["permissions"]), ","); got != "org.create_workspace,org.invite" {
			t.Fatalf("org permissions %s", got)
		}
		ws := o["workspaces"].([]any)[0].(map[string]any)
		if ws["name"] != "research" || ws["role"] != "owner" {
			t.Fatalf("workspace %v", ws)
		}
		want := "workspace.read,workspace.write,experiments.read,experiments.write,registry.propose,registry.approve,registry.webhooks," +
			"artifacts.manage,monitoring.manage,project.make_public,workspace.invite,workspace.configure"
		if got := strings.Join(toStrings(ws["permissions"]), ","); got != want {
			t.Fatalf("workspace permissions %s", got)
		}
		// A service account authenticating with its key.
		r = f.as(cSA, "GET", "/api/v1/me", "")
		if p := r.json(t)["principal"].(map[string]any); p["id"] != f.ids[cSA] || p["type"] != "service_account" || p["name"] != "ci" {
			t.Fatalf("service account principal %v", p)
		}
	})
}

// changedLast returns s with its last character replaced by a different one.
func changedLast(s string) string {
	last := "x"
	if strings.HasSuffix(s, last) {
		last = "y"
	}
	return s[:len(s)-1] + last
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestMemberSessions(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/members/"+f.ids[cOM]+"/sessions"), ""), 204)
		if !f.sessions.called(f.orgA.ID, f.ids[cOM]) {
			t.Fatal("RevokeUser not called")
		}
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/members/usr_nobody/sessions"), ""), 404)
		// Without a SessionRevoker (before the sign-in issue) the answer is still 204.
		api := newAPI(t, Config{Store: f.store, Tokens: f.verifier})
		mux := http.NewServeMux()
		api.Routes(mux)
		f.mux = mux
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/members/"+f.ids[cOM]+"/sessions"), ""), 204)
	})
}

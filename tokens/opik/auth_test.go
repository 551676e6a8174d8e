package opik_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/tokens/opik"
)

// TestAuth is /opik/auth, authenticated by the Authorization header exactly
// as Opik forwards it, one case per rule.
func TestAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		key := func(label string) string { return f.callers[label].key }
		suffix := "*" + base64.StdEncoding.EncodeToString([]byte(`{"workspaceName":"research","host":"https://opik.example.test"}`))
		for _, c := range []struct {
			rule     string
			auth     string // Authorization header; "" sends none
			body     string
			status   int
			user, ws string // on 200
			wsID     string
		}{
			{rule: "a raw API key (the Opik SDK sends no scheme) authenticates", auth: key(saPlatform),
				body: authBody(researchName, "trace_span_thread_log"), status: 200, user: saPlatform, ws: researchName, wsID: f.research.ID},
			{rule: "the SDK's *base64 suffix is stripped before the key is looked up", auth: key(saPlatform) + suffix,
				body: authBody(researchName, "trace_span_thread_log"), status: 200, user: saPlatform, ws: researchName, wsID: f.research.ID},
			{rule: "Bearer ssb_… authenticates", auth: "Bearer " + key(saPlatform),
				body: authBody(researchName), status: 200, user: saPlatform, ws: researchName, wsID: f.research.ID},
			{rule: "bearer is matched without case", auth: "bearer " + key(saPlatform),
				body: authBody(researchName), status: 200, user: saPlatform, ws: researchName, wsID: f.research.ID},
			{rule: "an access token after Bearer authenticates", auth: "Bearer " + f.token(saPlatform, ""),
				body: authBody(researchName, "trace_span_thread_log"), status: 200, user: saPlatform, ws: researchName, wsID: f.research.ID},
			{rule: "a bare access token authenticates", auth: f.token(saPlatform, ""),
				body: authBody(researchName, "experiment_view"), status: 200, user: saPlatform, ws: researchName, wsID: f.research.ID},
			{rule: "no required permissions: membership is enough", auth: key(saViewOnly),
				body: `{"workspaceName":"research"}`, status: 200, user: saViewOnly, ws: researchName, wsID: f.research.ID},
			{rule: "requiredPermissions null is none", auth: key(saViewOnly),
				body: `{"workspaceName":"research","path":null,"requiredPermissions":null}`, status: 200, user: saViewOnly, ws: researchName, wsID: f.research.ID},
			{rule: "unknown fields are ignored", auth: key(saViewOnly),
				body: `{"workspaceName":"research","somethingNew":{"a":1}}`, status: 200, user: saViewOnly, ws: researchName, wsID: f.research.ID},
			{rule: "a view-only member may view", auth: key(saViewOnly),
				body: authBody(researchName, "experiment_view", "dashboard_view"), status: 200, user: saViewOnly, ws: researchName, wsID: f.research.ID},
			{rule: "an opik owner may configure the workspace", auth: key(saOpikOwner),
				body: authBody(researchName, "workspace_settings_configure", "ai_provider_update"), status: 200, user: saOpikOwner, ws: researchName, wsID: f.research.ID},
			{rule: "an opik member may log traces", auth: key(saOpik),
				body: authBody(researchName, "trace_span_thread_log"), status: 200, user: saOpik, ws: researchName, wsID: f.research.ID},
			{rule: "an admin may do anything in a workspace of its org it is no member of", auth: key(saAdmin),
				body: authBody(researchName, "trace_span_thread_log", "original_data_view", "workspace_settings_configure"), status: 200, user: saAdmin, ws: researchName, wsID: f.research.ID},
			{rule: "default (any case) is the admin's org default workspace, answered by its real name", auth: key(saAdmin),
				body: authBody("DeFault", "trace_delete"), status: 200, user: saAdmin, ws: "acme", wsID: f.acmeWS.ID},
			{rule: "default of a member of the org default is the org default", auth: key(saAcmeOnly),
				body: authBody("default"), status: 200, user: saAcmeOnly, ws: "acme", wsID: f.acmeWS.ID},
			{rule: "default of a member who is not in the org default is its first workspace", auth: key(saPlatform),
				body: authBody("default", "trace_tag"), status: 200, user: saPlatform, ws: researchName, wsID: f.research.ID},
			{rule: "a narrowed token acts in its workspace", auth: "Bearer " + f.token(saAdmin, researchName),
				body: authBody(researchName, "trace_delete"), status: 200, user: saAdmin, ws: researchName, wsID: f.research.ID},
			{rule: "default of a narrowed token is its workspace", auth: "Bearer " + f.token(saAdmin, researchName),
				body: authBody("default"), status: 200, user: saAdmin, ws: researchName, wsID: f.research.ID},

			{rule: "no Authorization header is 401", body: authBody(researchName), status: 401},
			{rule: "an unknown API key is 401", auth: "ssb_0000000000000000000000000000000000000000000", body: authBody(researchName), status: 401},
			{rule: "a malformed API key is 401", auth: "ssb_short", body: authBody(researchName), status: 401},
			{rule: "a forged access token is 401", auth: "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", body: authBody(researchName), status: 401},
			{rule: "an unsupported credential is 401", auth: "Basic dXNlcjpwYXNz", body: authBody(researchName), status: 401},

			{rule: "a view-only member may not log traces", auth: key(saViewOnly), body: authBody(researchName, "trace_span_thread_log"), status: 403},
			{rule: "an opik member may not configure the workspace", auth: key(saOpik), body: authBody(researchName, "workspace_settings_configure"), status: 403},
			{rule: "an opik member may not see original data", auth: key(saOpik), body: authBody(researchName, "original_data_view"), status: 403},
			{rule: "one missing permission among several refuses", auth: key(saViewOnly), body: authBody(researchName, "experiment_view", "trace_delete"), status: 403},
			{rule: "a non-member is refused", auth: key(saAcmeOnly), body: authBody(researchName), status: 403},
			{rule: "an admin of another org is refused", auth: key(saOtherAdmin), body: authBody(researchName), status: 403},
			{rule: "an admin cannot reach another org's workspace", auth: key(saAdmin), body: authBody(globexLabName), status: 403},
			{rule: "an unknown workspace is refused", auth: key(saAdmin), body: authBody("no-such-workspace"), status: 403},
			{rule: "a malformed workspace name is refused", auth: key(saAdmin), body: authBody("Not A Name!"), status: 403},
			{rule: "an Opik permission nobody maps is refused to a member", auth: key(saPlatform), body: authBody(researchName, "launch_rockets"), status: 403},
			{rule: "a narrowed token acts nowhere else, not even for an admin", auth: "Bearer " + f.token(saAdmin, researchName), body: authBody("acme"), status: 403},
			{rule: "a narrowed token of a member acts nowhere else", auth: "Bearer " + f.token(saBoth, "acme"), body: authBody(researchName), status: 403},
			{rule: "the same member's token narrowed there acts there", auth: "Bearer " + f.token(saBoth, researchName), body: authBody(researchName, "trace_tag"), status: 200, user: saBoth, ws: researchName, wsID: f.research.ID},

			{rule: "a body that is not JSON is 400", auth: key(saPlatform), body: `{"workspaceName":`, status: 400},
			{rule: "a JSON array is 400", auth: key(saPlatform), body: `["research"]`, status: 400},
			{rule: "a workspaceName that is not a string is 400", auth: key(saPlatform), body: `{"workspaceName":7}`, status: 400},
			{rule: "requiredPermissions that are not strings are 400", auth: key(saPlatform), body: `{"workspaceName":"research","requiredPermissions":[1]}`, status: 400},
			{rule: "a missing workspaceName is 400", auth: key(saPlatform), body: `{"path":"/v1/private/traces"}`, status: 400},
			{rule: "an empty body is 400", auth: key(saPlatform), body: ``, status: 400},
		} {
			t.Run(c.rule, func(t *testing.T) {
				var h []string
				if c.auth != "" {
					h = []string{"Authorization", c.auth}
				}
				a := f.call(http.MethodPost, opik.PathAuth, c.body, append(h, "Content-Type", "application/json")...)
				if c.status != 200 {
					wantError(t, a, c.status)
					return
				}
				if a.status != 200 {
					t.Fatalf("status %d: %s", a.status, a.body)
				}
				if a.str("user") != c.user || a.str("workspaceName") != c.ws || a.str("workspaceId") != c.wsID {
					t.Fatalf("answer %s, want user %q, workspace %q (%s)", a.body, c.user, c.ws, c.wsID)
				}
				if q, ok := a.json["quotas"].([]any); !ok || len(q) != 0 {
					t.Fatalf("quotas = %v, want []", a.json["quotas"])
				}
			})
		}
	})
}

// The answer for a workspace of another org is exactly the answer for a
// workspace that does not exist: it never tells which org holds a name.
func TestAnotherOrgsWorkspaceLooksLikeAnUnknownOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		admin := f.callers[saAdmin].key
		other := f.call(http.MethodPost, opik.PathAuth, authBody(globexLabName), "Authorization", admin)
		unknown := f.call(http.MethodPost, opik.PathAuth, authBody("no-such-workspace"), "Authorization", admin)
		notMember := f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", f.callers[saAcmeOnly].key)
		for _, a := range []answer{other, unknown, notMember} {
			if a.status != 403 || string(a.body) != string(other.body) {
				t.Fatalf("answers differ: %d %s / %d %s / %d %s", other.status, other.body, unknown.status, unknown.body, notMember.status, notMember.body)
			}
		}
	})
}

// A revoked key stops working at the next call, although the first call
// put it in the directory's cache.
func TestARevokedKeyStopsAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		key := f.callers[saPlatform].key
		if a := f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", key); a.status != 200 {
			t.Fatalf("before revocation: %d %s", a.status, a.body)
		}
		kp, err := f.store.LookupAPIKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.RevokeAPIKey(ctx, actor, f.acme.ID, kp.Key.ID); err != nil {
			t.Fatal(err)
		}
		wantError(t, f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", key), 401)
	})
}

// Standing is read at every call: a member removed from a workspace, or
// from the org, loses access at the next call whatever credential it holds.
func TestRemovalAppliesAtTheNextCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		sa := f.callers[saPlatform]
		tok := f.token(saPlatform, "")
		for _, auth := range []string{sa.key, "Bearer " + tok} {
			if a := f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", auth); a.status != 200 {
				t.Fatalf("before removal: %d %s", a.status, a.body)
			}
		}
		if err := f.store.RemoveWorkspaceMember(ctx, actor, f.acme.ID, f.research.ID, sa.id); err != nil {
			t.Fatal(err)
		}
		for _, auth := range []string{sa.key, "Bearer " + tok} {
			wantError(t, f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", auth), 403)
		}
		u := f.callers[userPlatform]
		if err := f.store.RemoveMember(ctx, actor, f.acme.ID, u.id); err != nil {
			t.Fatal(err)
		}
		wantError(t, f.call(http.MethodPost, opik.PathAuthSession, authBody(researchName), "Cookie", "sessionToken="+u.cookie), 401)
	})
}

// An admin naming a workspace it is no member of is resolved through the
// name cache, which a rename drops at once.
func TestARenamedWorkspaceIsResolvedByItsNewNameAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		admin := f.callers[saAdmin].key
		if a := f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", admin); a.str("workspaceId") != f.research.ID {
			t.Fatalf("before rename: %d %s", a.status, a.body)
		}
		if _, err := f.store.RenameWorkspace(ctx, actor, f.acme.ID, f.research.ID, "research-2"); err != nil {
			t.Fatal(err)
		}
		wantError(t, f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", admin), 403)
		a := f.call(http.MethodPost, opik.PathAuth, authBody("research-2"), "Authorization", admin)
		if a.status != 200 || a.str("workspaceId") != f.research.ID || a.str("workspaceName") != "research-2" {
			t.Fatalf("after rename: %d %s", a.status, a.body)
		}
		if _, err := f.store.CreateWorkspace(ctx, actor, f.globex.ID, researchName, ""); err != nil {
			t.Fatal(err)
		}
		wantError(t, f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Authorization", admin), 403)
	})
}

// TestSessionAuth is /opik/auth-session: the browser's sessionToken cookie
// as Opik forwards it.
func TestSessionAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		u, vo := f.callers[userPlatform], f.callers[userViewOnly]
		for _, c := range []struct {
			rule   string
			cookie string
			body   string
			status int
			user   string
			ws     string
		}{
			{"a plain sessionToken cookie authenticates", "sessionToken=" + u.cookie, authBody(researchName, "trace_span_thread_log"), 200, u.name, researchName},
			{"the $Version=1 form Opik forwards authenticates", "$Version=1;sessionToken=" + u.cookie, authBody(researchName), 200, u.name, researchName},
			{"a quoted value with $Path attributes authenticates", `$Version="1"; sessionToken="` + u.cookie + `"; $Path="/"`, authBody(researchName), 200, u.name, researchName},
			{"other cookies around it are ignored", "theme=dark; sessionToken=" + u.cookie + "; other=1", authBody(researchName), 200, u.name, researchName},
			{"default is the user's first workspace", "sessionToken=" + u.cookie, authBody("Default"), 200, u.name, researchName},
			{"an admin user may act in any workspace of the org", "sessionToken=" + f.callers[userAdmin].cookie, authBody(researchName, "workspace_settings_configure"), 200, f.callers[userAdmin].name, researchName},
			{"a view-only user may not log traces", "sessionToken=" + vo.cookie, authBody(researchName, "trace_span_thread_log"), 403, "", ""},
			{"a member of no workspace has no default", "sessionToken=" + f.callers[userNoWS].cookie, authBody("default"), 403, "", ""},
			{"no cookie is 401", "", authBody(researchName), 401, "", ""},
			{"an unknown session is 401", "sessionToken=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", authBody(researchName), 401, "", ""},
			{"a malformed body is 400", "sessionToken=" + u.cookie, `nope`, 400, "", ""},
		} {
			t.Run(c.rule, func(t *testing.T) {
				var h []string
				if c.cookie != "" {
					h = []string{"Cookie", c.cookie}
				}
				a := f.call(http.MethodPost, opik.PathAuthSession, c.body, h...)
				if c.status != 200 {
					wantError(t, a, c.status)
					return
				}
				if a.status != 200 || a.str("user") != c.user || a.str("workspaceName") != c.ws {
					t.Fatalf("%d %s, want user %q in %q", a.status, a.body, c.user, c.ws)
				}
			})
		}
		// The API-key endpoint does not take a cookie, nor the cookie endpoint a key.
		wantError(t, f.call(http.MethodPost, opik.PathAuth, authBody(researchName), "Cookie", "sessionToken="+u.cookie), 401)
		wantError(t, f.call(http.MethodPost, opik.PathAuthSession, authBody(researchName), "Authorization", f.callers[saAdmin].key), 401)
		// Logout ends it at once.
		if err := f.sessions.DeleteSession(context.Background(), u.cookie); err != nil {
			t.Fatal(err)
		}
		wantError(t, f.call(http.MethodPost, opik.PathAuthSession, authBody(researchName), "Cookie", "sessionToken="+u.cookie), 401)
	})
}

// The by-username endpoints believe X-Opik-OAuth-Username only when the
// deployment says so.
func TestByUsernameIsRefusedWhenDisabled(t *testing.T) {
	f := newFixture(t, backends[0].open(t), backends[0].sessions(t), false)
	u := f.callers[userPlatform]
	for _, path := range []string{opik.PathAuthByUsername, opik.PathWorkspacePermissionsUser} {
		a := f.call(http.MethodPost, path, authBody(researchName), opik.UsernameHeader, u.name)
		wantError(t, a, 401)
	}
}

func TestByUsername(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b.open(t), b.sessions(t), true)
			ctx := context.Background()
			// A second account with the same email in the same org makes that name ambiguous.
			twin, err := f.store.CreateUser(ctx, actor, directory.NewUser{Email: "viewer@acme.test", EmailVerified: true, Name: "Twin"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.store.AddMember(ctx, actor, f.acme.ID, twin.ID, "platform_member"); err != nil {
				t.Fatal(err)
			}
			u := f.callers[userPlatform]
			for _, c := range []struct {
				rule, name, body string
				status           int
			}{
				{"the user name /opik/auth-session answered is accepted", u.name, authBody(researchName, "trace_span_thread_log"), 200},
				{"emails are compared without case", "platform.person@ACME.test", authBody(researchName), 200},
				{"a service account by its name", saOpik, authBody(researchName, "trace_span_thread_log"), 200},
				{"permissions still apply", saViewOnly, authBody(researchName, "trace_span_thread_log"), 403},
				{"an unknown user name is 401", "nobody@acme.test", authBody(researchName), 401},
				{"a user name of another org is unknown in this one", saOtherAdmin, authBody(researchName), 401},
				{"a name two members share is refused", "viewer@acme.test", authBody(researchName), 401},
				{"an empty header is 401", "", authBody(researchName), 401},
				{"default cannot be resolved without a principal", u.name, authBody("default"), 403},
				{"an unknown workspace is 403", u.name, authBody("no-such-workspace"), 403},
			} {
				t.Run(c.rule, func(t *testing.T) {
					var h []string
					if c.name != "" {
						h = []string{opik.UsernameHeader, c.name}
					}
					a := f.call(http.MethodPost, opik.PathAuthByUsername, c.body, h...)
					if c.status != 200 {
						wantError(t, a, c.status)
						return
					}
					if a.status != 200 || a.str("workspaceId") != f.research.ID {
						t.Fatalf("%d %s", a.status, a.body)
					}
				})
			}
			// A new member is found at once: the member index is dropped on change.
			if a := f.call(http.MethodPost, opik.PathAuthByUsername, authBody(researchName), opik.UsernameHeader, "newcomer@acme.test"); a.status != 401 {
				t.Fatalf("before joining: %d %s", a.status, a.body)
			}
			nu, err := f.store.CreateUser(ctx, actor, directory.NewUser{Email: "newcomer@acme.test", EmailVerified: true, Name: "New"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.store.AddMember(ctx, actor, f.acme.ID, nu.ID, "admin"); err != nil {
				t.Fatal(err)
			}
			if a := f.call(http.MethodPost, opik.PathAuthByUsername, authBody(researchName), opik.UsernameHeader, "newcomer@acme.test"); a.status != 200 {
				t.Fatalf("after joining: %d %s", a.status, a.body)
			}
		})
	}
}

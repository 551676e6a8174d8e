package adminapi

import "testing"

// A user's access token is admin power only when it was issued for the admin
// API; one issued to any other application (a single-page app, a service)
// is 403 insufficient_scope with the RFC 6750 §3.1 challenge. Service
// accounts' tokens and API keys need no scope.
func TestUserTokensNeedTheAdminScope(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		orgPath := "/api/v1/orgs/" + f.orgA.ID
		appToken := "Bearer " + f.verifier.issueExactly(TokenPrincipal{Subject: f.ids[cAdmin], OrgID: f.orgA.ID})
		for _, path := range []string{"/api/v1/me", orgPath, f.pathA("/members")} {
			r := f.do(req{method: "GET", path: path, auth: appToken})
			wantStatus(t, r, 403)
			if got := r.json(t)["error"].(map[string]any)["code"]; got != "insufficient_scope" {
				t.Fatalf("%s: error code %v, want insufficient_scope: %s", path, got, r.Body.String())
			}
			if got := r.Header().Get("WWW-Authenticate"); got != `Bearer realm="ssobroker", error="insufficient_scope", scope="ssobroker:admin"` {
				t.Fatalf("%s: WWW-Authenticate %q", path, got)
			}
		}
		// Narrowing does not make an application's token an admin token.
		narrowed := "Bearer " + f.verifier.issueExactly(TokenPrincipal{Subject: f.ids[cAdmin], OrgID: f.orgA.ID, Workspace: "research"})
		wantStatus(t, f.do(req{method: "GET", path: f.pathA("/workspaces/research"), auth: narrowed}), 403)

		// The same user with a token issued for the admin API.
		adminToken := "Bearer " + f.verifier.issueExactly(TokenPrincipal{Subject: f.ids[cAdmin], OrgID: f.orgA.ID, AdminAPI: true})
		wantStatus(t, f.do(req{method: "GET", path: orgPath, auth: adminToken}), 200)

		// A service account's token (client_credentials) needs no scope;
		// nor does its API key.
		saToken := "Bearer " + f.verifier.issueExactly(TokenPrincipal{Subject: f.ids[cSA], OrgID: f.orgA.ID})
		wantStatus(t, f.do(req{method: "GET", path: "/api/v1/me", auth: saToken}), 200)
		wantStatus(t, f.do(req{method: "GET", path: "/api/v1/me", auth: f.creds[cSA]}), 200)
		wantStatus(t, f.do(req{method: "GET", path: "/api/v1/me", auth: f.saKeySecret}), 200)
	})
}

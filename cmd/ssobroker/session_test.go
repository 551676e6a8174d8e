package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// call sends one request and decodes a JSON answer into out (when non-nil).
func call(t *testing.T, method, u, auth, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// TestReadmeSession runs the README's curl session: bootstrap an org, get a
// token for a service account, create a workspace, invite a user, rotate a
// key — on the embedded store and on PostgreSQL.
func TestReadmeSession(t *testing.T) {
	for name, env := range map[string]func(t *testing.T) map[string]string{
		"embedded": func(t *testing.T) map[string]string { return map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()} },
		"postgres": func(t *testing.T) map[string]string {
			return map[string]string{"SSOBROKER_DATA_DIR": t.TempDir(), "SSOBROKER_DATABASE_URL": directorytest.PostgresSchemaURL(t)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := env(t)
			if code, _, stderr := runCLI(t, env, "admin", "bootstrap", "--org", "Acme", "--email", "ada@acme.com"); code != exitOK {
				t.Fatal(stderr)
			}
			code, out, stderr := runCLI(t, env, "admin", "service-account", "create", "--org", "acme", "--name", "automation", "--role", "admin", "--json")
			if code != exitOK {
				t.Fatal(stderr)
			}
			var sa struct {
				APIKey string `json:"api_key"`
				SA     struct {
					ID string `json:"id"`
				} `json:"service_account"`
				Key struct {
					ID string `json:"id"`
				} `json:"key"`
			}
			if err := json.Unmarshal([]byte(out), &sa); err != nil {
				t.Fatal(err)
			}
			base, stop := serving(t, env)
			defer stop()

			var tok struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
			}
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sa.SA.ID}, "client_secret": {sa.APIKey}}.Encode()
			if got := call(t, "POST", base+"/oauth2/token", "", form, &tok); got != http.StatusOK || tok.AccessToken == "" {
				t.Fatalf("client_credentials: %d %+v", got, tok)
			}
			bearer := "Bearer " + tok.AccessToken
			if got := call(t, "POST", base+"/api/v1/orgs/acme/workspaces", bearer, `{"name":"research"}`, nil); got != http.StatusCreated {
				t.Fatalf("create workspace with the access token: %d", got)
			}
			invite := `{"email":"grace@acme.com","role":"platform_member","workspaces":[{"workspace_id":"research","role":"member"}]}`
			if got := call(t, "POST", base+"/api/v1/orgs/acme/invitations", bearer, invite, nil); got != http.StatusCreated {
				t.Fatalf("invite: %d", got)
			}
			var created struct {
				Secret string `json:"secret"`
			}
			if got := call(t, "POST", base+"/api/v1/orgs/acme/service-accounts/"+sa.SA.ID+"/keys", "Bearer "+sa.APIKey, "", &created); got != http.StatusCreated || created.Secret == "" {
				t.Fatalf("create key: %d", got)
			}
			if got := call(t, "DELETE", base+"/api/v1/orgs/acme/keys/"+sa.Key.ID, created.Secret, "", nil); got != http.StatusNoContent {
				t.Fatalf("revoke the old key with the new one (bare Authorization): %d", got)
			}
			if got := call(t, "POST", base+"/oauth2/token", "", form, nil); got != http.StatusUnauthorized {
				t.Fatalf("the revoked key still gets tokens: %d", got)
			}
			if got := call(t, "GET", base+"/api/v1/orgs/acme/workspaces", "Bearer "+sa.APIKey, "", nil); got != http.StatusUnauthorized {
				t.Fatalf("the revoked key still reaches the admin API: %d", got)
			}
			newForm := url.Values{"grant_type": {"client_credentials"}, "client_id": {sa.SA.ID}, "client_secret": {created.Secret}}.Encode()
			if got := call(t, "POST", base+"/oauth2/token", "", newForm, &tok); got != http.StatusOK {
				t.Fatalf("the new key gets no token: %d", got)
			}
			var jwks struct {
				Keys []map[string]any `json:"keys"`
			}
			if got := call(t, "GET", base+"/.well-known/jwks.json", "", "", &jwks); got != http.StatusOK || len(jwks.Keys) == 0 {
				t.Fatalf("jwks: %d %v", got, jwks)
			}
			if code, out, stderr := runCLI(t, env, "keys", "rotate"); code != exitOK || !strings.Contains(out, "active key") {
				t.Fatalf("keys rotate: %d %s %s", code, out, stderr)
			}
		})
	}
}

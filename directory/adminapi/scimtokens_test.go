package adminapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func jsonField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	s, _ := m[field].(string)
	return s
}

// newSCIMToken creates a SCIM token of org orgID and returns its id.
func (f *fixture) newSCIMToken(orgID string) string {
	f.t.Helper()
	tk, _, err := f.store.CreateSCIMToken(f.ctx, "system:test", orgID, "")
	f.must(err)
	return tk.ID
}

// TestSCIMTokens: an admin creates a token (shown once, as scim_…), lists
// it without the secret, revokes it; the store then refuses the secret.
func TestSCIMTokens(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cAdmin, "POST", f.pathA("/scim-tokens"), `{"name":"Okta"}`)
		if r.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Code, r.Body.String())
		}
		body := r.Body.String()
		secret := jsonField(t, body, "token")
		id := jsonField(t, body, "id")
		if !strings.HasPrefix(secret, "scim_") || jsonField(t, body, "name") != "Okta" {
			t.Fatalf("created: %s", body)
		}
		if _, err := f.store.LookupSCIMToken(f.ctx, secret); err != nil {
			t.Fatalf("lookup of the new token: %v", err)
		}
		l := f.as(cAdmin, "GET", f.pathA("/scim-tokens"), "")
		if l.Code != http.StatusOK || !strings.Contains(l.Body.String(), id) || strings.Contains(l.Body.String(), secret) {
			t.Fatalf("list: %d %s", l.Code, l.Body.String())
		}
		if d := f.as(cAdmin, "DELETE", f.pathA("/scim-tokens/"+id), ""); d.Code != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", d.Code, d.Body.String())
		}
		if _, err := f.store.LookupSCIMToken(f.ctx, secret); err == nil {
			t.Fatal("a revoked token still authenticates")
		}
	})
}

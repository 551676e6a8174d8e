package adminapi

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestJWTIssuerMappingFields: the admin API accepts the widened mapping of
// a trusted issuer beside the round-1 shape, refuses a bad one naming the
// field (the directory's rule), and shows an issuer's recent refusals.
func TestJWTIssuerMappingFields(t *testing.T) {
	f := newFixture(t, directorytest.SQLite)
	created := f.as(cAdmin, "POST", f.pathA("/jwt-issuers"),
		`{"name":"people","issuer":"https://idp.acme.test","audience":"ssobroker","user_claim":"email","role_claim":"ssb_role","max_role":"opik_member"}`)
	if created.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Code, created.Body)
	}
	j := created.json(t)
	if j["user_claim"] != "email" || j["user_match"] != "email" || j["role_claim"] != "ssb_role" || j["max_role"] != "opik_member" || j["service_account_id"] != "" {
		t.Fatalf("created %v", j)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"name":"x","issuer":"https://x.acme.test","audience":"a"}`, "service_account_id"},
		{fmt.Sprintf(`{"name":"x","issuer":"https://x.acme.test","audience":"a","service_account_id":%q,"user_claim":"sub"}`, f.ids[cSA]), "user_claim"},
		{`{"name":"x","issuer":"https://x.acme.test","audience":"a","user_claim":"sub","role_claim":"r"}`, "max_role"},
		{`{"name":"x","issuer":"https://x.acme.test","audience":"a","user_claim":"sub","max_role":"root"}`, "max_role"},
		{`{"name":"x","issuer":"https://x.acme.test","audience":"a","user_claim":"sub","user_match":"phone"}`, "user_match"},
	} {
		r := f.as(cAdmin, "POST", f.pathA("/jwt-issuers"), tc.body)
		if _, _, field := r.errorCode(t); r.Code != http.StatusUnprocessableEntity && r.Code != http.StatusBadRequest || field != tc.field {
			t.Errorf("%s: %d field %q, want a refusal naming %s (%s)", tc.body, r.Code, field, tc.field, r.Body)
		}
	}
	id := j["id"].(string)
	_, err := f.store.RecordJWTIssuerFailure(f.ctx, directory.JWTIssuerFailure{OrgID: f.orgA.ID, JWTIssuerID: id, Reason: "wrong_audience", Detail: "aud [other]"})
	f.must(err)
	got := f.as(cAdmin, "GET", f.pathA("/jwt-issuers/"+id), "").json(t)
	fs, _ := got["recent_failures"].([]any)
	if got["id"] != id || len(fs) != 1 || fs[0].(map[string]any)["reason"] != "wrong_audience" {
		t.Fatalf("get: %v", got)
	}
	list := f.as(cAdmin, "GET", f.pathA("/jwt-issuers/"+id+"/failures"), "").json(t)
	if items, _ := list["items"].([]any); len(items) != 1 {
		t.Fatalf("failures: %v", list)
	}
	if r := f.as(cAdmin, "GET", f.pathA("/jwt-issuers/jwi_nope"), ""); r.Code != http.StatusNotFound {
		t.Fatalf("unknown issuer: %d", r.Code)
	}
}

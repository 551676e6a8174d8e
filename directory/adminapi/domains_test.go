package adminapi

import (
	"context"
	"net"
	"net/http"
	"testing"
)

func TestDomainVerificationOverDNS(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		add := func(domain string) (token string) {
			t.Helper()
			r := f.as(cAdmin, "POST", f.pathA("/domains"), `{"domain":"`+domain+`"}`)
			wantStatus(t, r, 201)
			d := r.json(t)
			v := d["verification"].(map[string]any)
			token = d["verification_token"].(string)
			names := toStrings(v["record_names"])
			if d["verified"] != false || v["record_type"] != "TXT" || v["record_value"] != "ssobroker-verify="+token ||
				len(names) != 2 || names[0] != "_ssobroker-challenge."+domain || names[1] != domain {
				t.Fatalf("domain %v", d)
			}
			return token
		}
		verify := func(domain string) response {
			return f.as(cAdmin, "POST", f.pathA("/domains/"+domain+"/verify"), "")
		}
		failed := func(r response) {
			t.Helper()
			wantStatus(t, r, 422)
			if code, _, _ := r.errorCode(t); code != "verification_failed" {
				t.Fatalf("code %q: %s", code, r.Body.String())
			}
		}

		// NXDOMAIN: nothing published at either name.
		tok := add("acme.test")
		failed(verify("acme.test"))
		// A record with the wrong token, at the challenge name.
		f.dns.set("_ssobroker-challenge.acme.test", "ssobroker-verify=not-the-token", "v=spf1 -all")
		failed(verify("acme.test"))
		if ds, _ := f.store.ListDomains(f.ctx, f.orgA.ID); ds[0].VerifiedAt != nil {
			t.Fatal("a failed verification marked the domain verified")
		}
		// The right token among other records.
		f.dns.set("_ssobroker-challenge.acme.test", "v=spf1 -all", "ssobroker-verify="+tok)
		r := verify("ACME.test.")
		wantStatus(t, r, 200)
		if d := r.json(t); d["verified"] != true || d["verified_at"] == nil || d["verification"] != nil {
			t.Fatalf("verified %v", d)
		}
		wantStatus(t, verify("acme.test"), 200) // idempotent

		// At the apex instead.
		tok = add("apex.acme.test")
		f.dns.set("apex.acme.test", "ssobroker-verify="+tok)
		wantStatus(t, verify("apex.acme.test"), 200)

		// A domain verified by another org cannot be claimed.
		wantStatus(t, f.do(req{method: "POST", path: "/api/v1/orgs/" + f.b.org.ID + "/domains/globex.test/verify", auth: f.b.adminCred}), 200)
		r = f.as(cAdmin, "POST", f.pathA("/domains"), `{"domain":"globex.test"}`)
		wantStatus(t, r, 409)

		wantStatus(t, verify("unknown.test"), 404)
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/domains/apex.acme.test"), ""), 204)
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/domains/apex.acme.test"), ""), 404)
		r = f.as(cAdmin, "GET", f.pathA("/domains"), "")
		if items := r.json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("domains %s", r.Body.String())
		}
	})
}

// timeoutResolver is a resolver whose every lookup times out, as a dead
// upstream would after its own timeout (waiting for a real one takes 10 s).
type timeoutResolver struct{}

func (timeoutResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	return nil, &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true}
}

func TestDomainVerificationWhenDNSTimesOut(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		api := newAPI(t, Config{Store: f.store, Tokens: f.verifier, Resolver: timeoutResolver{}})
		f.mux = http.NewServeMux()
		api.Routes(f.mux)
		d := f.newDomain()
		r := f.as(cAdmin, "POST", f.pathA("/domains/"+d+"/verify"), "")
		wantStatus(t, r, 503)
		if code, _, _ := r.errorCode(t); code != "dns_unavailable" || r.Header().Get("Retry-After") == "" {
			t.Fatalf("answer %s", r.Body.String())
		}
	})
}

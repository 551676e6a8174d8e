package adminapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// isolationBody is a body that would succeed for each route if its target
// were reachable, so that only tenant isolation can refuse it.
func isolationBody(f *fixture, method, pattern string) string {
	const o = "/api/v1/orgs/{org}"
	switch method + " " + pattern {
	case "PATCH " + o:
		return `{"name":"Hijacked"}`
	case "POST " + o + "/workspaces":
		return fmt.Sprintf(`{"name":"iso-%d"}`, f.next())
	case "PATCH " + o + "/workspaces/{ws}":
		return `{"name":"hijacked"}`
	case "PUT " + o + "/workspaces/{ws}/members/{principal}":
		return `{"role":"owner"}`
	case "PATCH " + o + "/members/{user}":
		return `{"role":"admin"}`
	case "POST " + o + "/invitations":
		return fmt.Sprintf(`{"email":"iso-%d@acme.test","role":"platform_member"}`, f.next())
	case "POST " + o + "/service-accounts":
		return fmt.Sprintf(`{"name":"iso-%d","role":"admin"}`, f.next())
	case "PATCH " + o + "/service-accounts/{id}":
		return `{"name":"hijacked"}`
	case "POST " + o + "/connections":
		return fmt.Sprintf(`{"type":"oidc","name":"iso-%d","oidc":{"issuer":"https://iso.test","client_id":"c","client_secret":"s"}}`, f.next())
	case "PATCH " + o + "/connections/{id}":
		return `{"enabled":true,"name":"hijacked"}`
	case "POST " + o + "/domains":
		return fmt.Sprintf(`{"domain":"iso%d.acme.test"}`, f.next())
	case "POST " + o + "/jwt-issuers":
		return fmt.Sprintf(`{"name":"iso","issuer":"https://iso-%d.test","audience":"x","service_account_id":%q}`, f.next(), f.ids[cSA])
	}
	return ""
}

// foreignPath fills a route pattern with org B's objects; org is the {org} to use.
func foreignPath(f *fixture, pattern, org string) string {
	b := f.b
	idFor := map[string]string{"invitations": b.inv, "requests": b.req, "service-accounts": b.sa, "connections": b.conn, "jwt-issuers": b.jwtIssuer, "setup-links": b.setupLink}
	if strings.Contains(pattern, "/scim-tokens/") {
		idFor["scim-tokens"] = f.newSCIMToken(b.org.ID)
	}
	var did string
	if strings.Contains(pattern, "/webhooks/") {
		idFor["webhooks"], did = f.foreignWebhookDelivery()
	}
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		switch s {
		case "{org}":
			segs[i] = org
		case "{ws}":
			segs[i] = b.ws2.Name
		case "{principal}", "{user}":
			segs[i] = b.user
		case "{key}":
			segs[i] = b.key
		case "{domain}":
			segs[i] = b.domain
		case "{id}":
			segs[i] = idFor[segs[i-1]]
		case "{did}":
			segs[i] = did
		}
	}
	return strings.Join(segs, "/")
}

// TestTenantIsolation walks every route as an admin of org A with org B's
// ids and names, and expects 404 every time; then checks that org B is
// exactly as it was and that nothing of B shows in A's lists.
func TestTenantIsolation(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		b := f.b
		secrets := []string{b.org.ID, b.ws.ID, b.ws.Name, b.ws2.ID, b.ws2.Name, b.admin, b.user, b.sa, b.key, b.inv, b.req,
			b.conn, b.domain, b.jwtIssuer, b.userEmail, b.adminMail, "Globex", "globex"}
		for _, rt := range routeTable() {
			if rt.public || rt.pattern == "/api/v1/me" {
				continue
			}
			// {org} names org B, by id and by name in any case.
			for _, orgRef := range []string{b.org.ID, b.org.Name, strings.ToUpper(b.org.Name)} {
				for _, caller := range []string{cAdmin, cSA} {
					path := foreignPath(f, rt.pattern, orgRef)
					r := f.as(caller, rt.method, path, isolationBody(f, rt.method, rt.pattern))
					if r.Code != http.StatusNotFound {
						t.Errorf("%s %s as %s: status %d, want 404: %s", rt.method, path, caller, r.Code, r.Body.String())
						continue
					}
					if _, msg, _ := r.errorCode(t); msg != fmt.Sprintf("organization %q not found", orgRef) {
						t.Errorf("%s %s: message %q", rt.method, path, msg)
					}
				}
			}
			// {org} is A, every other part names an object of B.
			if strings.Count(rt.pattern, "{") > 1 {
				path := foreignPath(f, rt.pattern, f.orgA.ID)
				r := f.as(cAdmin, rt.method, path, isolationBody(f, rt.method, rt.pattern))
				if r.Code != http.StatusNotFound {
					t.Errorf("%s %s: status %d, want 404: %s", rt.method, path, r.Code, r.Body.String())
				}
			}
			// B's admin cannot reach A either.
			path := strings.Replace(rt.pattern, "{org}", f.orgA.ID, 1)
			path = strings.NewReplacer("{ws}", "research", "{principal}", f.ids[cPM], "{user}", f.ids[cPM], "{id}", "x", "{key}", f.saKeyID, "{domain}", "x.test").Replace(path)
			if r := f.do(req{method: rt.method, path: path, auth: b.adminCred, body: isolationBody(f, rt.method, rt.pattern)}); r.Code != http.StatusNotFound {
				t.Errorf("B's admin: %s %s: status %d, want 404", rt.method, path, r.Code)
			}
		}

		// Mixed paths: A's workspace or account with B's principal or key.
		for _, m := range []struct{ method, path, body string }{
			{"PUT", f.pathA("/workspaces/research/members/" + b.user), `{"role":"member"}`},
			{"PUT", f.pathA("/workspaces/research/members/" + b.sa), `{"role":"member"}`},
			{"DELETE", f.pathA("/workspaces/research/members/" + b.user), ""},
			{"GET", f.pathA("/workspaces/" + b.ws2.ID), ""},
			{"GET", f.pathA("/workspaces/" + b.ws.Name + "/members"), ""},
			{"DELETE", f.pathA("/service-accounts/" + f.ids[cSA] + "/keys/" + b.key), ""},
			{"GET", f.pathA("/members/" + b.admin), ""},
			{"POST", f.pathA("/invitations"), fmt.Sprintf(`{"email":"x@acme.test","role":"view_only_platform_member","workspaces":[{"workspace_id":%q,"role":"member"}]}`, b.ws2.ID)},
			{"POST", f.pathA("/invitations"), `{"email":"y@acme.test","role":"view_only_platform_member","workspaces":[{"workspace_id":"globex-secret","role":"member"}]}`},
			{"POST", f.pathA("/service-accounts"), fmt.Sprintf(`{"name":"mixed","role":"platform_member","workspaces":[{"workspace_id":%q,"role":"owner"}]}`, b.ws2.Name)},
			{"POST", f.pathA("/jwt-issuers"), fmt.Sprintf(`{"name":"x","issuer":"https://x.test","audience":"x","service_account_id":%q}`, b.sa)},
		} {
			if r := f.as(cAdmin, m.method, m.path, m.body); r.Code != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404: %s", m.method, m.path, r.Code, r.Body.String())
			}
		}
		// Deleting A's default workspace with B's workspace as successor.
		tmp := f.newWorkspace()
		f.must(f.store.SetDefaultWorkspace(f.ctx, "system:test", f.orgA.ID, tmp.ID))
		if r := f.as(cAdmin, "DELETE", f.pathA("/workspaces/"+tmp.Name+"?new_default="+b.ws.Name), ""); r.Code != http.StatusNotFound {
			t.Errorf("delete default with B's successor: status %d, want 404: %s", r.Code, r.Body.String())
		}
		f.must(f.store.SetDefaultWorkspace(f.ctx, "system:test", f.orgA.ID, f.defaultA.ID))
		// A workspace name is unique across the deployment: taken is 409, without saying by whom.
		r := f.as(cAdmin, "POST", f.pathA("/workspaces"), `{"name":"globex-secret"}`)
		wantStatus(t, r, http.StatusConflict)
		if strings.Contains(r.Body.String(), "Globex") || strings.Contains(r.Body.String(), b.org.ID) {
			t.Errorf("conflict reveals the other org: %s", r.Body.String())
		}

		// Nothing of B appears in any of A's lists, even filtered by B's ids.
		for _, p := range []string{"", "/billing", "/workspaces", "/workspaces?q=globex", "/members", "/invitations", "/requests",
			"/service-accounts", "/service-accounts/" + f.ids[cSA] + "/keys", "/connections", "/domains", "/jwt-issuers",
			"/audit", "/audit?actor=" + b.admin, "/workspaces/research/members"} {
			r := f.as(cAdmin, "GET", f.pathA(p), "")
			wantStatus(t, r, 200)
			for _, s := range secrets {
				if strings.Contains(r.Body.String(), s) {
					t.Errorf("GET %s shows %q of org B: %s", p, s, r.Body.String())
				}
			}
		}
		if r := f.as(cAdmin, "GET", "/api/v1/me", ""); strings.Contains(r.Body.String(), b.org.ID) {
			t.Errorf("/me shows org B")
		}

		assertForeignIntact(t, f)
	})
}

// assertForeignIntact checks that org B is exactly as the fixture made it.
func assertForeignIntact(t *testing.T, f *fixture) {
	t.Helper()
	b, s, ctx := f.b, f.store, f.ctx
	if r := f.do(req{method: "GET", path: "/api/v1/orgs/" + b.org.ID, auth: "Bearer " + b.keySecret}); r.Code != 200 || r.json(t)["name"] != "Globex" {
		t.Errorf("B's API key or name changed: %d %s", r.Code, r.Body.String())
	}
	for _, ws := range []directory.Workspace{b.ws, b.ws2} {
		got, err := s.GetWorkspace(ctx, b.org.ID, ws.ID)
		if err != nil || got.Name != ws.Name {
			t.Errorf("B's workspace %s: %v %v", ws.Name, got, err)
		}
	}
	if m, err := s.GetMember(ctx, b.org.ID, b.user); err != nil || m.Role != access.RolePlatformMember {
		t.Errorf("B's user: %+v %v", m, err)
	}
	if wms, err := s.PrincipalWorkspaces(ctx, b.org.ID, b.user); err != nil || len(wms) != 1 || wms[0].Role != access.WorkspaceMember {
		t.Errorf("B's user's workspaces: %+v %v", wms, err)
	}
	if inv, err := s.GetInvitation(ctx, b.org.ID, b.inv); err != nil || inv.State != directory.InvitationPending {
		t.Errorf("B's invitation: %+v %v", inv, err)
	}
	if reqs, _, err := s.ListJoinRequests(ctx, b.org.ID, directory.Page{}); err != nil || len(reqs) != 1 || reqs[0].State != directory.JoinPending {
		t.Errorf("B's join request: %+v %v", reqs, err)
	}
	if c, err := s.GetConnection(ctx, b.org.ID, b.conn); err != nil || c.Name != "Globex Okta" {
		t.Errorf("B's connection: %+v %v", c, err)
	}
	if ds, err := s.ListDomains(ctx, b.org.ID); err != nil || len(ds) != 1 || ds[0].VerifiedAt != nil {
		t.Errorf("B's domain must still be unverified: %+v %v", ds, err)
	}
	if keys, err := s.ListAPIKeys(ctx, b.org.ID, b.sa); err != nil || len(keys) != 1 || keys[0].RevokedAt != nil {
		t.Errorf("B's key: %+v %v", keys, err)
	}
	if iss, _ := f.store.ListJWTIssuers(ctx, b.org.ID); len(iss) != 1 {
		t.Errorf("B's JWT issuer: %+v", iss)
	}
}

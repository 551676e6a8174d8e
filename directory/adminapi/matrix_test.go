package adminapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// The expected statuses below are read off the product's permission table
// (docs/permissions.md) by hand, for the
// fixture's callers:
//   - admin has every permission;
//   - platform, opik and view-only members belong to the default workspace
//     only, so in "research" they are non-members;
//   - ws-owner owns "research" (workspace.invite and workspace.configure);
//   - ws-member-inv is a member of "research" with can_invite (workspace.invite);
//   - ws-member and the service account are plain members of "research";
//   - every non-admin has org.create_workspace and (only_admins_can_invite is
//     false here) org.invite; nobody but the admin has org.admin.
var (
	readersOfResearch  = []string{cAdmin, cWO, cMI, cMN, cSA}
	invitersOfResearch = []string{cAdmin, cWO, cMI}
	ownersOfResearch   = []string{cAdmin, cWO}
	everyMember        = []string{cAdmin, cPM, cOM, cVO, cWO, cMI, cMN, cSA}
	adminOnly          = []string{cAdmin}
	// platformOrAbove may grant platform_member (decision 6: not opik or view-only members).
	platformOrAbove = []string{cAdmin, cPM, cWO, cMI, cMN, cSA}
	// viewOnlyGranters may grant view_only_platform_member: decision 6 changed
	// this row, an opik member no longer may (it would hand out
	// experiment-management rights it does not hold).
	viewOnlyGranters = []string{cAdmin, cPM, cVO, cWO, cMI, cMN, cSA}
)

// allowed builds the expected statuses: ok for the listed callers, 401 for
// the unauthenticated, 403 for everyone else.
func allowed(ok int, callers ...string) map[string]int {
	want := map[string]int{}
	for _, c := range allCallers {
		want[c] = http.StatusForbidden
	}
	for _, c := range callers {
		want[c] = ok
	}
	want[cAnon] = http.StatusUnauthorized
	return want
}

// matrixCase is one request shape, tried by every caller. setup makes fresh
// targets so that one caller's success does not change the next one's case.
type matrixCase struct {
	name, method, pattern string
	setup                 func(f *fixture, caller string) (path, body string)
	want                  map[string]int
}

func matrixCases() []matrixCase {
	const o = "/api/v1/orgs/{org}"
	fixed := func(suffix, body string) func(*fixture, string) (string, string) {
		return func(f *fixture, _ string) (string, string) { return f.pathA(suffix), body }
	}
	return []matrixCase{
		{"openapi", "GET", "/api/v1/openapi.json", func(*fixture, string) (string, string) { return "/api/v1/openapi.json", "" },
			map[string]int{cAdmin: 200, cPM: 200, cOM: 200, cVO: 200, cWO: 200, cMI: 200, cMN: 200, cSA: 200, cAnon: 200}},
		{"me", "GET", "/api/v1/me", func(*fixture, string) (string, string) { return "/api/v1/me", "" }, allowed(200, everyMember...)},

		{"get org", "GET", o, fixed("", ""), allowed(200, everyMember...)},
		{"patch org", "PATCH", o, fixed("", `{"name":"Acme"}`), allowed(200, adminOnly...)},
		{"billing", "GET", o + "/billing", fixed("/billing", ""), allowed(200, adminOnly...)},

		{"list workspaces", "GET", o + "/workspaces", fixed("/workspaces", ""), allowed(200, everyMember...)},
		{"create workspace", "POST", o + "/workspaces", func(f *fixture, _ string) (string, string) {
			return f.pathA("/workspaces"), fmt.Sprintf(`{"name":"new-%d"}`, f.next())
		}, allowed(201, everyMember...)},
		{"get workspace", "GET", o + "/workspaces/{ws}", fixed("/workspaces/research", ""), allowed(200, readersOfResearch...)},
		{"rename workspace", "PATCH", o + "/workspaces/{ws}", fixed("/workspaces/research", `{"name":"research"}`), allowed(200, ownersOfResearch...)},
		{"delete workspace", "DELETE", o + "/workspaces/{ws}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/workspaces/" + f.newWorkspace().Name), ""
		}, allowed(204, adminOnly...)},
		{"set default workspace", "PUT", o + "/workspaces/{ws}/default", fixed("/workspaces/"+"research/default", ""), allowed(200, adminOnly...)},
		{"list workspace members", "GET", o + "/workspaces/{ws}/members", fixed("/workspaces/research/members", ""), allowed(200, readersOfResearch...)},
		{"add plain workspace member", "PUT", o + "/workspaces/{ws}/members/{principal}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/workspaces/research/members/" + f.newMember("platform_member", "target")), `{"role":"member"}`
		}, allowed(201, invitersOfResearch...)},
		{"add workspace owner", "PUT", o + "/workspaces/{ws}/members/{principal}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/workspaces/research/members/" + f.newMember("platform_member", "target")), `{"role":"owner"}`
		}, allowed(201, ownersOfResearch...)},
		{"add member with can_invite", "PUT", o + "/workspaces/{ws}/members/{principal}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/workspaces/research/members/" + f.newMember("opik_member", "target")), `{"role":"member","can_invite":true}`
		}, allowed(201, ownersOfResearch...)},
		{"re-put plain member (idempotent)", "PUT", o + "/workspaces/{ws}/members/{principal}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/workspaces/research/members/" + f.ids[cMN]), `{"role":"member"}`
		}, allowed(200, invitersOfResearch...)},
		{"remove workspace member", "DELETE", o + "/workspaces/{ws}/members/{principal}", func(f *fixture, _ string) (string, string) {
			u := f.newMember("platform_member", "target")
			_, err := f.store.PutWorkspaceMember(f.ctx, "system:test", f.orgA.ID, f.research.ID, u, plainMembership)
			f.must(err)
			return f.pathA("/workspaces/research/members/" + u), ""
		}, allowed(204, ownersOfResearch...)},

		{"list members", "GET", o + "/members", fixed("/members", ""), allowed(200, everyMember...)},
		{"get member", "GET", o + "/members/{user}", func(f *fixture, _ string) (string, string) { return f.pathA("/members/" + f.ids[cPM]), "" },
			allowed(200, everyMember...)},
		{"change member role", "PATCH", o + "/members/{user}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/members/" + f.newMember("platform_member", "target")), `{"role":"opik_member"}`
		}, allowed(200, adminOnly...)},
		{"remove member", "DELETE", o + "/members/{user}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/members/" + f.newMember("platform_member", "target")), ""
		}, allowed(204, adminOnly...)},
		{"end member sessions", "DELETE", o + "/members/{user}/sessions", func(f *fixture, _ string) (string, string) {
			return f.pathA("/members/" + f.ids[cPM] + "/sessions"), ""
		}, allowed(204, adminOnly...)},

		{"list invitations", "GET", o + "/invitations", fixed("/invitations", ""), allowed(200, everyMember...)},
		{"invite view-only", "POST", o + "/invitations", func(f *fixture, _ string) (string, string) {
			return f.pathA("/invitations"), fmt.Sprintf(`{"email":"new-%d@acme.test","role":"view_only_platform_member"}`, f.next())
		}, allowed(201, viewOnlyGranters...)},
		{"invite platform member", "POST", o + "/invitations", func(f *fixture, _ string) (string, string) {
			return f.pathA("/invitations"), fmt.Sprintf(`{"email":"new-%d@acme.test","role":"platform_member"}`, f.next())
		}, allowed(201, platformOrAbove...)},
		{"invite admin", "POST", o + "/invitations", func(f *fixture, _ string) (string, string) {
			return f.pathA("/invitations"), fmt.Sprintf(`{"email":"new-%d@acme.test","role":"admin"}`, f.next())
		}, allowed(201, adminOnly...)},
		{"invite into research", "POST", o + "/invitations", func(f *fixture, _ string) (string, string) {
			return f.pathA("/invitations"), fmt.Sprintf(`{"email":"new-%d@acme.test","role":"view_only_platform_member","workspaces":[{"workspace_id":"research","role":"member"}]}`, f.next())
		}, allowed(201, invitersOfResearch...)},
		{"invite as owner of research", "POST", o + "/invitations", func(f *fixture, _ string) (string, string) {
			return f.pathA("/invitations"), fmt.Sprintf(`{"email":"new-%d@acme.test","role":"view_only_platform_member","workspaces":[{"workspace_id":"research","role":"owner"}]}`, f.next())
		}, allowed(201, ownersOfResearch...)},
		{"revoke an admin's invitation", "DELETE", o + "/invitations/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/invitations/" + f.newInvitation(f.ids[cAdmin])), ""
		}, allowed(204, adminOnly...)},
		{"revoke one's own invitation", "DELETE", o + "/invitations/{id}", func(f *fixture, caller string) (string, string) {
			actor := f.ids[caller]
			if actor == "" {
				actor = f.ids[cAdmin]
			}
			if caller == cOM {
				// An opik member may invite only opik members (decision 6).
				return f.pathA("/invitations/" + f.newInvitationWithRole(actor, access.RoleOpikMember)), ""
			}
			return f.pathA("/invitations/" + f.newInvitation(actor)), ""
		}, allowed(204, everyMember...)},
		{"resend an admin's invitation", "POST", o + "/invitations/{id}/resend", func(f *fixture, _ string) (string, string) {
			return f.pathA("/invitations/" + f.newInvitation(f.ids[cAdmin]) + "/resend"), ""
		}, allowed(200, adminOnly...)},
		{"resend one's own invitation", "POST", o + "/invitations/{id}/resend", func(f *fixture, caller string) (string, string) {
			actor := f.ids[caller]
			if actor == "" {
				actor = f.ids[cAdmin]
			}
			if caller == cOM {
				return f.pathA("/invitations/" + f.newInvitationWithRole(actor, access.RoleOpikMember) + "/resend"), ""
			}
			return f.pathA("/invitations/" + f.newInvitation(actor) + "/resend"), ""
		}, allowed(200, everyMember...)},

		{"list join requests", "GET", o + "/requests", fixed("/requests", ""), allowed(200, adminOnly...)},
		{"approve join request", "POST", o + "/requests/{id}/approve", func(f *fixture, _ string) (string, string) {
			return f.pathA("/requests/" + f.newJoinRequest() + "/approve"), ""
		}, allowed(200, adminOnly...)},
		{"deny join request", "POST", o + "/requests/{id}/deny", func(f *fixture, _ string) (string, string) {
			return f.pathA("/requests/" + f.newJoinRequest() + "/deny"), ""
		}, allowed(204, adminOnly...)},

		{"list service accounts", "GET", o + "/service-accounts", fixed("/service-accounts", ""), allowed(200, adminOnly...)},
		{"create service account", "POST", o + "/service-accounts", func(f *fixture, _ string) (string, string) {
			return f.pathA("/service-accounts"), fmt.Sprintf(`{"name":"robot-%d","role":"platform_member","workspaces":[{"workspace_id":"research","role":"member"}]}`, f.next())
		}, allowed(201, adminOnly...)},
		{"rename service account", "PATCH", o + "/service-accounts/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/service-accounts/" + f.newServiceAccount()), fmt.Sprintf(`{"name":"renamed-%d"}`, f.next())
		}, allowed(200, adminOnly...)},
		{"delete service account", "DELETE", o + "/service-accounts/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/service-accounts/" + f.newServiceAccount()), ""
		}, allowed(204, adminOnly...)},
		{"list keys", "GET", o + "/service-accounts/{id}/keys", func(f *fixture, _ string) (string, string) {
			return f.pathA("/service-accounts/" + f.ids[cSA] + "/keys"), ""
		}, allowed(200, adminOnly...)},
		{"create key", "POST", o + "/service-accounts/{id}/keys", func(f *fixture, _ string) (string, string) {
			return f.pathA("/service-accounts/" + f.newServiceAccount() + "/keys"), ""
		}, allowed(201, adminOnly...)},
		{"revoke key of account", "DELETE", o + "/service-accounts/{id}/keys/{key}", func(f *fixture, _ string) (string, string) {
			sa := f.newServiceAccount()
			return f.pathA("/service-accounts/" + sa + "/keys/" + f.newKey(sa)), ""
		}, allowed(204, adminOnly...)},
		{"revoke key", "DELETE", o + "/keys/{key}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/keys/" + f.newKey(f.newServiceAccount())), ""
		}, allowed(204, adminOnly...)},

		{"list connections", "GET", o + "/connections", fixed("/connections", ""), allowed(200, adminOnly...)},
		{"create connection", "POST", o + "/connections", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections"), fmt.Sprintf(`{"type":"oidc","name":"okta-%d","oidc":{"issuer":"https://acme.okta.test","client_id":"broker","client_secret":"s3cret"}}`, f.next())
		}, allowed(201, adminOnly...)},
		{"get connection", "GET", o + "/connections/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections/" + f.newConnection()), ""
		}, allowed(200, adminOnly...)},
		{"patch connection", "PATCH", o + "/connections/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections/" + f.newConnection()), `{"enabled":false}`
		}, allowed(200, adminOnly...)},
		{"delete connection", "DELETE", o + "/connections/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections/" + f.newConnection()), ""
		}, allowed(204, adminOnly...)},
		{"connection failures", "GET", o + "/connections/{id}/failures", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections/" + f.newConnection() + "/failures"), ""
		}, allowed(200, adminOnly...)},
		{"SP keys", "GET", o + "/connections/{id}/sp-keys", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections/" + f.spKeysConnection() + "/sp-keys"), ""
		}, allowed(200, adminOnly...)},
		{"rotate SP key", "POST", o + "/connections/{id}/sp-keys/rotate", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections/" + f.spKeysConnection() + "/sp-keys/rotate"), `{"step":"publish"}`
		}, allowed(200, adminOnly...)},
		{"start connection test", "POST", o + "/connections/{id}/test", func(f *fixture, _ string) (string, string) {
			return f.pathA("/connections/" + f.newConnection() + "/test"), ""
		}, allowed(201, adminOnly...)},
		{"get connection test", "GET", o + "/connections/{id}/tests/{tid}", func(f *fixture, _ string) (string, string) {
			id := f.newConnection()
			return f.pathA("/connections/" + id + "/tests/" + f.tester.add(f.orgA.ID, id)), ""
		}, allowed(200, adminOnly...)},
		{"list setup links", "GET", o + "/setup-links", fixed("/setup-links", ""), allowed(200, adminOnly...)},
		{"create setup link", "POST", o + "/setup-links", fixed("/setup-links", `{"expires_in":"1h"}`), allowed(201, adminOnly...)},
		{"revoke setup link", "DELETE", o + "/setup-links/{id}", func(f *fixture, _ string) (string, string) {
			l, _, err := f.store.CreateSetupLink(f.ctx, "system:test", f.orgA.ID, time.Hour)
			f.must(err)
			return f.pathA("/setup-links/" + l.ID), ""
		}, allowed(204, adminOnly...)},

		{"list domains", "GET", o + "/domains", fixed("/domains", ""), allowed(200, adminOnly...)},
		{"add domain", "POST", o + "/domains", func(f *fixture, _ string) (string, string) {
			return f.pathA("/domains"), fmt.Sprintf(`{"domain":"n%d.acme.test"}`, f.next())
		}, allowed(201, adminOnly...)},
		{"delete domain", "DELETE", o + "/domains/{domain}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/domains/" + f.newDomain()), ""
		}, allowed(204, adminOnly...)},
		{"verify domain", "POST", o + "/domains/{domain}/verify", func(f *fixture, _ string) (string, string) {
			return f.pathA("/domains/" + f.newDomain() + "/verify"), ""
		}, allowed(200, adminOnly...)},

		{"list JWT issuers", "GET", o + "/jwt-issuers", fixed("/jwt-issuers", ""), allowed(200, adminOnly...)},
		{"trust JWT issuer", "POST", o + "/jwt-issuers", func(f *fixture, _ string) (string, string) {
			return f.pathA("/jwt-issuers"), fmt.Sprintf(`{"name":"gha","issuer":"https://gh-%d.acme.test","audience":"acme","service_account_id":%q}`, f.next(), f.ids[cSA])
		}, allowed(201, adminOnly...)},
		{"trust JWT issuer for users", "POST", o + "/jwt-issuers", func(f *fixture, _ string) (string, string) {
			return f.pathA("/jwt-issuers"), fmt.Sprintf(`{"name":"idp","issuer":"https://idp-%d.acme.test","audience":"acme","user_claim":"email","role_claim":"ssb_role","max_role":"platform_member"}`, f.next())
		}, allowed(201, adminOnly...)},
		{"get JWT issuer", "GET", o + "/jwt-issuers/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/jwt-issuers/" + f.newJWTIssuer()), ""
		}, allowed(200, adminOnly...)},
		{"JWT issuer failures", "GET", o + "/jwt-issuers/{id}/failures", func(f *fixture, _ string) (string, string) {
			return f.pathA("/jwt-issuers/" + f.newJWTIssuer() + "/failures"), ""
		}, allowed(200, adminOnly...)},
		{"delete JWT issuer", "DELETE", o + "/jwt-issuers/{id}", func(f *fixture, _ string) (string, string) {
			return f.pathA("/jwt-issuers/" + f.newJWTIssuer()), ""
		}, allowed(204, adminOnly...)},

		{"list SCIM tokens", "GET", o + "/scim-tokens", fixed("/scim-tokens", ""), allowed(200, adminOnly...)},
		{"create SCIM token", "POST", o + "/scim-tokens", fixed("/scim-tokens", `{"name":"Entra ID"}`), allowed(201, adminOnly...)},
		{"revoke SCIM token", "DELETE", o + "/scim-tokens/{id}", func(f *fixture, _ string) (string, string) {
			tk, _, err := f.store.CreateSCIMToken(f.ctx, "system:test", f.orgA.ID, "")
			f.must(err)
			return f.pathA("/scim-tokens/" + tk.ID), ""
		}, allowed(204, adminOnly...)},

		{"list webhooks", "GET", o + "/webhooks", fixed("/webhooks", ""), allowed(200, adminOnly...)},
		{"create webhook", "POST", o + "/webhooks", fixed("/webhooks", `{"url":"https://hooks.example.com/in","event_types":["*"]}`), allowed(201, adminOnly...)},
		{"get webhook", "GET", o + "/webhooks/{id}", webhookCase(""), allowed(200, adminOnly...)},
		{"patch webhook", "PATCH", o + "/webhooks/{id}", webhookCase(`{"enabled":false}`), allowed(200, adminOnly...)},
		{"delete webhook", "DELETE", o + "/webhooks/{id}", freshWebhookCase, allowed(204, adminOnly...)},
		{"webhook deliveries", "GET", o + "/webhooks/{id}/deliveries", webhookCase("/deliveries"), allowed(200, adminOnly...)},
		{"retry webhook delivery", "POST", o + "/webhooks/{id}/deliveries/{did}/retry", webhookRetryCase, allowed(202, adminOnly...)},

		{"audit", "GET", o + "/audit", fixed("/audit", ""), allowed(200, adminOnly...)},
	}
}

// TestEveryRouteForEveryCaller is the permission matrix of the admin API: every
// route, tried by every kind of caller, on both backends.
func TestEveryRouteForEveryCaller(t *testing.T) {
	cases := matrixCases()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.method+" "+c.pattern] = true
	}
	for _, rt := range routeTable() {
		if !covered[rt.method+" "+rt.pattern] {
			t.Errorf("route %s %s has no case in the permission matrix", rt.method, rt.pattern)
		}
	}
	backends(t, func(t *testing.T, f *fixture) {
		for _, mc := range cases {
			for _, caller := range allCallers {
				t.Run(mc.name+"/"+caller, func(t *testing.T) {
					path, body := mc.setup(f, caller)
					r := f.do(req{method: mc.method, path: path, auth: f.creds[caller], body: body})
					want := mc.want[caller]
					if r.Code != want {
						t.Fatalf("%s %s as %s: status %d, want %d: %s", mc.method, path, caller, r.Code, want, r.Body.String())
					}
					switch want {
					case http.StatusForbidden:
						code, msg, _ := r.errorCode(t)
						if code != "forbidden" || !strings.HasPrefix(msg, "missing permission ") {
							t.Fatalf("403 must name the missing permission: %s", r.Body.String())
						}
					case http.StatusUnauthorized:
						if got := r.Header().Get("WWW-Authenticate"); got != `Bearer realm="ssobroker"` {
							t.Fatalf("WWW-Authenticate = %q", got)
						}
					}
				})
			}
		}
	})
}

// The 403 of an org.admin route names org.admin exactly, as README.md ("Admin API") shows.
func TestForbiddenNamesThePermission(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cPM, "GET", f.pathA("/billing"), "")
		wantStatus(t, r, 403)
		if got := strings.TrimSpace(r.Body.String()); got != `{"error":{"code":"forbidden","message":"missing permission org.admin"}}` {
			t.Fatalf("body %s", got)
		}
		r = f.as(cMN, "PATCH", f.pathA("/workspaces/research"), `{"name":"research"}`)
		wantStatus(t, r, 403)
		if _, msg, _ := r.errorCode(t); msg != "missing permission workspace.configure" {
			t.Fatalf("message %q", msg)
		}
		r = f.as(cPM, "GET", f.pathA("/workspaces/research"), "")
		if _, msg, _ := r.errorCode(t); msg != "missing permission workspace.read" {
			t.Fatalf("message %q", msg)
		}
	})
}

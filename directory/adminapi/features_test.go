package adminapi

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// pages follows next_cursor from path to the end and returns every item's field.
func pages(t *testing.T, f *fixture, caller, path, field string) (names []string, pageCount int) {
	t.Helper()
	next := ""
	for {
		p := path
		if next != "" {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			p += sep + "cursor=" + url.QueryEscape(next)
		}
		r := f.as(caller, "GET", p, "")
		wantStatus(t, r, 200)
		body := r.json(t)
		for _, it := range body["items"].([]any) {
			names = append(names, fmt.Sprint(it.(map[string]any)[field]))
		}
		pageCount++
		next, _ = body["next_cursor"].(string)
		if next == "" || pageCount > 100 {
			return names, pageCount
		}
	}
}

func TestWorkspaceListPaginationAndSearch(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		for i := range 7 {
			wantStatus(t, f.as(cAdmin, "POST", f.pathA("/workspaces"), fmt.Sprintf(`{"name":"team-%02d"}`, i)), 201)
		}
		all, n := pages(t, f, cAdmin, f.pathA("/workspaces?limit=3"), "name")
		want := []string{"acme", "research", "team-00", "team-01", "team-02", "team-03", "team-04", "team-05", "team-06"}
		if !slices.Equal(all, want) || n < 3 {
			t.Fatalf("pages %d: %v", n, all)
		}
		// ?q= is a case-insensitive substring match, and pages too.
		got, _ := pages(t, f, cAdmin, f.pathA("/workspaces?q=TEAM-0&limit=2"), "name")
		if len(got) != 7 || got[0] != "team-00" {
			t.Fatalf("q=TEAM-0: %v", got)
		}
		got, _ = pages(t, f, cAdmin, f.pathA("/workspaces?q=sear"), "name")
		if !slices.Equal(got, []string{"research"}) {
			t.Fatalf("q=sear: %v", got)
		}
		// Wildcards are literal.
		got, _ = pages(t, f, cAdmin, f.pathA("/workspaces?q=%25"), "name")
		if len(got) != 0 {
			t.Fatalf("q=%%: %v", got)
		}
		// Non-admins see only the workspaces they belong to (decision 5),
		// including the ones they create.
		got, _ = pages(t, f, cPM, f.pathA("/workspaces"), "name")
		if !slices.Equal(got, []string{"acme"}) {
			t.Fatalf("platform member sees %v", got)
		}
		wantStatus(t, f.as(cPM, "POST", f.pathA("/workspaces"), `{"name":"pm-own"}`), 201)
		got, _ = pages(t, f, cPM, f.pathA("/workspaces"), "name")
		if !slices.Equal(got, []string{"acme", "pm-own"}) {
			t.Fatalf("platform member sees %v", got)
		}
		// The creator owns it: they may rename it and add members with flags.
		wantStatus(t, f.as(cPM, "PATCH", f.pathA("/workspaces/pm-own"), `{"name":"pm-renamed"}`), 200)
		wantStatus(t, f.as(cPM, "PUT", f.pathA("/workspaces/pm-renamed/members/"+f.ids[cOM]), `{"role":"member","can_make_public":true}`), 201)
		got, _ = pages(t, f, cSA, f.pathA("/workspaces"), "name")
		if !slices.Equal(got, []string{"research"}) {
			t.Fatalf("service account sees %v", got)
		}
	})
}

func TestMemberListPagination(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ids, n := pages(t, f, cOM, f.pathA("/members?limit=4"), "principal_id")
		if len(ids) != 9 || n < 3 { // 8 users + the service account
			t.Fatalf("%d pages: %v", n, ids)
		}
		if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Fatalf("members repeat or are out of order: %v", ids)
		}
		r := f.as(cAdmin, "GET", f.pathA("/billing"), "")
		wantStatus(t, r, 200)
		b := r.json(t)
		if b["members"] != 8.0 || b["admins"] != 2.0 || b["service_accounts"] != 1.0 || b["pending_requests"] != 0.0 || b["plan"] != "community" {
			t.Fatalf("billing %v", b)
		}
		f.newJoinRequest()
		if b := f.as(cAdmin, "GET", f.pathA("/billing"), "").json(t); b["pending_requests"] != 1.0 {
			t.Fatalf("billing %v", b)
		}
	})
}

func TestAuditFilters(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		time.Sleep(2 * time.Millisecond) // the fixture's own entries are older than start
		start := time.Now().UTC()
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/workspaces"), `{"name":"audited"}`), 201)
		wantStatus(t, f.as(cPM, "POST", f.pathA("/workspaces"), `{"name":"audited-2"}`), 201)
		wantStatus(t, f.as(cAdmin, "PATCH", f.pathA("/workspaces/audited"), `{"name":"audited-1"}`), 200)

		r := f.as(cAdmin, "GET", f.pathA("/audit?action=workspace.create&actor="+f.ids[cPM]), "")
		wantStatus(t, r, 200)
		items := r.json(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["actor"] != f.ids[cPM] {
			t.Fatalf("actor+action: %s", r.Body.String())
		}
		if after := items[0].(map[string]any)["after"].(map[string]any); after["name"] != "audited-2" {
			t.Fatalf("after is not JSON: %v", items[0])
		}
		got, _ := pages(t, f, cAdmin, f.pathA("/audit?since="+url.QueryEscape(start.Format(time.RFC3339Nano))+"&limit=1"), "action")
		if !slices.Equal(got, []string{"workspace.rename", "workspace.create", "workspace.create"}) {
			t.Fatalf("since, newest first: %v", got)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if items := f.as(cAdmin, "GET", f.pathA("/audit?since="+future), "").json(t)["items"].([]any); len(items) != 0 {
			t.Fatalf("since the future: %v", items)
		}
		if items := f.as(cAdmin, "GET", f.pathA("/audit?action=no.such"), "").json(t)["items"].([]any); len(items) != 0 {
			t.Fatalf("unknown action: %v", items)
		}
	})
}

func TestInvitationRules(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		inv := func(caller, role string) response {
			return f.as(caller, "POST", f.pathA("/invitations"), fmt.Sprintf(`{"email":"r%d@acme.test","role":%q}`, f.next(), role))
		}
		// The default role is the org's default_org_role; the default expiry 7 days.
		r := f.as(cPM, "POST", f.pathA("/invitations"), `{"email":"dflt@acme.test"}`)
		wantStatus(t, r, 201)
		body := r.json(t)
		exp, _ := time.Parse(time.RFC3339, body["expires_at"].(string))
		if body["role"] != "platform_member" || body["invited_by"] != f.ids[cPM] || time.Until(exp) < 6*24*time.Hour {
			t.Fatalf("invitation %v", body)
		}
		mine := body["id"].(string)
		// Re-inviting replaces the pending invitation (how a pending role changes).
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/invitations"), `{"email":"dflt@acme.test","role":"opik_member"}`), 201)
		// Non-admins list only their own invitations; admins all of them.
		pmList, _ := pages(t, f, cPM, f.pathA("/invitations"), "id")
		adminList, _ := pages(t, f, cAdmin, f.pathA("/invitations"), "id")
		if !slices.Equal(pmList, []string{mine}) || len(adminList) != 2 {
			t.Fatalf("pm sees %v, admin %v", pmList, adminList)
		}
		// An opik member can grant neither platform_member nor admin: the
		// 403 names what the role holds that the opik member does not.
		r = inv(cOM, "platform_member")
		wantStatus(t, r, 403)
		if _, msg, _ := r.errorCode(t); !strings.HasPrefix(msg, "missing permission experiments.read") {
			t.Fatalf("message %q", msg)
		}
		r = inv(cOM, "admin")
		wantStatus(t, r, 403)
		if _, msg, _ := r.errorCode(t); !strings.HasPrefix(msg, "missing permission ") || !strings.Contains(msg, "org.admin") {
			t.Fatalf("message %q", msg)
		}
		wantStatus(t, inv(cOM, "opik_member"), 201)
		// Decision 6: a view-only member grants view-only only (an opik
		// member may log data, which a view-only member may not).
		wantStatus(t, inv(cVO, "opik_member"), 403)
		wantStatus(t, inv(cVO, "view_only_platform_member"), 201)
		// Someone else's invitation: only admins revoke it.
		other := f.newInvitation(f.ids[cVO])
		wantStatus(t, f.as(cPM, "DELETE", f.pathA("/invitations/"+other), ""), 403)
		wantStatus(t, f.as(cVO, "DELETE", f.pathA("/invitations/"+other), ""), 204)
		wantStatus(t, f.as(cVO, "DELETE", f.pathA("/invitations/"+other), ""), 409) // already revoked
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/invitations/inv_missing"), ""), 404)

		// only_admins_can_invite: non-admins lose org.invite at once.
		wantStatus(t, f.as(cAdmin, "PATCH", f.pathA(""), `{"settings":{"only_admins_can_invite":true}}`), 200)
		for _, c := range []string{cPM, cOM, cVO, cWO, cMI, cMN, cSA} {
			r := inv(c, "view_only_platform_member")
			wantStatus(t, r, 403)
			if _, msg, _ := r.errorCode(t); msg != "missing permission org.invite" {
				t.Fatalf("%s: %q", c, msg)
			}
			wantStatus(t, f.as(c, "GET", f.pathA("/invitations"), ""), 403)
		}
		wantStatus(t, inv(cAdmin, "admin"), 201)
		// Revoking one's own invitation still works: it only takes access away.
		wantStatus(t, f.as(cPM, "DELETE", f.pathA("/invitations/"+f.newInvitation(f.ids[cPM])), ""), 204)
		if me := f.as(cPM, "GET", "/api/v1/me", "").json(t); strings.Contains(fmt.Sprint(me["orgs"]), "org.invite") {
			t.Fatalf("/me still lists org.invite: %v", me)
		}
	})
}

func TestJoinRequests(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		wantStatus(t, f.as(cAdmin, "PATCH", f.pathA(""), `{"settings":{"default_org_role":"opik_member"}}`), 200)
		id := f.newJoinRequest()
		r := f.as(cAdmin, "POST", f.pathA("/requests/"+id+"/approve"), "")
		wantStatus(t, r, 200)
		if r.json(t)["role"] != "opik_member" {
			t.Fatalf("approved with %s", r.Body.String())
		}
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/requests/"+id+"/deny"), ""), 409)
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/requests/req_nope/approve"), ""), 404)
	})
}

func TestServiceAccountLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		r := f.as(cAdmin, "POST", f.pathA("/service-accounts"), `{"name":"deployer","role":"platform_member","workspaces":[{"workspace_id":"research","role":"owner"}]}`)
		wantStatus(t, r, 201)
		sa := r.json(t)["id"].(string)
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/service-accounts"), `{"name":"deployer","role":"platform_member"}`), 409)
		k1 := f.as(cAdmin, "POST", f.pathA("/service-accounts/"+sa+"/keys"), "").json(t)
		k2 := f.as(cAdmin, "POST", f.pathA("/service-accounts/"+sa+"/keys"), "").json(t)
		s1, s2 := k1["secret"].(string), k2["secret"].(string)
		if !strings.HasPrefix(s1, "ssb_") || !strings.HasPrefix(s1, k1["prefix"].(string)) || s1 == s2 {
			t.Fatalf("keys %v %v", k1, k2)
		}
		// The new account owns research: it may rename it with its key.
		wantStatus(t, f.do(req{method: "PATCH", path: f.pathA("/workspaces/research"), auth: s2, body: `{"name":"research"}`}), 200)
		// Rotation: revoke the first key; the second keeps working.
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/service-accounts/"+sa+"/keys/"+k1["id"].(string)), ""), 204)
		wantStatus(t, f.do(req{method: "GET", path: f.pathA(""), auth: s1}), 401)
		wantStatus(t, f.do(req{method: "GET", path: f.pathA(""), auth: s2}), 200)
		r = f.as(cAdmin, "GET", f.pathA("/service-accounts/"+sa+"/keys"), "")
		items := r.json(t)["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["revoked_at"] == nil || strings.Contains(r.Body.String(), s2) {
			t.Fatalf("keys %s", r.Body.String())
		}
		// A key of another account is not found under this one.
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/service-accounts/"+sa+"/keys/"+f.saKeyID), ""), 404)
		// Its role changes like any member's.
		r = f.as(cAdmin, "PATCH", f.pathA("/members/"+sa), `{"role":"admin"}`)
		wantStatus(t, r, 200)
		wantStatus(t, f.do(req{method: "GET", path: f.pathA("/billing"), auth: s2}), 200)
		r = f.as(cAdmin, "PATCH", f.pathA("/service-accounts/"+sa), `{"name":"deployer-2"}`)
		if wantStatus(t, r, 200); r.json(t)["name"] != "deployer-2" {
			t.Fatal(r.Body.String())
		}
		// Service accounts leave by being deleted, not removed.
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/members/"+sa), ""), 422)
	})
}

func TestWorkspaceMembershipChanges(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		u := f.newMember(access.RoleOpikMember, "joiner")
		path := f.pathA("/workspaces/research/members/" + u)
		// Decision 4: the inviter adds a plain member, and may repeat it.
		wantStatus(t, f.as(cMI, "PUT", path, `{"role":"member"}`), 201)
		wantStatus(t, f.as(cMI, "PUT", path, `{"role":"member"}`), 200)
		// Granting a flag, or ownership, is for owners and admins.
		wantStatus(t, f.as(cMI, "PUT", path, `{"role":"member","can_invite":true}`), 403)
		wantStatus(t, f.as(cWO, "PUT", path, `{"role":"member","can_invite":true}`), 200)
		// Once flagged, the inviter cannot take the flag away either.
		wantStatus(t, f.as(cMI, "PUT", path, `{"role":"member"}`), 403)
		r := f.as(cWO, "PUT", path, `{"role":"owner"}`)
		wantStatus(t, r, 200)
		if m := r.json(t); m["can_invite"] != true || m["can_make_public"] != true {
			t.Fatalf("owners always have both flags: %v", m)
		}
		wantStatus(t, f.as(cMI, "DELETE", path, ""), 403)
		wantStatus(t, f.as(cWO, "DELETE", path, ""), 204)
		wantStatus(t, f.as(cWO, "DELETE", path, ""), 404)
		// Only members of the org can join a workspace.
		wantStatus(t, f.as(cAdmin, "PUT", f.pathA("/workspaces/research/members/usr_stranger"), `{"role":"member"}`), 404)
		// "default" names the org's default workspace.
		r = f.as(cPM, "GET", f.pathA("/workspaces/default/members"), "")
		wantStatus(t, r, 200)
	})
}

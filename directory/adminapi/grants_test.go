package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// grantCaller makes a member of org A with role who owns a fresh workspace,
// and returns its id, Authorization header and the workspace.
func (f *fixture) grantCaller(role access.OrgRole, label string) (string, string, directory.Workspace) {
	f.t.Helper()
	id := f.newMember(role, label)
	ws, err := f.store.CreateWorkspace(f.ctx, "system:test", f.orgA.ID, fmt.Sprintf("%s-ws-%d", label, f.next()), id)
	f.must(err)
	return id, "Bearer " + f.verifier.issue(TokenPrincipal{Subject: id, OrgID: f.orgA.ID}), ws
}

// newInvitationWithRole makes a pending invitation by actor with role.
func (f *fixture) newInvitationWithRole(actor string, role access.OrgRole) string {
	f.t.Helper()
	inv, err := f.store.CreateInvitation(f.ctx, actor, directory.NewInvitation{OrgID: f.orgA.ID,
		Email: fmt.Sprintf("invitee-%d@acme.test", f.next()), Role: role})
	f.must(err)
	return inv.ID
}

func wantForbiddenNaming(t *testing.T, r response, perm string) {
	t.Helper()
	wantStatus(t, r, http.StatusForbidden)
	code, msg, _ := r.errorCode(t)
	if code != "forbidden" || !strings.HasPrefix(msg, "missing permission ") || !strings.Contains(msg, perm) {
		t.Fatalf("403 must name the missing permission %s: %s", perm, r.Body.String())
	}
}

// Issue 11 item 5: a view-only member who owns a workspace invited a new
// account as opik_member (which may log data), and an opik member invited
// view-only members (who hold experiment-management rights).
func TestGrantsAboveTheGranterAreRefused(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		invite := func(cred, body string) response {
			return f.do(req{method: "POST", path: f.pathA("/invitations"), auth: cred, body: body})
		}
		_, vo, voWS := f.grantCaller(access.RoleViewOnly, "viewonly-owner")
		_, opik, opikWS := f.grantCaller(access.RoleOpikMember, "opik-owner")

		t.Run("a view-only owner may not invite an opik member", func(t *testing.T) {
			wantForbiddenNaming(t, invite(vo, `{"email":"alt-1@acme.test","role":"opik_member"}`), "workspace.write")
			wantForbiddenNaming(t, invite(vo, fmt.Sprintf(`{"email":"alt-2@acme.test","role":"opik_member","workspaces":[{"workspace_id":%q,"role":"owner"}]}`, voWS.Name)), "workspace.write")
		})
		t.Run("an opik member may not invite a view-only member", func(t *testing.T) {
			wantForbiddenNaming(t, invite(opik, `{"email":"alt-3@acme.test","role":"view_only_platform_member"}`), "experiments.read")
			wantForbiddenNaming(t, invite(opik, `{"email":"alt-4@acme.test","role":"platform_member"}`), "experiments.write")
		})
		t.Run("nobody but an admin invites an admin", func(t *testing.T) {
			wantForbiddenNaming(t, invite(vo, `{"email":"alt-5@acme.test","role":"admin"}`), "org.admin")
			wantForbiddenNaming(t, invite(f.creds[cPM], `{"email":"alt-6@acme.test","role":"admin"}`), "org.admin")
		})
		t.Run("each may invite their own role, into their own workspace", func(t *testing.T) {
			wantStatus(t, invite(vo, fmt.Sprintf(`{"email":"ok-1@acme.test","role":"view_only_platform_member","workspaces":[{"workspace_id":%q,"role":"owner"}]}`, voWS.Name)), 201)
			wantStatus(t, invite(opik, fmt.Sprintf(`{"email":"ok-2@acme.test","role":"opik_member","workspaces":[{"workspace_id":%q,"role":"member"}]}`, opikWS.Name)), 201)
			wantStatus(t, invite(f.creds[cPM], `{"email":"ok-3@acme.test","role":"opik_member"}`), 201)
		})
		t.Run("workspace grants follow the same rule", func(t *testing.T) {
			put := func(cred string, ws directory.Workspace, who, body string) response {
				return f.do(req{method: "PUT", path: f.pathA("/workspaces/" + ws.ID + "/members/" + who), auth: cred, body: body})
			}
			// A view-only owner may not let someone log data in their workspace.
			wantForbiddenNaming(t, put(vo, voWS, f.newMember(access.RolePlatformMember, "target"), `{"role":"member"}`), "workspace.write")
			wantForbiddenNaming(t, put(vo, voWS, f.newMember(access.RoleOpikMember, "target"), `{"role":"member"}`), "workspace.write")
			// An opik owner may not hand out experiment management.
			wantForbiddenNaming(t, put(opik, opikWS, f.newMember(access.RoleViewOnly, "target"), `{"role":"member"}`), "experiments.read")
			// Within their own permissions both may.
			wantStatus(t, put(vo, voWS, f.newMember(access.RoleViewOnly, "target"), `{"role":"owner","can_invite":true}`), 201)
			wantStatus(t, put(opik, opikWS, f.newMember(access.RoleOpikMember, "target"), `{"role":"member","can_make_public":true}`), 201)
			// A member with can_invite adds a plain member, never a flag.
			wantStatus(t, put(f.creds[cMI], f.research, f.newMember(access.RoleOpikMember, "target"), `{"role":"member"}`), 201)
			wantForbiddenNaming(t, put(f.creds[cMI], f.research, f.newMember(access.RoleOpikMember, "target"), `{"role":"member","can_invite":true}`), "workspace.configure")
		})
		t.Run("the directory refuses the same grants whatever the path", func(t *testing.T) {
			voID, _, ws := f.grantCaller(access.RoleViewOnly, "direct")
			_, err := f.store.CreateInvitation(f.ctx, voID, directory.NewInvitation{OrgID: f.orgA.ID, Email: "direct-1@acme.test", Role: access.RoleOpikMember})
			if !errors.Is(err, directory.ErrGrantNotAllowed) {
				t.Fatalf("invitation as opik_member by a view-only member: %v", err)
			}
			_, err = f.store.CreateInvitation(f.ctx, voID, directory.NewInvitation{OrgID: f.orgA.ID, Email: "direct-2@acme.test", Role: access.RoleViewOnly,
				Workspaces: []directory.InvitationWorkspace{{WorkspaceID: f.research.ID, Role: access.WorkspaceMember}}})
			if !errors.Is(err, directory.ErrGrantNotAllowed) {
				t.Fatalf("invitation into a workspace the inviter is not in: %v", err)
			}
			_, err = f.store.PutWorkspaceMember(f.ctx, voID, f.orgA.ID, ws.ID, f.ids[cPM], plainMembership)
			if !errors.Is(err, directory.ErrGrantNotAllowed) {
				t.Fatalf("platform member added to a view-only owner's workspace: %v", err)
			}
			_, err = f.store.SetMemberRole(f.ctx, f.ids[cPM], f.orgA.ID, f.ids[cOM], access.RoleAdmin, 0)
			if !errors.Is(err, directory.ErrGrantNotAllowed) {
				t.Fatalf("admin granted by a platform member: %v", err)
			}
			if _, err = f.store.CreateInvitation(f.ctx, voID, directory.NewInvitation{OrgID: f.orgA.ID, Email: "direct-3@acme.test", Role: access.RoleViewOnly,
				Workspaces: []directory.InvitationWorkspace{{WorkspaceID: ws.ID, Role: access.WorkspaceOwner}}}); err != nil {
				t.Fatalf("a grant within the inviter's permissions: %v", err)
			}
		})
	})
}

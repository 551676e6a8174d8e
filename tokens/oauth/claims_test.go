package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

func samplePrincipalAccess(names ...string) directory.PrincipalAccess {
	pa := directory.PrincipalAccess{
		Org:    directory.Organization{ID: "org_1", Name: "Acme", Settings: directory.OrgSettings{OnlyAdminsCanInvite: true}},
		Member: directory.Member{Role: access.RolePlatformMember},
	}
	for i, n := range names {
		pa.Workspaces = append(pa.Workspaces, directory.WorkspaceMember{WorkspaceID: fmt.Sprintf("ws_%d", i), WorkspaceName: n,
			Membership: access.Membership{Role: access.WorkspaceMember, CanInvite: i%2 == 0, CanMakePublic: i%3 == 0}})
	}
	if len(names) > 0 {
		pa.DefaultWorkspace = directory.Workspace{ID: "ws_0", Name: names[0]}
	}
	return pa
}

func TestWorkspaceNarrowing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		ctx := context.Background()
		research, err := e.store.CreateWorkspace(ctx, "system:test", e.org.ID, "research-"+randomSuffix(), "")
		if err != nil {
			t.Fatal(err)
		}
		private, err := e.store.CreateWorkspace(ctx, "system:test", e.org.ID, "private-"+randomSuffix(), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.PutWorkspaceMember(ctx, "system:test", e.org.ID, research.ID, e.sa.ID,
			access.Membership{Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}); err != nil {
			t.Fatal(err)
		}
		admin, adminSecret := e.newServiceAccount(e.org.ID, "admin-bot", access.RoleAdmin)
		org2, ws2, err := e.store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Other " + randomSuffix()})
		if err != nil {
			t.Fatal(err)
		}
		_ = org2

		// Without narrowing: both memberships, the default first.
		_, c := claimsOf(t, e.token(nil))
		if len(c.Workspaces) != 2 || c.Workspaces[0].ID != e.defaultWS.ID || c.Workspaces[1].ID != research.ID || c.Narrowed != nil {
			t.Fatalf("unnarrowed workspaces %+v", c.Workspaces)
		}

		// A member narrows to a workspace they belong to.
		_, c = claimsOf(t, e.token(url.Values{"workspace": {research.Name}}))
		wantWS := verify.Workspace{ID: research.ID, Name: research.Name, Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}
		if len(c.Workspaces) != 1 || c.Workspaces[0] != wantWS || c.DefaultWorkspace != research.Name ||
			c.Narrowed == nil || *c.Narrowed != (tokens.WorkspaceRef{ID: research.ID, Name: research.Name}) {
			t.Fatalf("narrowed claims %+v", c)
		}
		// "default" means the principal's default workspace.
		_, c = claimsOf(t, e.token(url.Values{"workspace": {"default"}}))
		if c.Narrowed == nil || c.Narrowed.ID != e.defaultWS.ID || len(c.Workspaces) != 1 {
			t.Fatalf("narrowed to default: %+v", c)
		}

		// A non-admin may not narrow to a workspace they are not in, nor to
		// one that does not exist or belongs to another org: the same answer.
		for _, ws := range []string{private.Name, ws2.Name, "no-such-workspace", "Bad Name"} {
			resp, body := e.post(tokens.PathToken, url.Values{"grant_type": {"client_credentials"}, "workspace": {ws}}, e.sa.ID, e.secret)
			if resp.StatusCode != http.StatusBadRequest || body["error"] != tokens.CodeInvalidScope ||
				body["error_description"] != "the token cannot be narrowed to that workspace" {
				t.Errorf("narrow to %s: %d %v", ws, resp.StatusCode, body)
			}
		}

		// An admin may narrow to any workspace of the org, member or not.
		_, c = claimsOf(t, e.tokenFor(admin.ID, adminSecret, url.Values{"workspace": {private.Name}}))
		if c.Org.Role != access.RoleAdmin || len(c.Workspaces) != 0 || c.Narrowed == nil || c.Narrowed.ID != private.ID || c.DefaultWorkspace != private.Name {
			t.Fatalf("admin narrowed: %+v", c)
		}
		// …but not to another org's.
		resp, body := e.post(tokens.PathToken, url.Values{"grant_type": {"client_credentials"}, "workspace": {ws2.Name}}, admin.ID, adminSecret)
		if resp.StatusCode != 400 || body["error"] != tokens.CodeInvalidScope {
			t.Fatalf("admin narrowing to another org: %d %v", resp.StatusCode, body)
		}
		// An admin's unnarrowed token lists only explicit memberships, and the
		// org's default workspace as its default.
		_, c = claimsOf(t, e.tokenFor(admin.ID, adminSecret, nil))
		if len(c.Workspaces) != 0 || c.DefaultWorkspace != e.defaultWS.Name {
			t.Fatalf("admin token %+v", c)
		}
	})
}

package directory_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestConformance runs the one conformance suite against every backend. The
// PostgreSQL run fails, never skips, when the server is not reachable.
func TestConformance(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runConformance(t, func(tb testing.TB) directory.Store { return open(tb) })
		})
	}
}

// runConformance proves the Store contract on the stores open returns. Most
// rules share one store and keep apart by creating their own organizations
// with unique names; rules about deployment-wide state open a fresh store.
func runConformance(t *testing.T, open func(testing.TB) directory.Store) {
	s := open(t)
	groups := []struct {
		name string
		run  func(t *testing.T, s directory.Store, open func(testing.TB) directory.Store)
	}{
		{"organizations", testOrganizations},
		{"workspaces", testWorkspaces},
		{"members", testMembers},
		{"member queries", testMemberQueries},
		{"concurrency", testConcurrency},
		{"workspace members", testWorkspaceMembers},
		{"invitations", testInvitations},
		{"join requests", testJoinRequests},
		{"service accounts and API keys", testServiceAccounts},
		{"connections", testConnections},
		{"domains", testDomains},
		{"clients", testClients},
		{"signing keys and revoked tokens", testSigningKeys},
		{"audit log", testAudit},
		{"tenant isolation", testTenantIsolation},
		{"principal access", testPrincipalAccess},
		{"just-in-time provisioning", testProvisioning},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, s, open)
		})
	}
}

// --- helpers shared by every conformance file ---

var bg = context.Background()

const actorSystem = "system:test"

// tok returns a short random lowercase token that keeps names unique in a shared store.
func tok() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// must returns v, failing the test when err is not nil.
func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func wantNotFound(t testing.TB, err error, ref string) {
	t.Helper()
	var nf *directory.NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("want *NotFoundError naming %q, got %v", ref, err)
	}
	if ref != "" && nf.Ref != ref && !strings.Contains(nf.Error(), ref) {
		t.Fatalf("not-found error %q does not name %q", nf.Error(), ref)
	}
}

func wantConflict(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, directory.ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
}

func wantInvariant(t testing.TB, err error, rule string) {
	t.Helper()
	var ie *directory.InvariantError
	if !errors.As(err, &ie) || !errors.Is(err, directory.ErrInvariant) {
		t.Fatalf("want *InvariantError %s, got %v", rule, err)
	}
	if ie.Rule != rule {
		t.Fatalf("want invariant rule %s, got %s (%v)", rule, ie.Rule, err)
	}
	if ie.Message == "" {
		t.Fatalf("invariant %s has no message for a person", rule)
	}
}

func wantInvalid(t testing.TB, err error, field string) {
	t.Helper()
	var ie *directory.InvalidError
	if !errors.As(err, &ie) || !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("want *InvalidError on %s, got %v", field, err)
	}
	if ie.Field != field {
		t.Fatalf("want invalid field %s, got %s (%v)", field, ie.Field, err)
	}
}

func wantIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("want %v, got %v", target, err)
	}
}

// newOrg creates an organization with a unique name.
func newOrg(t testing.TB, s directory.Store) (directory.Organization, directory.Workspace) {
	t.Helper()
	o, w, err := s.CreateOrg(bg, actorSystem, directory.NewOrg{Name: "Org " + tok()})
	noErr(t, err)
	return o, w
}

// newUser creates a user with a unique verified email.
func newUser(t testing.TB, s directory.Store) directory.User {
	t.Helper()
	id := tok()
	return must[directory.User](t)(s.CreateUser(bg, actorSystem, directory.NewUser{
		Email: "user-" + id + "@example.com", EmailVerified: true, Name: "User " + id,
	}))
}

// newMember creates a user and makes it a member of the org with role.
func newMember(t testing.TB, s directory.Store, orgID string, role access.OrgRole) directory.User {
	t.Helper()
	u := newUser(t, s)
	must[directory.Member](t)(s.AddMember(bg, actorSystem, orgID, u.ID, role))
	return u
}

// newWorkspace creates a workspace with a unique name in the org.
func newWorkspace(t testing.TB, s directory.Store, orgID string) directory.Workspace {
	t.Helper()
	return must[directory.Workspace](t)(s.CreateWorkspace(bg, actorSystem, orgID, "ws-"+tok(), ""))
}

// newServiceAccount creates a service account with role and no workspaces.
func newServiceAccount(t testing.TB, s directory.Store, orgID string, role access.OrgRole) directory.ServiceAccount {
	t.Helper()
	return must[directory.ServiceAccount](t)(s.CreateServiceAccount(bg, actorSystem, directory.NewServiceAccount{
		OrgID: orgID, Name: "robot " + tok(), Role: role,
	}))
}

// eventually polls cond every 20ms until it holds or limit passes.
func eventually(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

func wsNames(ws []directory.Workspace) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name
	}
	return out
}

func wsMemberNames(ws []directory.WorkspaceMember) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.WorkspaceName
	}
	return out
}

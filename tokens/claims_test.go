package tokens

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
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

// FuzzPayloadMatchesEncodingJSON: the hand-written encoder on the hot path
// writes exactly what encoding/json writes for the same claims.
func FuzzPayloadMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"plain", `quo"te\back`, "<html>&amp;", "ctl\x00\x01\x1f\x7f", "ünïcødé ✓", "\u2028\u2029", "bad\xff\xfeutf8", "\t\n\r\b\f"} {
		f.Add(s, s, "scope "+s)
	}
	f.Fuzz(func(t *testing.T, orgName, saName, scope string) {
		pa := samplePrincipalAccess("research", orgName, "x")
		pa.Org.Name = orgName
		g := grant{sub: "sa_x" + saName, clientID: "sa_" + saName, aud: saName, scope: scope, name: saName, access: &pa,
			first: 1, max: 2, truncated: true, deflt: orgName, narrowed: &WorkspaceRef{ID: "ws_" + orgName, Name: saName}}
		got := g.appendPayload(nil, "https://iss/"+orgName, 1700000000, 1700000600, []byte("AAAAAAAAAAAAAAAAAAAAAA"))
		want, err := json.Marshal(g.claims("https://iss/"+orgName, 1700000000, 1700000600, "AAAAAAAAAAAAAAAAAAAAAA"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("encoder differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	})
}

func TestPayloadWithoutOptionalClaims(t *testing.T) {
	pa := samplePrincipalAccess()
	g := grant{sub: "usr_1", clientID: "cli_1", aud: "cli_1", access: &pa, first: -1, max: 5}
	got := g.appendPayload(nil, "https://iss", 1, 2, []byte("j"))
	want, _ := json.Marshal(g.claims("https://iss", 1, 2, "j"))
	if string(got) != string(want) || strings.Contains(string(got), "principal_type") {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

// TestTokenSizeIsBounded measures a token for a principal in 200 workspaces
// with the longest names the contract allows, and checks the documented cap.
func TestTokenSizeIsBounded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		ctx := context.Background()
		const n = 200
		sa, secret := e.newServiceAccount(e.org.ID, strings.Repeat("n", 100), access.RolePlatformMember)
		prefix := randomSuffix() + "-"
		for i := range n {
			// 63 characters: the longest valid workspace name.
			name := fmt.Sprintf("%s%0*d", prefix, 63-len(prefix), i)
			ws, err := e.store.CreateWorkspace(ctx, "system:test", e.org.ID, name, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.PutWorkspaceMember(ctx, "system:test", e.org.ID, ws.ID, sa.ID,
				access.Membership{Role: access.WorkspaceMember, CanInvite: true, CanMakePublic: true}); err != nil {
				t.Fatal(err)
			}
		}
		tok := e.tokenFor(sa.ID, secret, nil)
		_, c := claimsOf(t, tok)
		if len(c.Workspaces) < 25 || len(c.Workspaces) > DefaultMaxTokenWorkspaces || !c.WorkspacesTruncated {
			t.Fatalf("%d workspaces listed, truncated=%v", len(c.Workspaces), c.WorkspacesTruncated)
		}
		if len(tok) > MaxAccessTokenBytes {
			t.Fatalf("token is %d bytes, over the documented %d", len(tok), MaxAccessTokenBytes)
		}
		// The whole header must fit the common 8 KiB request-header-line limit.
		if hdr := len("Authorization: Bearer ") + len(tok); hdr > 8192 {
			t.Fatalf("Authorization header of %d bytes", hdr)
		}

		// What it would be without the cap, for the documentation.
		pa, err := e.store.PrincipalAccess(ctx, e.org.ID, sa.ID)
		if err != nil {
			t.Fatal(err)
		}
		g := grant{sub: sa.ID, clientID: sa.ID, aud: sa.ID, name: sa.Name, access: &pa, first: -1, max: n}
		payload := g.appendPayload(nil, e.issuer.cfg.Issuer, 1, 2, []byte("AAAAAAAAAAAAAAAAAAAAAA"))
		full, err := e.keys.cur.Load().signer.appendJWS(nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("200 workspaces with 63-char names: capped token %d bytes (%d listed), uncapped %d bytes", len(tok), len(c.Workspaces), len(full))

		// Narrowing always fits.
		narrowed := e.tokenFor(sa.ID, secret, url.Values{"workspace": {c.Workspaces[3].Name}})
		if _, nc := claimsOf(t, narrowed); len(nc.Workspaces) != 1 || nc.WorkspacesTruncated {
			t.Fatalf("narrowed: %+v", nc)
		}
	})
}

// TestWorstCaseTokenStaysUnderTheBound: every name at its longest and full of
// characters JSON escapes six-fold, 200 memberships, for each algorithm.
func TestWorstCaseTokenStaysUnderTheBound(t *testing.T) {
	for _, alg := range []Algorithm{ES256, EdDSA, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, directorytest.SQLite(t), withAlgorithm(alg))
			var names []string
			for i := range 200 {
				names = append(names, fmt.Sprintf("%063d", i))
			}
			pa := samplePrincipalAccess(names...)
			for i := range pa.Workspaces {
				pa.Workspaces[i].WorkspaceID = fmt.Sprintf("ws_%022d", i)
				pa.Workspaces[i].CanInvite, pa.Workspaces[i].CanMakePublic = true, true
			}
			pa.DefaultWorkspace = directory.Workspace{ID: pa.Workspaces[150].WorkspaceID, Name: pa.Workspaces[150].WorkspaceName}
			pa.Org.Name = strings.Repeat("<", 100)
			evil := strings.Repeat("&", 100)
			g := grant{sub: "sa_" + strings.Repeat("S", 22), clientID: "sa_" + strings.Repeat("S", 22), aud: "sa_" + strings.Repeat("S", 22),
				name: evil, access: &pa}
			if err := e.issuer.resolveWorkspaces(context.Background(), &g, ""); err != nil {
				t.Fatal(err)
			}
			tok, _, err := e.issuer.mint(&g, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, c := claimsOf(t, string(tok))
			t.Logf("%s worst case: %d bytes, %d workspaces listed", alg, len(tok), len(c.Workspaces))
			if len(tok) > MaxAccessTokenBytes || !c.WorkspacesTruncated || len(c.Workspaces) < 10 {
				t.Fatalf("%d bytes, %d listed, truncated %v", len(tok), len(c.Workspaces), c.WorkspacesTruncated)
			}
			if c.Workspaces[0].ID != pa.DefaultWorkspace.ID || c.DefaultWorkspace != pa.DefaultWorkspace.Name {
				t.Fatal("the default workspace must be listed first")
			}

			// Typical names: the count cap applies, not the byte bound.
			pa = samplePrincipalAccess(names...)
			for i := range pa.Workspaces {
				pa.Workspaces[i].WorkspaceName = fmt.Sprintf("team-%03d", i)
			}
			g = grant{sub: "sa_1", clientID: "sa_1", aud: "sa_1", access: &pa}
			if err := e.issuer.resolveWorkspaces(context.Background(), &g, ""); err != nil {
				t.Fatal(err)
			}
			tok, _, _ = e.issuer.mint(&g, nil)
			_, c = claimsOf(t, string(tok))
			t.Logf("%s typical names: %d bytes, %d workspaces listed", alg, len(tok), len(c.Workspaces))
			if len(c.Workspaces) != DefaultMaxTokenWorkspaces || !c.WorkspacesTruncated {
				t.Fatalf("%d listed", len(c.Workspaces))
			}
		})
	}
}

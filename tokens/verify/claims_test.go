package verify

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
)

// apiExample is the claims example of README.md ("Access tokens"), with the service-account and
// settings fields added.
const apiExample = `{
  "iss": "https://sso.example.com", "sub": "usr_1", "aud": "cli_1", "client_id": "cli_1",
  "exp": 1772366700, "iat": 1772366100, "jti": "j1", "scope": "openid profile email", "sid": "s1",
  "email": "ada@acme.com", "name": "Ada Lovelace", "idp": "conn_1", "amr": ["saml"],
  "org": {"id": "org_1", "name": "acme", "role": "platform_member", "only_admins_can_invite": true},
  "workspaces": [{"id": "ws_1", "name": "research", "role": "owner"},
                 {"id": "ws_2", "name": "prod", "role": "member", "can_invite": true, "can_make_public": true}],
  "default_workspace": "research"
}`

func TestClaimsParseTheAPIExample(t *testing.T) {
	var c Claims
	must(t, json.Unmarshal([]byte(apiExample), &c))
	want := Claims{
		Issuer: "https://sso.example.com", Subject: "usr_1", Audience: Audience{"cli_1"}, ClientID: "cli_1",
		ExpiresAt: 1772366700, IssuedAt: 1772366100, JWTID: "j1", Scope: "openid profile email", SessionID: "s1",
		Email: "ada@acme.com", Name: "Ada Lovelace", IdP: "conn_1", AMR: []string{"saml"},
		Org: Org{ID: "org_1", Name: "acme", Role: access.RolePlatformMember, OnlyAdminsCanInvite: true},
		Workspaces: []Workspace{
			{ID: "ws_1", Name: "research", Role: access.WorkspaceOwner},
			{ID: "ws_2", Name: "prod", Role: access.WorkspaceMember, CanInvite: true, CanMakePublic: true},
		},
		DefaultWorkspace: "research",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestClaimsRoundTripThroughJSON(t *testing.T) {
	sa := validClaims()
	sa.Subject, sa.PrincipalType, sa.Email, sa.Name, sa.AMR, sa.IdP, sa.SessionID = "sa_1", PrincipalServiceAccount, "", "", nil, "", ""
	sa.NotBefore = sa.IssuedAt
	sa.Audience = Audience{"cli_a", "cli_b"}
	for name, c := range map[string]*Claims{"user": validClaims(), "service account": sa, "empty": {}} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(c)
			must(t, err)
			var back Claims
			must(t, json.Unmarshal(b, &back))
			if !reflect.DeepEqual(&back, c) {
				t.Fatalf("round trip changed claims:\n%s\n got %+v\nwant %+v", b, back, *c)
			}
		})
	}
}

func TestClaimsMarshalAsAPIShowsThem(t *testing.T) {
	b, err := json.Marshal(validClaims())
	must(t, err)
	s := string(b)
	for _, want := range []string{`"aud":"cli_app"`, `"org":{"id":"org_acme","name":"acme","role":"platform_member"}`,
		`{"id":"ws_research","name":"research","role":"owner"}`, `"can_invite":true`, `"default_workspace":"research"`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s: %s", want, s)
		}
	}
	for _, absent := range []string{"nbf", "principal_type", "only_admins_can_invite"} {
		if strings.Contains(s, absent) {
			t.Errorf("JSON has zero-valued %s: %s", absent, s)
		}
	}
	many, err := json.Marshal(Audience{"a", "b"})
	must(t, err)
	if string(many) != `["a","b"]` {
		t.Errorf("two audiences marshal as %s", many)
	}
}

func TestAudienceUnmarshalAcceptsStringArrayOrNull(t *testing.T) {
	for in, want := range map[string]Audience{`"a"`: {"a"}, `["a","b"]`: {"a", "b"}, `[]`: {}, `null`: nil} {
		var a Audience
		must(t, json.Unmarshal([]byte(in), &a))
		if !reflect.DeepEqual(a, want) {
			t.Errorf("%s: got %#v, want %#v", in, a, want)
		}
	}
	for _, in := range []string{`1`, `{"a":1}`, `[1]`, `true`, `["a",null,3]`} {
		var a Audience
		if err := json.Unmarshal([]byte(in), &a); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

// TestClaimsPermissionsAreAccessEffective proves the claims give exactly
// what the directory's permission function gives, for every org role,
// membership and setting.
func TestClaimsPermissionsAreAccessEffective(t *testing.T) {
	memberships := map[string]*access.Membership{
		"not a member":          nil,
		"member":                {Role: access.WorkspaceMember},
		"member can_invite":     {Role: access.WorkspaceMember, CanInvite: true},
		"member can_make_publ.": {Role: access.WorkspaceMember, CanMakePublic: true},
		"member both flags":     {Role: access.WorkspaceMember, CanInvite: true, CanMakePublic: true},
		"owner":                 {Role: access.WorkspaceOwner},
	}
	for _, role := range append(access.OrgRoles(), "bogus") {
		for mname, m := range memberships {
			for _, onlyAdmins := range []bool{false, true} {
				c := &Claims{Org: Org{ID: "org_1", Role: role, OnlyAdminsCanInvite: onlyAdmins}, DefaultWorkspace: "ws"}
				if m != nil {
					c.Workspaces = []Workspace{{ID: "ws_1", Name: "ws", Role: m.Role, CanInvite: m.CanInvite, CanMakePublic: m.CanMakePublic}}
				}
				settings := access.Settings{OnlyAdminsCanInvite: onlyAdmins}
				want := access.Effective(role, m, settings)
				for _, name := range []string{"ws", "default", "Default"} {
					if got := c.Permissions(name); got != want {
						t.Errorf("%s, %s, only_admins_can_invite=%v, %q: got %v, want %v", role, mname, onlyAdmins, name, got, want)
					}
				}
				if got, want := c.Permissions(""), access.OrgPermissions(role, settings); got != want {
					t.Errorf("%s org-scoped: got %v, want %v", role, got, want)
				}
			}
		}
	}
}

func TestClaimsPermissionsRules(t *testing.T) {
	c := validClaims() // platform member: owner of research, can_invite in prod, can_make_public in demo
	cases := []struct {
		rule string
		ws   string
		p    access.Permission
		want bool
	}{
		{"an owner approves registry changes", "research", access.RegistryApprove, true},
		{"a plain member does not", "prod", access.RegistryApprove, false},
		{"can_invite grants workspace.invite", "prod", access.WorkspaceInvite, true},
		{"can_invite does not grant make_public", "prod", access.ProjectMakePublic, false},
		{"can_make_public grants project.make_public", "demo", access.ProjectMakePublic, true},
		{"no access to an unlisted workspace", "elsewhere", access.WorkspaceRead, false},
		{"org.invite without the setting", "", access.OrgInvite, true},
		{"default is the default workspace", "default", access.WorkspaceConfigure, true},
		{"names are exact", "Research", access.WorkspaceRead, false},
	}
	for _, tc := range cases {
		if got := c.Permissions(tc.ws).Has(tc.p); got != tc.want {
			t.Errorf("%s: Permissions(%q).Has(%v) = %v", tc.rule, tc.ws, tc.p, got)
		}
	}
	c.Org.OnlyAdminsCanInvite = true
	if c.Permissions("research").Has(access.OrgInvite) {
		t.Error("only_admins_can_invite does not withhold org.invite")
	}
	admin := &Claims{Org: Org{ID: "org_1", Role: access.RoleAdmin, OnlyAdminsCanInvite: true}}
	for _, p := range access.AllPermissions() {
		if !admin.Permissions("any-workspace").Has(p) {
			t.Errorf("admin lacks %v in an unlisted workspace", p)
		}
	}
	if admin.Permissions("").Has(access.WorkspaceRead) {
		t.Error("the org-scoped set holds a workspace permission")
	}
}

func TestClaimsWorkspace(t *testing.T) {
	c := validClaims()
	if w, ok := c.Workspace("prod"); !ok || w.ID != "ws_prod" {
		t.Errorf("Workspace(prod) = %+v, %v", w, ok)
	}
	if w, ok := c.Workspace("DEFAULT"); !ok || w.Name != "research" {
		t.Errorf("Workspace(DEFAULT) = %+v, %v", w, ok)
	}
	if _, ok := c.Workspace("nope"); ok {
		t.Error("Workspace(nope) found")
	}
	c.DefaultWorkspace = ""
	if _, ok := c.Workspace("default"); ok {
		t.Error("default found without default_workspace")
	}
	if _, ok := c.Workspace(""); ok {
		t.Error(`Workspace("") found`)
	}
}

func TestClaimsIsServiceAccount(t *testing.T) {
	c := validClaims()
	if c.IsServiceAccount() {
		t.Error("user token reported as service account")
	}
	c.PrincipalType = PrincipalServiceAccount
	if !c.IsServiceAccount() {
		t.Error("service-account token not recognized")
	}
}

func TestNarrowedTokenGrantsOnlyItsWorkspace(t *testing.T) {
	c := &Claims{
		Org:              Org{ID: "org_1", Name: "acme", Role: access.RoleAdmin},
		Workspaces:       []Workspace{{ID: "ws_1", Name: "research", Role: access.WorkspaceMember}},
		DefaultWorkspace: "research",
		Narrowed:         &WorkspaceRef{ID: "ws_1", Name: "research"},
	}
	if got := c.Permissions("research"); !got.Has(access.WorkspaceWrite) || got.Has(access.OrgAdmin) {
		t.Fatalf("narrowed admin in its workspace: %s", got)
	}
	if got := c.Permissions("default"); !got.Has(access.WorkspaceRead) {
		t.Fatalf("narrowed token refused its own workspace by the name default: %s", got)
	}
	for _, other := range []string{"billing", "", "RESEARCH"} {
		if got := c.Permissions(other); got != 0 {
			t.Errorf("narrowed admin token grants %s in %q", got, other)
		}
	}
	c.Org.Role = access.RolePlatformMember
	if got := c.Permissions("research"); got.Has(access.OrgCreateWorkspace) || !got.Has(access.ExperimentsWrite) {
		t.Fatalf("narrowed member: %s", got)
	}
}

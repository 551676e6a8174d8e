package oidc

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/idp"
)

func claimsOf(t *testing.T, js string) map[string]json.RawMessage {
	t.Helper()
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClaimMapping(t *testing.T) {
	std := claimNamesFrom(nil)
	for _, tc := range []struct {
		name    string
		names   claimNames
		claims  string
		require bool
		want    idp.Identity
		err     error
	}{
		{name: "standard claims", names: std, require: true,
			claims: `{"sub":"u1","email":"a@x.test","email_verified":true,"name":"Ada","groups":["g1","g2"],"amr":["pwd","mfa"]}`,
			want:   idp.Identity{Issuer: "iss", Subject: "u1", Email: "a@x.test", EmailVerified: true, Name: "Ada", Groups: []string{"g1", "g2"}, AMR: []string{"pwd", "mfa"}}},
		{name: "email_verified as a string (Cognito style)", names: std, require: true,
			claims: `{"sub":"u1","email":"a@x.test","email_verified":"true"}`,
			want:   idp.Identity{Issuer: "iss", Subject: "u1", Email: "a@x.test", EmailVerified: true}},
		{name: "name from given and family names", names: std, require: true,
			claims: `{"sub":"u1","email":"a@x.test","email_verified":true,"given_name":"Ada","family_name":"Lovelace"}`,
			want:   idp.Identity{Issuer: "iss", Subject: "u1", Email: "a@x.test", EmailVerified: true, Name: "Ada Lovelace"}},
		{name: "a single group as a string", names: std, require: true,
			claims: `{"sub":"u1","email":"a@x.test","email_verified":true,"groups":"admins"}`,
			want:   idp.Identity{Issuer: "iss", Subject: "u1", Email: "a@x.test", EmailVerified: true, Groups: []string{"admins"}}},
		{name: "non-string groups are skipped", names: std, require: true,
			claims: `{"sub":"u1","email":"a@x.test","email_verified":true,"groups":["a",1,null,{"x":1},""]}`,
			want:   idp.Identity{Issuer: "iss", Subject: "u1", Email: "a@x.test", EmailVerified: true, Groups: []string{"a"}}},
		{name: "mapped claim names (Entra ID style)", require: true,
			names:  claimNamesFrom(map[string]string{"subject": "oid", "email": "preferred_username", "email_verified": "xms_edov", "groups": "roles"}),
			claims: `{"sub":"pairwise","oid":"0000-1","preferred_username":"a@x.test","xms_edov":true,"roles":["r"]}`,
			want:   idp.Identity{Issuer: "iss", Subject: "0000-1", Email: "a@x.test", EmailVerified: true, Groups: []string{"r"}}},
		{name: "a numeric subject", names: claimNamesFrom(map[string]string{"subject": "uid"}), require: true,
			claims: `{"sub":"x","uid":12345,"email":"a@x.test","email_verified":true}`,
			want:   idp.Identity{Issuer: "iss", Subject: "12345", Email: "a@x.test", EmailVerified: true}},
		{name: "no subject", names: std, require: true, claims: `{"email":"a@x.test","email_verified":true}`, err: idp.ErrMissingClaim},
		{name: "an empty subject", names: std, require: true, claims: `{"sub":"","email":"a@x.test","email_verified":true}`, err: idp.ErrMissingClaim},
		{name: "a non-integer numeric subject", names: std, require: true, claims: `{"sub":1.5,"email":"a@x.test","email_verified":true}`, err: idp.ErrMissingClaim},
		{name: "no email", names: std, require: true, claims: `{"sub":"u1","email_verified":true}`, err: idp.ErrMissingClaim},
		{name: "email_verified false", names: std, require: true, claims: `{"sub":"u1","email":"a@x.test","email_verified":false}`, err: idp.ErrEmailNotVerified},
		{name: "email_verified absent", names: std, require: true, claims: `{"sub":"u1","email":"a@x.test"}`, err: idp.ErrEmailNotVerified},
		{name: "email_verified a non-boolean", names: std, require: true, claims: `{"sub":"u1","email":"a@x.test","email_verified":1}`, err: idp.ErrEmailNotVerified},
		{name: "relaxed: email_verified false is admitted as unverified", names: std, require: false,
			claims: `{"sub":"u1","email":"a@x.test","email_verified":false}`,
			want:   idp.Identity{Issuer: "iss", Subject: "u1", Email: "a@x.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.names.identity("iss", claimsOf(t, tc.claims), tc.require)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Issuer != tc.want.Issuer || got.Subject != tc.want.Subject || got.Email != tc.want.Email ||
				got.EmailVerified != tc.want.EmailVerified || got.Name != tc.want.Name ||
				!slices.Equal(got.Groups, tc.want.Groups) || !slices.Equal(got.AMR, tc.want.AMR) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestGroupsAreBounded(t *testing.T) {
	groups := make([]string, 5000)
	for i := range groups {
		groups[i] = "g"
	}
	raw, _ := json.Marshal(map[string]any{"sub": "u", "email": "a@x.test", "email_verified": true, "groups": groups})
	id, err := claimNamesFrom(nil).identity("iss", claimsOf(t, string(raw)), true)
	if err != nil || len(id.Groups) != maxGroups {
		t.Fatalf("%d groups kept, err %v", len(id.Groups), err)
	}
}

func TestUserInfoIsWantedWhenTheIDTokenLacksAClaim(t *testing.T) {
	c := &Connector{cfg: Config{UserInfo: UserInfoAuto}, claims: claimNamesFrom(nil)}
	full := claimsOf(t, `{"sub":"u","email":"a@x.test","email_verified":true,"name":"A","groups":["g"]}`)
	if c.wantUserInfo(full) {
		t.Fatal("asked userinfo with every claim present")
	}
	if !c.wantUserInfo(claimsOf(t, `{"sub":"u"}`)) {
		t.Fatal("did not ask userinfo with only sub (oidc-provider's default)")
	}
	noGroups := claimsOf(t, `{"sub":"u","email":"a@x.test","email_verified":true,"name":"A"}`)
	if c.wantUserInfo(noGroups) {
		t.Fatal("asked userinfo for groups the connection does not map")
	}
	c.useGroups = true
	if !c.wantUserInfo(noGroups) {
		t.Fatal("did not ask userinfo for groups the connection maps")
	}
	c.cfg.UserInfo = UserInfoNever
	if c.wantUserInfo(claimsOf(t, `{"sub":"u"}`)) {
		t.Fatal("userinfo: never asked userinfo")
	}
	c.cfg.UserInfo = UserInfoAlways
	if !c.wantUserInfo(full) {
		t.Fatal("userinfo: always did not ask userinfo")
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(json.RawMessage(`{"issuer":"https://idp.example.com","client_id":"c"}`))
	if err != nil || !slices.Equal(c.Scopes, []string{"openid", "email", "profile"}) || c.UserInfo != UserInfoAuto || c.RequireEmailVerified != nil {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, bad := range []string{
		``, `null`, `[]`, `{"issuer":"ftp://x","client_id":"c"}`, `{"issuer":"https://x?a=1","client_id":"c"}`,
		`{"issuer":"https://x","client_id":""}`, `{"issuer":"https://x","client_id":"c","scopes":["email"]}`,
		`{"issuer":"https://x","client_id":"c","userinfo":"sometimes"}`,
	} {
		if _, err := ParseConfig(json.RawMessage(bad)); !errors.Is(err, idp.ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", bad, err)
		}
	}
}

// The admin API writes the common part of the configuration around the
// section this package's Configurator prepared; this package reads both. A
// field renamed on one side fails here.
func TestReadsWhatTheAdminAPIWrites(t *testing.T) {
	section, err := json.Marshal(Config{Issuer: "https://idp.example.com", ClientID: "cid", ClientSecretSealed: []byte{1, 2, 3}, Scopes: []string{"openid", "email", "groups"}})
	if err != nil {
		t.Fatal(err)
	}
	written := adminapi.ConnectionConfig{
		OIDC:             section,
		AttributeMapping: map[string]string{"subject": "oid", "groups": "roles"},
		GroupRoles:       map[string]access.OrgRole{"admins": access.RoleAdmin},
	}
	raw, err := json.Marshal(written)
	if err != nil {
		t.Fatal(err)
	}
	common, err := idp.ParseConnectionConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(common.OIDC)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://idp.example.com" || c.ClientID != "cid" || string(c.ClientSecretSealed) != "\x01\x02\x03" ||
		!slices.Equal(c.Scopes, []string{"openid", "email", "groups"}) {
		t.Fatalf("oidc section read as %+v", c)
	}
	if common.AttributeMapping["subject"] != "oid" || common.GroupRoles["admins"] != access.RoleAdmin {
		t.Fatalf("common part read as %+v", common)
	}
	if n := claimNamesFrom(common.AttributeMapping); n.subject != "oid" || n.groups != "roles" || n.email != "email" {
		t.Fatalf("mapping %+v", n)
	}
}

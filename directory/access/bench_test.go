package access_test

import (
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
)

// sink keeps the compiler from discarding the evaluated sets.
var sink access.Set

// Effective runs on every admin API call and every token mint, so it must
// stay allocation-free and well under a microsecond.
func BenchmarkEffective(b *testing.B) {
	cases := []struct {
		name string
		role access.OrgRole
		m    *access.Membership
		s    access.Settings
	}{
		{"admin/not a member", "admin", nil, access.Settings{}},
		{"platform_member/owner", "platform_member", &access.Membership{Role: "owner"}, access.Settings{}},
		{"view_only_platform_member/member with flags", "view_only_platform_member",
			&access.Membership{Role: "member", CanInvite: true, CanMakePublic: true}, access.Settings{OnlyAdminsCanInvite: true}},
		{"opik_member/member", "opik_member", &access.Membership{Role: "member"}, access.Settings{}},
		{"platform_member/not a member", "platform_member", nil, access.Settings{OnlyAdminsCanInvite: true}},
		{"unknown role", "superadmin", &access.Membership{Role: "owner"}, access.Settings{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var s access.Set
			for b.Loop() {
				s = access.Effective(c.role, c.m, c.s)
			}
			sink = s
		})
	}
}

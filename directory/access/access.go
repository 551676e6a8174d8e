// Package access holds the organization and workspace roles of ssobroker and
// the one function that turns them into permissions.
//
// It imports nothing but the standard library so that a service verifying
// ssobroker tokens can compute permissions from claims without pulling in any
// storage code.
package access

import (
	"math/bits"
	"strings"
)

// OrgRole is a principal's role in an organization.
type OrgRole string

// The four organization roles, from most to least privileged for the
// experiment-management part of the platform.
const (
	RoleAdmin          OrgRole = "admin"
	RolePlatformMember OrgRole = "platform_member"
	RoleOpikMember     OrgRole = "opik_member"
	RoleViewOnly       OrgRole = "view_only_platform_member"
)

// OrgRoles lists every valid organization role.
func OrgRoles() []OrgRole {
	return []OrgRole{RoleAdmin, RolePlatformMember, RoleOpikMember, RoleViewOnly}
}

// Valid reports whether r is one of the four organization roles.
func (r OrgRole) Valid() bool {
	switch r {
	case RoleAdmin, RolePlatformMember, RoleOpikMember, RoleViewOnly:
		return true
	}
	return false
}

// WorkspaceRole is a principal's role in one workspace.
type WorkspaceRole string

// The two workspace roles.
const (
	WorkspaceOwner  WorkspaceRole = "owner"
	WorkspaceMember WorkspaceRole = "member"
)

// Valid reports whether r is "owner" or "member".
func (r WorkspaceRole) Valid() bool { return r == WorkspaceOwner || r == WorkspaceMember }

// Membership is a principal's membership of one workspace.
type Membership struct {
	Role          WorkspaceRole `json:"role"`
	CanInvite     bool          `json:"can_invite"`
	CanMakePublic bool          `json:"can_make_public"`
}

// Settings are the organization settings that change permissions.
type Settings struct {
	OnlyAdminsCanInvite bool
}

// Permission is one named capability. Permissions are bits so that a Set is a
// single integer and evaluation allocates nothing.
type Permission uint32

// The fifteen permissions (docs/permissions.md).
const (
	WorkspaceRead Permission = 1 << iota
	WorkspaceWrite
	ExperimentsRead
	ExperimentsWrite
	RegistryPropose
	RegistryApprove
	RegistryWebhooks
	ArtifactsManage
	MonitoringManage
	ProjectMakePublic
	WorkspaceInvite
	WorkspaceConfigure
	OrgCreateWorkspace
	OrgInvite
	OrgAdmin
	numPermissions = iota
)

var permissionNames = [numPermissions]string{
	"workspace.read", "workspace.write", "experiments.read", "experiments.write",
	"registry.propose", "registry.approve", "registry.webhooks", "artifacts.manage",
	"monitoring.manage", "project.make_public", "workspace.invite", "workspace.configure",
	"org.create_workspace", "org.invite", "org.admin",
}

// String returns the permission's API name, such as "workspace.read".
func (p Permission) String() string {
	if p == 0 || p&(p-1) != 0 || bits.TrailingZeros32(uint32(p)) >= numPermissions {
		return "invalid"
	}
	return permissionNames[bits.TrailingZeros32(uint32(p))]
}

// ParsePermission returns the permission named s, or false if there is none.
func ParsePermission(s string) (Permission, bool) {
	for i, n := range permissionNames {
		if n == s {
			return Permission(1) << i, true
		}
	}
	return 0, false
}

// AllPermissions lists every permission in a stable order.
func AllPermissions() []Permission {
	out := make([]Permission, numPermissions)
	for i := range out {
		out[i] = Permission(1) << i
	}
	return out
}

// Set is a set of permissions.
type Set uint32

// Has reports whether s contains every permission in p.
func (s Set) Has(p Permission) bool { return Set(p)&s == Set(p) }

// Names returns the API names of the permissions in s, in a stable order.
func (s Set) Names() []string {
	out := make([]string, 0, bits.OnesCount32(uint32(s)))
	for i, n := range permissionNames {
		if s&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String returns the names joined by commas.
func (s Set) String() string { return strings.Join(s.Names(), ",") }

// Groups of permissions used to build the matrix.
const (
	workspaceAll = Set(WorkspaceRead | WorkspaceWrite | ExperimentsRead | ExperimentsWrite |
		RegistryPropose | RegistryApprove | RegistryWebhooks | ArtifactsManage |
		MonitoringManage | ProjectMakePublic | WorkspaceInvite | WorkspaceConfigure)
	orgAll = Set(OrgCreateWorkspace | OrgInvite | OrgAdmin)

	// platformMember is what a platform member has as a plain member without flags.
	platformMember = Set(WorkspaceRead | WorkspaceWrite | ExperimentsRead | ExperimentsWrite |
		RegistryPropose | ArtifactsManage | MonitoringManage)
	// ownerExtras is what ownership adds for roles that may use it.
	ownerExtras = Set(RegistryApprove | RegistryWebhooks | ProjectMakePublic | WorkspaceInvite | WorkspaceConfigure)
	// dataLogging are the only two write permissions; view-only members never get them.
	dataLogging = Set(WorkspaceWrite | ExperimentsWrite)
	// opikMember is an opik member's base: Opik projects only.
	opikMember = Set(WorkspaceRead | WorkspaceWrite)
	// opikOwnerExtras: ownership never grants experiment-management or registry permissions to opik members.
	opikOwnerExtras = Set(ProjectMakePublic | WorkspaceInvite | WorkspaceConfigure)
)

// WorkspacePermissions returns the workspace-scoped permissions a principal
// with org role r and workspace membership m (nil when not a member) has in
// that workspace. Admins have every workspace permission in every workspace of
// their org. An unknown role has none.
func WorkspacePermissions(r OrgRole, m *Membership) Set {
	if r == RoleAdmin {
		return workspaceAll
	}
	if m == nil || !m.Role.Valid() {
		return 0
	}
	var base, extras Set
	switch r {
	case RolePlatformMember:
		base, extras = platformMember, ownerExtras
	case RoleViewOnly:
		base, extras = platformMember&^dataLogging, ownerExtras
	case RoleOpikMember:
		base, extras = opikMember, opikOwnerExtras
	default:
		return 0
	}
	if m.Role == WorkspaceOwner {
		return base | extras
	}
	if m.CanInvite {
		base |= Set(WorkspaceInvite)
	}
	if m.CanMakePublic {
		base |= Set(ProjectMakePublic)
	}
	return base
}

// OrgPermissions returns the org-scoped permissions of org role r under
// settings s. An unknown role has none.
func OrgPermissions(r OrgRole, s Settings) Set {
	switch r {
	case RoleAdmin:
		return orgAll
	case RolePlatformMember, RoleViewOnly, RoleOpikMember:
		if s.OnlyAdminsCanInvite {
			return Set(OrgCreateWorkspace)
		}
		return Set(OrgCreateWorkspace | OrgInvite)
	}
	return 0
}

// Effective returns every permission — workspace-scoped for the workspace m
// describes (nil: not a member) and org-scoped — that org role r has under
// settings s. It is the single permission function of ssobroker: the admin
// API, token claims and verifying services all use it.
func Effective(r OrgRole, m *Membership, s Settings) Set {
	return WorkspacePermissions(r, m) | OrgPermissions(r, s)
}

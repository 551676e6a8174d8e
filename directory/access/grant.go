package access

// This file holds who may grant what (docs/security.md, "Grants and tenant
// inputs"): a non-admin hands out only permissions they hold themselves. The
// order of roles is not written down anywhere; it is computed from Effective,
// so it cannot drift from the permission table.

// membershipShapes lists every shape a workspace membership can take, and
// nil for no membership.
func membershipShapes() [7]*Membership {
	return [7]*Membership{
		nil,
		{Role: WorkspaceMember},
		{Role: WorkspaceMember, CanInvite: true},
		{Role: WorkspaceMember, CanMakePublic: true},
		{Role: WorkspaceMember, CanInvite: true, CanMakePublic: true},
		{Role: WorkspaceOwner},
		{Role: WorkspaceOwner, CanInvite: true, CanMakePublic: true},
	}
}

// Covers reports whether org role a holds every permission org role b holds,
// in every workspace whatever the membership (and in none), and at the org
// level, under settings s. An unknown role covers nothing and is covered by
// nothing.
//
// Covers is a partial order: admin covers every role; a platform member
// covers the view-only platform member and the opik member; the view-only
// platform member and the opik member do not cover each other (the opik member
// may log data, the view-only member holds experiment-management rights).
func Covers(a, b OrgRole, s Settings) bool {
	return a.Valid() && b.Valid() && Beyond(a, b, s) == 0
}

// Beyond returns the permissions org role b holds that org role a does not
// hold in the same situation (some workspace membership, or none, or at the
// org level) under settings s: what a would hand out by granting b. It is
// empty when a covers b.
func Beyond(a, b OrgRole, s Settings) Set {
	var out Set
	for _, m := range membershipShapes() {
		out |= Effective(b, m, s) &^ Effective(a, m, s)
	}
	return out
}

// MayGrantOrgRole reports whether a principal with org role granter may give
// someone org role grant (an invitation, a role change) under the org's
// settings s: the granter must be allowed to invite (org.invite or org.admin),
// and grant must hold nothing granter does not hold (Covers). So a non-admin
// never grants admin; a platform member grants platform member, view-only
// platform member or opik member; a view-only platform member grants only
// view-only platform member; an opik member grants only opik member.
func MayGrantOrgRole(granter OrgRole, s Settings, grant OrgRole) bool {
	p := OrgPermissions(granter, s)
	if !p.Has(OrgInvite) && !p.Has(OrgAdmin) {
		return false
	}
	return Covers(granter, grant, s)
}

// WorkspaceGrant is a change of one principal's membership of one workspace.
type WorkspaceGrant struct {
	// Grantee is the org role of the principal who receives the membership
	// (for an invitation, the role it invites with).
	Grantee OrgRole
	// Current is the grantee's membership of the workspace now; nil when none.
	Current *Membership
	// Membership is the membership the grantee is given.
	Membership Membership
}

// MayGrantWorkspace reports whether a principal with org role granter and
// membership own of a workspace (nil: not a member) may make grant in that
// workspace. Admins may make any grant. For anyone else, two rules apply:
//
//   - adding someone as a plain member (no flags), when they are not a member
//     or already a plain member, needs workspace.invite; anything else (owner,
//     a flag, changing an owner or a flagged member) needs what only owners
//     hold, workspace.configure;
//   - every workspace permission the grant adds to what the grantee holds
//     there now must be one the granter holds there: nobody hands out a
//     permission they do not have. A view-only platform member who owns a
//     workspace therefore cannot add a member who may log data to it, and an
//     opik member who owns one cannot add a member with experiment-management
//     rights.
//
// An unknown role on either side, or an invalid workspace role, is refused.
func MayGrantWorkspace(granter OrgRole, own *Membership, grant WorkspaceGrant) bool {
	if !granter.Valid() || !grant.Grantee.Valid() || !grant.Membership.Role.Valid() {
		return false
	}
	if granter == RoleAdmin {
		return true
	}
	mine := WorkspacePermissions(granter, own)
	need := WorkspaceConfigure
	plain := Membership{Role: WorkspaceMember}
	if grant.Membership == plain && (grant.Current == nil || *grant.Current == plain) {
		need = WorkspaceInvite
	}
	if !mine.Has(need) {
		return false
	}
	added := WorkspacePermissions(grant.Grantee, &grant.Membership) &^ WorkspacePermissions(grant.Grantee, grant.Current)
	return added&^mine == 0
}

// Stronger returns the stronger of two org roles, for group mapping: a user
// in several upstream groups mapped to different roles gets one role. When one
// role covers the other (Covers, with default settings) it wins. The view-only
// platform member and the opik member do not cover each other; between those
// two the view-only platform member wins. That is the precedence connections
// have always had (changing it would silently change users' roles at their
// next sign-in), and it is the one of the two that cannot log data. An org
// admin who wants the opik role for such users maps only one group. An
// unknown role loses to a valid one; two unknown roles give "".
func Stronger(a, b OrgRole) OrgRole {
	switch {
	case !a.Valid() && !b.Valid():
		return ""
	case !b.Valid():
		return a
	case !a.Valid():
		return b
	case Covers(a, b, Settings{}):
		return a
	case Covers(b, a, Settings{}):
		return b
	case a == RoleViewOnly || b == RoleViewOnly:
		return RoleViewOnly
	}
	// Unreachable with the four roles: every other pair is ordered by Covers.
	return ""
}

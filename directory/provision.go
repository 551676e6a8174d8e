package directory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// LoginIdentity is what an upstream connection asserted about a user at sign-in.
type LoginIdentity struct {
	OrgID        string
	ConnectionID string
	// Issuer and Subject identify the user at the upstream IdP (OIDC iss/sub,
	// or the SAML IdP entity id and NameID).
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	// MappedOrgRole is the org role the connection's group mapping gives, or
	// "" when the mapping gives none (then the org's default role applies to
	// new members and existing roles are left alone).
	MappedOrgRole access.OrgRole
	// MappedWorkspaces are the workspace roles the group mapping gives, by
	// workspace id or name. Memberships an earlier login's mapping made and
	// that are no longer asserted are removed; memberships made by admins or
	// invitations are never touched.
	MappedWorkspaces map[string]access.WorkspaceRole
}

// LoginStatus says whether a signed-in user may enter the org.
type LoginStatus string

// Outcomes of ProvisionLogin.
const (
	// LoginMember: the user is a member (now or already) and may get tokens.
	LoginMember LoginStatus = "member"
	// LoginPendingApproval: approval mode; a join request waits for an admin.
	LoginPendingApproval LoginStatus = "pending_approval"
	// LoginNotInvited: invite-only mode and no pending invitation.
	LoginNotInvited LoginStatus = "not_invited"
)

// LoginOutcome is the result of ProvisionLogin.
type LoginOutcome struct {
	Status LoginStatus
	User   User
	// Member is set when Status is LoginMember.
	Member *Member
	// JoinRequest is set when Status is LoginPendingApproval.
	JoinRequest *JoinRequest
	// NewJoinRequest is true when this login created JoinRequest (the org's
	// admins are told once, not at every retry).
	NewJoinRequest bool
	// NewUser is true when this login created the user.
	NewUser bool
	// Notes lists mapping decisions that were refused (e.g. demoting the last admin).
	Notes []string
}

// ProvisionLogin records a sign-in through one of the org's connections and
// applies just-in-time provisioning in one transaction: it finds or creates
// the user for (connection, issuer, subject) — never by email alone, except
// that a first sign-in may claim the org's identity-less member with the same
// verified email in a verified domain (claimIdentity) — then
// admits the user by the org's jit_mode (a pending invitation for a verified
// email always admits), and re-syncs group-mapped roles. A disabled or foreign
// connection is ErrNotFound.
func (s *SQLStore) ProvisionLogin(ctx context.Context, in LoginIdentity) (LoginOutcome, error) {
	if in.Issuer == "" || in.Subject == "" {
		return LoginOutcome{}, invalid("subject", "the identity provider sent no subject")
	}
	email, emailKey, err := normalizeEmail(in.Email)
	if err != nil {
		return LoginOutcome{}, err
	}
	if in.MappedOrgRole != "" && !in.MappedOrgRole.Valid() {
		return LoginOutcome{}, invalid("role", "mapped org role %q is not valid", in.MappedOrgRole)
	}
	var out LoginOutcome
	err = s.mutate(ctx, func(q querier) error {
		out = LoginOutcome{}
		o, err := lockOrg(ctx, q, in.OrgID)
		if err != nil {
			return err
		}
		conn, err := getConnection(ctx, q, in.OrgID, in.ConnectionID)
		if err != nil {
			return err
		}
		if !conn.Enabled {
			return notFound("enabled connection", in.ConnectionID)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		if out.User, out.NewUser, err = upsertIdentity(ctx, q, in, email, emailKey, now); err != nil {
			return err
		}
		m, err := getMember(ctx, q, o.ID, out.User.ID)
		switch {
		case err == nil:
			out.Status, out.Member = LoginMember, &m
		case !isNotFound(err):
			return err
		default:
			if err := admit(ctx, q, o, in, &out); err != nil {
				return err
			}
		}
		if out.Status != LoginMember {
			return nil
		}
		notes, err := syncMapped(ctx, q, o, conn.ID, out.User.ID, in)
		out.Notes = notes
		if err != nil {
			return err
		}
		if m, err := getMember(ctx, q, o.ID, out.User.ID); err == nil {
			out.Member = &m
		}
		return audit(ctx, q, o.ID, out.User.ID, "login", conn.ID, nil, map[string]any{"status": out.Status, "new_user": out.NewUser})
	})
	if err != nil {
		return LoginOutcome{}, fmt.Errorf("provision login: %w", err)
	}
	return out, nil
}

func upsertIdentity(ctx context.Context, q querier, in LoginIdentity, email, emailKey string, now time.Time) (User, bool, error) {
	var userID string
	err := q.queryRow(ctx, `SELECT user_id FROM identities WHERE connection_id = $1 AND issuer = $2 AND subject = $3`,
		in.ConnectionID, in.Issuer, in.Subject).Scan(&userID)
	if err == nil {
		if _, err := q.exec(ctx, `UPDATE identities SET email = $1, last_login_at = $2 WHERE connection_id = $3 AND issuer = $4 AND subject = $5`,
			email, ts(now), in.ConnectionID, in.Issuer, in.Subject); err != nil {
			return User{}, false, err
		}
		// The IdP is the source of truth for the profile of its users.
		if _, err := q.exec(ctx, `UPDATE users SET email = $1, email_key = $2, email_verified = $3, name = $4 WHERE id = $5`,
			email, emailKey, in.EmailVerified, in.Name, userID); err != nil {
			return User{}, false, err
		}
		u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, userID))
		return u, false, err
	}
	if err != errNoRows {
		return User{}, false, err
	}
	if u, ok, err := claimIdentity(ctx, q, in, email, emailKey, now); err != nil || ok {
		return u, false, err
	}
	u := User{ID: newID("usr"), Email: email, EmailVerified: in.EmailVerified, Name: in.Name, CreatedAt: now}
	if _, err := q.exec(ctx, `INSERT INTO users (id, email, email_key, email_verified, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		u.ID, u.Email, emailKey, u.EmailVerified, u.Name, ts(now)); err != nil {
		return User{}, false, err
	}
	if _, err := q.exec(ctx, `INSERT INTO identities (connection_id, issuer, subject, user_id, org_id, email, created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		in.ConnectionID, in.Issuer, in.Subject, u.ID, in.OrgID, email, ts(now)); err != nil {
		return User{}, false, err
	}
	return u, true, audit(ctx, q, in.OrgID, u.ID, "user.create", u.ID, nil, map[string]any{"email": email, "connection": in.ConnectionID})
}

// claimIdentity attaches a first sign-in's identity to the user the org
// already made for that person without any upstream identity (by `ssobroker
// admin bootstrap`, or provisioning such as SCIM), so that the person stays
// one member instead of becoming a second one. All of these must hold: the
// IdP asserted the email verified, the org has verified the email's domain,
// the user has no identity at all, and the user is a member of the org. The
// email alone never joins an account that already signs in somewhere.
// Audited as "identity.claim".
func claimIdentity(ctx context.Context, q querier, in LoginIdentity, email, emailKey string, now time.Time) (User, bool, error) {
	at := strings.LastIndex(emailKey, "@")
	if !in.EmailVerified || at < 0 {
		return User{}, false, nil
	}
	domain, err := NormalizeDomain(emailKey[at+1:])
	if err != nil {
		return User{}, false, nil // not a domain an org can verify
	}
	var n int
	if err := q.queryRow(ctx, `SELECT count(*) FROM domains WHERE org_id = $1 AND domain = $2 AND verified_at IS NOT NULL`,
		in.OrgID, domain).Scan(&n); err != nil || n == 0 {
		return User{}, false, err
	}
	u, err := scanUser(q.queryRow(ctx, `SELECT u.id, u.email, u.email_verified, u.name, u.created_at FROM users u
		JOIN org_members m ON m.principal_id = u.id AND m.org_id = $1
		WHERE u.email_key = $2 AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)
		ORDER BY m.created_at, u.id LIMIT 1`, in.OrgID, emailKey))
	if err == errNoRows {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, err
	}
	if _, err := q.exec(ctx, `INSERT INTO identities (connection_id, issuer, subject, user_id, org_id, email, created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		in.ConnectionID, in.Issuer, in.Subject, u.ID, in.OrgID, email, ts(now)); err != nil {
		return User{}, false, err
	}
	// From now on the IdP is the source of truth for the profile, as for
	// every user it signs in.
	if _, err := q.exec(ctx, `UPDATE users SET email = $1, email_key = $2, email_verified = $3, name = $4 WHERE id = $5`,
		email, emailKey, true, in.Name, u.ID); err != nil {
		return User{}, false, err
	}
	u.Email, u.EmailVerified, u.Name = email, true, in.Name
	return u, true, audit(ctx, q, in.OrgID, u.ID, "identity.claim", u.ID, nil,
		map[string]any{"connection": in.ConnectionID, "issuer": in.Issuer, "subject": in.Subject, "email": email})
}

// admit decides a non-member's entry by invitation or jit_mode.
func admit(ctx context.Context, q querier, o Organization, in LoginIdentity, out *LoginOutcome) error {
	if out.User.EmailVerified {
		r, err := q.query(ctx, `SELECT `+invCols+` FROM invitations WHERE org_id = $1 AND email_key = $2 AND state = 'pending' AND expires_at > $3 ORDER BY created_at DESC`,
			o.ID, strings.ToLower(out.User.Email), ts(time.Now()))
		if err != nil {
			return err
		}
		invs, err := collect(r, scanInvitation)
		if err != nil {
			return err
		}
		if len(invs) > 0 {
			inv := invs[0]
			m, err := joinOrg(ctx, q, o, out.User.ID, inv.Role, inv.Workspaces)
			if err != nil {
				return err
			}
			if _, err := q.exec(ctx, `UPDATE invitations SET state = 'accepted' WHERE id = $1 AND state = 'pending'`, inv.ID); err != nil {
				return err
			}
			out.Status, out.Member = LoginMember, &m
			return audit(ctx, q, o.ID, out.User.ID, "invitation.accept", inv.ID, nil, map[string]any{"role": inv.Role})
		}
	}
	// A user the org's SCIM client deactivated (or holds inactive) is not
	// re-admitted by just-in-time provisioning or a join request: SCIM is
	// the source of truth for who belongs (docs/scim.md).
	deactivated, err := scimDeactivated(ctx, q, o.ID, out.User.ID, strings.ToLower(out.User.Email))
	if err != nil {
		return err
	}
	if deactivated {
		out.Status = LoginNotInvited
		return nil
	}
	switch o.Settings.JITMode {
	case JITAuto:
		role := o.Settings.NewMemberRole(in.MappedOrgRole)
		m, err := joinOrg(ctx, q, o, out.User.ID, role, nil)
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE org_members SET source = $1 WHERE org_id = $2 AND principal_id = $3`, in.ConnectionID, o.ID, out.User.ID); err != nil {
			return err
		}
		out.Status, out.Member = LoginMember, &m
		return audit(ctx, q, o.ID, out.User.ID, "member.jit", out.User.ID, nil, map[string]any{"role": role})
	case JITApproval:
		var j JoinRequest
		existing, err := scanJoinRequest(q.queryRow(ctx, `SELECT `+joinCols+joinFrom+` WHERE r.org_id = $1 AND r.user_id = $2 AND r.state = 'pending'`, o.ID, out.User.ID))
		switch {
		case err == nil:
			j = existing
		case err != errNoRows:
			return err
		default:
			id := newID("req")
			if _, err := q.exec(ctx, `INSERT INTO join_requests (id, org_id, user_id, state, created_at) VALUES ($1, $2, $3, 'pending', $4)`,
				id, o.ID, out.User.ID, ts(time.Now())); err != nil {
				return err
			}
			if j, err = getJoinRequest(ctx, q, o.ID, id); err != nil {
				return err
			}
			if err := audit(ctx, q, o.ID, out.User.ID, "join_request.create", id, nil, j); err != nil {
				return err
			}
			out.NewJoinRequest = true
		}
		out.Status, out.JoinRequest = LoginPendingApproval, &j
	default:
		out.Status = LoginNotInvited
	}
	return nil
}

// syncMapped applies the connection's group mapping to a member: the org role
// of a membership the mapping made (syncMappedOrgRole), then the workspace
// memberships it made (syncMappedWorkspaces). It returns what it kept and why.
func syncMapped(ctx context.Context, q querier, o Organization, connID, userID string, in LoginIdentity) ([]string, error) {
	notes, err := syncMappedOrgRole(ctx, q, o, connID, userID, in.MappedOrgRole)
	if err != nil || in.MappedWorkspaces == nil {
		return notes, err
	}
	more, err := syncMappedWorkspaces(ctx, q, o, connID, userID, in.MappedWorkspaces)
	if err != nil {
		return nil, err
	}
	return append(notes, more...), nil
}

// syncMappedOrgRole sets the org role of a membership this connection made to
// the mapped role, unless that would remove the org's last admin (then it
// keeps the role and says so).
func syncMappedOrgRole(ctx context.Context, q querier, o Organization, connID, userID string, mapped access.OrgRole) ([]string, error) {
	var notes []string
	var source string
	if err := q.queryRow(ctx, `SELECT source FROM org_members WHERE org_id = $1 AND principal_id = $2`, o.ID, userID).Scan(&source); err != nil {
		return nil, err
	}
	if mapped != "" && source == connID {
		m, err := getMember(ctx, q, o.ID, userID)
		if err != nil {
			return nil, err
		}
		if m.Role != mapped {
			n, err := countAdmins(ctx, q, o.ID)
			if err != nil {
				return nil, err
			}
			if m.Role == access.RoleAdmin && n <= 1 {
				notes = append(notes, "kept admin role: the group mapping would remove the organization's last admin")
			} else {
				if _, err := q.exec(ctx, `UPDATE org_members SET role = $1, version = version + 1 WHERE org_id = $2 AND principal_id = $3`,
					string(mapped), o.ID, userID); err != nil {
					return nil, err
				}
				if err := audit(ctx, q, o.ID, "connection:"+connID, "member.role.sync", userID, map[string]any{"role": m.Role}, map[string]any{"role": mapped}); err != nil {
					return nil, err
				}
			}
		}
	}
	return notes, nil
}

// syncMappedWorkspaces makes the workspace memberships this connection made
// match the mapped ones: it removes those no longer mapped and puts the mapped
// ones, leaving memberships made by an admin or an invitation alone.
func syncMappedWorkspaces(ctx context.Context, q querier, o Organization, connID, userID string, mapped map[string]access.WorkspaceRole) ([]string, error) {
	var notes []string
	want := map[string]access.WorkspaceRole{}
	for ref, role := range mapped {
		if !role.Valid() {
			return nil, invalid("role", "mapped workspace role %q is not owner or member", role)
		}
		w, err := getWorkspace(ctx, q, o.ID, ref)
		if isNotFound(err) {
			notes = append(notes, fmt.Sprintf("mapped workspace %q does not exist", ref))
			continue
		}
		if err != nil {
			return nil, err
		}
		want[w.ID] = role
	}
	r, err := q.query(ctx, `SELECT workspace_id, role, source FROM workspace_members WHERE org_id = $1 AND principal_id = $2`, o.ID, userID)
	if err != nil {
		return nil, err
	}
	type have struct{ role, source string }
	current := map[string]have{}
	for r.Next() {
		var id string
		var h have
		if err := r.Scan(&id, &h.role, &h.source); err != nil {
			r.Close()
			return nil, err
		}
		current[id] = h
	}
	r.Close()
	if err := r.Err(); err != nil {
		return nil, err
	}
	for id, h := range current {
		if _, keep := want[id]; keep || h.source != connID {
			continue
		}
		if _, err := q.exec(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND principal_id = $2`, id, userID); err != nil {
			return nil, err
		}
		if err := audit(ctx, q, o.ID, "connection:"+connID, "workspace.member.sync.remove", id+"/"+userID, map[string]any{"role": h.role}, nil); err != nil {
			return nil, err
		}
	}
	for id, role := range want {
		h, exists := current[id]
		if exists && (h.source != connID || h.role == string(role)) {
			continue // made by an admin or an invitation, or already right
		}
		flags := role == access.WorkspaceOwner
		if _, err := q.exec(ctx, `INSERT INTO workspace_members (workspace_id, org_id, principal_id, role, can_invite, can_make_public, created_at, source)
			VALUES ($1, $2, $3, $4, $5, $5, $6, $7)
			ON CONFLICT (workspace_id, principal_id) DO UPDATE SET role = excluded.role, can_invite = excluded.can_invite, can_make_public = excluded.can_make_public`,
			id, o.ID, userID, string(role), flags, ts(time.Now()), connID); err != nil {
			return nil, err
		}
		if err := audit(ctx, q, o.ID, "connection:"+connID, "workspace.member.sync.put", id+"/"+userID, nil, map[string]any{"role": role}); err != nil {
			return nil, err
		}
	}
	return notes, nil
}

// LookupConnection finds a connection by id alone (callback and ACS URLs carry only the id).
func (s *SQLStore) LookupConnection(ctx context.Context, id string) (Connection, error) {
	c, err := scanConnection(s.db.queryRow(ctx, `SELECT `+connCols+` FROM connections WHERE id = $1`, id))
	if err == errNoRows {
		return c, notFound("connection", id)
	}
	return c, err
}

package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// InvitationExpired is reported for a pending invitation past its expiry.
const InvitationExpired InvitationState = "expired"

const invCols = `id, org_id, email, role, workspaces, invited_by, created_at, expires_at, state`

func scanInvitation(r row) (Invitation, error) {
	var inv Invitation
	var role, wss, state string
	var created, expires int64
	if err := r.Scan(&inv.ID, &inv.OrgID, &inv.Email, &role, &wss, &inv.InvitedBy, &created, &expires, &state); err != nil {
		return inv, err
	}
	inv.Role, inv.State = access.OrgRole(role), InvitationState(state)
	inv.CreatedAt, inv.ExpiresAt = fromTS(created), fromTS(expires)
	if err := json.Unmarshal([]byte(wss), &inv.Workspaces); err != nil {
		return inv, fmt.Errorf("invitation %s: workspaces: %w", inv.ID, err)
	}
	if inv.Workspaces == nil {
		inv.Workspaces = []InvitationWorkspace{}
	}
	if inv.State == InvitationPending && time.Now().After(inv.ExpiresAt) {
		inv.State = InvitationExpired
	}
	return inv, nil
}

func getInvitation(ctx context.Context, q querier, orgID, id string) (Invitation, error) {
	inv, err := scanInvitation(q.queryRow(ctx, `SELECT `+invCols+` FROM invitations WHERE org_id = $1 AND id = $2`, orgID, id))
	if err == errNoRows {
		return inv, notFound("invitation", id)
	}
	return inv, err
}

// validateGrants checks workspace grants of an invitation or a service account.
func validateGrants(ctx context.Context, q querier, orgID string, grants []InvitationWorkspace) ([]InvitationWorkspace, error) {
	out := make([]InvitationWorkspace, 0, len(grants))
	seen := map[string]bool{}
	for _, g := range grants {
		if !g.Role.Valid() {
			return nil, invalid("workspaces", "workspace role %q is not owner or member", g.Role)
		}
		w, err := getWorkspace(ctx, q, orgID, g.WorkspaceID)
		if err != nil {
			return nil, err
		}
		if seen[w.ID] {
			return nil, invalid("workspaces", "workspace %q is listed twice", w.Name)
		}
		seen[w.ID] = true
		out = append(out, InvitationWorkspace{WorkspaceID: w.ID, Role: g.Role})
	}
	return out, nil
}

// CreateInvitation invites an email; a pending invitation for the same email
// is replaced (re-inviting is how a pending invitation's role changes).
func (s *SQLStore) CreateInvitation(ctx context.Context, actor string, in NewInvitation) (Invitation, error) {
	email, key, err := normalizeEmail(in.Email)
	if err != nil {
		return Invitation{}, err
	}
	if !in.Role.Valid() {
		return Invitation{}, invalid("role", "org role %q is not one of admin, platform_member, opik_member, view_only_platform_member", in.Role)
	}
	if in.TTL == 0 {
		in.TTL = 7 * 24 * time.Hour
	}
	if in.TTL < 0 || in.TTL > 90*24*time.Hour {
		return Invitation{}, invalid("expires_in", "an invitation must expire within 90 days")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	inv := Invitation{ID: newID("inv"), OrgID: in.OrgID, Email: email, Role: in.Role, InvitedBy: actor,
		CreatedAt: now, ExpiresAt: now.Add(in.TTL), State: InvitationPending}
	err = s.mutate(ctx, func(q querier) error {
		org, err := lockOrg(ctx, q, in.OrgID)
		if err != nil {
			return err
		}
		grants, err := validateGrants(ctx, q, in.OrgID, in.Workspaces)
		if err != nil {
			return err
		}
		// The inviter grants the role and the workspaces: never beyond their
		// own permissions (docs/security.md, "Grants and tenant inputs").
		g, err := granterOf(ctx, q, org, actor)
		if err != nil {
			return err
		}
		if err := g.mayGrantOrgRole(in.Role); err != nil {
			return err
		}
		for _, wg := range grants {
			w, err := getWorkspace(ctx, q, in.OrgID, wg.WorkspaceID)
			if err != nil {
				return err
			}
			if err := g.mayGrantWorkspace(ctx, q, actor, w, access.WorkspaceGrant{Grantee: in.Role, Membership: access.Membership{Role: wg.Role}}); err != nil {
				return err
			}
		}
		inv.Workspaces = grants
		var n int
		if err := q.queryRow(ctx, `SELECT count(*) FROM org_members m JOIN users u ON u.id = m.principal_id WHERE m.org_id = $1 AND u.email_key = $2`, in.OrgID, key).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return conflict("%s is already a member of the organization", email)
		}
		if _, err := q.exec(ctx, `UPDATE invitations SET state = 'revoked' WHERE org_id = $1 AND email_key = $2 AND state = 'pending'`, in.OrgID, key); err != nil {
			return err
		}
		wss, _ := json.Marshal(grants)
		_, err = q.exec(ctx, `INSERT INTO invitations (`+invCols+`, email_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			inv.ID, inv.OrgID, inv.Email, string(inv.Role), string(wss), actor, ts(now), ts(inv.ExpiresAt), string(inv.State), key)
		if err != nil {
			return err
		}
		return audit(ctx, q, in.OrgID, actor, "invitation.create", inv.ID, nil, inv)
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("create invitation: %w", err)
	}
	return inv, nil
}

// GetInvitation finds an invitation of the org.
func (s *SQLStore) GetInvitation(ctx context.Context, orgID, id string) (Invitation, error) {
	return getInvitation(ctx, s.db, orgID, id)
}

// ListInvitations lists the org's invitations, newest state included, by id.
func (s *SQLStore) ListInvitations(ctx context.Context, orgID string, p Page) ([]Invitation, string, error) {
	return s.SearchInvitations(ctx, orgID, ListFilter{Page: p})
}

// RevokeInvitation revokes a pending invitation.
func (s *SQLStore) RevokeInvitation(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		inv, err := getInvitation(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		if inv.State != InvitationPending && inv.State != InvitationExpired {
			return conflict("invitation %s is already %s", id, inv.State)
		}
		n, err := q.exec(ctx, `UPDATE invitations SET state = 'revoked' WHERE id = $1 AND state = 'pending'`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return conflict("invitation %s is no longer pending", id)
		}
		return audit(ctx, q, orgID, actor, "invitation.revoke", id, map[string]any{"state": inv.State}, map[string]any{"state": InvitationRevoked})
	})
	if err != nil {
		return fmt.Errorf("revoke invitation: %w", err)
	}
	return nil
}

// PendingInvitations lists unexpired pending invitations for an email.
func (s *SQLStore) PendingInvitations(ctx context.Context, email string) ([]Invitation, error) {
	r, err := s.db.query(ctx, `SELECT `+invCols+` FROM invitations WHERE email_key = $1 AND state = 'pending' AND expires_at > $2 ORDER BY id`,
		strings.ToLower(email), ts(time.Now()))
	if err != nil {
		return nil, err
	}
	return collect(r, scanInvitation)
}

// joinOrg adds a user to the org with role (keeping an existing membership)
// and to the given workspaces, or the default workspace when none is given.
func joinOrg(ctx context.Context, q querier, o Organization, userID string, role access.OrgRole, grants []InvitationWorkspace) (Member, error) {
	m, err := getMember(ctx, q, o.ID, userID)
	if isNotFound(err) {
		m, err = addMember(ctx, q, o.ID, userID, role)
	}
	if err != nil {
		return Member{}, err
	}
	if len(grants) == 0 {
		grants = []InvitationWorkspace{{WorkspaceID: o.Settings.DefaultWorkspace, Role: access.WorkspaceMember}}
	}
	for _, g := range grants {
		w, err := getWorkspace(ctx, q, o.ID, g.WorkspaceID)
		if isNotFound(err) {
			continue // deleted since the invitation was made
		}
		if err != nil {
			return Member{}, err
		}
		if _, err := getWorkspaceMember(ctx, q, w.ID, userID); err == nil {
			continue // never downgrade an existing membership
		}
		if err := putWorkspaceMember(ctx, q, w, userID, access.Membership{Role: g.Role}); err != nil {
			return Member{}, err
		}
	}
	return m, nil
}

// AcceptInvitation adds the invited user to the org and marks the invitation accepted.
func (s *SQLStore) AcceptInvitation(ctx context.Context, orgID, id, userID string) (Member, error) {
	var m Member
	err := s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		inv, err := getInvitation(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		if inv.State != InvitationPending {
			return notFound("pending invitation", id)
		}
		u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, userID))
		if err == errNoRows {
			return notFound("user", userID)
		}
		if err != nil {
			return err
		}
		if !strings.EqualFold(u.Email, inv.Email) {
			return notFound("pending invitation", id) // an invitation is for its email only
		}
		if m, err = joinOrg(ctx, q, o, userID, inv.Role, inv.Workspaces); err != nil {
			return err
		}
		n, err := q.exec(ctx, `UPDATE invitations SET state = 'accepted' WHERE id = $1 AND state = 'pending'`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("pending invitation", id) // revoked meanwhile; the transaction undoes the join
		}
		return audit(ctx, q, orgID, userID, "invitation.accept", id, nil, map[string]any{"user": userID, "role": m.Role})
	})
	if err != nil {
		return Member{}, fmt.Errorf("accept invitation: %w", err)
	}
	return m, nil
}

const joinCols = `r.id, r.org_id, r.user_id, u.email, r.state, r.created_at`
const joinFrom = ` FROM join_requests r JOIN users u ON u.id = r.user_id`

func scanJoinRequest(r row) (JoinRequest, error) {
	var j JoinRequest
	var state string
	var created int64
	err := r.Scan(&j.ID, &j.OrgID, &j.UserID, &j.Email, &state, &created)
	j.State, j.CreatedAt = JoinRequestState(state), fromTS(created)
	return j, err
}

func getJoinRequest(ctx context.Context, q querier, orgID, id string) (JoinRequest, error) {
	j, err := scanJoinRequest(q.queryRow(ctx, `SELECT `+joinCols+joinFrom+` WHERE r.org_id = $1 AND r.id = $2`, orgID, id))
	if err == errNoRows {
		return j, notFound("join request", id)
	}
	return j, err
}

// CreateJoinRequest records a pending request, or returns the one already pending.
func (s *SQLStore) CreateJoinRequest(ctx context.Context, orgID, userID string) (JoinRequest, error) {
	var j JoinRequest
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		existing, err := scanJoinRequest(q.queryRow(ctx, `SELECT `+joinCols+joinFrom+` WHERE r.org_id = $1 AND r.user_id = $2 AND r.state = 'pending'`, orgID, userID))
		if err == nil {
			j = existing
			return nil
		}
		if err != errNoRows {
			return err
		}
		if err := principalExists(ctx, q, orgID, userID); err != nil {
			return err
		}
		if _, err := getMember(ctx, q, orgID, userID); err == nil {
			return conflict("%s is already a member of the organization", userID)
		}
		id := newID("req")
		if _, err := q.exec(ctx, `INSERT INTO join_requests (id, org_id, user_id, state, created_at) VALUES ($1, $2, $3, 'pending', $4)`,
			id, orgID, userID, ts(time.Now())); err != nil {
			return err
		}
		if j, err = getJoinRequest(ctx, q, orgID, id); err != nil {
			return err
		}
		return audit(ctx, q, orgID, userID, "join_request.create", id, nil, j)
	})
	if err != nil {
		return JoinRequest{}, fmt.Errorf("create join request: %w", err)
	}
	return j, nil
}

// ListJoinRequests lists the org's join requests by id.
func (s *SQLStore) ListJoinRequests(ctx context.Context, orgID string, p Page) ([]JoinRequest, string, error) {
	return s.SearchJoinRequests(ctx, orgID, ListFilter{Page: p})
}

func decideJoinRequest(ctx context.Context, q querier, actor, orgID, id string, to JoinRequestState) (JoinRequest, error) {
	j, err := getJoinRequest(ctx, q, orgID, id)
	if err != nil {
		return j, err
	}
	if j.State != JoinPending {
		return j, conflict("join request %s is already %s", id, j.State)
	}
	n, err := q.exec(ctx, `UPDATE join_requests SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND state = 'pending'`, string(to), actor, ts(time.Now()), id)
	if err != nil {
		return j, err
	}
	if n == 0 {
		return j, conflict("join request %s was decided meanwhile", id)
	}
	return j, audit(ctx, q, orgID, actor, "join_request."+map[JoinRequestState]string{JoinApproved: "approve", JoinDenied: "deny"}[to], id,
		map[string]any{"state": j.State}, map[string]any{"state": to})
}

// ApproveJoinRequest makes the requester a member with the default role in the default workspace.
func (s *SQLStore) ApproveJoinRequest(ctx context.Context, actor, orgID, id string) (Member, error) {
	var m Member
	err := s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		j, err := decideJoinRequest(ctx, q, actor, orgID, id, JoinApproved)
		if err != nil {
			return err
		}
		m, err = joinOrg(ctx, q, o, j.UserID, o.Settings.DefaultOrgRole, nil)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("approve join request: %w", err)
	}
	return m, nil
}

// DenyJoinRequest denies a pending join request.
func (s *SQLStore) DenyJoinRequest(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		_, err := decideJoinRequest(ctx, q, actor, orgID, id, JoinDenied)
		return err
	})
	if err != nil {
		return fmt.Errorf("deny join request: %w", err)
	}
	return nil
}

package directory

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ssobroker/ssobroker/directory/access"
)

// SCIM 2.0 provisioning state (docs/scim.md): per-org bearer tokens, the
// per-(org, user) attributes a SCIM client manages, and SCIM groups whose
// display names feed the connections' group → role mapping.

// SCIMToken is a bearer token an org's identity provider presents at
// /scim/v2/{org}; the secret itself is never stored.
type SCIMToken struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"org_id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// SCIM tokens are "scim_" followed by 32 random bytes in base 62.
const (
	scimTokenPrefix    = "scim_"
	scimTokenSecretLen = len(scimTokenPrefix) + apiKeyBodyLen
	scimTokenShownLen  = len(scimTokenPrefix) + 8
)

// WellFormedSCIMToken reports whether s has the shape of a SCIM token, so
// that malformed input is refused before any lookup.
func WellFormedSCIMToken(s string) bool {
	if len(s) != scimTokenSecretLen || !strings.HasPrefix(s, scimTokenPrefix) {
		return false
	}
	for i := len(scimTokenPrefix); i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

const scimTokenCols = `id, org_id, name, prefix, created_by, created_at, revoked_at`

func scanSCIMToken(r row) (SCIMToken, error) {
	var t SCIMToken
	var created int64
	var revoked *int64
	err := r.Scan(&t.ID, &t.OrgID, &t.Name, &t.Prefix, &t.CreatedBy, &created, &revoked)
	t.CreatedAt, t.RevokedAt = fromTS(created), fromNullTS(revoked)
	return t, err
}

// CreateSCIMToken creates a SCIM bearer token for the org and returns its
// secret, which is shown once: only its SHA-256 is stored.
func (s *SQLStore) CreateSCIMToken(ctx context.Context, actor, orgID, name string) (SCIMToken, string, error) {
	if name == "" {
		name = "SCIM"
	}
	if err := validateAccountName(name); err != nil {
		return SCIMToken{}, "", invalid("name", "token name must be 1-100 characters without leading or trailing spaces")
	}
	secret := scimTokenPrefix + encodeBase62(randomBytes(32))
	t := SCIMToken{ID: newID("stk"), OrgID: orgID, Name: name, Prefix: secret[:scimTokenShownLen], CreatedBy: actor,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `INSERT INTO scim_tokens (id, org_id, name, prefix, hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.ID, orgID, t.Name, t.Prefix, HashSecret(secret), actor, ts(t.CreatedAt)); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "scim_token.create", t.ID, nil, map[string]any{"name": t.Name, "prefix": t.Prefix})
	})
	if err != nil {
		return SCIMToken{}, "", fmt.Errorf("create SCIM token: %w", err)
	}
	return t, secret, nil
}

// ListSCIMTokens lists the org's SCIM tokens, revoked ones included.
func (s *SQLStore) ListSCIMTokens(ctx context.Context, orgID string) ([]SCIMToken, error) {
	r, err := s.db.query(ctx, `SELECT `+scimTokenCols+` FROM scim_tokens WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	return collect(r, scanSCIMToken)
}

// RevokeSCIMToken revokes a token of the org; it stops working at once in
// every replica. Revoking a revoked token is a no-op.
func (s *SQLStore) RevokeSCIMToken(ctx context.Context, actor, orgID, id string) error {
	err := s.mutate(ctx, func(q querier) error {
		t, err := scanSCIMToken(q.queryRow(ctx, `SELECT `+scimTokenCols+` FROM scim_tokens WHERE org_id = $1 AND id = $2`, orgID, id))
		if err == errNoRows {
			return notFound("SCIM token", id)
		}
		if err != nil || t.RevokedAt != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE scim_tokens SET revoked_at = $1 WHERE id = $2`, ts(time.Now()), id); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "scim_token.revoke", id, map[string]any{"prefix": t.Prefix}, map[string]any{"revoked": true})
	})
	if err != nil {
		return fmt.Errorf("revoke SCIM token: %w", err)
	}
	return nil
}

// LookupSCIMToken finds the live token whose secret is secret; unknown,
// malformed and revoked tokens are all ErrNotFound.
func (s *SQLStore) LookupSCIMToken(ctx context.Context, secret string) (SCIMToken, error) {
	if !WellFormedSCIMToken(secret) {
		return SCIMToken{}, notFound("SCIM token", "(malformed)")
	}
	hash := HashSecret(secret)
	var stored []byte
	var t SCIMToken
	var created int64
	var revoked *int64
	err := s.db.queryRow(ctx, `SELECT `+scimTokenCols+`, hash FROM scim_tokens WHERE hash = $1 AND revoked_at IS NULL`, hash).Scan(
		&t.ID, &t.OrgID, &t.Name, &t.Prefix, &t.CreatedBy, &created, &revoked, &stored)
	if err == errNoRows {
		return SCIMToken{}, notFound("SCIM token", secret[:scimTokenShownLen]+"…")
	}
	if err != nil {
		return SCIMToken{}, fmt.Errorf("look up SCIM token: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, hash) != 1 {
		return SCIMToken{}, notFound("SCIM token", secret[:scimTokenShownLen]+"…")
	}
	t.CreatedAt, t.RevokedAt = fromTS(created), fromNullTS(revoked)
	return t, nil
}

// SCIMUser is a user as one org's SCIM client sees it. ID is the user's id
// (usr_…). Active is whether the user is a member of the org. A member the
// SCIM client never wrote (one who signed in before provisioning existed)
// has Version 1 and UserName = its email.
type SCIMUser struct {
	ID          string
	OrgID       string
	UserName    string
	ExternalID  string
	Email       string
	GivenName   string
	FamilyName  string
	DisplayName string
	Active      bool
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SCIMUserInput is what a SCIM client writes of a user (POST, PUT, or a
// PATCH applied to the current state). Email is the user's primary (work)
// email as sent; the address the user signs in with is the userName when it
// is an address, else Email.
type SCIMUserInput struct {
	UserName    string
	ExternalID  string
	Email       string
	GivenName   string
	FamilyName  string
	DisplayName string
	Active      bool
}

// SCIMUserFilter narrows ListSCIMUsers; set fields are ANDed, compared
// exactly (userName case-insensitively). Offset counts from 0.
type SCIMUserFilter struct {
	UserName    *string
	ExternalID  *string
	DisplayName *string
	Offset      int
	Limit       int
}

// GroupMapping is the group → role mapping of the org's connections
// (group_roles, group_workspaces), keyed by group display name, that SCIM
// group memberships feed. Workspaces nil leaves workspace memberships alone.
type GroupMapping struct {
	Roles      map[string]access.OrgRole
	Workspaces map[string]map[string]access.WorkspaceRole
}

// mapsGroup reports whether a group named name changes anyone's access.
func (m GroupMapping) mapsGroup(name string) bool {
	_, r := m.Roles[name]
	_, w := m.Workspaces[name]
	return r || w
}

// scimSource marks memberships SCIM provisioning made (org_members.source,
// workspace_members.source).
const scimSource = "scim"

const maxSCIMText = 256

// validateSCIMUser checks a user's attributes and returns the address the
// user signs in with: the userName when it is an email address, else the
// email the client sent (Entra ID's test userNames are not addresses).
func validateSCIMUser(in *SCIMUserInput) (login, loginKey string, err error) {
	in.UserName = strings.TrimSpace(in.UserName)
	in.Email = strings.TrimSpace(in.Email)
	if in.UserName == "" {
		return "", "", invalid("userName", "userName is required")
	}
	for field, v := range map[string]string{"userName": in.UserName, "externalId": in.ExternalID, "name.givenName": in.GivenName,
		"name.familyName": in.FamilyName, "displayName": in.DisplayName, "emails": in.Email} {
		if len(v) > maxSCIMText || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", "", invalid(field, "%s must be text of at most %d bytes without control characters", field, maxSCIMText)
		}
	}
	if login, key, err := normalizeEmail(in.UserName); err == nil {
		return login, key, nil
	}
	if login, key, err := normalizeEmail(in.Email); err == nil {
		return login, key, nil
	}
	return "", "", invalid("userName", "userName or the user's email must be an email address")
}

// scimUserArms are the two sources of a SCIM view of an org's users: users
// the SCIM client wrote (scim_users, active when a member) and members it
// never wrote. $1 is the org id.
const scimUserSelectManaged = `SELECT u.id, s.user_name, s.external_id_text, s.email, s.given_name, s.family_name,
	COALESCE(NULLIF(s.display_name, ''), u.name), m.principal_id IS NOT NULL, s.version, s.created_at, s.updated_at
	FROM (SELECT org_id, user_id, user_name, user_name_key, COALESCE(external_id, '') AS external_id_text, email, given_name,
		family_name, display_name, version, created_at, updated_at FROM scim_users WHERE org_id = $1) s
	JOIN users u ON u.id = s.user_id
	LEFT JOIN org_members m ON m.org_id = s.org_id AND m.principal_id = s.user_id`

const scimUserSelectUnmanaged = `SELECT u.id, u.email, '', u.email, '', '', u.name, TRUE, CAST(1 AS BIGINT), m.created_at, m.created_at
	FROM org_members m JOIN users u ON u.id = m.principal_id
	WHERE m.org_id = $1 AND m.principal_type = 'user'
	AND NOT EXISTS (SELECT 1 FROM scim_users x WHERE x.org_id = m.org_id AND x.user_id = m.principal_id)`

func scanSCIMUser(r row) (SCIMUser, error) {
	var u SCIMUser
	var created, updated int64
	err := r.Scan(&u.ID, &u.UserName, &u.ExternalID, &u.Email, &u.GivenName, &u.FamilyName, &u.DisplayName, &u.Active, &u.Version, &created, &updated)
	u.CreatedAt, u.UpdatedAt = fromTS(created), fromTS(updated)
	return u, err
}

// scimUserQuery builds the union of both arms with the filter's conditions.
func scimUserQuery(orgID string, f SCIMUserFilter, id string) (string, []any) {
	args := []any{orgID}
	var managed, unmanaged []string
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if id != "" {
		p := arg(id)
		managed = append(managed, "u.id = "+p)
		unmanaged = append(unmanaged, "u.id = "+p)
	}
	if f.UserName != nil {
		p := arg(strings.ToLower(*f.UserName))
		managed = append(managed, "s.user_name_key = "+p)
		unmanaged = append(unmanaged, "u.email_key = "+p)
	}
	if f.ExternalID != nil {
		managed = append(managed, "s.external_id_text = "+arg(*f.ExternalID))
		unmanaged = append(unmanaged, "FALSE")
	}
	if f.DisplayName != nil {
		p := arg(*f.DisplayName)
		managed = append(managed, "COALESCE(NULLIF(s.display_name, ''), u.name) = "+p)
		unmanaged = append(unmanaged, "u.name = "+p)
	}
	q := scimUserSelectManaged
	if len(managed) > 0 {
		q += " WHERE " + strings.Join(managed, " AND ")
	}
	q += " UNION ALL " + scimUserSelectUnmanaged
	if len(unmanaged) > 0 {
		q += " AND " + strings.Join(unmanaged, " AND ")
	}
	return q, args
}

// ListSCIMUsers lists the org's users as its SCIM client sees them, ordered
// by id, and the total number that match.
func (s *SQLStore) ListSCIMUsers(ctx context.Context, orgID string, f SCIMUserFilter) ([]SCIMUser, int, error) {
	q, args := scimUserQuery(orgID, f, "")
	var total int
	if err := s.db.queryRow(ctx, `SELECT count(*) FROM (`+q+`) c`, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count SCIM users: %w", err)
	}
	limit := f.Limit
	if limit < 0 {
		limit = 0
	}
	if limit > 500 {
		limit = 500
	}
	if limit == 0 || f.Offset >= total {
		return nil, total, nil
	}
	args = append(args, limit, max(f.Offset, 0))
	r, err := s.db.query(ctx, q+fmt.Sprintf(" ORDER BY 1 LIMIT $%d OFFSET $%d", len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list SCIM users: %w", err)
	}
	out, err := collect(r, scanSCIMUser)
	return out, total, err
}

func getSCIMUser(ctx context.Context, q querier, orgID, userID string) (SCIMUser, error) {
	sql, args := scimUserQuery(orgID, SCIMUserFilter{}, userID)
	r, err := q.query(ctx, sql, args...)
	if err != nil {
		return SCIMUser{}, err
	}
	out, err := collect(r, scanSCIMUser)
	if err != nil {
		return SCIMUser{}, err
	}
	if len(out) == 0 {
		return SCIMUser{}, notFound("user", userID)
	}
	return out[0], nil
}

// GetSCIMUser returns one user of the org's SCIM view; a user who is
// neither a member of the org nor written by its SCIM client is ErrNotFound.
func (s *SQLStore) GetSCIMUser(ctx context.Context, orgID, userID string) (SCIMUser, error) {
	return getSCIMUser(ctx, s.db, orgID, userID)
}

// checkSCIMUserUnique refuses a userName or externalId another user of the
// org's SCIM view already has.
func checkSCIMUserUnique(ctx context.Context, q querier, orgID, userID, nameKey, externalID string) error {
	var n int
	if err := q.queryRow(ctx, `SELECT count(*) FROM scim_users WHERE org_id = $1 AND user_name_key = $2 AND user_id <> $3`, orgID, nameKey, userID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if err := q.queryRow(ctx, `SELECT count(*) FROM org_members m JOIN users u ON u.id = m.principal_id
			WHERE m.org_id = $1 AND u.email_key = $2 AND u.id <> $3
			AND NOT EXISTS (SELECT 1 FROM scim_users x WHERE x.org_id = m.org_id AND x.user_id = m.principal_id)`, orgID, nameKey, userID).Scan(&n); err != nil {
			return err
		}
	}
	if n > 0 {
		return conflict("a user with that userName already exists in the organization")
	}
	if externalID == "" {
		return nil
	}
	if err := q.queryRow(ctx, `SELECT count(*) FROM scim_users WHERE org_id = $1 AND external_id = $2 AND user_id <> $3`, orgID, externalID, userID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return conflict("a user with that externalId already exists in the organization")
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func scimDisplayName(in SCIMUserInput) string {
	if in.DisplayName != "" {
		return in.DisplayName
	}
	return strings.TrimSpace(in.GivenName + " " + in.FamilyName)
}

// CreateSCIMUser provisions a user in the org. A user who signed in to this
// org before (an upstream identity of the org with that email) and is not a
// member is reused; otherwise a new user without upstream identity is
// created, which the claim rule attaches to the first sign-in with the same
// verified email in a verified domain. An active user becomes a member with
// the org's default role in its default workspace, then group mapping
// applies. A userName or externalId already in the org's view is ErrConflict.
func (s *SQLStore) CreateSCIMUser(ctx context.Context, actor, orgID string, in SCIMUserInput, m GroupMapping) (SCIMUser, error) {
	email, emailKey, err := validateSCIMUser(&in)
	if err != nil {
		return SCIMUser{}, err
	}
	var out SCIMUser
	err = s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		if err := checkSCIMUserUnique(ctx, q, orgID, "", strings.ToLower(in.UserName), in.ExternalID); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		var userID string
		owned := false
		err = q.queryRow(ctx, `SELECT u.id FROM identities i JOIN users u ON u.id = i.user_id
			WHERE i.org_id = $1 AND u.email_key = $2
			AND NOT EXISTS (SELECT 1 FROM scim_users x WHERE x.org_id = $1 AND x.user_id = u.id)
			ORDER BY i.last_login_at DESC LIMIT 1`, orgID, emailKey).Scan(&userID)
		switch {
		case err == errNoRows:
			userID, owned = newID("usr"), true
			if _, err := q.exec(ctx, `INSERT INTO users (id, email, email_key, email_verified, name, created_at) VALUES ($1, $2, $3, FALSE, $4, $5)`,
				userID, email, emailKey, scimDisplayName(in), ts(now)); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if _, err := q.exec(ctx, `INSERT INTO scim_users (org_id, user_id, user_name, user_name_key, external_id, email, given_name, family_name, display_name, owned, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)`,
			orgID, userID, in.UserName, strings.ToLower(in.UserName), nullIfEmpty(in.ExternalID), in.Email, in.GivenName, in.FamilyName, in.DisplayName, owned, ts(now)); err != nil {
			if isUnique(err) {
				return conflict("a user with that userName or externalId already exists in the organization")
			}
			return err
		}
		if err := audit(ctx, q, orgID, actor, "scim.user.create", userID, nil, map[string]any{"userName": in.UserName, "externalId": in.ExternalID, "active": in.Active, "new_user": owned}); err != nil {
			return err
		}
		if in.Active {
			if err := scimActivate(ctx, q, o, actor, userID, m); err != nil {
				return err
			}
		}
		out, err = getSCIMUser(ctx, q, orgID, userID)
		return err
	})
	if err != nil {
		return SCIMUser{}, fmt.Errorf("create SCIM user: %w", err)
	}
	return out, nil
}

// ReplaceSCIMUser sets every SCIM attribute of a user of the org's view (PUT,
// and PATCH applied to the current state). ifVersion, when not zero, must be
// the current version (ErrVersionMismatch otherwise). Turning Active off
// removes the user from the org (ErrInvariant for its last admin); the caller
// then ends the user's sessions. Turning it on re-adds the user with the
// org's default role and applies the group mapping. The profile of a user
// the SCIM client did not create is stored for this org only.
func (s *SQLStore) ReplaceSCIMUser(ctx context.Context, actor, orgID, userID string, in SCIMUserInput, ifVersion int64, m GroupMapping) (SCIMUser, error) {
	email, emailKey, err := validateSCIMUser(&in)
	if err != nil {
		return SCIMUser{}, err
	}
	var out SCIMUser
	err = s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		cur, err := getSCIMUser(ctx, q, orgID, userID)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != cur.Version {
			return fmt.Errorf("SCIM user %s changed since version %d: %w", userID, ifVersion, ErrVersionMismatch)
		}
		if err := checkSCIMUserUnique(ctx, q, orgID, userID, strings.ToLower(in.UserName), in.ExternalID); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		n, err := q.exec(ctx, `UPDATE scim_users SET user_name = $1, user_name_key = $2, external_id = $3, email = $4, given_name = $5,
			family_name = $6, display_name = $7, version = version + 1, updated_at = $8 WHERE org_id = $9 AND user_id = $10`,
			in.UserName, strings.ToLower(in.UserName), nullIfEmpty(in.ExternalID), in.Email, in.GivenName, in.FamilyName, in.DisplayName, ts(now), orgID, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			// A member the SCIM client had not written: it starts at version 2,
			// after the 1 it was shown with.
			if _, err := q.exec(ctx, `INSERT INTO scim_users (org_id, user_id, user_name, user_name_key, external_id, email, given_name, family_name, display_name, owned, version, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, 2, $10, $11)`,
				orgID, userID, in.UserName, strings.ToLower(in.UserName), nullIfEmpty(in.ExternalID), in.Email, in.GivenName, in.FamilyName, in.DisplayName, ts(cur.CreatedAt), ts(now)); err != nil {
				return err
			}
		}
		var owned bool
		if err := q.queryRow(ctx, `SELECT owned FROM scim_users WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&owned); err != nil {
			return err
		}
		if owned {
			// Only the org that created the user (and nobody has claimed it
			// through an upstream sign-in yet) sets its directory profile.
			if _, err := q.exec(ctx, `UPDATE users SET email = $1, email_key = $2, name = $3 WHERE id = $4
				AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = $4)`, email, emailKey, scimDisplayName(in), userID); err != nil {
				return err
			}
		}
		if err := audit(ctx, q, orgID, actor, "scim.user.replace", userID,
			map[string]any{"userName": cur.UserName, "externalId": cur.ExternalID, "active": cur.Active},
			map[string]any{"userName": in.UserName, "externalId": in.ExternalID, "active": in.Active}); err != nil {
			return err
		}
		switch {
		case cur.Active && !in.Active:
			if err := scimDeactivate(ctx, q, orgID, actor, userID); err != nil {
				return err
			}
		case !cur.Active && in.Active:
			if err := scimActivate(ctx, q, o, actor, userID, m); err != nil {
				return err
			}
		}
		out, err = getSCIMUser(ctx, q, orgID, userID)
		return err
	})
	if err != nil {
		return SCIMUser{}, fmt.Errorf("replace SCIM user: %w", err)
	}
	return out, nil
}

// DeleteSCIMUser removes a user from the org and from its SCIM view (and
// its SCIM groups). The user itself stays: it may belong to other orgs.
// The caller ends the user's sessions.
func (s *SQLStore) DeleteSCIMUser(ctx context.Context, actor, orgID, userID string, ifVersion int64) error {
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		cur, err := getSCIMUser(ctx, q, orgID, userID)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != cur.Version {
			return fmt.Errorf("SCIM user %s changed since version %d: %w", userID, ifVersion, ErrVersionMismatch)
		}
		if cur.Active {
			if err := scimDeactivate(ctx, q, orgID, actor, userID); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, `DELETE FROM scim_group_members WHERE org_id = $1 AND user_id = $2`, orgID, userID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM scim_users WHERE org_id = $1 AND user_id = $2`, orgID, userID); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "scim.user.delete", userID, map[string]any{"userName": cur.UserName, "externalId": cur.ExternalID}, nil)
	})
	if err != nil {
		return fmt.Errorf("delete SCIM user: %w", err)
	}
	return nil
}

// SCIMDeactivated reports whether the org's SCIM client deactivated or
// holds a user: a SCIM user of the org with that id, or with that lowercased
// userName/email, who is not a member. Sign-in must not re-admit such a user
// by just-in-time provisioning (docs/scim.md).
func (s *SQLStore) SCIMDeactivated(ctx context.Context, orgID, userID, emailKey string) (bool, error) {
	return scimDeactivated(ctx, s.db, orgID, userID, emailKey)
}

func scimDeactivated(ctx context.Context, q querier, orgID, userID, emailKey string) (bool, error) {
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM scim_users s WHERE s.org_id = $1 AND (s.user_id = $2 OR s.user_name_key = $3 OR lower(s.email) = $3)
		AND NOT EXISTS (SELECT 1 FROM org_members m WHERE m.org_id = s.org_id AND m.principal_id = s.user_id)`, orgID, userID, emailKey).Scan(&n)
	return n > 0, err
}

// scimDeactivate removes a user from the org as RemoveMember does, keeping
// the last human admin.
func scimDeactivate(ctx context.Context, q querier, orgID, actor, userID string) error {
	m, err := getMember(ctx, q, orgID, userID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Role == access.RoleAdmin {
		n, err := countAdmins(ctx, q, orgID)
		if err != nil {
			return err
		}
		if n <= 1 {
			return invariant(RuleLastAdmin, "%s is the organization's last admin and cannot be deactivated", displayName(m))
		}
	}
	if _, err := q.exec(ctx, `DELETE FROM workspace_members WHERE org_id = $1 AND principal_id = $2`, orgID, userID); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `DELETE FROM org_members WHERE org_id = $1 AND principal_id = $2`, orgID, userID); err != nil {
		return err
	}
	return audit(ctx, q, orgID, actor, "member.remove", userID, map[string]any{"role": m.Role, "email": m.Email}, nil)
}

// scimActivate makes a user a member with the org's default role in its
// default workspace, then applies the group mapping.
func scimActivate(ctx context.Context, q querier, o Organization, actor, userID string, m GroupMapping) error {
	role := o.Settings.DefaultOrgRole
	if _, err := joinOrg(ctx, q, o, userID, role, nil); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `UPDATE org_members SET source = $1 WHERE org_id = $2 AND principal_id = $3`, scimSource, o.ID, userID); err != nil {
		return err
	}
	if err := audit(ctx, q, o.ID, actor, "member.add", userID, nil, map[string]any{"role": role, "source": scimSource}); err != nil {
		return err
	}
	return scimSync(ctx, q, o, actor, userID, m)
}

// scimSync applies the group mapping to one member from the display names
// of its SCIM groups: the org role is the strongest mapped role
// (access.Stronger), or the org's default role when the mapping maps roles
// but none of the user's groups; a member added by an admin or an invitation
// keeps its role, and the last admin is never demoted. Workspace
// memberships the mapping made are kept in step, as at sign-in.
func scimSync(ctx context.Context, q querier, o Organization, actor, userID string, m GroupMapping) error {
	if len(m.Roles) == 0 && m.Workspaces == nil {
		return nil
	}
	var source, role string
	err := q.queryRow(ctx, `SELECT source, role FROM org_members WHERE org_id = $1 AND principal_id = $2`, o.ID, userID).Scan(&source, &role)
	if err == errNoRows {
		return nil // not a member (deactivated): nothing to map
	}
	if err != nil {
		return err
	}
	r, err := q.query(ctx, `SELECT g.display_name FROM scim_group_members gm JOIN scim_groups g ON g.id = gm.group_id WHERE gm.org_id = $1 AND gm.user_id = $2`, o.ID, userID)
	if err != nil {
		return err
	}
	groups, err := collect(r, func(r row) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	if err != nil {
		return err
	}
	var want access.OrgRole
	ws := map[string]access.WorkspaceRole{}
	for _, g := range groups {
		if r, ok := m.Roles[g]; ok {
			want = access.Stronger(want, r)
		}
		for ref, wr := range m.Workspaces[g] {
			if ws[ref] != access.WorkspaceOwner {
				ws[ref] = wr
			}
		}
	}
	if want == "" && len(m.Roles) > 0 {
		want = o.Settings.DefaultOrgRole
	}
	if want != "" && source != "" && access.OrgRole(role) != want && want.Valid() {
		keep := false
		if access.OrgRole(role) == access.RoleAdmin {
			n, err := countAdmins(ctx, q, o.ID)
			if err != nil {
				return err
			}
			keep = n <= 1
		}
		if !keep {
			if _, err := q.exec(ctx, `UPDATE org_members SET role = $1, version = version + 1 WHERE org_id = $2 AND principal_id = $3`, string(want), o.ID, userID); err != nil {
				return err
			}
			if err := audit(ctx, q, o.ID, actor, "member.role.sync", userID, map[string]any{"role": role}, map[string]any{"role": want, "source": scimSource}); err != nil {
				return err
			}
		}
	}
	if m.Workspaces == nil {
		return nil
	}
	return scimSyncWorkspaces(ctx, q, o, actor, userID, ws)
}

func scimSyncWorkspaces(ctx context.Context, q querier, o Organization, actor, userID string, byRef map[string]access.WorkspaceRole) error {
	want := map[string]access.WorkspaceRole{}
	for ref, role := range byRef {
		if !role.Valid() {
			continue
		}
		w, err := getWorkspace(ctx, q, o.ID, ref)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		want[w.ID] = role
	}
	r, err := q.query(ctx, `SELECT workspace_id, role, source FROM workspace_members WHERE org_id = $1 AND principal_id = $2`, o.ID, userID)
	if err != nil {
		return err
	}
	type have struct{ id, role, source string }
	rows, err := collect(r, func(r row) (have, error) {
		var h have
		return h, r.Scan(&h.id, &h.role, &h.source)
	})
	if err != nil {
		return err
	}
	current := map[string]have{}
	for _, h := range rows {
		current[h.id] = h
	}
	for id, h := range current {
		if _, keep := want[id]; keep || h.source != scimSource {
			continue
		}
		if _, err := q.exec(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND principal_id = $2`, id, userID); err != nil {
			return err
		}
		if err := audit(ctx, q, o.ID, actor, "workspace.member.sync.remove", id+"/"+userID, map[string]any{"role": h.role}, nil); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		role := want[id]
		h, exists := current[id]
		if exists && (h.source != scimSource || h.role == string(role)) {
			continue // made by an admin, an invitation or a sign-in, or already right
		}
		flags := role == access.WorkspaceOwner
		if _, err := q.exec(ctx, `INSERT INTO workspace_members (workspace_id, org_id, principal_id, role, can_invite, can_make_public, created_at, source)
			VALUES ($1, $2, $3, $4, $5, $5, $6, $7)
			ON CONFLICT (workspace_id, principal_id) DO UPDATE SET role = excluded.role, can_invite = excluded.can_invite, can_make_public = excluded.can_make_public`,
			id, o.ID, userID, string(role), flags, ts(time.Now()), scimSource); err != nil {
			return err
		}
		if err := audit(ctx, q, o.ID, actor, "workspace.member.sync.put", id+"/"+userID, nil, map[string]any{"role": role}); err != nil {
			return err
		}
	}
	return nil
}

// SCIMGroup is a group an org's SCIM client manages. Members are user ids
// with their userName, present when asked for.
type SCIMGroup struct {
	ID          string
	OrgID       string
	DisplayName string
	ExternalID  string
	Members     []SCIMGroupMember
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SCIMGroupMember is one member of a SCIM group.
type SCIMGroupMember struct {
	UserID   string
	UserName string
}

// SCIMGroupFilter narrows ListSCIMGroups (ANDed, exact). WithMembers loads
// each group's members.
type SCIMGroupFilter struct {
	DisplayName *string
	ExternalID  *string
	Offset      int
	Limit       int
	WithMembers bool
}

// SCIMGroupChange changes a group; nil fields stay. Members, when not nil,
// replaces the member list; Add and Remove change it. MaxGroupMembers bounds
// a group.
type SCIMGroupChange struct {
	DisplayName *string
	ExternalID  *string
	Members     *[]string
	Add         []string
	Remove      []string
}

// MaxSCIMGroupMembers bounds the members of one SCIM group.
const MaxSCIMGroupMembers = 50000

const scimGroupCols = `id, org_id, display_name, COALESCE(external_id, ''), version, created_at, updated_at`

func scanSCIMGroup(r row) (SCIMGroup, error) {
	var g SCIMGroup
	var created, updated int64
	err := r.Scan(&g.ID, &g.OrgID, &g.DisplayName, &g.ExternalID, &g.Version, &created, &updated)
	g.CreatedAt, g.UpdatedAt = fromTS(created), fromTS(updated)
	return g, err
}

func validateGroupName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > maxSCIMText || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return invalid("displayName", "displayName is required: text of at most %d bytes without control characters", maxSCIMText)
	}
	return nil
}

func groupMembers(ctx context.Context, q querier, groupID string) ([]SCIMGroupMember, error) {
	r, err := q.query(ctx, `SELECT gm.user_id, s.user_name FROM scim_group_members gm JOIN scim_users s ON s.org_id = gm.org_id AND s.user_id = gm.user_id
		WHERE gm.group_id = $1 ORDER BY gm.user_id`, groupID)
	if err != nil {
		return nil, err
	}
	return collect(r, func(r row) (SCIMGroupMember, error) {
		var m SCIMGroupMember
		return m, r.Scan(&m.UserID, &m.UserName)
	})
}

func getSCIMGroup(ctx context.Context, q querier, orgID, id string, withMembers bool) (SCIMGroup, error) {
	g, err := scanSCIMGroup(q.queryRow(ctx, `SELECT `+scimGroupCols+` FROM scim_groups WHERE org_id = $1 AND id = $2`, orgID, id))
	if err == errNoRows {
		return g, notFound("group", id)
	}
	if err != nil || !withMembers {
		return g, err
	}
	g.Members, err = groupMembers(ctx, q, g.ID)
	return g, err
}

// GetSCIMGroup returns a SCIM group of the org.
func (s *SQLStore) GetSCIMGroup(ctx context.Context, orgID, id string, withMembers bool) (SCIMGroup, error) {
	return getSCIMGroup(ctx, s.db, orgID, id, withMembers)
}

// ListSCIMGroups lists the org's SCIM groups by id, and the total that match.
func (s *SQLStore) ListSCIMGroups(ctx context.Context, orgID string, f SCIMGroupFilter) ([]SCIMGroup, int, error) {
	where := ` FROM scim_groups WHERE org_id = $1`
	args := []any{orgID}
	if f.DisplayName != nil {
		args = append(args, strings.ToLower(*f.DisplayName))
		where += fmt.Sprintf(" AND display_key = $%d", len(args))
	}
	if f.ExternalID != nil {
		args = append(args, *f.ExternalID)
		where += fmt.Sprintf(" AND external_id = $%d", len(args))
	}
	var total int
	if err := s.db.queryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count SCIM groups: %w", err)
	}
	limit := min(max(f.Limit, 0), 500)
	if limit == 0 || f.Offset >= total {
		return nil, total, nil
	}
	args = append(args, limit, max(f.Offset, 0))
	r, err := s.db.query(ctx, `SELECT `+scimGroupCols+where+fmt.Sprintf(" ORDER BY id LIMIT $%d OFFSET $%d", len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list SCIM groups: %w", err)
	}
	out, err := collect(r, scanSCIMGroup)
	if err != nil || !f.WithMembers {
		return out, total, err
	}
	for i := range out {
		if out[i].Members, err = groupMembers(ctx, s.db, out[i].ID); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// ensureSCIMMember makes sure userID is a user of the org's SCIM view and
// has a scim_users row (a member the client never wrote gets one), so it
// can be a group member. Any other id is an ErrInvalid naming it.
func ensureSCIMMember(ctx context.Context, q querier, orgID, userID string) error {
	u, err := getSCIMUser(ctx, q, orgID, userID)
	if isNotFound(err) {
		return invalid("members", "%q is not a user of this organization", userID)
	}
	if err != nil {
		return err
	}
	if !u.Active {
		return nil // only users the SCIM client wrote are inactive: the row exists
	}
	email, key, err := normalizeEmail(u.UserName)
	if err != nil {
		email, key = u.UserName, strings.ToLower(u.UserName)
	}
	_, err = q.exec(ctx, `INSERT INTO scim_users (org_id, user_id, user_name, user_name_key, email, owned, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, FALSE, 1, $6, $6) ON CONFLICT DO NOTHING`,
		orgID, userID, email, key, email, ts(u.CreatedAt))
	return err
}

// CreateSCIMGroup creates a group with its members (ids of users of the
// org's SCIM view) and applies the group mapping to them.
func (s *SQLStore) CreateSCIMGroup(ctx context.Context, actor, orgID, displayName, externalID string, members []string, m GroupMapping) (SCIMGroup, error) {
	if err := validateGroupName(displayName); err != nil {
		return SCIMGroup{}, err
	}
	if len(externalID) > maxSCIMText {
		return SCIMGroup{}, invalid("externalId", "externalId must be at most %d bytes", maxSCIMText)
	}
	var out SCIMGroup
	err := s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		id := newID("grp")
		_, err = q.exec(ctx, `INSERT INTO scim_groups (id, org_id, display_name, display_key, external_id, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6)`,
			id, orgID, displayName, strings.ToLower(displayName), nullIfEmpty(externalID), ts(now))
		if isUnique(err) {
			return conflict("a group named %q or with that externalId already exists", displayName)
		}
		if err != nil {
			return err
		}
		if err := audit(ctx, q, orgID, actor, "scim.group.create", id, nil, map[string]any{"displayName": displayName, "members": len(members)}); err != nil {
			return err
		}
		if _, err := setGroupMembers(ctx, q, o, actor, id, displayName, displayName, SCIMGroupChange{Members: &members}, m); err != nil {
			return err
		}
		out, err = getSCIMGroup(ctx, q, orgID, id, true)
		return err
	})
	if err != nil {
		return SCIMGroup{}, fmt.Errorf("create SCIM group: %w", err)
	}
	return out, nil
}

// setGroupMembers applies the member part of ch to a group and re-syncs the
// mapped access of the users whose groups changed (every member when the
// group's name changed from or to a mapped one). It returns whether the
// member list changed.
func setGroupMembers(ctx context.Context, q querier, o Organization, actor, groupID, oldName, newName string, ch SCIMGroupChange, m GroupMapping) (bool, error) {
	r, err := q.query(ctx, `SELECT user_id FROM scim_group_members WHERE group_id = $1`, groupID)
	if err != nil {
		return false, err
	}
	ids, err := collect(r, func(r row) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	if err != nil {
		return false, err
	}
	have := map[string]bool{}
	for _, id := range ids {
		have[id] = true
	}
	want := map[string]bool{}
	if ch.Members != nil {
		for _, id := range *ch.Members {
			want[id] = true
		}
	} else {
		for id := range have {
			want[id] = true
		}
	}
	for _, id := range ch.Add {
		want[id] = true
	}
	for _, id := range ch.Remove {
		delete(want, id)
	}
	if len(want) > MaxSCIMGroupMembers {
		return false, invalid("members", "a group has at most %d members", MaxSCIMGroupMembers)
	}
	var added, removed []string
	for id := range want {
		if !have[id] {
			added = append(added, id)
		}
	}
	for id := range have {
		if !want[id] {
			removed = append(removed, id)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	for _, id := range added {
		if err := ensureSCIMMember(ctx, q, o.ID, id); err != nil {
			return false, err
		}
		if _, err := q.exec(ctx, `INSERT INTO scim_group_members (group_id, org_id, user_id) VALUES ($1, $2, $3)`, groupID, o.ID, id); err != nil {
			return false, err
		}
	}
	for _, id := range removed {
		if _, err := q.exec(ctx, `DELETE FROM scim_group_members WHERE group_id = $1 AND user_id = $2`, groupID, id); err != nil {
			return false, err
		}
	}
	if len(added)+len(removed) > 0 {
		if err := audit(ctx, q, o.ID, actor, "scim.group.members", groupID, nil, map[string]any{"added": len(added), "removed": len(removed)}); err != nil {
			return false, err
		}
	}
	var resync []string
	switch {
	case oldName != newName && (m.mapsGroup(oldName) || m.mapsGroup(newName)):
		for id := range want {
			resync = append(resync, id)
		}
		resync = append(resync, removed...)
		sort.Strings(resync)
	case m.mapsGroup(newName):
		resync = append(added, removed...)
	}
	for _, id := range resync {
		if err := scimSync(ctx, q, o, actor, id, m); err != nil {
			return false, err
		}
	}
	return len(added)+len(removed) > 0, nil
}

// UpdateSCIMGroup changes a group's name, externalId and members (PUT and
// PATCH), re-syncing the mapped access of the users concerned, and returns
// the group without its members. ifVersion as in ReplaceSCIMUser.
func (s *SQLStore) UpdateSCIMGroup(ctx context.Context, actor, orgID, id string, ch SCIMGroupChange, ifVersion int64, m GroupMapping) (SCIMGroup, error) {
	if ch.DisplayName != nil {
		if err := validateGroupName(*ch.DisplayName); err != nil {
			return SCIMGroup{}, err
		}
	}
	if ch.ExternalID != nil && len(*ch.ExternalID) > maxSCIMText {
		return SCIMGroup{}, invalid("externalId", "externalId must be at most %d bytes", maxSCIMText)
	}
	var out SCIMGroup
	err := s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		cur, err := getSCIMGroup(ctx, q, orgID, id, false)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != cur.Version {
			return fmt.Errorf("SCIM group %s changed since version %d: %w", id, ifVersion, ErrVersionMismatch)
		}
		name, ext := cur.DisplayName, cur.ExternalID
		if ch.DisplayName != nil {
			name = *ch.DisplayName
		}
		if ch.ExternalID != nil {
			ext = *ch.ExternalID
		}
		changed := name != cur.DisplayName || ext != cur.ExternalID
		if changed {
			_, err := q.exec(ctx, `UPDATE scim_groups SET display_name = $1, display_key = $2, external_id = $3 WHERE id = $4`,
				name, strings.ToLower(name), nullIfEmpty(ext), id)
			if isUnique(err) {
				return conflict("a group named %q or with that externalId already exists", name)
			}
			if err != nil {
				return err
			}
			if err := audit(ctx, q, orgID, actor, "scim.group.update", id, map[string]any{"displayName": cur.DisplayName, "externalId": cur.ExternalID},
				map[string]any{"displayName": name, "externalId": ext}); err != nil {
				return err
			}
		}
		membersChanged, err := setGroupMembers(ctx, q, o, actor, id, cur.DisplayName, name, ch, m)
		if err != nil {
			return err
		}
		if changed || membersChanged {
			if _, err := q.exec(ctx, `UPDATE scim_groups SET version = version + 1, updated_at = $1 WHERE id = $2`, ts(time.Now()), id); err != nil {
				return err
			}
		}
		out, err = getSCIMGroup(ctx, q, orgID, id, false)
		return err
	})
	if err != nil {
		return SCIMGroup{}, fmt.Errorf("update SCIM group: %w", err)
	}
	return out, nil
}

// DeleteSCIMGroup deletes a group and re-syncs the mapped access of its
// members.
func (s *SQLStore) DeleteSCIMGroup(ctx context.Context, actor, orgID, id string, ifVersion int64, m GroupMapping) error {
	err := s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		cur, err := getSCIMGroup(ctx, q, orgID, id, false)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != cur.Version {
			return fmt.Errorf("SCIM group %s changed since version %d: %w", id, ifVersion, ErrVersionMismatch)
		}
		empty := []string{}
		if _, err := setGroupMembers(ctx, q, o, actor, id, cur.DisplayName, cur.DisplayName, SCIMGroupChange{Members: &empty}, m); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM scim_groups WHERE id = $1`, id); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "scim.group.delete", id, map[string]any{"displayName": cur.DisplayName}, nil)
	})
	if err != nil {
		return fmt.Errorf("delete SCIM group: %w", err)
	}
	return nil
}

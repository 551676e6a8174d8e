package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

// SignInLink is an operator's one-time console sign-in link for one member
// of one organization: the way into the console before the organization has
// an IdP, and the break-glass path after (README, "The way in without an
// IdP"). Only the SHA-256 of its token is stored.
type SignInLink struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"org_id"`
	UserID    string     `json:"user_id"`
	Email     string     `json:"email"`
	CreatedBy string     `json:"created_by"`
	ExpiresAt time.Time  `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
}

// ErrLinkExpired is returned for a sign-in link past its expiry.
var ErrLinkExpired = errors.New("directory: sign-in link expired")

// ErrLinkUsed is returned for a sign-in link that was already redeemed.
var ErrLinkUsed = errors.New("directory: sign-in link already used")

// MaxSignInLinkTTL is the longest validity of a sign-in link.
const MaxSignInLinkTTL = 15 * time.Minute

// sign-in link tokens are 32 random bytes in base 62.
const signInTokenLen = 43

const linkCols = `l.id, l.org_id, l.user_id, u.email, l.created_by, l.expires_at, l.created_at, l.used_at`
const linkFrom = ` FROM sign_in_links l JOIN users u ON u.id = l.user_id`

func scanSignInLink(r row) (SignInLink, error) {
	var l SignInLink
	var expires, created int64
	var used *int64
	err := r.Scan(&l.ID, &l.OrgID, &l.UserID, &l.Email, &l.CreatedBy, &expires, &created, &used)
	l.ExpiresAt, l.CreatedAt, l.UsedAt = fromTS(expires), fromTS(created), fromNullTS(used)
	return l, err
}

// memberByEmail finds the user who is a member of the org with email (case
// insensitive). Emails are not unique across users; when several members
// share one, an admin is preferred, then the oldest membership.
func memberByEmail(ctx context.Context, q querier, orgID, email string) (Member, error) {
	_, key, err := normalizeEmail(email)
	if err != nil {
		return Member{}, err
	}
	m, err := scanMember(q.queryRow(ctx, `SELECT `+memberCols+memberFrom+`
		WHERE m.org_id = $1 AND m.principal_type = 'user' AND u.email_key = $2
		ORDER BY CASE WHEN m.role = 'admin' THEN 0 ELSE 1 END, m.created_at, m.principal_id LIMIT 1`, orgID, key))
	if err == errNoRows {
		return m, notFound("member", email)
	}
	return m, err
}

// FindMemberByEmail returns the org's member user with email (ErrNotFound
// when there is none).
func (s *SQLStore) FindMemberByEmail(ctx context.Context, orgID, email string) (Member, error) {
	return memberByEmail(ctx, s.db, orgID, email)
}

// EnsureAdmin makes the person with email an admin of the org, creating a
// user without any upstream identity when the org has no member with that
// email; it is how `ssobroker admin bootstrap` makes the first admin. A
// member with that email is returned as it is (created is false) — its role
// is not changed. The user claims an upstream identity later by signing in
// through a connection of the org (see ProvisionLogin).
func (s *SQLStore) EnsureAdmin(ctx context.Context, actor, orgID, email string) (m Member, created bool, err error) {
	email, key, err := normalizeEmail(email)
	if err != nil {
		return Member{}, false, err
	}
	err = s.mutate(ctx, func(q querier) error {
		created = false
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		existing, err := memberByEmail(ctx, q, orgID, email)
		if err == nil {
			m = existing
			return nil
		}
		if !isNotFound(err) {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := User{ID: newID("usr"), Email: email, CreatedAt: now}
		if _, err := q.exec(ctx, `INSERT INTO users (id, email, email_key, email_verified, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.Email, key, false, "", ts(now)); err != nil {
			return err
		}
		if err := audit(ctx, q, orgID, actor, "user.create", u.ID, nil, map[string]any{"email": email}); err != nil {
			return err
		}
		if m, err = addMember(ctx, q, orgID, u.ID, access.RoleAdmin); err != nil {
			return err
		}
		created = true
		return audit(ctx, q, orgID, actor, "member.add", u.ID, nil, map[string]any{"role": access.RoleAdmin})
	})
	if err != nil {
		return Member{}, false, fmt.Errorf("ensure admin: %w", err)
	}
	return m, created, nil
}

// CreateSignInLink makes a one-time console sign-in link for the org's
// member with email (ErrNotFound when there is none), valid for ttl, which
// must be in (0, 15 min]. It returns the link and its secret token, which is
// shown once: only its SHA-256 is stored. Audited with actor (the operator,
// e.g. "cli:root").
func (s *SQLStore) CreateSignInLink(ctx context.Context, actor, orgID, email string, ttl time.Duration) (SignInLink, string, error) {
	if ttl <= 0 || ttl > MaxSignInLinkTTL {
		return SignInLink{}, "", invalid("ttl", "a sign-in link must expire within 15 minutes, got %s", ttl)
	}
	if actor == "" {
		return SignInLink{}, "", invalid("actor", "a sign-in link needs the operator who made it")
	}
	token := encodeBase62(randomBytes(32))
	now := time.Now().UTC().Truncate(time.Microsecond)
	l := SignInLink{ID: newID("sil"), OrgID: orgID, CreatedBy: actor, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		m, err := memberByEmail(ctx, q, orgID, email)
		if err != nil {
			return err
		}
		l.UserID, l.Email = m.PrincipalID, m.Email
		if _, err := q.exec(ctx, `INSERT INTO sign_in_links (id, org_id, user_id, token_hash, expires_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			l.ID, l.OrgID, l.UserID, HashSecret(token), ts(l.ExpiresAt), actor, ts(now)); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "signin_link.create", l.ID, nil,
			map[string]any{"user": l.UserID, "email": l.Email, "expires_at": l.ExpiresAt})
	})
	if err != nil {
		return SignInLink{}, "", fmt.Errorf("create sign-in link: %w", err)
	}
	return l, token, nil
}

// wellFormedSignInToken reports whether s has the shape of a sign-in link
// token, so that other input is refused before any lookup.
func wellFormedSignInToken(s string) bool {
	if len(s) != signInTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// RedeemSignInLink marks the link with token used and returns it. Exactly one
// of concurrent redemptions succeeds: the link is claimed by one conditional
// UPDATE. An unknown token is ErrNotFound, a used link ErrLinkUsed, an expired
// one ErrLinkExpired, and a link whose user is no longer a member of its org
// ErrNotFound (the link stays unused and expires). Audited as
// "signin_link.redeem" with the link's user as actor.
func (s *SQLStore) RedeemSignInLink(ctx context.Context, token string) (SignInLink, error) {
	if !wellFormedSignInToken(token) {
		return SignInLink{}, fmt.Errorf("redeem sign-in link: %w", notFound("sign-in link", "(token)"))
	}
	hash := HashSecret(token)
	var l SignInLink
	err := s.mutate(ctx, func(q querier) error {
		now := time.Now().UTC().Truncate(time.Microsecond)
		var id string
		err := q.queryRow(ctx, `UPDATE sign_in_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING id`,
			ts(now), hash).Scan(&id)
		if err == errNoRows {
			// Nothing claimed: say why.
			old, err := scanSignInLink(q.queryRow(ctx, `SELECT `+linkCols+linkFrom+` WHERE l.token_hash = $1`, hash))
			switch {
			case err == errNoRows:
				return notFound("sign-in link", "(token)")
			case err != nil:
				return err
			case old.UsedAt != nil:
				return ErrLinkUsed
			default:
				return ErrLinkExpired
			}
		}
		if err != nil {
			return err
		}
		if l, err = scanSignInLink(q.queryRow(ctx, `SELECT `+linkCols+linkFrom+` WHERE l.id = $1`, id)); err != nil {
			return err
		}
		if _, err := getMember(ctx, q, l.OrgID, l.UserID); err != nil {
			return err
		}
		return audit(ctx, q, l.OrgID, l.UserID, "signin_link.redeem", l.ID, nil, map[string]any{"user": l.UserID})
	})
	if err != nil {
		return SignInLink{}, fmt.Errorf("redeem sign-in link: %w", err)
	}
	return l, nil
}

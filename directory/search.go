package directory

import (
	"context"
	"fmt"
	"strings"
)

// MaxSearchLen bounds the search string of the directory's searchable lists.
const MaxSearchLen = 100

// ListFilter narrows a searchable list (SearchInvitations,
// SearchJoinRequests, SearchServiceAccounts).
type ListFilter struct {
	// Q matches a substring, case-insensitively, of the columns each list
	// names (at most MaxSearchLen characters); empty: every item.
	Q string
	Page
}

// listQuery is one org-scoped list, paginated by a unique key column and
// searchable in some of its columns.
type listQuery struct {
	// selectFrom is "SELECT cols FROM …" (with its joins).
	selectFrom string
	// org and key are the org id column and the key the list is ordered
	// and paginated by.
	org, key string
	// match are the (text) columns Q is looked for in.
	match []string
	// extra, when set, is one more condition with one argument, its
	// placeholder written %d.
	extra    string
	extraArg any
}

// searchPage runs a listQuery for one page of orgID's items matching q.
func searchPage[T any](ctx context.Context, db querier, lq listQuery, orgID string, f ListFilter, scan func(row) (T, error), keyOf func(T) string) ([]T, string, error) {
	if len(f.Q) > MaxSearchLen {
		return nil, "", invalid("q", "a search must be at most %d characters", MaxSearchLen)
	}
	limit := limitOf(f.Page)
	qs := lq.selectFrom + ` WHERE ` + lq.org + ` = $1 AND ` + lq.key + ` > $2`
	args := []any{orgID, f.After}
	if f.Q != "" {
		args = append(args, likePattern(f.Q))
		or := make([]string, len(lq.match))
		for i, c := range lq.match {
			or[i] = fmt.Sprintf(`lower(%s) LIKE $%d ESCAPE '\'`, c, len(args))
		}
		qs += ` AND (` + strings.Join(or, ` OR `) + `)`
	}
	if lq.extra != "" {
		args = append(args, lq.extraArg)
		qs += ` AND ` + fmt.Sprintf(lq.extra, len(args))
	}
	args = append(args, limit)
	qs += fmt.Sprintf(` ORDER BY %s LIMIT $%d`, lq.key, len(args))
	r, err := db.query(ctx, qs, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(r, scan)
	if err != nil || len(out) == 0 {
		return out, "", err
	}
	return out, nextCursor(len(out), limit, keyOf(out[len(out)-1])), nil
}

// SearchInvitations lists the org's invitations whose email contains f.Q,
// by id, one page at a time.
func (s *SQLStore) SearchInvitations(ctx context.Context, orgID string, f ListFilter) ([]Invitation, string, error) {
	return searchPage(ctx, s.db, listQuery{selectFrom: `SELECT ` + invCols + ` FROM invitations`, org: "org_id", key: "id", match: []string{"email"}},
		orgID, f, scanInvitation, func(i Invitation) string { return i.ID })
}

// SearchJoinRequests lists the org's join requests whose requester's email
// contains f.Q, by id, one page at a time.
func (s *SQLStore) SearchJoinRequests(ctx context.Context, orgID string, f ListFilter) ([]JoinRequest, string, error) {
	return searchPage(ctx, s.db, listQuery{selectFrom: `SELECT ` + joinCols + joinFrom, org: "r.org_id", key: "r.id", match: []string{"u.email", "u.name"}},
		orgID, f, scanJoinRequest, func(j JoinRequest) string { return j.ID })
}

// SearchServiceAccounts lists the org's service accounts whose name
// contains f.Q, by id, one page at a time.
func (s *SQLStore) SearchServiceAccounts(ctx context.Context, orgID string, f ListFilter) ([]ServiceAccount, string, error) {
	return searchPage(ctx, s.db, listQuery{selectFrom: `SELECT ` + saCols + saFrom, org: "sa.org_id", key: "sa.id", match: []string{"sa.name"}},
		orgID, f, scanServiceAccount, func(a ServiceAccount) string { return a.ID })
}

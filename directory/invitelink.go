package directory

import (
	"context"
	"strings"
)

// FindInvitation finds an invitation by its id alone, for the landing page
// of its accept link ({issuer}/invite/{id}). The id is not a secret: the
// invitation is accepted only by a sign-in whose verified email is the
// invited one. ErrNotFound for an unknown or malformed id.
func (s *SQLStore) FindInvitation(ctx context.Context, id string) (Invitation, error) {
	if !strings.HasPrefix(id, "inv_") || len(id) > 64 {
		return Invitation{}, notFound("invitation", id)
	}
	inv, err := scanInvitation(s.db.queryRow(ctx, `SELECT `+invCols+` FROM invitations WHERE id = $1`, id))
	if err == errNoRows {
		return inv, notFound("invitation", id)
	}
	return inv, err
}

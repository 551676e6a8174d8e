package directory_test

import (
	"errors"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestFindInvitationByIDAlone: the accept link's landing page finds an
// invitation by its id without knowing the org, on both engines; anything
// that is not an invitation id is not found.
func TestFindInvitationByIDAlone(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			o, _ := newOrg(t, s)
			inv := must[directory.Invitation](t)(s.CreateInvitation(bg, actorSystem, directory.NewInvitation{
				OrgID: o.ID, Email: "guest-" + tok() + "@example.com", Role: access.RolePlatformMember}))
			got, err := s.FindInvitation(bg, inv.ID)
			if err != nil || got.ID != inv.ID || got.OrgID != o.ID || got.Email != inv.Email || got.State != inv.State {
				t.Fatalf("FindInvitation = %+v, %v; want %+v", got, err, inv)
			}
			for _, id := range []string{"inv_unknown", "usr_" + inv.ID[4:], "", "inv_' OR 1=1 --"} {
				if _, err := s.FindInvitation(bg, id); !errors.Is(err, directory.ErrNotFound) {
					t.Fatalf("FindInvitation(%q) = %v, want ErrNotFound", id, err)
				}
			}
		})
	}
}

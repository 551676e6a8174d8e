package directory_test

import (
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestClientAdminAPIFlag: a client may ask for the admin API's scope only
// when registered with AdminAPI; the flag is stored and read back on both
// engines, and is off by default.
func TestClientAdminAPIFlag(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			plain, _, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "SPA", Public: true, RedirectURIs: []string{"http://127.0.0.1:5173/cb"}})
			noErr(t, err)
			admin, _, err := s.CreateClient(bg, actorSystem, directory.NewClient{Name: "console-cli", Public: true, AdminAPI: true,
				RedirectURIs: []string{"http://127.0.0.1:8765/cb"}})
			noErr(t, err)
			if plain.AdminAPI || !admin.AdminAPI {
				t.Fatalf("created: plain %v, admin %v", plain.AdminAPI, admin.AdminAPI)
			}
			// Twice: from the database, then from the cache.
			for range 2 {
				if got := must[directory.Client](t)(s.GetClient(bg, plain.ID)); got.AdminAPI {
					t.Fatalf("a client registered without the flag reads back with it: %+v", got)
				}
				if got := must[directory.Client](t)(s.GetClient(bg, admin.ID)); !got.AdminAPI {
					t.Fatalf("the flag was not stored: %+v", got)
				}
			}
		})
	}
}

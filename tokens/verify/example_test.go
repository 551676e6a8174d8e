package verify_test

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// A relying service checks ssobroker access tokens offline against the
// broker's JWKS, asks the broker at most every 30 s whether each token is
// still active (so a user removed at the broker is refused within 30 s),
// and enforces the seed-001 permission table from the token alone.
// README.md ("Verifying tokens in a service") shows this same code;
// TestREADMEShowsTheExample keeps the two equal.
func Example() {
	// README example begins.
	const issuer = "https://sso.example.com"
	revocation, err := verify.NewIntrospector(verify.IntrospectionConfig{
		URL:          issuer + verify.IntrospectionPath,
		ClientID:     os.Getenv("SSOBROKER_SA"),  // a service account of the org: sa_…
		ClientSecret: os.Getenv("SSOBROKER_KEY"), // its API key: ssb_…
		Interval:     30 * time.Second,           // the revocation bound
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: []string{"cli_opik"}, Revocation: revocation})
	if err != nil {
		log.Fatal(err)
	}
	// Workspace names are unique in the deployment. An org admin holds every
	// workspace of its org, so a real service also checks that the workspace
	// belongs to claims.Org.ID.
	workspace := func(r *http.Request) string { return r.Header.Get("Comet-Workspace") }
	traces := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.FromContext(r.Context())
		if !verify.Allowed(claims, workspace(r), access.WorkspaceWrite) {
			http.Error(w, "missing workspace.write", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte("logged for " + claims.Subject + " in " + claims.Org.Name + "\n"))
	})
	settings := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("configured\n"))
	})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/traces", verify.Middleware(v)(traces))
	mux.Handle("PUT /v1/settings", verify.Middleware(v)(verify.RequirePermission(access.WorkspaceConfigure, workspace)(settings)))
	srv := &http.Server{Addr: ":9000", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// README example ends.
	_ = srv.ListenAndServe // log.Fatal(srv.ListenAndServe()) in a real main
}

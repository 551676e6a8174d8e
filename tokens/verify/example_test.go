package verify_test

import (
	"log"
	"net/http"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// A relying service checks ssobroker access tokens offline and asks for a
// permission in the workspace the request names.
func Example() {
	v, err := verify.New(verify.Config{
		Issuer:   "https://sso.example.com",
		Audience: []string{"cli_opik"},
	})
	if err != nil {
		log.Fatal(err)
	}
	workspace := func(r *http.Request) string { return r.Header.Get("Comet-Workspace") }
	logTraces := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.FromContext(r.Context())
		_, _ = w.Write([]byte("hello " + claims.Subject))
	})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/traces", verify.Middleware(v)(verify.RequirePermission(access.WorkspaceWrite, workspace)(logTraces)))
	// The same decision by hand, from the token alone (the seed-001 table
	// through access.Effective): may the caller configure the workspace?
	configure := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.FromContext(r.Context())
		if !verify.Allowed(claims, workspace(r), access.WorkspaceConfigure) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte("configured"))
	})
	mux.Handle("PUT /v1/settings", verify.Middleware(v)(configure))
	_ = http.ListenAndServe // mux is ready to serve
}

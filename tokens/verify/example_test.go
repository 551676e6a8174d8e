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
	_ = http.ListenAndServe // mux is ready to serve
}

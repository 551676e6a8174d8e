package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/internal/benchcpu"
	"github.com/ssobroker/ssobroker/tokens"
)

// BenchmarkIntrospectionHandler is the whole POST /oauth2/introspect
// handler without the network, for an active ES256 access token: form
// parsing, Basic credentials, the service account's API key, the
// signature, revocation, standing and the JSON answer.
func BenchmarkIntrospectionHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(testing.TB) *directory.SQLStore
	}{{"postgres", directorytest.Postgres}, {"sqlite", directorytest.SQLite}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b, c.open(b))
			tok := e.token(nil)
			if in := e.introspect(b, tok); in["active"] != true {
				b.Fatalf("introspection %v", in)
			}
			h := e.server.IntrospectionHandler()
			body := "token=" + tok
			b.ReportAllocs()
			stop := benchcpu.Start(b)
			defer stop()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, tokens.PathIntrospect, strings.NewReader(body))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.SetBasicAuth(e.sa.ID, e.secret)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"active":true,`) {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

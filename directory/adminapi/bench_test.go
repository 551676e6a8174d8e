package adminapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// BenchmarkListWorkspaces measures authenticated GET /api/v1/orgs/{org}/workspaces
// in process (no network): an admin service account's API key, and an admin's
// access token through the test verifier (a map lookup, so the JWT figure
// excludes signature verification, which the tokens package benchmarks).
// Both list the same 22 workspaces. req/s is reported next to ns/op.
func BenchmarkListWorkspaces(b *testing.B) {
	for _, backend := range []string{"postgres", "sqlite"} {
		b.Run(backend, func(b *testing.B) {
			f := newFixture(b, directorytest.Backends()[backend])
			for i := range 20 {
				_, err := f.store.CreateWorkspace(f.ctx, "system:bench", f.orgA.ID, fmt.Sprintf("bench-%02d", i), "")
				f.must(err)
			}
			sa, err := f.store.CreateServiceAccount(f.ctx, "system:bench", directory.NewServiceAccount{OrgID: f.orgA.ID, Name: "bench", Role: access.RoleAdmin})
			f.must(err)
			_, key, err := f.store.CreateAPIKey(f.ctx, "system:bench", f.orgA.ID, sa.ID)
			f.must(err)
			path := f.pathA("/workspaces")
			for _, cred := range []struct{ name, auth string }{{"apikey", "Bearer " + key}, {"jwt", f.creds[cAdmin]}} {
				serve := func() {
					r := httptest.NewRequest("GET", path, nil)
					r.Header.Set("Authorization", cred.auth)
					w := httptest.NewRecorder()
					f.mux.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body.String())
					}
				}
				serve() // warm the directory's lookup cache
				b.Run(cred.name+"/serial", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						serve()
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				})
				b.Run(cred.name+"/parallel", func(b *testing.B) {
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							serve()
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				})
			}
		})
	}
}

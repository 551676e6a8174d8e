package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/internal/benchcpu"
)

// Benchmarks: go test -run '^$' -bench . -benchmem ./tokens/oauth
//
// The signing ceiling (BenchmarkRawES256Sign) and minting alone
// (BenchmarkMint) are in package tokens; cpu-ns/op is the process's CPU
// time per request (benchcpu), steadier than ns/op on a shared machine.

// benchEnv is a service account in three workspaces on a warm store.
func benchEnv(b *testing.B, alg tokens.Algorithm) *env {
	b.Helper()
	e := newEnv(b, directorytest.SQLite(b), withAlgorithm(alg))
	ctx := context.Background()
	for _, n := range []string{"research", "prod"} {
		ws, err := e.store.CreateWorkspace(ctx, "system:test", e.org.ID, n+"-"+randomSuffix(), "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.store.PutWorkspaceMember(ctx, "system:test", e.org.ID, ws.ID, e.sa.ID, access.Membership{Role: access.WorkspaceMember}); err != nil {
			b.Fatal(err)
		}
	}
	e.token(nil) // warms the key and access caches
	return e
}

// BenchmarkTokenHandler is the whole POST /oauth2/token handler without
// the network: form parsing, Basic credentials, minting, the JSON answer.
func BenchmarkTokenHandler(b *testing.B) {
	e := benchEnv(b, tokens.ES256)
	h := e.server.TokenHandler()
	body := "grant_type=client_credentials"
	b.ReportAllocs()
	stop := benchcpu.Start(b)
	defer stop()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, tokens.PathToken, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(e.sa.ID, e.secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
}

func BenchmarkJWKSHandler(b *testing.B) {
	e := benchEnv(b, tokens.ES256)
	h := e.server.JWKSHandler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, tokens.PathJWKS, nil)
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
		}
	})
}

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
)

// Benchmarks: go test -run '^$' -bench . -benchmem ./tokens
//
// BenchmarkRawES256Sign is the ceiling — SHA-256 and an ECDSA P-256
// signature with crypto/ecdsa over a signing input the size of a real
// token's; BenchmarkMint is ours with claims from the store's warm cache.

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

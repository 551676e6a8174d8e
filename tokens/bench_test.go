package tokens

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// Benchmarks: go test -run '^$' -bench . -benchmem ./tokens
//
// BenchmarkRawES256Sign is the ceiling — SHA-256 and an ECDSA P-256
// signature with crypto/ecdsa over a signing input the size of a real
// token's; BenchmarkMint is ours with claims from the store's warm cache.

// benchEnv is a service account in three workspaces on a warm store.
func benchEnv(b *testing.B, alg Algorithm) *env {
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

func signingInputOf(b *testing.B, e *env) []byte {
	tok := e.token(nil)
	return []byte(tok[:strings.LastIndexByte(tok, '.')])
}

func BenchmarkRawES256Sign(b *testing.B) {
	e := benchEnv(b, ES256)
	input := signingInputOf(b, e)
	key := e.keys.cur.Load().signer.key.(ecdsaKey).k
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := sha256.Sum256(input)
			if _, err := ecdsa.SignASN1(rand.Reader, key, h[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h := sha256.Sum256(input)
				if _, err := ecdsa.SignASN1(rand.Reader, key, h[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// mintOnce is the minting hot path minus client authentication: claims
// from the store's cache, workspace resolution, encoding and signing.
func mintOnce(e *env, buf []byte) ([]byte, error) {
	ctx := context.Background()
	pa, err := e.store.PrincipalAccess(ctx, e.org.ID, e.sa.ID)
	if err != nil {
		return buf, err
	}
	g := grant{sub: e.sa.ID, clientID: e.sa.ID, aud: e.sa.ID, name: e.sa.Name, access: &pa}
	if err := e.issuer.resolveWorkspaces(ctx, &g, ""); err != nil {
		return buf, err
	}
	out, _, err := e.issuer.mint(&g, buf[:0])
	return out, err
}

func BenchmarkMint(b *testing.B) {
	for _, alg := range []Algorithm{ES256, EdDSA, RS256} {
		b.Run(string(alg), func(b *testing.B) {
			e := benchEnv(b, alg)
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				buf := make([]byte, 0, 4096)
				for b.Loop() {
					var err error
					if buf, err = mintOnce(e, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 0, 4096)
					for pb.Next() {
						var err error
						if buf, err = mintOnce(e, buf); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		})
	}
}

// BenchmarkJWXECDSAKeyForm compares the two ways of handing an ECDSA key to
// jwx: as an *ecdsa.PrivateKey jwx copies it before every signature, and
// the standard library's per-key cache misses each time.
func BenchmarkJWXECDSAKeyForm(b *testing.B) {
	e := benchEnv(b, ES256)
	s := e.keys.cur.Load().signer
	input := signingInputOf(b, e)
	for name, key := range map[string]any{"crypto.Signer": s.key, "ecdsa.PrivateKey": s.key.(ecdsaKey).k} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.signer.Sign(input, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClientCredentials adds client authentication (API-key lookup
// from the store's cache, the failure limiter, the buffered last-use touch).
func BenchmarkClientCredentials(b *testing.B) {
	e := benchEnv(b, ES256)
	req := ClientCredentialsRequest{ClientID: e.sa.ID, ClientSecret: e.secret}
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		out, _, err := e.issuer.clientCredentials(context.Background(), req, buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}

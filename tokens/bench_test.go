package tokens

import (
	"context"
	"crypto"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/internal/benchcpu"
)

// Benchmarks: go test -run '^$' -bench . -benchmem ./tokens
//
// BenchmarkRawES256Sign is the ceiling — SHA-256 and an ECDSA P-256
// signature over the signing input of a real token, with crypto/ecdsa alone
// (ecdsa) and through jwx's ES256 signer (jwx); BenchmarkMint is ours with
// claims from the store's warm cache. cpu-ns/op is the process's CPU time
// per operation (benchcpu), steadier than ns/op on a shared machine.

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
	jwxSigner, err := jws.NewSigner(jwa.ES256)
	if err != nil {
		b.Fatal(err)
	}
	signs := map[string]func() error{
		// RFC 6979 nonces, as appendES256 signs.
		"ecdsa": func() error {
			h := sha256.Sum256(input)
			_, err := key.Sign(nil, h[:], crypto.SHA256)
			return err
		},
		// The key behind crypto.Signer, as jwx was handed it (BenchmarkJWXECDSAKeyForm).
		"jwx": func() error { _, err := jwxSigner.Sign(input, ecdsaKey{key}); return err },
	}
	for _, name := range []string{"ecdsa", "jwx"} {
		sign := signs[name]
		b.Run(name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			stop := benchcpu.Start(b)
			for b.Loop() {
				if err := sign(); err != nil {
					b.Fatal(err)
				}
			}
			stop()
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			stop := benchcpu.Start(b)
			defer stop()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := sign(); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
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
				stop := benchcpu.Start(b)
				for b.Loop() {
					var err error
					if buf, err = mintOnce(e, buf); err != nil {
						b.Fatal(err)
					}
				}
				stop()
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				stop := benchcpu.Start(b)
				defer stop()
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
	stop := benchcpu.Start(b)
	for b.Loop() {
		out, _, err := e.issuer.clientCredentials(context.Background(), req, buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
	stop()
}

// BenchmarkIntrospect is Issuer.Introspect of an active ES256 access token:
// the caller's API key, the signature, revocation and standing, then the
// JSON answer. "repeated" introspects one token again and again (its
// signature check is cached after the first); "first-sight" drops the cache
// before every call, as for a token never seen before.
func BenchmarkIntrospect(b *testing.B) {
	for _, c := range []struct {
		name  string
		fresh bool
	}{{"repeated", false}, {"first-sight", true}} {
		b.Run(c.name, func(b *testing.B) {
			e := benchEnv(b, ES256)
			tok := e.token(nil)
			caller := Credentials{ID: e.sa.ID, Secret: e.secret}
			b.ReportAllocs()
			stop := benchcpu.Start(b)
			for b.Loop() {
				if c.fresh {
					e.issuer.verified.drop()
				}
				in, err := e.issuer.Introspect(context.Background(), caller, tok)
				if err != nil || !in.Active {
					b.Fatalf("%v %v", in.Active, err)
				}
				if _, err := in.MarshalJSON(); err != nil {
					b.Fatal(err)
				}
			}
			stop()
		})
	}
}

// drop empties the cache (benchmarks of the uncached path).
func (v *verifiedTokens) drop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.m)
}

package oauth

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// requirePeer fails a test whose independent peer is missing: interop with
// code we did not write is a requirement, never optional.
func requirePeer(t *testing.T, why string) {
	t.Helper()
	t.Fatalf("%s: run ./.ci/test, which installs the peers (npm ci in e2e/)", why)
}

// joseVerifier is one node process running e2e/jose-verify.mjs: one jose
// JWKS cache across every token it is given.
type joseVerifier struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

type joseResult struct {
	OK      bool           `json:"ok"`
	Kid     string         `json:"kid"`
	Alg     string         `json:"alg"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Payload map[string]any `json:"payload"`
	Ready   bool           `json:"ready"`
}

func startJose(t *testing.T, jwksURI, issuer, audience string, algs ...string) *joseVerifier {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requirePeer(t, "node is not installed")
	}
	dir, _ := filepath.Abs(filepath.Join("..", "..", "e2e"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose", "package.json")); err != nil {
		requirePeer(t, "npm module jose is not installed in e2e/node_modules")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "jose-verify.mjs", jwksURI, issuer, audience, strings.Join(algs, ","))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	j := &joseVerifier{t: t, in: in, out: bufio.NewScanner(outPipe)}
	j.out.Buffer(make([]byte, 1<<20), 1<<20)
	if r := j.read(); !r.Ready {
		t.Fatalf("jose-verify did not start: %+v", r)
	}
	return j
}

func (j *joseVerifier) read() joseResult {
	j.t.Helper()
	lines := make(chan string, 1)
	go func() {
		if j.out.Scan() {
			lines <- j.out.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			j.t.Fatalf("jose-verify exited: %v", j.out.Err())
		}
		var r joseResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			j.t.Fatalf("jose-verify said %q", line)
		}
		return r
	case <-time.After(20 * time.Second):
		j.t.Fatal("jose-verify did not answer")
	}
	return joseResult{}
}

func (j *joseVerifier) verify(tok string) joseResult {
	j.t.Helper()
	if _, err := io.WriteString(j.in, tok+"\n"); err != nil {
		j.t.Fatal(err)
	}
	return j.read()
}

// TestJoseVerifiesTokensAcrossRotation: npm jose, through a real HTTP JWKS
// endpoint, verifies tokens signed before and after a rotation — the new
// key was already in the key set it had cached, so it needs no refetch —
// and a fresh verifier still accepts the old token after the rotation.
func TestJoseVerifiesTokensAcrossRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		for _, alg := range []tokens.Algorithm{tokens.ES256, tokens.EdDSA, tokens.RS256} {
			t.Run(string(alg), func(t *testing.T) {
				e := newEnv(t, open(t), withAlgorithm(alg))
				iss, jwksURI := e.http.URL, e.http.URL+tokens.PathJWKS
				jose := startJose(t, jwksURI, iss, e.sa.ID, string(alg))

				before := e.token(nil)
				r := jose.verify(before)
				if !r.OK || r.Kid != headerOf(t, before)["kid"] || r.Alg != string(alg) {
					t.Fatalf("jose rejected our token: %+v", r)
				}
				if r.Payload["org"].(map[string]any)["id"] != e.org.ID {
					t.Fatalf("payload %v", r.Payload)
				}
				fetches := e.jwksHits.Load()

				e.keyClock.Advance(e.keys.Config().RotateEvery)
				rot, err := e.keys.Rotate(context.Background())
				if err != nil || rot.Activated == "" {
					t.Fatalf("rotate: %+v %v", rot, err)
				}
				after := e.token(nil)
				if headerOf(t, after)["kid"] != rot.Activated {
					t.Fatal("token after rotation not signed by the new key")
				}
				if r := jose.verify(after); !r.OK {
					t.Fatalf("jose rejected the token of the new key: %+v", r)
				}
				if got := e.jwksHits.Load(); got != fetches {
					t.Errorf("jose had to refetch the JWKS (%d → %d): the new key was not published ahead", fetches, got)
				}
				if r := jose.verify(before); !r.OK {
					t.Fatalf("token signed before the rotation rejected after it: %+v", r)
				}

				fresh := startJose(t, jwksURI, iss, e.sa.ID, string(alg))
				for name, tok := range map[string]string{"before": before, "after": after} {
					if r := fresh.verify(tok); !r.OK {
						t.Fatalf("fresh verifier, token %s rotation: %+v", name, r)
					}
				}

				// Negative controls: jose is really checking.
				parts := strings.Split(after, ".")
				bad := map[string]string{
					"tampered": parts[0] + "." + b64enc(`{"sub":"sa_evil"}`) + "." + parts[2],
					"alg none": b64enc(`{"alg":"none","typ":"at+jwt"}`) + "." + parts[1] + ".",
				}
				for name, tok := range bad {
					if r := fresh.verify(tok); r.OK {
						t.Errorf("jose accepted a %s token", name)
					}
				}
				other := startJose(t, jwksURI, iss, "some-other-audience", string(alg))
				if r := other.verify(after); r.OK || r.Code != "ERR_JWT_CLAIM_VALIDATION_FAILED" {
					t.Errorf("wrong audience: %+v", r)
				}
			})
		}
	})
}

// TestGoOIDCVerifiesTokensAcrossRotation: coreos/go-oidc, pointed at our
// issuer (discovery) and at our JWKS, verifies tokens before and after a
// rotation. go-oidc expects RS256 unless told otherwise.
func TestGoOIDCVerifiesTokensAcrossRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		for _, alg := range []tokens.Algorithm{tokens.ES256, tokens.EdDSA, tokens.RS256} {
			t.Run(string(alg), func(t *testing.T) {
				e := newEnv(t, open(t), withAlgorithm(alg))
				ctx := context.Background()
				cfg := &oidc.Config{ClientID: e.sa.ID, SupportedSigningAlgs: []string{string(alg)}}
				remote := oidc.NewVerifier(e.http.URL, oidc.NewRemoteKeySet(ctx, e.http.URL+tokens.PathJWKS), cfg)
				provider, err := oidc.NewProvider(ctx, e.http.URL)
				if err != nil {
					t.Fatalf("go-oidc discovery: %v", err)
				}
				discovered := provider.Verifier(cfg)

				before := e.token(nil)
				for _, v := range []*oidc.IDTokenVerifier{remote, discovered} {
					tok, err := v.Verify(ctx, before)
					if err != nil {
						t.Fatalf("go-oidc rejected our token: %v", err)
					}
					var c tokens.AccessClaims
					if err := tok.Claims(&c); err != nil || c.Org.ID != e.org.ID || tok.Subject != e.sa.ID {
						t.Fatalf("claims %+v %v", c, err)
					}
				}

				e.keyClock.Advance(e.keys.Config().RotateEvery)
				if _, err := e.keys.Rotate(ctx); err != nil {
					t.Fatal(err)
				}
				after := e.token(nil)
				for _, v := range []*oidc.IDTokenVerifier{remote, discovered} {
					for name, tok := range map[string]string{"before": before, "after": after} {
						if _, err := v.Verify(ctx, tok); err != nil {
							t.Fatalf("token %s rotation: %v", name, err)
						}
					}
				}
				// go-oidc with its RS256 default refuses our ES256/EdDSA tokens:
				// the algorithm list is the verifier's, never the token's.
				if alg != tokens.RS256 {
					def := oidc.NewVerifier(e.http.URL, oidc.NewRemoteKeySet(ctx, e.http.URL+tokens.PathJWKS), &oidc.Config{ClientID: e.sa.ID})
					if _, err := def.Verify(ctx, after); err == nil {
						t.Error("go-oidc accepted a token in an algorithm it was not configured for")
					}
				}
				wrongAud := oidc.NewVerifier(e.http.URL, oidc.NewRemoteKeySet(ctx, e.http.URL+tokens.PathJWKS),
					&oidc.Config{ClientID: "cli_other", SupportedSigningAlgs: []string{string(alg)}})
				if _, err := wrongAud.Verify(ctx, after); err == nil {
					t.Error("go-oidc accepted a token for another audience")
				}
			})
		}
	})
}

// TestGoOIDCDiscoveryMatchesIssuer: go-oidc accepts our discovery document
// (issuer match) and finds the token endpoint in it.
func TestGoOIDCDiscoveryMatchesIssuer(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	p, err := oidc.NewProvider(context.Background(), e.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	if p.Endpoint().TokenURL != e.http.URL+tokens.PathToken {
		t.Fatalf("token URL %q", p.Endpoint().TokenURL)
	}
}

// TestVerifyPackageAcceptsOurTokens: the verifier services use
// (tokens/verify) decodes what we mint into the same claims, across a
// rotation, through the real JWKS endpoint — without refetching the key set
// for the new key, which was published ahead.
func TestVerifyPackageAcceptsOurTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		ctx := context.Background()
		ks, err := verify.NewRemoteKeySet(e.http.URL+tokens.PathJWKS, verify.RemoteKeySetConfig{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.New(verify.Config{Issuer: e.http.URL, Audience: []string{e.sa.ID}, Keys: ks})
		if err != nil {
			t.Fatal(err)
		}
		check := func(tok string) {
			t.Helper()
			got, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			_, want := claimsOf(t, tok)
			if !jsonEqual(*got, want) {
				t.Fatalf("verify decoded\n%+v\nminted\n%+v", *got, want)
			}
		}
		before := e.token(nil)
		check(before)
		fetches := e.jwksHits.Load()
		e.keyClock.Advance(e.keys.Config().RotateEvery)
		if _, err := e.keys.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		check(e.token(nil))
		check(before)
		if e.jwksHits.Load() != fetches {
			t.Error("the verifier had to refetch the JWKS for the new key")
		}
	})
}

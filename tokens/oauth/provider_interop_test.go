package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/tokens/verify"
	"golang.org/x/oauth2"
)

func TestDiscoveryAdvertisesTheProviderHonestly(t *testing.T) {
	e := newOIDCEnv(t, directorytest.SQLite(t), memorySessions(t))
	_, body := get(t, e.iss+tokens.PathOpenIDConfig)
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	list := func(k string) string {
		b, _ := json.Marshal(d[k])
		return string(b)
	}
	for k, v := range map[string]string{
		"authorization_endpoint":                         `"` + e.iss + tokens.PathAuthorize + `"`,
		"userinfo_endpoint":                              `"` + e.iss + tokens.PathUserInfo + `"`,
		"end_session_endpoint":                           `"` + e.iss + tokens.PathLogout + `"`,
		"token_endpoint":                                 `"` + e.iss + tokens.PathToken + `"`,
		"response_types_supported":                       `["code"]`,
		"response_modes_supported":                       `["query"]`,
		"grant_types_supported":                          `["authorization_code","refresh_token","client_credentials","urn:ietf:params:oauth:grant-type:token-exchange"]`,
		"code_challenge_methods_supported":               `["S256"]`,
		"id_token_signing_alg_values_supported":          `["RS256"]`,
		"scopes_supported":                               `["openid","profile","email","offline_access","ssobroker:admin"]`,
		"token_endpoint_auth_methods_supported":          `["client_secret_basic","client_secret_post","none"]`,
		"subject_types_supported":                        `["public"]`,
		"authorization_response_iss_parameter_supported": `true`,
		"request_uri_parameter_supported":                `false`,
		"request_parameter_supported":                    `false`,
	} {
		if got := list(k); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	claims := list("claims_supported")
	for _, c := range []string{"sub", "nonce", "at_hash", "auth_time", "sid", "email_verified", "org"} {
		if !strings.Contains(claims, `"`+c+`"`) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
	// Every advertised endpoint is served.
	for _, k := range []string{"authorization_endpoint", "userinfo_endpoint", "end_session_endpoint"} {
		resp, err := http.Get(d[k].(string))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s advertised but answers %d", k, resp.StatusCode)
		}
	}
}

func TestServerRefusesOIDCFeaturesWithoutAProvider(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	if _, err := NewServer(e.keys, e.issuer, tokens.Features{AuthorizationCode: true}); err == nil {
		t.Fatal("NewServer accepted the code flow without a provider")
	}
}

// TestGoOIDCVerifiesOurIDTokens: coreos/go-oidc, configured from our
// discovery document alone, verifies our ID tokens (signature from our
// JWKS, iss, aud, exp) and reads their claims; its oauth2 flow exchanges
// the code.
func TestGoOIDCVerifiesOurIDTokens(t *testing.T) {
	for _, alg := range []tokens.Algorithm{tokens.RS256, tokens.ES256} {
		t.Run("id tokens "+string(alg), func(t *testing.T) {
			e := newOIDCEnv(t, directorytest.SQLite(t), memorySessions(t), withIDTokenAlgorithm(alg))
			ctx := context.Background()
			provider, err := oidc.NewProvider(ctx, e.iss)
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Algs []string `json:"id_token_signing_alg_values_supported"`
			}
			if err := provider.Claims(&meta); err != nil || !slices.Equal(meta.Algs, []string{string(alg)}) {
				t.Fatalf("advertised %v %v", meta.Algs, err)
			}
			verifier := provider.Verifier(&oidc.Config{ClientID: e.confidential.ID, SupportedSigningAlgs: []string{string(alg)}})

			conf := oauth2.Config{ClientID: e.confidential.ID, ClientSecret: e.secret, Endpoint: provider.Endpoint(),
				RedirectURL: appRedirect, Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
			pkceVerifier := oauth2.GenerateVerifier()
			nonce := "n-" + randomSuffix()
			b := e.browser()
			o := b.navigate(conf.AuthCodeURL("st", oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkceVerifier)))
			if o.param("code") == "" || o.param("state") != "st" {
				t.Fatalf("%d %v %s", o.status, o.callback, o.body)
			}
			tok, err := conf.Exchange(ctx, o.param("code"), oauth2.VerifierOption(pkceVerifier))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("go-oidc rejects our ID token: %v", err)
			}
			if idt.Nonce != nonce || idt.Subject != e.user.ID || idt.Issuer != e.iss {
				t.Fatalf("%+v", idt)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			var claims struct {
				Email         string              `json:"email"`
				EmailVerified bool                `json:"email_verified"`
				Sid           string              `json:"sid"`
				Org           struct{ ID string } `json:"org"`
			}
			if err := idt.Claims(&claims); err != nil || claims.Email != e.user.Email || !claims.EmailVerified || claims.Org.ID != e.org.ID || claims.Sid == "" {
				t.Fatalf("%+v %v", claims, err)
			}
			// Userinfo through go-oidc.
			ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || ui.Subject != e.user.ID || ui.Email != e.user.Email {
				t.Fatalf("userinfo %+v %v", ui, err)
			}
			// Refresh through x/oauth2; the new ID token verifies too.
			src := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
			fresh, err := src.Token()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifier.Verify(ctx, fresh.Extra("id_token").(string)); err != nil || fresh.RefreshToken == tok.RefreshToken {
				t.Fatalf("refreshed: %v", err)
			}
			// Another audience is refused.
			if _, err := provider.Verifier(&oidc.Config{ClientID: e.public.ID, SupportedSigningAlgs: []string{string(alg)}}).Verify(ctx, raw); err == nil {
				t.Fatal("go-oidc accepted the ID token for another client")
			}
		})
	}
}

// TestOpenIDClientDrivesTheWholeFlow runs e2e/rp-flow.mjs: npm
// openid-client v6 as a relying party — discovery, PKCE authorization URL,
// redirects through the (fake) sign-in, callback with state, nonce and iss
// checks, code exchange with ID token validation, refresh, userinfo, and
// the negative cases a relying party must catch. Missing node modules fail
// the test: interop is a requirement.
func TestOpenIDClientDrivesTheWholeFlow(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the openid-client interop test (install Node.js ≥ 20)")
	}
	dir, _ := filepath.Abs(filepath.Join("..", "..", "e2e"))
	for _, m := range []string{"openid-client", "jose"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m, "package.json")); err != nil {
			t.Fatalf("npm module %s is missing: run `npm ci` in e2e/ (./.ci/test does it)", m)
		}
	}
	for _, st := range stacks(false) {
		t.Run(st.name, func(t *testing.T) {
			e := newOIDCEnv(t, st.dir(t), st.sessions(t))
			confidential, secret := e.newClient(false, nil, spaRedirectURI)
			args := map[string]string{"issuer": e.iss, "public_client": e.public.ID, "confidential_client": confidential.ID,
				"client_secret": secret, "redirect_uri": spaRedirectURI, "post_logout_redirect_uri": appPostLogout,
				"user": e.user.ID, "email": e.user.Email, "org": e.org.ID, "workspace": e.ws.Name}
			cfg, _ := json.Marshal(args)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "rp-flow.mjs", string(cfg))
			cmd.Dir = dir
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			err := cmd.Run()
			t.Logf("rp-flow.mjs:\n%s", out.String())
			if err != nil {
				t.Fatalf("openid-client flow failed: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(out.String(), "ALL CHECKS PASSED") {
				t.Fatal("the script did not finish")
			}
		})
	}
}

// TestVerifyPackageAcceptsUserTokens: services verify the provider's user
// access tokens with tokens/verify and see the same claims as minted; an ID
// token is not an access token to them.
func TestVerifyPackageAcceptsUserTokens(t *testing.T) {
	forEachStack(t, false, func(t *testing.T, e *oidcEnv) {
		ctx := context.Background()
		ks, err := verify.NewRemoteKeySet(e.iss+tokens.PathJWKS, verify.RemoteKeySetConfig{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.New(verify.Config{Issuer: e.iss, Audience: []string{e.public.ID}, Keys: ks})
		if err != nil {
			t.Fatal(err)
		}
		r := e.codeFlow(e.browser(), nil)
		got, err := v.Verify(ctx, r.str("access_token"))
		if err != nil {
			t.Fatal(err)
		}
		if _, want := claimsOf(t, r.str("access_token")); !jsonEqual(*got, want) || got.SessionID == "" || len(got.AMR) != 1 {
			t.Fatalf("verify decoded\n%+v\nminted\n%+v", *got, want)
		}
		if _, err := v.Verify(ctx, r.str("id_token")); err == nil {
			t.Fatal("an ID token passed as an access token")
		}
	})
}

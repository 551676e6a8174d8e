package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/external"
	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// withExternalJWTs enables the external JWT grants, checked on the env's
// clock.
func withExternalJWTs(store *directory.SQLStore) envOption {
	return func(e *env, _ *tokens.KeyConfig, c *tokens.IssuerConfig) {
		v, err := external.New(external.Config{Store: store, HTTPClient: &http.Client{Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, Now: e.clock.Now})
		if err != nil {
			e.t.Fatal(err)
		}
		c.ExternalJWTs = tokens.ExternalJWTs{Verifier: v, Directory: store}
		e.exchange = true
	}
}

// trust registers x's issuer in the env's org.
func (e *env) trust(x *verifytest.JWKSServer, j directory.JWTIssuer) directory.JWTIssuer {
	e.t.Helper()
	j.OrgID, j.Issuer = e.org.ID, x.URL
	if j.Name == "" {
		j.Name = "ext " + randomSuffix()
	}
	out, err := e.store.CreateJWTIssuer(context.Background(), "system:test", j)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// joseMint has npm jose make keys and sign tokens (e2e/jose-mint.mjs).
type joseKey struct {
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg"`
}
type joseToken struct {
	Key     int            `json:"key"`
	Claims  map[string]any `json:"claims"`
	OmitKid bool           `json:"omitKid,omitempty"`
}

func joseMint(t *testing.T, keys []joseKey, toks []joseToken) ([]byte, []string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requirePeer(t, "node is not installed")
	}
	dir, _ := filepath.Abs(filepath.Join("..", "..", "e2e"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose", "package.json")); err != nil {
		requirePeer(t, "npm module jose is not installed in e2e/node_modules")
	}
	in, _ := json.Marshal(map[string]any{"keys": keys, "tokens": toks})
	cmd := exec.Command(node, "jose-mint.mjs")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jose-mint: %v", err)
	}
	var res struct {
		JWKS   json.RawMessage `json:"jwks"`
		Tokens []string        `json:"tokens"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("jose-mint said %q", out)
	}
	return res.JWKS, res.Tokens
}

func (e *env) claimsFor(x *verifytest.JWKSServer, aud, sub string, extra map[string]any) map[string]any {
	now := e.clock.Now().Unix()
	c := map[string]any{"iss": x.URL, "aud": aud, "sub": sub, "iat": now, "nbf": now, "exp": now + 300, "jti": randomSuffix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func exchangeForm(subject, org string) url.Values {
	f := url.Values{"grant_type": {tokens.GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {tokens.TokenTypeJWT}}
	if org != "" {
		f.Set("organization", org)
	}
	return f
}

func jwtBearerForm(assertion string) url.Values {
	return url.Values{"grant_type": {tokens.GrantJWTBearer}, "assertion": {assertion}}
}

// TestExternalJWTsMintedByJose: tokens of an issuer made with npm jose,
// its JWKS served on loopback, become our access tokens through the
// jwt-bearer grant — for a service-account mapping, a user mapping (by
// verified email) and a role claim capped by max_role and by the user's
// own membership.
func TestExternalJWTsMintedByJose(t *testing.T) {
	store := directorytest.SQLite(t)
	e := newEnv(t, store, withExternalJWTs(store))
	ctx := context.Background()
	x := verifytest.NewJWKSServer(t)
	saTrust := e.trust(x, directory.JWTIssuer{Audience: "ssobroker-ci", Subject: "repo:acme/app", ServiceAccountID: e.sa.ID})
	userTrust := e.trust(x, directory.JWTIssuer{Audience: "ssobroker-people", UserClaim: "email"})
	roleTrust := e.trust(x, directory.JWTIssuer{Audience: "ssobroker-roles", UserClaim: "email", RoleClaim: "ssb_role", MaxRole: access.RolePlatformMember})
	admin, err := store.CreateUser(ctx, "system:test", directory.NewUser{Email: "ada-" + randomSuffix() + "@acme.test", EmailVerified: true, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddMember(ctx, "system:test", e.org.ID, admin.ID, access.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	viewer, _ := store.CreateUser(ctx, "system:test", directory.NewUser{Email: "vi-" + randomSuffix() + "@acme.test", EmailVerified: true, Name: "Vi"})
	if _, err := store.AddMember(ctx, "system:test", e.org.ID, viewer.ID, access.RoleViewOnly); err != nil {
		t.Fatal(err)
	}
	jwks, toks := joseMint(t, []joseKey{{Kid: "es-1", Alg: "ES256"}, {Kid: "rs-1", Alg: "RS256"}}, []joseToken{
		{Key: 0, Claims: e.claimsFor(x, "ssobroker-ci", "repo:acme/app", nil)},
		{Key: 1, Claims: e.claimsFor(x, "ssobroker-people", "ada", map[string]any{"email": admin.Email, "email_verified": true})},
		{Key: 0, Claims: e.claimsFor(x, "ssobroker-roles", "ada", map[string]any{"email": admin.Email, "ssb_role": "admin"})},
		{Key: 1, Claims: e.claimsFor(x, "ssobroker-roles", "vi", map[string]any{"email": viewer.Email, "ssb_role": "platform_member"})},
		{Key: 0, Claims: e.claimsFor(x, "ssobroker-roles", "ada", map[string]any{"email": admin.Email, "ssb_role": "view_only_platform_member"})},
	})
	x.SetBody(jwks)
	for _, tc := range []struct {
		name  string
		tok   string
		sub   string
		trust directory.JWTIssuer
		role  access.OrgRole
		email string
	}{
		{"service account mapping", toks[0], e.sa.ID, saTrust, access.RolePlatformMember, ""},
		{"user mapping by verified email", toks[1], admin.ID, userTrust, access.RoleAdmin, admin.Email},
		{"role claim admin capped by max_role", toks[2], admin.ID, roleTrust, access.RolePlatformMember, admin.Email},
		{"role claim never above the user's own role", toks[3], viewer.ID, roleTrust, access.RoleViewOnly, viewer.Email},
		{"role claim lowers an admin", toks[4], admin.ID, roleTrust, access.RoleViewOnly, admin.Email},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.post(tokens.PathToken, jwtBearerForm(tc.tok), "", "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("jwt-bearer: %d %v", resp.StatusCode, body)
			}
			raw, c := claimsOf(t, body["access_token"].(string))
			if c.Subject != tc.sub || c.Org.ID != e.org.ID || c.Org.Role != tc.role || c.ClientID != tc.trust.ID || raw["idp"] != nil || c.Email != tc.email {
				t.Fatalf("claims %v, want sub %s role %s client %s", raw, tc.sub, tc.role, tc.trust.ID)
			}
			if in := e.introspect(t, body["access_token"].(string)); in["active"] != true {
				t.Fatalf("our token is not active: %v", in)
			}
			// The same JWT as a token exchange's subject token.
			resp, body = e.post(tokens.PathToken, exchangeForm(tc.tok, e.org.Name), "", "")
			if resp.StatusCode != http.StatusOK || body["issued_token_type"] != tokens.TokenTypeAccessToken {
				t.Fatalf("token exchange: %d %v", resp.StatusCode, body)
			}
			if _, c := claimsOf(t, body["access_token"].(string)); c.Subject != tc.sub || c.Org.Role != tc.role || c.ClientID != tc.trust.ID {
				t.Fatalf("exchanged claims %+v", c)
			}
		})
	}
	t.Run("token exchange for another organization is invalid_target", func(t *testing.T) {
		resp, body := e.post(tokens.PathToken, exchangeForm(toks[0], "org_other"), "", "")
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_target" {
			t.Fatalf("%d %v, want invalid_target", resp.StatusCode, body)
		}
	})
	if n := x.Hits.Load(); n != 1 {
		t.Fatalf("the JWKS was fetched %d times, want once (cached)", n)
	}
}

// TestExternalJWTClientAuthentication: client authentication is optional
// for the jwt-bearer grant (RFC 7523 §3.1), but credentials that are sent
// are checked, and the authenticated client is the token's client.
func TestExternalJWTClientAuthentication(t *testing.T) {
	store := directorytest.SQLite(t)
	e := newEnv(t, store, withExternalJWTs(store))
	x := verifytest.NewJWKSServer(t)
	k := verifytest.NewKey(t, jwa.ES256, "")
	x.SetBody(verifytest.JWKS(t, k))
	e.trust(x, directory.JWTIssuer{Audience: "ssobroker-ci", ServiceAccountID: e.sa.ID})
	tok := signJWT(t, k, e.claimsFor(x, "ssobroker-ci", "repo:acme/app", nil), nil) // one key: no kid needed
	resp, body := e.post(tokens.PathToken, jwtBearerForm(tok), e.sa.ID, e.secret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with client credentials: %d %v", resp.StatusCode, body)
	}
	if _, c := claimsOf(t, body["access_token"].(string)); c.ClientID != e.sa.ID || !c.Audience.Contains(e.sa.ID) {
		t.Fatalf("client_id %q aud %v, want the authenticated client %s", c.ClientID, c.Audience, e.sa.ID)
	}
	resp, body = e.post(tokens.PathToken, jwtBearerForm(tok), e.sa.ID, "ssb_wrong")
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("wrong client secret: %d %v, want 401 invalid_client", resp.StatusCode, body)
	}
	resp, body = e.post(tokens.PathToken, url.Values{"grant_type": {tokens.GrantJWTBearer}}, "", "")
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Fatalf("no assertion: %d %v, want invalid_request", resp.StatusCode, body)
	}
}

// reasons records the reason codes of "external JWT refused" log lines.
type reasons struct {
	mu   sync.Mutex
	last string
}

func (r *reasons) Enabled(context.Context, slog.Level) bool { return true }
func (r *reasons) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "external JWT refused" {
		return nil
	}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			r.mu.Lock()
			r.last = a.Value.String()
			r.mu.Unlock()
		}
		return true
	})
	return nil
}
func (r *reasons) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *reasons) WithGroup(string) slog.Handler      { return r }
func (r *reasons) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.last
	r.last = ""
	return s
}

// signJWT signs claims with k (verifytest), typ JWT unless hdr overrides
// it; a nil value removes a header parameter.
func signJWT(t testing.TB, k *verifytest.Key, claims any, hdr map[string]any) string {
	t.Helper()
	h := map[string]any{jws.TypeKey: "JWT"}
	maps.Copy(h, hdr)
	return k.Sign(t, claims, h)
}

// TestExternalJWTForgeriesAreRefused re-makes the forged-token catalogue of
// tokens/verify (TestVerifyRefusesForgedTokens) for an external issuer:
// every token is refused with invalid_grant and a reason code, the refusals
// show in the issuer's diagnostics, and the jku and x5u URLs are never
// fetched.
func TestExternalJWTForgeriesAreRefused(t *testing.T) {
	store := directorytest.SQLite(t)
	logged := &reasons{}
	e := newEnv(t, store, withExternalJWTs(store), withIssuerConfig(func(c *tokens.IssuerConfig) { c.Log = slog.New(logged) }))
	x := verifytest.NewJWKSServer(t)
	evil := verifytest.NewJWKSServer(t)
	es := verifytest.NewKey(t, jwa.ES256, "es-1")
	rs := verifytest.NewKey(t, jwa.RS256, "rs-1")
	attacker := verifytest.NewKey(t, jwa.ES256, "evil-1")
	x.SetBody(verifytest.JWKS(t, es, rs))
	trust := e.trust(x, directory.JWTIssuer{Audience: "ssobroker-ci", ServiceAccountID: e.sa.ID})

	claims := func(edit func(c map[string]any)) map[string]any {
		c := e.claimsFor(x, "ssobroker-ci", "repo:acme/app", nil)
		if edit != nil {
			edit(c)
		}
		return c
	}
	now := e.clock.Now().Unix()
	good := signJWT(t, es, claims(nil), nil)
	if resp, body := e.post(tokens.PathToken, jwtBearerForm(good), "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the good token was refused: %d %v", resp.StatusCode, body)
	}
	gp := strings.Split(good, ".")
	other := strings.Split(signJWT(t, es, claims(func(c map[string]any) { c["sub"] = "repo:evil/app" }), nil), ".")
	ecPub, _ := x509.MarshalPKIXPublicKey(&es.Raw.(*ecdsa.PrivateKey).PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub})
	rsPub, _ := x509.MarshalPKIXPublicKey(&rs.Raw.(*rsa.PrivateKey).PublicKey)
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsPub})
	esJWK, _ := json.Marshal(es.Public)
	var attackerJWK map[string]any
	b, _ := json.Marshal(attacker.Public)
	_ = json.Unmarshal(b, &attackerJWK)
	hdr := func(m map[string]any) map[string]any {
		out := map[string]any{"alg": "ES256", "typ": "JWT", "kid": "es-1"}
		for k, v := range m {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}

	cases := []struct{ name, token, reason string }{
		{"alg none, empty signature", verifytest.Compact(t, hdr(map[string]any{"alg": "none"}), claims(nil), nil), "unsigned"},
		{"alg none, with signature", verifytest.Compact(t, hdr(map[string]any{"alg": "none"}), claims(nil), []byte("x")), "unsigned"},
		{"alg NoNe", verifytest.Compact(t, hdr(map[string]any{"alg": "NoNe"}), claims(nil), []byte("x")), "unsigned"},
		{"alg missing", verifytest.Compact(t, hdr(map[string]any{"alg": nil}), claims(nil), []byte("x")), "unsigned"},
		{"HS256 keyed with the EC public key PEM", verifytest.Sign(t, jwa.HS256, ecPEM, claims(nil), map[string]any{"kid": "es-1"}), "algorithm_not_allowed"},
		{"HS256 keyed with the RSA public key PEM", verifytest.Sign(t, jwa.HS256, rsPEM, claims(nil), map[string]any{"kid": "rs-1"}), "algorithm_not_allowed"},
		{"HS256 keyed with the public JWK JSON", verifytest.Sign(t, jwa.HS256, esJWK, claims(nil), map[string]any{"kid": "es-1"}), "algorithm_not_allowed"},
		{"unknown kid", signJWT(t, attacker, claims(nil), nil), "unknown_kid"},
		{"kid path traversal", signJWT(t, attacker, claims(nil), map[string]any{"kid": "../../../dev/null"}), "unknown_kid"},
		{"kid URL", signJWT(t, attacker, claims(nil), map[string]any{"kid": evil.URL}), "unknown_kid"},
		{"kid too long", signJWT(t, attacker, claims(nil), map[string]any{"kid": strings.Repeat("a", 300)}), "malformed"},
		{"issuer's kid, attacker's signature", signJWT(t, attacker, claims(nil), map[string]any{"kid": "es-1"}), "bad_signature"},
		{"no kid with several keys", signJWT(t, es, claims(nil), map[string]any{"kid": nil}), "kid_required"},
		{"expired", signJWT(t, es, claims(func(c map[string]any) { c["exp"] = now - 61 }), nil), "expired"},
		{"nbf in the future", signJWT(t, es, claims(func(c map[string]any) { c["nbf"] = now + 120 }), nil), "not_yet_valid"},
		{"iat in the future", signJWT(t, es, claims(func(c map[string]any) { c["iat"] = now + 120 }), nil), "issued_in_future"},
		{"missing exp", signJWT(t, es, claims(func(c map[string]any) { delete(c, "exp") }), nil), "missing_claim"},
		{"exp not a number", signJWT(t, es, claims(func(c map[string]any) { c["exp"] = "tomorrow" }), nil), "malformed"},
		{"missing sub", signJWT(t, es, claims(func(c map[string]any) { delete(c, "sub") }), nil), "missing_claim"},
		{"wrong iss (nobody trusts it)", signJWT(t, es, claims(func(c map[string]any) { c["iss"] = "https://evil.example.com" }), nil), "untrusted_issuer"},
		{"iss with a trailing slash", signJWT(t, es, claims(func(c map[string]any) { c["iss"] = x.URL + "/" }), nil), "untrusted_issuer"},
		{"missing iss", signJWT(t, es, claims(func(c map[string]any) { delete(c, "iss") }), nil), "missing_claim"},
		{"wrong aud", signJWT(t, es, claims(func(c map[string]any) { c["aud"] = "cli_other" }), nil), "wrong_audience"},
		{"no aud", signJWT(t, es, claims(func(c map[string]any) { delete(c, "aud") }), nil), "wrong_audience"},
		{"aud of wrong type", signJWT(t, es, claims(func(c map[string]any) { c["aud"] = 5 }), nil), "wrong_audience"},
		{"jku to a watched URL", signJWT(t, attacker, claims(nil), map[string]any{"jku": evil.URL}), "forbidden_header"},
		{"jku with the issuer's kid", signJWT(t, attacker, claims(nil), map[string]any{"jku": evil.URL, "kid": "es-1"}), "forbidden_header"},
		{"x5u to a watched URL", signJWT(t, attacker, claims(nil), map[string]any{"x5u": evil.URL}), "forbidden_header"},
		{"embedded jwk", signJWT(t, attacker, claims(nil), map[string]any{"jwk": attacker.Public}), "forbidden_header"},
		{"embedded jwk, issuer's kid", verifytest.Compact(t, hdr(map[string]any{"jwk": attackerJWK}), claims(nil), []byte("x")), "forbidden_header"},
		{"x5c", verifytest.Compact(t, hdr(map[string]any{"x5c": []string{"MIIB"}}), claims(nil), []byte("x")), "forbidden_header"},
		{"JKU in upper case", verifytest.Compact(t, hdr(map[string]any{"JKU": evil.URL}), claims(nil), []byte("x")), "forbidden_header"},
		{"crit", verifytest.Compact(t, hdr(map[string]any{"crit": []string{"exp"}, "exp": 1}), claims(nil), []byte("x")), "forbidden_header"},
		{"b64 false", verifytest.Compact(t, hdr(map[string]any{"b64": false}), claims(nil), []byte("x")), "forbidden_header"},
		{"claims swapped (tampered payload)", gp[0] + "." + other[1] + "." + gp[2], "bad_signature"},
		{"tampered header", b64enc(`{"alg":"ES256","kid":"es-1","typ":"JWT","x":1}`) + "." + gp[1] + "." + gp[2], "bad_signature"},
		{"signature of another token", gp[0] + "." + gp[1] + "." + other[2], "bad_signature"},
		{"truncated signature", gp[0] + "." + gp[1] + "." + gp[2][:40], "bad_signature"},
		{"RS256 header with the issuer's EC kid", signJWT(t, verifytest.NewKey(t, jwa.RS256, "es-1"), claims(nil), nil), "algorithm_mismatch"},
		{"ES256 header with the issuer's RSA kid", signJWT(t, attacker, claims(nil), map[string]any{"kid": "rs-1"}), "algorithm_mismatch"},
		{"ES384 header with the issuer's ES256 kid", verifytest.Compact(t, hdr(map[string]any{"alg": "ES384"}), claims(nil), make([]byte, 96)), "algorithm_mismatch"},
		{"empty kid", verifytest.Compact(t, hdr(map[string]any{"kid": ""}), claims(nil), []byte("x")), "malformed"},
		{"numeric kid", verifytest.Compact(t, hdr(map[string]any{"kid": 1}), claims(nil), []byte("x")), "malformed"},
		{"signed non-JSON payload", signJWT(t, es, []byte("hello"), nil), "malformed"},
		{"signed JSON array payload", signJWT(t, es, []byte("[1,2]"), nil), "malformed"},
		{"empty", "", "malformed"},
		{"two dots only", "..", "malformed"},
		{"one dot", "a.b", "malformed"},
		{"four parts", good + ".x", "malformed"},
		{"oversized", strings.Repeat("a", external.MaxTokenBytes+1), "malformed"},
		{"garbage", "not a token at all", "malformed"},
		{"padding", good + "=", "malformed"},
		{"header not JSON", b64enc("{nope") + "." + gp[1] + "." + gp[2], "malformed"},
		{"header JSON array", b64enc(`["ES256"]`) + "." + gp[1] + "." + gp[2], "malformed"},
		{"empty signature", gp[0] + "." + gp[1] + ".", "unsigned"},
		{"empty payload", gp[0] + ".." + gp[2], "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(1100 * time.Millisecond) // each refusal may be recorded
			tok := tc.token
			if tok == "" {
				tok = "." // an empty parameter is omitted (RFC 6749 §3.1): the nearest thing
			}
			resp, body := e.post(tokens.PathToken, jwtBearerForm(tok), "", "")
			if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("%d %v, want 400 invalid_grant", resp.StatusCode, body)
			}
			if desc, _ := body["error_description"].(string); desc == "" {
				t.Fatal("no error_description")
			}
			if got := logged.take(); got != tc.reason {
				t.Fatalf("logged reason %q, want %q (%v)", got, tc.reason, body)
			}
			resp, body = e.post(tokens.PathToken, exchangeForm(tok, ""), "", "")
			if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("token exchange: %d %v, want 400 invalid_grant", resp.StatusCode, body)
			}
			if got := logged.take(); got != tc.reason {
				t.Fatalf("token exchange: logged reason %q, want %q", got, tc.reason)
			}
		})
	}
	if n := evil.Requests.Load(); n != 0 {
		t.Fatalf("a jku/x5u/kid URL was fetched %d times", n)
	}
	fs, err := store.ListJWTIssuerFailures(context.Background(), e.org.ID, trust.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.Reason] = true
	}
	for _, want := range []string{"bad_signature", "expired", "not_yet_valid", "issued_in_future", "wrong_audience", "unknown_kid", "kid_required", "algorithm_mismatch"} {
		if !seen[want] {
			t.Errorf("diagnostics lack reason %s; have %v", want, seen)
		}
	}
}

// TestExternalJWKSRefreshIsBoundedAndSurvivesOutages: an unknown kid
// refreshes the issuer's JWKS at most once per 30 s (counted at the
// loopback JWKS server), a key published later is picked up after that
// bound, and while the endpoint is down the last good keys still verify.
func TestExternalJWKSRefreshIsBoundedAndSurvivesOutages(t *testing.T) {
	store := directorytest.SQLite(t)
	e := newEnv(t, store, withExternalJWTs(store))
	x := verifytest.NewJWKSServer(t)
	k1 := verifytest.NewKey(t, jwa.ES256, "k1")
	k2 := verifytest.NewKey(t, jwa.ES256, "k2")
	x.SetBody(verifytest.JWKS(t, k1))
	e.trust(x, directory.JWTIssuer{Audience: "ssobroker-ci", ServiceAccountID: e.sa.ID})
	bearer := func(k *verifytest.Key) int {
		resp, _ := e.post(tokens.PathToken, jwtBearerForm(signJWT(t, k, e.claimsFor(x, "ssobroker-ci", "repo:acme/app", nil), nil)), "", "")
		return resp.StatusCode
	}
	if s := bearer(k1); s != http.StatusOK {
		t.Fatalf("known key: %d", s)
	}
	for i := range 50 {
		forged := verifytest.NewKey(t, jwa.ES256, "forged-"+strings.Repeat("x", i%20))
		if s := bearer(forged); s != http.StatusBadRequest {
			t.Fatalf("unknown kid: %d", s)
		}
	}
	if n := x.Hits.Load(); n > 2 {
		t.Fatalf("50 unknown kids caused %d JWKS fetches, want at most 2 within 30 s", n)
	}
	// k2 is published; within the bound it is not fetched, after it it is.
	x.SetBody(verifytest.JWKS(t, k1, k2))
	e.clock.Advance(31 * time.Second)
	if s := bearer(k2); s != http.StatusOK {
		t.Fatalf("a newly published key after the refresh bound: %d", s)
	}
	before := x.Hits.Load()
	// The endpoint goes down and the cache goes stale: last good keys verify.
	x.Update(func(s *verifytest.JWKSState) { s.Status = http.StatusServiceUnavailable })
	e.clock.Advance(10 * time.Minute)
	for range 3 {
		if s := bearer(k1); s != http.StatusOK {
			t.Fatalf("last good key while the JWKS is down: %d", s)
		}
		if s := bearer(k2); s != http.StatusOK {
			t.Fatalf("last good key while the JWKS is down: %d", s)
		}
	}
	if n := x.Hits.Load() - before; n > 1 {
		t.Fatalf("%d fetches of a down JWKS in one refresh interval, want at most 1", n)
	}
}

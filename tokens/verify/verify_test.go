package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

// b64 encodes a token part.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func parts(tok string) []string { return strings.Split(tok, ".") }

func TestVerifyAcceptsEachDefaultAlgorithmOverRemoteJWKS(t *testing.T) {
	keys := []*verifytest.Key{
		verifytest.NewKey(t, jwa.ES256, "ec-1"),
		verifytest.NewKey(t, jwa.EdDSA, "ed-1"),
		verifytest.NewKey(t, jwa.RS256, "rsa-1"),
	}
	srv := verifytest.NewJWKSServer(t, keys...)
	rks, err := NewRemoteKeySet(srv.URL+JWKSPath, RemoteKeySetConfig{Now: func() time.Time { return testNow }})
	must(t, err)
	v := newTestVerifier(t, rks, nil)
	for _, k := range keys {
		t.Run(string(k.Alg), func(t *testing.T) {
			want := validClaims()
			got, err := v.Verify(context.Background(), signToken(t, k, want, nil))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("claims differ:\n got %+v\nwant %+v", got, want)
			}
		})
	}
	if n := srv.Hits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (cached)", n)
	}
}

func TestVerifyInfersAlgorithmFromKeyTypeWhenKeyHasNoAlg(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := verifytest.NewKey(t, alg, "k")
			must(t, k.Public.Remove(jwk.AlgorithmKey))
			v := newTestVerifier(t, staticKeys(k), nil)
			if _, err := v.Verify(context.Background(), signToken(t, k, validClaims(), nil)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyAcceptsTypeVariantsOfAtJWT(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, staticKeys(k), nil)
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"} {
		if _, err := v.Verify(context.Background(), signToken(t, k, validClaims(), map[string]any{"typ": typ})); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
}

func TestVerifyToleratesClockSkewWithinLeeway(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, staticKeys(k), nil)
	c := validClaims()
	c.ExpiresAt = testNow.Add(-29 * time.Second).Unix()
	c.NotBefore = testNow.Add(29 * time.Second).Unix()
	c.IssuedAt = testNow.Add(29 * time.Second).Unix()
	if _, err := v.Verify(context.Background(), signToken(t, k, c, nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	strict := newTestVerifier(t, staticKeys(k), func(c *Config) { c.Leeway = -1 })
	if _, err := strict.Verify(context.Background(), signToken(t, k, c, nil)); !errors.Is(err, ErrExpired) {
		t.Fatalf("without leeway: err = %v, want ErrExpired", err)
	}
}

func TestVerifyAcceptsAudienceArrayContainingOurs(t *testing.T) {
	k := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, staticKeys(k), func(c *Config) { c.Audience = []string{"cli_other", testAudience} })
	c := validClaims()
	c.Audience = Audience{"https://api.example.com", testAudience}
	if _, err := v.Verify(context.Background(), signToken(t, k, c, nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyAcceptsPS256OnlyWhenConfigured(t *testing.T) {
	k := verifytest.NewKey(t, jwa.PS256, "ps-1")
	tok := signToken(t, k, validClaims(), nil)
	def := newTestVerifier(t, staticKeys(k), nil)
	if _, err := def.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("default algorithms accepted PS256: %v", err)
	}
	ps := newTestVerifier(t, staticKeys(k), func(c *Config) { c.Algorithms = []jwa.SignatureAlgorithm{jwa.PS256} })
	if _, err := ps.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestNewRefusesSymmetricAndUnknownAlgorithms(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.HS256, jwa.HS384, jwa.HS512, jwa.NoSignature, "ES256K", "foo"} {
		_, err := New(Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: staticKeys(), Algorithms: []jwa.SignatureAlgorithm{jwa.ES256, alg}})
		if err == nil {
			t.Errorf("New accepted algorithm %q", alg)
		}
	}
}

func TestNewRequiresIssuerAndAudience(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no issuer":      {Audience: []string{testAudience}, Keys: staticKeys()},
		"no audience":    {Issuer: testIssuer, Keys: staticKeys()},
		"empty audience": {Issuer: testIssuer, Audience: []string{""}, Keys: staticKeys()},
		"bad issuer url": {Issuer: "not a url", Audience: []string{testAudience}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestNewDefaultsToRemoteJWKSUnderIssuer(t *testing.T) {
	v, err := New(Config{Issuer: "https://sso.example.com/", Audience: []string{testAudience}})
	must(t, err)
	rks, ok := v.Keys().(*RemoteKeySet)
	if !ok {
		t.Fatalf("default KeySource is %T", v.Keys())
	}
	if got, want := rks.URL(), "https://sso.example.com/.well-known/jwks.json"; got != want {
		t.Fatalf("JWKS URL %q, want %q", got, want)
	}
}

// TestVerifyRefusesForgedTokens is the negative suite: every token here is
// one an attacker could present, and each must be refused with the reason
// given.
func TestVerifyRefusesForgedTokens(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	ed := verifytest.NewKey(t, jwa.EdDSA, "ed-1")
	rs := verifytest.NewKey(t, jwa.RS256, "rsa-1")
	attacker := verifytest.NewKey(t, jwa.ES256, "evil-1")
	attackerRSA := verifytest.NewKey(t, jwa.RS256, "evil-rsa")
	attackerJWKS := verifytest.NewJWKSServer(t, attacker)

	srv := verifytest.NewJWKSServer(t, ec, ed, rs)
	rks, err := NewRemoteKeySet(srv.URL+JWKSPath, RemoteKeySetConfig{Now: func() time.Time { return testNow }})
	must(t, err)
	var seenKIDs []string
	keys := KeySourceFunc(func(ctx context.Context, kid string) (jwk.Key, error) {
		seenKIDs = append(seenKIDs, kid)
		return rks.LookupKey(ctx, kid)
	})
	v := newTestVerifier(t, keys, nil)
	must(t, rks.Refresh(context.Background()))

	good := signToken(t, ec, validClaims(), nil)
	goodParts := parts(good)
	other := validClaims()
	other.Org.Role = "admin"
	otherParts := parts(signToken(t, ec, other, nil))

	ecPEM := pemPublicKey(t, &ec.Raw.(*ecdsa.PrivateKey).PublicKey)
	rsPEM := pemPublicKey(t, rs.Public)
	ecJWKJSON, err := json.Marshal(ec.Public)
	must(t, err)
	attackerPubJSON, err := json.Marshal(attacker.Public)
	must(t, err)
	var attackerPubMap map[string]any
	must(t, json.Unmarshal(attackerPubJSON, &attackerPubMap))

	claimsWith := func(f func(*Claims)) *Claims { c := validClaims(); f(c); return c }
	hs256 := func(secret []byte, kid string) string {
		return signWith(t, jwa.HS256, secret, validClaims(), map[string]any{"kid": kid})
	}
	lastSigChar := goodParts[2][len(goodParts[2])-1]
	malleable := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", lastSigChar) ^ 1

	cases := []struct {
		name   string
		token  string
		reason string
	}{
		{"alg none, empty signature", verifytest.Compact(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "ec-1"}, validClaims(), nil), "unsigned token"},
		{"alg none, with signature", verifytest.Compact(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "ec-1"}, validClaims(), []byte("x")), "unsigned token"},
		{"alg NoNe", verifytest.Compact(t, map[string]any{"alg": "NoNe", "typ": "at+jwt", "kid": "ec-1"}, validClaims(), []byte("x")), "unsigned token"},
		{"alg missing", verifytest.Compact(t, map[string]any{"typ": "at+jwt", "kid": "ec-1"}, validClaims(), []byte("x")), "unsigned token"},
		{"HS256 keyed with EC public key PEM", hs256(ecPEM, "ec-1"), "algorithm not allowed"},
		{"HS256 keyed with RSA public key PEM", hs256(rsPEM, "rsa-1"), "algorithm not allowed"},
		{"HS256 keyed with public JWK JSON", hs256(ecJWKJSON, "ec-1"), "algorithm not allowed"},
		{"unknown kid", signToken(t, attacker, validClaims(), nil), "unknown key id"},
		{"kid path traversal", signToken(t, attacker, validClaims(), map[string]any{"kid": "../../../dev/null"}), "unknown key id"},
		{"kid URL", signToken(t, attacker, validClaims(), map[string]any{"kid": "http://evil/"}), "unknown key id"},
		{"kid SQL", signToken(t, attacker, validClaims(), map[string]any{"kid": "' OR '1'='1' --"}), "unknown key id"},
		{"kid too long", signToken(t, attacker, validClaims(), map[string]any{"kid": strings.Repeat("a", 300)}), "kid too long"},
		{"our kid, attacker's signature", signToken(t, attacker, validClaims(), map[string]any{"kid": "ec-1"}), "signature invalid"},
		{"expired", signToken(t, ec, claimsWith(func(c *Claims) { c.ExpiresAt = testNow.Add(-31 * time.Second).Unix() }), nil), "token expired"},
		{"not yet valid", signToken(t, ec, claimsWith(func(c *Claims) { c.NotBefore = testNow.Add(time.Minute).Unix() }), nil), "token not yet valid"},
		{"issued in the future", signToken(t, ec, claimsWith(func(c *Claims) { c.IssuedAt = testNow.Add(time.Minute).Unix() }), nil), "token issued in the future"},
		{"wrong issuer", signToken(t, ec, claimsWith(func(c *Claims) { c.Issuer = "https://evil.example.com" }), nil), "wrong issuer"},
		{"issuer with trailing slash", signToken(t, ec, claimsWith(func(c *Claims) { c.Issuer = testIssuer + "/" }), nil), "wrong issuer"},
		{"wrong audience", signToken(t, ec, claimsWith(func(c *Claims) { c.Audience = Audience{"cli_other"} }), nil), "wrong audience"},
		{"no audience", signToken(t, ec, claimsWith(func(c *Claims) { c.Audience = nil }), nil), "wrong audience"},
		{"missing exp", signToken(t, ec, claimsWith(func(c *Claims) { c.ExpiresAt = 0 }), nil), "missing exp"},
		{"missing iat", signToken(t, ec, claimsWith(func(c *Claims) { c.IssuedAt = 0 }), nil), "missing iat"},
		{"missing sub", signToken(t, ec, claimsWith(func(c *Claims) { c.Subject = "" }), nil), "missing sub"},
		{"missing client_id", signToken(t, ec, claimsWith(func(c *Claims) { c.ClientID = "" }), nil), "missing client_id"},
		{"missing jti", signToken(t, ec, claimsWith(func(c *Claims) { c.JWTID = "" }), nil), "missing jti"},
		{"jku to attacker JWKS, attacker kid", signToken(t, attacker, validClaims(), map[string]any{"jku": attackerJWKS.URL}), "forbidden header parameter jku"},
		{"jku to attacker JWKS, our kid", signToken(t, attacker, validClaims(), map[string]any{"jku": attackerJWKS.URL, "kid": "ec-1"}), "forbidden header parameter jku"},
		{"x5u", signToken(t, attacker, validClaims(), map[string]any{"x5u": attackerJWKS.URL}), "forbidden header parameter x5u"},
		{"embedded jwk", signToken(t, attacker, validClaims(), map[string]any{"jwk": attacker.Public}), "forbidden header parameter jwk"},
		{"embedded jwk, our kid", verifytest.Compact(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "jwk": attackerPubMap}, validClaims(), []byte("x")), "forbidden header parameter jwk"},
		{"x5c", verifytest.Compact(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "x5c": []string{"MIIB"}}, validClaims(), []byte("x")), "forbidden header parameter x5c"},
		{"crit", verifytest.Compact(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "crit": []string{"exp"}, "exp": 1}, validClaims(), []byte("x")), "forbidden header parameter crit"},
		{"b64 false", verifytest.Compact(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "b64": false}, validClaims(), []byte("x")), "forbidden header parameter b64"},
		{"JKU in upper case", verifytest.Compact(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "JKU": attackerJWKS.URL}, validClaims(), []byte("x")), "forbidden header parameter jku"},
		{"tampered payload", goodParts[0] + "." + otherParts[1] + "." + goodParts[2], "signature invalid"},
		{"tampered header", b64([]byte(`{"alg":"ES256","kid":"ec-1","typ":"at+jwt","x":1}`)) + "." + goodParts[1] + "." + goodParts[2], "signature invalid"},
		{"signature of another token", goodParts[0] + "." + goodParts[1] + "." + otherParts[2], "signature invalid"},
		{"non-canonical signature encoding", goodParts[0] + "." + goodParts[1] + "." + goodParts[2][:len(goodParts[2])-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[malleable]), "malformed signature"},
		{"truncated signature", goodParts[0] + "." + goodParts[1] + "." + goodParts[2][:40], "signature invalid"},
		{"typ JWT", signToken(t, ec, validClaims(), map[string]any{"typ": "JWT"}), "wrong token type"},
		{"typ application/jwt", signToken(t, ec, validClaims(), map[string]any{"typ": "application/jwt"}), "wrong token type"},
		{"typ missing", signToken(t, ec, validClaims(), map[string]any{"typ": nil}), "wrong token type"},
		{"RS256 header with our EC kid", signWith(t, jwa.RS256, attackerRSA.Private, validClaims(), map[string]any{"kid": "ec-1"}), "algorithm does not match key"},
		{"ES384 header with our ES256 kid", verifytest.Compact(t, map[string]any{"alg": "ES384", "typ": "at+jwt", "kid": "ec-1"}, validClaims(), make([]byte, 96)), "algorithm not allowed"},
		{"EdDSA header with our EC kid", signWith(t, jwa.EdDSA, ed.Private, validClaims(), map[string]any{"kid": "ec-1"}), "algorithm does not match key"},
		{"ES256 header with our RSA kid", signWith(t, jwa.ES256, attacker.Private, validClaims(), map[string]any{"kid": "rsa-1"}), "algorithm does not match key"},
		{"missing kid", signWith(t, jwa.ES256, ec.Raw, validClaims(), nil), "missing kid"},
		{"empty kid", verifytest.Compact(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ""}, validClaims(), []byte("x")), "missing kid"},
		{"numeric kid", verifytest.Compact(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": 1}, validClaims(), []byte("x")), "malformed header"},
		{"signed non-JSON payload", signToken(t, ec, []byte("hello"), nil), "malformed claims"},
		{"signed JSON array payload", signToken(t, ec, []byte("[1,2]"), nil), "malformed claims"},
		{"aud of wrong type", signToken(t, ec, []byte(`{"iss":"`+testIssuer+`","aud":5}`), nil), "malformed claims"},
		{"empty", "", "empty token"},
		{"two dots only", "..", "malformed token"},
		{"one dot", "a.b", "malformed token"},
		{"four parts", good + ".x", "malformed token"},
		{"oversized", strings.Repeat("a", MaxTokenBytes+1), "token too large"},
		{"oversized header", strings.Repeat("a", 3000) + "." + goodParts[1] + "." + goodParts[2], "header too large"},
		{"garbage", "not a token at all", "malformed token"},
		{"padding", good + "=", "malformed token"},
		{"whitespace inside", goodParts[0] + ".\n" + goodParts[1] + "." + goodParts[2], "malformed token"},
		{"header not base64url", "e30=." + goodParts[1] + "." + goodParts[2], "malformed token"},
		{"header not JSON", b64([]byte("{nope")) + "." + goodParts[1] + "." + goodParts[2], "malformed header"},
		{"header JSON array", b64([]byte(`["ES256"]`)) + "." + goodParts[1] + "." + goodParts[2], "malformed header"},
		{"header JSON null", b64([]byte(`null`)) + "." + goodParts[1] + "." + goodParts[2], "unsigned token"},
		{"header with trailing data", b64([]byte(`{"alg":"ES256","kid":"ec-1","typ":"at+jwt"}x`)) + "." + goodParts[1] + "." + goodParts[2], "malformed header"},
		{"empty signature", goodParts[0] + "." + goodParts[1] + ".", "unsigned token"},
		{"empty payload", goodParts[0] + ".." + goodParts[2], "malformed token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := v.Verify(context.Background(), tc.token)
			if err == nil {
				t.Fatalf("accepted a forged token: %+v", claims)
			}
			if claims != nil {
				t.Fatal("returned claims with an error")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err %v does not wrap ErrInvalidToken", err)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Reason != tc.reason {
				t.Fatalf("reason %q (%v), want %q", te.Reason, err, tc.reason)
			}
			if errors.Is(err, ErrExpired) != (tc.reason == "token expired") {
				t.Fatalf("errors.Is(err, ErrExpired) wrong for %v", err)
			}
		})
	}

	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("the genuine token is refused: %v", err)
	}
	if n := attackerJWKS.Hits.Load(); n != 0 {
		t.Fatalf("attacker JWKS was fetched %d times", n)
	}
	for _, kid := range []string{"../../../dev/null", "http://evil/", "' OR '1'='1' --"} {
		if !slices.Contains(seenKIDs, kid) {
			t.Errorf("kid %q never reached the key source as an opaque string", kid)
		}
	}
	for _, p := range srv.Paths() {
		if p != JWKSPath {
			t.Errorf("JWKS server saw request for %q", p)
		}
	}
	// Forged kids never became URLs or paths: one fetch (the warm-up),
	// because unknown kids inside MinRefreshInterval trigger none.
	if n := srv.Hits.Load(); n != 1 {
		t.Fatalf("JWKS endpoint hit %d times, want 1", n)
	}
}

func pemPublicKey(t testing.TB, pub any) []byte {
	t.Helper()
	if k, ok := pub.(jwk.Key); ok {
		var raw any
		must(t, k.Raw(&raw))
		pub = raw
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerifyRefusesUnusableKeysFromTheKeySource(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	tok := signToken(t, ec, validClaims(), nil)
	oct, err := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	encKey, err := ec.Public.Clone()
	must(t, err)
	must(t, encKey.Set(jwk.KeyUsageKey, jwk.ForEncryption))
	wrongAlg, err := ec.Public.Clone()
	must(t, err)
	must(t, wrongAlg.Set(jwk.AlgorithmKey, jwa.RS256))
	for name, key := range map[string]jwk.Key{"oct": oct, "use enc": encKey, "alg does not suit key": wrongAlg, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			v := newTestVerifier(t, KeySourceFunc(func(context.Context, string) (jwk.Key, error) { return key, nil }), nil)
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestVerifyUsesPrivateKeysPublicHalf(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, KeySourceFunc(func(context.Context, string) (jwk.Key, error) { return ec.Private, nil }), nil)
	if _, err := v.Verify(context.Background(), signToken(t, ec, validClaims(), nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyPassesKeySourceOutagesThroughWithoutInvalidToken(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	down := errors.New("boom")
	v := newTestVerifier(t, KeySourceFunc(func(context.Context, string) (jwk.Key, error) {
		return nil, errors.Join(ErrKeysUnavailable, down)
	}), nil)
	_, err := v.Verify(context.Background(), signToken(t, ec, validClaims(), nil))
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
}

func TestVerifyRefusesTokenWhenKeySourceFailsOtherwise(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	v := newTestVerifier(t, KeySourceFunc(func(context.Context, string) (jwk.Key, error) {
		return nil, errors.New("no such key") // not wrapping ErrUnknownKey
	}), nil)
	if _, err := v.Verify(context.Background(), signToken(t, ec, validClaims(), nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
}

func TestVerifyNoticesKeyReplacedUnderSameKID(t *testing.T) {
	k1 := verifytest.NewKey(t, jwa.ES256, "same")
	k2 := verifytest.NewKey(t, jwa.ES256, "same")
	current := k1.Public
	v := newTestVerifier(t, KeySourceFunc(func(context.Context, string) (jwk.Key, error) { return current, nil }), nil)
	if _, err := v.Verify(context.Background(), signToken(t, k1, validClaims(), nil)); err != nil {
		t.Fatal(err)
	}
	current = k2.Public
	if _, err := v.Verify(context.Background(), signToken(t, k1, validClaims(), nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old key still used from cache: %v", err)
	}
	if _, err := v.Verify(context.Background(), signToken(t, k2, validClaims(), nil)); err != nil {
		t.Fatal(err)
	}
}

func TestTokenErrorUnwrapsToBoth(t *testing.T) {
	err := invalid("token expired", ErrExpired)
	if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrExpired) {
		t.Fatal("TokenError does not unwrap to both sentinels")
	}
	if got := err.Error(); got != "invalid token: token expired: token expired" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestVerifyWithDefaultKeySourceFetchesTheIssuersJWKS(t *testing.T) {
	ec := verifytest.NewKey(t, jwa.ES256, "ec-1")
	srv := verifytest.NewJWKSServer(t, ec)
	v, err := New(Config{Issuer: srv.URL, Audience: []string{testAudience}, Now: func() time.Time { return testNow }})
	must(t, err)
	c := validClaims()
	c.Issuer = srv.URL
	if _, err := v.Verify(context.Background(), signToken(t, ec, c, nil)); err != nil {
		t.Fatal(err)
	}
	if p := srv.Paths(); len(p) != 1 || p[0] != JWKSPath {
		t.Fatalf("fetched %q", p)
	}
}

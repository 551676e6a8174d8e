package tokens

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// The token endpoint's answer is appended by hand (AppendClientCredentialsResponse):
// it must be byte for byte what encoding/json writes for TokenResponse, leave
// what dst held before alone, and on failure return dst unchanged.
func TestClientCredentialsResponseIsWhatEncodingJSONWrites(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t), withIssuerConfig(func(c *IssuerConfig) {
		c.ServiceAccountScopes = []string{"opik:read", "opik:write", "a&b<c>"}
		c.AccessTokenTTL = 7 * time.Minute
	}))
	ctx := context.Background()
	for _, scope := range []string{"", "opik:read", "opik:read opik:write a&b<c>"} {
		prefix := []byte("kept:")
		out, err := e.issuer.AppendClientCredentialsResponse(ctx, prefix, ClientCredentialsRequest{ClientID: e.sa.ID, ClientSecret: e.secret, Scope: scope})
		if err != nil {
			t.Fatalf("scope %q: %v", scope, err)
		}
		if !bytes.HasPrefix(out, []byte("kept:")) {
			t.Fatalf("scope %q: the bytes before the answer changed: %q", scope, out)
		}
		body := out[len("kept:"):]
		var got TokenResponse
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("scope %q: not a token response: %v\n%s", scope, err, body)
		}
		want, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != string(want) {
			t.Fatalf("scope %q: differs from encoding/json:\n got %s\nwant %s", scope, body, want)
		}
		if got.TokenType != "Bearer" || got.ExpiresIn != 420 || got.Scope != scope || got.RefreshToken != "" || got.IDToken != "" {
			t.Fatalf("scope %q: answer %+v", scope, got)
		}
		c, err := e.issuer.VerifyAccessToken(ctx, got.AccessToken)
		if err != nil {
			t.Fatalf("scope %q: the token does not verify: %v", scope, err)
		}
		if c.Subject != e.sa.ID || c.Scope != scope {
			t.Fatalf("scope %q: claims %+v", scope, c)
		}
	}

	// Failures: dst comes back as it was, with the error ClientCredentials gives.
	for name, req := range map[string]ClientCredentialsRequest{
		"wrong secret":  {ClientID: e.sa.ID, ClientSecret: "ssb_" + strings.Repeat("x", len(e.secret)-4)},
		"unknown scope": {ClientID: e.sa.ID, ClientSecret: e.secret, Scope: "admin"},
	} {
		dst := []byte("kept:")
		out, err := e.issuer.AppendClientCredentialsResponse(ctx, dst, req)
		var te *Error
		if !errors.As(err, &te) || string(out) != "kept:" {
			t.Fatalf("%s: got %q, %v", name, out, err)
		}
		_, want := e.issuer.ClientCredentials(ctx, req)
		var we *Error
		if !errors.As(want, &we) || we.Code != te.Code {
			t.Fatalf("%s: %v, ClientCredentials says %v", name, err, want)
		}
	}
}

// ES256 tokens are signed with crypto/ecdsa directly (appendES256). Every
// signature is R and S as 32 bytes each, zero-padded when shorter (about one
// signature in 128 has a half with a leading zero byte: the loop runs until
// it has seen one), and both jwx and crypto/ecdsa accept each one. The
// nonces are RFC 6979's, so each signature is of a different input.
func TestES256SignaturesVerifyWithJWXAndCryptoECDSA(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t), withAlgorithm(ES256))
	sk := e.keys.cur.Load().signer
	if sk.es256 == nil {
		t.Fatal("the ES256 key is not signed by appendES256")
	}
	pub := &sk.es256.PublicKey
	padded := 0
	for i := 0; i < 300 || padded == 0; i++ {
		if i == 5000 {
			t.Fatal("no signature with a zero-padded half in 5000")
		}
		input := []byte(b64enc(`{"alg":"ES256","typ":"JWT"}`) + "." + b64enc(fmt.Sprintf(`{"sub":"x","n":%d}`, i)))
		h := sha256.Sum256(input)
		tok, err := appendES256(append(bytes.Clone(input), '.'), sk.es256, input)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := b64url(string(tok[len(input)+1:]))
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature of %s: %d bytes, %v", tok, len(sig), err)
		}
		if sig[0] == 0 || sig[32] == 0 {
			padded++
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			t.Fatalf("crypto/ecdsa refuses %x", sig)
		}
		if _, err := jws.Verify(tok, jws.WithKey(jwa.ES256, pub)); err != nil {
			t.Fatalf("jwx refuses %s: %v", tok, err)
		}
	}
	// And a real access token, as the broker verifies it.
	if _, err := e.issuer.VerifyAccessToken(context.Background(), e.token(nil)); err != nil {
		t.Fatal(err)
	}
}

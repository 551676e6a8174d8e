package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/tokens/verify/verifytest"
)

const (
	testIssuer   = "https://sso.example.com"
	testAudience = "cli_app"
)

// testNow is the fixed clock of every test.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// validClaims returns the claims of a token valid at testNow.
func validClaims() *Claims {
	return &Claims{
		Issuer:    testIssuer,
		Subject:   "usr_ada",
		Audience:  Audience{testAudience},
		ExpiresAt: testNow.Add(5 * time.Minute).Unix(),
		IssuedAt:  testNow.Add(-5 * time.Minute).Unix(),
		JWTID:     "jti_1",
		ClientID:  testAudience,
		Scope:     "openid profile email",
		SessionID: "sid_1",
		Email:     "ada@acme.com",
		Name:      "Ada Lovelace",
		IdP:       "conn_saml",
		AMR:       []string{"saml"},
		Org:       Org{ID: "org_acme", Name: "acme", Role: access.RolePlatformMember},
		Workspaces: []Workspace{
			{ID: "ws_research", Name: "research", Role: access.WorkspaceOwner},
			{ID: "ws_prod", Name: "prod", Role: access.WorkspaceMember, CanInvite: true},
			{ID: "ws_demo", Name: "demo", Role: access.WorkspaceMember, CanMakePublic: true},
		},
		DefaultWorkspace: "research",
	}
}

// signToken signs payload with k, typ at+jwt unless extra overrides it (a
// nil value deletes a header parameter).
func signToken(t testing.TB, k *verifytest.Key, payload any, extra map[string]any) string {
	t.Helper()
	return k.Sign(t, payload, withAccessTokenType(extra))
}

// signWith signs with any key under any algorithm (forgeries), typ at+jwt
// unless extra overrides it.
func signWith(t testing.TB, alg jwa.SignatureAlgorithm, key any, payload any, extra map[string]any) string {
	t.Helper()
	return verifytest.Sign(t, alg, key, payload, withAccessTokenType(extra))
}

func withAccessTokenType(extra map[string]any) map[string]any {
	h := map[string]any{jws.TypeKey: "at+jwt"}
	maps.Copy(h, extra)
	return h
}

// staticKeys is an in-memory KeySource, as the token service's.
func staticKeys(keys ...*verifytest.Key) KeySource {
	m := make(map[string]jwk.Key, len(keys))
	for _, k := range keys {
		m[k.KID] = k.Public
	}
	return KeySourceFunc(func(_ context.Context, kid string) (jwk.Key, error) {
		if k, ok := m[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	})
}

func newTestVerifier(t testing.TB, keys KeySource, mod func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Issuer:   testIssuer,
		Audience: []string{testAudience},
		Keys:     keys,
		Now:      func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	must(t, err)
	return v
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

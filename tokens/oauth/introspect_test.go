package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

func TestIntrospectionAnswersActiveWithFullClaims(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		tok := e.token(nil)
		want, _ := claimsOf(t, tok)
		resp, in := e.post(tokens.PathIntrospect, url.Values{"token": {tok}}, e.sa.ID, e.secret)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		if in["active"] != true || in["token_type"] != "Bearer" {
			t.Fatalf("introspection %v", in)
		}
		for k, v := range want {
			if got, ok := in[k]; !ok || !jsonEqual(got, v) {
				t.Errorf("claim %s = %v, want %v", k, got, v)
			}
		}
	})
}

func TestIntrospectionSaysInactiveForAnythingElse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		store := open(t)
		e := newEnv(t, store)
		tok := e.token(nil)

		// A token with a foreign issuer, signed by our own key.
		foreign, err := tokens.NewIssuer(e.keys, store, tokens.IssuerConfig{Issuer: "https://elsewhere.example"})
		if err != nil {
			t.Fatal(err)
		}
		ft, err := foreign.ClientCredentials(context.Background(), tokens.ClientCredentialsRequest{ClientID: e.sa.ID, ClientSecret: e.secret})
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		cases := map[string]string{
			"garbage":          "not-a-token",
			"empty parts":      "..",
			"tampered payload": parts[0] + "." + parts[1] + "x." + parts[2],
			"alg none":         strings.TrimRight(b64enc(`{"alg":"none","typ":"at+jwt","kid":"`+headerOf(t, tok)["kid"].(string)+`"}`), "=") + "." + parts[1] + ".",
			"foreign issuer":   ft.AccessToken,
			"unknown kid":      b64enc(`{"alg":"ES256","typ":"at+jwt","kid":"nope"}`) + "." + parts[1] + "." + parts[2],
			"wrong typ":        b64enc(`{"alg":"ES256","typ":"JWT","kid":"`+headerOf(t, tok)["kid"].(string)+`"}`) + "." + parts[1] + "." + parts[2],
		}
		for name, tk := range cases {
			if in := e.introspect(t, tk); in["active"] != false || len(in) != 1 {
				t.Errorf("%s: %v", name, in)
			}
		}

		// Expired.
		e.clock.Advance(tokens.DefaultAccessTokenTTL)
		if in := e.introspect(t, tok); in["active"] != false {
			t.Errorf("expired token: %v", in)
		}
	})
}

func TestIntrospectionIsLimitedToTheCallersOrg(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	tok := e.token(nil)
	org2, _, err := e.store.CreateOrg(context.Background(), "system:test", directory.NewOrg{Name: "Other " + randomSuffix()})
	if err != nil {
		t.Fatal(err)
	}
	outsider, secret := e.newServiceAccount(org2.ID, "outsider", access.RoleAdmin)
	resp, in := e.post(tokens.PathIntrospect, url.Values{"token": {tok}}, outsider.ID, secret)
	if resp.StatusCode != 200 || in["active"] != false || len(in) != 1 {
		t.Fatalf("another org's account learned about the token: %d %v", resp.StatusCode, in)
	}
	colleague, csecret := e.newServiceAccount(e.org.ID, "resource-server", access.RoleViewOnly)
	if _, in := e.post(tokens.PathIntrospect, url.Values{"token": {tok}}, colleague.ID, csecret); in["active"] != true {
		t.Fatalf("same org: %v", in)
	}
}

func TestIntrospectionRequiresClientAuthentication(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	tok := e.token(nil)
	for name, c := range map[string][2]string{"none": {"", ""}, "wrong secret": {e.sa.ID, "ssb_nope"}} {
		resp, body := e.post(tokens.PathIntrospect, url.Values{"token": {tok}}, c[0], c[1])
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != tokens.CodeInvalidClient {
			t.Errorf("%s: %d %v", name, resp.StatusCode, body)
		}
	}
	resp, body := e.post(tokens.PathIntrospect, url.Values{}, e.sa.ID, e.secret)
	if resp.StatusCode != 400 || body["error"] != tokens.CodeInvalidRequest {
		t.Errorf("no token: %d %v", resp.StatusCode, body)
	}
}

func TestRevocationStopsIntrospectionAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		tok, other := e.token(nil), e.token(nil)
		resp, body := e.post(tokens.PathRevoke, url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, e.sa.ID, e.secret)
		if resp.StatusCode != 200 || body != nil {
			t.Fatalf("revoke: %d %v", resp.StatusCode, body)
		}
		if in := e.introspect(t, tok); in["active"] != false {
			t.Fatalf("revoked token still active: %v", in)
		}
		if in := e.introspect(t, other); in["active"] != true {
			t.Fatalf("another token of the same client was revoked too: %v", in)
		}
		// Revoking twice, or revoking garbage, is still 200.
		for _, tk := range []string{tok, "garbage", "a.b.c"} {
			if resp, body := e.post(tokens.PathRevoke, url.Values{"token": {tk}}, e.sa.ID, e.secret); resp.StatusCode != 200 {
				t.Errorf("revoke %q: %d %v", tk, resp.StatusCode, body)
			}
		}
	})
}

func TestClientMayRevokeOnlyItsOwnTokens(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	tok := e.token(nil)
	other, secret := e.newServiceAccount(e.org.ID, "other", access.RoleAdmin)
	resp, body := e.post(tokens.PathRevoke, url.Values{"token": {tok}}, other.ID, secret)
	if resp.StatusCode != 400 || body["error"] != tokens.CodeUnauthorizedClient {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	if in := e.introspect(t, tok); in["active"] != true {
		t.Fatal("token revoked by another client")
	}
	if resp, body := e.post(tokens.PathRevoke, url.Values{}, e.sa.ID, e.secret); resp.StatusCode != 400 || body["error"] != tokens.CodeInvalidRequest {
		t.Fatalf("missing token: %d %v", resp.StatusCode, body)
	}
	if resp, body := e.post(tokens.PathRevoke, url.Values{"token": {tok}}, e.sa.ID, "ssb_bad"); resp.StatusCode != 401 || body["error"] != tokens.CodeInvalidClient {
		t.Fatalf("bad credentials: %d %v", resp.StatusCode, body)
	}
}

func TestIntrospectionOfADeletedAccountsTokenIsInactive(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	victim, secret := e.newServiceAccount(e.org.ID, "short-lived", access.RolePlatformMember)
	tok := e.tokenFor(victim.ID, secret, nil)
	if err := e.store.DeleteServiceAccount(context.Background(), "system:test", e.org.ID, victim.ID); err != nil {
		t.Fatal(err)
	}
	if in := e.introspect(t, tok); in["active"] != false {
		t.Fatalf("token of a deleted account: %v", in)
	}
}

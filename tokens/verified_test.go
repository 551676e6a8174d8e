package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// introspectCached introspects tok, which must be active, and checks that
// its verification is now cached.
func (e *env) introspectCached(t *testing.T, tok string) {
	t.Helper()
	if in := e.introspect(t, tok); in["active"] != true {
		t.Fatalf("fresh token inactive: %v", in)
	}
	if _, hit := e.issuer.verified.get(sha256.Sum256([]byte(tok)), e.clock.Now().Unix()); !hit {
		t.Fatal("the verified token was not cached")
	}
}

func TestCachedVerificationNeverOutlivesTheTokensExp(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	tok := e.token(nil)
	e.introspectCached(t, tok)
	e.clock.Advance(DefaultAccessTokenTTL)
	if in := e.introspect(t, tok); in["active"] != false {
		t.Fatalf("expired cached token: %v", in)
	}
	if n := e.issuer.verified.len(); n != 0 {
		t.Fatalf("expired entry kept: %d entries", n)
	}
}

func TestTokenRevokedAfterCachingIsInactive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		tok := e.token(nil)
		e.introspectCached(t, tok)
		if err := e.issuer.Revoke(context.Background(), Credentials{ID: e.sa.ID, Secret: e.secret}, tok); err != nil {
			t.Fatal(err)
		}
		if in := e.introspect(t, tok); in["active"] != false {
			t.Fatalf("revoked cached token: %v", in)
		}
		if _, err := e.issuer.VerifyAccessToken(context.Background(), tok); err != ErrInvalidAccessToken {
			t.Fatalf("VerifyAccessToken of a revoked cached token: %v", err)
		}
	})
}

func TestCachedTokenOfADeletedPrincipalIsInactive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		sa2, secret2 := e.newServiceAccount(e.org.ID, "deploy-bot", access.RolePlatformMember,
			directory.InvitationWorkspace{WorkspaceID: e.defaultWS.ID, Role: access.WorkspaceMember})
		tok := e.tokenFor(sa2.ID, secret2, nil)
		e.introspectCached(t, tok)
		if err := e.store.DeleteServiceAccount(context.Background(), "system:test", e.org.ID, sa2.ID); err != nil {
			t.Fatal(err)
		}
		if in := e.introspect(t, tok); in["active"] != false {
			t.Fatalf("cached token of a deleted service account: %v", in)
		}
	})
}

func TestDeletedKeyStopsACachedTokenAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		e := newEnv(t, open(t))
		tok := e.token(nil)
		e.introspectCached(t, tok)
		kid := headerOf(t, tok)["kid"].(string)
		if err := e.store.DeleteSigningKey(context.Background(), "system:test", kid); err != nil {
			t.Fatal(err)
		}
		if in := e.introspect(t, tok); in["active"] != false {
			t.Fatalf("cached token of a deleted key: %v", in)
		}
	})
}

func TestCachedTokenWithAnAlteredSignatureIsInactive(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	tok := e.token(nil)
	e.introspectCached(t, tok)
	dot := strings.LastIndexByte(tok, '.')
	sig := []byte(tok[dot+1:])
	if sig[5] == 'A' {
		sig[5] = 'B'
	} else {
		sig[5] = 'A'
	}
	for name, bad := range map[string]string{
		"altered signature":     tok[:dot+1] + string(sig),
		"signature cut":         tok[:len(tok)-2],
		"signature of another":  tok[:dot+1] + e.token(nil)[dot+1:],
		"trailing byte":         tok + "A",
		"no signature":          tok[:dot+1],
		"signature as payload":  tok[:strings.IndexByte(tok, '.')+1] + tok[dot+1:] + "." + tok[dot+1:],
		"header only, repeated": tok[:strings.IndexByte(tok, '.')] + "..",
	} {
		if in := e.introspect(t, bad); in["active"] != false || len(in) != 1 {
			t.Errorf("%s: %v", name, in)
		}
	}
}

func TestCachedClaimsAreHandedOutAsCopies(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	tok := e.token(nil)
	ctx := context.Background()
	first, err := e.issuer.VerifyAccessToken(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.issuer.VerifyAccessToken(ctx, tok)
	want = cloneAccessClaims(want)
	for _, c := range []*AccessClaims{&first, &want} {
		if len(c.Audience) == 0 || len(c.Workspaces) == 0 {
			t.Fatalf("claims without audience or workspaces: %+v", c)
		}
	}
	got, err := e.issuer.VerifyAccessToken(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	got.Audience[0], got.Workspaces[0].Name = "changed", "changed"
	first.Audience[0], first.Workspaces[0].Name = "changed", "changed"
	again, err := e.issuer.VerifyAccessToken(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("cached claims changed by a caller:\n got %+v\nwant %+v", again, want)
	}
}

// TestCloneAccessClaimsCoversEveryReference lists every field of
// AccessClaims, at any depth, that refers to memory a copy would share:
// cloneAccessClaims copies exactly these. A new one must be copied there
// and added here.
func TestCloneAccessClaimsCoversEveryReference(t *testing.T) {
	var refs []string
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				walk(typ.Field(i).Type, path+"."+typ.Field(i).Name)
			}
		case reflect.Slice, reflect.Pointer, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			refs = append(refs, path)
			if typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
				walk(typ.Elem(), path+"[]")
			}
		case reflect.Array:
			walk(typ.Elem(), path+"[]")
		}
	}
	walk(reflect.TypeFor[AccessClaims](), "")
	want := []string{".Audience", ".AMR", ".Workspaces", ".Narrowed"}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("reference fields %v, cloneAccessClaims copies %v", refs, want)
	}
}

func TestVerifiedTokensAreBounded(t *testing.T) {
	var v verifiedTokens
	for n := range maxVerifiedTokens + 100 {
		var d [sha256.Size]byte
		binary.BigEndian.PutUint64(d[:], uint64(n))
		v.put(d, verifiedToken{claims: AccessClaims{ExpiresAt: 2}})
	}
	if n := v.len(); n != maxVerifiedTokens {
		t.Fatalf("%d entries, bound %d", n, maxVerifiedTokens)
	}
}

func TestIntrospectionJSONSplicesTheClaims(t *testing.T) {
	for _, c := range []struct{ payload, want string }{
		{`{"iss":"x","aud":["a"]}`, `{"active":true,"token_type":"Bearer","iss":"x","aud":["a"]}`},
		{` { "iss" : "x" } `, `{"active":true,"token_type":"Bearer","iss" : "x" }`},
		{`{}`, `{"active":true,"token_type":"Bearer"}`},
		{`{ }`, `{"active":true,"token_type":"Bearer"}`},
	} {
		got, err := Introspection{Active: true, payload: []byte(c.payload)}.MarshalJSON()
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %s %v, want %s", c.payload, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":`, `null`, `"{}"`} {
		if got, err := (Introspection{Active: true, payload: []byte(bad)}).MarshalJSON(); err == nil {
			t.Errorf("%q: %s, want an error", bad, got)
		}
	}
	if got, _ := (Introspection{payload: []byte(`{"a":1}`)}).MarshalJSON(); string(got) != `{"active":false}` {
		t.Errorf("inactive: %s", got)
	}
}

// TestPayloadWithTrailingDataIsNotAnAccessToken: the payload is answered as
// is at introspection, so a token whose payload holds more than one JSON
// object is refused even when our key signed it.
func TestPayloadWithTrailingDataIsNotAnAccessToken(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	tok := e.token(nil)
	_, c := claimsOf(t, tok)
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{
		"as minted":     string(payload),
		"trailing data": string(payload) + ` {"active":false}`,
	} {
		signed, err := e.keys.cur.Load().signer.appendJWS(nil, []byte(p))
		if err != nil {
			t.Fatal(err)
		}
		in := e.introspect(t, string(signed))
		if want := name == "as minted"; in["active"] != want {
			t.Errorf("%s: %v", name, in)
		}
	}
}

package verify

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// fullClaims sets every field of Claims, found by reflection, to a non-zero
// value, so that a field added later is covered automatically.
func fullClaims(t testing.TB) *Claims {
	t.Helper()
	c := validClaims()
	c.NotBefore = c.IssuedAt
	c.PrincipalType = PrincipalServiceAccount
	c.Org.OnlyAdminsCanInvite = true
	c.Workspaces[0].CanInvite, c.Workspaces[0].CanMakePublic = true, true
	c.Audience = Audience{"a", "b"}
	c.WorkspacesTruncated = true
	c.Narrowed = &WorkspaceRef{ID: c.Workspaces[0].ID, Name: c.Workspaces[0].Name}
	var check func(path string, v reflect.Value)
	check = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				check(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		case reflect.Pointer:
			if v.IsNil() {
				t.Fatalf("fullClaims leaves %s nil: set it", path)
			}
			check(path, v.Elem())
		case reflect.Slice:
			if v.Len() == 0 {
				t.Fatalf("fullClaims leaves %s empty: set it", path)
			}
			for i := range v.Len() {
				check(path, v.Index(i))
			}
		default:
			if v.IsZero() && !strings.Contains(path, "Workspaces") {
				t.Fatalf("fullClaims leaves %s zero: set it", path)
			}
		}
	}
	check("Claims", reflect.ValueOf(c).Elem())
	return c
}

func TestFastDecodeCoversEveryClaim(t *testing.T) {
	for name, c := range map[string]*Claims{"full": fullClaims(t), "typical": validClaims()} {
		b, err := json.Marshal(c)
		must(t, err)
		var got Claims
		if !decodeClaimsFast(string(b), &got) {
			t.Fatalf("%s: the fast path gave up on what encoding/json marshals: %s", name, b)
		}
		if !reflect.DeepEqual(&got, c) {
			t.Fatalf("%s: fast path decoded\n%+v\nwant\n%+v", name, got, *c)
		}
	}
}

func TestFastDecodeGivesUpOutsideItsSubset(t *testing.T) {
	for _, in := range []string{
		`{"iss":"a\"b"}`, `{"iss":"a\u0041"}`, `{"ISS":"x"}`, `{"iss":"x","iss":"y"}`, `{"exp":1.5}`,
		`{"exp":1e9}`, `{"exp":01}`, `{"exp":12345678901234567890}`, `{"iss":null}`, `{"unknown":1}`,
		`{"org":{"id":"x","extra":true}}`, `{"iss":"x"} x`, `{"iss":"x",}`, `{"aud":["a",]}`,
		"{\"iss\":\"\xff\"}", `{"iss":"x"`, `[]`, `null`, ``, `{"org":{"only_admins_can_invite":"true"}}`,
		`{"workspaces":[{"name":"a"},]}`, `{"amr":"saml"}`,
	} {
		var c Claims
		if decodeClaimsFast(in, &c) {
			t.Errorf("fast path accepted %q", in)
		}
	}
	for _, in := range []string{`{"alg":"ES256","kid":"k","typ":"at+jwt","jku":"x"}`, `{"alg":"ES256","alg":"none"}`, `{"Alg":"ES256"}`} {
		var h Header
		if decodeHeaderFast(in, &h) {
			t.Errorf("header fast path accepted %q", in)
		}
	}
}

// FuzzDecodeClaimsMatchesEncodingJSON proves the fast path is invisible:
// whenever it accepts an input, encoding/json accepts it too and decodes
// the same claims; and decodeClaims as a whole always agrees with
// encoding/json.
func FuzzDecodeClaimsMatchesEncodingJSON(f *testing.F) {
	for _, c := range []*Claims{fullClaims(f), validClaims(), {}} {
		b, err := json.Marshal(c)
		must(f, err)
		f.Add(b)
	}
	f.Add([]byte(apiExample))
	f.Add([]byte(`{"aud":[],"amr":[],"workspaces":[],"org":{}}`))
	f.Add([]byte(` { "exp" : -0 , "iat":0 } `))
	f.Fuzz(func(t *testing.T, in []byte) {
		var fast Claims
		fastOK := decodeClaimsFast(string(in), &fast)
		var std Claims
		stdErr := json.Unmarshal(in, &std)
		if fastOK {
			if stdErr != nil {
				t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", in, stdErr)
			}
			if !reflect.DeepEqual(fast, std) {
				t.Fatalf("%q: fast %+v, encoding/json %+v", in, fast, std)
			}
		}
		var got Claims
		err := decodeClaims(in, &got)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("%q: decodeClaims err %v, encoding/json err %v", in, err, stdErr)
		}
		if err == nil && !reflect.DeepEqual(got, std) {
			t.Fatalf("%q: decodeClaims %+v, encoding/json %+v", in, got, std)
		}
	})
}

// FuzzDecodeHeaderMatchesEncodingJSON is the same proof for headers:
// whenever the fast path accepts an input, the encoding/json path accepts
// it too (no forbidden parameter, string kid) and gives the same Header.
func FuzzDecodeHeaderMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"alg":"ES256","kid":"k","typ":"at+jwt"}`))
	f.Add([]byte(`{"alg":"ES256","kid":"k","jku":"http://x"}`))
	f.Add([]byte(`{"alg":"ES256","kid":""}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var fast Header
		if !decodeHeaderFast(string(in), &fast) {
			return
		}
		std, err := decodeHeaderJSON(in)
		if err != nil || fast != std {
			t.Fatalf("%q: fast %+v, encoding/json %+v (%v)", in, fast, std, err)
		}
	})
}

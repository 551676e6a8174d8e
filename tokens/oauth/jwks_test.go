package oauth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/tokens"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestJWKSPublishesPublicKeysOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *directory.SQLStore) {
		for _, alg := range []tokens.Algorithm{tokens.ES256, tokens.EdDSA, tokens.RS256} {
			t.Run(string(alg), func(t *testing.T) {
				e := newEnv(t, open(t), withAlgorithm(alg))
				// A retired key too: every state is published.
				e.keyClock.Advance(e.keys.Config().RotateEvery)
				if r, err := e.keys.Rotate(context.Background()); err != nil || len(r.Retired) != 1 {
					t.Fatalf("rotate: %+v %v", r, err)
				}
				resp, body := get(t, e.http.URL+tokens.PathJWKS)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				keys := jsonKeys(t, body)
				if len(keys) != 3 {
					t.Fatalf("%d keys published, want active, next and retired", len(keys))
				}
				for _, k := range keys {
					for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
						if _, ok := k[private]; ok {
							t.Fatalf("private member %q published: %v", private, k)
						}
					}
					if k["alg"] != string(alg) || k["use"] != "sig" || k["kid"] == "" || k["kty"] == "" {
						t.Errorf("key %v lacks alg/use/kid/kty", k)
					}
					if !e.keys.Publishes(k["kid"].(string)) {
						t.Errorf("published kid %v unknown", k["kid"])
					}
				}
				if strings.Contains(string(body), `"d":`) {
					t.Fatal("private exponent in the document")
				}
			})
		}
	})
}

func TestJWKSCachingHeaders(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	resp, body := get(t, e.http.URL+tokens.PathJWKS)
	cc := resp.Header.Get("Cache-Control")
	maxAge, ok := strings.CutPrefix(cc, "public, max-age=")
	n, err := strconv.Atoi(maxAge)
	if !ok || err != nil {
		t.Fatalf("Cache-Control = %q", cc)
	}
	cfg := e.keys.Config()
	if time.Duration(n)*time.Second >= cfg.PublishLead-cfg.ReloadInterval || time.Duration(n)*time.Second > cfg.Retention() {
		t.Fatalf("max-age %ds is not shorter than the rotation overlap (lead %v, retention %v)", n, cfg.PublishLead, cfg.Retention())
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag %q is not a strong entity tag", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, b := get(t, e.http.URL+tokens.PathJWKS, "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != cc {
			t.Errorf("If-None-Match %s: %d, %d bytes, headers %v", inm, resp.StatusCode, len(b), resp.Header)
		}
	}
	if resp, b := get(t, e.http.URL+tokens.PathJWKS, "If-None-Match", `"stale"`); resp.StatusCode != 200 || string(b) != string(body) {
		t.Fatalf("stale ETag: %d", resp.StatusCode)
	}
	// A rotation changes the document and its ETag.
	e.keyClock.Advance(cfg.RotateEvery)
	if _, err := e.keys.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, b := get(t, e.http.URL+tokens.PathJWKS, "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || string(b) == string(body) {
		t.Fatalf("after rotation: %d, ETag %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

func TestDiscoveryListsExactlyWhatIsEnabled(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	var docs [][]byte
	for _, p := range []string{tokens.PathOpenIDConfig, tokens.PathOAuthServerMeta} {
		resp, body := get(t, e.http.URL+p)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public, max-age=") {
			t.Fatalf("%s: %d %v", p, resp.StatusCode, resp.Header)
		}
		docs = append(docs, body)
	}
	if string(docs[0]) != string(docs[1]) {
		t.Fatal("the two metadata documents differ")
	}
	var d map[string]any
	if err := json.Unmarshal(docs[0], &d); err != nil {
		t.Fatal(err)
	}
	iss := e.http.URL
	want := map[string]any{
		"issuer": iss, "jwks_uri": iss + tokens.PathJWKS, "token_endpoint": iss + tokens.PathToken,
		"introspection_endpoint": iss + tokens.PathIntrospect, "revocation_endpoint": iss + tokens.PathRevoke,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %v", k, d[k], v)
		}
	}
	list := func(k string) string {
		b, _ := json.Marshal(d[k])
		return string(b)
	}
	for k, v := range map[string]string{
		"grant_types_supported":                         `["client_credentials"]`,
		"token_endpoint_auth_methods_supported":         `["client_secret_basic","client_secret_post"]`,
		"introspection_endpoint_auth_methods_supported": `["client_secret_basic","client_secret_post"]`,
		"revocation_endpoint_auth_methods_supported":    `["client_secret_basic","client_secret_post"]`,
		"response_types_supported":                      `[]`,
	} {
		if got := list(k); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	// Nothing not implemented is promised.
	for _, k := range []string{"authorization_endpoint", "userinfo_endpoint", "end_session_endpoint",
		"id_token_signing_alg_values_supported", "code_challenge_methods_supported", "scopes_supported"} {
		if _, ok := d[k]; ok {
			t.Errorf("%s advertised but not implemented", k)
		}
	}
	// Every advertised endpoint answers (no 404).
	for _, k := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint"} {
		resp, err := http.Post(d[k].(string), "application/x-www-form-urlencoded", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("%s is advertised but not served", k)
		}
	}
}

func TestDisabledFeaturesAreNeitherAdvertisedNorServed(t *testing.T) {
	e := newEnv(t, directorytest.SQLite(t))
	srv, err := NewServer(e.keys, e.issuer, tokens.Features{ClientCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	_, body := get(t, ts.URL+tokens.PathOpenIDConfig)
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"introspection_endpoint", "revocation_endpoint", "introspection_endpoint_auth_methods_supported"} {
		if _, ok := d[k]; ok {
			t.Errorf("%s advertised while disabled", k)
		}
	}
	for _, p := range []string{tokens.PathIntrospect, tokens.PathRevoke} {
		resp, err := http.Post(ts.URL+p, "application/x-www-form-urlencoded", strings.NewReader("token=x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestJWKSBeforeStartIsAnEmptySet(t *testing.T) {
	k, err := tokens.NewKeyring(directorytest.SQLite(t), newBox(t), tokens.KeyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	iss, _ := tokens.NewIssuer(k, directorytest.SQLite(t), tokens.IssuerConfig{Issuer: "https://sso.example.com"})
	srv, _ := NewServer(k, iss, tokens.Features{})
	rec := httptest.NewRecorder()
	srv.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tokens.PathJWKS, nil))
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"keys":[]}` || rec.Header().Get("ETag") == "" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body, rec.Header())
	}
	if _, err := iss.ClientCredentials(context.Background(), tokens.ClientCredentialsRequest{ClientID: "sa_x", ClientSecret: "ssb_x"}); err == nil {
		t.Fatal("minted without a key")
	}
}

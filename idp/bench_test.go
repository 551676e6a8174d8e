package idp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/oidc"
	"github.com/ssobroker/ssobroker/session"
)

// recordedOP serves answers recorded in advance: the discovery document,
// its JWKS and, per authorization code, a token response whose ID token
// was signed before the timer started. It is not a stand-in for the IdP in
// tests (those run against oidc-provider); it lets a benchmark time the
// broker's callback handler without the IdP's own work.
type recordedOP struct {
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	mu     sync.Mutex
	tokens map[string][]byte // code → token response
}

func newRecordedOP(b testing.TB) *recordedOP {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	op := &recordedOP{key: key, tokens: map[string][]byte{}}
	mux := http.NewServeMux()
	op.srv = httptest.NewServer(mux)
	b.Cleanup(op.srv.Close)
	iss := op.srv.URL
	discovery, _ := json.Marshal(map[string]any{
		"issuer": iss, "authorization_endpoint": iss + "/auth", "token_endpoint": iss + "/token",
		"jwks_uri": iss + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"}, "code_challenge_methods_supported": []string{"S256"},
	})
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": b64(pad32(key.X)), "y": b64(pad32(key.Y)),
	}}})
	serve := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", serve(discovery))
	mux.HandleFunc("GET /jwks", serve(jwks))
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		op.mu.Lock()
		body, ok := op.tokens[r.PostForm.Get("code")]
		delete(op.tokens, r.PostForm.Get("code"))
		op.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return op
}

func b64(p []byte) string { return base64.RawURLEncoding.EncodeToString(p) }

func pad32(n *big.Int) []byte {
	out := make([]byte, 32)
	n.FillBytes(out)
	return out
}

// record prepares the token response for code: an ES256 ID token for sub
// with nonce and every claim the broker reads.
func (op *recordedOP) record(b testing.TB, code, nonce, sub, email string) {
	header := b64([]byte(`{"alg":"ES256","kid":"k1","typ":"JWT"}`))
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{
		"iss": op.srv.URL, "aud": upstreamClientID, "sub": sub, "nonce": nonce, "iat": now, "exp": now + 3600,
		"email": email, "email_verified": true, "name": "Bench " + sub, "groups": []string{"bench"}, "amr": []string{"pwd"},
	})
	signing := header + "." + b64(payload)
	d := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, op.key, d[:])
	if err != nil {
		b.Fatal(err)
	}
	jwt := signing + "." + b64(append(pad32(r), pad32(s)...))
	body, _ := json.Marshal(map[string]any{"access_token": "at-" + code, "token_type": "Bearer", "expires_in": 600, "id_token": jwt})
	op.mu.Lock()
	op.tokens[code] = body
	op.mu.Unlock()
}

// BenchmarkCallback times GET /sso/oidc/{conn}/callback: take the login
// state, check the browser binding, read the connection, exchange the code
// (one loopback HTTP round trip to a token response recorded in advance),
// verify the ES256 ID token, provision the returning user in the
// directory (JIT mode auto, group mapping on), create the session. The
// IdP's own work is excluded; reported as p50/p99 per request.
func BenchmarkCallback(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(t testing.TB) (*directory.SQLStore, session.Store)
	}{stores()[0], stores()[3]} {
		b.Run(st.name, func(b *testing.B) {
			benchCallback(b, st.open)
		})
	}
}

func benchCallback(b *testing.B, open func(t testing.TB) (*directory.SQLStore, session.Store)) {
	dir, sessions := open(b)
	op := newRecordedOP(b)
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, _ := secretbox.New(key)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	svc, err := idp.New(idp.Options{Issuer: srv.URL, Directory: dir, Sessions: sessions, Secrets: box,
		Connectors: idp.Registry{directory.ConnectionOIDC: oidc.New}, AllowPrivateUpstreams: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	svc.Routes(mux)

	o, ws, err := dir.CreateOrg(bg, actor, directory.NewOrg{Name: "Bench " + rnd()})
	if err != nil {
		b.Fatal(err)
	}
	mode := directory.JITAuto
	if _, err := dir.UpdateOrg(bg, actor, o.ID, directory.OrgUpdate{JITMode: &mode}); err != nil {
		b.Fatal(err)
	}
	c, err := dir.CreateConnection(bg, actor, directory.Connection{OrgID: o.ID, Type: directory.ConnectionOIDC, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	sealed, _ := box.Seal([]byte("s"), []byte(c.ID))
	c.Config, _ = json.Marshal(map[string]any{
		"oidc":             map[string]any{"issuer": op.srv.URL, "client_id": upstreamClientID, "client_secret_sealed": sealed},
		"group_roles":      map[string]string{"bench": "platform_member"},
		"group_workspaces": map[string]map[string]string{"bench": {ws.Name: "member"}},
	})
	c.Enabled = true
	if c, err = dir.UpdateConnection(bg, actor, c); err != nil {
		b.Fatal(err)
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	binding := ""
	const users = 50
	// prepare starts a login and records the IdP's answer; it returns the callback URL.
	type callbackReq struct {
		url   string
		state *http.Cookie
	}
	prepare := func(i int) callbackReq {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/login?authz=bench&organization="+o.ID+"&login_hint="+url.QueryEscape(fmt.Sprintf("u%d@bench.test", i%users)), nil)
		if binding != "" {
			req.AddCookie(&http.Cookie{Name: idp.BindingCookie, Value: binding})
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		var stateCookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == idp.BindingCookie {
				binding = ck.Value
			}
			if strings.HasPrefix(ck.Name, idp.LoginStateCookiePrefix) {
				stateCookie = ck
			}
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		code := fmt.Sprintf("code-%d-%s", i, rnd())
		op.record(b, code, q.Get("nonce"), fmt.Sprintf("sub-%d", i%users), fmt.Sprintf("u%d@bench.test", i%users))
		return callbackReq{svc.CallbackURL(c) + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), stateCookie}
	}
	callback := func(u callbackReq) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, u.url, nil)
		req.AddCookie(&http.Cookie{Name: idp.BindingCookie, Value: binding})
		if u.state != nil {
			req.AddCookie(&http.Cookie{Name: u.state.Name, Value: u.state.Value})
		}
		start := time.Now()
		resp, err := client.Do(req)
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("callback answered %d", resp.StatusCode)
		}
		return d
	}
	// Warm up: first logins (JIT), connector built, JWKS fetched.
	for i := range users {
		callback(prepare(i))
	}
	urls := make([]callbackReq, b.N)
	for i := range urls {
		urls[i] = prepare(i)
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		times = append(times, callback(urls[i]))
	}
	b.StopTimer()
	reportPercentiles(b, times)
}

func reportPercentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	at := func(p float64) float64 {
		i := int(p * float64(len(times)-1))
		return float64(times[i].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkLoginEndToEnd drives whole browser logins against npm
// oidc-provider (claims in userinfo only, so the broker calls the token and
// userinfo endpoints): /login → IdP authorize → interaction → resume →
// callback → session. It reports, per login, the whole round trip
// (IdP time included: e2e-p50/p99) and the two requests the broker answers
// (start and callback, which itself waits for the IdP's token and userinfo
// endpoints: broker-p50/p99).
func BenchmarkLoginEndToEnd(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(t testing.TB) (*directory.SQLStore, session.Store)
	}{stores()[0], stores()[3]} {
		b.Run(st.name, func(b *testing.B) {
			dir, sessions := st.open(b)
			w := newWorld(b, dir, sessions, nil)
			o := w.org("E2E "+rnd(), directory.JITAuto, "e2e.test")
			pc := w.conn(o.ID, "E2E SSO")
			up := startUpstream(b, w.callbacks(pc), false)
			w.configure(pc, up)
			login := func(i int) (total, broker time.Duration) {
				a := account{id: fmt.Sprintf("e2e-%d", i%50), email: fmt.Sprintf("e2e-%d@e2e.test", i%50), name: "E"}
				br := newBrowser(b)
				start := time.Now()
				p := br.get(w.url("/login?authz=e2e&login_hint=" + url.QueryEscape(a.email)))
				broker = time.Since(start)
				cb := w.flow(br, p, a, nil)
				t0 := time.Now()
				p = br.get(cb.String())
				broker += time.Since(t0)
				total = time.Since(start)
				if p.status != http.StatusSeeOther {
					b.Fatalf("login answered %d", p.status)
				}
				return total, broker
			}
			for i := range 50 {
				login(i)
			}
			totals := make([]time.Duration, 0, b.N)
			brokers := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t, br := login(i)
				totals = append(totals, t)
				brokers = append(brokers, br)
			}
			b.StopTimer()
			slices.Sort(totals)
			slices.Sort(brokers)
			pct := func(d []time.Duration, p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) }
			b.ReportMetric(pct(totals, .5), "e2e-p50-µs")
			b.ReportMetric(pct(totals, .99), "e2e-p99-µs")
			b.ReportMetric(pct(brokers, .5), "broker-p50-µs")
			b.ReportMetric(pct(brokers, .99), "broker-p99-µs")
		})
	}
}

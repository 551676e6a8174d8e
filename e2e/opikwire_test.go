package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// TestOpikWire runs the calls Opik's backend makes to ssobroker, from a
// stand-in for that backend written from Opik's RemoteAuthService, with
// Opik's real clients on the other side (docs/opik.md, "Sibling hosts,
// tested"):
//   - the broker's issuer is http://sso.opik.test:PORT with
//     SSOBROKER_SESSION_COOKIE_DOMAIN=opik.test; the stand-in is
//     http://app.opik.test:PORT2, a sibling host. Chromium resolves both
//     names to 127.0.0.1 itself (--host-resolver-rules);
//   - a person signs in at the broker (the operator's one-time sign-in
//     link) in Chromium, then opens the stand-in: Chromium sends it the
//     sessionToken cookie (its Domain attribute), the stand-in forwards it
//     to /opik/auth-session and the broker answers the person's workspace;
//     after sign-out at the broker the same request is refused (401), and
//     so is the old cookie value replayed (the session ended, not only the
//     cookie);
//   - the npm opik SDK logs a trace through the stand-in with a service
//     account's API key: the stand-in forwards Authorization verbatim to
//     /opik/auth and records the trace under the workspace the broker
//     answered; the key in a workspace not its own is refused with 403, a
//     wrong key with 401, and nothing is recorded.
func TestOpikWire(t *testing.T) {
	peers.RequireChromium(t)
	peers.RequireNode(t, "opik", "playwright-core")
	bin := brokerBinary(t)
	c := &cluster{bin: bin, logDir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(t)
		}
	})
	// The broker's public name is served by a TLS front (the load
	// balancer of a deployment) that forwards to its listener, Host kept:
	// the issuer must be https unless it is a loopback name, and the
	// cookie of an https issuer is Secure, as in production.
	front := startTLSFront(t)
	c.startServe(t, func(port int) {
		front.setTarget("http://127.0.0.1:" + strconv.Itoa(port))
		c.issuer = front.url("sso.opik.test")
		c.env = []string{
			"SSOBROKER_ISSUER=" + c.issuer,
			"SSOBROKER_SESSION_COOKIE_DOMAIN=opik.test",
			"SSOBROKER_SECRET_KEY=" + secretKey,
			"SSOBROKER_DATA_DIR=" + filepath.Join(c.logDir, "data"),
			"SSOBROKER_LOG_FORMAT=text",
		}
	})

	// The org, its first admin (the person) and a service account with a
	// workspace of its own.
	org := "opik-wire-" + rnd()
	var boot struct {
		SignInURL string `json:"sign_in_url"`
		Workspace struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"workspace"`
	}
	c.cli(t, &boot, "admin", "bootstrap", "--org", org, "--email", "ada@opik.test")
	if !strings.HasPrefix(boot.SignInURL, c.issuer+"/admin/sign-in/") || boot.Workspace.Name == "" {
		t.Fatalf("admin bootstrap: sign-in link %q, workspace %q", boot.SignInURL, boot.Workspace.Name)
	}
	var ws struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	c.cli(t, &ws, "admin", "workspace", "create", "--org", org, "--name", "traces")
	var sa struct {
		APIKey string `json:"api_key"`
	}
	c.cli(t, &sa, "admin", "service-account", "create", "--org", org, "--name", "sdk-logger", "--workspace", ws.Name)
	if sa.APIKey == "" || ws.Name == "" {
		t.Fatalf("service account key %q, workspace %q", sa.APIKey, ws.Name)
	}

	// REACT_SERVICE_URL: Opik's backend reaches ssobroker on the internal
	// network, here its listening address.
	opik := startOpikStandIn(t, c.a.base)
	// The SDK (node) trusts the stand-in's test certificate, issued for
	// 127.0.0.1.
	caFile := filepath.Join(t.TempDir(), "opik-standin.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: opik.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NODE_EXTRA_CA_CERTS", caFile)
	uiURL := opik.url("app.opik.test") + "/v1/private/projects?workspace=" + boot.Workspace.Name

	// ---- the browser ----
	var br struct {
		SignInPage          map[string]any `json:"sign_in_page"`
		Console             map[string]any `json:"console"`
		CookiesAfterSignIn  []chromeJar    `json:"cookies_after_sign_in"`
		UI                  pageAnswer     `json:"ui"`
		UIFetch             pageAnswer     `json:"ui_fetch"`
		CookiesAfterSignOut []chromeJar    `json:"cookies_after_sign_out"`
		UIAfter             pageAnswer     `json:"ui_after"`
	}
	runOpikScript(t, c, map[string]any{"mode": "browser", "executable": peers.ChromiumBinary,
		"sign_in_url": boot.SignInURL, "ui_url": uiURL, "timeout_ms": 30000}, &br)
	t.Logf("signed in: %v %v", br.SignInPage, br.Console)
	tok, ok := findJar(br.CookiesAfterSignIn, "sessionToken")
	if !ok {
		t.Fatalf("no sessionToken cookie after sign-in: %+v", br.CookiesAfterSignIn)
	}
	if tok.Domain != ".opik.test" || !tok.HTTPOnly || tok.SameSite != "Lax" || !tok.Secure || tok.Path != "/" {
		t.Errorf("sessionToken cookie %+v; want Domain=.opik.test, HttpOnly, SameSite=Lax, Secure (https issuer), Path=/", tok.chromeCookie)
	}
	if _, host := findJarOnHost(br.CookiesAfterSignIn, "sessionToken", "sso.opik.test"); host {
		t.Errorf("a host-only sessionToken for sso.opik.test was kept besides the domain cookie: %+v", br.CookiesAfterSignIn)
	}
	for _, step := range []struct {
		name string
		got  pageAnswer
	}{{"top-level navigation", br.UI}, {"same-origin fetch", br.UIFetch}} {
		if step.got.Status != http.StatusOK {
			t.Errorf("%s to the stand-in: %d %s, want 200", step.name, step.got.Status, step.got.Body)
		}
	}
	browserCalls := opik.callsOf("/opik/auth-session")
	if len(browserCalls) < 2 {
		t.Fatalf("the stand-in asked /opik/auth-session %d times, want 2 (navigation and fetch): %+v", len(browserCalls), opik.allCalls())
	}
	for _, call := range browserCalls[:2] {
		if call.Cookie != tok.Value {
			t.Errorf("the stand-in received sessionToken %q, want the broker's cookie (%d chars)", cutString(call.Cookie, 12), len(tok.Value))
		}
		if call.Status != http.StatusOK || call.Answer.WorkspaceName != boot.Workspace.Name || call.Answer.WorkspaceID != boot.Workspace.ID || call.Answer.User == "" {
			t.Errorf("broker answered the session %d %+v, want 200 with workspace %s (%s)", call.Status, call.Answer, boot.Workspace.Name, boot.Workspace.ID)
		}
		if call.Body["path"] != "/v1/private/projects" || call.Body["workspaceName"] != boot.Workspace.Name {
			t.Errorf("the stand-in sent %v", call.Body)
		}
	}
	if _, still := findJar(br.CookiesAfterSignOut, "sessionToken"); still {
		t.Errorf("sessionToken is still in the jar after sign-out: %+v", br.CookiesAfterSignOut)
	}
	if br.UIAfter.Status != http.StatusUnauthorized {
		t.Errorf("the stand-in after sign-out: %d %s, want 401", br.UIAfter.Status, br.UIAfter.Body)
	}
	// The old cookie value replayed: the session itself has ended.
	replay := opik.get(t, uiURL, map[string]string{"Cookie": "sessionToken=" + tok.Value})
	if replay != http.StatusUnauthorized {
		t.Errorf("the signed-out session's cookie replayed to the stand-in: %d, want 401", replay)
	}
	if last := opik.callsOf("/opik/auth-session"); last[len(last)-1].Status != http.StatusUnauthorized {
		t.Errorf("the broker answered the replayed session %d, want 401", last[len(last)-1].Status)
	}

	// ---- the SDK ----
	var sdk struct {
		Flushed bool `json:"flushed"`
		Direct  struct {
			OK     bool   `json:"ok"`
			Status int    `json:"status"`
			Error  string `json:"error"`
		} `json:"direct"`
	}
	// After sign-out the browser sent no cookie: the stand-in asked
	// /opik/auth without credentials. Only the SDK's calls count below.
	keyCallsBefore := len(opik.callsOf("/opik/auth"))
	opik.resetPaths()
	// The SDK dials the stand-in's address: its hostname matters to
	// cookies only, which the SDK does not use.
	runOpikScript(t, c, map[string]any{"mode": "sdk", "api_url": opik.url("127.0.0.1"), "api_key": sa.APIKey,
		"workspace": ws.Name, "project": "wire", "trace_name": "wire-ok"}, &sdk)
	if !sdk.Direct.OK {
		t.Errorf("the SDK's REST client was refused with the service account's key: %d %s", sdk.Direct.Status, sdk.Direct.Error)
	}
	traces := opik.tracesNamed("wire-ok")
	if len(traces) != 1 || traces[0].Workspace != ws.Name || traces[0].WorkspaceID != ws.ID || traces[0].User != "sdk-logger" {
		t.Errorf("traces recorded for wire-ok: %+v; want one in workspace %s (%s) by sdk-logger", traces, ws.Name, ws.ID)
	}
	if len(opik.tracesNamed("wire-ok-direct")) != 1 {
		t.Errorf("the direct createTraces was not recorded once: %+v", opik.allTraces())
	}
	if opik.spans() == 0 {
		t.Errorf("the SDK's span was not recorded")
	}
	sdkCalls := opik.callsOf("/opik/auth")[keyCallsBefore:]
	for _, call := range sdkCalls {
		if call.Authorization != sa.APIKey {
			t.Errorf("the stand-in forwarded Authorization %q, want the SDK's raw key", cutString(call.Authorization, 8))
		}
		if call.Status != http.StatusOK {
			t.Errorf("the broker answered the key %d %+v", call.Status, call.Answer)
		}
	}
	if len(sdkCalls) == 0 {
		t.Fatalf("the stand-in never asked /opik/auth: %+v", opik.allCalls())
	}
	t.Logf("paths the SDK called: %v", opik.sdkPaths())

	// A key with the suffix Comet's keys may carry (`*` + base64 JSON):
	// forwarded verbatim, stripped by ssobroker.
	suffixed := sa.APIKey + "*" + base64.StdEncoding.EncodeToString([]byte(`{"baseUrl":"https://opik.example.com"}`))
	if got := opik.get(t, opik.url("127.0.0.1")+"/v1/private/projects", map[string]string{"Authorization": suffixed, "Comet-Workspace": ws.Name}); got != http.StatusOK {
		t.Errorf("the key with a *base64 suffix through the stand-in: %d, want 200", got)
	}
	if calls := opik.callsOf("/opik/auth"); calls[len(calls)-1].Authorization != suffixed || calls[len(calls)-1].Answer.WorkspaceID != ws.ID {
		t.Errorf("the suffixed key's call: %q answered %+v", cutString(calls[len(calls)-1].Authorization, 8), calls[len(calls)-1].Answer)
	}

	// The right key in a workspace the service account is not a member of
	// (the person's): the broker answers 403, Opik passes it on.
	runOpikScript(t, c, map[string]any{"mode": "sdk", "api_url": opik.url("127.0.0.1"), "api_key": sa.APIKey,
		"workspace": boot.Workspace.Name, "project": "wire", "trace_name": "wire-other-ws"}, &sdk)
	if sdk.Direct.OK || sdk.Direct.Status != http.StatusForbidden {
		t.Errorf("the SDK in a workspace not its own: ok=%v status %d %s, want 403", sdk.Direct.OK, sdk.Direct.Status, sdk.Direct.Error)
	}
	if n := len(opik.tracesNamed("wire-other-ws")) + len(opik.tracesNamed("wire-other-ws-direct")); n != 0 {
		t.Errorf("%d traces recorded in a workspace the key may not use", n)
	}

	// A wrong key: the broker answers 401, Opik passes it on, nothing is
	// recorded.
	before := len(opik.callsOf("/opik/auth"))
	runOpikScript(t, c, map[string]any{"mode": "sdk", "api_url": opik.url("127.0.0.1"), "api_key": "ssb_" + strings.Repeat("x", 40),
		"workspace": ws.Name, "project": "wire", "trace_name": "wire-bad"}, &sdk)
	if sdk.Direct.OK || sdk.Direct.Status != http.StatusUnauthorized {
		t.Errorf("the SDK with a wrong key: ok=%v status %d %s, want 401", sdk.Direct.OK, sdk.Direct.Status, sdk.Direct.Error)
	}
	if n := len(opik.tracesNamed("wire-bad")) + len(opik.tracesNamed("wire-bad-direct")); n != 0 {
		t.Errorf("%d traces recorded with a wrong key", n)
	}
	after := opik.callsOf("/opik/auth")
	if len(after) <= before {
		t.Fatalf("the wrong key never reached the broker")
	}
	for _, call := range after[before:] {
		if call.Status != http.StatusUnauthorized {
			t.Errorf("the broker answered a wrong key %d %+v, want 401", call.Status, call.Answer)
		}
	}
}

type pageAnswer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// chromeJar is a cookie as Playwright's context.cookies() lists it.
type chromeJar struct {
	chromeCookie
	Value string `json:"value"`
}

func findJar(jar []chromeJar, name string) (chromeJar, bool) {
	for _, c := range jar {
		if c.Name == name {
			return c, true
		}
	}
	return chromeJar{}, false
}

func findJarOnHost(jar []chromeJar, name, host string) (chromeJar, bool) {
	for _, c := range jar {
		if c.Name == name && c.Domain == host {
			return c, true
		}
	}
	return chromeJar{}, false
}

// runOpikScript runs opik-wire.mjs once and decodes its one line.
func runOpikScript(t *testing.T, c *cluster, in map[string]any, out any) {
	t.Helper()
	arg, _ := json.Marshal(in)
	s, line := peers.StartScript(t, "opik-wire.mjs", peers.ScriptOptions{Args: []string{string(arg)},
		Log: c.logFile(t, fmt.Sprintf("opik-wire-%s-%s", in["mode"], rnd())), StartTimeout: 90 * time.Second})
	if err := json.Unmarshal(line, out); err != nil {
		t.Fatalf("opik-wire.mjs %s printed %q: %v\n%s", in["mode"], line, err, s.Log())
	}
}

// tlsFront is an https reverse proxy to one broker replica (its target,
// set once the replica's port is chosen), keeping the Host header.
type tlsFront struct {
	srv    *httptest.Server
	mu     sync.Mutex
	target *url.URL
}

func startTLSFront(t *testing.T) *tlsFront {
	t.Helper()
	f := &tlsFront{}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		f.mu.Lock()
		target := f.target
		f.mu.Unlock()
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}
	f.srv = quietTLSServer(proxy)
	t.Cleanup(f.srv.Close)
	return f
}

// quietTLSServer is httptest.NewTLSServer without the log line of every
// handshake a client refuses (Chromium first tries the unknown
// certificate).
func quietTLSServer(h http.Handler) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	return s
}

func (f *tlsFront) setTarget(raw string) {
	u, _ := url.Parse(raw)
	f.mu.Lock()
	f.target = u
	f.mu.Unlock()
}

func (f *tlsFront) url(host string) string {
	_, port, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	return "https://" + host + ":" + port
}

// ---- the stand-in for Opik's backend ----

// opikAnswer is the broker's answer to /opik/auth and /opik/auth-session.
type opikAnswer struct {
	User          string `json:"user"`
	WorkspaceID   string `json:"workspaceId"`
	WorkspaceName string `json:"workspaceName"`
	Msg           string `json:"msg"`
}

// authCall is one call the stand-in made to the broker.
type authCall struct {
	Path          string
	Cookie        string // the sessionToken it forwarded
	Authorization string // the header it forwarded
	Body          map[string]any
	Status        int
	Answer        opikAnswer
}

type recordedTrace struct {
	Name, Workspace, WorkspaceID, User string
}

// opikStandIn is Opik's backend as far as authentication goes, written
// from its RemoteAuthService and AuthFilter: a request with a sessionToken
// cookie is a browser's, whose cookie is forwarded to
// {REACT_SERVICE_URL}/opik/auth-session; any other carries the caller's
// Authorization header, forwarded verbatim to /opik/auth. The body is
// {"workspaceName", "path"}; 200 admits the request in the answered
// workspace, 401, 403 and 400 are passed on, anything else becomes 500.
// The workspace comes from the Comet-Workspace header (the SDK's and the
// UI's), or, for a top-level navigation that can send no header, the
// workspace query parameter.
type opikStandIn struct {
	srv    *httptest.Server
	broker string
	http   *http.Client

	mu     sync.Mutex
	calls  []authCall
	traces []recordedTrace
	nspans int
	paths  map[string]int
}

func startOpikStandIn(t *testing.T, broker string) *opikStandIn {
	t.Helper()
	o := &opikStandIn{broker: broker, http: &http.Client{Timeout: 10 * time.Second}, paths: map[string]int{}}
	o.srv = quietTLSServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

// url is the stand-in's base URL under host (a name Chromium maps to
// 127.0.0.1, or 127.0.0.1).
func (o *opikStandIn) url(host string) string {
	_, port, _ := net.SplitHostPort(o.srv.Listener.Addr().String())
	return "https://" + host + ":" + port
}

func (o *opikStandIn) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.paths[r.Method+" "+r.URL.Path]++
	o.mu.Unlock()
	if !strings.HasPrefix(r.URL.Path, "/v1/private/") {
		http.NotFound(w, r)
		return
	}
	ws := r.Header.Get("Comet-Workspace")
	if ws == "" {
		ws = r.URL.Query().Get("workspace")
	}
	ans, status := o.authenticate(r, ws)
	if status != http.StatusOK {
		if status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusBadRequest {
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "message": ans.Msg})
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/private/traces/batch":
		var b struct {
			Traces []struct {
				Name string `json:"name"`
			} `json:"traces"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		o.mu.Lock()
		for _, tr := range b.Traces {
			o.traces = append(o.traces, recordedTrace{Name: tr.Name, Workspace: ans.WorkspaceName, WorkspaceID: ans.WorkspaceID, User: ans.User})
		}
		o.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/private/spans/batch":
		var b struct {
			Spans []json.RawMessage `json:"spans"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		o.mu.Lock()
		o.nspans += len(b.Spans)
		o.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/private/projects":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"content": []any{}, "workspace": ans.WorkspaceName, "user": ans.User})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// authenticate is RemoteAuthService's call.
func (o *opikStandIn) authenticate(r *http.Request, ws string) (opikAnswer, int) {
	call := authCall{Body: map[string]any{"workspaceName": ws, "path": r.URL.Path}}
	body, _ := json.Marshal(call.Body)
	var req *http.Request
	if ck, err := r.Cookie("sessionToken"); err == nil {
		call.Path, call.Cookie = "/opik/auth-session", ck.Value
		req, _ = http.NewRequestWithContext(r.Context(), http.MethodPost, o.broker+call.Path, bytes.NewReader(body))
		req.AddCookie(&http.Cookie{Name: "sessionToken", Value: ck.Value})
	} else {
		call.Path, call.Authorization = "/opik/auth", r.Header.Get("Authorization")
		req, _ = http.NewRequestWithContext(r.Context(), http.MethodPost, o.broker+call.Path, bytes.NewReader(body))
		req.Header.Set("Authorization", call.Authorization)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := o.http.Do(req)
	if err != nil {
		call.Status = http.StatusBadGateway
		call.Answer.Msg = err.Error()
	} else {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		call.Status = resp.StatusCode
		_ = json.Unmarshal(raw, &call.Answer)
	}
	o.mu.Lock()
	o.calls = append(o.calls, call)
	o.mu.Unlock()
	return call.Answer, call.Status
}

func (o *opikStandIn) get(t *testing.T, u string, headers map[string]string) int {
	t.Helper()
	// Dial the stand-in's listener whatever the URL's host.
	tr := o.srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com" // a name of the test certificate
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, o.srv.Listener.Addr().String())
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (o *opikStandIn) callsOf(path string) []authCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	return keep(o.calls, func(c authCall) bool { return c.Path == path })
}

// keep returns the items of list for which ok holds.
func keep[T any](list []T, ok func(T) bool) []T {
	var out []T
	for _, v := range list {
		if ok(v) {
			out = append(out, v)
		}
	}
	return out
}

func (o *opikStandIn) allCalls() []authCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]authCall(nil), o.calls...)
}

func (o *opikStandIn) tracesNamed(name string) []recordedTrace {
	o.mu.Lock()
	defer o.mu.Unlock()
	return keep(o.traces, func(tr recordedTrace) bool { return tr.Name == name })
}

func (o *opikStandIn) allTraces() []recordedTrace {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]recordedTrace(nil), o.traces...)
}

func (o *opikStandIn) spans() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.nspans
}

func (o *opikStandIn) resetPaths() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paths = map[string]int{}
}

func (o *opikStandIn) sdkPaths() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for k, v := range o.paths {
		out[k] = v
	}
	return out
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/directory/directorytest"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/directory/webhooks"
	"github.com/ssobroker/ssobroker/e2e/peers"
	"github.com/ssobroker/ssobroker/idp"
)

// Instrumentation scopes of the spans the tests look for.
const (
	scopeSQL   = "github.com/exaring/otelpgx"
	scopeRedis = "github.com/redis/go-redis/extra/redisotel"
	scopeHTTP  = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

func TestTracingConfiguration(t *testing.T) {
	for _, c := range []struct {
		name     string
		vars     map[string]string
		on       bool
		endpoint string
	}{
		{"nothing set: off", nil, false, ""},
		{"exporter otlp: the default endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, "http://localhost:4318/v1/traces"},
		{"a base endpoint turns it on", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, true, "http://collector:4318/v1/traces"},
		{"the traces endpoint is used as is", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/otlp/traces"}, true, "https://b/otlp/traces"},
		{"exporter none wins over an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"}, false, ""},
		{"sdk disabled wins", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{"a sampler", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
			"OTEL_TRACES_SAMPLER_ARG": "0.25", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, "http://localhost:4318/v1/traces"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := readTracingConfig(func(k string) string { return c.vars[k] })
			if err := tc.validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if tc.enabled() != c.on {
				t.Fatalf("enabled = %v, want %v", tc.enabled(), c.on)
			}
			if c.on && tc.endpointURL() != c.endpoint {
				t.Errorf("endpoint %q, want %q", tc.endpointURL(), c.endpoint)
			}
		})
	}
}

// Bad tracing variables stop serve with exit 2, every one named at once.
func TestBadTracingConfigurationIsRefused(t *testing.T) {
	env := map[string]string{
		"SSOBROKER_DATA_DIR":                 t.TempDir(),
		"OTEL_TRACES_EXPORTER":               "otlp",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL":        "grpc",
		"OTEL_TRACES_SAMPLER":                "sometimes",
		"OTEL_TRACES_SAMPLER_ARG":            "2",
	}
	code, _, stderr := runCLI(t, env, "serve")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, stderr)
	}
	for _, want := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_SAMPLER \"sometimes\""} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, stderr)
		}
	}
	code, _, stderr = runCLI(t, map[string]string{"SSOBROKER_DATA_DIR": t.TempDir(), "OTEL_TRACES_EXPORTER": "zipkin"}, "serve")
	if code != exitUsage || !strings.Contains(stderr, "OTEL_TRACES_EXPORTER") {
		t.Fatalf("exporter zipkin: exit %d: %s", code, stderr)
	}
}

// With nothing set, tracing is off: nothing is started, the handler and the
// clients are the ones given, the stores get no provider (so no hook), and
// the packages' provider makes spans that record nothing.
func TestTracingIsOffByDefault(t *testing.T) {
	tel, err := startTracing(context.Background(), readTracingConfig(func(string) string { return "" }), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if tel.on() || tel.provider != nil || tel.shutdown != nil {
		t.Fatalf("tracing on with nothing set: %+v", tel)
	}
	h := &countingHandler{}
	if got := tel.handler(h); got != http.Handler(h) {
		t.Errorf("the handler was wrapped: %T", got)
	}
	c := &http.Client{}
	if got := tel.client(c); got != c {
		t.Errorf("the client was replaced")
	}
	if tel.storeProvider() != nil {
		t.Errorf("the stores get a provider: their hooks would be installed")
	}
	_, span := tel.tracerProvider().Tracer("x").Start(context.Background(), "y")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("the packages' tracer records")
	}
	span.End()
	tel.stop(slog.New(slog.DiscardHandler))
}

type countingHandler struct{ n int }

func (h *countingHandler) ServeHTTP(http.ResponseWriter, *http.Request) { h.n++ }

// tracedBroker is the broker as serve wires it (serveHandler), on
// PostgreSQL and Redis, with tracing on and every span kept in memory.
type tracedBroker struct {
	url   string
	store *directory.SQLStore
	box   *secretbox.Box
	spans *tracetest.InMemoryExporter
}

func startTracedBroker(t *testing.T) *tracedBroker {
	t.Helper()
	ctx := context.Background()
	redisURL := os.Getenv("SSOBROKER_TEST_REDIS_URL")
	if redisURL == "" {
		t.Fatal("SSOBROKER_TEST_REDIS_URL is not set (see .ci/test)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	vars := map[string]string{
		"SSOBROKER_ISSUER": base, "SSOBROKER_DATABASE_URL": directorytest.PostgresSchemaURL(t), "SSOBROKER_REDIS_URL": redisURL,
		"SSOBROKER_SECRET_KEY": base64.StdEncoding.EncodeToString(key), "SSOBROKER_ALLOW_PRIVATE_IDP": "true",
		"SSOBROKER_DATA_DIR": t.TempDir(),
	}
	cfg := bindConfig(flag.NewFlagSet("test", flag.ContinueOnError), func(k string) string { return vars[k] })
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	log := slog.New(slog.DiscardHandler)
	e := &env{cfg: cfg, spec: commandSpec{path: "serve", creates: true}, stdout: io.Discard, stderr: io.Discard, log: log,
		tel: newTelemetry(tp, nil, tracingConfig{})}
	store, err := e.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	k, err := cfg.secretKey(log)
	if err != nil {
		t.Fatal(err)
	}
	h, a, err := serveHandler(ctx, e, store, k)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	box, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return &tracedBroker{url: base, store: store, box: box, spans: exp}
}

// the spans of one trace, by name and by id.
type traceView struct {
	t     *testing.T
	spans tracetest.SpanStubs
}

func (b *tracedBroker) trace(t *testing.T, id trace.TraceID) traceView {
	var out tracetest.SpanStubs
	for _, s := range b.spans.GetSpans() {
		if s.SpanContext.TraceID() == id {
			out = append(out, s)
		}
	}
	return traceView{t: t, spans: out}
}

// one returns the only span named name.
func (v traceView) one(name string) tracetest.SpanStub {
	v.t.Helper()
	var found []tracetest.SpanStub
	for _, s := range v.spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		v.t.Fatalf("%d spans named %q, want 1; the trace has: %s", len(found), name, v.names())
	}
	return found[0]
}

// children are the spans whose parent is p, of instrumentation scope (any
// when empty).
func (v traceView) children(p tracetest.SpanStub, scope string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range v.spans {
		if s.Parent.SpanID() == p.SpanContext.SpanID() && (scope == "" || s.InstrumentationScope.Name == scope) {
			out = append(out, s)
		}
	}
	return out
}

func (v traceView) names() string {
	var n []string
	for _, s := range v.spans {
		n = append(n, s.Name+" ("+s.InstrumentationScope.Name+")")
	}
	return strings.Join(n, ", ")
}

// text is everything a span shows an observer: its name, status,
// attributes and events.
func spanText(s tracetest.SpanStub) string {
	var b strings.Builder
	b.WriteString(s.Name + "\n" + s.Status.Description + "\n")
	for _, a := range s.Attributes {
		b.WriteString(string(a.Key) + "=" + a.Value.Emit() + "\n")
	}
	for _, ev := range s.Events {
		b.WriteString(ev.Name + "\n")
		for _, a := range ev.Attributes {
			b.WriteString(string(a.Key) + "=" + a.Value.Emit() + "\n")
		}
	}
	return b.String()
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// traceparent is a W3C traceparent header of a caller's sampled span.
func traceparent(t *testing.T) (string, trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	return "00-" + tid.String() + "-" + sid.String() + "-01", tid, sid
}

// TestTracedTokenRequest: a client_credentials request that carries a
// caller's traceparent is one server span "POST /oauth2/token" in the
// caller's trace, under the caller's span; the SQL of the API-key and
// access lookups (cold caches) and the Redis call of a failed attempt are
// its children. An admin API request is a server span by route with its
// SQL under it. No span shows the secret, its hash or a bound value.
func TestTracedTokenRequest(t *testing.T) {
	ctx := context.Background()
	b := startTracedBroker(t)
	org, _, err := b.store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Traced"})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := b.store.CreateServiceAccount(ctx, "system:test", directory.NewServiceAccount{OrgID: org.ID, Name: "ci", Role: access.RolePlatformMember})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := b.store.CreateAPIKey(ctx, "system:test", org.ID, sa.ID)
	if err != nil {
		t.Fatal(err)
	}
	wrong := secret[:len(secret)-4] + "AAAA"
	if wrong == secret {
		wrong = secret[:len(secret)-4] + "BBBB"
	}
	hash := directory.HashSecret(secret)
	forbidden := map[string]string{"the API key": secret, "the wrong key": wrong, "the key's hash (hex)": hex.EncodeToString(hash),
		"the key's hash (base64)": base64.StdEncoding.EncodeToString(hash), "the key's hash (raw)": string(hash)}
	// Bound values of the lookups: the org and principal ids.
	bound := map[string]string{"the org id": org.ID, "the service account id": sa.ID}

	post := func(secret string) (int, trace.TraceID, trace.SpanID) {
		tp, tid, sid := traceparent(t)
		req, _ := http.NewRequest(http.MethodPost, b.url+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("traceparent", tp)
		req.SetBasicAuth(sa.ID, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, tid, sid
	}

	code, tid, callerSpan := post(secret)
	if code != http.StatusOK {
		t.Fatalf("token request: %d", code)
	}
	v := b.trace(t, tid)
	srv := v.one("POST /oauth2/token")
	if srv.SpanKind != trace.SpanKindServer || srv.Parent.SpanID() != callerSpan || !srv.Parent.IsRemote() {
		t.Fatalf("server span %s: kind %v, parent %v (remote %v); want a server span under the caller's %v",
			srv.Name, srv.SpanKind, srv.Parent.SpanID(), srv.Parent.IsRemote(), callerSpan)
	}
	if got := attr(srv, "http.route"); got != "/oauth2/token" {
		t.Errorf("http.route = %q", got)
	}
	sql := v.children(srv, scopeSQL)
	var lookup bool
	for _, s := range sql {
		if s.SpanKind != trace.SpanKindClient {
			t.Errorf("SQL span %s is %v", s.Name, s.SpanKind)
		}
		lookup = lookup || strings.Contains(attr(s, "db.query.text"), "FROM api_keys")
	}
	if !lookup {
		t.Fatalf("no SQL span of the API-key lookup under the token request; its children: %d SQL spans; trace: %s", len(sql), v.names())
	}

	code, tid, _ = post(wrong)
	if code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", code)
	}
	v = b.trace(t, tid)
	srv = v.one("POST /oauth2/token")
	if len(v.children(srv, scopeRedis)) == 0 {
		t.Fatalf("no Redis span (the failure count) under the failed token request; trace: %s", v.names())
	}

	// The admin API: a server span by route, the store's SQL under it.
	tp, tid, _ := traceparent(t)
	req, _ := http.NewRequest(http.MethodGet, b.url+"/api/v1/orgs/"+org.ID+"/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("traceparent", tp)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin API: %d", resp.StatusCode)
	}
	v = b.trace(t, tid)
	srv = v.one("GET /api/v1/orgs/{org}/workspaces")
	if attr(srv, "http.route") != "/api/v1/orgs/{org}/workspaces" || len(v.children(srv, scopeSQL)) == 0 {
		t.Errorf("admin API span: route %q, %d SQL children; trace: %s", attr(srv, "http.route"), len(v.children(srv, scopeSQL)), v.names())
	}

	for _, s := range b.spans.GetSpans() {
		text := spanText(s)
		for what, v := range forbidden {
			if strings.Contains(text, v) {
				t.Errorf("span %q (%s) shows %s", s.Name, s.InstrumentationScope.Name, what)
			}
		}
		if s.InstrumentationScope.Name != scopeSQL && s.InstrumentationScope.Name != scopeRedis {
			continue
		}
		for what, v := range bound {
			if strings.Contains(text, v) {
				t.Errorf("store span %q shows %s, a bound value:\n%s", s.Name, what, text)
			}
		}
	}
}

// recordingIdP is an upstream test server that serves an OpenID discovery
// document and keeps the traceparent of every request.
type recordingIdP struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]string // path → traceparent
}

func startRecordingIdP(t *testing.T) *recordingIdP {
	idp := &recordingIdP{seen: map[string]string{}}
	idp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idp.mu.Lock()
		idp.seen[r.URL.Path] = r.Header.Get("traceparent")
		idp.mu.Unlock()
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		u := idp.URL
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize",
			"token_endpoint": u + "/token", "jwks_uri": u + "/jwks", "userinfo_endpoint": u + "/userinfo",
			"id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}})
	}))
	t.Cleanup(idp.Close)
	return idp
}

func (i *recordingIdP) traceparent(path string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.seen[path]
}

// parseTraceparent splits a W3C traceparent.
func parseTraceparent(t *testing.T, h string) (trace.TraceID, trace.SpanID) {
	t.Helper()
	parts := strings.Split(h, "-")
	if len(parts) != 4 || parts[0] != "00" {
		t.Fatalf("traceparent %q is not W3C version 00", h)
	}
	tid, err1 := trace.TraceIDFromHex(parts[1])
	sid, err2 := trace.SpanIDFromHex(parts[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("traceparent %q: %v %v", h, err1, err2)
	}
	return tid, sid
}

// configureOIDC sets up connection c with issuer, the client secret sealed
// as the admin API seals it, and enables it.
func (b *tracedBroker) configureOIDC(t *testing.T, c directory.Connection, issuer, clientID, clientSecret string) directory.Connection {
	t.Helper()
	sealed, err := b.box.Seal([]byte(clientSecret), []byte(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(map[string]any{"oidc": map[string]any{"issuer": issuer, "client_id": clientID, "client_secret_sealed": sealed,
		"scopes": []string{"openid", "email", "profile"}}})
	if err != nil {
		t.Fatal(err)
	}
	c.Config, c.Enabled = raw, true
	c, err = b.store.UpdateConnection(context.Background(), "system:test", c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noRedirects is a browser that follows no redirect and keeps cookies.
func noRedirects(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestTracedSignIn: a sign-in is one trace per browser request. Starting
// it builds the connector under the request's span: the discovery fetch is
// a client span under idp.connector.build, and the upstream test server
// receives a traceparent naming that client span in the same trace. The
// callback (through npm oidc-provider) has idp.oidc.callback, with the
// token exchange as a client span under it, then idp.provision with its
// SQL, and the Redis calls of the browser session, all under the server
// span "GET /sso/oidc/{conn}/callback".
func TestTracedSignIn(t *testing.T) {
	peers.RequireNode(t, "oidc-provider")
	ctx := context.Background()
	b := startTracedBroker(t)
	org, _, err := b.store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Traced Sign In"})
	if err != nil {
		t.Fatal(err)
	}
	mode := directory.JITAuto
	if _, err := b.store.UpdateOrg(ctx, "system:test", org.ID, directory.OrgUpdate{JITMode: &mode}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.AddDomain(ctx, "system:test", org.ID, "traced.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.MarkDomainVerified(ctx, "system:test", org.ID, "traced.test"); err != nil {
		t.Fatal(err)
	}

	t.Run("discovery carries the trace to the IdP", func(t *testing.T) {
		rec := startRecordingIdP(t)
		c, err := b.store.CreateConnection(ctx, "system:test", directory.Connection{OrgID: org.ID, Type: directory.ConnectionOIDC, Name: "Recorded"})
		if err != nil {
			t.Fatal(err)
		}
		c = b.configureOIDC(t, c, rec.URL, "broker", "recorded-secret")
		resp, err := noRedirects(t).Get(b.url + "/login/" + org.ID + "?connection=" + url.QueryEscape(c.ID))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, rec.URL+"/authorize") {
			t.Fatalf("sign-in start: %d to %q, want a redirect to the IdP", resp.StatusCode, loc)
		}
		h := rec.traceparent("/.well-known/openid-configuration")
		if h == "" {
			t.Fatal("the discovery request reached the IdP without a traceparent")
		}
		tid, parent := parseTraceparent(t, h)
		v := b.trace(t, tid)
		srv := v.one("GET /login/{org}")
		build := v.one("idp.connector.build")
		if build.Parent.SpanID() != srv.SpanContext.SpanID() || attr(build, "ssobroker.connection.id") != c.ID {
			t.Fatalf("idp.connector.build is not under the sign-in request, or names another connection")
		}
		var fetch *tracetest.SpanStub
		for _, s := range v.children(build, scopeHTTP) {
			if s.SpanContext.SpanID() == parent {
				fetch = &s
			}
		}
		if fetch == nil || fetch.SpanKind != trace.SpanKindClient {
			t.Fatalf("the IdP's traceparent names span %v, which is not a client span under idp.connector.build; trace: %s", parent, v.names())
		}
	})

	t.Run("the callback", func(t *testing.T) {
		c, err := b.store.CreateConnection(ctx, "system:test", directory.Connection{OrgID: org.ID, Type: directory.ConnectionOIDC, Name: "Upstream"})
		if err != nil {
			t.Fatal(err)
		}
		up := peers.StartUpstream(t, peers.UpstreamOptions{Callbacks: []string{b.url + "/sso/oidc/" + c.ID + "/callback"},
			ClientID: "ssobroker", ClientSecret: "upstream-secret-Tr4", ClaimsInIDToken: true})
		c = b.configureOIDC(t, c, up.Issuer, "ssobroker", "upstream-secret-Tr4")

		browser := noRedirects(t)
		resp, err := browser.Get(b.url + "/login/" + org.ID + "?connection=" + url.QueryEscape(c.ID))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		next, err := resp.Location()
		if err != nil {
			t.Fatalf("sign-in start: %d, no redirect", resp.StatusCode)
		}
		login := url.Values{"account": {"ada-traced"}, "email": {"ada@traced.test"}, "name": {"Ada"}, "email_verified": {"true"}}
		for i := 0; !strings.HasPrefix(next.String(), b.url); i++ {
			if i > 12 {
				t.Fatal("too many redirects at the IdP")
			}
			if strings.HasPrefix(next.Path, "/interaction/") {
				q := next.Query()
				for k, vs := range login {
					q[k] = vs
				}
				next.RawQuery = q.Encode()
			}
			resp, err := browser.Get(next.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if next, err = resp.Location(); err != nil {
				t.Fatalf("the IdP answered %d at %s", resp.StatusCode, resp.Request.URL)
			}
		}
		tp, tid, _ := traceparent(t)
		req, _ := http.NewRequest(http.MethodGet, next.String(), nil)
		req.Header.Set("traceparent", tp)
		resp, err = browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 3 || !strings.Contains(resp.Header.Get("Location"), idp.LoginDonePath) {
			t.Fatalf("callback: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}

		v := b.trace(t, tid)
		srv := v.one("GET /sso/oidc/{conn}/callback")
		cb := v.one("idp.oidc.callback")
		prov := v.one("idp.provision")
		for _, s := range []tracetest.SpanStub{cb, prov} {
			if s.Parent.SpanID() != srv.SpanContext.SpanID() {
				t.Errorf("%s is not under the callback's server span", s.Name)
			}
			if attr(s, "ssobroker.connection.id") != c.ID || attr(s, "ssobroker.org.id") != org.ID {
				t.Errorf("%s does not name the connection and org", s.Name)
			}
		}
		if attr(prov, "ssobroker.login.status") != string(directory.LoginMember) || attr(prov, "ssobroker.user.new") != "true" {
			t.Errorf("idp.provision: status %q, new %q", attr(prov, "ssobroker.login.status"), attr(prov, "ssobroker.user.new"))
		}
		var exchange bool
		for _, s := range v.children(cb, scopeHTTP) {
			exchange = exchange || (s.SpanKind == trace.SpanKindClient && attr(s, "http.request.method") == "POST")
		}
		if !exchange {
			t.Errorf("no client span of the token exchange under idp.oidc.callback; trace: %s", v.names())
		}
		if len(v.children(prov, scopeSQL)) == 0 {
			t.Errorf("no SQL span under idp.provision; trace: %s", v.names())
		}
		if len(v.children(srv, scopeRedis)) == 0 {
			t.Errorf("no Redis span (the browser session) under the callback; trace: %s", v.names())
		}
		userID := attr(prov, "ssobroker.user.id")
		if userID == "" {
			t.Fatal("idp.provision names no user")
		}
		for _, s := range v.spans {
			text := spanText(s)
			if scope := s.InstrumentationScope.Name; scope == scopeSQL || scope == scopeRedis {
				// Bound values of the provisioning statements and the
				// session record's fields.
				for _, bound := range []string{org.ID, userID} {
					if strings.Contains(text, bound) {
						t.Errorf("store span %q shows the bound value %q:\n%s", s.Name, bound, text)
					}
				}
			}
			for _, secret := range []string{"upstream-secret-Tr4", "ada@traced.test", next.Query().Get("code"), next.Query().Get("state")} {
				if strings.Contains(text, secret) {
					t.Errorf("span %q shows %q", s.Name, secret)
				}
			}
		}
	})
}

// TestServeExportsOTLP: serve with OTEL_EXPORTER_OTLP_ENDPOINT set sends
// its spans, OTLP protobuf over HTTP, to <endpoint>/v1/traces, with the
// service name; the last batch is flushed when serve stops.
func TestServeExportsOTLP(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	var paths []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not OTLP protobuf", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got, paths = append(got, &req), append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer receiver.Close()
	base, stop := serving(t, map[string]string{"SSOBROKER_DATA_DIR": t.TempDir(),
		"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.URL, "OTEL_SERVICE_NAME": "broker-under-test"})
	if code := status(t, base+"/.well-known/openid-configuration"); code != http.StatusOK {
		t.Fatalf("discovery: %d", code)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	var names []string
	service := ""
	for i, req := range got {
		if paths[i] != "/v1/traces" {
			t.Errorf("spans posted to %s", paths[i])
		}
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
	}
	if !slices.Contains(names, "GET /.well-known/openid-configuration") {
		t.Fatalf("the receiver got spans %q, not the discovery request's", names)
	}
	if service != "broker-under-test" {
		t.Errorf("service.name = %q", service)
	}
	if slices.Contains(names, "GET /healthz") {
		t.Errorf("/healthz was traced")
	}
}

// TestTracedWebhookDelivery: a webhook delivery (the background worker
// serve runs, through the upstream client) is a client span, and the
// receiver gets a traceparent naming it.
func TestTracedWebhookDelivery(t *testing.T) {
	ctx := context.Background()
	b := startTracedBroker(t)
	var mu sync.Mutex
	var seen []string
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("traceparent"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rec.Close()
	org, _, err := b.store.CreateOrg(ctx, "system:test", directory.NewOrg{Name: "Traced Hooks"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := webhooks.NewAdmin(webhooks.AdminConfig{Store: b.store, Sealer: b.box, AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.CreateWebhook(ctx, "system:test", org.ID, directory.NewWebhook{URL: rec.URL + "/hook", EventTypes: []string{"*", "audit.*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.CreateWorkspace(ctx, "system:test", org.ID, "research", ""); err != nil {
		t.Fatal(err)
	}
	var h string
	for deadline := time.Now().Add(20 * time.Second); h == ""; {
		if time.Now().After(deadline) {
			t.Fatal("no webhook delivery within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		if len(seen) > 0 {
			h = seen[0]
			if h == "" {
				mu.Unlock()
				t.Fatal("the webhook delivery carried no traceparent")
			}
		}
		mu.Unlock()
	}
	tid, parent := parseTraceparent(t, h)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, s := range b.trace(t, tid).spans {
			if s.SpanContext.SpanID() == parent && s.SpanKind == trace.SpanKindClient && s.InstrumentationScope.Name == scopeHTTP {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the traceparent names span %v of trace %v, which is not a recorded client span", parent, tid)
		}
	}
}

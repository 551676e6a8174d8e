package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/internal/benchcpu"
)

// BenchmarkServeClientCredentials is POST /oauth2/token (client_credentials)
// through everything serve answers with (serveHandler: the mux, metrics,
// and tracing when on), without the network, on warm caches (embedded
// store, in-process sessions). off is the default; on samples every
// request and hands its spans to the batch processor (a no-op exporter),
// the cost of tracing everything. cpu-ns/op is the process's CPU time per
// request (benchcpu), steadier than ns/op on a shared machine.
//
//	go test -run '^$' -bench ServeClientCredentials -benchmem ./cmd/ssobroker/
func BenchmarkServeClientCredentials(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			var tel *telemetry
			if mode == "on" {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				tel = newTelemetry(tp, nil, tracingConfig{})
			}
			h, user, secret := benchServe(b, tel)
			b.ReportAllocs()
			stop := benchcpu.Start(b)
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth(user, secret)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			stop()
		})
	}
}

// benchServe returns serve's handler with tracing tel (nil: off) and a
// service account's credentials, its caches warmed by one request.
func benchServe(b testing.TB, tel *telemetry) (http.Handler, string, string) {
	b.Helper()
	ctx := context.Background()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	vars := map[string]string{"SSOBROKER_DATA_DIR": b.TempDir(), "SSOBROKER_SECRET_KEY": base64.StdEncoding.EncodeToString(key)}
	cfg := bindConfig(flag.NewFlagSet("bench", flag.ContinueOnError), func(k string) string { return vars[k] })
	log := slog.New(slog.DiscardHandler)
	e := &env{cfg: cfg, spec: commandSpec{path: "serve", creates: true}, stdout: io.Discard, stderr: io.Discard, log: log, tel: tel}
	store, err := e.openStore(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	k, err := cfg.secretKey(log)
	if err != nil {
		b.Fatal(err)
	}
	h, a, err := serveHandler(ctx, e, store, k)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.stop)
	org, _, err := store.CreateOrg(ctx, "system:bench", directory.NewOrg{Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	sa, err := store.CreateServiceAccount(ctx, "system:bench", directory.NewServiceAccount{OrgID: org.ID, Name: "ci", Role: access.RolePlatformMember})
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := store.CreateAPIKey(ctx, "system:bench", org.ID, sa.ID)
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(sa.ID, secret)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", w.Code, w.Body)
	}
	return h, sa.ID, secret
}

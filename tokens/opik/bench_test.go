package opik_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssobroker/ssobroker/tokens/opik"
)

// BenchmarkAuthAPIKey is what Opik calls on every request it has not cached:
// POST /opik/auth with a raw API key, warm (the key and the principal's
// standing in the directory's cache), through the mux, for a member and for
// an admin outside its memberships (the name cache). No database call is
// made once warm.
func BenchmarkAuthAPIKey(b *testing.B) {
	for _, bk := range backends {
		b.Run(bk.name, func(b *testing.B) {
			f := newFixture(b, bk.open(b), bk.sessions(b), false)
			for _, c := range []struct{ name, label string }{{"member", saPlatform}, {"admin", saAdmin}} {
				b.Run(c.name, func(b *testing.B) {
					body := []byte(authBody(researchName, "trace_span_thread_log"))
					rd := bytes.NewReader(body)
					req := httptest.NewRequest(http.MethodPost, opik.PathAuth, rd)
					req.Header.Set("Authorization", f.callers[c.label].key)
					req.Header.Set("Content-Type", "application/json")
					w := &discardWriter{h: http.Header{}}
					serve := func() {
						rd.Reset(body)
						req.Body = io.NopCloser(rd)
						clear(w.h)
						w.code = 0
						f.mux.ServeHTTP(w, req)
					}
					serve()
					if w.code != http.StatusOK {
						b.Fatalf("status %d", w.code)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						serve()
					}
					if w.code != http.StatusOK {
						b.Fatalf("status %d", w.code)
					}
				})
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps only the status, so the
// benchmark measures the handler rather than a recorder's buffers.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(code int) { w.code = code }

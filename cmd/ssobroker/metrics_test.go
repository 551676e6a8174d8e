package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestMetricsCountRequestsByRoutePattern(t *testing.T) {
	base, stop := serving(t, map[string]string{"SSOBROKER_DATA_DIR": t.TempDir()})
	defer stop()
	for range 3 {
		status(t, base+"/healthz")
	}
	status(t, base+"/api/v1/orgs/org_secret123/workspaces") // 401: no credential
	status(t, base+"/no/such/page")
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := string(body)
	for _, want := range []string{
		`ssobroker_http_requests_total{code="401",route="GET /api/v1/orgs/{org}/workspaces"} 1`,
		`ssobroker_http_requests_total{code="404",route="unmatched"} 1`,
		`ssobroker_http_request_duration_seconds_bucket{route="GET /healthz",le="0.0005"}`,
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// serving polled /healthz before this test's three.
	m := regexp.MustCompile(`ssobroker_http_requests_total\{code="200",route="GET /healthz"\} (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no GET /healthz series in:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 4 {
		t.Errorf("GET /healthz counted %v times, want at least 4", m)
	}
	if strings.Contains(out, "org_secret123") {
		t.Error("a path's id leaked into a label")
	}
}

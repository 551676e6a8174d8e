package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// FeatureBench is one Go benchmark of a feature beyond the token endpoint
// (the console, SCIM, webhooks, external JWTs), run by the report in the
// same session as everything else, with the figures it reported.
type FeatureBench struct {
	Area, Package, Bench, BenchTime, What string
	Results                               []BenchResult
	Load                                  float64
}

// BenchResult is one line of `go test -bench` output: a benchmark (or
// sub-benchmark) and its metrics in the order printed.
type BenchResult struct {
	Name    string
	Metrics []Metric
}

// Metric is one "value unit" pair of a benchmark line.
type Metric struct {
	Value float64
	Unit  string
}

// featureBenches are the benchmarks the report runs, each its package's
// own (their doc comments say what they build and measure).
func featureBenches() []FeatureBench {
	return []FeatureBench{
		{Area: "console", Package: "./idp/console/", Bench: "^BenchmarkConsolePages$", BenchTime: "200x",
			What: "every console page of an org with 5,000 members, 500 workspaces and 50 service accounts (SQLite), rendered through the handler: p99 server time and the store calls of one page"},
		{Area: "SCIM", Package: "./directory/scim/", Bench: "^BenchmarkInitialSync1k$", BenchTime: "1x",
			What: "an identity provider's first sync on PostgreSQL, as Entra ID and Okta do it: 1,000 users, each a GET userName eq query then a POST /Users; then 100 PATCHes"},
		{Area: "webhooks", Package: "./directory/webhooks/", Bench: "^BenchmarkDeliveryLag100PerSecond$", BenchTime: "1x",
			What: "100 directory changes a second for 10 s on PostgreSQL, two replicas' workers: the time from a change's commit to its signed event's arrival at a loopback receiver"},
		{Area: "external JWTs", Package: "./tokens/oauth/", Bench: "^BenchmarkJWTBearerBesideClientCredentials$", BenchTime: "2000x",
			What: "the token handler for jwt-bearer with an external ES256 JWT beside client_credentials, alternating in one process (warm key set and caches): p50 each and their ratio"},
	}
}

// runFeatures runs featureBenches one after the other against dbURL and
// redisURL, the report's own servers.
func runFeatures(ctx context.Context, repo, tmp, dbURL, redisURL string, progress func(string)) ([]FeatureBench, error) {
	var out []FeatureBench
	for _, f := range featureBenches() {
		progress(f.Area)
		bin := filepath.Join(tmp, strings.Trim(strings.ReplaceAll(f.Package, "/", "-"), ".-")+".test")
		build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, f.Package)
		build.Dir = repo
		if b, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go test -c %s: %w: %s", f.Package, err, b)
		}
		f.Load = loadAvg()
		cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", f.Bench, "-test.benchtime", f.BenchTime)
		cmd.Dir = filepath.Join(repo, filepath.FromSlash(strings.TrimPrefix(strings.TrimSuffix(f.Package, "/"), "./")))
		cmd.Env = append(os.Environ(), "SSOBROKER_TEST_DATABASE_URL="+dbURL, "SSOBROKER_TEST_REDIS_URL="+redisURL)
		b, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", f.Package, f.Bench, err, clip(b))
		}
		if f.Results, err = parseBenchLines(b); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Package, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// parseBenchLines reads every "BenchmarkX/sub-2  N  v unit  v unit …" line.
func parseBenchLines(b []byte) ([]BenchResult, error) {
	var out []BenchResult
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if j := strings.LastIndex(name, "-"); j > 0 {
			if _, err := strconv.Atoi(name[j+1:]); err == nil {
				name = name[:j]
			}
		}
		r := BenchResult{Name: name}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
			}
			r.Metrics = append(r.Metrics, Metric{Value: v, Unit: f[i+1]})
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no benchmark results in:\n%s", b)
	}
	return out, nil
}

// figures formats a result's own metrics (ns/op is left out when the
// benchmark reports its own: a mean over setup-heavy loops misleads).
func (r BenchResult) figures() string {
	own := false
	for _, m := range r.Metrics {
		if m.Unit != "ns/op" && m.Unit != "B/op" && m.Unit != "allocs/op" {
			own = true
		}
	}
	var parts []string
	for _, m := range r.Metrics {
		if own && (m.Unit == "ns/op" || m.Unit == "B/op" || m.Unit == "allocs/op") {
			continue
		}
		v, unit := m.Value, m.Unit
		if base, ok := strings.CutSuffix(unit, "-µs"); ok && v >= 1000 {
			v, unit = v/1000, base+"-ms"
		}
		parts = append(parts, fmtFigure(v)+" "+unit)
	}
	return strings.Join(parts, ", ")
}

// fmtFigure prints v with about three significant digits, never in
// exponent form.
func fmtFigure(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

package main

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDistOfQuantiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	d := distOf(ds)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", d.P50(), 50_000}, {"p95", d.P95(), 95_000}, {"p99", d.P99(), 99_000}, {"max", d.At(1), 100_000}, {"min", d.At(0), 1_000}} {
		if c.got != c.want {
			t.Errorf("%s = %v µs, want %v", c.name, c.got, c.want)
		}
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("distOf sorted the caller's slice")
	}
	// Between kept points the latency is interpolated.
	if got := (Dist{{0.5, 100}, {0.9, 500}}).At(0.6); math.Abs(got-200) > 1e-9 {
		t.Errorf("At(0.6) = %v, want 200", got)
	}
	if !math.IsNaN(Dist(nil).P95()) || distOf(nil) != nil {
		t.Error("an empty distribution has no percentiles")
	}
	if got := distOf([]time.Duration{7 * time.Microsecond}).P99(); got != 7 {
		t.Errorf("one sample: p99 = %v, want 7", got)
	}
}

func TestRatiosAndMedians(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	if !math.IsNaN(ratio(1, 0)) || !math.IsNaN(ratio(math.NaN(), 1)) || ratio(3, 2) != 1.5 {
		t.Error("ratio")
	}
	c := &Comparison{Runs: []Run{
		{Side: "Dex", Conns: 1, Round: 1, RPS: 100, Load: 2}, {Side: "ours", Conns: 1, Round: 1, RPS: 250, Load: 3},
		{Side: "Dex", Conns: 1, Round: 2, RPS: 200, Load: 1}, {Side: "ours", Conns: 1, Round: 2, RPS: 300, Load: 4},
		{Side: "Dex", Conns: 4, Round: 1, RPS: 400}, {Side: "ours", Conns: 4, Round: 1, RPS: 1000},
	}}
	rr := c.roundRatios("ours", "Dex")
	if len(rr[1]) != 2 || !(contains(rr[1], 2.5) && contains(rr[1], 1.5)) || len(rr[4]) != 1 || rr[4][0] != 2.5 {
		t.Errorf("round ratios = %v", rr)
	}
	lv := c.levels("ours")
	if len(lv) != 2 || lv[0].Conns != 1 || median(lv[0].RPS) != 275 || lv[0].LoadMin != 3 || lv[0].LoadMax != 4 {
		t.Errorf("levels = %+v", lv)
	}
	if rps, n := c.peak("ours"); rps != 1000 || n != 4 {
		t.Errorf("peak = %v at %d", rps, n)
	}
}

func contains(xs []float64, x float64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestParseWrk(t *testing.T) {
	out := "Running 3s test @ http://127.0.0.1/\n  1 threads and 4 connections\nSSBREPORT total 30000 3000000 12\n" +
		"SSBREPORT q 0.5 250\nSSBREPORT q 0.99 2000\nRequests/sec: 10000\n"
	var r Run
	if err := parseWrk([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.RPS != 10000 || r.Requests != 30000 || r.Errors != 12 || r.Dist.P50() != 250 || r.Dist.P99() != 2000 {
		t.Errorf("parsed %+v", r)
	}
	if err := parseWrk([]byte("Requests/sec: 10000\n"), &r); err == nil {
		t.Error("wrk output without the report's summary was accepted")
	}
}

func TestWrkScriptQuoting(t *testing.T) {
	if got := luaString("a]=]b"); got != "[==[a]=]b]==]" {
		t.Errorf("luaString = %s", got)
	}
	done := wrkDone()
	if !strings.Contains(done, "latency:percentile(99)") || !strings.Contains(done, "SSBREPORT total") {
		t.Errorf("done() hook:\n%s", done)
	}
}

func TestParseBench(t *testing.T) {
	out := []byte("goos: linux\nBenchmarkACS/SignAssertion         \t     700\t   1670000 ns/op\t 2.40 MB/s\t 1200000 B/op\t 14000 allocs/op\n" +
		"BenchmarkACS/SignBoth-2 \t 500\t 2300000 ns/op\nBenchmarkRawRSA2048Verify-2   \t   37000\t     31900 ns/op\nPASS\n")
	ns := map[string]float64{}
	if err := parseBench(out, ns); err != nil {
		t.Fatal(err)
	}
	if ns["ACS/SignAssertion"] != 1670000 || ns["ACS/SignBoth"] != 2300000 || ns["RawRSA2048Verify"] != 31900 {
		t.Errorf("parsed %v", ns)
	}
	if err := parseBench([]byte("PASS\n"), map[string]float64{}); err == nil {
		t.Error("output without benchmarks was accepted")
	}
}

// TestWriteReport writes a report of made-up figures and checks the
// markdown's ratios and that every plot it links is a PNG.
func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	dist := func(p50, p99 float64) Dist {
		return Dist{{0.001, p50 / 2}, {0.5, p50}, {0.95, (p50 + p99) / 2}, {0.99, p99}, {1, p99 * 2}}
	}
	cc := &Comparison{Name: "client_credentials", Slug: "client-credentials", Ours: "ours", Peer: "Dex", Runs: []Run{
		{Side: "Dex", Conns: 1, Round: 1, RPS: 1000, Dist: dist(900, 3000)}, {Side: "ours", Conns: 1, Round: 1, RPS: 2000, Dist: dist(450, 2000)},
		{Side: "Dex", Conns: 16, Round: 1, RPS: 8000, Dist: dist(1900, 9000)}, {Side: "ours", Conns: 16, Round: 1, RPS: 20000, Dist: dist(800, 4000)},
	}}
	rep := &Report{Started: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), Elapsed: 9 * time.Minute, Machine: Machine{CPUs: 2},
		Options: map[string]string{"n": "10", "rounds": "1", "d": "1s"}, DexVersion: "test", Orgs: 10000, Logins: 3,
		Ceilings:    []Ceiling{{Op: "ES256 sign", Workers: 2, PerSec: 40000}},
		Comparisons: []*Comparison{cc},
		Scale: []ScaleRow{{Op: "admin: list members", Small: dist(300, 900), Big: dist(330, 1800)},
			{Op: "token, warm", Small: dist(200, 400), Big: dist(210, 100000)}},
		Features: []FeatureBench{{Area: "console", What: "pages", Results: []BenchResult{{Name: "ConsolePages//users",
			Metrics: []Metric{{2.5e6, "ns/op"}, {12760, "p99-µs"}, {5, "store-calls/op"}}}}}},
		Switch:     &SwitchResult{Orgs: 1001, Calls: 10, Cold: dist(1700, 3100), Warm: dist(400, 900)},
		LoginSmall: [3]Dist{dist(20000, 40000), dist(15000, 30000), dist(5000, 9000)},
		LoginBig:   [3]Dist{dist(21000, 41000), dist(16000, 31000), dist(5000, 9000)},
		ACS:        []ACSRun{{Round: 1, NsPerOp: map[string]float64{"ACS/SignAssertion": 1.6e6, "ACS/SignBoth": 2.3e6, "RawRSA2048Verify": 32000}}},
	}
	if err := writeReport(rep, dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**2.50× Dex** at the peaks",          // 20k ÷ 8k
		"50 % of the raw ES256 signing",       // 20k ÷ 40k
		"| 16 | **ours ÷ Dex** | **2.50×** |", // per round
		"it took **9m0s**",
		"### Org switch of a user in 1,001 orgs",
		"| `ConsolePages//users` | 12.8 p99-ms, 5.00 store-calls/op |",
		"| cold | 1.7 ms | 2.4 ms | 3.1 ms |",
		"| org switch, user in 1,001 orgs, p99 | cold 3.1 ms, warm 900 µs; goal < 5 ms |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, md)
		}
	}
	// list members: p95 = (300+900)/2 = 600 against (330+1800)/2 = 1065.
	if !strings.Contains(string(md), "| 1.77× | 1.10× |") {
		t.Errorf("REPORT.md lacks the list-members ratios 1.77× (p95) and 1.10× (p50):\n%s", md)
	}
	links := 0
	for _, line := range strings.Split(string(md), "\n") {
		for _, part := range strings.Split(line, "](")[1:] {
			name := part[:strings.Index(part, ")")]
			links++
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("linked plot %s: %v", name, err)
				continue
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Errorf("%s is not a PNG: %v", name, err)
				continue
			}
			if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 250 {
				t.Errorf("%s is %v", name, b)
			}
		}
	}
	if links != 5 { // throughput, CDF, scale p95, scale ratio, login CDF
		t.Errorf("%d plots linked, want 5", links)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Error(err)
	}
}

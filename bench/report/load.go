package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Target is one HTTP request repeated under load. Script, when set, is a wrk
// Lua script that builds the requests itself (e.g. refresh-token rotation);
// the report's done() hook is appended to it.
type Target struct {
	Method, URL, Body string
	Headers           map[string]string
	Script            string
	// Threads overrides wrk's thread count (the refresh script needs one
	// connection per thread); 0: one thread.
	Threads int
	// Env is added to wrk's environment (the script's settings).
	Env []string
}

// Run is one load run against one server at one concurrency.
type Run struct {
	Side     string // "ours", "Dex", …
	Conns    int
	Round    int
	RPS      float64
	Requests int64
	Errors   int64 // non-2xx/3xx answers and socket errors
	Dist     Dist
	Load     float64 // 1-minute load average just before the run
	Tool     string  // "wrk" or "go"
}

// loader runs load with wrk when it is installed (it costs the shared cores
// far less than a Go client), else with a Go closed-loop generator.
type loader struct {
	wrk string // path of wrk, "" when absent
	tmp string
}

func newLoader(tmp string, forceGo bool) *loader {
	l := &loader{tmp: tmp}
	if !forceGo {
		l.wrk, _ = exec.LookPath("wrk")
	}
	return l
}

func (l *loader) tool() string {
	if l.wrk != "" {
		return "wrk"
	}
	return "Go closed loop"
}

// run drives t with conns connections for d.
func (l *loader) run(ctx context.Context, t Target, conns int, d time.Duration) (Run, error) {
	r := Run{Conns: conns, Load: loadAvg()}
	var err error
	if l.wrk != "" {
		err = l.runWrk(ctx, t, conns, d, &r)
		r.Tool = "wrk"
	} else {
		if t.Script != "" {
			return r, fmt.Errorf("%s needs wrk (a Lua script drives it)", t.URL)
		}
		err = runGo(ctx, t, conns, d, &r)
		r.Tool = "go"
	}
	return r, err
}

// wrkDone is appended to every wrk script: it prints the totals and the
// latency quantiles of wrk's histogram in a form parseWrk reads.
func wrkDone() string {
	var b strings.Builder
	b.WriteString("\nfunction done(summary, latency, requests)\n")
	b.WriteString("  local e = summary.errors\n")
	b.WriteString("  io.write(string.format(\"SSBREPORT total %d %d %d\\n\", summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout))\n")
	for _, q := range cdfQuantiles {
		fmt.Fprintf(&b, "  io.write(string.format(\"SSBREPORT q %g %%d\\n\", latency:percentile(%g)))\n", q, q*100)
	}
	b.WriteString("end\n")
	return b.String()
}

// luaString quotes s as a Lua long string.
func luaString(s string) string {
	eq := "="
	for strings.Contains(s, "]"+eq+"]") {
		eq += "="
	}
	return "[" + eq + "[" + s + "]" + eq + "]"
}

func (l *loader) runWrk(ctx context.Context, t Target, conns int, d time.Duration, r *Run) error {
	var script strings.Builder
	if t.Script != "" {
		script.WriteString(t.Script)
	} else {
		method := t.Method
		if method == "" {
			method = http.MethodGet
		}
		fmt.Fprintf(&script, "wrk.method = %s\n", luaString(method))
		if t.Body != "" {
			fmt.Fprintf(&script, "wrk.body = %s\n", luaString(t.Body))
		}
		for k, v := range t.Headers {
			fmt.Fprintf(&script, "wrk.headers[ %s ] = %s\n", luaString(k), luaString(v))
		}
	}
	script.WriteString(wrkDone())
	f, err := os.CreateTemp(l.tmp, "load-*.lua")
	if err != nil {
		return err
	}
	if _, err := f.WriteString(script.String()); err != nil {
		f.Close()
		return err
	}
	f.Close()
	threads := max(t.Threads, 1)
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	cmd := exec.CommandContext(ctx, l.wrk, "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(max(conns, threads)),
		"-d"+strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", f.Name(), t.URL)
	cmd.Env = append(os.Environ(), t.Env...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wrk %s: %w: %s", t.URL, err, stderr.String())
	}
	return parseWrk(out.Bytes(), r)
}

// parseWrk reads the lines wrkDone printed.
func parseWrk(out []byte, r *Run) error {
	var durUS float64
	seenTotal := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "SSBREPORT" {
			continue
		}
		switch {
		case f[1] == "total" && len(f) == 5:
			req, err1 := strconv.ParseInt(f[2], 10, 64)
			dur, err2 := strconv.ParseFloat(f[3], 64)
			errs, err3 := strconv.ParseInt(f[4], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				return fmt.Errorf("wrk: bad totals line %q", sc.Text())
			}
			r.Requests, durUS, r.Errors, seenTotal = req, dur, errs, true
		case f[1] == "q" && len(f) == 4:
			q, err1 := strconv.ParseFloat(f[2], 64)
			us, err2 := strconv.ParseFloat(f[3], 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("wrk: bad quantile line %q", sc.Text())
			}
			r.Dist = append(r.Dist, Quantile{Q: q, Micros: us})
		}
	}
	if !seenTotal || durUS <= 0 || len(r.Dist) == 0 {
		return fmt.Errorf("wrk printed no summary:\n%s", out)
	}
	r.RPS = float64(r.Requests) / (durUS / 1e6)
	return nil
}

// runGo is the closed-loop generator used without wrk: conns goroutines,
// each sending the next request when the last answer is read.
func runGo(ctx context.Context, t Target, conns int, d time.Duration, r *Run) error {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	var errs int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			var lat []time.Duration
			var bad int64
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), cmpOr(t.Method, http.MethodGet), t.URL, strings.NewReader(t.Body))
				if err != nil {
					bad++
					break
				}
				for k, v := range t.Headers {
					req.Header.Set(k, v)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					bad++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode >= 400 {
					bad++
				}
			}
			mu.Lock()
			all, errs = append(all, lat...), errs+bad
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(start)
	if len(all) == 0 {
		return fmt.Errorf("%s: no answer in %v", t.URL, d)
	}
	r.Requests, r.Errors, r.Dist = int64(len(all)), errs, distOf(all)
	r.RPS = float64(len(all)) / el.Seconds()
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// loadAvg is the 1-minute load average (NaN when unreadable).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// writeTemp writes b to a file in dir and returns its path.
func writeTemp(dir, name string, b []byte) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, b, 0o600)
}

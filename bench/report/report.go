package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot/plotter"
)

// writeReport writes REPORT.md, report.json and the plots into dir.
func writeReport(rep *Report, dir string) error {
	var md strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&md, format, a...) }
	plots := filepath.Join(dir, "plots")
	if err := os.MkdirAll(plots, 0o755); err != nil {
		return err
	}
	w("# Benchmark report\n\n")
	w("Written by `go run ./bench/report` (docs/bench/README.md explains how to run it and how to read it). ")
	w("One run, %s, commit `%s`; it took **%v**.\n\n", rep.Started.Format("2006-01-02 15:04 MST"), rep.Commit, rep.Elapsed)
	m := rep.Machine
	w("**Machine**: %d CPUs (%s), %.1f GB, Linux %s, %s. Load average at the start: %.2f / %.2f / %.2f (1, 5, 15 min). ",
		m.CPUs, m.Model, m.MemGB, m.Kernel, m.Go, m.LoadStart[0], m.LoadStart[1], m.LoadStart[2])
	w("The machine is shared with other work (other builds and test suites ran during this run): PostgreSQL, Redis, ")
	w("the load generator and every server run on the same %d cores, so **absolute figures are this machine's on this day; ", m.CPUs)
	w("only the ratios within the run mean something**. Each run's 1-minute load average is recorded just before it.\n\n")
	w("Load generator: %s. Options: %s.\n\n", rep.Tool, fmtOptions(rep.Options))

	// Summary.
	w("## Summary\n\n| what | figure |\n|---|---|\n")
	var signAll float64
	for _, c := range rep.Ceilings {
		if c.Op == "ES256 sign" && c.Workers == m.CPUs {
			signAll = c.PerSec
		}
	}
	for _, c := range rep.Comparisons {
		op, oc := c.peak("ours")
		line := fmt.Sprintf("ours %s (at %d connections)", fmtRate(op), oc)
		if c.Peer != "" {
			pp, pc := c.peak("Dex")
			rr := c.roundRatios("ours", "Dex")
			var all []float64
			for _, v := range rr {
				all = append(all, v...)
			}
			line += fmt.Sprintf(", Dex %s (at %d): **%s Dex** at the peaks; per-round ratios %s–%s", fmtRate(pp), pc,
				fmtRatio(ratio(op, pp)), fmtRatio(minf(all)), fmtRatio(maxf(all)))
		}
		if c.Name == "client_credentials" && signAll > 0 {
			line += fmt.Sprintf("; %.0f %% of the raw ES256 signing ceiling on %d cores (%s)", 100*op/signAll, m.CPUs, fmtRate(signAll))
		}
		w("| %s | %s |\n", c.Name, line)
	}
	if len(rep.Scale) > 0 {
		worst, worstOp := 0.0, ""
		for _, r := range rep.Scale {
			if x := ratio(r.Big.P95(), r.Small.P95()); x > worst {
				worst, worstOp = x, r.Op
			}
		}
		w("| tenant scale, %s orgs ÷ 1 org, p95 | worst %s (%s); goal ≤ 1.5 |\n", thousands(rep.Orgs), fmtRatio(worst), worstOp)
	}
	if sw := rep.Switch; sw != nil {
		w("| org switch, user in %s orgs, p99 | cold %s, warm %s; goal < 5 ms |\n", thousands(sw.Orgs), fmtMicros(sw.Cold.P99()), fmtMicros(sw.Warm.P99()))
	}
	if len(rep.LoginSmall[0]) > 0 {
		w("| full OIDC login, two replicas, p50 / p99 | %s / %s (broker %s / %s) |\n",
			fmtMicros(rep.LoginSmall[0].P50()), fmtMicros(rep.LoginSmall[0].P99()), fmtMicros(rep.LoginSmall[1].P50()), fmtMicros(rep.LoginSmall[1].P99()))
	}
	if a := acsSummary(rep.ACS); a != "" {
		w("| SAML ACS, one core | %s |\n", a)
	}
	w("\n")

	// Ceilings.
	w("## Raw ES256 ceilings\n\n`crypto/ecdsa` P-256 with SHA-256 of a 600-byte input (signing with RFC 6979 nonces, as the broker signs), in this process, nothing else of ours running: the most a server that did nothing but sign (or verify) could do on these cores.\n\n")
	w("| operation | goroutines | per second | load before |\n|---|---|---|---|\n")
	for _, c := range rep.Ceilings {
		w("| %s | %d | %s | %.2f |\n", c.Op, c.Workers, fmtRate(c.PerSec), c.Load)
	}
	w("\n")

	// Comparisons.
	w("## Endpoints against Dex, A B A B\n\n")
	if rep.DexVersion != "" {
		w("Dex %s, built from its source outside this repository, memory storage, ES256 signer (the fastest setup it has). ", rep.DexVersion)
		w("Ours: `ssobroker serve` on PostgreSQL and Redis, ES256 access and ID tokens, one replica under load. ")
		w("At every concurrency the runs alternate Dex, ours, Dex, ours (%s rounds, %s each); the ratio is ours ÷ Dex within a round.\n\n", rep.Options["rounds"], rep.Options["d"])
	} else {
		w("Dex was not run (`-no-dex`): ours alone.\n\n")
	}
	for _, c := range rep.Comparisons {
		w("### %s\n\n- ours: %s\n", c.Name, c.Ours)
		if c.Peer != "" {
			w("- Dex: %s\n", c.Peer)
		}
		if c.Note != "" {
			w("- %s\n", c.Note)
		}
		w("\n| connections | side | requests/s per round | p50 | p99 | errors | load before |\n|---|---|---|---|---|---|---|\n")
		sides := []string{"ours"}
		if c.Peer != "" {
			sides = []string{"Dex", "ours"}
		}
		byConns := map[int]map[string]Level{}
		var connsList []int
		for _, s := range sides {
			for _, lv := range c.levels(s) {
				if byConns[lv.Conns] == nil {
					byConns[lv.Conns] = map[string]Level{}
					connsList = append(connsList, lv.Conns)
				}
				byConns[lv.Conns][s] = lv
			}
		}
		sort.Ints(connsList)
		rr := c.roundRatios("ours", "Dex")
		for _, n := range connsList {
			for _, s := range sides {
				lv := byConns[n][s]
				var rates []string
				for _, r := range lv.RPS {
					rates = append(rates, fmtRate(r))
				}
				w("| %d | %s | %s | %s | %s | %d | %.1f–%.1f |\n", n, s, strings.Join(rates, ", "), fmtMicros(lv.P50), fmtMicros(lv.P99), lv.Errors, lv.LoadMin, lv.LoadMax)
			}
			if c.Peer != "" {
				var rs []string
				for _, x := range rr[n] {
					rs = append(rs, fmtRatio(x))
				}
				w("| %d | **ours ÷ Dex** | **%s** | | | | |\n", n, strings.Join(rs, ", "))
			}
		}
		// Plots.
		var series []Series
		cdfs := map[string]Dist{}
		var order []string
		top := connsList[len(connsList)-1]
		cdfAt := top
		for _, n := range connsList {
			if n == 16 {
				cdfAt = 16
			}
		}
		for _, s := range sides {
			var xy plotter.XYs
			for _, lv := range c.levels(s) {
				xy = append(xy, plotter.XY{X: float64(lv.Conns), Y: median(lv.RPS)})
			}
			series = append(series, Series{Name: s, XY: xy})
			name := fmt.Sprintf("%s, %d connections", s, cdfAt)
			cdfs[name], order = byConns[cdfAt][s].Dist, append(order, name)
		}
		tp, cdf := "throughput-"+c.Slug+".png", "cdf-"+c.Slug+".png"
		if err := throughputPlot(c.Name+": throughput against concurrency", series, filepath.Join(plots, tp)); err != nil {
			return err
		}
		if err := cdfPlot(c.Name+": latency CDF", cdfs, order, filepath.Join(plots, cdf)); err != nil {
			return err
		}
		w("\n![%s throughput](plots/%s) ![%s latency CDF](plots/%s)\n\n", c.Name, tp, c.Name, cdf)
	}

	// Tenant scale.
	if len(rep.Scale) > 0 {
		w("## Tenant scale over HTTP: 1 org against %s\n\n", thousands(rep.Orgs))
		w("Two directories in fresh PostgreSQL schemas, seeded in bulk by `directory.SeedTenants` (1 org in %v; %s orgs, %s users, %s workspaces, %s service accounts, a user in %s orgs, in %v), ",
			rep.SeedSmall.Round(time.Millisecond), thousands(rep.Orgs), thousands(rep.Orgs*10), thousands(rep.Orgs*5), thousands(rep.Orgs*2), thousands(max(rep.Orgs/10, 1)), rep.SeedBig.Round(time.Second))
		w("each served by two `ssobroker serve` replicas. The same requests go to org 0 of each (the same shape in both), one at a time, alternating call by call (1 org, big, big, 1 org, …). ")
		w("%s calls per operation and directory (sign-in callbacks: %d). Ratio = big ÷ 1 org; the goal is ≤ 1.5.\n\n", rep.Options["n"], rep.Logins)
		w("| operation | request | 1 org p50 / p95 / p99 | %s orgs p50 / p95 / p99 | ratio p95 | ratio p50 |\n|---|---|---|---|---|---|\n", thousands(rep.Orgs))
		var labels []string
		var p95s, p95b, r95, r50 []float64
		for _, r := range rep.Scale {
			w("| %s | %s | %s / %s / %s | %s / %s / %s | %s | %s |\n", r.Op, r.What,
				fmtMicros(r.Small.P50()), fmtMicros(r.Small.P95()), fmtMicros(r.Small.P99()),
				fmtMicros(r.Big.P50()), fmtMicros(r.Big.P95()), fmtMicros(r.Big.P99()),
				fmtRatio(ratio(r.Big.P95(), r.Small.P95())), fmtRatio(ratio(r.Big.P50(), r.Small.P50())))
			labels = append(labels, r.Op)
			p95s, p95b = append(p95s, r.Small.P95()/1000), append(p95b, r.Big.P95()/1000)
			r95, r50 = append(r95, ratio(r.Big.P95(), r.Small.P95())), append(r50, ratio(r.Big.P50(), r.Small.P50()))
		}
		if err := barsPlot("p95 latency over HTTP: 1 org against "+thousands(rep.Orgs), "p95 (ms)", labels,
			[]string{"1 org", thousands(rep.Orgs) + " orgs"}, [][]float64{p95s, p95b}, 0, filepath.Join(plots, "scale-p95.png")); err != nil {
			return err
		}
		title := "ratio " + thousands(rep.Orgs) + " orgs ÷ 1 org"
		if maxf(append(slices.Clone(r95), r50...)) > ratioCap {
			title += fmt.Sprintf(" (bars cut at %.0f×, figures in the table)", ratioCap)
		}
		if err := barsPlot(title, "ratio", labels,
			[]string{"p95", "p50"}, [][]float64{capAt(r95, ratioCap), capAt(r50, ratioCap)}, 1.5, filepath.Join(plots, "scale-ratio.png")); err != nil {
			return err
		}
		w("\n![p95, 1 org against many](plots/scale-p95.png) ![ratios](plots/scale-ratio.png)\n\n")
	}

	if sw := rep.Switch; sw != nil {
		w("### Org switch of a user in %s orgs\n\n", thousands(sw.Orgs))
		w("In the %s-org directory, a user signed in to org 0 through its OIDC connection and made a member of %s orgs in all exchanges their access token (RFC 8693, the relying party's Basic auth) for one of another of their orgs, a different org each call, on replica A. ", thousands(rep.Orgs), thousands(sw.Orgs))
		w("Cold: right after a committed change (a role change through the admin API) emptied every cache, so the user's standing in both orgs, the connection and the revocation list are read from PostgreSQL; warm: the same exchange again. Cold and warm alternate call by call, %d calls each. The goal is p99 under 5 ms.\n\n", sw.Calls)
		w("| org switch | p50 | p95 | p99 |\n|---|---|---|---|\n")
		w("| cold | %s | %s | %s |\n| warm | %s | %s | %s |\n\n", fmtMicros(sw.Cold.P50()), fmtMicros(sw.Cold.P95()), fmtMicros(sw.Cold.P99()),
			fmtMicros(sw.Warm.P50()), fmtMicros(sw.Warm.P95()), fmtMicros(sw.Warm.P99()))
	}

	// Logins.
	if len(rep.LoginSmall[0]) > 0 {
		w("## Full OIDC login through two replicas\n\n")
		w("A new browser (cookie jar) each time: the relying party's authorize on replica A → the org's sign-in page → the upstream IdP (bench/oidcserver: the tokens package's provider with a stand-in sign-in, ES256 ID tokens) → ")
		w("the callback on replica B (code exchange upstream, ID token check, provisioning, session) → the continuation on B → the code exchange on B with PKCE and a confidential client. ")
		w("%d logins per directory, alternating. \"Broker\" is the whole minus the requests to the upstream.\n\n", rep.Logins)
		w("| directory | whole p50 / p95 / p99 | broker p50 / p99 | upstream p50 / p99 |\n|---|---|---|---|\n")
		for _, x := range []struct {
			name string
			d    [3]Dist
		}{{"1 org", rep.LoginSmall}, {thousands(rep.Orgs) + " orgs", rep.LoginBig}} {
			w("| %s | %s / %s / %s | %s / %s | %s / %s |\n", x.name, fmtMicros(x.d[0].P50()), fmtMicros(x.d[0].P95()), fmtMicros(x.d[0].P99()),
				fmtMicros(x.d[1].P50()), fmtMicros(x.d[1].P99()), fmtMicros(x.d[2].P50()), fmtMicros(x.d[2].P99()))
		}
		if err := cdfPlot("full login through two replicas: latency CDF", map[string]Dist{"1 org": rep.LoginSmall[0], thousands(rep.Orgs) + " orgs": rep.LoginBig[0]},
			[]string{"1 org", thousands(rep.Orgs) + " orgs"}, filepath.Join(plots, "cdf-login.png")); err != nil {
			return err
		}
		w("\n![login CDF](plots/cdf-login.png)\n\n")
	}

	// SAML.
	if len(rep.ACS) > 0 {
		w("## SAML ACS\n\n`idp/saml`'s `BenchmarkACS` (a signed ~4 kB response posted to the connector's ACS: parsing, our checks, the library's checks, the signature, attribute mapping) beside `BenchmarkRawRSA2048Verify`, its ceiling, on one core, in alternating rounds.\n\n")
		w("| round | ACS, assertion signed | ACS, response and assertion signed | raw RSA-2048 verify | ACS ÷ raw (share of the ceiling) | load before |\n|---|---|---|---|---|---|\n")
		for _, a := range rep.ACS {
			acs, both, raw := a.NsPerOp["ACS/SignAssertion"], a.NsPerOp["ACS/SignBoth"], a.NsPerOp["RawRSA2048Verify"]
			w("| %d | %s | %s | %s | %.1f %% | %.2f |\n", a.Round, fmtMicros(acs/1000), fmtMicros(both/1000), fmtMicros(raw/1000), 100*ratio(raw, acs), a.Load)
		}
		w("\n")
	}

	// Features beyond the token endpoint.
	if len(rep.Features) > 0 {
		w("## The console, SCIM, webhooks and external JWTs\n\n")
		w("Each package's own Go benchmark (its doc comment says what it builds), run by this report one after the other on this run's PostgreSQL and Redis. ")
		w("These are absolute figures from this machine on this day; the goals they are held to are in `docs/console.md`, `docs/scim.md`, `docs/webhooks.md` and `docs/jwt-issuers.md`.\n\n")
		w("| area | benchmark | figures | load before |\n|---|---|---|---|\n")
		for _, f := range rep.Features {
			for i, r := range f.Results {
				area, load := "", ""
				if i == 0 {
					area, load = "**"+f.Area+"**: "+f.What, fmt.Sprintf("%.2f", f.Load)
				}
				w("| %s | `%s` | %s | %s |\n", area, r.Name, r.figures(), load)
			}
		}
		w("\n")
	}

	for _, n := range rep.Notes {
		w("%s\n\n", n)
	}
	w("## Timeline\n\n| since start | phase | load average |\n|---|---|---|\n")
	for _, p := range rep.Phases {
		w("| %v | %s | %.2f |\n", p.Started, p.Name, p.Load)
	}
	if err := os.WriteFile(filepath.Join(dir, "REPORT.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644)
}

// ratioCap keeps one wild ratio from flattening the other bars.
const ratioCap = 4.0

func capAt(xs []float64, c float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Min(x, c)
	}
	return out
}

func acsSummary(runs []ACSRun) string {
	if len(runs) == 0 {
		return ""
	}
	var acs, raw []float64
	for _, a := range runs {
		acs, raw = append(acs, a.NsPerOp["ACS/SignAssertion"]), append(raw, a.NsPerOp["RawRSA2048Verify"])
	}
	a, r := median(acs), median(raw)
	if !(a > 0 && r > 0) {
		return ""
	}
	return fmt.Sprintf("%s a response (≈ %s); raw RSA-2048 verify %s: %.1f %% of that ceiling", fmtMicros(a/1000), fmtRate(1e9/a), fmtMicros(r/1000), 100*r/a)
}

func fmtOptions(o map[string]string) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("`-%s %s`", k, strings.Trim(strings.ReplaceAll(o[k], " ", ","), "[]")))
	}
	return strings.Join(parts, " ")
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func minf(xs []float64) float64 {
	m := math.NaN()
	for _, x := range xs {
		if math.IsNaN(m) || x < m {
			m = x
		}
	}
	return m
}

func maxf(xs []float64) float64 {
	m := math.NaN()
	for _, x := range xs {
		if math.IsNaN(m) || x > m {
			m = x
		}
	}
	return m
}

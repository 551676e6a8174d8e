package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// ACSRun is one round of the SAML ACS benchmark beside its ceiling, one
// RSA-2048 verification (idp/saml's BenchmarkACS and
// BenchmarkRawRSA2048Verify, the existing fixtures: a signed ~4 kB response
// posted to the connector's ACS handler).
type ACSRun struct {
	Round int
	// NsPerOp by benchmark name ("ACS/SignAssertion", "ACS/SignBoth", "RawRSA2048Verify").
	NsPerOp map[string]float64
	Load    float64
}

// runACS compiles idp/saml's tests once and runs the benchmarks rounds
// times on one core, so each round has the ACS and its ceiling side by side.
func runACS(ctx context.Context, repo, tmp string, rounds int) ([]ACSRun, error) {
	bin := filepath.Join(tmp, "saml.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./idp/saml/")
	build.Dir = repo
	if b, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go test -c ./idp/saml: %w: %s", err, b)
	}
	var out []ACSRun
	for r := 1; r <= rounds; r++ {
		run := ACSRun{Round: r, NsPerOp: map[string]float64{}, Load: loadAvg()}
		cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", "^Benchmark(ACS|RawRSA2048Verify)$",
			"-test.benchtime", "1s", "-test.cpu", "1", "-test.benchmem")
		cmd.Dir = filepath.Join(repo, "idp", "saml")
		b, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ACS benchmark: %w: %s", err, b)
		}
		if err := parseBench(b, run.NsPerOp); err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

// parseBench reads the ns/op of every "BenchmarkX/sub  N  123 ns/op …"
// line into ns, by name without the Benchmark prefix and -GOMAXPROCS
// suffix (parseBenchLines).
func parseBench(b []byte, ns map[string]float64) error {
	rs, err := parseBenchLines(b)
	if err != nil {
		return err
	}
	for _, r := range rs {
		for _, m := range r.Metrics {
			if m.Unit == "ns/op" {
				ns[r.Name] = m.Value
				break
			}
		}
	}
	if len(ns) == 0 {
		return fmt.Errorf("no ns/op in the benchmark results:\n%s", b)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// Comparison is one endpoint of ours beside the same endpoint of a peer (or
// alone), at several concurrencies, the sides alternating A B A B.
type Comparison struct {
	Name, Slug string
	Ours, Peer string // what each side served
	Note       string
	Runs       []Run
}

// side is one server's target; fresh builds a target per run (the refresh
// runs need new token families each time).
type side struct {
	name  string
	fresh func(ctx context.Context, conns int) (Target, error)
}

// compare runs a (the peer, may be nil) and b (ours) alternately at each
// concurrency, rounds times.
func (l *loader) compare(ctx context.Context, c *Comparison, peer, ours *side, conns []int, rounds int, d time.Duration, progress func(string)) error {
	for _, n := range conns {
		for r := 1; r <= rounds; r++ {
			for _, s := range []*side{peer, ours} {
				if s == nil {
					continue
				}
				progress(fmt.Sprintf("%s: %s, %d connections, round %d", c.Name, s.name, n, r))
				t, err := s.fresh(ctx, n)
				if err != nil {
					return fmt.Errorf("%s (%s): %w", c.Name, s.name, err)
				}
				run, err := l.run(ctx, t, n, d)
				if err != nil {
					return fmt.Errorf("%s (%s, %d connections): %w", c.Name, s.name, n, err)
				}
				run.Side, run.Round = s.name, r
				c.Runs = append(c.Runs, run)
			}
		}
	}
	return nil
}

// Level is the figures of one side at one concurrency, over its rounds.
type Level struct {
	Conns            int
	RPS              []float64 // one per round
	P50, P99         float64   // medians over rounds, µs
	Errors           int64
	Dist             Dist // the run whose throughput is the median (CDF plots)
	LoadMin, LoadMax float64
}

// levels groups c's runs of side s by concurrency, in increasing order.
func (c *Comparison) levels(s string) []Level {
	var out []Level
	for _, r := range c.Runs {
		if r.Side != s {
			continue
		}
		i := len(out) - 1
		if i < 0 || out[i].Conns != r.Conns {
			out = append(out, Level{Conns: r.Conns, LoadMin: math.Inf(1), LoadMax: math.Inf(-1)})
			i++
		}
		lv := &out[i]
		lv.RPS = append(lv.RPS, r.RPS)
		lv.Errors += r.Errors
		lv.LoadMin, lv.LoadMax = math.Min(lv.LoadMin, r.Load), math.Max(lv.LoadMax, r.Load)
	}
	for i := range out {
		var p50, p99 []float64
		med := median(out[i].RPS)
		best := math.Inf(1)
		for _, r := range c.Runs {
			if r.Side == s && r.Conns == out[i].Conns {
				p50, p99 = append(p50, r.Dist.P50()), append(p99, r.Dist.P99())
				if dd := math.Abs(r.RPS - med); dd < best {
					best, out[i].Dist = dd, r.Dist
				}
			}
		}
		out[i].P50, out[i].P99 = median(p50), median(p99)
	}
	return out
}

// roundRatios is ours/peer throughput of each round at each concurrency.
func (c *Comparison) roundRatios(ours, peer string) map[int][]float64 {
	out := map[int][]float64{}
	byKey := map[[2]int]map[string]float64{}
	for _, r := range c.Runs {
		k := [2]int{r.Conns, r.Round}
		if byKey[k] == nil {
			byKey[k] = map[string]float64{}
		}
		byKey[k][r.Side] = r.RPS
	}
	for k, m := range byKey {
		if a, ok := m[ours]; ok {
			if b, ok := m[peer]; ok {
				out[k[0]] = append(out[k[0]], ratio(a, b))
			}
		}
	}
	return out
}

// peak is the highest median throughput of side s over the concurrencies.
func (c *Comparison) peak(s string) (rps float64, conns int) {
	for _, lv := range c.levels(s) {
		if m := median(lv.RPS); m > rps {
			rps, conns = m, lv.Conns
		}
	}
	return rps, conns
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Quantile is one point of a latency distribution: the fraction Q (0..1) of
// requests that took at most Micros microseconds.
type Quantile struct {
	Q      float64
	Micros float64
}

// Dist is a latency distribution, as quantiles in increasing order. It comes
// either from every request's time (the Go load generator, the sequential
// tenant-scale calls) or from wrk's own histogram (wrk's done() hook).
type Dist []Quantile

// cdfQuantiles are the points a distribution keeps: enough for a CDF plot
// and for the percentiles the report quotes.
var cdfQuantiles = []float64{0.001, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7,
	0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99, 0.995, 0.999, 1}

// distOf sorts ds and reads the quantiles of cdfQuantiles from it (nearest
// rank: the smallest value with at least q of the samples at or below it).
func distOf(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	out := make(Dist, 0, len(cdfQuantiles))
	for _, q := range cdfQuantiles {
		out = append(out, Quantile{Q: q, Micros: float64(s[nearestRank(len(s), q)]) / 1e3})
	}
	return out
}

// nearestRank is the index of quantile q in n sorted samples.
func nearestRank(n int, q float64) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// At is the latency at quantile q (µs), interpolated linearly between the
// kept points; NaN for an empty distribution.
func (d Dist) At(q float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	if q <= d[0].Q {
		return d[0].Micros
	}
	for i := 1; i < len(d); i++ {
		if q <= d[i].Q {
			a, b := d[i-1], d[i]
			if b.Q == a.Q {
				return b.Micros
			}
			return a.Micros + (b.Micros-a.Micros)*(q-a.Q)/(b.Q-a.Q)
		}
	}
	return d[len(d)-1].Micros
}

// P50, P95, P99 in microseconds.
func (d Dist) P50() float64 { return d.At(0.50) }
func (d Dist) P95() float64 { return d.At(0.95) }
func (d Dist) P99() float64 { return d.At(0.99) }

// ratio is a/b, NaN when either is missing or b is 0.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// median of xs (NaN when empty); the report's figure for a side measured in
// several alternating rounds.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fmtMicros prints a latency in µs or ms, three significant figures.
func fmtMicros(us float64) string {
	switch {
	case math.IsNaN(us):
		return "–"
	case us >= 1000:
		return fmt.Sprintf("%.3g ms", us/1000)
	default:
		return fmt.Sprintf("%.3g µs", us)
	}
}

// fmtRate prints a throughput, e.g. 12.3k/s.
func fmtRate(r float64) string {
	switch {
	case math.IsNaN(r):
		return "–"
	case r >= 1000:
		return fmt.Sprintf("%.1fk/s", r/1000)
	default:
		return fmt.Sprintf("%.0f/s", r)
	}
}

// fmtRatio prints a ratio as 1.23×.
func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

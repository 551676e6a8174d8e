// Package benchcpu reports the CPU time a benchmark's process spent per
// operation, next to the wall-clock ns/op. On a machine shared with other
// work, ns/op measures the queue for the cores as much as the code; the
// process's own CPU time (user + system, every thread, the garbage collector
// included) moves far less with the machine's load. docs/bench/README.md,
// "Token endpoint against Dex", says how the figures are read.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Start reads the process's CPU time; the function it returns, called right
// after the timed loop, reports the CPU time since then per operation as
// "cpu-ns/op". Start it right before the loop so set-up is not counted:
//
//	stop := benchcpu.Start(b)
//	for b.Loop() { … }
//	stop()
func Start(b *testing.B) func() {
	b.Helper()
	start, err := processCPU()
	if err != nil {
		b.Fatalf("benchcpu: %v", err)
	}
	return func() {
		end, err := processCPU()
		if err != nil {
			b.Fatalf("benchcpu: %v", err)
		}
		if b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// processCPU is the user and system time of every thread of the process.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

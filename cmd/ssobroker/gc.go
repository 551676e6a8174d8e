package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// defaultGCPercent is the collector's target when GOGC is not set: 400
// instead of Go's 100. The broker's live heap is small (about 5 MB while
// serving tokens) and mostly short-lived request garbage, so at 100 the
// collector ran about 30 times a second under load and cost about 14 µs of
// CPU per token; at 400 the peak heap is about five times the live heap
// (docs/operations.md, "Memory and the garbage collector";
// docs/bench/README.md, "Token endpoint against Dex").
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless the operator set GOGC (the Go
// runtime has then already applied it), and says which applies.
func tuneGC(log *slog.Logger) {
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Info("garbage collector target from GOGC", "gogc", v)
		return
	}
	debug.SetGCPercent(defaultGCPercent)
	log.Info("garbage collector target", "gogc", defaultGCPercent, "override", "set GOGC (100 is Go's default) or GOMEMLIMIT to cap the heap")
}

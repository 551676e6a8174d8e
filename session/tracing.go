package session

import (
	"fmt"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// traceRedis adds the tracing hook of github.com/redis/go-redis/extra/redisotel
// to client (every node of a Cluster): a client span per command and
// pipeline, named by the command. The command's arguments are never
// recorded (WithDBStatement(false)): they are keys derived from secrets,
// sealed records and hashes. AUTH and HELLO … AUTH are not traced at all
// (the hook's default filter).
func traceRedis(client redis.UniversalClient, tp trace.TracerProvider) error {
	err := redisotel.InstrumentTracing(client,
		redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false))
	if err != nil {
		return fmt.Errorf("session: redis tracing: %w", err)
	}
	return nil
}

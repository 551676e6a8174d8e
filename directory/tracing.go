package directory

import (
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// sqlTracer traces PostgreSQL statements (PostgresOptions.TracerProvider)
// with github.com/exaring/otelpgx: a client span per query, acquire,
// connect and batch, named by the statement's operation ("SELECT"), with
// the statement's text (db.query.text). Only statements run under a
// recording span are traced, so background work (the change listener, key
// rotation) makes no traces of its own.
//
// What a span never carries: bound parameter values (otelpgx records them
// only with WithIncludeQueryParameters, never set here). Every statement of
// this package passes values as $N parameters and builds no SQL text from
// values (fmt.Sprintf only adds placeholders), so db.query.text holds no
// secret, email or id. TestTracedTokenRequest and TestTracedSignIn
// (cmd/ssobroker/tracing_test.go) prove it on an API-key lookup by the
// secret's hash and on a provisioning.
func sqlTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()))
}

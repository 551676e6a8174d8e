package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// OpenTelemetry tracing (docs/operations.md, "Tracing"). Off by default:
// with none of the variables below set there is no exporter, no goroutine,
// no wrapped handler or client, and the packages get a no-op tracer. The
// variables are the standard OTEL_* ones; nothing is read from or written to
// the otel package's global provider or propagator: cmd hands the provider
// to each package through its Options or Config.

// tracingConfig is what the OTEL_* variables say, read by bindConfig.
type tracingConfig struct {
	SDKDisabled    string // OTEL_SDK_DISABLED
	Exporter       string // OTEL_TRACES_EXPORTER
	Endpoint       string // OTEL_EXPORTER_OTLP_ENDPOINT (base; /v1/traces is appended)
	TracesEndpoint string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is)
	Protocol       string // OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL
	ServiceName    string // OTEL_SERVICE_NAME
	Sampler        string // OTEL_TRACES_SAMPLER
	SamplerArg     string // OTEL_TRACES_SAMPLER_ARG
}

// readTracingConfig reads the OTEL_* variables the broker acts on. The OTLP
// exporter reads its own transport settings (OTEL_EXPORTER_OTLP_HEADERS,
// _CERTIFICATE, _COMPRESSION, _TIMEOUT and their _TRACES_ forms) and the
// batch processor its OTEL_BSP_* ones from the process environment.
func readTracingConfig(getenv func(string) string) tracingConfig {
	c := tracingConfig{
		SDKDisabled:    getenv("OTEL_SDK_DISABLED"),
		Exporter:       getenv("OTEL_TRACES_EXPORTER"),
		Endpoint:       getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		TracesEndpoint: getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
		Protocol:       getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
		ServiceName:    getenv("OTEL_SERVICE_NAME"),
		Sampler:        getenv("OTEL_TRACES_SAMPLER"),
		SamplerArg:     getenv("OTEL_TRACES_SAMPLER_ARG"),
	}
	if p := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); c.Protocol == "" {
		c.Protocol = p
	}
	return c
}

// enabled says whether traces are exported: OTEL_TRACES_EXPORTER=otlp, or
// unset with an OTLP endpoint configured; never with OTEL_SDK_DISABLED=true
// or OTEL_TRACES_EXPORTER=none. (The specification's default exporter is
// otlp; the broker's is none, so that a deployment that sets nothing sends
// nothing anywhere.)
func (c tracingConfig) enabled() bool {
	if strings.EqualFold(strings.TrimSpace(c.SDKDisabled), "true") {
		return false
	}
	switch strings.TrimSpace(c.Exporter) {
	case "otlp":
		return true
	case "":
		return c.Endpoint != "" || c.TracesEndpoint != ""
	}
	return false
}

// endpointURL is where spans are posted: the traces endpoint as given, or
// the base endpoint with /v1/traces, or the OTLP default.
func (c tracingConfig) endpointURL() string {
	if c.TracesEndpoint != "" {
		return c.TracesEndpoint
	}
	if c.Endpoint != "" {
		return strings.TrimSuffix(c.Endpoint, "/") + "/v1/traces"
	}
	return "http://localhost:4318/v1/traces"
}

// validate reports every problem of the tracing variables at once; a
// tracing that is off is not checked beyond its switches.
func (c tracingConfig) validate() error {
	var errs []error
	switch v := strings.TrimSpace(c.SDKDisabled); {
	case v == "", strings.EqualFold(v, "true"), strings.EqualFold(v, "false"):
	default:
		errs = append(errs, fmt.Errorf("OTEL_SDK_DISABLED %q must be true or false", c.SDKDisabled))
	}
	switch strings.TrimSpace(c.Exporter) {
	case "", "otlp", "none":
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER %q: the broker exports traces with otlp or not at all (none)", c.Exporter))
	}
	if !c.enabled() {
		return errors.Join(errs...)
	}
	for name, raw := range map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": c.TracesEndpoint, "OTEL_EXPORTER_OTLP_ENDPOINT": c.Endpoint} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q must be an http:// or https:// URL", name, raw))
		}
	}
	switch c.Protocol {
	case "", "http/protobuf":
	default:
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: the broker sends OTLP over HTTP (http/protobuf, port 4318)", c.Protocol))
	}
	if _, err := c.sampler(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sampler is OTEL_TRACES_SAMPLER with its argument; the default is the
// specification's, parentbased_always_on. Both variables' problems are
// reported together.
func (c tracingConfig) sampler() (sdktrace.Sampler, error) {
	var errs []error
	ratio := 1.0
	if c.SamplerArg != "" {
		r, err := strconv.ParseFloat(strings.TrimSpace(c.SamplerArg), 64)
		if err != nil || r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q must be a ratio between 0 and 1", c.SamplerArg))
		}
		ratio = r
	}
	var s sdktrace.Sampler
	switch strings.TrimSpace(c.Sampler) {
	case "", "parentbased_always_on":
		s = sdktrace.ParentBased(sdktrace.AlwaysSample())
	case "always_on":
		s = sdktrace.AlwaysSample()
	case "always_off":
		s = sdktrace.NeverSample()
	case "traceidratio":
		s = sdktrace.TraceIDRatioBased(ratio)
	case "parentbased_always_off":
		s = sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		s = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER %q must be always_on, always_off, traceidratio, parentbased_always_on, "+
			"parentbased_always_off or parentbased_traceidratio", c.Sampler))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// telemetry is the tracing the broker runs with. Its zero value is tracing
// off: TracerProvider is a no-op and the wrappers return what they get.
type telemetry struct {
	provider   trace.TracerProvider // nil: off
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// startTracing starts the OTLP exporter and the batching span processor
// when c enables tracing; otherwise it returns tracing off and starts
// nothing.
func startTracing(ctx context.Context, c tracingConfig, log *slog.Logger) (*telemetry, error) {
	if !c.enabled() {
		return &telemetry{}, nil
	}
	sampler, err := c.sampler()
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.endpointURL()))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	name := c.ServiceName
	if name == "" {
		name = "ssobroker"
	}
	// Process attributes are left out on purpose: the command line may
	// carry secrets (--secret-key, --database-url).
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "ssobroker"), attribute.String("service.version", version())),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(attribute.String("service.name", name)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	// The exporter reports failures (a collector that is down) through the
	// otel package's error handler: the one global cmd sets, to the log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: exporting spans failed", "err", err) }))
	return newTelemetry(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(sampler)), log, c), nil
}

// newTelemetry is tracing on with tp (tests pass one with an in-memory
// exporter). The trace context travels as W3C traceparent/tracestate, and
// nothing else: no baggage is sent to IdPs or webhook endpoints.
func newTelemetry(tp *sdktrace.TracerProvider, log *slog.Logger, c tracingConfig) *telemetry {
	if log != nil {
		log.Info("tracing: OTLP over HTTP", "endpoint", redactedURL(c.endpointURL()), "sampler", c.Sampler)
	}
	return &telemetry{provider: tp, propagator: propagation.TraceContext{}, shutdown: tp.Shutdown}
}

// on reports whether traces are recorded.
func (t *telemetry) on() bool { return t != nil && t.provider != nil }

// tracerProvider is what the packages' Options and Config take: a no-op
// one when tracing is off.
func (t *telemetry) tracerProvider() trace.TracerProvider {
	if !t.on() {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// storeProvider is the provider for the store and Redis instrumentation:
// nil when tracing is off, so that no tracer or hook is installed at all.
func (t *telemetry) storeProvider() trace.TracerProvider {
	if !t.on() {
		return nil
	}
	return t.provider
}

// handler wraps the broker's handler with a server span per request, named
// by the ServeMux pattern that served it ("POST /oauth2/token"), never by
// the raw path. The platform endpoints (/healthz, /readyz, /metrics) are
// not traced. An incoming W3C traceparent is continued.
func (t *telemetry) handler(h http.Handler) http.Handler {
	if !t.on() {
		return h
	}
	// The ServeMux sets r.Pattern on the request it is given, which is the
	// one otelhttp passes down: read it after serving for http.route.
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if _, path, ok := strings.Cut(r.Pattern, " "); ok {
			trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("http.route", path))
		} else if r.Pattern != "" {
			trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("http.route", r.Pattern))
		}
	})
	return otelhttp.NewHandler(routed, "ssobroker",
		otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}))
}

// client returns c with a transport that makes a client span per call and
// sends the trace context (traceparent) with it: the upstream IdP client
// and the webhook deliveries. Off: c itself. c is not modified.
func (t *telemetry) client(c *http.Client) *http.Client {
	if !t.on() {
		return c
	}
	out := *c
	out.Transport = otelhttp.NewTransport(c.Transport,
		otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()))
	return &out
}

// stop flushes the spans still buffered (at most 5 s) and stops the
// exporter.
func (t *telemetry) stop(log *slog.Logger) {
	if !t.on() || t.shutdown == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.shutdown(ctx); err != nil {
		log.Warn("tracing: flushing the last spans failed", "err", err)
	}
}

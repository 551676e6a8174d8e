package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics counts and times every request by route: the ServeMux
// pattern that served it ("POST /oauth2/token", "GET /api/v1/orgs/{org}/…"),
// never the raw path, so ids and names stay out of the labels and the
// series stay few.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// signInFailures counts failed sign-ins by connection and reason code
	// (only for connections that exist, so the series stay few).
	signInFailures *prometheus.CounterVec
}

// newMetrics registers the broker's metrics and the Go runtime and process
// collectors on a registry of its own, and returns the /metrics handler.
func newMetrics() (*httpMetrics, http.Handler) {
	reg := prometheus.NewRegistry()
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssobroker_http_requests_total", Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ssobroker_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ssobroker_http_requests_in_flight", Help: "HTTP requests being answered.",
		}),
		signInFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssobroker_signin_failures_total", Help: "Failed sign-ins through a connection, by connection id and reason code.",
		}, []string{"connection", "reason"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.signInFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// wrap measures every request next (a ServeMux) answers.
func (m *httpMetrics) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			m.inFlight.Dec()
			route := r.Pattern // set by the ServeMux on this request
			if route == "" {
				route = "unmatched"
			}
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// pinger is what readiness checks need of a backend.
type pinger interface {
	Ping(ctx context.Context) error
}

func serveCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		log := e.log
		tuneGC(log)
		// Tracing starts first and stops last, so that it sees the store
		// open and flushes the spans of the last requests.
		tel, err := startTracing(ctx, e.cfg.Tracing, log)
		if err != nil {
			return err
		}
		e.tel = tel
		defer tel.stop(log)
		store, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer store.Close()
		logBackends(log, e.cfg, store)
		key, err := e.cfg.secretKey(log)
		if err != nil {
			return err
		}
		handler, a, err := serveHandler(ctx, e, store, key)
		if err != nil {
			return err
		}
		defer a.stop()

		ln, err := net.Listen("tcp", e.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", e.cfg.Addr, err)
		}
		srv := &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		log.Info("ssobroker listening", "addr", ln.Addr().String(), "issuer", e.cfg.Issuer, "version", version())
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
		}
		log.Info("shutting down: draining connections", "grace", shutdownGrace)
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		log.Info("stopped")
		return nil
	}
}

// serveHandler is everything serve answers: the platform endpoints and the
// broker's packages on one mux, measured (metrics.go) and, when tracing is
// on, traced (tracing.go). The app must be stopped.
func serveHandler(ctx context.Context, e *env, store *directory.SQLStore, key []byte) (http.Handler, *app, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	checks := map[string]pinger{"directory": store}
	mux.Handle("GET /readyz", readiness(e.log, checks))
	metrics, metricsHandler := newMetrics()
	mux.Handle("GET /metrics", metricsHandler)
	a, err := mountApp(ctx, e, mux, store, key, checks, metrics)
	if err != nil {
		return nil, nil, err
	}
	return e.tel.handler(metrics.wrap(mux)), a, nil
}

// logBackends says clearly which storage the broker runs on.
func logBackends(log *slog.Logger, c *config, store *directory.SQLStore) {
	if c.DatabaseURL == "" {
		log.Info("directory: embedded SQLite file (SSOBROKER_DATABASE_URL is empty); fine for one machine, use PostgreSQL for replicas",
			"path", c.sqlitePath())
	} else {
		log.Info("directory: PostgreSQL", "backend", store.Backend())
	}
	if c.RedisURL == "" {
		log.Info("sessions: in-process store (SSOBROKER_REDIS_URL is empty); sessions are per process and end with it, use Redis for replicas")
	} else {
		log.Info("sessions: Redis", "url", redactedRedis(c.RedisURL))
	}
}

// readiness answers 200 when every check passes and 503 naming the failures otherwise.
func readiness(log *slog.Logger, checks map[string]pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code := map[string]string{}, http.StatusOK
		for name, p := range checks {
			if err := p.Ping(ctx); err != nil {
				status[name] = "unavailable"
				code = http.StatusServiceUnavailable
				log.Warn("readiness check failed", "check", name, "err", err)
				continue
			}
			status[name] = "ok"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": code == http.StatusOK, "checks": status})
	})
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/platform/config"
)

// The ops listener (--ops-addr): /healthz, /readyz and /metrics on a port
// of their own, in any role. A relay, projector or worker process has no
// API; this is how an orchestrator probes it and Prometheus scrapes it
// (deploy/, docs/operations.md). Nothing else is served there, and
// nothing there needs a key: the three answer what the API's public
// routes of the same names answer.

// opsReadinessTimeout bounds one /readyz answer of the ops listener.
const opsReadinessTimeout = 5 * time.Second

var opsModule = fx.Module("ops", fx.Invoke(registerOpsServer))

func registerOpsServer(lc fx.Lifecycle, cfg config.Config, reg *prometheus.Registry, ready readinessChecks, log *slog.Logger) {
	log = log.With("component", "ops")
	srv := &http.Server{
		Handler:           opsHandler(reg, ready.Checks, log),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			var lcfg net.ListenConfig
			ln, err := lcfg.Listen(ctx, "tcp", cfg.OpsAddr)
			if err != nil {
				return fmt.Errorf("ops listener: %w", err)
			}
			log.Info("ops endpoints listening", "addr", ln.Addr().String(), "paths", "/healthz /readyz /metrics")
			go func() {
				defer close(done)
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("ops listener stopped", "error", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			<-done
			return err
		},
	})
}

// opsHandler serves the three ops routes (GET, and HEAD through GET).
func opsHandler(reg *prometheus.Registry, checks []api.ReadinessChecker, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeOpsJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), opsReadinessTimeout)
		defer cancel()
		type result struct {
			Name    string `json:"name"`
			Status  string `json:"status"`
			Message string `json:"message,omitempty"`
		}
		outcomes := api.CheckReadiness(ctx, checks)
		results := make([]result, len(outcomes))
		status := http.StatusOK
		for i, o := range outcomes {
			results[i] = result{Name: o.Name, Status: "ok"}
			if o.Err == nil {
				continue
			}
			status = http.StatusServiceUnavailable
			results[i].Status, results[i].Message = "failed", o.Reason
			log.Warn("readiness check failed", "check", o.Name, "error", o.Err)
		}
		state := "ready"
		if status != http.StatusOK {
			state = "not ready"
		}
		writeOpsJSON(w, status, map[string]any{"status": state, "checks": results})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func writeOpsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

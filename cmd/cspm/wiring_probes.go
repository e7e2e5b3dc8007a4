package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/platform/config"
)

// probesModule serves /healthz, /readyz and /metrics on --probe-addr in a
// process without the api role (a relay, projector or worker process),
// whose API server would otherwise be the only place they are served.
var probesModule = fx.Module("probes", fx.Invoke(registerProbeServer))

// probeEnvelope is the API's envelope, for the same answers as the API's
// probes.
type probeEnvelope struct {
	Success bool           `json:"success"`
	Data    any            `json:"data,omitempty"`
	Error   *api.ErrorBody `json:"error,omitempty"`
}

func registerProbeServer(lc fx.Lifecycle, cfg config.Config, checks readinessChecks, reg *prometheus.Registry, log *slog.Logger) {
	log = log.With("component", "probes")
	write := func(w http.ResponseWriter, status int, body probeEnvelope) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, probeEnvelope{Success: true, Data: map[string]string{"status": "ok"}})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), api.DefaultReadinessTimeout)
		defer cancel()
		errs := make([]error, len(checks.Checks))
		var wg sync.WaitGroup
		for i, c := range checks.Checks {
			wg.Go(func() { errs[i] = c.Ready(ctx) })
		}
		wg.Wait()
		var (
			ok     []api.CheckResult
			failed []api.ErrorDetail
		)
		for i, c := range checks.Checks {
			if errs[i] == nil {
				ok = append(ok, api.CheckResult{Name: c.Name(), Status: "ok"})
				continue
			}
			msg := "failed"
			if nr, isNR := errors.AsType[*api.NotReady](errs[i]); isNR {
				msg = nr.Reason
			} else if errors.Is(errs[i], context.DeadlineExceeded) {
				msg = "timed out"
			}
			failed = append(failed, api.ErrorDetail{Check: c.Name(), Message: msg})
			log.Warn("readiness check failed", "check", c.Name(), "error", errs[i])
		}
		if len(failed) > 0 {
			write(w, http.StatusServiceUnavailable, probeEnvelope{Error: &api.ErrorBody{
				Code: api.CodeNotReady, Message: "not ready", Details: failed}})
			return
		}
		write(w, http.StatusOK, probeEnvelope{Success: true, Data: map[string]any{"status": "ready", "checks": ok}})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.ProbeAddr)
			if err != nil {
				return fmt.Errorf("probe-addr %s: %w", cfg.ProbeAddr, err)
			}
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("probe server stopped", "error", err)
				}
			}()
			log.Info("probes serving", "listen", "http://"+ln.Addr().String(), "paths", "/healthz /readyz /metrics")
			return nil
		},
		OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
	})
}

package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves the registry in the Prometheus text format.
func (s *Server) metricsHandler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}))
}

// healthz is liveness: 200 for as long as the process serves.
func (s *Server) healthz(c echo.Context) error {
	return respond(c, http.StatusOK, map[string]string{"status": "ok"}, Meta{})
}

// maxReadinessReason bounds the reason /readyz gives for one check.
const maxReadinessReason = 1000

// CheckResult is one readiness check in the /readyz answer.
type CheckResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok
}

// readyz runs every readiness check concurrently under one deadline: 200
// when all pass, 503 NOT_READY naming each failing check otherwise, with
// the reason of a *NotReady ("failed" or "timed out" for other errors).
// Every cause is logged.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ReadinessTimeout)
	defer cancel()

	errs := make([]error, len(s.deps.Readiness))
	var wg sync.WaitGroup
	for i, check := range s.deps.Readiness {
		wg.Go(func() { errs[i] = check.Ready(ctx) })
	}
	wg.Wait()

	results := make([]CheckResult, 0, len(errs))
	var failed []ErrorDetail
	for i, check := range s.deps.Readiness {
		if errs[i] == nil {
			results = append(results, CheckResult{Name: check.Name(), Status: "ok"})
			continue
		}
		msg := "failed"
		if nr, ok := errors.AsType[*NotReady](errs[i]); ok {
			msg = nr.Reason
			if len(msg) > maxReadinessReason {
				msg = msg[:maxReadinessReason] + "…"
			}
		} else if errors.Is(errs[i], context.DeadlineExceeded) {
			msg = "timed out"
		}
		failed = append(failed, ErrorDetail{Check: check.Name(), Message: msg})
		s.requestLogger(c).WarnContext(c.Request().Context(), "readiness check failed",
			slog.String("check", check.Name()), slog.Any("error", errs[i]))
	}
	if len(failed) > 0 {
		return &requestError{status: http.StatusServiceUnavailable, body: ErrorBody{
			Code: CodeNotReady, Message: "not ready", Details: failed,
		}}
	}
	return respond(c, http.StatusOK, map[string]any{"status": "ready", "checks": results}, Meta{})
}

// listDatabases lists the database registry.
func (s *Server) listDatabases(c echo.Context) error {
	if err := noParams(c); err != nil {
		return err
	}
	dbs := []Database{}
	if s.deps.Databases != nil {
		dbs = append(dbs, s.deps.Databases.Databases()...)
	}
	return respond(c, http.StatusOK, dbs, Meta{})
}

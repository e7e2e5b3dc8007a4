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

	outcomes := CheckReadiness(ctx, s.deps.Readiness)
	results := make([]CheckResult, 0, len(outcomes))
	var failed []ErrorDetail
	for _, o := range outcomes {
		if o.Err == nil {
			results = append(results, CheckResult{Name: o.Name, Status: "ok"})
			continue
		}
		failed = append(failed, ErrorDetail{Check: o.Name, Message: o.Reason})
		s.requestLogger(c).WarnContext(c.Request().Context(), "readiness check failed",
			slog.String("check", o.Name), slog.Any("error", o.Err))
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

// ReadinessOutcome is one readiness check's result: Err nil when it
// passed, else Reason says why in a line a probe may show (the reason of
// a *NotReady, bounded; "timed out"; "failed").
type ReadinessOutcome struct {
	Name   string
	Err    error
	Reason string
}

// CheckReadiness runs checks concurrently under ctx (the API's /readyz
// and the ops listener's share it).
func CheckReadiness(ctx context.Context, checks []ReadinessChecker) []ReadinessOutcome {
	out := make([]ReadinessOutcome, len(checks))
	var wg sync.WaitGroup
	for i, check := range checks {
		out[i].Name = check.Name()
		wg.Go(func() { out[i].Err = check.Ready(ctx) })
	}
	wg.Wait()
	for i := range out {
		err := out[i].Err
		switch nr, ok := errors.AsType[*NotReady](err); {
		case err == nil:
		case ok:
			out[i].Reason = nr.Reason
			if len(out[i].Reason) > maxReadinessReason {
				out[i].Reason = out[i].Reason[:maxReadinessReason] + "…"
			}
		case errors.Is(err, context.DeadlineExceeded):
			out[i].Reason = "timed out"
		default:
			out[i].Reason = "failed"
		}
	}
	return out
}

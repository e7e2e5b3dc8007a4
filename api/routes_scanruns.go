package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// Scan runs planned with jobs (docs/scan-jobs.md): requested (POST
// /api/v1/scan-runs: targets × tools × regions), cancelled, and read with
// their jobs and progress from scan_runs, scan_jobs and sub_jobs.

// ScanRunService serves the scan-run routes: the scan-run commands of
// commands/orchestration and the scan-run queries of queries/orchestration.
type ScanRunService interface {
	PlanScan(ctx context.Context, m commands.Meta, cmd orchcmd.PlanScan) (commands.Result, error)
	CancelScan(ctx context.Context, m commands.Meta, cmd orchcmd.CancelScan) (commands.Result, error)
	ListScanRuns(ctx context.Context, team string, p queries.Page) (orchquery.ScanList, error)
	GetScanRun(ctx context.Context, team, id string) (orchquery.ScanRunDetail, error)
}

// readsScanRuns are the projections the scan-run routes read.
var readsScanRuns = []string{"orchestration.scan_runs", "orchestration.scan_jobs"}

// scanRunRoutes registers the scan-run routes (routes.go calls it when
// Deps.ScanRuns is set).
func (s *Server) scanRunRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	add(http.MethodPost, v1+"/scan-runs", access.Analyst, TeamCollection, "requestScanRun", s.requestScanRun)
	add(http.MethodPost, v1+"/scan-runs/:id/cancel", access.Analyst, TeamResource, "cancelScanRun", s.cancelScanRun)
	add(http.MethodGet, v1+"/scan-runs", access.Viewer, TeamCollection, "listScanRuns", s.listScanRuns)
	add(http.MethodGet, v1+"/scan-runs/:id", access.Viewer, TeamResource, "getScanRun", s.getScanRun)
}

func (s *Server) requestScanRun(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd orchcmd.PlanScan
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.ScanRuns.PlanScan(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/scan-runs/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) cancelScanRun(c echo.Context) error {
	var cmd orchcmd.CancelScan
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.ScanID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.ScanRuns.CancelScan(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listScanRuns(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsScanRuns)
	if err != nil {
		return err
	}
	list, err := s.deps.ScanRuns.ListScanRuns(c.Request().Context(), principal(c).TeamID, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getScanRun(c echo.Context) error {
	return getOne(c, s, "id", readsScanRuns, s.deps.ScanRuns.GetScanRun)
}

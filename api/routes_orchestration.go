package api

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// The orchestration module's routes: the scan commands
// (commands/orchestration) and the scan queries (queries/orchestration).

// The projections the scan query routes read (see QueryReads).
var (
	readsScans = []string{"orchestration.scan_runs"}
	readsScan  = []string{"orchestration.scan_runs", "orchestration.scan_summaries"}
)

func (s *Server) requestScan(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd orchcmd.RequestScan
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Commands.RequestScan(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/scans/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) startScan(c echo.Context) error {
	var cmd orchcmd.StartScan
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.ScanID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.StartScan(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) completeScan(c echo.Context) error {
	var cmd orchcmd.CompleteScan
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.ScanID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.CompleteScan(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) failScan(c echo.Context) error {
	var cmd orchcmd.FailScan
	meta, err := s.commandInput(c, s.body(), &cmd.ScanID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.FailScan(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listScans(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus, paramAccountID, paramTool})
	if err != nil {
		return err
	}
	var f orchquery.ScanFilter
	if err := textParams(p, textField{paramStatus, &f.Status}, textField{paramAccountID, &f.AccountID}, textField{paramTool, &f.Tool}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsScans)
	if err != nil {
		return err
	}
	list, err := s.deps.Queries.ListScans(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getScan(c echo.Context) error {
	return getOne(c, s, "id", readsScan, s.deps.Queries.GetScan)
}

// readsScanDelta is the projection GET /api/v1/scans/{id}/delta reads.
var readsScanDelta = []string{"orchestration.scan_runs", "orchestration.scan_summaries"}

const paramChange = "change"

func (s *Server) getScanDelta(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramLimit, paramCursor, paramChange})
	if err != nil {
		return err
	}
	var change string
	if err := textParams(p, textField{paramChange, &change}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsScanDelta)
	if err != nil {
		return err
	}
	d, err := s.deps.Queries.ScanDelta(c.Request().Context(), principal(c).TeamID, id, change, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = d.NextCursor
	d.NextCursor = ""
	d.Items = nonNil(d.Items)
	return respond(c, http.StatusOK, d, meta)
}

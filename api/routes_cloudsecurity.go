package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// The cloud-security module's routes: the findings commands
// (commands/cloudsecurity) and the findings query (queries/cloudsecurity).

// readsFindings is the projection GET /api/v1/findings reads (see
// QueryReads).
var readsFindings = []string{"cloudsecurity.findings"}

func (s *Server) raiseFindings(c echo.Context) error {
	var cmd cscmd.RaiseFindings
	meta, err := s.commandInput(c, s.ingestBody(), &cmd.ScanID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.RaiseFindings(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	items := make([]CommandResult, len(res.Items))
	for i, r := range res.Items {
		items[i] = toCommandResult(r)
	}
	markReplay(c, res.Duplicate)
	return respond(c, http.StatusAccepted, BatchCommandResult{Items: items, Position: res.Position}, Meta{Position: res.Position})
}

func (s *Server) resolveFinding(c echo.Context) error {
	var cmd cscmd.ResolveFinding
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.FindingID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.ResolveFinding(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) suppressFinding(c echo.Context) error {
	var cmd cscmd.SuppressFinding
	meta, err := s.commandInput(c, s.body(), &cmd.FindingID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.SuppressFinding(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listFindings(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramSeverity, paramStatus, paramAccountID, paramScanID}, paramSeverity)
	if err != nil {
		return err
	}
	var f csquery.FindingFilter
	if err := textParams(p, textField{paramStatus, &f.Status}, textField{paramAccountID, &f.AccountID}, textField{paramScanID, &f.ScanID}); err != nil {
		return err
	}
	if f.Severity, err = p.list(paramSeverity); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsFindings)
	if err != nil {
		return err
	}
	list, err := s.deps.Queries.ListFindings(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

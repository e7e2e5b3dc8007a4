package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// The cloud-security module's routes: the findings commands
// (commands/cloudsecurity) and the findings query (queries/cloudsecurity);
// at the end, the muting rules (commands and queries).

// readsFindings is the projection the findings routes read (see
// QueryReads); GET /api/v1/findings reads the risk acceptances too
// (accepted).
var (
	readsFindings         = []string{"cloudsecurity.findings"}
	readsFindingsAccepted = []string{"cloudsecurity.findings", "cloudsecurity.acceptances"}
)

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
	p, err := readParams(c, []string{paramLimit, paramCursor, paramSeverity, paramStatus, paramAccountID, paramScanID,
		paramMuted, paramSuppressed}, paramSeverity)
	if err != nil {
		return err
	}
	var f csquery.FindingFilter
	if err := textParams(p, textField{paramStatus, &f.Status}, textField{paramAccountID, &f.AccountID}, textField{paramScanID, &f.ScanID}); err != nil {
		return err
	}
	if f.Muted, err = p.flag(paramMuted); err != nil {
		return err
	}
	if f.Suppressed, err = p.flag(paramSuppressed); err != nil {
		return err
	}
	if f.Severity, err = p.list(paramSeverity); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsFindingsAccepted)
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

// Muting rules: created under a generated id (POST), replaced whole (PUT),
// ended (DELETE); read from the findings projection's muting_rules.

// readsMutingRules is the projection the muting rule routes read (see
// QueryReads).
var readsMutingRules = []string{"cloudsecurity.findings"}

func (s *Server) createMutingRule(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd cscmd.CreateMutingRule
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Commands.CreateMutingRule(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/muting-rules/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) changeMutingRule(c echo.Context) error {
	var cmd cscmd.ChangeMutingRule
	meta, err := s.commandInput(c, s.body(), &cmd.RuleID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.ChangeMutingRule(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) removeMutingRule(c echo.Context) error {
	var cmd cscmd.RemoveMutingRule
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.RuleID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Commands.RemoveMutingRule(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listMutingRules(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus})
	if err != nil {
		return err
	}
	var f csquery.MutingRuleFilter
	if err := textParams(p, textField{paramStatus, &f.Status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsMutingRules)
	if err != nil {
		return err
	}
	list, err := s.deps.Queries.ListMutingRules(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getMutingRule(c echo.Context) error {
	return getOne(c, s, "id", readsMutingRules, s.deps.Queries.GetMutingRule)
}

// Query parameters of POST /api/v1/imports.
const (
	paramFormat   = "format"
	paramFileName = "file_name"
	paramForce    = "force" // a KEV feed: lift the mass-withdrawal guard
	paramTable    = "table" // inventory formats (docs/assets.md)
	paramSync     = "sync"
)

// importReport streams the request body, a scanner's report, into the
// import command: the body is the report as the tool wrote it (not JSON
// of ours), up to ImportBodyLimit bytes, within ImportTimeout. Its format
// is ?format=, else the Content-Type's, else detected from its first
// bytes.
func (s *Server) importReport(c echo.Context) error {
	p, err := checkParams(c, []string{paramFormat, paramScanID, paramFileName, paramTable, paramSync, paramForce}, nil)
	if err != nil {
		return err
	}
	var cmd cscmd.ImportReport
	if err := textParams(p, textField{paramFormat, &cmd.Format}, textField{paramScanID, &cmd.ScanID}, textField{paramFileName, &cmd.FileName},
		textField{paramTable, &cmd.Table}, textField{paramSync, &cmd.Sync}); err != nil {
		return err
	}
	if err := feedImportParams(c, p, &cmd); err != nil {
		return err
	}
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength > s.cfg.ImportBodyLimit {
		return payloadTooLarge(s.cfg.ImportBodyLimit)
	}
	// The connection's deadlines follow the route's, not the server's.
	rc := http.NewResponseController(c.Response().Writer)
	deadline := time.Now().Add(s.cfg.ImportTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline.Add(5 * time.Second))
	cmd.ContentType = req.Header.Get(echo.HeaderContentType)
	cmd.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.ImportBodyLimit)

	res, err := s.deps.Commands.ImportReport(req.Context(), meta, cmd)
	switch {
	case res.ArtifactID != "": // a vulnerability scan (Trivy): what it scanned
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/images/"+res.ArtifactID)
	case res.ImportID != "": // a rejection too is an import, recorded (inventories too)
		c.Response().Header().Set(echo.HeaderLocation, importLocation(res))
	}
	markReplay(c, res.Duplicate)
	if err != nil {
		return err
	}
	return respond(c, http.StatusAccepted, res, Meta{Position: res.Position})
}

// The finding history and the imports are in the findings projection's
// read model.
func (s *Server) getFindingHistory(c echo.Context) error {
	return getOne(c, s, "id", readsFindings, s.deps.Queries.FindingHistory)
}

func (s *Server) listImports(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsFindings)
	if err != nil {
		return err
	}
	list, err := s.deps.Queries.ListImports(c.Request().Context(), principal(c).TeamID, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getImport(c echo.Context) error {
	return getOne(c, s, "id", readsFindings, s.deps.Queries.GetImport)
}

package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// Compliance (docs/compliance.md): the team's overview, a framework's
// requirements now, as of a time or of a scan, and what changed between
// two evaluations. Every answer states the score's formula or is paged;
// none grows with the team's findings.

// readsCompliance is the projection the compliance routes read (see
// QueryReads).
var readsCompliance = []string{"cloudsecurity.compliance"}

// Query parameters of the compliance routes.
const (
	paramFramework   = "framework"
	paramAccount     = "account"
	paramFrom        = "from"
	paramTo          = "to"
	paramRequirement = "requirement"
)

func (s *Server) complianceOverview(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramFramework})
	if err != nil {
		return err
	}
	var fw string
	if err := textParams(p, textField{paramFramework, &fw}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsCompliance)
	if err != nil {
		return err
	}
	ov, err := s.deps.Queries.GetComplianceOverview(c.Request().Context(), principal(c).TeamID, fw, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = ov.NextCursor
	return respond(c, http.StatusOK, ov, meta)
}

func (s *Server) frameworkCompliance(c echo.Context) error {
	fw, err := pathID(c, paramFramework)
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramLimit, paramCursor, paramAccount, paramAsOf, paramScanID})
	if err != nil {
		return err
	}
	q := csquery.FrameworkQuery{Framework: fw}
	var asOf string
	if err := textParams(p, textField{paramAccount, &q.Account}, textField{paramAsOf, &asOf}, textField{paramScanID, &q.ScanID}); err != nil {
		return err
	}
	if asOf != "" {
		if q.AsOf, err = time.Parse(time.RFC3339Nano, asOf); err != nil {
			return invalidInput(InQuery, paramAsOf, "must be an RFC 3339 time, e.g. 2025-06-01T12:00:00Z")
		}
	}
	page, meta, err := s.beginList(c, p, readsCompliance)
	if err != nil {
		return err
	}
	q.Page = page
	f, err := s.deps.Queries.GetFrameworkCompliance(c.Request().Context(), principal(c).TeamID, q)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = f.NextCursor
	return respond(c, http.StatusOK, f, meta)
}

func (s *Server) complianceChanges(c echo.Context) error {
	fw, err := pathID(c, paramFramework)
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramLimit, paramCursor, paramAccount, paramFrom, paramTo, paramRequirement})
	if err != nil {
		return err
	}
	q := csquery.ChangesQuery{Framework: fw}
	if err := textParams(p, textField{paramAccount, &q.Account}, textField{paramFrom, &q.From}, textField{paramTo, &q.To},
		textField{paramRequirement, &q.Requirement}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsCompliance)
	if err != nil {
		return err
	}
	q.Page = page
	ch, err := s.deps.Queries.GetComplianceChanges(c.Request().Context(), principal(c).TeamID, q)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = ch.NextCursor
	return respond(c, http.StatusOK, ch, meta)
}

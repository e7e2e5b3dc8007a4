package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// The projections each query route reads, as the projector runtime names
// them (projections/orchestration, projections/cloudsecurity,
// projections/platform; a test checks they are registered). min_position
// waits for these, and meta.position is how far they all are.
var (
	readsScans     = []string{"orchestration.scan_runs"}
	readsScan      = []string{"orchestration.scan_runs", "orchestration.scan_summaries"}
	readsFindings  = []string{"cloudsecurity.findings"}
	readsDashboard = []string{"platform.dashboard"}
)

// QueryReads returns, for each query route ("GET /api/v1/scans"), the
// projections it reads.
func QueryReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/scans":             readsScans,
		"GET /api/v1/scans/:id":         readsScan,
		"GET /api/v1/findings":          readsFindings,
		"GET /api/v1/dashboard/summary": readsDashboard,
		"GET /api/v1/audit/log":         readsAuditLog,
	}
}

// Query parameters of the list routes.
const (
	paramStatus    = "status"
	paramAccountID = "account_id"
	paramTool      = "tool"
	paramScanID    = "scan_id"
	paramSeverity  = "severity"
)

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
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, nil, readsScan)
	if err != nil {
		return err
	}
	scan, err := s.deps.Queries.GetScan(c.Request().Context(), principal(c).TeamID, id)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, scan, meta)
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

func (s *Server) dashboardSummary(c echo.Context) error {
	meta, err := s.beginRead(c, nil, readsDashboard)
	if err != nil {
		return err
	}
	d, err := s.deps.Queries.DashboardSummary(c.Request().Context(), principal(c).TeamID)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, d, meta)
}

// beginRead validates the query string of a route whose only parameter
// is min_position (p == nil) or takes p as read, then waits for reads to
// pass min_position (read your writes) and returns the answer's meta.
func (s *Server) beginRead(c echo.Context, p *params, reads []string) (Meta, error) {
	if p == nil {
		read, err := readParams(c, nil)
		if err != nil {
			return Meta{}, err
		}
		p = &read
	}
	minPos, err := p.minPosition(c)
	if err != nil {
		return Meta{}, err
	}
	return s.readMeta(c, reads, minPos)
}

// beginList is beginRead for a list: it also reads the page.
func (s *Server) beginList(c echo.Context, p params, reads []string) (queries.Page, Meta, error) {
	limit, cursor, err := p.page()
	if err != nil {
		return queries.Page{}, Meta{}, err
	}
	meta, err := s.beginRead(c, &p, reads)
	if err != nil {
		return queries.Page{}, Meta{}, err
	}
	meta.kind = metaList
	return queries.Page{Limit: limit, Cursor: cursor}, meta, nil
}

// textField is a single-valued text filter and where it goes.
type textField struct {
	name string
	dst  *string
}

// textParams reads text filters into their fields, in order.
func textParams(p params, fields ...textField) error {
	for _, f := range fields {
		v, err := p.text(f.name)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/domain/access"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// SLA clocks (docs/sla.md, decision 56): a team's policy, its breaches and
// its summary.

// SLAService is what the SLA routes call: *commands/vulnerabilities.SLAHandlers'
// command and *queries/vulnerabilities.SLAService's queries.
type SLAService interface {
	SetSLAPolicy(ctx context.Context, m commands.Meta, cmd vulncmd.SetSLAPolicy) (commands.Result, error)
	GetPolicy(ctx context.Context, team string) (vulnquery.SLAPolicyView, error)
	ListBreaches(ctx context.Context, team string, f vulnquery.BreachFilter, p queries.Page) (vulnquery.BreachList, error)
	Summary(ctx context.Context, team string) (vulnquery.SLASummary, error)
}

// readsSLA is the projection the SLA routes read.
var readsSLA = []string{"vulnerabilities.sla"}

// SLAReads are the projections each SLA query route reads.
func SLAReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/sla/policy":   readsSLA,
		"GET /api/v1/sla/breaches": readsSLA,
		"GET /api/v1/sla/summary":  readsSLA,
	}
}

const paramModule = "module"

// slaRoutes adds the SLA routes to the table (routes.go).
func (s *Server) slaRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	add(http.MethodPut, v1+"/sla/policy", access.Admin, TeamCollection, "setSLAPolicy", s.setSLAPolicy)
	add(http.MethodGet, v1+"/sla/policy", access.Viewer, TeamCollection, "getSLAPolicy", s.getSLAPolicy)
	add(http.MethodGet, v1+"/sla/breaches", access.Viewer, TeamCollection, "listSLABreaches", s.listSLABreaches)
	add(http.MethodGet, v1+"/sla/summary", access.Viewer, TeamCollection, "slaSummary", s.slaSummary)
}

func (s *Server) setSLAPolicy(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var p vuln.SLAPolicy
	if err := decodeBody(c, s.body(), &p); err != nil {
		return err
	}
	res, err := s.deps.SLA.SetSLAPolicy(c.Request().Context(), meta, vulncmd.SetSLAPolicy{Policy: p})
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) getSLAPolicy(c echo.Context) error {
	meta, err := s.beginRead(c, nil, readsSLA)
	if err != nil {
		return err
	}
	p, err := s.deps.SLA.GetPolicy(c.Request().Context(), principal(c).TeamID)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, p, meta)
}

func (s *Server) listSLABreaches(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramModule, paramSeverity, paramKEV})
	if err != nil {
		return err
	}
	var f vulnquery.BreachFilter
	if err := textParams(p, textField{paramModule, &f.Module}, textField{paramSeverity, &f.Severity}); err != nil {
		return err
	}
	if f.KEV, err = p.flag(paramKEV); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsSLA)
	if err != nil {
		return err
	}
	list, err := s.deps.SLA.ListBreaches(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) slaSummary(c echo.Context) error {
	meta, err := s.beginRead(c, nil, readsSLA)
	if err != nil {
		return err
	}
	sum, err := s.deps.SLA.Summary(c.Request().Context(), principal(c).TeamID)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, sum, meta)
}

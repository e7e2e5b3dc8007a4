package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	riskcmd "github.com/cspm-es/cspm-es/commands/risk"
	"github.com/cspm-es/cspm-es/domain/access"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/queries"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// Risk management (docs/risk-management.md, decisions 66-68): the team's
// risk matrix, the register and its treatment plans, KRIs and their
// series, risk acceptances (approved by an admin, decision 66).

// RiskService is what the risk routes call: the commands of
// *commands/risk.Handlers and the queries of *queries/risk.Service.
type RiskService interface {
	DefineMatrix(ctx context.Context, m commands.Meta, cmd riskcmd.DefineMatrix) (commands.Result, error)
	IdentifyRisk(ctx context.Context, m commands.Meta, cmd riskcmd.IdentifyRisk) (commands.Result, error)
	DescribeRisk(ctx context.Context, m commands.Meta, cmd riskcmd.DescribeRisk) (commands.Result, error)
	ScoreRisk(ctx context.Context, m commands.Meta, cmd riskcmd.ScoreRisk) (commands.Result, error)
	CloseRisk(ctx context.Context, m commands.Meta, cmd riskcmd.CloseRisk) (commands.Result, error)
	PlanTreatment(ctx context.Context, m commands.Meta, cmd riskcmd.PlanTreatment) (commands.Result, error)
	UpdateTreatmentTask(ctx context.Context, m commands.Meta, cmd riskcmd.UpdateTreatmentTask) (commands.Result, error)
	DefineKRI(ctx context.Context, m commands.Meta, cmd riskcmd.DefineKRI) (commands.Result, error)
	RedefineKRI(ctx context.Context, m commands.Meta, cmd riskcmd.RedefineKRI) (commands.Result, error)
	MeasureKRI(ctx context.Context, m commands.Meta, cmd riskcmd.MeasureKRI) (commands.Result, error)
	RetireKRI(ctx context.Context, m commands.Meta, cmd riskcmd.RetireKRI) (commands.Result, error)
	AcceptRisk(ctx context.Context, m commands.Meta, cmd riskcmd.AcceptRisk) (commands.Result, error)
	RevokeAcceptance(ctx context.Context, m commands.Meta, cmd riskcmd.RevokeAcceptance) (commands.Result, error)

	GetMatrix(ctx context.Context, team string) (riskquery.Matrix, error)
	ListRisks(ctx context.Context, team string, f riskquery.RiskFilter, p queries.Page) (riskquery.RiskList, error)
	GetRisk(ctx context.Context, team, id string) (riskquery.Risk, error)
	ListKRIs(ctx context.Context, team string, p queries.Page) (riskquery.KRIList, error)
	GetKRI(ctx context.Context, team, id string) (riskquery.KRI, error)
	KRISeries(ctx context.Context, team, id string, q riskquery.SeriesQuery) (riskquery.Series, error)
	ListAcceptances(ctx context.Context, team string, f riskquery.AcceptanceFilter, p queries.Page) (riskquery.AcceptanceList, error)
	GetAcceptance(ctx context.Context, team, id string) (riskquery.Acceptance, error)
}

// The projections the risk routes read.
var (
	readsRisk     = []string{"risk.register"}
	readsRiskKRIs = []string{"risk.register", "risk.kris"}
)

const (
	paramGranularity = "granularity"
	paramItemID      = "item_id"
)

// riskRoutes adds the risk-management routes to the table (routes.go).
func (s *Server) riskRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	viewer, analyst, admin := access.Viewer, access.Analyst, access.Admin
	add(http.MethodPut, v1+"/risk-matrix", admin, TeamCollection, "defineRiskMatrix", s.defineRiskMatrix)
	add(http.MethodGet, v1+"/risk-matrix", viewer, TeamCollection, "getRiskMatrix", s.getRiskMatrix)
	add(http.MethodPost, v1+"/risks", analyst, TeamCollection, "identifyRisk", s.identifyRisk)
	add(http.MethodGet, v1+"/risks", viewer, TeamCollection, "listRisks", s.listRisks)
	add(http.MethodGet, v1+"/risks/:id", viewer, TeamResource, "getRisk", s.getRisk)
	add(http.MethodPut, v1+"/risks/:id", analyst, TeamResource, "describeRisk", s.describeRisk)
	add(http.MethodPost, v1+"/risks/:id/scores", analyst, TeamResource, "scoreRisk", s.scoreRisk)
	add(http.MethodPost, v1+"/risks/:id/close", analyst, TeamResource, "closeRisk", s.closeRisk)
	add(http.MethodPost, v1+"/risks/:id/treatment-plans", analyst, TeamResource, "planTreatment", s.planTreatment)
	add(http.MethodPut, v1+"/risks/:id/treatment-plans/:plan_id/tasks/:task_id", analyst, TeamResource, "updateTreatmentTask", s.updateTreatmentTask)
	add(http.MethodPost, v1+"/kris", analyst, TeamCollection, "defineKRI", s.defineKRI)
	add(http.MethodGet, v1+"/kris", viewer, TeamCollection, "listKRIs", s.listKRIs)
	add(http.MethodGet, v1+"/kris/:id", viewer, TeamResource, "getKRI", s.getKRI)
	add(http.MethodPut, v1+"/kris/:id", analyst, TeamResource, "redefineKRI", s.redefineKRI)
	add(http.MethodDelete, v1+"/kris/:id", analyst, TeamResource, "retireKRI", s.retireKRI)
	add(http.MethodPost, v1+"/kris/:id/measurements", analyst, TeamResource, "measureKRI", s.measureKRI)
	add(http.MethodGet, v1+"/kris/:id/series", viewer, TeamResource, "getKRISeries", s.getKRISeries)
	// Accepting a risk is an approval: admin only (decision 66).
	add(http.MethodPost, v1+"/risk-acceptances", admin, TeamCollection, "acceptRisk", s.acceptRisk)
	add(http.MethodGet, v1+"/risk-acceptances", viewer, TeamCollection, "listRiskAcceptances", s.listRiskAcceptances)
	add(http.MethodGet, v1+"/risk-acceptances/:id", viewer, TeamResource, "getRiskAcceptance", s.getRiskAcceptance)
	add(http.MethodDelete, v1+"/risk-acceptances/:id", admin, TeamResource, "revokeRiskAcceptance", s.revokeRiskAcceptance)
}

// created answers a command that created a resource at path+id.
func created(c echo.Context, path string, res commands.Result) error {
	c.Response().Header().Set(echo.HeaderLocation, path+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) defineRiskMatrix(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var m rdomain.MatrixSpec
	if err := decodeBody(c, s.body(), &m); err != nil {
		return err
	}
	res, err := s.deps.Risk.DefineMatrix(c.Request().Context(), meta, riskcmd.DefineMatrix{MatrixSpec: m})
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) getRiskMatrix(c echo.Context) error {
	meta, err := s.beginRead(c, nil, readsRisk)
	if err != nil {
		return err
	}
	m, err := s.deps.Risk.GetMatrix(c.Request().Context(), principal(c).TeamID)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, m, meta)
}

func (s *Server) identifyRisk(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd riskcmd.IdentifyRisk
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Risk.IdentifyRisk(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return created(c, "/api/v1/risks/", res)
}

func (s *Server) listRisks(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus})
	if err != nil {
		return err
	}
	var f riskquery.RiskFilter
	if err := textParams(p, textField{paramStatus, &f.Status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsRisk)
	if err != nil {
		return err
	}
	list, err := s.deps.Risk.ListRisks(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getRisk(c echo.Context) error {
	return getOne(c, s, "id", readsRisk, s.deps.Risk.GetRisk)
}

func (s *Server) describeRisk(c echo.Context) error {
	var cmd riskcmd.DescribeRisk
	meta, err := s.commandInput(c, s.body(), &cmd.RiskID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Risk.DescribeRisk(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) scoreRisk(c echo.Context) error {
	var cmd riskcmd.ScoreRisk
	meta, err := s.commandInput(c, s.body(), &cmd.RiskID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Risk.ScoreRisk(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) closeRisk(c echo.Context) error {
	var cmd riskcmd.CloseRisk
	meta, err := s.commandInput(c, s.body(), &cmd.RiskID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Risk.CloseRisk(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) planTreatment(c echo.Context) error {
	var cmd riskcmd.PlanTreatment
	meta, err := s.commandInput(c, s.body(), &cmd.RiskID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Risk.PlanTreatment(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) updateTreatmentTask(c echo.Context) error {
	var cmd riskcmd.UpdateTreatmentTask
	plan, err := pathID(c, "plan_id")
	if err != nil {
		return err
	}
	task, err := pathID(c, "task_id")
	if err != nil {
		return err
	}
	meta, err := s.commandInput(c, s.body(), &cmd.RiskID, &cmd)
	if err != nil {
		return err
	}
	cmd.PlanID, cmd.TaskID = plan, task
	res, err := s.deps.Risk.UpdateTreatmentTask(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) defineKRI(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var spec rdomain.KRISpec
	if err := decodeBody(c, s.body(), &spec); err != nil {
		return err
	}
	res, err := s.deps.Risk.DefineKRI(c.Request().Context(), meta, riskcmd.DefineKRI{KRISpec: spec})
	if err != nil {
		return err
	}
	return created(c, "/api/v1/kris/", res)
}

func (s *Server) redefineKRI(c echo.Context) error {
	var cmd riskcmd.RedefineKRI
	var spec rdomain.KRISpec
	meta, err := s.commandInput(c, s.body(), &cmd.KRIID, &spec)
	if err != nil {
		return err
	}
	cmd.KRISpec = spec
	res, err := s.deps.Risk.RedefineKRI(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) retireKRI(c echo.Context) error {
	var cmd riskcmd.RetireKRI
	var none struct{}
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.KRIID, &none)
	if err != nil {
		return err
	}
	res, err := s.deps.Risk.RetireKRI(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) measureKRI(c echo.Context) error {
	var cmd riskcmd.MeasureKRI
	meta, err := s.commandInput(c, s.body(), &cmd.KRIID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Risk.MeasureKRI(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listKRIs(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsRiskKRIs)
	if err != nil {
		return err
	}
	list, err := s.deps.Risk.ListKRIs(c.Request().Context(), principal(c).TeamID, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getKRI(c echo.Context) error {
	return getOne(c, s, "id", readsRiskKRIs, s.deps.Risk.GetKRI)
}

// getKRISeries answers ?from&to (RFC 3339) &granularity=day|week|month.
func (s *Server) getKRISeries(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramFrom, paramTo, paramGranularity})
	if err != nil {
		return err
	}
	var from, to string
	var q riskquery.SeriesQuery
	if err := textParams(p, textField{paramFrom, &from}, textField{paramTo, &to}, textField{paramGranularity, &q.Granularity}); err != nil {
		return err
	}
	for _, t := range []struct {
		name, raw string
		dst       *time.Time
	}{{paramFrom, from, &q.From}, {paramTo, to, &q.To}} {
		if t.raw == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339Nano, t.raw); err != nil {
			return invalidInput(InQuery, t.name, "must be an RFC 3339 time, e.g. 2025-06-01T00:00:00Z")
		}
	}
	meta, err := s.beginRead(c, &p, readsRiskKRIs)
	if err != nil {
		return err
	}
	series, err := s.deps.Risk.KRISeries(c.Request().Context(), principal(c).TeamID, id, q)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, series, meta)
}

func (s *Server) acceptRisk(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd riskcmd.AcceptRisk
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Risk.AcceptRisk(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return created(c, "/api/v1/risk-acceptances/", res)
}

func (s *Server) revokeRiskAcceptance(c echo.Context) error {
	var cmd riskcmd.RevokeAcceptance
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.AcceptanceID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Risk.RevokeAcceptance(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listRiskAcceptances(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus, paramItemID})
	if err != nil {
		return err
	}
	var f riskquery.AcceptanceFilter
	if err := textParams(p, textField{paramStatus, &f.Status}, textField{paramItemID, &f.ItemID}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsRisk)
	if err != nil {
		return err
	}
	list, err := s.deps.Risk.ListAcceptances(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getRiskAcceptance(c echo.Context) error {
	return getOne(c, s, "id", readsRisk, s.deps.Risk.GetAcceptance)
}

package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	aicmd "github.com/cspm-es/cspm-es/commands/aigovernance"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	aiquery "github.com/cspm-es/cspm-es/queries/aigovernance"
)

// AI governance (docs/ai-governance.md, decisions 77-78): the team's
// model registry, EU AI Act classification and obligations, bias tests
// and their results over time, model incidents.

// AIGovernanceService is what the AI governance routes call: the
// commands of *commands/aigovernance.Handlers and the queries of
// *queries/aigovernance.Service.
type AIGovernanceService interface {
	RegisterModel(ctx context.Context, m commands.Meta, cmd aicmd.RegisterModel) (commands.Result, error)
	ReleaseModelVersion(ctx context.Context, m commands.Meta, cmd aicmd.ReleaseModelVersion) (commands.Result, error)
	ChangeModelStatus(ctx context.Context, m commands.Meta, cmd aicmd.ChangeModelStatus) (commands.Result, error)
	LinkModelAssets(ctx context.Context, m commands.Meta, cmd aicmd.ModelAssets) (commands.Result, error)
	UnlinkModelAssets(ctx context.Context, m commands.Meta, cmd aicmd.ModelAssets) (commands.Result, error)
	RetireModel(ctx context.Context, m commands.Meta, cmd aicmd.RetireModel) (commands.Result, error)
	ClassifyModel(ctx context.Context, m commands.Meta, cmd aicmd.ClassifyModel) (commands.Result, error)
	DeclareTransparency(ctx context.Context, m commands.Meta, cmd aicmd.DeclareTransparency) (commands.Result, error)
	DefineBiasTest(ctx context.Context, m commands.Meta, cmd aicmd.DefineBiasTest) (commands.Result, error)
	RecordBiasRun(ctx context.Context, m commands.Meta, cmd aicmd.RecordBiasRun) (commands.Result, error)
	ReportIncident(ctx context.Context, m commands.Meta, cmd aicmd.ReportIncident) (commands.Result, error)
	ChangeIncidentStatus(ctx context.Context, m commands.Meta, cmd aicmd.ChangeIncidentStatus) (commands.Result, error)

	ListModels(ctx context.Context, team, class, status string, p queries.Page) (aiquery.ModelList, error)
	ModelsByClass(ctx context.Context, team string) (map[string]int64, error)
	GetModel(ctx context.Context, team, id string) (aiquery.ModelDetail, error)
	ListObligations(ctx context.Context, team, class string, p queries.Page) (aiquery.ObligationList, error)
	Obligations(ctx context.Context, team, id string) (aiquery.ModelObligations, error)
	ListBiasTests(ctx context.Context, team, model string, p queries.Page) (aiquery.BiasTestList, error)
	BiasResults(ctx context.Context, team, id string) (aiquery.BiasResults, error)
	ListIncidents(ctx context.Context, team, model, status string, p queries.Page) (aiquery.IncidentList, error)
}

// The projections the AI governance routes read.
var (
	readsAIRegistry    = []string{"aigovernance.registry"}
	readsAIObligations = []string{"aigovernance.obligations"}
)

// AIGovernanceReads are the projections each AI governance query route reads.
func AIGovernanceReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/ai/models":                 readsAIRegistry,
		"GET /api/v1/ai/risk-classes":           readsAIRegistry,
		"GET /api/v1/ai/models/:id":             readsAIRegistry,
		"GET /api/v1/ai/obligations":            readsAIObligations,
		"GET /api/v1/ai/models/:id/obligations": readsAIObligations,
		"GET /api/v1/ai/bias-tests":             readsAIRegistry,
		"GET /api/v1/ai/bias-tests/:id/results": readsAIRegistry,
		"GET /api/v1/ai/incidents":              readsAIRegistry,
	}
}

const (
	paramRiskClass = "risk_class"
	paramModelID   = "model_id"
)

// aiGovernanceRoutes adds the AI governance routes to the table (routes.go).
func (s *Server) aiGovernanceRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const ai = "/api/v1/ai"
	add(http.MethodPost, ai+"/models", access.Analyst, TeamCollection, "registerModel", s.registerModel)
	add(http.MethodGet, ai+"/models", access.Viewer, TeamCollection, "listModels", s.listModels)
	add(http.MethodGet, ai+"/risk-classes", access.Viewer, TeamCollection, "modelsByRiskClass", s.modelsByRiskClass)
	add(http.MethodGet, ai+"/models/:id", access.Viewer, TeamResource, "getModel", s.getModel)
	add(http.MethodPost, ai+"/models/:id/versions", access.Analyst, TeamResource, "releaseModelVersion", s.releaseModelVersion)
	add(http.MethodPost, ai+"/models/:id/status", access.Analyst, TeamResource, "changeModelStatus", s.changeModelStatus)
	add(http.MethodPost, ai+"/models/:id/assets", access.Analyst, TeamResource, "linkModelAssets", s.linkModelAssets)
	add(http.MethodPost, ai+"/models/:id/assets/unlink", access.Analyst, TeamResource, "unlinkModelAssets", s.unlinkModelAssets)
	add(http.MethodPost, ai+"/models/:id/retire", access.Analyst, TeamResource, "retireModel", s.retireModel)
	add(http.MethodPost, ai+"/models/:id/classification", access.Analyst, TeamResource, "classifyModel", s.classifyModel)
	add(http.MethodPost, ai+"/models/:id/transparency", access.Analyst, TeamResource, "declareTransparency", s.declareTransparency)
	add(http.MethodGet, ai+"/models/:id/obligations", access.Viewer, TeamResource, "modelObligations", s.modelObligations)
	add(http.MethodGet, ai+"/obligations", access.Viewer, TeamCollection, "listObligations", s.listObligations)
	add(http.MethodPost, ai+"/bias-tests", access.Analyst, TeamCollection, "defineBiasTest", s.defineBiasTest)
	add(http.MethodGet, ai+"/bias-tests", access.Viewer, TeamCollection, "listBiasTests", s.listBiasTests)
	add(http.MethodPost, ai+"/bias-tests/:id/runs", access.Analyst, TeamResource, "recordBiasRun", s.recordBiasRun)
	add(http.MethodGet, ai+"/bias-tests/:id/results", access.Viewer, TeamResource, "biasResults", s.biasResults)
	add(http.MethodPost, ai+"/incidents", access.Analyst, TeamCollection, "reportIncident", s.reportIncident)
	add(http.MethodGet, ai+"/incidents", access.Viewer, TeamCollection, "listIncidents", s.listIncidents)
	add(http.MethodPost, ai+"/incidents/:id/status", access.Analyst, TeamResource, "changeIncidentStatus", s.changeIncidentStatus)
}

// aiCreate runs a command that creates a resource (201, Location).
func aiCreate[C any](s *Server, c echo.Context, location string, run func(context.Context, commands.Meta, C) (commands.Result, error)) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd C
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := run(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, location+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

// aiUpdate runs a command on the resource of the path's id (202).
func aiUpdate[C any](s *Server, c echo.Context, rule bodyRule, id func(*C) *string, run func(context.Context, commands.Meta, C) (commands.Result, error)) error {
	var cmd C
	meta, err := s.commandInput(c, rule, id(&cmd), &cmd)
	if err != nil {
		return err
	}
	res, err := run(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) registerModel(c echo.Context) error {
	return aiCreate(s, c, "/api/v1/ai/models/", s.deps.AIGovernance.RegisterModel)
}

func (s *Server) defineBiasTest(c echo.Context) error {
	return aiCreate(s, c, "/api/v1/ai/bias-tests/", s.deps.AIGovernance.DefineBiasTest)
}

func (s *Server) reportIncident(c echo.Context) error {
	return aiCreate(s, c, "/api/v1/ai/incidents/", s.deps.AIGovernance.ReportIncident)
}

func (s *Server) releaseModelVersion(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.ReleaseModelVersion) *string { return &x.ModelID }, s.deps.AIGovernance.ReleaseModelVersion)
}

func (s *Server) changeModelStatus(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.ChangeModelStatus) *string { return &x.ModelID }, s.deps.AIGovernance.ChangeModelStatus)
}

func (s *Server) linkModelAssets(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.ModelAssets) *string { return &x.ModelID }, s.deps.AIGovernance.LinkModelAssets)
}

func (s *Server) unlinkModelAssets(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.ModelAssets) *string { return &x.ModelID }, s.deps.AIGovernance.UnlinkModelAssets)
}

func (s *Server) retireModel(c echo.Context) error {
	return aiUpdate(s, c, s.optionalBody(), func(x *aicmd.RetireModel) *string { return &x.ModelID }, s.deps.AIGovernance.RetireModel)
}

func (s *Server) classifyModel(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.ClassifyModel) *string { return &x.ModelID }, s.deps.AIGovernance.ClassifyModel)
}

func (s *Server) declareTransparency(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.DeclareTransparency) *string { return &x.ModelID }, s.deps.AIGovernance.DeclareTransparency)
}

func (s *Server) recordBiasRun(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.RecordBiasRun) *string { return &x.TestID }, s.deps.AIGovernance.RecordBiasRun)
}

func (s *Server) changeIncidentStatus(c echo.Context) error {
	return aiUpdate(s, c, s.body(), func(x *aicmd.ChangeIncidentStatus) *string { return &x.IncidentID }, s.deps.AIGovernance.ChangeIncidentStatus)
}

func (s *Server) listModels(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramRiskClass, paramStatus})
	if err != nil {
		return err
	}
	var class, status string
	if err := textParams(p, textField{paramRiskClass, &class}, textField{paramStatus, &status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAIRegistry)
	if err != nil {
		return err
	}
	list, err := s.deps.AIGovernance.ListModels(c.Request().Context(), principal(c).TeamID, class, status, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) modelsByRiskClass(c echo.Context) error {
	meta, err := s.beginRead(c, nil, readsAIRegistry)
	if err != nil {
		return err
	}
	counts, err := s.deps.AIGovernance.ModelsByClass(c.Request().Context(), principal(c).TeamID)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, counts, meta)
}

// aiRead runs a read of one resource of the caller's team.
func (s *Server) aiRead(c echo.Context, reads []string, read func(ctx context.Context, team, id string) (any, error)) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, nil, reads)
	if err != nil {
		return err
	}
	v, err := read(c.Request().Context(), principal(c).TeamID, id)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, v, meta)
}

func (s *Server) getModel(c echo.Context) error {
	return s.aiRead(c, readsAIRegistry, func(ctx context.Context, team, id string) (any, error) {
		return s.deps.AIGovernance.GetModel(ctx, team, id)
	})
}

func (s *Server) modelObligations(c echo.Context) error {
	return s.aiRead(c, readsAIObligations, func(ctx context.Context, team, id string) (any, error) {
		return s.deps.AIGovernance.Obligations(ctx, team, id)
	})
}

func (s *Server) biasResults(c echo.Context) error {
	return s.aiRead(c, readsAIRegistry, func(ctx context.Context, team, id string) (any, error) {
		return s.deps.AIGovernance.BiasResults(ctx, team, id)
	})
}

func (s *Server) listObligations(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramRiskClass})
	if err != nil {
		return err
	}
	var class string
	if err := textParams(p, textField{paramRiskClass, &class}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAIObligations)
	if err != nil {
		return err
	}
	list, err := s.deps.AIGovernance.ListObligations(c.Request().Context(), principal(c).TeamID, class, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) listBiasTests(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramModelID})
	if err != nil {
		return err
	}
	var model string
	if err := textParams(p, textField{paramModelID, &model}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAIRegistry)
	if err != nil {
		return err
	}
	list, err := s.deps.AIGovernance.ListBiasTests(c.Request().Context(), principal(c).TeamID, model, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) listIncidents(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramModelID, paramStatus})
	if err != nil {
		return err
	}
	var model, status string
	if err := textParams(p, textField{paramModelID, &model}, textField{paramStatus, &status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAIRegistry)
	if err != nil {
		return err
	}
	list, err := s.deps.AIGovernance.ListIncidents(c.Request().Context(), principal(c).TeamID, model, status, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	acmd "github.com/cspm-es/cspm-es/commands/assessments"
	"github.com/cspm-es/cspm-es/domain/access"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/queries"
	aquery "github.com/cspm-es/cspm-es/queries/assessments"
)

// Assessments (docs/assessments.md, decisions 69-71): framework
// catalogues (public data: every team reads them; an admin loads them),
// the team's assessments, their answers, progress and evidence, and the
// unified view of every assessment across modules.

// AssessmentService is what the assessments routes call: the commands of
// *commands/assessments.Handlers and the queries of
// *queries/assessments.Service.
type AssessmentService interface {
	LoadCatalog(ctx context.Context, m commands.Meta, cmd acmd.LoadCatalog) (acmd.CatalogLoadResult, error)
	CreateAssessment(ctx context.Context, m commands.Meta, cmd acmd.CreateAssessment) (commands.Result, error)
	AnswerRequirement(ctx context.Context, m commands.Meta, cmd acmd.AnswerRequirement) (commands.Result, error)
	RescheduleAssessment(ctx context.Context, m commands.Meta, cmd acmd.RescheduleAssessment) (commands.Result, error)
	CloseAssessment(ctx context.Context, m commands.Meta, cmd acmd.CloseAssessment) (commands.Result, error)

	ListFrameworks(ctx context.Context, p queries.Page) (aquery.FrameworkList, error)
	FrameworkVersions(ctx context.Context, framework string, withNodes bool, p queries.Page) (aquery.VersionList, error)
	ListAssessments(ctx context.Context, team, status string, p queries.Page) (aquery.AssessmentList, error)
	GetAssessment(ctx context.Context, team, id string) (aquery.AssessmentDetail, error)
	Progress(ctx context.Context, team, id string) (as.Progress, error)
	Evidence(ctx context.Context, team, id string) (as.EvidenceView, error)
	AllAssessments(ctx context.Context, team, kind string, p queries.Page) (aquery.IndexList, error)
}

// The projections the assessments routes read.
var (
	readsAssessments        = []string{"assessments.assessments"}
	readsAssessmentEvidence = []string{"assessments.evidence"}
	readsAssessmentsIndex   = []string{"assessments.index"}
)

// AssessmentReads are the projections each assessments query route reads.
func AssessmentReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/catalogs":                 readsAssessments,
		"GET /api/v1/frameworks/:id/versions":  readsAssessments,
		"GET /api/v1/assessments":              readsAssessments,
		"GET /api/v1/assessments/all":          readsAssessmentsIndex,
		"GET /api/v1/assessments/:id":          readsAssessments,
		"GET /api/v1/assessments/:id/answers":  readsAssessments,
		"GET /api/v1/assessments/:id/progress": readsAssessments,
		"GET /api/v1/assessments/:id/evidence": readsAssessmentEvidence,
	}
}

const paramRequirements = "requirements"

// assessmentRoutes adds the assessments routes to the table (routes.go).
func (s *Server) assessmentRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	add(http.MethodPost, v1+"/catalogs", access.Admin, Teamless, "loadCatalog", s.loadCatalog)
	add(http.MethodGet, v1+"/catalogs", access.Viewer, Teamless, "listCatalogs", s.listCatalogs)
	add(http.MethodGet, v1+"/frameworks/:id/versions", access.Viewer, Teamless, "listFrameworkVersions", s.listFrameworkVersions)
	add(http.MethodPost, v1+"/assessments", access.Analyst, TeamCollection, "createAssessment", s.createAssessment)
	add(http.MethodGet, v1+"/assessments", access.Viewer, TeamCollection, "listAssessments", s.listAssessments)
	add(http.MethodGet, v1+"/assessments/all", access.Viewer, TeamCollection, "listAllAssessments", s.listAllAssessments)
	add(http.MethodGet, v1+"/assessments/:id", access.Viewer, TeamResource, "getAssessment", s.getAssessment)
	add(http.MethodPatch, v1+"/assessments/:id", access.Analyst, TeamResource, "rescheduleAssessment", s.rescheduleAssessment)
	add(http.MethodPost, v1+"/assessments/:id/close", access.Analyst, TeamResource, "closeAssessment", s.closeAssessment)
	add(http.MethodPost, v1+"/assessments/:id/answers", access.Analyst, TeamResource, "answerRequirement", s.answerRequirement)
	add(http.MethodGet, v1+"/assessments/:id/answers", access.Viewer, TeamResource, "listAnswers", s.listAnswers)
	add(http.MethodGet, v1+"/assessments/:id/progress", access.Viewer, TeamResource, "assessmentProgress", s.assessmentProgress)
	add(http.MethodGet, v1+"/assessments/:id/evidence", access.Viewer, TeamResource, "assessmentEvidence", s.assessmentEvidence)
}

// loadCatalog reads the request body as a catalogue file (a CISO
// Assistant library or a Prowler compliance framework); ?version= names
// the version, ?file_name= is kept with it.
func (s *Server) loadCatalog(c echo.Context) error {
	p, err := checkParams(c, []string{paramVersion, paramFileName}, nil)
	if err != nil {
		return err
	}
	var cmd acmd.LoadCatalog
	if err := textParams(p, textField{paramVersion, &cmd.Version}, textField{paramFileName, &cmd.FileName}); err != nil {
		return err
	}
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength > acmd.MaxCatalogBytes {
		return payloadTooLarge(acmd.MaxCatalogBytes)
	}
	cmd.Body = http.MaxBytesReader(c.Response(), req.Body, acmd.MaxCatalogBytes)
	res, err := s.deps.Assessments.LoadCatalog(req.Context(), meta, cmd)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Framework != nil && res.Framework.Status == acmd.Loaded {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/frameworks/"+url.PathEscape(res.Framework.Framework)+"/versions")
	}
	return respond(c, status, res, Meta{Position: res.Position})
}

func (s *Server) listCatalogs(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAssessments)
	if err != nil {
		return err
	}
	list, err := s.deps.Assessments.ListFrameworks(c.Request().Context(), page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) listFrameworkVersions(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramLimit, paramCursor, paramRequirements})
	if err != nil {
		return err
	}
	withNodes, err := p.flag(paramRequirements)
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAssessments)
	if err != nil {
		return err
	}
	list, err := s.deps.Assessments.FrameworkVersions(c.Request().Context(), id, withNodes != nil && *withNodes, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) createAssessment(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd acmd.CreateAssessment
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Assessments.CreateAssessment(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/assessments/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) rescheduleAssessment(c echo.Context) error {
	var cmd acmd.RescheduleAssessment
	meta, err := s.commandInput(c, s.body(), &cmd.AssessmentID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Assessments.RescheduleAssessment(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) closeAssessment(c echo.Context) error {
	var cmd acmd.CloseAssessment
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.AssessmentID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Assessments.CloseAssessment(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) answerRequirement(c echo.Context) error {
	var cmd acmd.AnswerRequirement
	meta, err := s.commandInput(c, s.body(), &cmd.AssessmentID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Assessments.AnswerRequirement(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listAssessments(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus})
	if err != nil {
		return err
	}
	var status string
	if err := textParams(p, textField{paramStatus, &status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAssessments)
	if err != nil {
		return err
	}
	list, err := s.deps.Assessments.ListAssessments(c.Request().Context(), principal(c).TeamID, status, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) listAllAssessments(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramKind})
	if err != nil {
		return err
	}
	var kind string
	if err := textParams(p, textField{paramKind, &kind}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAssessmentsIndex)
	if err != nil {
		return err
	}
	list, err := s.deps.Assessments.AllAssessments(c.Request().Context(), principal(c).TeamID, kind, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

// assessmentRead runs a read of one assessment of the caller's team.
func (s *Server) assessmentRead(c echo.Context, reads []string, read func(ctx context.Context, team, id string) (any, error)) error {
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

func (s *Server) getAssessment(c echo.Context) error {
	return s.assessmentRead(c, readsAssessments, func(ctx context.Context, team, id string) (any, error) {
		return s.deps.Assessments.GetAssessment(ctx, team, id)
	})
}

func (s *Server) listAnswers(c echo.Context) error {
	return s.assessmentRead(c, readsAssessments, func(ctx context.Context, team, id string) (any, error) {
		d, err := s.deps.Assessments.GetAssessment(ctx, team, id)
		return d.Answers, err
	})
}

func (s *Server) assessmentProgress(c echo.Context) error {
	return s.assessmentRead(c, readsAssessments, func(ctx context.Context, team, id string) (any, error) {
		return s.deps.Assessments.Progress(ctx, team, id)
	})
}

func (s *Server) assessmentEvidence(c echo.Context) error {
	return s.assessmentRead(c, readsAssessmentEvidence, func(ctx context.Context, team, id string) (any, error) {
		return s.deps.Assessments.Evidence(ctx, team, id)
	})
}

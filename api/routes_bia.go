package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	biacmd "github.com/cspm-es/cspm-es/commands/bia"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	biaquery "github.com/cspm-es/cspm-es/queries/bia"
)

// Business impact analysis (docs/bia.md, decisions 72-73): a team's BIAs
// with their processes, what changed in one between two dates, and its
// exercises.

// BIAService is what the BIA routes call: the commands of
// *commands/bia.Handlers and the queries of *queries/bia.Service.
type BIAService interface {
	CreateBIA(ctx context.Context, m commands.Meta, cmd biacmd.CreateBIA) (commands.Result, error)
	UpdateBIA(ctx context.Context, m commands.Meta, cmd biacmd.UpdateBIA) (commands.Result, error)
	AddProcess(ctx context.Context, m commands.Meta, cmd biacmd.AddProcess) (commands.Result, string, error)
	ChangeProcess(ctx context.Context, m commands.Meta, cmd biacmd.ChangeProcess) (commands.Result, error)
	RemoveProcess(ctx context.Context, m commands.Meta, cmd biacmd.RemoveProcess) (commands.Result, error)
	SubmitBIA(ctx context.Context, m commands.Meta, cmd biacmd.SubmitBIA) (commands.Result, error)
	ApproveBIA(ctx context.Context, m commands.Meta, cmd biacmd.ApproveBIA) (commands.Result, error)
	ReopenBIA(ctx context.Context, m commands.Meta, cmd biacmd.ReopenBIA) (commands.Result, error)
	PlanExercise(ctx context.Context, m commands.Meta, cmd biacmd.PlanExercise) (commands.Result, error)
	RecordExerciseRun(ctx context.Context, m commands.Meta, cmd biacmd.RecordExerciseRun) (commands.Result, error)
	CancelExercise(ctx context.Context, m commands.Meta, cmd biacmd.CancelExercise) (commands.Result, error)
	RecordLesson(ctx context.Context, m commands.Meta, cmd biacmd.RecordLesson) (commands.Result, string, error)
	UpdateLesson(ctx context.Context, m commands.Meta, cmd biacmd.UpdateLesson) (commands.Result, error)

	ListBIAs(ctx context.Context, team, status string, p queries.Page) (biaquery.List, error)
	GetBIA(ctx context.Context, team, id string) (biaquery.Analysis, error)
	GetChanges(ctx context.Context, team, id string, from, to time.Time) (biaquery.Changes, error)
	ListExercises(ctx context.Context, team string, f biaquery.ExerciseFilter, p queries.Page) (biaquery.ExerciseList, error)
	GetExercise(ctx context.Context, team, id string) (biaquery.Exercise, error)
}

// The projections the BIA routes read.
var (
	readsBIAs         = []string{"bia.analyses"}
	readsBIAExercises = []string{"bia.exercises"}
)

// BIAReads are the projections each BIA query route reads.
func BIAReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/bias":              readsBIAs,
		"GET /api/v1/bias/:id":          readsBIAs,
		"GET /api/v1/bias/:id/changes":  readsBIAs,
		"GET /api/v1/bia-exercises":     readsBIAExercises,
		"GET /api/v1/bia-exercises/:id": readsBIAExercises,
	}
}

const paramBIAID = "bia_id"

// biaRoutes adds the BIA routes to the table (routes.go). Approving a
// BIA needs the admin role (decision 72); everything else that changes
// one, the analyst role.
func (s *Server) biaRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	viewer, analyst, admin := access.Viewer, access.Analyst, access.Admin
	add(http.MethodPost, v1+"/bias", analyst, TeamCollection, "createBIA", s.createBIA)
	add(http.MethodPut, v1+"/bias/:id", analyst, TeamResource, "updateBIA", s.updateBIA)
	add(http.MethodPost, v1+"/bias/:id/processes", analyst, TeamResource, "addBIAProcess", s.addBIAProcess)
	add(http.MethodPut, v1+"/bias/:id/processes/:process_id", analyst, TeamResource, "changeBIAProcess", s.changeBIAProcess)
	add(http.MethodDelete, v1+"/bias/:id/processes/:process_id", analyst, TeamResource, "removeBIAProcess", s.removeBIAProcess)
	add(http.MethodPost, v1+"/bias/:id/submit", analyst, TeamResource, "submitBIA", s.submitBIA)
	add(http.MethodPost, v1+"/bias/:id/approve", admin, TeamResource, "approveBIA", s.approveBIA)
	add(http.MethodPost, v1+"/bias/:id/reopen", analyst, TeamResource, "reopenBIA", s.reopenBIA)
	add(http.MethodPost, v1+"/bias/:id/exercises", analyst, TeamResource, "planBIAExercise", s.planBIAExercise)
	add(http.MethodGet, v1+"/bias", viewer, TeamCollection, "listBIAs", s.listBIAs)
	add(http.MethodGet, v1+"/bias/:id", viewer, TeamResource, "getBIA", s.getBIA)
	add(http.MethodGet, v1+"/bias/:id/changes", viewer, TeamResource, "getBIAChanges", s.getBIAChanges)
	add(http.MethodPost, v1+"/bia-exercises/:id/run", analyst, TeamResource, "recordBIAExerciseRun", s.recordBIAExerciseRun)
	add(http.MethodPost, v1+"/bia-exercises/:id/cancel", analyst, TeamResource, "cancelBIAExercise", s.cancelBIAExercise)
	add(http.MethodPost, v1+"/bia-exercises/:id/lessons", analyst, TeamResource, "recordBIALesson", s.recordBIALesson)
	add(http.MethodPut, v1+"/bia-exercises/:id/lessons/:lesson_id", analyst, TeamResource, "updateBIALesson", s.updateBIALesson)
	add(http.MethodGet, v1+"/bia-exercises", viewer, TeamCollection, "listBIAExercises", s.listBIAExercises)
	add(http.MethodGet, v1+"/bia-exercises/:id", viewer, TeamResource, "getBIAExercise", s.getBIAExercise)
}

// ItemCreated is the answer of a command that adds an item inside an
// aggregate (a process to a BIA, a lesson to an exercise): the command's
// result and the new item's id.
type ItemCreated struct {
	CommandResult
	ItemID string `json:"item_id"`
}

func (s *Server) createBIA(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd biacmd.CreateBIA
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.BIA.CreateBIA(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/bias/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) updateBIA(c echo.Context) error {
	var cmd biacmd.UpdateBIA
	meta, err := s.commandInput(c, s.body(), &cmd.BIAID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.UpdateBIA(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) addBIAProcess(c echo.Context) error {
	var cmd biacmd.AddProcess
	meta, err := s.commandInput(c, s.body(), &cmd.BIAID, &cmd)
	if err != nil {
		return err
	}
	res, pid, err := s.deps.BIA.AddProcess(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return itemCreated(c, res, pid, cmd.ProcessID != "", "/api/v1/bias/"+url.PathEscape(cmd.BIAID))
}

// itemCreated answers 201 with the new item's id. An idempotent replay
// of a command whose item id was generated (given false) cannot name the
// id generated the first time, so it leaves item_id empty: give the id in
// the body to retry safely.
func itemCreated(c echo.Context, res commands.Result, id string, given bool, location string) error {
	markReplay(c, res.Duplicate)
	if res.Duplicate && !given {
		id = ""
	}
	c.Response().Header().Set(echo.HeaderLocation, location)
	return respond(c, http.StatusCreated, ItemCreated{CommandResult: toCommandResult(res), ItemID: id}, Meta{Position: res.Position})
}

// processInput reads the BIA id, the process id and the body.
func (s *Server) processInput(c echo.Context, rule bodyRule, bia, process *string, cmd any) (commands.Meta, error) {
	pid, err := pathID(c, "process_id")
	if err != nil {
		return commands.Meta{}, err
	}
	meta, err := s.commandInput(c, rule, bia, cmd)
	if err != nil {
		return commands.Meta{}, err
	}
	*process = pid
	return meta, nil
}

func (s *Server) changeBIAProcess(c echo.Context) error {
	var cmd biacmd.ChangeProcess
	meta, err := s.processInput(c, s.body(), &cmd.BIAID, &cmd.ProcessID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.ChangeProcess(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) removeBIAProcess(c echo.Context) error {
	var cmd biacmd.RemoveProcess
	meta, err := s.processInput(c, s.optionalBody(), &cmd.BIAID, &cmd.ProcessID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.RemoveProcess(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) submitBIA(c echo.Context) error {
	var cmd biacmd.SubmitBIA
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.BIAID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.SubmitBIA(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) approveBIA(c echo.Context) error {
	var cmd biacmd.ApproveBIA
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.BIAID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.ApproveBIA(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) reopenBIA(c echo.Context) error {
	var cmd biacmd.ReopenBIA
	meta, err := s.commandInput(c, s.body(), &cmd.BIAID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.ReopenBIA(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) planBIAExercise(c echo.Context) error {
	var cmd biacmd.PlanExercise
	meta, err := s.commandInput(c, s.body(), &cmd.BIAID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.PlanExercise(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/bia-exercises/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) recordBIAExerciseRun(c echo.Context) error {
	var cmd biacmd.RecordExerciseRun
	meta, err := s.commandInput(c, s.body(), &cmd.ExerciseID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.RecordExerciseRun(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) cancelBIAExercise(c echo.Context) error {
	var cmd biacmd.CancelExercise
	meta, err := s.commandInput(c, s.body(), &cmd.ExerciseID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.BIA.CancelExercise(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) recordBIALesson(c echo.Context) error {
	var cmd biacmd.RecordLesson
	meta, err := s.commandInput(c, s.body(), &cmd.ExerciseID, &cmd)
	if err != nil {
		return err
	}
	res, lid, err := s.deps.BIA.RecordLesson(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return itemCreated(c, res, lid, cmd.LessonID != "", "/api/v1/bia-exercises/"+url.PathEscape(cmd.ExerciseID))
}

func (s *Server) updateBIALesson(c echo.Context) error {
	var cmd biacmd.UpdateLesson
	lid, err := pathID(c, "lesson_id")
	if err != nil {
		return err
	}
	meta, err := s.commandInput(c, s.body(), &cmd.ExerciseID, &cmd)
	if err != nil {
		return err
	}
	cmd.LessonID = lid
	res, err := s.deps.BIA.UpdateLesson(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listBIAs(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus})
	if err != nil {
		return err
	}
	var status string
	if err := textParams(p, textField{paramStatus, &status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsBIAs)
	if err != nil {
		return err
	}
	list, err := s.deps.BIA.ListBIAs(c.Request().Context(), principal(c).TeamID, status, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getBIA(c echo.Context) error {
	return getOne(c, s, "id", readsBIAs, s.deps.BIA.GetBIA)
}

// getBIAChanges says what changed in a BIA between ?from= (absent: its
// last approval, or before it existed) and ?to= (absent: now).
func (s *Server) getBIAChanges(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramFrom, paramTo})
	if err != nil {
		return err
	}
	from, err := timeParam(p, paramFrom)
	if err != nil {
		return err
	}
	to, err := timeParam(p, paramTo)
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, &p, readsBIAs)
	if err != nil {
		return err
	}
	ch, err := s.deps.BIA.GetChanges(c.Request().Context(), principal(c).TeamID, id, from, to)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, ch, meta)
}

func (s *Server) listBIAExercises(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus, paramBIAID})
	if err != nil {
		return err
	}
	var f biaquery.ExerciseFilter
	if err := textParams(p, textField{paramStatus, &f.Status}, textField{paramBIAID, &f.BIAID}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsBIAExercises)
	if err != nil {
		return err
	}
	list, err := s.deps.BIA.ListExercises(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getBIAExercise(c echo.Context) error {
	return getOne(c, s, "id", readsBIAExercises, s.deps.BIA.GetExercise)
}

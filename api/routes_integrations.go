package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	incmd "github.com/cspm-es/cspm-es/commands/integrations"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	inquery "github.com/cspm-es/cspm-es/queries/integrations"
)

// Integrations (docs/integrations.md, decisions 74-76): definitions whose
// secrets are never answered, health, setup wizards, webhook delivery logs.
// Admins create and change; viewers read (without secrets: no route ever
// answers one).

// IntegrationService is what the integration routes call: the commands of
// *commands/integrations.Handlers and the queries of
// *queries/integrations.Service (with the clock the health window needs).
type IntegrationService interface {
	CreateIntegration(ctx context.Context, m commands.Meta, cmd incmd.CreateIntegration) (commands.Result, error)
	ChangeIntegration(ctx context.Context, m commands.Meta, cmd incmd.ChangeIntegration) (commands.Result, error)
	RemoveIntegration(ctx context.Context, m commands.Meta, cmd incmd.RemoveIntegration) (commands.Result, error)
	CheckIntegration(ctx context.Context, m commands.Meta, cmd incmd.CheckIntegration) (commands.Result, error)
	StartWizard(ctx context.Context, m commands.Meta, cmd incmd.StartWizard) (commands.Result, error)
	SaveWizardStep(ctx context.Context, m commands.Meta, cmd incmd.SaveWizardStep) (commands.Result, error)
	CompleteWizard(ctx context.Context, m commands.Meta, cmd incmd.CompleteWizard) (commands.Result, error)
	ListIntegrations(ctx context.Context, team string, f inquery.IntegrationFilter, p queries.Page) (inquery.IntegrationList, error)
	GetIntegration(ctx context.Context, team, id string) (inquery.Integration, error)
	Health(ctx context.Context, team, id string, from, to, now time.Time, p queries.Page) (inquery.HealthHistory, error)
	ListDeliveries(ctx context.Context, team, id, status string, p queries.Page) (inquery.DeliveryList, error)
	GetWizard(ctx context.Context, team, id string) (inquery.Wizard, error)
}

var (
	readsIntegrations = []string{"integrations.connections"}
	readsDeliveries   = []string{"integrations.connections", "integrations.webhooks"}
)

// IntegrationReads are the projections each integration query route reads.
func IntegrationReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/integrations":                readsIntegrations,
		"GET /api/v1/integrations/:id":            readsIntegrations,
		"GET /api/v1/integrations/:id/health":     readsIntegrations,
		"GET /api/v1/integrations/:id/deliveries": readsDeliveries,
		"GET /api/v1/integration-wizards/:id":     readsIntegrations,
	}
}

// integrationRoutes adds the integration routes to the table (routes.go).
func (s *Server) integrationRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	add(http.MethodPost, v1+"/integrations", access.Admin, TeamCollection, "createIntegration", s.createIntegration)
	add(http.MethodGet, v1+"/integrations", access.Viewer, TeamCollection, "listIntegrations", s.listIntegrations)
	add(http.MethodGet, v1+"/integrations/:id", access.Viewer, TeamResource, "getIntegration", s.getIntegration)
	add(http.MethodPut, v1+"/integrations/:id", access.Admin, TeamResource, "changeIntegration", s.changeIntegration)
	add(http.MethodDelete, v1+"/integrations/:id", access.Admin, TeamResource, "removeIntegration", s.removeIntegration)
	add(http.MethodPost, v1+"/integrations/:id/check", access.Admin, TeamResource, "checkIntegration", s.checkIntegration)
	add(http.MethodGet, v1+"/integrations/:id/health", access.Viewer, TeamResource, "integrationHealth", s.integrationHealth)
	add(http.MethodGet, v1+"/integrations/:id/deliveries", access.Viewer, TeamResource, "listWebhookDeliveries", s.listWebhookDeliveries)
	add(http.MethodPost, v1+"/integration-wizards", access.Admin, TeamCollection, "startIntegrationWizard", s.startIntegrationWizard)
	add(http.MethodGet, v1+"/integration-wizards/:id", access.Viewer, TeamResource, "getIntegrationWizard", s.getIntegrationWizard)
	add(http.MethodPut, v1+"/integration-wizards/:id/steps/:step", access.Admin, TeamResource, "saveIntegrationWizardStep", s.saveIntegrationWizardStep)
	add(http.MethodPost, v1+"/integration-wizards/:id/complete", access.Admin, TeamResource, "completeIntegrationWizard", s.completeIntegrationWizard)
}

func (s *Server) createIntegration(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd incmd.CreateIntegration
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Integrations.CreateIntegration(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/integrations/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) changeIntegration(c echo.Context) error {
	var cmd incmd.ChangeIntegration
	meta, err := s.commandInput(c, s.body(), &cmd.IntegrationID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Integrations.ChangeIntegration(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) removeIntegration(c echo.Context) error {
	var cmd incmd.RemoveIntegration
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.IntegrationID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Integrations.RemoveIntegration(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

// checkIntegration probes the integration's endpoint now and records the
// check (the checker does it every minute).
func (s *Server) checkIntegration(c echo.Context) error {
	var cmd incmd.CheckIntegration
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.IntegrationID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Integrations.CheckIntegration(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listIntegrations(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramKind})
	if err != nil {
		return err
	}
	var f inquery.IntegrationFilter
	if err := textParams(p, textField{paramKind, &f.Kind}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsIntegrations)
	if err != nil {
		return err
	}
	list, err := s.deps.Integrations.ListIntegrations(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getIntegration(c echo.Context) error {
	return getOne(c, s, "id", readsIntegrations, s.deps.Integrations.GetIntegration)
}

// integrationHealth is the uptime and latency of the integration between
// ?from and ?to (default: the last 24 hours), and a page of its checks.
func (s *Server) integrationHealth(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramLimit, paramCursor, paramFrom, paramTo})
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
	page, meta, err := s.beginList(c, p, readsIntegrations)
	if err != nil {
		return err
	}
	h, err := s.deps.Integrations.Health(c.Request().Context(), principal(c).TeamID, id, from, to, time.Now(), page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = h.NextCursor
	return respond(c, http.StatusOK, h, meta)
}

// listWebhookDeliveries is the integration's delivery log, newest event
// first (?status=pending|delivered).
func (s *Server) listWebhookDeliveries(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus})
	if err != nil {
		return err
	}
	var status string
	if err := textParams(p, textField{paramStatus, &status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsDeliveries)
	if err != nil {
		return err
	}
	list, err := s.deps.Integrations.ListDeliveries(c.Request().Context(), principal(c).TeamID, id, status, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) startIntegrationWizard(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd incmd.StartWizard
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Integrations.StartWizard(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/integration-wizards/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) getIntegrationWizard(c echo.Context) error {
	return getOne(c, s, "id", readsIntegrations, s.deps.Integrations.GetWizard)
}

func (s *Server) saveIntegrationWizardStep(c echo.Context) error {
	var cmd incmd.SaveWizardStep
	meta, err := s.commandInput(c, s.body(), &cmd.WizardID, &cmd)
	if err != nil {
		return err
	}
	step, err := pathID(c, "step")
	if err != nil {
		return err
	}
	cmd.Step = step
	res, err := s.deps.Integrations.SaveWizardStep(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

// completeIntegrationWizard creates the integration the session describes
// (its id is the session's), with the secret given here.
func (s *Server) completeIntegrationWizard(c echo.Context) error {
	var cmd incmd.CompleteWizard
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.WizardID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Integrations.CompleteWizard(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/integrations/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

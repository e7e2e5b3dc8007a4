package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	"github.com/cspm-es/cspm-es/queries"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
)

// Indicators of compromise: a team's own (docs/threat-intelligence.md).

// IndicatorService is what the indicator routes call: the commands of
// *commands/threatintel.Handlers and the queries of
// *queries/threatintel.Service.
type IndicatorService interface {
	CreateIndicator(ctx context.Context, m commands.Meta, cmd ticmd.CreateIndicator) (commands.Result, error)
	UpdateIndicator(ctx context.Context, m commands.Meta, cmd ticmd.UpdateIndicator) (commands.Result, error)
	ObserveIndicator(ctx context.Context, m commands.Meta, cmd ticmd.ObserveIndicator) (commands.Result, error)
	RevokeIndicator(ctx context.Context, m commands.Meta, cmd ticmd.RevokeIndicator) (commands.Result, error)
	ListIndicators(ctx context.Context, team string, f tiquery.IndicatorFilter, p queries.Page) (tiquery.IndicatorList, error)
	GetIndicator(ctx context.Context, team, id string) (tiquery.Indicator, error)
	IndicatorMatches(ctx context.Context, team, id string, p queries.Page) (tiquery.IndicatorMatches, error)
}

// readsIndicators is the projection the indicator routes read.
var readsIndicators = []string{"threatintel.indicators"}

// paramType is the assets routes' ("type").
const paramValue = "value"

func (s *Server) createIndicator(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd ticmd.CreateIndicator
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Indicators.CreateIndicator(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/indicators/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) updateIndicator(c echo.Context) error {
	var cmd ticmd.UpdateIndicator
	meta, err := s.commandInput(c, s.body(), &cmd.IndicatorID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Indicators.UpdateIndicator(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) observeIndicator(c echo.Context) error {
	var cmd ticmd.ObserveIndicator
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.IndicatorID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Indicators.ObserveIndicator(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) revokeIndicator(c echo.Context) error {
	var cmd ticmd.RevokeIndicator
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.IndicatorID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Indicators.RevokeIndicator(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listIndicators(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramStatus, paramType, paramValue})
	if err != nil {
		return err
	}
	var f tiquery.IndicatorFilter
	if err := textParams(p, textField{paramStatus, &f.Status}, textField{paramType, &f.Type}, textField{paramValue, &f.Value}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsIndicators)
	if err != nil {
		return err
	}
	list, err := s.deps.Indicators.ListIndicators(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getIndicator(c echo.Context) error {
	return getOne(c, s, "id", readsIndicators, s.deps.Indicators.GetIndicator)
}

// indicatorMatches lists where the indicator's value was seen in the
// team's imported findings: the count, then a page of resources.
func (s *Server) indicatorMatches(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsIndicatorMatches)
	if err != nil {
		return err
	}
	m, err := s.deps.Indicators.IndicatorMatches(c.Request().Context(), principal(c).TeamID, id, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = m.NextCursor
	return respond(c, http.StatusOK, m, meta)
}

// readsIndicatorMatches: the indicator and the correlation.
var readsIndicatorMatches = []string{"threatintel.indicators", "threatintel.correlation"}

package api

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
)

// ParkedRequest is the optional body of the parked-event routes: the
// position of one parked event; absent or 0 means all of them.
type ParkedRequest struct {
	Position int64 `json:"position"`
}

// RetryResult answers POST /api/v1/projections/{name}/parked/retry.
type RetryResult struct {
	Projection string `json:"projection"`
	Applied    int    `json:"applied"`
}

// SkipResult answers POST /api/v1/projections/{name}/parked/skip.
type SkipResult struct {
	Projection string `json:"projection"`
	Removed    int    `json:"removed"`
}

func (s *Server) projectionStatus(c echo.Context) error {
	if err := noParams(c); err != nil {
		return err
	}
	st, err := s.deps.Projections.Status(c.Request().Context())
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, nonNil(st), Meta{})
}

func (s *Server) relayStatus(c echo.Context) error {
	if err := noParams(c); err != nil {
		return err
	}
	return respond(c, http.StatusOK, s.deps.Relay.RelayStatus(c.Request().Context()), Meta{})
}

func (s *Server) startRebuild(c echo.Context) error {
	name, err := s.projectionName(c, true)
	if err != nil {
		return err
	}
	if err := decodeBody(c, s.optionalBody(), &struct{}{}); err != nil {
		return err
	}
	started, err := s.deps.Projections.StartRebuild(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return respond(c, http.StatusAccepted, started, Meta{})
}

func (s *Server) cancelRebuild(c echo.Context) error {
	name, err := s.projectionName(c, true)
	if err != nil {
		return err
	}
	if err := s.deps.Projections.CancelRebuild(c.Request().Context(), name); err != nil {
		return err
	}
	return respond(c, http.StatusAccepted, map[string]string{"projection": name, "status": "canceling"}, Meta{})
}

func (s *Server) retryParked(c echo.Context) error {
	name, pos, err := s.parkedInput(c)
	if err != nil {
		return err
	}
	n, err := s.deps.Projections.RetryParked(c.Request().Context(), name, pos)
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, RetryResult{Projection: name, Applied: n}, Meta{})
}

func (s *Server) skipParked(c echo.Context) error {
	name, pos, err := s.parkedInput(c)
	if err != nil {
		return err
	}
	n, err := s.deps.Projections.SkipParked(c.Request().Context(), name, pos)
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, SkipResult{Projection: name, Removed: n}, Meta{})
}

func (s *Server) parkedInput(c echo.Context) (string, int64, error) {
	name, err := s.projectionName(c, false)
	if err != nil {
		return "", 0, err
	}
	var req ParkedRequest
	if err := decodeBody(c, s.optionalBody(), &req); err != nil {
		return "", 0, err
	}
	if req.Position < 0 {
		return "", 0, invalidInput(InBody, "position", "must be a positive event-store position (absent or 0: every parked event)")
	}
	return name, req.Position, nil
}

// projectionName reads the {name} path parameter: a registered
// projection, or "all" where allowAll.
func (s *Server) projectionName(c echo.Context, allowAll bool) (string, error) {
	name, err := pathID(c, "name")
	if err != nil {
		return "", err
	}
	if (allowAll && name == RebuildAll) || slices.Contains(s.deps.Projections.Names(), name) {
		return name, nil
	}
	msg := "no projection of that name; GET /api/v1/projections lists them"
	if allowAll {
		msg += " (or use " + RebuildAll + ")"
	}
	return "", &requestError{status: http.StatusNotFound, body: ErrorBody{
		Code: CodeNotFound, Message: "not found",
		Details: []ErrorDetail{{Field: "name", In: InPath, Message: msg}},
	}}
}

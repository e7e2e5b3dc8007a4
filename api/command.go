package api

import (
	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
)

// What every command route shares: the answer of an accepted command, the
// body rules, and reading the command's meta (team, actor, idempotency
// key, route) and path id.

// CommandResult is the data of an accepted command (docs/architecture.md §6).
type CommandResult struct {
	ID       string   `json:"id"`
	StreamID string   `json:"stream_id"`
	Version  int64    `json:"version"`
	Position int64    `json:"position"`
	EventIDs []string `json:"event_ids"`
}

// BatchCommandResult is the data of an accepted batch command: one item
// per stream written, and the highest position of the batch.
type BatchCommandResult struct {
	Items    []CommandResult `json:"items"`
	Position int64           `json:"position"`
}

// Body rules: routes whose fields are all optional accept an empty body.
func (s *Server) body() bodyRule         { return bodyRule{limit: s.cfg.BodyLimit} }
func (s *Server) optionalBody() bodyRule { return bodyRule{limit: s.cfg.BodyLimit, allowEmpty: true} }
func (s *Server) ingestBody() bodyRule   { return bodyRule{limit: s.cfg.IngestBodyLimit} }

// commandInput reads everything a command on /:id needs, in order: the
// path id (into *id, after the body so the body cannot overwrite it), the
// Idempotency-Key, the body (into cmd).
func (s *Server) commandInput(c echo.Context, rule bodyRule, id *string, cmd any) (commands.Meta, error) {
	pid, err := pathID(c, "id")
	if err != nil {
		return commands.Meta{}, err
	}
	meta, err := s.commandMeta(c)
	if err != nil {
		return commands.Meta{}, err
	}
	if err := decodeBody(c, rule, cmd); err != nil {
		return commands.Meta{}, err
	}
	*id = pid
	return meta, nil
}

// commandMeta is who sends the command: the team and actor of the API key,
// never anything the request says; and, for the audit log, the route
// ("POST /api/v1/scans/:id/start": method and route template).
func (s *Server) commandMeta(c echo.Context) (commands.Meta, error) {
	p := principal(c)
	key, err := idempotencyKey(c.Request())
	if err != nil {
		return commands.Meta{}, err
	}
	return commands.Meta{
		TeamID:         p.TeamID,
		Actor:          p.Actor(),
		CorrelationID:  correlationID(c),
		IdempotencyKey: key,
		Route:          c.Request().Method + " " + c.Path(),
	}, nil
}

func commandAccepted(c echo.Context, status int, res commands.Result) error {
	markReplay(c, res.Duplicate)
	return respond(c, status, toCommandResult(res), Meta{Position: res.Position})
}

// markReplay flags an idempotent replay: same status, same data, this header.
func markReplay(c echo.Context, duplicate bool) {
	if duplicate {
		c.Response().Header().Set(HeaderIdempotentReplay, "true")
	}
}

func toCommandResult(r commands.Result) CommandResult {
	ids := r.EventIDs
	if ids == nil {
		ids = []string{}
	}
	return CommandResult{ID: r.ID, StreamID: r.StreamID, Version: r.Version, Position: r.Position, EventIDs: ids}
}

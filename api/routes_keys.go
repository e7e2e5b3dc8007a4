package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/queries"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// KeyService is what the API key routes call: issue and revoke (commands)
// and list (the platform.api_keys read model). The process wires
// commands/platform.Handlers and queries/platform.Service behind it, and
// drops a revoked key from its authenticator's cache.
type KeyService interface {
	IssueKey(ctx context.Context, m commands.Meta, cmd platformcmd.IssueKey) (platformcmd.IssuedKey, error)
	RevokeKey(ctx context.Context, m commands.Meta, cmd platformcmd.RevokeKey) (commands.Result, error)
	ListKeys(ctx context.Context, team string, p queries.Page) (platformquery.APIKeyList, error)
}

// readsKeys is the projection GET /api/v1/keys reads (min_position waits
// for it).
var readsKeys = []string{"platform.api_keys"}

// KeyReads returns the projections the API key list reads.
func KeyReads() []string { return append([]string(nil), readsKeys...) }

// KeyCreated is the data of POST /api/v1/keys: the command's result and
// the key. Key is the plaintext API key, shown this once and never again
// (the server keeps only a salted hash). An idempotent replay of the
// request (same Idempotency-Key, header Idempotent-Replay: true) answers
// without it: the secret cannot be produced twice.
type KeyCreated struct {
	CommandResult
	Key    string `json:"key,omitempty"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	TeamID string `json:"team_id"`
}

// createKeyBody is the body of POST /api/v1/keys. The key's team is the
// caller's; a body cannot choose another.
type createKeyBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// revokeKeyBody is the optional body of POST /api/v1/keys/:id/revoke.
type revokeKeyBody struct {
	Reason string `json:"reason,omitempty"`
}

func (s *Server) createKey(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var body createKeyBody
	if err := decodeBody(c, s.body(), &body); err != nil {
		return err
	}
	res, err := s.deps.Keys.IssueKey(c.Request().Context(), meta, platformcmd.IssueKey{
		Name: body.Name, Role: body.Role, TeamID: meta.TeamID,
	})
	if err != nil {
		return err
	}
	markReplay(c, res.Duplicate)
	// The answer carries a secret: no cache may keep it.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return respond(c, http.StatusCreated, KeyCreated{
		CommandResult: toCommandResult(res.Result),
		Key:           res.Key,
		Name:          res.Name,
		Role:          string(res.Role),
		TeamID:        res.TeamID,
	}, Meta{Position: res.Position})
}

func (s *Server) listKeys(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsKeys)
	if err != nil {
		return err
	}
	list, err := s.deps.Keys.ListKeys(c.Request().Context(), principal(c).TeamID, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) revokeKey(c echo.Context) error {
	var body revokeKeyBody
	var cmd platformcmd.RevokeKey
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.KeyID, &body)
	if err != nil {
		return err
	}
	cmd.Reason = body.Reason
	res, err := s.deps.Keys.RevokeKey(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

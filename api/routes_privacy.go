package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	privacycmd "github.com/cspm-es/cspm-es/commands/privacy"
	domprivacy "github.com/cspm-es/cspm-es/domain/privacy"
)

// Crypto-shredding (docs/privacy.md, decisions 91-93): forget a data
// subject of the caller's team.

// PrivacyService is what the privacy route calls. The process wires
// commands/privacy.Handlers behind it and starts the rebuild of the
// projections that hold personal fields (decision 93).
type PrivacyService interface {
	Forget(ctx context.Context, m commands.Meta, cmd privacycmd.Forget) (ForgetResult, error)
}

// ForgetResult answers POST /api/v1/privacy/subjects/{subject}/forget:
// the command's result (id: the subject id, never the subject), whether a
// key was destroyed, and the read models being rebuilt without the
// subject's data (or that an operator must rebuild, when this process
// runs no projector or a rebuild of them was already running).
type ForgetResult struct {
	CommandResult
	SubjectID       string   `json:"subject_id"`
	KeyExisted      bool     `json:"key_existed"`
	Rebuilding      []string `json:"rebuilding"`
	RebuildRequired []string `json:"rebuild_required"`
	// RebuildRequestedAt is when the rebuild was requested (with Rebuilding).
	RebuildRequestedAt time.Time `json:"rebuild_requested_at,omitzero"`
	// Duplicate: an idempotent replay (the Idempotent-Replay header).
	Duplicate bool `json:"-"`
}

// NewForgetResult is the answer for a forget's outcome.
func NewForgetResult(f privacycmd.Forgotten, rebuild RebuildStarted, required []string) ForgetResult {
	return ForgetResult{CommandResult: toCommandResult(f.Result), SubjectID: f.SubjectID, KeyExisted: f.KeyExisted,
		Rebuilding: rebuild.Projections, RebuildRequestedAt: rebuild.RequestedAt, RebuildRequired: required, Duplicate: f.Duplicate}
}

func (s *Server) forgetSubject(c echo.Context) error {
	raw := c.Param("subject")
	subject, err := url.PathUnescape(raw)
	if err != nil {
		return invalidInput(InPath, "subject", "is not a valid escaped path segment")
	}
	if err := domprivacy.CheckSubject(subject); err != nil {
		return invalidInput(InPath, "subject", "must be 1 to %d bytes, not only spaces", domprivacy.MaxSubjectLen)
	}
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	if err := decodeBody(c, s.optionalBody(), &struct{}{}); err != nil {
		return err
	}
	res, err := s.deps.Privacy.Forget(c.Request().Context(), meta, privacycmd.Forget{Subject: subject})
	if err != nil {
		return err
	}
	if res.Rebuilding == nil {
		res.Rebuilding = []string{}
	}
	if res.RebuildRequired == nil {
		res.RebuildRequired = []string{}
	}
	markReplay(c, res.Duplicate)
	return respond(c, http.StatusAccepted, res, Meta{Position: res.Position})
}

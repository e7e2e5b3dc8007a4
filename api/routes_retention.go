package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	retcmd "github.com/cspm-es/cspm-es/commands/retention"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/retention"
)

// RetentionService serves /api/v1/retention-policies (docs/archival.md,
// decision 88): the policies in force and the command that sets one.
// Policies are platform-wide: the routes are teamless and admin-only.
type RetentionService interface {
	SetPolicy(ctx context.Context, m commands.Meta, cmd retcmd.SetPolicy) (commands.Result, error)
	Policies(ctx context.Context) ([]retention.Policy, error)
}

// retentionRoutes adds the retention routes to the table (routes.go).
func (s *Server) retentionRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	add(http.MethodGet, v1+"/retention-policies", access.Admin, Teamless, "listRetentionPolicies", s.listRetentionPolicies)
	add(http.MethodPut, v1+"/retention-policies/:module", access.Admin, Teamless, "setRetentionPolicy", s.setRetentionPolicy)
}

// setRetentionPolicyBody is the body of PUT /api/v1/retention-policies/{module}.
type setRetentionPolicyBody struct {
	Days   *int   `json:"days"`
	Reason string `json:"reason,omitempty"`
}

func (s *Server) setRetentionPolicy(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	module, err := pathID(c, "module")
	if err != nil {
		return err
	}
	var body setRetentionPolicyBody
	if err := decodeBody(c, s.body(), &body); err != nil {
		return err
	}
	if body.Days == nil {
		return &requestError{status: http.StatusBadRequest, body: ErrorBody{
			Code: CodeValidationFailed, Message: "invalid input",
			Details: []ErrorDetail{{Field: "days", In: InBody, Message: "is required"}},
		}}
	}
	res, err := s.deps.Retention.SetPolicy(c.Request().Context(), meta, retcmd.SetPolicy{Module: module, Days: *body.Days, Reason: body.Reason})
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listRetentionPolicies(c echo.Context) error {
	if err := noParams(c); err != nil {
		return err
	}
	ps, err := s.deps.Retention.Policies(c.Request().Context())
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, ps, Meta{})
}

package platform

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain/access"
)

// ImportUser records a user of the legacy platform (`cspm import-legacy`,
// docs/legacy-import.md): a new User stream ("user-<user id>", the id
// derived from the team and the email). Its times are the legacy ones.
type ImportUser struct {
	Email       string    `json:"email"`
	Name        string    `json:"name,omitempty"`
	Role        string    `json:"role,omitempty"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

// ImportUser appends UserImported for the caller's team (Meta.TeamID). A
// user of the same email in the team is the store's conflict error; under
// the same idempotency key it is the first import's result, Duplicate.
func (h *Handlers) ImportUser(ctx context.Context, meta commands.Meta, cmd ImportUser) (commands.Result, error) {
	id := access.UserID(meta.TeamID, cmd.Email)
	c := commands.Call{Name: "ImportUser", TargetID: id, Body: cmd, StreamID: access.UserStream(id), Type: access.UserStreamType}
	last := cmd.LastLoginAt
	if !last.IsZero() {
		last = h.kit.TimeOr(&last)
	}
	res, err := commands.Create(ctx, h.kit, meta, c, "email", func() ([]access.Event, error) {
		return access.ImportUser(access.LegacyUser{
			TeamID: meta.TeamID, Email: cmd.Email, Name: cmd.Name, Role: cmd.Role, Active: cmd.Active,
			CreatedAt: h.kit.TimeOr(&cmd.CreatedAt), LastLoginAt: last,
		})
	})
	if err == nil {
		res.ID = id
	}
	return res, err
}

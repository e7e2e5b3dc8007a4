package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// Cloud accounts (docs/accounts.md): registered (POST), renamed, tagged
// and retired (POST .../rename|tag|retire), read from the accounts
// projection's enhanced_cloud_accounts.

// AccountService serves the account routes: the account commands of
// commands/cloudsecurity and the account queries of queries/cloudsecurity.
type AccountService interface {
	RegisterAccount(ctx context.Context, m commands.Meta, cmd cscmd.RegisterAccount) (commands.Result, error)
	RenameAccount(ctx context.Context, m commands.Meta, cmd cscmd.RenameAccount) (commands.Result, error)
	TagAccount(ctx context.Context, m commands.Meta, cmd cscmd.TagAccount) (commands.Result, error)
	RetireAccount(ctx context.Context, m commands.Meta, cmd cscmd.RetireAccount) (commands.Result, error)
	ListAccounts(ctx context.Context, team string, f csquery.AccountFilter, p queries.Page) (csquery.AccountList, error)
	GetAccount(ctx context.Context, team, id string) (csquery.Account, error)
}

// readsAccounts is the projection the account routes read (see QueryReads).
var readsAccounts = []string{"cloudsecurity.accounts"}

// paramProvider filters the accounts list.
const paramProvider = "provider"

func (s *Server) registerAccount(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd cscmd.RegisterAccount
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.Accounts.RegisterAccount(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/accounts/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) renameAccount(c echo.Context) error {
	var cmd cscmd.RenameAccount
	meta, err := s.commandInput(c, s.body(), &cmd.AccountID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Accounts.RenameAccount(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) tagAccount(c echo.Context) error {
	var cmd cscmd.TagAccount
	meta, err := s.commandInput(c, s.body(), &cmd.AccountID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Accounts.TagAccount(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) retireAccount(c echo.Context) error {
	var cmd cscmd.RetireAccount
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.AccountID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.Accounts.RetireAccount(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listAccounts(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramProvider, paramStatus})
	if err != nil {
		return err
	}
	var f csquery.AccountFilter
	if err := textParams(p, textField{paramProvider, &f.Provider}, textField{paramStatus, &f.Status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAccounts)
	if err != nil {
		return err
	}
	list, err := s.deps.Accounts.ListAccounts(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getAccount(c echo.Context) error {
	return getOne(c, s, "id", readsAccounts, s.deps.Accounts.GetAccount)
}

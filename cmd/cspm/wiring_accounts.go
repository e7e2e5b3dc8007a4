package main

import (
	"go.uber.org/fx"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// Cloud accounts in `cspm serve` (api role): the account commands ask the
// accounts read model whether the caller's team has seen an account
// (docs/accounts.md), and the API serves the commands and queries
// together.

var accountsModule = fx.Module("accounts",
	fx.Invoke(wireKnownAccounts),
)

// wireKnownAccounts lets the account commands change accounts seen only in
// imports.
func wireKnownAccounts(h *cscmd.Handlers, q *csquery.Service) {
	h.WithKnownAccounts(q)
}

// accountService is api.AccountService: the commands and the queries.
type accountService struct {
	*cscmd.Handlers
	*csquery.Service
}

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/datadir"
)

// One process owns a data directory at a time (docs/configuration.md,
// "Where the data lives"; docs/decisions.md, "One owner per data
// directory"): it holds <data-dir>/cspm.lock
// (platform/datadir) for its whole life. The owners are
//
//   - `cspm serve` with the relay or projector role, when it keeps
//     anything in the data directory: the SQLite stores, or the embedded
//     NATS server's files (<data-dir>/nats). These are the roles that must
//     run once per data directory: two embedded NATS servers on one
//     directory corrupt it, two relays or two projectors race.
//   - `cspm keys create` and `cspm keys revoke` on the SQLite store: one-shot
//     writers, refused while a server owns the directory (use the server's
//     API instead).
//
// A `cspm serve --roles api` process does not take the lock: several of
// them may share the directory with the owner (SQLite serializes their
// appends; that is the documented split of roles). Read-only commands
// (`events verify|export|replay`, `keys list`, `db list`) open the event
// store read-only and take no lock; `projections ...` talk HTTP.

// servePlace describes a serve process in the lock file, for whoever is
// refused (never the whole command line: it may hold a MongoDB password).
func servePlace(cfg config.Config) string {
	return fmt.Sprintf("cspm serve --roles %s --http-addr %s", config.JoinRoles(cfg.Roles), cfg.HTTPAddr)
}

// serveOwnsDataDir reports whether a serve process with cfg must hold the
// data directory's lock.
func serveOwnsDataDir(cfg config.Config) bool {
	singleton := cfg.HasRole(config.RoleRelay) || cfg.HasRole(config.RoleProjector)
	return singleton && (cfg.Store == config.StoreSQLite || cfg.EmbeddedNATS())
}

// lockDataDir takes the data directory's lock for a command described by
// what; hint tells the operator what to do when another process holds it.
// A held directory is an exitFailure naming the holder.
func lockDataDir(cfg config.Config, what, hint string) (*datadir.Lock, error) {
	l, err := datadir.Acquire(cfg.DataDir, what)
	var busy *datadir.BusyError
	if errors.As(err, &busy) {
		msg := busy.Error()
		if hint != "" {
			msg += ": " + hint
		}
		return nil, &exitError{code: exitFailure, err: errors.New(msg)}
	}
	return l, err
}

// keysLockHint is what `keys create|revoke` suggest beside a running server.
var keysLockHint = strings.Join([]string{
	"stop it first, or manage keys through its API with an admin key of the team",
	"(POST /api/v1/keys, POST /api/v1/keys/{id}/revoke; docs/api-keys.md)",
}, " ")

// serveLockHint is what a second serve suggests.
const serveLockHint = "only one process with the relay or projector role may use a data directory; " +
	"stop that one, give this one its own --data-dir, or run this one with --roles api to share it"

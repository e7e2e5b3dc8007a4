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
//   - `cspm serve` with the relay or projector role on the embedded NATS
//     server (its files are <data-dir>/nats): two embedded servers on one
//     directory corrupt it, and without the leases of an external NATS two
//     relays or two projectors would race. On an external NATS
//     (--nats-url) relays elect a leader and projectors share the
//     projections through leases (wiring_lease.go; docs/decisions.md 85),
//     so any number of them share the directory's SQLite stores, as api
//     processes always have.
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
	return singleton && cfg.EmbeddedNATS()
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
const serveLockHint = "only one process with the relay or projector role may use a data directory with the embedded NATS server; " +
	"stop that one, give this one its own --data-dir, run this one with --roles api to share it, " +
	"or run every process on an external NATS (--nats-url), where they share the work through leases"

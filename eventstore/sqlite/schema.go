package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// migrations[i] brings the schema from user_version i to i+1. Append only:
// never edit a migration that has shipped.
var migrations = [][]string{
	{
		eventsTableDDL("events"),
		`CREATE TABLE streams (
			stream_id   TEXT    NOT NULL PRIMARY KEY,
			stream_type TEXT    NOT NULL,
			version     INTEGER NOT NULL,
			last_hash   TEXT    NOT NULL
		) STRICT, WITHOUT ROWID`,
		`CREATE TABLE idempotency (
			key         TEXT    NOT NULL PRIMARY KEY,
			fingerprint TEXT    NOT NULL,
			result      TEXT    NOT NULL,
			created_at  INTEGER NOT NULL
		) STRICT, WITHOUT ROWID`,
	},
	// 2: tamper evidence (docs/tamper-evidence.md). The global chain's
	// log_hash ('' until the first writer with a key chains the events
	// stored before), the idempotency records' MACs, the store's identity
	// (store_id, random, given here; key_id, set by the first chaining)
	// and the checkpoint history.
	{
		`ALTER TABLE events ADD COLUMN log_hash TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE idempotency ADD COLUMN mac TEXT NOT NULL DEFAULT ''`,
		`CREATE TABLE audit_meta (
			name  TEXT NOT NULL PRIMARY KEY,
			value TEXT NOT NULL
		) STRICT, WITHOUT ROWID`,
		`INSERT INTO audit_meta (name, value) VALUES ('store_id', lower(hex(randomblob(16))))`,
		`CREATE TABLE checkpoints (
			position INTEGER NOT NULL,
			taken_at INTEGER NOT NULL,
			mac      TEXT    NOT NULL,
			store_id TEXT    NOT NULL,
			log_hash TEXT    NOT NULL,
			reason   TEXT    NOT NULL,
			PRIMARY KEY (position, taken_at, mac)
		) STRICT, WITHOUT ROWID`,
	},
	// 3: compact stored forms (decision 96, encoding.go): event ids that
	// are canonical UUIDs as 16 bytes, hex digests as 32 bytes, in ANY
	// columns (the value's type says which form). The table is rebuilt
	// (a STRICT column's type cannot be altered) with the same names, in
	// position order; metadata documents stay as stored (JSON text, read
	// as before), new events get the binary form.
	{
		eventsTableV3DDL("events_v3"),
		`INSERT INTO events_v3 (` + eventsV3Columns + `)
			SELECT position, ` + uuidToBlobSQL("event_id") + `, stream_id, stream_type, version, type,
				schema_version, data, metadata, recorded_at, ` + hexToBlobSQL("prev_hash") + `, ` +
			hexToBlobSQL("hash") + `, ` + hexToBlobSQL("log_hash") + `
			FROM events ORDER BY position`,
		`DROP TABLE events`,
		`ALTER TABLE events_v3 RENAME TO events`,
	},
}

const eventsV3Columns = `position, event_id, stream_id, stream_type, version, type,
	schema_version, data, metadata, recorded_at, prev_hash, hash, log_hash`

// eventsTableV3DDL is the events table since migration 3 under the given
// name: the columns of migrations 1 and 2, with event_id, metadata and
// the hashes declared ANY (encoding.go).
func eventsTableV3DDL(name string) string {
	return `CREATE TABLE ` + name + ` (
			position       INTEGER NOT NULL PRIMARY KEY,
			event_id       ANY     NOT NULL UNIQUE,
			stream_id      TEXT    NOT NULL,
			stream_type    TEXT    NOT NULL,
			version        INTEGER NOT NULL CHECK (version >= 1),
			type           TEXT    NOT NULL,
			schema_version INTEGER NOT NULL,
			data           TEXT    NOT NULL,
			metadata       ANY     NOT NULL,
			recorded_at    INTEGER NOT NULL,
			prev_hash      ANY     NOT NULL,
			hash           ANY     NOT NULL,
			log_hash       ANY     NOT NULL DEFAULT '',
			UNIQUE (stream_id, version)
		) STRICT`
}

// hexToBlobSQL is the SQL of hashValue: a 64-character lower-case hex
// text as its 32 bytes, anything else unchanged.
func hexToBlobSQL(column string) string {
	return `CASE WHEN ` + column + ` GLOB '` + strings.Repeat("[0-9a-f]", 64) + `' THEN unhex(` + column + `) ELSE ` + column + ` END`
}

// uuidToBlobSQL is the SQL of uuidValue: a canonical lower-case UUID as
// its 16 bytes, anything else unchanged.
func uuidToBlobSQL(column string) string {
	h := func(n int) string { return strings.Repeat("[0-9a-f]", n) }
	return `CASE WHEN ` + column + ` GLOB '` + h(8) + "-" + h(4) + "-" + h(4) + "-" + h(4) + "-" + h(12) +
		`' THEN unhex(replace(` + column + `, '-', '')) ELSE ` + column + ` END`
}

// eventsTableDDL is the events table of migration 1 under the given name
// (the benchmarks create an identical table for their raw-insert baseline,
// and add log_hash as migration 2 does).
func eventsTableDDL(name string) string {
	return `CREATE TABLE ` + name + ` (
			position       INTEGER NOT NULL PRIMARY KEY,
			event_id       TEXT    NOT NULL UNIQUE,
			stream_id      TEXT    NOT NULL,
			stream_type    TEXT    NOT NULL,
			version        INTEGER NOT NULL CHECK (version >= 1),
			type           TEXT    NOT NULL,
			schema_version INTEGER NOT NULL,
			data           TEXT    NOT NULL,
			metadata       TEXT    NOT NULL,
			recorded_at    INTEGER NOT NULL,
			prev_hash      TEXT    NOT NULL,
			hash           TEXT    NOT NULL,
			UNIQUE (stream_id, version)
		) STRICT`
}

// migrateLogged is migrate, with a log line before and after when the
// events table is rebuilt (migration 3 on a store that holds events: about
// 80 s per million events on the loaded 2-core build machine), so that a slow first
// start after an upgrade is explained.
func migrateLogged(ctx context.Context, conn *sql.Conn, log *slog.Logger) error {
	var current int
	var events int64
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("migrate: read user_version: %w", err)
	}
	if current >= 1 && current < 3 {
		if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(position), 0) FROM events").Scan(&events); err != nil {
			return fmt.Errorf("migrate: count events: %w", err)
		}
	}
	if events == 0 {
		return migrate(ctx, conn)
	}
	log.Info("event store: rewriting the events table in its compact form (schema 3, once)",
		"from_schema", current, "events", events)
	start := time.Now()
	if err := migrate(ctx, conn); err != nil {
		return err
	}
	log.Info("event store: schema 3 in place", "events", events, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// migrate applies the missing migrations in one write transaction, so two
// processes opening a fresh file at once do not both create the tables.
func migrate(ctx context.Context, conn *sql.Conn) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var current int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("migrate: read user_version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this binary knows (%d)", current, len(migrations))
	}
	for v := current; v < len(migrations); v++ {
		for _, stmt := range migrations[v] {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate: to version %d: %w", v+1, err)
			}
		}
	}
	if current < len(migrations) {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
			return fmt.Errorf("migrate: set user_version: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

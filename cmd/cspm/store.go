package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/mongo"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

// eventStoreLocation says where the event store lives, for humans.
func eventStoreLocation(cfg config.Config, reg *dbregistry.Registry) string {
	if cfg.Store == config.StoreMongo {
		return fmt.Sprintf("MongoDB database %s at %s", reg.Name(dbregistry.EVENTS), cfg.RedactedMongoURI())
	}
	return reg.SQLiteFile(cfg.DataDir, dbregistry.EVENTS)
}

// openEventStore opens the configured event store, creating the data
// directory (and an empty store) when needed. key is the audit key it
// writes with; readOnly opens a MongoDB store without a sequencer (a
// SQLite store writes only when appended to).
func openEventStore(ctx context.Context, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger, key eventstore.AuditKey, readOnly bool) (eventstore.Store, error) {
	log = log.With("component", "eventstore")
	switch cfg.Store {
	case config.StoreSQLite:
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		path := reg.SQLiteFile(cfg.DataDir, dbregistry.EVENTS)
		s, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: string(cfg.SQLiteSync), Logger: log, AuditKey: key})
		if err != nil {
			return nil, fmt.Errorf("open event store %s: %w", path, err)
		}
		return s, nil
	case config.StoreMongo:
		s, err := mongo.Open(ctx, cfg.MongoURI, reg.Name(dbregistry.EVENTS), mongo.Options{Logger: log, AuditKey: key, ReadOnly: readOnly})
		if err != nil {
			return nil, fmt.Errorf("open event store %s: %w", eventStoreLocation(cfg, reg), err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown store %q", cfg.Store)
}

// auditKeyPath is where the audit key of cfg lives.
func auditKeyPath(cfg config.Config) string {
	return filepath.Join(cfg.AuditDirectory(), eventstore.AuditKeyFile)
}

// keyClaimer is what a writable store does to bind itself to its audit key.
type keyClaimer interface {
	ClaimAuditKey(ctx context.Context) error
}

// openWritableEventStore opens the event store for a process that writes
// (serve, cspm keys create|revoke) with the audit key of the audit
// directory (docs/tamper-evidence.md). The key is created on the first
// start, and only when the store records no key id yet (a new store, or
// one from before the global chain), before the store is bound to it. A
// store bound to a key refuses to open without that key: a new key is
// never created over an existing store.
func openWritableEventStore(ctx context.Context, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger) (eventstore.Store, eventstore.AuditKey, error) {
	path := auditKeyPath(cfg)
	where := eventStoreLocation(cfg, reg)
	key, err := eventstore.ReadAuditKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createAuditKey(ctx, cfg, reg, log, path, where)
	}
	if err != nil {
		return nil, eventstore.AuditKey{}, fmt.Errorf("%w (--audit-dir / CSPM_AUDIT_DIR)", err)
	}
	store, err := openEventStore(ctx, cfg, reg, log, key, false)
	if err != nil {
		return nil, eventstore.AuditKey{}, err
	}
	fail := func(err error) (eventstore.Store, eventstore.AuditKey, error) {
		_ = store.Close()
		return nil, eventstore.AuditKey{}, err
	}
	info, err := storeAuditInfo(ctx, store)
	if err != nil {
		return fail(err)
	}
	if info.KeyID != "" && info.KeyID != key.ID() {
		return fail(fmt.Errorf("the audit key %s (key id %s) is not the key of the event store %s (key id %s): "+
			"use the store's key file (--audit-dir / CSPM_AUDIT_DIR); nothing was written", path, key.ID(), where, info.KeyID))
	}
	if c, ok := store.(keyClaimer); ok {
		if err := c.ClaimAuditKey(ctx); err != nil {
			return fail(fmt.Errorf("bind the event store %s to the audit key %s: %w", where, path, err))
		}
	}
	return store, key, nil
}

// createAuditKey creates the key file, after checking (with the store
// opened read-only) that the store records no key id.
func createAuditKey(ctx context.Context, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger, path, where string) (eventstore.AuditKey, error) {
	peek, err := openEventStore(ctx, cfg, reg, log, eventstore.AuditKey{}, true)
	if err != nil {
		return eventstore.AuditKey{}, err
	}
	info, err := storeAuditInfo(ctx, peek)
	_ = peek.Close()
	if err != nil {
		return eventstore.AuditKey{}, err
	}
	if info.KeyID != "" {
		return eventstore.AuditKey{}, fmt.Errorf("the event store %s is chained with audit key id %s, but there is no key file at %s: "+
			"restore that key file (a new key is never created over an existing store)", where, info.KeyID, path)
	}
	key, err := eventstore.CreateAuditKeyFile(path)
	if errors.Is(err, eventstore.ErrAuditKeyExists) { // another process created it meanwhile
		return eventstore.ReadAuditKeyFile(path)
	}
	if err != nil {
		return eventstore.AuditKey{}, err
	}
	log.Info("audit key created: back it up, the store's tamper evidence cannot be verified without it",
		"component", "audit", "file", path, "key_id", key.ID())
	return key, nil
}

func storeAuditInfo(ctx context.Context, s eventstore.Store) (eventstore.AuditInfo, error) {
	as, ok := s.(eventstore.AuditStore)
	if !ok {
		return eventstore.AuditInfo{}, fmt.Errorf("event store %T keeps no audit metadata", s)
	}
	info, err := as.AuditInfo(ctx)
	if err != nil {
		return eventstore.AuditInfo{}, fmt.Errorf("read the event store's audit key id: %w", err)
	}
	return info, nil
}

// readAuditKey is the audit key for commands that only read (verify): the
// zero key when there is no key file.
func readAuditKey(cfg config.Config) (eventstore.AuditKey, error) {
	key, err := eventstore.ReadAuditKeyFile(auditKeyPath(cfg))
	if errors.Is(err, fs.ErrNotExist) {
		return eventstore.AuditKey{}, nil
	}
	return key, err
}

// checkStoreExists: an embedded store that does not exist yet is an error
// for the commands that work on an existing store, not a new empty file.
func checkStoreExists(cfg config.Config, reg *dbregistry.Registry) error {
	if cfg.Store == config.StoreSQLite {
		path := reg.SQLiteFile(cfg.DataDir, dbregistry.EVENTS)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no event store at %s (wrong --data-dir / CSPM_DATA_DIR, or nothing served yet)", path)
		}
	}
	return nil
}

// openExistingEventStore opens an existing store for commands that only
// read; it never writes (no audit key, no sequencer).
func openExistingEventStore(ctx context.Context, cfg config.Config, log *slog.Logger) (eventstore.Store, error) {
	reg, err := dbregistry.New(cfg.DBPrefix)
	if err != nil {
		return nil, err
	}
	if err := checkStoreExists(cfg, reg); err != nil {
		return nil, err
	}
	return openEventStore(ctx, cfg, reg, log, eventstore.AuditKey{}, true)
}

// openExistingWritableStore opens an existing store for a one-shot
// writer (cspm keys create|revoke), with the audit key.
func openExistingWritableStore(ctx context.Context, cfg config.Config, log *slog.Logger) (eventstore.Store, eventstore.AuditKey, error) {
	reg, err := dbregistry.New(cfg.DBPrefix)
	if err != nil {
		return nil, eventstore.AuditKey{}, err
	}
	if err := checkStoreExists(cfg, reg); err != nil {
		return nil, eventstore.AuditKey{}, err
	}
	return openWritableEventStore(ctx, cfg, reg, log)
}

// takeCheckpoint signs a checkpoint after a one-shot writer wrote. A
// failure is reported, not fatal: the write is done.
func takeCheckpoint(ctx context.Context, inv *invocation, store eventstore.Store, key eventstore.AuditKey) {
	c, err := eventstore.NewCheckpointer(store, key, inv.cfg.AuditDirectory(), inv.log)
	if err == nil {
		_, err = c.Take(ctx, eventstore.CheckpointCLI)
	}
	if err != nil {
		inv.log.Error("audit checkpoint not taken", "component", "audit", "err", err)
	}
}

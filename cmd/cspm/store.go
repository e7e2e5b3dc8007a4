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
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/eventstore/mongo"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/datadir"
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
	s, err := openLiveEventStore(ctx, cfg, reg, log, key, readOnly)
	if err != nil {
		return nil, err
	}
	return throughArchive(cfg, s)
}

// throughArchive returns s read through the archive of cfg (docs/archival.md):
// the one reader of the log every command and the server use, so that
// verify, replay, export, audit, rebuilds and the command side see the
// archived events too.
func throughArchive(cfg config.Config, s eventstore.Store) (eventstore.Store, error) {
	a, err := archive.Open(cfg.ArchiveDirectory())
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open the event archive (--archive-dir / CSPM_ARCHIVE_DIR): %w", err)
	}
	return archive.Through(s, a), nil
}

// openLiveEventStore opens the live store alone (openEventStore).
func openLiveEventStore(ctx context.Context, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger, key eventstore.AuditKey, readOnly bool) (eventstore.Store, error) {
	log = log.With("component", "eventstore")
	switch cfg.Store {
	case config.StoreSQLite:
		if err := datadir.MkdirAll(cfg.DataDir); err != nil {
			return nil, err
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

// openEventStoreReadOnly opens an existing store for commands that only
// read (`events ...`, `keys list`): the embedded store read-only (no lock,
// no write, so it works beside a running server), MongoDB without a
// sequencer and without the audit key; a store that does not exist yet is
// an error, not a new empty file.
func openEventStoreReadOnly(ctx context.Context, cfg config.Config, log *slog.Logger) (eventstore.Store, error) {
	reg, err := dbregistry.New(cfg.DBPrefix)
	if err != nil {
		return nil, err
	}
	if cfg.Store != config.StoreSQLite {
		return openEventStore(ctx, cfg, reg, log, eventstore.AuditKey{}, true)
	}
	path, err := existingSQLiteStore(cfg, reg)
	if err != nil {
		return nil, err
	}
	s, err := sqlite.OpenReadOnly(ctx, path, sqlite.Options{Logger: log.With("component", "eventstore")})
	if err != nil {
		return nil, err
	}
	return throughArchive(cfg, s)
}

// openEventStoreToWrite opens an existing store for a one-shot command
// that appends (`keys create|revoke`, `kb embed`, described by what), with
// the audit key. The embedded store is opened only once the data
// directory's lock is held (refused while a server owns the directory,
// with hint, by default the keys' one); release closes the store and
// gives the lock back.
func openEventStoreToWrite(ctx context.Context, inv *invocation, what string, hint ...string) (store eventstore.Store, key eventstore.AuditKey, release func(), err error) {
	cfg := inv.cfg
	reg, err := dbregistry.New(cfg.DBPrefix)
	if err != nil {
		return nil, key, nil, err
	}
	if cfg.Store != config.StoreSQLite {
		if store, key, err = openWritableEventStore(ctx, cfg, reg, inv.log); err != nil {
			return nil, key, nil, err
		}
		return store, key, func() { closeStore(inv, store) }, nil
	}
	if _, err := existingSQLiteStore(cfg, reg); err != nil {
		return nil, key, nil, err
	}
	h := keysLockHint
	if len(hint) > 0 {
		h = hint[0]
	}
	lock, err := lockDataDir(cfg, what, h)
	if err != nil {
		return nil, key, nil, err
	}
	if store, key, err = openWritableEventStore(ctx, cfg, reg, inv.log); err != nil {
		_ = lock.Release()
		return nil, key, nil, err
	}
	return store, key, func() {
		closeStore(inv, store)
		if err := lock.Release(); err != nil {
			inv.log.Warn("data directory lock", "error", err)
		}
	}, nil
}

// existingSQLiteStore is the embedded store's path, or an error saying it
// does not exist.
func existingSQLiteStore(cfg config.Config, reg *dbregistry.Registry) (string, error) {
	path := reg.SQLiteFile(cfg.DataDir, dbregistry.EVENTS)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no event store at %s (wrong --data-dir / CSPM_DATA_DIR, or nothing served yet)", path)
	}
	return path, nil
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

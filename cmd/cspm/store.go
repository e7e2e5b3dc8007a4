package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/cspm-es/cspm-es/eventstore"
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
// directory (and an empty store) when needed.
func openEventStore(ctx context.Context, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger) (eventstore.Store, error) {
	log = log.With("component", "eventstore")
	switch cfg.Store {
	case config.StoreSQLite:
		if err := datadir.MkdirAll(cfg.DataDir); err != nil {
			return nil, err
		}
		path := reg.SQLiteFile(cfg.DataDir, dbregistry.EVENTS)
		s, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: string(cfg.SQLiteSync), Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open event store %s: %w", path, err)
		}
		return s, nil
	case config.StoreMongo:
		s, err := mongo.Open(ctx, cfg.MongoURI, reg.Name(dbregistry.EVENTS), mongo.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open event store %s: %w", eventStoreLocation(cfg, reg), err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown store %q", cfg.Store)
}

// openEventStoreReadOnly opens an existing store for commands that only
// read (`events ...`, `keys list`): the embedded store read-only (no lock,
// no write, so it works beside a running server); a store that does not
// exist yet is an error, not a new empty file.
func openEventStoreReadOnly(ctx context.Context, cfg config.Config, log *slog.Logger) (eventstore.Store, error) {
	reg, err := dbregistry.New(cfg.DBPrefix)
	if err != nil {
		return nil, err
	}
	if cfg.Store != config.StoreSQLite {
		return openEventStore(ctx, cfg, reg, log)
	}
	path, err := existingSQLiteStore(cfg, reg)
	if err != nil {
		return nil, err
	}
	s, err := sqlite.OpenReadOnly(ctx, path, sqlite.Options{Logger: log.With("component", "eventstore")})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openEventStoreToWrite opens an existing store for a one-shot command
// that appends (`keys create|revoke`, described by what). The embedded
// store is opened only once the data directory's lock is held (refused
// while a server owns the directory); release closes the store and gives
// the lock back.
func openEventStoreToWrite(ctx context.Context, inv *invocation, what string) (store eventstore.Store, release func(), err error) {
	cfg := inv.cfg
	reg, err := dbregistry.New(cfg.DBPrefix)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Store != config.StoreSQLite {
		if store, err = openEventStore(ctx, cfg, reg, inv.log); err != nil {
			return nil, nil, err
		}
		return store, func() { closeStore(inv, store) }, nil
	}
	if _, err := existingSQLiteStore(cfg, reg); err != nil {
		return nil, nil, err
	}
	lock, err := lockDataDir(cfg, what, keysLockHint)
	if err != nil {
		return nil, nil, err
	}
	if store, err = openEventStore(ctx, cfg, reg, inv.log); err != nil {
		_ = lock.Release()
		return nil, nil, err
	}
	return store, func() {
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

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
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
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

// openExistingEventStore is openEventStore for commands that only read: an
// embedded store that does not exist yet is an error, not a new empty file.
func openExistingEventStore(ctx context.Context, cfg config.Config, log *slog.Logger) (eventstore.Store, error) {
	reg, err := dbregistry.New(cfg.DBPrefix)
	if err != nil {
		return nil, err
	}
	if cfg.Store == config.StoreSQLite {
		path := reg.SQLiteFile(cfg.DataDir, dbregistry.EVENTS)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no event store at %s (wrong --data-dir / CSPM_DATA_DIR, or nothing served yet)", path)
		}
	}
	return openEventStore(ctx, cfg, reg, log)
}

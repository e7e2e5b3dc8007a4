package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cspm-es/cspm-es/platform/datadir"
)

// OpenModuleStores opens one store per module database name (as the
// database registry spells them, prefix included) at <dataDir>/<name>.sqlite,
// creating dataDir if needed. On error, the stores already opened are
// closed.
func OpenModuleStores(ctx context.Context, dataDir string, names []string, opts Options) (map[string]*Store, error) {
	if err := datadir.MkdirAll(dataDir); err != nil {
		return nil, fmt.Errorf("open module stores: %w", err)
	}
	stores := make(map[string]*Store, len(names))
	fail := func(err error) (map[string]*Store, error) {
		errs := []error{err}
		for _, s := range stores {
			errs = append(errs, s.Close())
		}
		return nil, errors.Join(errs...)
	}
	for _, name := range names {
		if err := validateDatabaseName(name); err != nil {
			return fail(err)
		}
		if _, dup := stores[name]; dup {
			return fail(fmt.Errorf("open module stores: database %q listed twice", name))
		}
		s, err := Open(ctx, filepath.Join(dataDir, name+".sqlite"), opts)
		if err != nil {
			return fail(err)
		}
		stores[name] = s
	}
	return stores, nil
}

// validateDatabaseName accepts the names a registry produces: 1 to 64
// characters from [A-Za-z0-9_-], so a name is never a path.
func validateDatabaseName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("database name %q: want 1 to 64 characters", name)
	}
	for _, c := range name {
		if c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		return fmt.Errorf("database name %q: want [A-Za-z0-9_-]", name)
	}
	return nil
}

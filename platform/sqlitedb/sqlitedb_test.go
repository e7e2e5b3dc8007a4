package sqlitedb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/sqlitedb"
)

func TestOpen_PragmasOnBothPools(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sync string
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{"", 2}, {"full", 2}, {"NORMAL", 1}} {
		path := filepath.Join(t.TempDir(), "db.sqlite")
		migrated := false
		p, err := sqlitedb.Open(t.Context(), path, sqlitedb.Config{Synchronous: tc.sync, Pragmas: []string{"temp_store(MEMORY)"}},
			func(ctx context.Context, conn *sql.Conn) error {
				migrated = true
				_, err := conn.ExecContext(ctx, "CREATE TABLE t (x INTEGER)")
				return err
			})
		require.NoError(t, err)
		assert.True(t, migrated)

		var mode string
		var sync, temp int
		require.NoError(t, p.Conn.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode))
		require.NoError(t, p.Conn.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync))
		require.NoError(t, p.Read.QueryRowContext(t.Context(), "PRAGMA temp_store").Scan(&temp))
		assert.Equal(t, "wal", mode)
		assert.Equal(t, tc.want, sync, "synchronous %q", tc.sync)
		assert.Equal(t, 2, temp, "extra pragmas reach the read pool")
		_, err = p.Read.ExecContext(t.Context(), "INSERT INTO t VALUES (1)")
		assert.Error(t, err, "the read pool is query-only")
		require.NoError(t, p.Close())
	}
}

func TestOpen_Refuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		cfg  sqlitedb.Config
	}{
		{":memory:", sqlitedb.Config{}},
		{"file:x.db", sqlitedb.Config{}},
		{filepath.Join(dir, "a.sqlite") + "?mode=ro", sqlitedb.Config{}},
		{filepath.Join(dir, "b.sqlite"), sqlitedb.Config{Synchronous: "off"}},
		{filepath.Join(dir, "c.sqlite"), sqlitedb.Config{BusyTimeout: -1}},
	} {
		_, err := sqlitedb.Open(t.Context(), tc.path, tc.cfg, nil)
		assert.Error(t, err, "%q %+v", tc.path, tc.cfg)
	}
}

func TestUnavailable(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.sqlite"))
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE t (x)`)
	require.NoError(t, err)
	_, err = db.Exec(`SELEC nonsense`)
	require.Error(t, err)
	assert.False(t, sqlitedb.Unavailable(err), "a bad statement is the caller's fault")
	assert.False(t, sqlitedb.Unavailable(nil))
	require.NoError(t, db.Close())
	_, err = db.Exec(`SELECT 1`)
	require.Error(t, err)
	assert.True(t, sqlitedb.Unavailable(err), "a closed pool cannot serve: %v", err)
}

package sqlitedb_test

import (
	"context"
	"database/sql"
	"os"
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

// The database file and the -wal and -shm files SQLite creates beside it
// are owner-only, whatever the umask lets through.
func TestOpen_CreatesOwnerOnlyFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	p, err := sqlitedb.Open(t.Context(), path, sqlitedb.Config{}, func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, "CREATE TABLE t (x INTEGER)")
		return err
	})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Conn.ExecContext(t.Context(), "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		require.NoError(t, err, f)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
}

// A read-only open writes nothing: no write connection, and the pool
// refuses writes; a missing file is an error, not a new database.
func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	_, err := sqlitedb.OpenReadOnly(t.Context(), path, sqlitedb.Config{})
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "not created")

	w, err := sqlitedb.Open(t.Context(), path, sqlitedb.Config{}, func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7)")
		return err
	})
	require.NoError(t, err)
	defer w.Close()
	r, err := sqlitedb.OpenReadOnly(t.Context(), path, sqlitedb.Config{})
	require.NoError(t, err)
	defer r.Close()
	assert.Nil(t, r.Conn)
	assert.Nil(t, r.Write)
	var x int
	require.NoError(t, r.Read.QueryRowContext(t.Context(), "SELECT x FROM t").Scan(&x))
	assert.Equal(t, 7, x)
	_, err = r.Read.ExecContext(t.Context(), "INSERT INTO t VALUES (8)")
	assert.Error(t, err)
	// The writer still writes beside it.
	_, err = w.Conn.ExecContext(t.Context(), "INSERT INTO t VALUES (9)")
	require.NoError(t, err)
}

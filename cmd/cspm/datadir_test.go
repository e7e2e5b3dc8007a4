package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/datadir"
)

// Which serve processes own the data directory.
func TestServeOwnsDataDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		roles []config.Role
		store config.StoreKind
		nats  string
		want  bool
	}{
		{[]config.Role{config.RoleAPI, config.RoleRelay, config.RoleProjector}, config.StoreSQLite, "", true},
		// On an external NATS relays and projectors coordinate through leases
		// and share the SQLite files like api processes (decision 85).
		{[]config.Role{config.RoleRelay}, config.StoreSQLite, "nats://n:4222", false},
		{[]config.Role{config.RoleAPI, config.RoleRelay, config.RoleProjector}, config.StoreSQLite, "nats://n:4222", false},
		{[]config.Role{config.RoleProjector}, config.StoreMongo, "", true}, // the embedded NATS lives there
		{[]config.Role{config.RoleRelay, config.RoleProjector}, config.StoreMongo, "nats://n:4222", false},
		{[]config.Role{config.RoleAPI}, config.StoreSQLite, "", false}, // a guest: the documented split
		{[]config.Role{config.RoleAPI}, config.StoreMongo, "", false},
	} {
		cfg := config.Default()
		cfg.Roles, cfg.Store, cfg.NATSURL = tc.roles, tc.store, tc.nats
		assert.Equal(t, tc.want, serveOwnsDataDir(cfg), "%v %s %q", tc.roles, tc.store, tc.nats)
	}
}

// While another process owns the data directory, serve (with a singleton
// role) and the keys commands that write fail at once (exit 1) naming the
// holder; the read-only commands work.
func TestDataDirLock_RefusesWritersNamingTheHolder(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil) // in process: the app does not take the lock itself
	pos := a.newScan(t, "lock-1")
	lock, err := datadir.Acquire(a.cfg.DataDir, "cspm serve --roles api,relay,projector --http-addr test")
	require.NoError(t, err)
	defer lock.Release()
	holder := fmt.Sprintf("in use by pid %d (cspm serve --roles api,relay,projector --http-addr test, since ", os.Getpid())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"serve", "--http-addr", "127.0.0.1:0"}, &stdout, &stderr, a.lookupEnv(nil))
	assert.Equal(t, exitFailure, code, stderr.String())
	assert.Contains(t, stderr.String(), holder)
	assert.Contains(t, stderr.String(), "--roles api to share it")
	assert.Less(t, time.Since(start), 10*time.Second, "at once")

	for _, args := range [][]string{
		{"keys", "create", "--team", "t", "--role", "viewer"},
		{"keys", "revoke", "aaaaaaaaaaaaaaaa"},
	} {
		r := a.cli(t, nil, args...)
		assert.Equal(t, exitFailure, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, holder, "%v", args)
		assert.Contains(t, r.stderr, "POST /api/v1/keys", "%v", args)
	}
	for _, args := range [][]string{
		{"keys", "list"},
		{"events", "verify"},
		{"events", "export", "--out", filepath.Join(t.TempDir(), "out.jsonl")},
		{"events", "replay", "--stream", "scan-lock-1"},
	} {
		r := a.cli(t, nil, args...)
		assert.Equal(t, exitOK, r.code, "%v: %s", args, r.stderr)
	}
	head, err := a.store.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Equal(t, pos, head, "nothing appended by the refused commands")

	// Released, the writers work again.
	require.NoError(t, lock.Release())
	r := a.cli(t, nil, "keys", "create", "--team", "t", "--role", "viewer")
	assert.Equal(t, exitOK, r.code, r.stderr)
}

// An empty event store beside an existing admin.key is a refused start
// (the store the key belongs to is gone), and the file is never
// overwritten.
func TestFirstStart_RefusedBesideAnEarlierAdminKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	h := platformcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now))
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	path := filepath.Join(cfg.DataDir, adminKeyFile)
	require.NoError(t, os.WriteFile(path, []byte("cspm_old\n"), 0o600))
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))

	err = bootstrapAdminKey(ctx, cfg, store, h, log, &out)
	require.ErrorIs(t, err, errStaleAdminKey)
	assert.Contains(t, err.Error(), "first start refused")
	assert.Contains(t, err.Error(), "restore the event store from a backup")
	assert.Contains(t, err.Error(), "move "+path+" away")
	assert.Empty(t, out.String(), "no key issued")
	head, err := store.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Zero(t, head)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "cspm_old\n", string(raw))

	// Moved away, the first start goes on.
	require.NoError(t, os.Rename(path, path+".old"))
	require.NoError(t, bootstrapAdminKey(ctx, cfg, store, h, log, &out))
	assert.NotEqual(t, "cspm_old", adminKey(t, cfg.DataDir))
}

func TestWriteKeyFile_NeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, adminKeyFile)
	require.NoError(t, writeKeyFile(path, "first"))
	err := writeKeyFile(path, "second")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not overwritten")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "first\n", string(raw))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// keyedStore is a data dir whose store was written by `cspm keys create`
// (a one-shot writer): the first write creates the audit key, and each
// takes a checkpoint into the audit directory.
func keyedStore(t *testing.T, keys int) (dataDir, auditDir string) {
	t.Helper()
	dataDir, auditDir = t.TempDir(), t.TempDir()
	s, err := sqlite.Open(context.Background(), dbregistry.MustNew("").SQLiteFile(dataDir, dbregistry.EVENTS), sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	env := map[string]string{"CSPM_DATA_DIR": dataDir, "CSPM_AUDIT_DIR": auditDir}
	for range keys {
		r := cspm(t, env, "keys", "create", "--team", "team-a", "--role", "viewer")
		require.Equal(t, exitOK, r.code, r.stderr)
	}
	return dataDir, auditDir
}

func eventsDB(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dbregistry.MustNew("").SQLiteFile(dataDir, dbregistry.EVENTS)+"?_busy_timeout=10000")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// The tail of the log cut (its last event, its stream head and the
// store's checkpoints above it removed): only the checkpoint copy in the
// audit directory remembers, and verify names the first missing position.
func TestEventsVerify_TruncatedTail(t *testing.T) {
	t.Parallel()
	dataDir, auditDir := keyedStore(t, 3)
	env := map[string]string{"CSPM_DATA_DIR": dataDir, "CSPM_AUDIT_DIR": auditDir}

	key := filepath.Join(auditDir, eventstore.AuditKeyFile)
	fi, err := os.Stat(key)
	require.NoError(t, err, "the first writer created the audit key")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	copies, err := filepath.Glob(filepath.Join(auditDir, "checkpoint-*.json"))
	require.NoError(t, err)
	require.Len(t, copies, 1)
	cp, err := eventstore.ReadCheckpointFile(copies[0])
	require.NoError(t, err)
	assert.Equal(t, int64(3), cp.Position, "keys create took a checkpoint after writing")
	assert.Equal(t, eventstore.CheckpointCLI, cp.Reason)

	r := cspm(t, env, "events", "verify")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "OK: 3 events in 3 streams verified")
	assert.Contains(t, r.stdout, "latest checkpoint: position 3")
	assert.NotContains(t, r.stdout, "not checked:")

	db := eventsDB(t, dataDir)
	var stream string
	require.NoError(t, db.QueryRow("SELECT stream_id FROM events WHERE position = 3").Scan(&stream))
	for _, q := range []string{
		"DELETE FROM events WHERE position = 3",
		"DELETE FROM streams WHERE stream_id = '" + stream + "'",
		"DELETE FROM checkpoints WHERE position > 2",
	} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}

	r = cspm(t, env, "events", "verify")
	assert.Equal(t, exitFailure, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "BROKEN: first broken link at position 3: log truncated: the checkpoint copy of ")
	assert.Contains(t, r.stdout, "says the log reached position 3, the log now ends at 2")
}

// A stream whose only event was the last of the log, deleted with the
// stream head left: no position is left to point at, so verify names the
// stream and its missing version, never "position 0".
func TestEventsVerify_DeletedTailRowIsNamed(t *testing.T) {
	t.Parallel()
	s := seed(t)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, dbregistry.MustNew("").SQLiteFile(s.dir, dbregistry.EVENTS), sqlite.Options{})
	require.NoError(t, err)
	res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: "tail-1", StreamType: "t", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	require.NoError(t, store.Close())
	_, err = eventsDB(t, s.dir).Exec("DELETE FROM events WHERE position = ?", res.LastPosition())
	require.NoError(t, err)

	r := cspm(t, nil, "events", "verify", "--data-dir", s.dir)
	assert.Equal(t, exitFailure, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "BROKEN: first broken link: stream tail-1 version 1: stream head is at version 1 but none of its events is stored")
	assert.NotContains(t, r.stdout, "position 0")
}

// `cspm events verify` without the store's key says what it could not check.
func TestEventsVerify_WithoutTheKey(t *testing.T) {
	t.Parallel()
	dataDir, _ := keyedStore(t, 1)
	r := cspm(t, map[string]string{"CSPM_DATA_DIR": dataDir, "CSPM_AUDIT_DIR": t.TempDir()}, "events", "verify")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "not checked: no audit key given: global chain, checkpoint MACs and idempotency record MACs not checked")
	assert.Contains(t, r.stdout, "not checked: no checkpoint copy found at ")

	other := t.TempDir()
	_, err := eventstore.CreateAuditKeyFile(filepath.Join(other, eventstore.AuditKeyFile))
	require.NoError(t, err)
	r = cspm(t, map[string]string{"CSPM_DATA_DIR": dataDir, "CSPM_AUDIT_DIR": other}, "events", "verify")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stdout, "BROKEN: first broken link: audit key does not match this store (store key id ")

	// A writer with the wrong key refuses before writing anything.
	r = cspm(t, map[string]string{"CSPM_DATA_DIR": dataDir, "CSPM_AUDIT_DIR": other}, "keys", "create", "--team", "t", "--role", "viewer")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "is not the key of the event store")
	assert.Contains(t, r.stderr, filepath.Join(other, eventstore.AuditKeyFile))
}

// serve creates the audit key on the first start, signs a checkpoint at
// every clean stop (covering the last writes) and refuses to start with
// a key that is not the store's, or without the key of a keyed store;
// GET /api/v1/audit/verify answers what `cspm events verify --json` prints.
func TestServe_AuditKeyAndCheckpoints(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	logs := &lockedBuffer{}
	ctx := context.Background()
	keyPath := filepath.Join(cfg.AuditDir, eventstore.AuditKeyFile)
	build := func() (*fx.App, *testApp) {
		a := &testApp{cfg: cfg, logs: logs}
		app := fx.New(serveOptions(cfg, logs), fx.Populate(&a.srv, &a.store))
		return app, a
	}

	// First start: the key is created; a command is written; the clean
	// stop signs a checkpoint of it.
	app, a := build()
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(ctx))
	a.base = "http://" + a.srv.Addr()
	useAppKey(t, cfg.DataDir, a.srv.Addr())
	key, err := eventstore.ReadAuditKeyFile(keyPath)
	require.NoError(t, err, "the first start created the audit key")
	fi, err := os.Stat(keyPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	a.newScan(t, "s1")
	head, err := a.store.HeadPosition(ctx)
	require.NoError(t, err)
	info, err := a.store.(eventstore.AuditStore).AuditInfo(ctx)
	require.NoError(t, err)
	assert.Equal(t, key.ID(), info.KeyID, "the store is bound to the key")
	require.NoError(t, app.Stop(ctx))
	cp, err := eventstore.ReadCheckpointFile(eventstore.CheckpointFile(cfg.AuditDir, info.StoreID))
	require.NoError(t, err)
	assert.Equal(t, eventstore.CheckpointStop, cp.Reason)
	assert.Equal(t, head, cp.Position, "the stop checkpoint covers the last write")
	assert.True(t, cp.Valid(key))
	assert.Contains(t, logs.String(), "audit checkpoint taken")

	// Another key: refused, naming the key file; nothing written.
	orig, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	require.NoError(t, os.Remove(keyPath))
	_, err = eventstore.CreateAuditKeyFile(keyPath)
	require.NoError(t, err)
	app, _ = build()
	require.Error(t, app.Err())
	assert.ErrorContains(t, app.Err(), "the audit key "+keyPath)
	assert.ErrorContains(t, app.Err(), "is not the key of the event store")
	assert.ErrorContains(t, app.Err(), "(key id "+key.ID()+")")

	// No key file over a keyed store: refused, and no key created.
	require.NoError(t, os.Remove(keyPath))
	app, _ = build()
	require.Error(t, app.Err())
	assert.ErrorContains(t, app.Err(), "there is no key file at "+keyPath)
	_, err = os.Stat(keyPath)
	assert.True(t, os.IsNotExist(err), "a new key is never created over an existing store")

	// The right key again: it starts, takes its start checkpoint, and the
	// API's verify is the CLI's.
	require.NoError(t, os.WriteFile(keyPath, orig, 0o600))
	app, a = build()
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(ctx))
	t.Cleanup(func() { _ = app.Stop(context.Background()) })
	a.base = "http://" + a.srv.Addr()
	useAppKey(t, cfg.DataDir, a.srv.Addr())
	eventually(t, 10*time.Second, "start checkpoint", func() bool {
		c, err := eventstore.ReadCheckpointFile(eventstore.CheckpointFile(cfg.AuditDir, info.StoreID))
		return err == nil && c.Reason == eventstore.CheckpointStart
	})
	var viaAPI platformquery.VerifyResult
	must(t, a.get(t, "/api/v1/audit/verify"), http.StatusOK).data(t, &viaAPI)
	r := a.cli(t, nil, "events", "verify", "--json")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	var viaCLI platformquery.VerifyResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &viaCLI), r.stdout)
	assert.True(t, viaAPI.OK)
	assert.True(t, viaAPI.Keyed)
	assert.Empty(t, viaAPI.NotChecked)
	require.NotNil(t, viaAPI.LatestCheckpoint)
	assert.Equal(t, "audit_dir", viaAPI.LatestCheckpoint.Source)
	viaAPI.StartedAt, viaAPI.DurationMS = viaCLI.StartedAt, viaCLI.DurationMS
	assert.Equal(t, viaAPI, viaCLI, "the same answer")
}

// A cut tail is named by the API too (the checkpoint copy of the stop).
func TestAuditVerifyAPI_TruncatedTail(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	a.newScan(t, "s1")
	a.newScan(t, "s2")
	c, err := eventstore.NewCheckpointer(a.store, mustAuditKey(t, a.cfg.AuditDir), a.cfg.AuditDir, nil)
	require.NoError(t, err)
	cp, err := c.Take(context.Background(), eventstore.CheckpointCLI)
	require.NoError(t, err)

	db := eventsDB(t, a.cfg.DataDir)
	var stream string
	require.NoError(t, db.QueryRow("SELECT stream_id FROM events WHERE position = ?", cp.Position).Scan(&stream))
	for _, q := range []string{"DELETE FROM events WHERE position = ?", "DELETE FROM checkpoints WHERE position >= ?"} {
		_, err := db.Exec(q, cp.Position)
		require.NoError(t, err)
	}
	_, err = db.Exec("DELETE FROM streams WHERE stream_id = ?", stream)
	require.NoError(t, err)

	var res platformquery.VerifyResult
	must(t, a.get(t, "/api/v1/audit/verify"), http.StatusOK).data(t, &res)
	assert.False(t, res.OK)
	require.NotNil(t, res.Broken)
	assert.Equal(t, cp.Position, res.Broken.Position)
	assert.Equal(t, eventstore.BrokenCheckpoint, res.Broken.Kind)
	assert.True(t, strings.HasPrefix(res.Broken.Reason, "log truncated: the checkpoint copy of "), res.Broken.Reason)
}

func mustAuditKey(t *testing.T, dir string) eventstore.AuditKey {
	t.Helper()
	k, err := eventstore.ReadAuditKeyFile(filepath.Join(dir, eventstore.AuditKeyFile))
	require.NoError(t, err)
	return k
}

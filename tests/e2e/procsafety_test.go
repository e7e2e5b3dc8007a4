package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Process safety of the data directory, with the real binary: one owner
// per data directory, the event store file removed under a running server,
// owner-only files.

// readBody reads and closes an answer's body.
func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw)
}

// newScan requests a scan and returns the position of its event.
func newScan(t *testing.T, s *server, id string) int64 {
	t.Helper()
	env := s.post(t, "/api/v1/scans", map[string]any{"scan_id": id, "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, http.StatusCreated)
	return env.Meta.Position
}

// scanStatus reads a scan with min_position and returns its status.
func scanStatus(t *testing.T, base, id string, minPos int64) string {
	t.Helper()
	a, err := getOK(context.Background(), fmt.Sprintf("%s/api/v1/scans/%s?min_position=%d", base, id, minPos))
	require.NoError(t, err)
	require.False(t, a.env.Meta.Stale, "%s", a.raw)
	var scan struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(a.env.Data, &scan))
	return scan.Status
}

// scanFindings reads a scan with min_position and returns its findings by
// severity (from the scan summaries).
func scanFindings(t *testing.T, base, id string, minPos int64) map[string]int64 {
	t.Helper()
	a, err := getOK(context.Background(), fmt.Sprintf("%s/api/v1/scans/%s?min_position=%d", base, id, minPos))
	require.NoError(t, err)
	var scan struct {
		Findings struct {
			BySeverity map[string]int64 `json:"by_severity"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(a.env.Data, &scan))
	return scan.Findings.BySeverity
}

// TestDataDirOwner: a second `cspm serve` on a data directory fails at
// once naming the first one's pid and command, and the first keeps
// serving; `keys create` is refused the same way; read-only commands and
// an api-only process work beside it; once the owner is SIGKILLed the
// operating system has released the lock and a new serve starts. Every
// file cspm created is owner-only.
func TestDataDirOwner(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_RATE_LIMIT=0")
	first := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	first.waitReady(t)
	pos := newScan(t, first, "owner-1")
	assert.Equal(t, "requested", scanStatus(t, first.base, "owner-1", pos))

	// Owner-only: the directory 0700, every file cspm made in it 0600 (the
	// embedded NATS keeps its own files under nats/, inside the 0700
	// directory).
	st, err := os.Stat(dataDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "data directory")
	entries, err := os.ReadDir(dataDir)
	require.NoError(t, err)
	var sqliteFiles int
	for _, e := range entries {
		if e.IsDir() {
			// The embedded NATS's files, and the privacy keyring (one key
			// file per data subject, docs/privacy.md).
			assert.Contains(t, []string{"nats", "privacy"}, e.Name())
			if e.Name() == "privacy" {
				info, err := e.Info()
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "the privacy keyring is readable by others")
			}
			continue
		}
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "%s is readable by others", e.Name())
		if strings.Contains(e.Name(), ".sqlite") {
			sqliteFiles++
		}
	}
	assert.GreaterOrEqual(t, sqliteFiles, 15*2, "the event store and 14 module databases, with their -wal and -shm files")

	pid := fmt.Sprint(first.cmd.Process.Pid)
	holder := "in use by pid " + pid + " (cspm serve --roles api,relay,projector --http-addr 127.0.0.1:0, since "

	// A second serve fails at once (exit 1) naming the owner.
	r := runCLI(t, bin, env, "serve", "--http-addr", "127.0.0.1:0")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "data directory "+dataDir+" is "+holder)
	assert.NotContains(t, r.stderr, "cspm serving")

	// keys create and revoke are refused the same way; nothing appended.
	for _, args := range [][]string{
		{"keys", "create", "--team", "default", "--role", "viewer"},
		{"keys", "revoke", "aaaaaaaaaaaaaaaa"},
	} {
		r = runCLI(t, bin, env, args...)
		assert.Equal(t, 1, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, holder, "%v", args)
		assert.Empty(t, r.stdout, "%v: no key printed", args)
	}

	// The first one kept serving, writes and reads.
	pos = newScan(t, first, "owner-2")
	assert.Equal(t, "requested", scanStatus(t, first.base, "owner-2", pos))

	// Read-only commands beside it.
	r = runCLI(t, bin, env, "events", "verify")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("OK: %d events", pos))
	r = runCLI(t, bin, env, "events", "export")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), int(pos), "every event, nothing appended by the refused commands")
	r = runCLI(t, bin, env, "events", "replay", "--stream", "scan-owner-2")
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, bin, env, "keys", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 2, "the header and the first start's key:\n%s", r.stdout)

	// An api-only process shares the directory (the documented split).
	guest := startServe(t, bin, env, "--roles", "api", "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	guest.waitReady(t)
	pos = newScan(t, guest, "owner-3")
	assert.Equal(t, "requested", scanStatus(t, guest.base, "owner-3", pos), "projected by the owner")
	require.Equal(t, 0, guest.stop(t, syscall.SIGTERM), "logs:\n%s", guest.logs)

	// SIGKILL: the operating system releases the lock.
	first.stop(t, syscall.SIGKILL)
	next := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	next.waitReady(t)
	assert.Equal(t, "requested", scanStatus(t, next.base, "owner-3", pos))
	r = runCLI(t, bin, env, "keys", "create", "--team", "default", "--role", "viewer")
	assert.Equal(t, 1, r.code, "refused beside the new owner too: %s", r.stderr)
	assert.Contains(t, r.stderr, "in use by pid "+fmt.Sprint(next.cmd.Process.Pid))
	require.Equal(t, 0, next.stop(t, syscall.SIGTERM), "logs:\n%s", next.logs)

	// Nobody holds it: keys create works.
	r = runCLI(t, bin, env, "keys", "create", "--team", "default", "--role", "viewer")
	require.Equal(t, 0, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "cspm_"), r.stdout)
}

// TestEventStoreRemovedUnderServer: deleting cspm_events.sqlite under a
// running server makes commands fail with 503 (nothing acknowledged) and
// /readyz fail naming the event store; the restart refuses to issue a new
// admin key over the old one (the store it belongs to is gone) and says
// what to do; moving admin.key away starts afresh.
func TestEventStoreRemovedUnderServer(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_RATE_LIMIT=0")
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	srv.waitReady(t)
	pos := newScan(t, srv, "rm-1")
	assert.Equal(t, "requested", scanStatus(t, srv.base, "rm-1", pos))
	oldKey := adminKey(t, dataDir)

	storeFile := filepath.Join(dataDir, "cspm_events.sqlite")
	require.NoError(t, os.Remove(storeFile))

	for i := range 5 {
		a, err := callAPI(context.Background(), http.MethodPost, srv.base+"/api/v1/scans",
			map[string]any{"scan_id": fmt.Sprintf("rm-lost-%d", i), "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusServiceUnavailable, a.status, "%s", a.raw)
		require.NotNil(t, a.env.Error, "%s", a.raw)
		assert.Equal(t, "UNAVAILABLE", a.env.Error.Code)
	}
	resp, err := http.Get(srv.base + "/readyz")
	require.NoError(t, err)
	body := readBody(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	assert.Contains(t, body, `"eventstore"`)
	assert.Contains(t, srv.logs.String(), storeFile+" no longer exists")
	// Queries still answer from the read models.
	assert.Equal(t, "requested", scanStatus(t, srv.base, "rm-1", pos))
	srv.stop(t, syscall.SIGTERM)

	// The restart finds an empty store beside the old admin.key: refused.
	r := runCLI(t, bin, env, "serve", "--http-addr", "127.0.0.1:0")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "first start refused")
	assert.Contains(t, r.stderr, "restore the event store from a backup")
	assert.Contains(t, r.stderr, "move "+filepath.Join(dataDir, "admin.key")+" away")
	assert.Equal(t, oldKey, adminKey(t, dataDir), "admin.key is never overwritten")

	// The operator decides to start afresh.
	require.NoError(t, os.Rename(filepath.Join(dataDir, "admin.key"), filepath.Join(dataDir, "admin.key.old")))
	again := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	again.waitReady(t)
	assert.NotEqual(t, oldKey, adminKey(t, dataDir))
	assert.Contains(t, again.stdout.String(), "first start")
	require.Equal(t, 0, again.stop(t, syscall.SIGTERM), "logs:\n%s", again.logs)
}

// TestReadModelRepair: the read-model file of a module database removed
// under the running server, then written over with garbage while it is
// stopped: queries of that database answer 503, the server starts all the
// same, and `cspm projections rebuild` recreates the database (the damaged
// file kept aside) and rebuilds every projection in it, without a restart;
// the queries answer the right data again.
func TestReadModelRepair(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_RATE_LIMIT=0")
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	srv.waitReady(t)

	// Two scans: one completed with findings, one requested.
	newScan(t, srv, "repair-1")
	srv.post(t, "/api/v1/scans/repair-1/start", nil, http.StatusAccepted)
	srv.post(t, "/api/v1/scans/repair-1/findings", map[string]any{"findings": []map[string]any{
		{"check_id": "c1", "title": "t1", "severity": "high", "resource_id": "r1"},
		{"check_id": "c2", "title": "t2", "severity": "low", "resource_id": "r2"},
	}}, http.StatusAccepted)
	done := srv.post(t, "/api/v1/scans/repair-1/complete", map[string]any{"resource_count": 3}, http.StatusAccepted)
	assert.Equal(t, "completed", scanStatus(t, srv.base, "repair-1", done.Meta.Position))

	file := filepath.Join(dataDir, "cspm_orchestration.sqlite")
	queryStatus := func(base, id string) (int, string) {
		t.Helper()
		a, err := callAPI(context.Background(), http.MethodGet, base+"/api/v1/scans/"+id, nil, nil)
		require.NoError(t, err)
		return a.status, string(a.raw)
	}
	rebuild := func(base string, args ...string) {
		t.Helper()
		r := runCLI(t, bin, env, append(append([]string{"projections", "rebuild"}, args...), "--server", base)...)
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s\nlogs:\n%s", r.stdout, r.stderr, srv.logs)
	}

	// 1. Removed under the running server: the next write notices, the
	// queries answer 503 (within the store's one-second check), the
	// projections say what to do; a rebuild of one projection repairs the
	// database without a restart.
	require.NoError(t, os.Remove(file))
	pos := newScan(t, srv, "repair-2") // accepted: the event store is fine
	require.Eventually(t, func() bool {
		code, _ := queryStatus(srv.base, "repair-1")
		return code == http.StatusServiceUnavailable
	}, 20*time.Second, 20*time.Millisecond, "queries of the lost database answer 503")
	r := runCLI(t, bin, env, "projections", "status", "--server", srv.base)
	assert.Contains(t, r.stdout, "cspm projections rebuild orchestration.scan_runs", "status says how to repair:\n%s", r.stdout)

	rebuild(srv.base, "orchestration.scan_runs")
	assert.Equal(t, "completed", scanStatus(t, srv.base, "repair-1", pos))
	assert.Equal(t, "requested", scanStatus(t, srv.base, "repair-2", pos))
	assert.Equal(t, map[string]int64{"critical": 0, "high": 1, "medium": 0, "low": 1, "informational": 0},
		scanFindings(t, srv.base, "repair-1", pos), "the scan summaries live in the same database: rebuilt too")
	pos = newScan(t, srv, "repair-3")
	assert.Equal(t, "requested", scanStatus(t, srv.base, "repair-3", pos), "the live loops follow the stream again")
	require.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "logs:\n%s", srv.logs)

	// 2. Garbage over the file while stopped: the server starts anyway,
	// the database's queries answer 503, `rebuild --all` repairs it.
	garbage := []byte(strings.Repeat("this is not an SQLite database ", 4096))
	require.NoError(t, os.WriteFile(file, garbage, 0o600))
	for _, suffix := range []string{"-wal", "-shm"} {
		require.NoError(t, removeIfExists(file+suffix))
	}
	again := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	// Degraded, and it says so: not ready, naming what to rebuild (once
	// the projection has opened its database and found it unreadable).
	require.Eventually(t, func() bool {
		ready, err := callAPI(context.Background(), http.MethodGet, again.base+"/readyz", nil, nil)
		require.NoError(t, err)
		return ready.status == http.StatusServiceUnavailable && strings.Contains(string(ready.raw), "orchestration.scan_runs needs a rebuild")
	}, 20*time.Second, 20*time.Millisecond, "/readyz answers 503 naming orchestration.scan_runs")
	code, body := queryStatus(again.base, "repair-1")
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	// Other databases serve.
	a, err := callAPI(context.Background(), http.MethodGet, again.base+"/api/v1/findings?severity=high", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, a.status, "%s", a.raw)

	r = runCLI(t, bin, env, "projections", "rebuild", "--all", "--server", again.base)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s\nlogs:\n%s", r.stdout, r.stderr, again.logs)
	again.waitReady(t) // repaired: ready again
	assert.Equal(t, "completed", scanStatus(t, again.base, "repair-1", pos))
	assert.Equal(t, "requested", scanStatus(t, again.base, "repair-3", pos))
	assert.Equal(t, map[string]int64{"critical": 0, "high": 1, "medium": 0, "low": 1, "informational": 0},
		scanFindings(t, again.base, "repair-1", pos))
	list, err := getOK(context.Background(), fmt.Sprintf("%s/api/v1/scans?min_position=%d", again.base, pos))
	require.NoError(t, err)
	var scans []struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(list.env.Data, &scans))
	assert.Len(t, scans, 3)

	kept, err := filepath.Glob(file + ".corrupt-*")
	require.NoError(t, err)
	var found bool
	for _, k := range kept {
		if raw, err := os.ReadFile(k); err == nil && string(raw) == string(garbage) {
			found = true
		}
	}
	assert.True(t, found, "the corrupt file is kept aside: %v", kept)
	assert.Contains(t, again.logs.String(), "read-model database recreated")
	require.Equal(t, 0, again.stop(t, syscall.SIGTERM), "logs:\n%s", again.logs)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

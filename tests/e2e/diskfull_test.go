package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/faulttest"
)

// TestDiskFullRecovers: the embedded NATS server's storage fills up
// (a 32 MiB tmpfs under <data-dir>/nats, filled with a ballast file).
// Commands are still accepted (the event store has room), /readyz says the
// relay is stalled, and once the ballast is removed the read side resumes
// by itself, without a restart: every acknowledged command reaches the
// queries, /readyz is ready again and no projection keeps an error.
func TestDiskFullRecovers(t *testing.T) {
	faulttest.WithTmpfs(t, 32<<20, func(t *testing.T, mnt string) {
		bin := buildCSPM(t)
		dataDir := t.TempDir()
		require.NoError(t, os.Symlink(mnt, filepath.Join(dataDir, "nats")))
		env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_RATE_LIMIT=0")
		srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--read-wait-timeout", "300ms", "--stall-timeout", "2s")
		live := &liveServer{}
		live.replace(srv)
		ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
		defer cancel()
		f := newFacts()
		scanLifecycles(t, ctx, live, f, "full", 0, 5)
		converge(t, srv.base, f)
		srv.waitReady(t)

		ballast := fillDisk(t, mnt)
		scanLifecycles(t, ctx, live, f, "full", 5, 30) // accepted: the event store has room
		reason := requireNotReady(t, srv.base, "relay")
		assert.Contains(t, reason, "relay stalled for")
		assert.Contains(t, reason, "events are not on the bus")

		require.NoError(t, os.Remove(ballast))
		scanLifecycles(t, ctx, live, f, "full", 30, 35)
		converge(t, srv.base, f)
		srv.waitReady(t)
		assert.Contains(t, srv.logs.String(), "embedded nats-server restarted", "the server recovered by restarting itself")
		for _, st := range projectionStatuses(t, ctx, srv.base) {
			assert.Equal(t, "running", st.State, "%s", st.Name)
			assert.Empty(t, st.LastError, "%s: the error clears on recovery", st.Name)
			assert.Empty(t, st.StalledSince, "%s", st.Name)
		}
		assert.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "clean exit; logs:\n%s", srv.logs)
	})
}

// fillDisk writes a ballast file into dir until the file system is full
// and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	require.NoError(t, err)
	chunk := make([]byte, 256<<10)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	require.True(t, errors.Is(err, syscall.ENOSPC), "want a full disk, got %v", err)
	require.NoError(t, f.Close())
	return path
}

type projectionStatus struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	LastError    string `json:"last_error"`
	StalledSince string `json:"stalled_since"`
	Processed    int64  `json:"processed"`
	Head         int64  `json:"head"`
}

// projectionStatuses reads GET /api/v1/projections.
func projectionStatuses(t *testing.T, ctx context.Context, base string) []projectionStatus {
	t.Helper()
	a, err := callAPI(ctx, http.MethodGet, base+"/api/v1/projections", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.raw)
	var out []projectionStatus
	require.NoError(t, json.Unmarshal(a.env.Data, &out), "%s", a.raw)
	require.NotEmpty(t, out)
	return out
}

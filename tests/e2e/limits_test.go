package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOversizeInputFreezesNothing: text over its limit is refused with a
// 400 naming the field, whatever it would have grown to once stored (a
// reason of 180,000 '<' once became a 1 MB event, over the bus's limit,
// which froze every team's read side). Nothing is appended; the read side
// keeps answering.
func TestOversizeInputFreezesNothing(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	env := cleanEnv("CSPM_DATA_DIR="+t.TempDir(), "CSPM_RATE_LIMIT=0")
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0")
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	srv.post(t, "/api/v1/scans", map[string]any{"scan_id": "big-1", "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, http.StatusCreated)
	srv.post(t, "/api/v1/scans/big-1/start", nil, http.StatusAccepted)
	head := storeHead(t, ctx, srv.base)

	refused := func(path string, body any, field string) {
		t.Helper()
		a, err := callAPI(ctx, http.MethodPost, srv.base+path, body, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, a.status, "%s", truncate(a.raw))
		assert.Contains(t, string(a.raw), `"field":"`+field+`"`)
		assert.Contains(t, string(a.raw), "must be at most")
	}
	// 180 KB as sent, six times that with the HTML escaping the store once applied.
	refused("/api/v1/scans/big-1/fail", rawBody(`{"reason":"`+strings.Repeat("<", 180_000)+`"}`), "reason")
	refused("/api/v1/scans/big-1/findings", map[string]any{"findings": []map[string]any{
		{"check_id": "c", "title": strings.Repeat("t", 200_000), "severity": "high", "resource_id": "r"}}}, "findings[0].title")
	assert.Equal(t, head, storeHead(t, ctx, srv.base), "nothing appended")

	// At the limits the command is accepted, and its event reaches the queries.
	res := srv.post(t, "/api/v1/scans/big-1/fail", map[string]any{"reason": strings.Repeat("<", 4096)}, http.StatusAccepted)
	a, err := callAPI(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/scans/big-1?min_position=%d", srv.base, res.Meta.Position), nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.status, "%s", truncate(a.raw))
	assert.False(t, a.env.Meta.Stale)
	assert.Contains(t, string(a.raw), `"status":"failed"`)
	srv.waitReady(t)
	assert.Equal(t, 0, srv.stop(t, syscall.SIGTERM))
}

// TestSmallBusLimit: an external NATS server whose max_payload is smaller
// than an event the store accepts. The relay publishes that event by
// reference (its data stays in the store) instead of retrying it forever;
// the projections read it from the store; later events flow; it is counted.
func TestSmallBusLimit(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	nats := startNATSConfig(t, natsBinary.get(t), t.TempDir(), freePort(t), "max_payload: 65536")
	env := cleanEnv("CSPM_DATA_DIR="+t.TempDir(), "CSPM_NATS_URL="+nats.url(), "CSPM_RATE_LIMIT=0")
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0")
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	srv.post(t, "/api/v1/scans", map[string]any{"scan_id": "s1", "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, http.StatusCreated)
	srv.post(t, "/api/v1/scans/s1/start", nil, http.StatusAccepted)
	description := strings.Repeat("😀", 32_768) // the longest description: 128 KiB of UTF-8
	srv.post(t, "/api/v1/scans/s1/findings", map[string]any{"findings": []map[string]any{
		{"finding_id": "f-big", "check_id": "c", "title": "t", "severity": "high", "resource_id": "r", "description": description}}}, http.StatusAccepted)
	res := srv.post(t, "/api/v1/scans/s1/findings", map[string]any{"findings": []map[string]any{
		{"finding_id": "f-after", "check_id": "c", "title": "t", "severity": "low", "resource_id": "r2"}}}, http.StatusAccepted)

	a, err := callAPI(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/findings?min_position=%d", srv.base, res.Meta.Position), nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.status, "%s", truncate(a.raw))
	require.False(t, a.env.Meta.Stale, "the read side did not freeze")
	var fs []struct {
		ID          string `json:"id"`
		Description string `json:"description"`
	}
	require.NoError(t, json.Unmarshal(a.env.Data, &fs))
	byID := map[string]string{}
	for _, f := range fs {
		byID[f.ID] = f.Description
	}
	_, after := byID["f-after"]
	require.True(t, after, "the event after it flows")
	assert.True(t, description == byID["f-big"], "the event came whole, from the store (got %d bytes)", len(byID["f-big"]))

	metrics := get(t, srv.base+"/metrics")
	assert.Contains(t, metrics, "cspm_relay_events_by_reference_total 1")
	assert.Contains(t, srv.logs.String(), "published by reference")
	srv.waitReady(t)
	assert.Equal(t, 0, srv.stop(t, syscall.SIGTERM))
}

// startNATSConfig is startNATS with extra configuration lines.
func startNATSConfig(t *testing.T, bin, dir string, port int, extra string) *natsServer {
	t.Helper()
	conf := filepath.Join(dir, "nats.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\njetstream { store_dir: %q }\n%s\n",
		port, filepath.Join(dir, "jetstream"), extra)), 0o600))
	return startNATSCmd(t, exec.Command(bin, "-c", conf), dir, port)
}

// storeHead is the event store's head as GET /api/v1/projections says.
func storeHead(t *testing.T, ctx context.Context, base string) int64 {
	t.Helper()
	sts := projectionStatuses(t, ctx, base)
	return sts[0].Head
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	return string(raw)
}

func truncate(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "… (" + strconv.Itoa(len(b)) + " bytes)"
	}
	return string(b)
}

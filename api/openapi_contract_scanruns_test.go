package api_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/api"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain/access"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// contractScanRuns is the scan-run service as the process wires it.
type contractScanRuns struct {
	*orchcmd.Handlers
	*orchquery.Service
}

// scanRunsContract sends the scan-run routes through the contract (called
// by TestOpenAPIContract): a run requested, read with its jobs, cancelled.
func scanRunsContract(t *testing.T, c *contract, env *contractEnv) {
	t.Helper()
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	teamB := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-b")}

	res := c.send(t, request{Path: "/api/v1/scan-runs", Body: exampleBody(t, c.doc, "requestScanRun")}, 201, docValid)
	run := data[api.CommandResult](t, res)
	assert.Equal(t, "nightly-web-7", run.ID)
	assert.Equal(t, "/api/v1/scan-runs/nightly-web-7", res.Header.Get("Location"))
	c.send(t, request{Path: "/api/v1/scan-runs", Body: exampleBody(t, c.doc, "requestScanRun")}, 409, docValid)
	c.send(t, request{Path: "/api/v1/scan-runs", Body: exampleBody(t, c.doc, "requestScanRun"), Header: viewer}, 403, docValid)
	bad := c.send(t, request{Path: "/api/v1/scan-runs", Body: `{"account_id": "web", "provider": "other", "tools": [], "targets": ["x"]}`}, 400, docEither)
	assert.Equal(t, "tools", bad.Env.Error.Details[0].Field)

	got := c.get(t, "/api/v1/scan-runs/nightly-web-7?min_position="+fmt.Sprint(headOf(t, env)), 200, docValid)
	detail := data[orchquery.ScanRunDetail](t, got)
	assert.Len(t, detail.Jobs, 2)
	assert.Equal(t, int64(2), detail.Progress.Queued)
	c.get(t, "/api/v1/scan-runs", 200, docValid)
	c.get(t, "/api/v1/scan-runs/nightly-web-7", 404, docValid, "Authorization", teamB["Authorization"])
	c.send(t, request{Path: "/api/v1/scan-runs/nightly-web-7/cancel", Body: `{}`, Header: teamB}, 404, docValid)
	c.send(t, request{Path: "/api/v1/scan-runs/nightly-web-7/cancel", Body: exampleBody(t, c.doc, "cancelScanRun")}, 202, docValid)
	c.send(t, request{Path: "/api/v1/scan-runs/nightly-web-7/cancel", Body: `{}`}, 422, docValid)
	cancelled := data[orchquery.ScanRunDetail](t, c.get(t, "/api/v1/scan-runs/nightly-web-7?min_position="+fmt.Sprint(headOf(t, env)), 200, docValid))
	assert.Equal(t, "cancelled", cancelled.Status)
	assert.Equal(t, int64(2), cancelled.Progress.Cancelled)
}

package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/platform/config"
)

// A scan run end to end in one serve process with an in-process worker:
// the process manager dispatches the planned jobs onto the work queue, the
// worker runs stand-in tools that write a real Prowler OCSF report after
// a delay, hang, or write a broken report, imports each report through
// the import pipeline, and the run completes as partial. Each job's
// report is its own scan: the succeeded jobs' imports exist once each.
func TestScanRun_InProcessWorker(t *testing.T) {
	t.Parallel()
	report, err := filepath.Abs("../../platform/parsers/prowler/testdata/prowler_v4.2_ocsf_1.2_aws.ocsf.json")
	require.NoError(t, err)
	tools := filepath.Join(t.TempDir(), "tools.yaml")
	require.NoError(t, os.WriteFile(tools, fmt.Appendf(nil, `tools:
  prowler:
    command: ["sh", "-c", "sleep 0.3; cp %s {out}"]
    format: prowler-ocsf
  hang:
    command: ["sleep", "300"]
    timeout: 1s
  broken:
    command: ["sh", "-c", "printf '{\"Findings\": [' > {out}"]
    format: prowler-ocsf
`, report), 0o600))
	var h *orchcmd.Handlers
	a := startAppWith(t, func(c *config.Config) {
		c.WorkerTools = tools
		c.JobLease = 2 * time.Second
	}, fx.Populate(&h))

	team := commands.Meta{TeamID: a.cfg.DefaultTeam, Actor: "test"}
	_, err = h.PlanScan(t.Context(), team, orchcmd.PlanScan{ScanID: "run-1", AccountID: "123456789012", Provider: "aws",
		Tools: []string{"prowler", "hang", "broken"}, Targets: []string{"123456789012"}})
	require.NoError(t, err)

	var run struct {
		Status string `json:"status"`
	}
	eventually(t, 60*time.Second, "the run finishes", func() bool {
		ans := a.get(t, "/api/v1/scans/run-1")
		if ans.status != http.StatusOK {
			return false
		}
		ans.data(t, &run)
		return run.Status != "requested" && run.Status != "running"
	})
	assert.Equal(t, "partial", run.Status)

	var imports []struct {
		ImportID string `json:"import_id"`
		Status   string `json:"status"`
	}
	must(t, a.get(t, "/api/v1/imports"), http.StatusOK).data(t, &imports)
	statuses := map[string]int{}
	for _, im := range imports {
		statuses[im.Status]++
	}
	assert.Equal(t, map[string]int{"completed": 1, "rejected": 1}, statuses, "one report imported, the broken one rejected whole")
}

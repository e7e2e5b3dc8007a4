package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/probes"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
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
		ImportID string `json:"id"`
		Status   string `json:"status"`
	}
	// The imports are another read model than the run: wait for both.
	statuses := map[string]int{}
	eventually(t, 30*time.Second, "both imports are projected", func() bool {
		imports = nil
		must(t, a.get(t, "/api/v1/imports"), http.StatusOK).data(t, &imports)
		statuses = map[string]int{}
		for _, im := range imports {
			if im.Status != "running" {
				statuses[im.Status]++
			}
		}
		return len(statuses) >= 2
	})
	assert.Equal(t, map[string]int{"completed": 1, "rejected": 1}, statuses, "one report imported, the broken one rejected whole")
}

// A scan run asking for the built-in checks, in a serve process with the
// worker role and no tools file: the worker runs `headers` and `tls` on a
// local HTTPS server (no external program), each report is imported as
// cspm-probe-json through the import pipeline, and the run completes
// with both jobs succeeded, each with its import.
func TestScanRun_BuiltinChecks(t *testing.T) {
	t.Parallel()
	site := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hello")) // no security header at all
	}))
	defer site.Close()
	var h *orchcmd.Handlers
	a := startAppWith(t, func(c *config.Config) {
		c.Roles = append(c.Roles, config.RoleWorker)
		c.JobLease = 5 * time.Second
	}, fx.Populate(&h))

	team := commands.Meta{TeamID: a.cfg.DefaultTeam, Actor: "test"}
	_, err := h.PlanScan(t.Context(), team, orchcmd.PlanScan{ScanID: "run-builtin", AccountID: "web", Provider: "other",
		Tools: []string{"headers", "tls"}, Targets: []string{site.URL}})
	require.NoError(t, err)

	var run orchquery.ScanRunDetail
	eventually(t, 60*time.Second, "the run finishes", func() bool {
		ans := a.get(t, "/api/v1/scan-runs/run-builtin")
		if ans.status != http.StatusOK {
			return false
		}
		ans.data(t, &run)
		if run.Status == "requested" || run.Status == "running" {
			return false
		}
		// The run and its jobs are two projections (docs/scan-jobs.md):
		// the run may be projected finished before its last job is.
		for _, j := range run.Jobs {
			if !orchdomain.JobStatus(j.Status).Ended() {
				return false
			}
		}
		return true
	})
	require.Equal(t, "completed", run.Status, "%+v", run.Jobs)
	require.Len(t, run.Jobs, 2)
	for _, j := range run.Jobs {
		assert.Equal(t, "succeeded", j.Status, "%s: %s", j.Tool, j.Reason)
		assert.NotEmpty(t, j.ImportID, j.Tool)
	}
	var imports []struct {
		Status string `json:"status"`
		Format string `json:"format"`
		Tool   string `json:"tool"`
	}
	// The imports are another read model than the run: wait for both.
	eventually(t, 30*time.Second, "both imports are projected completed", func() bool {
		imports = nil
		must(t, a.get(t, "/api/v1/imports"), http.StatusOK).data(t, &imports)
		done := 0
		for _, im := range imports {
			if im.Status == "completed" {
				done++
			}
		}
		return done >= 2
	})
	require.Len(t, imports, 2)
	for _, im := range imports {
		assert.Equal(t, "completed", im.Status)
		assert.Equal(t, "cspm-probe-json", im.Format)
	}
}

// The worker's tools: the built-in checks, replaced or joined by the
// tools file's entries.
func TestWorkerTools(t *testing.T) {
	t.Parallel()
	tools, builtins, err := workerTools("", probes.Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"headers", "tls"}, slices.Sorted(maps.Keys(tools)))
	assert.Equal(t, []string{"headers", "tls"}, slices.Sorted(maps.Keys(builtins)))
	assert.Equal(t, []string{"builtin:tls"}, tools["tls"].Command)
	assert.Equal(t, "cspm-probe-json", tools["tls"].Format)

	file := filepath.Join(t.TempDir(), "tools.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`tools:
  nuclei:
    command: ["nuclei", "-u", "{target}", "-jsonl", "-o", "{out}"]
    format: nuclei-jsonl
    timeout: 20m
  tls:
    command: ["builtin:tls"]
    format: cspm-probe-json
    timeout: 30s
`), 0o600))
	tools, _, err = workerTools(file, probes.Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"headers", "nuclei", "tls"}, slices.Sorted(maps.Keys(tools)))
	assert.Equal(t, 30*time.Second, tools["tls"].Timeout)
	assert.Equal(t, 20*time.Minute, tools["nuclei"].Timeout)

	require.NoError(t, os.WriteFile(file, []byte("tools:\n  bad:\n    timeout: 1s\n"), 0o600))
	_, _, err = workerTools(file, probes.Options{})
	require.ErrorContains(t, err, `tool "bad": command is required`)
}

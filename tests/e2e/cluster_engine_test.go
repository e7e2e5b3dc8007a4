package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clusterEngine is the second half of the cluster test's mixed workload,
// in a team of its own ("engine", so that the first half's facts stay
// exact): a scan run whose jobs the projectors dispatch onto the CSPM_JOBS
// work queue of the NATS cluster and two `cspm worker` processes run (a
// stand-in tool writing real Nuclei reports), and a Prowler report
// imported through the API.
type clusterEngine struct {
	key     string // the engine team's admin key
	engine  *scanEngine
	workers []*workerProc
	run     string
	targets []string
}

// startClusterEngine issues the engine team's key (CLI, beside the
// running processes: on an external NATS no process holds the data
// directory's lock) and starts two workers on env.
func startClusterEngine(t *testing.T, bin string, env []string) *clusterEngine {
	t.Helper()
	r := runCLI(t, bin, env, "keys", "create", "--team", "engine", "--role", "admin", "--name", "engine", "--json")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	var k struct {
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &k))

	dir := t.TempDir()
	samples, err := filepath.Abs("../../platform/parsers/nuclei/testdata")
	require.NoError(t, err)
	e := &scanEngine{bin: bin, marks: filepath.Join(dir, "marks"), tools: filepath.Join(dir, "tools.yaml")}
	require.NoError(t, os.Mkdir(e.marks, 0o700))
	script := filepath.Join(dir, "standin.sh")
	require.NoError(t, os.WriteFile(script, fmt.Appendf(nil, standinScript, e.marks, samples), 0o700))
	require.NoError(t, os.WriteFile(e.tools, fmt.Appendf(nil, "tools:\n  nuclei:\n    command: [\"sh\", %q, \"slow\", \"{target}\", \"{out}\", \"{job}\"]\n"+
		"    format: nuclei-jsonl\n    timeout: 60s\n", script), 0o600))
	e.env = append(append([]string(nil), env...), "CSPM_WORKER_TOOLS="+e.tools, "CSPM_JOB_LEASE=10s")
	c := &clusterEngine{key: k.Key, engine: e, run: "cluster-run",
		targets: []string{"https://cluster-run.a.example", "https://cluster-run.b.example", "https://cluster-run.c.example", "https://cluster-run.d.example"}}
	for i := range 2 {
		e.env = append(e.env[:len(env)+2:len(env)+2], fmt.Sprintf("CSPM_NODE_ID=worker-%d", i+1))
		c.workers = append(c.workers, e.startWorker(t, 2))
	}
	return c
}

func (c *clusterEngine) call(t *testing.T, method, target string, body any) *apiAnswer {
	t.Helper()
	a, err := callAPI(context.Background(), method, target, body, map[string]string{"Authorization": "Bearer " + c.key})
	require.NoError(t, err)
	return a
}

// start requests the scan run (its jobs take three seconds each, so they
// run across the faults that follow) and imports a Prowler report, each
// through another api process. The key reaches the api processes through
// the read model of keys: wait for it.
func (c *clusterEngine) start(t *testing.T, apiA, apiB string) {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	for {
		a := c.call(t, http.MethodPost, apiA+"/api/v1/scan-runs", map[string]any{"scan_id": c.run, "account_id": "web", "provider": "other",
			"tools": []string{"nuclei"}, "targets": c.targets})
		if a.status == http.StatusCreated {
			break
		}
		require.Equal(t, http.StatusUnauthorized, a.status, "%s", a.raw)
		require.True(t, time.Now().Before(end), "the engine key never reached %s", apiA)
		time.Sleep(100 * time.Millisecond)
	}
	report, err := os.ReadFile("../../platform/parsers/prowler/testdata/prowler_v3.3_asff_aws_subset.asff.json")
	require.NoError(t, err)
	for end := time.Now().Add(30 * time.Second); ; {
		a := c.call(t, http.MethodPost, apiB+"/api/v1/imports", rawBody(report))
		if a.status == http.StatusAccepted {
			break
		}
		require.Equal(t, http.StatusUnauthorized, a.status, "%s", a.raw)
		require.True(t, time.Now().Before(end), "the engine key never reached %s", apiB)
		time.Sleep(100 * time.Millisecond)
	}
}

// check waits for the run to finish and asserts every job succeeded, ran
// its tool once and was imported once, beside the Prowler import.
func (c *clusterEngine) check(t *testing.T, api string) {
	t.Helper()
	var v scanRunView
	for end := deadline(t); ; {
		a := c.call(t, http.MethodGet, api+"/api/v1/scan-runs/"+c.run, nil)
		if a.status == http.StatusOK {
			v = scanRunView{pos: a.env.Meta.Position}
			require.NoError(t, json.Unmarshal(a.env.Data, &v))
			if finished(v) {
				break
			}
		}
		require.True(t, time.Now().Before(end), "the scan run never finished: %+v", v)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Equal(t, "completed", v.Status, "%+v", v)
	require.Len(t, v.Jobs, len(c.targets))
	want := map[string]bool{}
	workers := map[string]int{}
	for _, j := range v.Jobs {
		assert.Equal(t, "succeeded", j.Status, "%+v", j)
		assert.NotEmpty(t, j.ImportID)
		want[j.ImportID] = true
		workers[j.Worker]++
		assert.Len(t, c.engine.pids(t, c.run, j.JobID), j.Attempt, "job %s: its tool ran once per attempt", j.JobID)
	}
	t.Logf("scan run %s: %d jobs on workers %v", c.run, len(v.Jobs), workers)

	// Each job's import once, and the Prowler report's.
	var rows []importRow
	for end := deadline(t); ; {
		a := c.call(t, http.MethodGet, fmt.Sprintf("%s/api/v1/imports?limit=100&min_position=%d", api, v.pos), nil)
		require.Equal(t, http.StatusOK, a.status, "%s", a.raw)
		rows = nil
		require.NoError(t, json.Unmarshal(a.env.Data, &rows))
		have := 0
		for _, r := range rows {
			if want[r.ImportID] {
				have++
			}
		}
		if have == len(want) || time.Now().After(end) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Len(t, rows, len(c.targets)+1, "each job's import and the Prowler report's, once: %+v", rows)
	seen := map[string]bool{}
	for _, r := range rows {
		assert.Equal(t, "completed", r.Status, "%+v", r)
		assert.False(t, seen[r.ImportID], "imported twice: %s", r.ImportID)
		seen[r.ImportID] = true
	}
}

func (c *clusterEngine) stop(t *testing.T) {
	t.Helper()
	for _, w := range c.workers {
		require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
		<-w.done
		w.exited = true
	}
}

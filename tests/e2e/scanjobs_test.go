package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fault tests of the scan engine (docs/scan-jobs.md, "Faults") on the built
// binary: `cspm serve` dispatches the jobs of scan runs onto the CSPM_JOBS
// work queue of an external nats-server, and `cspm worker` processes run
// them with a stand-in tool (a shell script) that writes a real Nuclei
// report from the parser's testdata after a delay, hangs, or writes a
// broken report. Each stand-in records its pid per job, so the tests see
// which jobs ran a tool and that a killed tool is gone.

// scanEngine is one serve process on its own external NATS, with the
// stand-in tools' file.
type scanEngine struct {
	bin   string
	env   []string
	nats  *natsServer
	srv   *server
	tools string // the --worker-tools file
	marks string // where the stand-ins write <job>.pids
}

// The stand-in tool: standin MODE TARGET OUT JOB. It appends its pid to
// $MARKS/<run>-<job>.pids (the run is the target's first label), then:
// fast writes the Nuclei sample chosen by the target at once, slow after
// three seconds, hang sleeps (exec: the pid is the sleeping process),
// broken writes the first 1500 bytes of the v3 JSON export (an array cut
// in the middle).
const standinScript = `#!/bin/sh
mode=$1 target=$2 out=$3 job=$4
run=$(echo "$target" | sed -e 's|^https://||' -e 's|\..*||')
echo $$ >> "%[1]s/$run-$job.pids"
case "$target" in
  *a.example*) sample="%[2]s/nuclei_v2_2021_legacy_keys.jsonl" ;;
  *b.example*) sample="%[2]s/nuclei_v2_2022_hyphen_keys.jsonl" ;;
  *c.example*) sample="%[2]s/nuclei_v3_2024_multiple_matches.jsonl" ;;
  *) sample="%[2]s/nuclei_v3_2026_dvwa_subset.jsonl" ;;
esac
case "$mode" in
  fast) cp "$sample" "$out" ;;
  slow) sleep 3; cp "$sample" "$out" ;;
  hang) exec sleep 300 ;;
  broken) head -c 1500 "%[2]s/nuclei_v3_2023_json_export_array.json" > "$out" ;;
esac
`

// startScanEngine starts nats-server and `cspm serve` on it with lease as
// the job lease (no worker in serve).
func startScanEngine(t *testing.T, lease time.Duration) *scanEngine {
	t.Helper()
	dir := t.TempDir()
	samples, err := filepath.Abs("../../platform/parsers/nuclei/testdata")
	require.NoError(t, err)
	e := &scanEngine{bin: buildCSPM(t), marks: filepath.Join(dir, "marks"), tools: filepath.Join(dir, "tools.yaml")}
	require.NoError(t, os.Mkdir(e.marks, 0o700))
	script := filepath.Join(dir, "standin.sh")
	require.NoError(t, os.WriteFile(script, fmt.Appendf(nil, standinScript, e.marks, samples), 0o700))
	tool := func(mode, timeout string) string {
		return fmt.Sprintf("    command: [\"sh\", %q, %q, \"{target}\", \"{out}\", \"{job}\"]\n    format: nuclei-jsonl\n    timeout: %s\n", script, mode, timeout)
	}
	require.NoError(t, os.WriteFile(e.tools, []byte("tools:\n"+
		"  nuclei:\n"+tool("fast", "30s")+
		"  nuclei-slow:\n"+tool("slow", "30s")+
		"  hang:\n"+tool("hang", "1s")+
		"  sleeper:\n"+tool("hang", "60s")+
		"  broken:\n"+tool("broken", "30s")), 0o600))
	e.nats = startNATS(t, natsBinary.get(t), filepath.Join(dir, "nats"), freePort(t))
	e.env = cleanEnv("CSPM_DATA_DIR="+filepath.Join(dir, "data"), "CSPM_NATS_URL="+e.nats.url(), "CSPM_RATE_LIMIT=0",
		"CSPM_JOB_LEASE="+lease.String(), "CSPM_WORKER_TOOLS="+e.tools)
	// The tools file is the worker's: serve runs none (the projector role
	// with --worker-tools would).
	serveEnv := slices.DeleteFunc(slices.Clone(e.env), func(kv string) bool { return strings.HasPrefix(kv, "CSPM_WORKER_TOOLS=") })
	e.srv = startServe(t, e.bin, serveEnv, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	e.srv.waitReady(t)
	return e
}

// workerProc is a running `cspm worker`.
type workerProc struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	done   chan error
	exited bool
}

// startWorker runs `cspm worker` with slots job slots and returns once it
// has started.
func (e *scanEngine) startWorker(t *testing.T, slots int) *workerProc {
	t.Helper()
	cmd := exec.Command(e.bin, "worker", "--log-format", "json", "--worker-slots", strconv.Itoa(slots))
	cmd.Env = e.env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	w := &workerProc{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	require.NoError(t, cmd.Start())
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, w.logs))
		said := false
		for sc.Scan() {
			var line struct {
				Msg string `json:"msg"`
			}
			if !said && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "cspm running" {
				said = true
				close(running)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		w.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if !w.exited {
			_ = cmd.Process.Kill()
			<-w.done
		}
	})
	timer := time.NewTimer(time.Until(deadline(t)))
	defer timer.Stop()
	select {
	case <-running:
	case err := <-w.done:
		w.done <- err
		t.Fatalf("cspm worker exited before running (%v); logs:\n%s", err, w.logs)
	case <-timer.C:
		t.Fatalf("cspm worker did not start; logs:\n%s", w.logs)
	}
	return w
}

// kill sends SIGKILL and waits for the worker to be gone.
func (w *workerProc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGKILL))
	<-w.done
	w.exited = true
}

// runJob is a job as GET /api/v1/scan-runs/{id} shows it.
type runJob struct {
	JobID     string    `json:"job_id"`
	Tool      string    `json:"tool"`
	Target    string    `json:"target"`
	Status    string    `json:"status"`
	Attempt   int       `json:"attempt"`
	Retries   int       `json:"retries"`
	Worker    string    `json:"worker"`
	ImportID  string    `json:"import_id"`
	Reason    string    `json:"reason"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
}

type scanRunView struct {
	Status string   `json:"status"`
	Jobs   []runJob `json:"jobs"`
	pos    int64    // the answer's meta.position
}

// requestRun plans a scan run of tools × targets.
func (e *scanEngine) requestRun(t *testing.T, id string, tools, targets []string) {
	t.Helper()
	e.srv.post(t, "/api/v1/scan-runs", map[string]any{"scan_id": id, "account_id": "web", "provider": "other",
		"tools": tools, "targets": targets}, http.StatusCreated)
}

// run reads a scan run.
func (e *scanEngine) run(t *testing.T, id string) scanRunView {
	t.Helper()
	a, err := getOK(context.Background(), e.srv.base+"/api/v1/scan-runs/"+id)
	require.NoError(t, err)
	var v scanRunView
	require.NoError(t, json.Unmarshal(a.env.Data, &v))
	return v
}

// waitRun polls the run until done says so, and returns it.
func (e *scanEngine) waitRun(t *testing.T, id, what string, done func(scanRunView) bool) scanRunView {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	end := deadline(t)
	var last scanRunView
	for {
		a, err := getOK(context.Background(), e.srv.base+"/api/v1/scan-runs/"+id)
		if err == nil {
			last = scanRunView{pos: a.env.Meta.Position}
			require.NoError(t, json.Unmarshal(a.env.Data, &last))
			if done(last) {
				return last
			}
		}
		if time.Now().After(end) {
			t.Fatalf("run %s: %s never happened; last: %+v; serve logs:\n%s", id, what, last, e.srv.logs)
		}
		<-tick.C
	}
}

// finished: the run and each of its jobs have ended (the run and its jobs
// are two read models: one may show the end before the other).
func finished(v scanRunView) bool {
	if v.Status == "" || v.Status == "requested" || v.Status == "running" {
		return false
	}
	for _, j := range v.Jobs {
		switch j.Status {
		case "planned", "dispatched", "running":
			return false
		}
	}
	return true
}

// jobOf is the run's job of tool (the runs below have one target per tool).
func jobOf(t *testing.T, v scanRunView, tool string) runJob {
	t.Helper()
	for _, j := range v.Jobs {
		if j.Tool == tool {
			return j
		}
	}
	t.Fatalf("no job of %s in %+v", tool, v.Jobs)
	return runJob{}
}

// pids are the pids the stand-in recorded for a job of run (none: it never ran).
func (e *scanEngine) pids(t *testing.T, run, job string) []int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.marks, run+"-"+job+".pids"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []int
	for f := range strings.FieldsSeq(string(raw)) {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err)
		out = append(out, pid)
	}
	return out
}

// alive reports whether pid is a live process (a zombie is not: it has
// exited and waits for a parent to reap it).
func alive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

type importRow struct {
	ImportID string `json:"id"`
	Status   string `json:"status"`
	ScanID   string `json:"scan_id"`
	Reason   string `json:"reason"`
}

// imports lists the team's imports once the read models have passed pos.
func (e *scanEngine) imports(t *testing.T, pos int64) []importRow {
	t.Helper()
	a := e.read(t, "/api/v1/imports?limit=100", pos)
	var rows []importRow
	require.NoError(t, json.Unmarshal(a.env.Data, &rows))
	return rows
}

// read answers path once the read models have passed pos.
func (e *scanEngine) read(t *testing.T, path string, pos int64) *apiAnswer {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	a, err := getOK(context.Background(), fmt.Sprintf("%s%s%smin_position=%d", e.srv.base, path, sep, pos))
	require.NoError(t, err)
	require.False(t, a.env.Meta.Stale, "%s is behind position %d", path, pos)
	return a
}

// runEvents are the types and data of a run's stream, oldest first.
func (e *scanEngine) runEvents(t *testing.T, id string) []struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
} {
	t.Helper()
	a, err := getOK(context.Background(), e.srv.base+"/api/v1/audit/streams/scan-"+id+"/events")
	require.NoError(t, err)
	var evs []struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(a.env.Data, &evs))
	return evs
}

// TestScanJobs_WorkerKilledMidJob: a worker SIGKILLed while its tool runs
// loses the job's lease. Another worker runs a job queued meanwhile at
// once, then the lost job when its lease expires (attempt 2, recorded as
// ScanJobRetried and a second ScanJobStarted by the new worker); each
// report is imported once.
func TestScanJobs_WorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	e := startScanEngine(t, 5*time.Second)
	first := e.startWorker(t, 1)
	e.requestRun(t, "kill1", []string{"nuclei-slow"}, []string{"https://kill1.a.example"})
	running := e.waitRun(t, "kill1", "the slow job runs on the first worker", func(v scanRunView) bool {
		return len(v.Jobs) == 1 && v.Jobs[0].Status == "running"
	})
	firstWorker := running.Jobs[0].Worker
	require.Equal(t, fmt.Sprintf("-%d", first.cmd.Process.Pid), firstWorker[strings.LastIndexByte(firstWorker, '-'):], "the job runs on the first worker")
	e.requestRun(t, "kill2", []string{"nuclei"}, []string{"https://kill2.b.example"}) // queued behind it (one slot)
	first.kill(t)

	e.startWorker(t, 1)
	other := e.waitRun(t, "kill2", "the queued job completes on the second worker", finished)
	assert.Equal(t, "completed", other.Status)
	lost := e.waitRun(t, "kill1", "the lost job runs again and completes", finished)
	assert.Equal(t, "completed", lost.Status)

	j := lost.Jobs[0]
	assert.Equal(t, "succeeded", j.Status)
	assert.Equal(t, 2, j.Attempt, "the lease expired: attempt 2")
	assert.Equal(t, 1, j.Retries)
	assert.NotEqual(t, firstWorker, j.Worker, "the second worker ran attempt 2")
	assert.True(t, other.Jobs[0].EndedAt.Before(j.StartedAt), "the queued job ran while the lost one waited for its lease (%s, %s)",
		other.Jobs[0].EndedAt, j.StartedAt)

	var started []int
	retried := 0
	for _, ev := range e.runEvents(t, "kill1") {
		var d struct {
			Attempt int `json:"attempt"`
		}
		require.NoError(t, json.Unmarshal(ev.Data, &d))
		switch ev.Type {
		case "ScanJobStarted":
			started = append(started, d.Attempt)
		case "ScanJobRetried":
			retried++
			assert.Equal(t, 2, d.Attempt)
		}
	}
	assert.Equal(t, []int{1, 2}, started, "each attempt is an event")
	assert.Equal(t, 1, retried)
	assert.Len(t, e.pids(t, "kill1", j.JobID), 2, "the tool ran twice")

	// Both jobs' imports, listed once each. The run's answer position can
	// trail the lost job's import (the run is two read models), so wait
	// until the list holds both jobs' imports, then count.
	var rows []importRow
	for end := deadline(t); ; {
		rows = e.imports(t, lost.pos)
		have := map[string]bool{}
		for _, r := range rows {
			have[r.ImportID] = true
		}
		if (have[j.ImportID] && have[other.Jobs[0].ImportID]) || time.Now().After(end) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Len(t, rows, 2, "nothing imported twice: %+v", rows)
	ids := map[string]bool{}
	for _, r := range rows {
		assert.Equal(t, "completed", r.Status)
		ids[r.ImportID] = true
	}
	assert.True(t, ids[j.ImportID] && ids[other.Jobs[0].ImportID], "each job's import, once")

	// Three processes appended to the store, one of them killed: its
	// hash chains hold.
	r := runCLI(t, e.bin, e.env, "events", "verify")
	assert.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
}

// TestScanJobs_HangingAndBrokenTools: in one run, a tool that hangs is
// killed at its timeout (the job timed out, its process gone), a tool that
// writes a broken report fails its job with its import rejected whole
// (nothing appended from it: every finding is the good job's), and the
// run completes partial.
func TestScanJobs_HangingAndBrokenTools(t *testing.T) {
	t.Parallel()
	e := startScanEngine(t, 5*time.Second)
	e.startWorker(t, 3)
	e.requestRun(t, "faults", []string{"nuclei", "hang", "broken"}, []string{"https://faults.c.example"})
	v := e.waitRun(t, "faults", "the run finishes", finished)
	require.Equal(t, "partial", v.Status, "%+v", v.Jobs)

	good, hang, broken := jobOf(t, v, "nuclei"), jobOf(t, v, "hang"), jobOf(t, v, "broken")
	assert.Equal(t, "succeeded", good.Status)
	assert.Equal(t, "timed_out", hang.Status)
	assert.Contains(t, hang.Reason, "ran over 1s and was killed")
	pids := e.pids(t, "faults", hang.JobID)
	require.Len(t, pids, 1)
	assert.False(t, alive(pids[0]), "the hanging tool (pid %d) was killed", pids[0])
	assert.Equal(t, "failed", broken.Status)
	assert.Contains(t, broken.Reason, "report rejected")

	rows := e.imports(t, v.pos)
	require.Len(t, rows, 2, "%+v", rows)
	byStatus := map[string]importRow{}
	for _, r := range rows {
		byStatus[r.Status] = r
	}
	require.Contains(t, byStatus, "completed")
	require.Contains(t, byStatus, "rejected")
	assert.Equal(t, good.ImportID, byStatus["completed"].ImportID)
	assert.Empty(t, broken.ImportID)

	// Every finding of the team is the good import's.
	all := e.read(t, "/api/v1/findings?limit=200", v.pos)
	ofGood := e.read(t, "/api/v1/findings?limit=200&scan_id="+byStatus["completed"].ScanID, v.pos)
	var a, b []json.RawMessage
	require.NoError(t, json.Unmarshal(all.env.Data, &a))
	require.NoError(t, json.Unmarshal(ofGood.env.Data, &b))
	assert.NotEmpty(t, b)
	assert.Len(t, a, len(b), "nothing appended from the broken report")
}

// TestScanJobs_Cancel: cancelling a run kills its running tool and drops
// its queued job (its tool never runs); the worker then takes the next
// run's job.
func TestScanJobs_Cancel(t *testing.T) {
	t.Parallel()
	e := startScanEngine(t, 3*time.Second)
	e.startWorker(t, 1)
	e.requestRun(t, "cancel", []string{"sleeper"}, []string{"https://cancel.a.example", "https://cancel.b.example"})
	v := e.waitRun(t, "cancel", "one job runs", func(v scanRunView) bool {
		return len(v.Jobs) == 2 && (v.Jobs[0].Status == "running" || v.Jobs[1].Status == "running")
	})
	runningJob, queuedJob := v.Jobs[0], v.Jobs[1]
	if runningJob.Status != "running" {
		runningJob, queuedJob = queuedJob, runningJob
	}
	e.srv.post(t, "/api/v1/scan-runs/cancel/cancel", nil, http.StatusAccepted)
	v = e.waitRun(t, "cancel", "the run is cancelled", finished)
	assert.Equal(t, "cancelled", v.Status)
	for _, j := range v.Jobs {
		assert.Equal(t, "cancelled", j.Status, j.JobID)
	}

	// The next run's job runs on the same (one-slot) worker: the running
	// tool was stopped, the queued job did not hold the slot.
	e.requestRun(t, "after", []string{"nuclei"}, []string{"https://after.c.example"})
	after := e.waitRun(t, "after", "the next run completes", finished)
	assert.Equal(t, "completed", after.Status)

	pids := e.pids(t, "cancel", runningJob.JobID)
	require.Len(t, pids, 1)
	assert.False(t, alive(pids[0]), "the running tool (pid %d) was killed", pids[0])
	assert.Empty(t, e.pids(t, "cancel", queuedJob.JobID), "the queued job's tool never ran")
	assert.Equal(t, 0, jobByID(v, queuedJob.JobID).Attempt, "the queued job never started")
}

func jobByID(v scanRunView, id string) runJob {
	for _, j := range v.Jobs {
		if j.JobID == id {
			return j
		}
	}
	return runJob{}
}

// TestScanJobs_NATSStoppedDuringRun: nats-server SIGKILLed while a job's
// tool runs and restarted on its store: the job completes (its lease and
// the queue were on disk), its report imported once, and a run requested
// after the restart completes too.
func TestScanJobs_NATSStoppedDuringRun(t *testing.T) {
	t.Parallel()
	e := startScanEngine(t, 5*time.Second)
	e.startWorker(t, 1)
	e.requestRun(t, "outage", []string{"nuclei-slow"}, []string{"https://outage.a.example"})
	e.waitRun(t, "outage", "the job runs", func(v scanRunView) bool { return len(v.Jobs) == 1 && v.Jobs[0].Status == "running" })
	e.nats.kill(t)
	e.nats = startNATS(t, natsBinary.get(t), e.nats.dir, e.nats.port)

	v := e.waitRun(t, "outage", "the run finishes", finished)
	assert.Equal(t, "completed", v.Status, "%+v", v.Jobs)
	e.requestRun(t, "outage2", []string{"nuclei"}, []string{"https://outage2.b.example"})
	next := e.waitRun(t, "outage2", "the next run finishes", finished)
	assert.Equal(t, "completed", next.Status)
	rows := e.imports(t, next.pos)
	assert.Len(t, rows, 2, "each report imported once: %+v", rows)
}

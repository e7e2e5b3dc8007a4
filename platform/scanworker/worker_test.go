package scanworker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	orch "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/jobqueue"
	"github.com/cspm-es/cspm-es/platform/scanworker"
)

var quiet = slog.New(slog.DiscardHandler)

// runs is a stand-in for the event store and the commands: the real
// ScanRun aggregate decides every report, and its rules that say a job is
// no longer the worker's are ErrJobOver, as in cmd/cspm.
type runs struct {
	mu     sync.Mutex
	events map[string][]orch.Event
}

func (r *runs) decide(scanID string, f func(*orch.ScanRun, time.Time) ([]orch.Event, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs, err := f(orch.Rehydrate(r.events[scanID]...), time.Now())
	if err != nil {
		var re *domain.RuleError
		if errors.As(err, &re) {
			return fmt.Errorf("%w: %s", scanworker.ErrJobOver, re.Code)
		}
		return err
	}
	r.events[scanID] = append(r.events[scanID], evs...)
	return nil
}

func (r *runs) state(scanID string) (orch.ScanRunState, []orch.JobState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := orch.Rehydrate(r.events[scanID]...)
	return s.State(), s.Jobs()
}

func (r *runs) StartJob(_ context.Context, ref scanworker.Ref, attempt int, worker string) error {
	return r.decide(ref.ScanID, func(s *orch.ScanRun, now time.Time) ([]orch.Event, error) {
		return s.StartJob(ref.JobID, attempt, worker, now)
	})
}
func (r *runs) BeatJob(_ context.Context, ref scanworker.Ref, attempt, progress int) error {
	return r.decide(ref.ScanID, func(s *orch.ScanRun, now time.Time) ([]orch.Event, error) {
		return s.Beat(ref.JobID, attempt, progress, now)
	})
}
func (r *runs) SucceedJob(_ context.Context, ref scanworker.Ref, attempt int, importID, scanID string) error {
	return r.decide(ref.ScanID, func(s *orch.ScanRun, now time.Time) ([]orch.Event, error) {
		return s.SucceedJob(ref.JobID, attempt, importID, scanID, now)
	})
}
func (r *runs) FailJob(_ context.Context, ref scanworker.Ref, attempt int, reason string, timedOut bool) error {
	return r.decide(ref.ScanID, func(s *orch.ScanRun, now time.Time) ([]orch.Event, error) {
		if timedOut {
			return s.TimeOutJob(ref.JobID, attempt, reason, now)
		}
		return s.FailJob(ref.JobID, attempt, reason, now)
	})
}

// importer accepts JSON reports and rejects anything else, once per key.
type importer struct {
	mu   sync.Mutex
	keys map[string]int
}

func (im *importer) Import(_ context.Context, _ scanworker.Ref, key, _, _ string, report io.Reader) (scanworker.Imported, error) {
	b, err := io.ReadAll(report)
	if err != nil {
		return scanworker.Imported{}, err
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	im.keys[key]++
	if !json.Valid(b) {
		return scanworker.Imported{}, &scanworker.RejectedError{ImportID: "imp-bad", Reason: "the report is not valid JSON"}
	}
	return scanworker.Imported{ImportID: "imp-" + key, ScanID: "scn-" + key}, nil
}

type world struct {
	runs *runs
	imp  *importer
	d    *jobqueue.Dispatcher
	dir  string
}

const fixture = "../parsers/prowler/testdata/prowler_v4.2_ocsf_1.2_aws.ocsf.json"

func newWorld(t *testing.T, tools map[string]scanworker.Tool) *world {
	t.Helper()
	e, err := bus.StartEmbedded(t.Context(), bus.Options{StoreDir: t.TempDir(), Port: -1, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)
	nc, js, err := bus.Connect(t.Context(), e.ClientURL(), bus.ConnectOptions{WaitConnected: 5 * time.Second, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	q := jobqueue.Config{Lease: 2 * time.Second, MaxDeliver: 3, Memory: true}
	require.NoError(t, jobqueue.EnsureStreams(t.Context(), js, q))
	d, err := jobqueue.NewDispatcher(nc, js, q, quiet)
	require.NoError(t, err)
	w := &world{runs: &runs{events: map[string][]orch.Event{}}, imp: &importer{keys: map[string]int{}}, d: d, dir: t.TempDir()}
	worker := scanworker.New(scanworker.Config{WorkerID: "w1", Tools: tools, Heartbeat: 100 * time.Millisecond, WorkDir: t.TempDir(), Logger: quiet}, w.runs, w.imp)
	r, err := jobqueue.NewRouter(nc, jobqueue.WorkerConfig{Queue: q, Slots: 2, Logger: quiet,
		Retry: middleware.Retry{MaxRetries: 1, InitialInterval: 10 * time.Millisecond}}, worker.Handle)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	<-r.Running()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// plan records a run of targets × tools and dispatches its jobs.
func (w *world) plan(t *testing.T, scanID string, tools []string, targets ...string) {
	t.Helper()
	evs, err := orch.Plan(orch.PlanRequest{ScanID: scanID, AccountID: "web", Provider: "other", Tools: tools, Targets: targets, RequestedAt: time.Now()})
	require.NoError(t, err)
	w.runs.mu.Lock()
	w.runs.events[scanID] = evs
	w.runs.mu.Unlock()
	for _, j := range evs[1].(orch.ScanJobsPlanned).Jobs {
		require.NoError(t, w.d.Dispatch(t.Context(), jobqueue.Job{TeamID: "team-a", ScanID: scanID, JobID: j.JobID, Tool: j.Tool, Target: j.Target, MaxAttempts: 3}, scanID))
	}
}

func (w *world) finished(t *testing.T, scanID string) orch.ScanRunState {
	t.Helper()
	require.Eventually(t, func() bool {
		s, _ := w.runs.state(scanID)
		return s.Status != orch.StatusRequested && s.Status != orch.StatusRunning
	}, 20*time.Second, 20*time.Millisecond)
	s, _ := w.runs.state(scanID)
	return s
}

// pidTool is a stand-in that records its pid and a child's in pidfile,
// then waits forever.
func pidTool(pidfile string) scanworker.Tool {
	return scanworker.Tool{Command: []string{"sh", "-c", "sleep 300 & echo $$ $! > " + pidfile + "; wait"}, Timeout: time.Minute}
}

func pids(t *testing.T, pidfile string) []int {
	t.Helper()
	var out []int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidfile)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		out = nil
		for _, f := range strings.Fields(string(b)) {
			n, err := strconv.Atoi(f)
			require.NoError(t, err)
			out = append(out, n)
		}
		return len(out) == 2
	}, 10*time.Second, 10*time.Millisecond)
	return out
}

func requireGone(t *testing.T, pids []int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, p := range pids {
			if syscall.Kill(p, 0) == nil {
				return false
			}
		}
		return true
	}, 5*time.Second, 20*time.Millisecond, "the tool and its child were killed")
}

func TestScanJobs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hangPids := filepath.Join(dir, "hang.pid")
	hang := pidTool(hangPids)
	hang.Timeout = 700 * time.Millisecond
	abs, err := filepath.Abs(fixture)
	require.NoError(t, err)
	w := newWorld(t, map[string]scanworker.Tool{
		// Stand-ins writing a real Prowler OCSF report after a delay.
		"prowler": {Command: []string{"sh", "-c", "sleep 0.2; cp " + abs + " {out}", "--", "{target}"}, Format: "prowler-ocsf"},
		"stdout":  {Command: []string{"cat", abs}},
		"hang":    hang,
		"broken":  {Command: []string{"sh", "-c", "printf '{\"truncated\": [' > {out}"}},
		"crash":   {Command: []string{"sh", "-c", "echo 'no credentials' >&2; exit 3"}},
	})

	t.Run("every job succeeds: the run completes, each report imported once", func(t *testing.T) {
		w.plan(t, "ok", []string{"prowler", "stdout"}, "123456789012")
		s := w.finished(t, "ok")
		assert.Equal(t, orch.StatusCompleted, s.Status)
		_, jobs := w.runs.state("ok")
		for _, j := range jobs {
			assert.Equal(t, orch.JobSucceeded, j.Status)
			assert.Equal(t, "imp-"+scanworker.ImportKey("ok", j.JobID), j.ImportID)
			assert.Equal(t, 1, w.imp.keys[scanworker.ImportKey("ok", j.JobID)])
		}
	})
	t.Run("a tool that hangs is killed at its timeout: job timed out, run partial", func(t *testing.T) {
		w.plan(t, "hang", []string{"prowler", "hang"}, "123456789012")
		p := pids(t, hangPids)
		s := w.finished(t, "hang")
		assert.Equal(t, orch.StatusPartial, s.Status)
		_, jobs := w.runs.state("hang")
		assert.Equal(t, orch.JobTimedOut, jobs[1].Status)
		requireGone(t, p)
	})
	t.Run("a broken report is rejected whole: job failed; a crash fails with its stderr", func(t *testing.T) {
		w.plan(t, "broken", []string{"broken", "crash"}, "x")
		s := w.finished(t, "broken")
		assert.Equal(t, orch.StatusFailed, s.Status)
		_, jobs := w.runs.state("broken")
		assert.Equal(t, orch.JobFailed, jobs[0].Status)
		assert.Equal(t, 1, w.imp.keys[scanworker.ImportKey("broken", "j0001")])
		assert.Equal(t, orch.JobFailed, jobs[1].Status)
		w.runs.mu.Lock()
		defer w.runs.mu.Unlock()
		var reasons []string
		for _, e := range w.runs.events["broken"] {
			if f, ok := e.(orch.ScanJobFailed); ok {
				reasons = append(reasons, f.Reason)
			}
		}
		assert.Contains(t, reasons, "report rejected: the report is not valid JSON")
		assert.Contains(t, reasons, "crash: exited with status 3; output: no credentials")
	})
}

// Cancelling a run stops its running job (the worker kills the tool's
// process group on its next heartbeat) and drops its queued ones.
func TestCancelStopsRunningJobsAndDropsQueued(t *testing.T) {
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "slow.pid")
	w := newWorld(t, map[string]scanworker.Tool{"slow": pidTool(pidfile)})
	w.plan(t, "c", []string{"slow"}, "a", "b", "c")
	p := pids(t, pidfile)
	require.NoError(t, w.runs.decide("c", func(s *orch.ScanRun, now time.Time) ([]orch.Event, error) { return s.Cancel("operator", now) }))
	requireGone(t, p)
	n, err := w.d.Drop(t.Context(), "c")
	require.NoError(t, err)
	assert.LessOrEqual(t, n, uint64(2))
	s, jobs := w.runs.state("c")
	assert.Equal(t, orch.StatusCancelled, s.Status)
	for _, j := range jobs {
		assert.Equal(t, orch.JobCancelled, j.Status)
	}
}

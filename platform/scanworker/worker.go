// Package scanworker runs scan jobs: it takes a job from the work queue
// (platform/jobqueue), records its start, runs the tool configured for it
// (an external command from a template, or a tool built into the worker)
// under a timeout, streams the report the tool wrote into the import
// pipeline, and records how the job ended (docs/scan-jobs.md).
//
// The worker knows the rest of the system through two ports, Reporter (the
// job's lifecycle commands) and Importer (POST /api/v1/imports): in-process
// they call the command handlers, in a separate worker process the API.
package scanworker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/platform/jobqueue"
)

// ErrJobOver is what a Reporter returns (wrapped) when the job is no longer
// the worker's to run: it ended, its run was cancelled, or another delivery
// took it over. The worker stops the tool and drops the delivery.
var ErrJobOver = errors.New("scanworker: the job is no longer wanted")

// Ref names a job and the team it belongs to.
type Ref struct {
	TeamID, ScanID, JobID string
	CorrelationID         string
}

// Reporter records a job's lifecycle (the orchestration commands).
type Reporter interface {
	StartJob(ctx context.Context, ref Ref, attempt int, worker string) error
	BeatJob(ctx context.Context, ref Ref, attempt, progress int) error
	SucceedJob(ctx context.Context, ref Ref, attempt int, importID, reportScanID string) error
	FailJob(ctx context.Context, ref Ref, attempt int, reason string, timedOut bool) error
}

// Imported is what the import pipeline made of a report.
type Imported struct {
	ImportID string
	ScanID   string
}

// RejectedError is an import the pipeline refused as a whole: the job fails.
type RejectedError struct {
	ImportID string
	Reason   string
}

func (e *RejectedError) Error() string { return "report rejected: " + e.Reason }

// Importer streams a report into the import pipeline. key is the job's
// idempotency key: the same key imports once, whatever retries happen.
// A refusal of the report is a *RejectedError; any other error is
// worth retrying.
type Importer interface {
	Import(ctx context.Context, ref Ref, key, format, fileName string, report io.Reader) (Imported, error)
}

// BuiltinTool is a tool built into the worker (a tool whose command is
// "builtin:<name>"): it checks target and writes its report to out.
type BuiltinTool func(ctx context.Context, target string, out io.Writer) error

// Tool is how the worker runs one tool.
type Tool struct {
	// Command is the command line, one argument per element, each a
	// template: {target}, {out} (the report file), {region}, {account},
	// {scan}, {job}, {workdir}. No shell runs it. "builtin:<name>" as the
	// only element runs the built-in tool <name>. Without {out}, the
	// tool's standard output is the report.
	Command []string `yaml:"command" json:"command"`
	// Format is the import format of the report (POST /api/v1/imports
	// format); empty: detected from the report.
	Format string `yaml:"format" json:"format,omitempty"`
	// Timeout bounds one run; the tool's process group is killed when it
	// is over. Config.DefaultTimeout when zero.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// Config is a worker's configuration.
type Config struct {
	WorkerID       string
	Tools          map[string]Tool
	Builtins       map[string]BuiltinTool
	WorkDir        string        // reports are written under it; os.TempDir() when empty
	DefaultTimeout time.Duration // 10 minutes when zero
	// Heartbeat is how often a running job's lease is extended and its
	// progress recorded; a third of the queue's lease is a good value.
	Heartbeat time.Duration
	// MaxOutput bounds the stdout and stderr kept of a run (the end of
	// each is kept: that is where tools explain a failure). 64 KiB.
	MaxOutput int
	// MaxReport bounds the report a tool may write. 256 MiB.
	MaxReport int64
	Logger    *slog.Logger
	Metrics   *Metrics
}

// Worker runs the jobs the queue delivers.
type Worker struct {
	cfg      Config
	reporter Reporter
	importer Importer
	log      *slog.Logger
	running  sync.WaitGroup
}

// New returns a worker. Its Handle is a jobqueue.Handler.
func New(cfg Config, reporter Reporter, importer Importer) *Worker {
	if cfg.WorkerID == "" {
		host, _ := os.Hostname()
		cfg.WorkerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 10 * time.Minute
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = 64 << 10
	}
	if cfg.MaxReport <= 0 {
		cfg.MaxReport = 256 << 20
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg, reporter: reporter, importer: importer, log: log.With("component", "worker", "worker", cfg.WorkerID)}
}

// Handle works on one delivery of a job (a jobqueue.Handler). It returns
// nil once the job is done with, and an error only when what it must
// record could not be recorded (the queue retries it).
func (w *Worker) Handle(ctx context.Context, d jobqueue.Delivery) error {
	ref := Ref{TeamID: d.TeamID, ScanID: d.ScanID, JobID: d.JobID, CorrelationID: d.CorrelationID}
	log := w.log.With("scan_id", d.ScanID, "job_id", d.JobID, "tool", d.Tool, "attempt", d.Attempt)
	if d.MaxAttempts > 0 && d.Attempt > d.MaxAttempts {
		err := w.reporter.FailJob(ctx, ref, 0, fmt.Sprintf("no attempt finished in %d deliveries", d.Attempt-1), false)
		return over(err)
	}
	if err := w.reporter.StartJob(ctx, ref, d.Attempt, w.cfg.WorkerID); err != nil {
		if errors.Is(err, ErrJobOver) {
			log.Info("job dropped: no longer wanted", "err", err)
			w.cfg.Metrics.observe(d.Tool, "dropped", 0)
			return nil
		}
		return fmt.Errorf("record the start of %s: %w", d.Key(), err)
	}
	log.Info("job started")
	start := time.Now()
	outcome, report := w.run(ctx, d, ref, log)
	w.cfg.Metrics.observe(d.Tool, outcome, time.Since(start))
	return report
}

// run runs the tool and records the outcome; it returns the outcome's
// label and the error of recording it.
func (w *Worker) run(ctx context.Context, d jobqueue.Delivery, ref Ref, log *slog.Logger) (string, error) {
	tool, ok := w.cfg.Tools[d.Tool]
	if !ok {
		return "failed", w.fail(ctx, ref, d.Attempt, fmt.Sprintf("this worker has no tool %q configured", d.Tool), false)
	}
	timeout := tool.Timeout
	if timeout <= 0 {
		timeout = w.cfg.DefaultTimeout
	}
	dir, err := os.MkdirTemp(w.cfg.WorkDir, "cspm-job-")
	if err != nil {
		return "error", fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(dir)

	// The heartbeat extends the lease and learns of a cancellation.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		w.heartbeat(runCtx, d, ref, timeout, stop, log)
	}()
	res := runTool(runCtx, tool, timeout, d, dir, w.cfg, log)
	stop(nil)
	<-beatDone
	if errors.Is(context.Cause(runCtx), ErrJobOver) {
		log.Info("job stopped: cancelled or taken over", "killed", res.Killed)
		return "cancelled", nil
	}
	if ctx.Err() != nil {
		return "error", ctx.Err() // the worker is stopping: the lease lapses, another worker retries
	}
	switch {
	case res.TimedOut:
		return "timed_out", w.fail(ctx, ref, d.Attempt, fmt.Sprintf("%s ran over %s and was killed%s", d.Tool, timeout, res.tail()), true)
	case res.Err != nil:
		return "failed", w.fail(ctx, ref, d.Attempt, fmt.Sprintf("%s: %v%s", d.Tool, res.Err, res.tail()), false)
	}
	f, err := os.Open(res.ReportPath)
	if err != nil {
		return "failed", w.fail(ctx, ref, d.Attempt, fmt.Sprintf("%s wrote no report%s", d.Tool, res.tail()), false)
	}
	defer f.Close()
	imported, err := w.importReport(ctx, ref, d, tool, f)
	var rejected *RejectedError
	switch {
	case errors.As(err, &rejected):
		log.Warn("job failed: report rejected", "import_id", rejected.ImportID, "reason", rejected.Reason)
		return "failed", w.fail(ctx, ref, d.Attempt, rejected.Error(), false)
	case err != nil:
		return "error", fmt.Errorf("import the report of %s: %w", d.Key(), err)
	}
	err = retryReport(ctx, func() error {
		return w.reporter.SucceedJob(ctx, ref, d.Attempt, imported.ImportID, imported.ScanID)
	})
	log.Info("job succeeded", "import_id", imported.ImportID, "report_scan_id", imported.ScanID)
	return "succeeded", over(err)
}

// ImportKey is the idempotency key a job's report is imported with: the
// same for every attempt, so a report is imported once whatever happens
// to the workers.
func ImportKey(scanID, jobID string) string { return "scanjob-" + scanID + "-" + jobID }

func (w *Worker) importReport(ctx context.Context, ref Ref, d jobqueue.Delivery, tool Tool, f *os.File) (Imported, error) {
	var imported Imported
	err := retryReport(ctx, func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		var err error
		imported, err = w.importer.Import(ctx, ref, ImportKey(d.ScanID, d.JobID), tool.Format, filepath.Base(f.Name()), io.LimitReader(f, w.cfg.MaxReport))
		var rejected *RejectedError
		if errors.As(err, &rejected) {
			return permanent{err}
		}
		return err
	})
	var p permanent
	if errors.As(err, &p) {
		return imported, p.error
	}
	return imported, err
}

func (w *Worker) fail(ctx context.Context, ref Ref, attempt int, reason string, timedOut bool) error {
	if len(reason) > 3000 {
		reason = reason[:3000]
	}
	reason = strings.ToValidUTF8(reason, "")
	w.log.Warn("job failed", "scan_id", ref.ScanID, "job_id", ref.JobID, "timed_out", timedOut, "reason", reason)
	return over(retryReport(ctx, func() error { return w.reporter.FailJob(ctx, ref, attempt, reason, timedOut) }))
}

func (w *Worker) heartbeat(ctx context.Context, d jobqueue.Delivery, ref Ref, timeout time.Duration, stop context.CancelCauseFunc, log *slog.Logger) {
	t := time.NewTicker(w.cfg.Heartbeat)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.Extend(); err != nil && !errors.Is(err, jobqueue.ErrNoDelivery) {
			log.Warn("lease not extended", "err", err)
		}
		progress := min(99, int(time.Since(start)*100/timeout))
		err := w.reporter.BeatJob(ctx, ref, d.Attempt, progress)
		if errors.Is(err, ErrJobOver) {
			stop(ErrJobOver)
			return
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("heartbeat not recorded", "err", err)
		}
	}
}

// over maps ErrJobOver to nil: a job that is no longer the worker's needs
// nothing more recorded.
func over(err error) error {
	if errors.Is(err, ErrJobOver) {
		return nil
	}
	return err
}

type permanent struct{ error }

// retryReport retries f (a call to the API or the store) a few times with
// backoff before giving up; ErrJobOver and permanent errors end it.
func retryReport(ctx context.Context, f func() error) error {
	delay := 100 * time.Millisecond
	var err error
	for range 5 {
		err = f()
		var p permanent
		if err == nil || errors.Is(err, ErrJobOver) || errors.As(err, &p) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay *= 2
	}
	return err
}

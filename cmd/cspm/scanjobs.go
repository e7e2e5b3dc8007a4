package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	"go.uber.org/fx"
	"go.yaml.in/yaml/v3"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/jobqueue"
	"github.com/cspm-es/cspm-es/platform/parsers/probe"
	"github.com/cspm-es/cspm-es/platform/probes"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/scanworker"
	orchproj "github.com/cspm-es/cspm-es/projections/orchestration"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// Scan jobs in `cspm serve` (docs/scan-jobs.md). With the projector
// role, the process manager reads what its projection
// (orchestration.scan_job_reactor) says is to do — dispatch planned jobs
// onto the CSPM_JOBS work queue, time out jobs nobody answers for, drop a
// cancelled run's queued jobs — and does it with commands whose
// idempotency keys are derived from the job, so doing it twice (several
// processes, a read model behind, a restart) appends nothing twice. With
// --worker-tools, serve also runs a worker in-process.

var scanJobsModule = fx.Module("scan-jobs",
	fx.Provide(newScanEngine),
	fx.Invoke(func(lc fx.Lifecycle, e *scanEngine) { runBackground(lc, e.Run) }),
)

var workerModule = fx.Module("worker",
	fx.Invoke(registerWorker),
)

const (
	scanEngineInterval = time.Second
	scanEngineActor    = "system:scan-engine"
	scanEngineRoute    = "serve scan engine"
	scanEnginePage     = 200
)

func jobQueueConfig(cfg config.Config) jobqueue.Config {
	// One delivery more than a plan may allow: the worker that gets it
	// records that the job ran out of attempts.
	return jobqueue.Config{Lease: cfg.JobLease, MaxDeliver: orchdomain.MaxMaxAttempts + 1, Replicas: cfg.StreamReplicas}
}

// jobCommands are the orchestration commands the engine and the
// in-process worker send.
type jobCommands interface {
	DispatchJob(ctx context.Context, m commands.Meta, cmd orchcmd.DispatchJob) (commands.Result, error)
	StartJob(ctx context.Context, m commands.Meta, cmd orchcmd.StartJob) (commands.Result, error)
	BeatJob(ctx context.Context, m commands.Meta, cmd orchcmd.BeatJob) (commands.Result, error)
	SucceedJob(ctx context.Context, m commands.Meta, cmd orchcmd.SucceedJob) (commands.Result, error)
	FailJob(ctx context.Context, m commands.Meta, cmd orchcmd.FailJob) (commands.Result, error)
}

// scanEngine is the process manager.
type scanEngine struct {
	Interval time.Duration
	cfg      jobqueue.Config
	bus      *Bus
	actions  readmodel.Store
	cmds     jobCommands
	now      func() time.Time
	log      *slog.Logger
	ready    bool
	d        *jobqueue.Dispatcher
}

func newScanEngine(cfg config.Config, b *Bus, rm ReadModels, h *orchcmd.Handlers, log *slog.Logger) (*scanEngine, error) {
	store, ok := rm.Stores[dbregistry.ORCHESTRATION]
	if !ok {
		return nil, errors.New("scan engine: no orchestration read model")
	}
	return &scanEngine{Interval: scanEngineInterval, cfg: jobQueueConfig(cfg), bus: b, actions: store, cmds: h, now: time.Now,
		log: log.With("component", "scan-engine")}, nil
}

// Run sweeps at once, then every Interval, until ctx ends.
func (e *scanEngine) Run(ctx context.Context) { everyInterval(ctx, e.Interval, e.Sweep) }

// Sweep does every action due and returns how many it did.
func (e *scanEngine) Sweep(ctx context.Context) int {
	if !e.ready {
		if err := jobqueue.EnsureStreams(ctx, e.bus.JetStream, e.cfg); err != nil {
			if ctx.Err() == nil {
				e.log.Warn("work queue not ready; retrying at the next sweep", "error", err)
			}
			return 0
		}
		d, err := jobqueue.NewDispatcher(e.bus.Conn, e.bus.JetStream, e.cfg, e.log)
		if err != nil {
			e.log.Warn("work queue publisher", "error", err)
			return 0
		}
		e.d, e.ready = d, true
	}
	done := 0
	now := e.now()
	for _, kind := range []string{orchproj.JobActionDispatch, orchproj.JobActionWatch, orchproj.JobActionDrop} {
		f := readmodel.Eq("action", kind)
		if kind == orchproj.JobActionWatch {
			f = readmodel.And(f, readmodel.Lte("due_at", now))
		}
		page, err := e.actions.Find(ctx, orchproj.JobActionsCollection, readmodel.FindOptions{Filter: f, Sort: []readmodel.SortField{{Path: "due_at"}}, Limit: scanEnginePage})
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("listing scan-job actions failed; retrying at the next sweep", "error", err)
			}
			return done
		}
		for _, d := range page.Docs {
			if e.act(ctx, orchproj.JobActionFrom(d)) {
				done++
			}
		}
	}
	return done
}

// act does one action; true when it changed something.
func (e *scanEngine) act(ctx context.Context, a orchproj.JobAction) bool {
	meta := func(key string) commands.Meta {
		return commands.Meta{TeamID: a.TeamID, Actor: scanEngineActor, Route: scanEngineRoute, CorrelationID: a.ScanID, IdempotencyKey: key}
	}
	log := e.log.With("scan_id", a.ScanID, "job_id", a.JobID, "team_id", a.TeamID)
	var err error
	switch a.Action {
	case orchproj.JobActionDispatch:
		// Publish first: the queue de-duplicates a job published twice, and
		// a job recorded as dispatched is never published again.
		err = e.d.Dispatch(ctx, jobqueue.Job{TeamID: a.TeamID, ScanID: a.ScanID, JobID: a.JobID, Tool: a.Tool, Target: a.Target,
			Region: a.Region, AccountID: a.AccountID, MaxAttempts: a.MaxAttempts}, a.ScanID)
		if err == nil {
			_, err = e.cmds.DispatchJob(ctx, meta("dispatch-"+a.ScanID+"-"+a.JobID), orchcmd.DispatchJob{JobRef: orchcmd.JobRef{ScanID: a.ScanID, JobID: a.JobID}})
		}
		if err == nil {
			log.Info("scan job dispatched", "tool", a.Tool)
		}
	case orchproj.JobActionWatch:
		reason := fmt.Sprintf("no worker reported on the job since %s", a.DueAt.Format(time.RFC3339))
		_, err = e.cmds.FailJob(ctx, meta(fmt.Sprintf("timeout-%s-%s-%d", a.ScanID, a.JobID, a.Attempt)),
			orchcmd.FailJob{JobRef: orchcmd.JobRef{ScanID: a.ScanID, JobID: a.JobID}, Reason: reason, TimedOut: true})
		if err == nil {
			log.Warn("scan job timed out", "attempt", a.Attempt)
		}
	case orchproj.JobActionDrop:
		var n uint64
		n, err = e.d.Drop(ctx, a.ScanID)
		if err == nil && n > 0 {
			log.Info("cancelled run's queued jobs dropped", "jobs", n)
		}
		return err == nil && n > 0
	}
	var rule *domain.RuleError
	switch {
	case err == nil:
		return true
	case errors.As(err, &rule):
		log.Debug("scan-job action not needed", "action", a.Action, "code", rule.Code)
	case ctx.Err() != nil:
	default:
		log.Warn("scan-job action failed; retrying at the next sweep", "action", a.Action, "error", err)
	}
	return false
}

// toolsFile is the YAML file of --worker-tools.
type toolsFile struct {
	Tools map[string]struct {
		Command []string `yaml:"command"`
		Format  string   `yaml:"format"`
		Timeout string   `yaml:"timeout"`
	} `yaml:"tools"`
}

// loadTools reads a tools file (docs/scan-jobs.md).
func loadTools(path string) (map[string]scanworker.Tool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("worker tools: %w", err)
	}
	var f toolsFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("worker tools %s: %w", path, err)
	}
	out := make(map[string]scanworker.Tool, len(f.Tools))
	for name, t := range f.Tools {
		if len(t.Command) == 0 {
			return nil, fmt.Errorf("worker tools %s: tool %q: command is required", path, name)
		}
		tool := scanworker.Tool{Command: t.Command, Format: t.Format}
		if t.Timeout != "" {
			d, err := time.ParseDuration(t.Timeout)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("worker tools %s: tool %q: timeout %q: want a positive Go duration", path, name, t.Timeout)
			}
			tool.Timeout = d
		}
		out[name] = tool
	}
	return out, nil
}

// workerTools are the tools a worker runs: the built-in checks of
// platform/probes ("headers", "tls": a tool of that name whose command is
// "builtin:<name>" and whose report is cspm-probe-json), then the external
// tools of the tools file (path; none when empty), which may replace a
// built-in's entry (its timeout, or another program under its name).
func workerTools(path string, opts probes.Options) (map[string]scanworker.Tool, map[string]scanworker.BuiltinTool, error) {
	tools := map[string]scanworker.Tool{}
	builtins := map[string]scanworker.BuiltinTool{}
	for name, run := range probes.Builtins(opts) {
		builtins[name] = run
		tools[name] = scanworker.Tool{Command: []string{"builtin:" + name}, Format: probe.Format}
	}
	if path == "" {
		return tools, builtins, nil
	}
	external, err := loadTools(path)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(tools, external)
	return tools, builtins, nil
}

// registerWorker runs a worker in this process (the worker role, or
// --worker-tools beside the projector): its job reports are the
// orchestration commands, its imports the import command POST
// /api/v1/imports runs, as the job's team.
func registerWorker(lc fx.Lifecycle, cfg config.Config, b *Bus, h *orchcmd.Handlers, cs *cscmd.Handlers, reg *prometheus.Registry, log *slog.Logger) error {
	tools, builtins, err := workerTools(cfg.WorkerTools, probes.Options{})
	if err != nil {
		return err
	}
	log.Info("worker tools", "tools", slices.Sorted(maps.Keys(tools)), "slots", cfg.WorkerSlots)
	m, err := scanworker.NewMetrics(reg)
	if err != nil {
		return err
	}
	q := jobQueueConfig(cfg)
	w := scanworker.New(scanworker.Config{Tools: tools, Builtins: builtins, Heartbeat: max(cfg.JobLease/3, 100*time.Millisecond),
		Logger: log, Metrics: m}, inProcessReporter{h}, inProcessImporter{cs})
	runBackground(lc, func(ctx context.Context) {
		for ctx.Err() == nil {
			if err := jobqueue.EnsureStreams(ctx, b.JetStream, q); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		r, err := jobqueue.NewRouter(b.Conn, jobqueue.WorkerConfig{Queue: q, Slots: cfg.WorkerSlots, Logger: log}, w.Handle)
		if err != nil {
			log.Error("worker not started", "error", err)
			return
		}
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("worker stopped", "error", err)
		}
	})
	return nil
}

// jobOver maps the rules that mean "this job is not yours any more" to
// scanworker.ErrJobOver.
func jobOver(err error) error {
	var rule *domain.RuleError
	if errors.As(err, &rule) {
		switch rule.Code {
		case orchdomain.CodeJobEnded, orchdomain.CodeScanFinished, orchdomain.CodeJobAttemptStale,
			orchdomain.CodeJobAttemptsExceeded, orchdomain.CodeJobNotRunning, orchdomain.CodeJobNotFound, orchdomain.CodeScanHasNoJobs:
			return fmt.Errorf("%w: %s", scanworker.ErrJobOver, rule.Message)
		}
	}
	if errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("%w: %v", scanworker.ErrJobOver, err)
	}
	return err
}

type inProcessReporter struct{ h jobCommands }

func workerMeta(ref scanworker.Ref, key string) commands.Meta {
	return commands.Meta{TeamID: ref.TeamID, Actor: "system:worker", Route: "worker", CorrelationID: ref.CorrelationID, IdempotencyKey: key}
}

func (r inProcessReporter) StartJob(ctx context.Context, ref scanworker.Ref, attempt int, worker string) error {
	_, err := r.h.StartJob(ctx, workerMeta(ref, fmt.Sprintf("start-%s-%s-%d", ref.ScanID, ref.JobID, attempt)),
		orchcmd.StartJob{JobRef: orchcmd.JobRef{ScanID: ref.ScanID, JobID: ref.JobID}, Attempt: attempt, Worker: worker})
	return jobOver(err)
}

func (r inProcessReporter) BeatJob(ctx context.Context, ref scanworker.Ref, attempt, progress int) error {
	_, err := r.h.BeatJob(ctx, workerMeta(ref, ""), orchcmd.BeatJob{JobRef: orchcmd.JobRef{ScanID: ref.ScanID, JobID: ref.JobID}, Attempt: attempt, Progress: progress})
	return jobOver(err)
}

func (r inProcessReporter) SucceedJob(ctx context.Context, ref scanworker.Ref, attempt int, importID, reportScanID string) error {
	_, err := r.h.SucceedJob(ctx, workerMeta(ref, fmt.Sprintf("succeed-%s-%s-%d", ref.ScanID, ref.JobID, attempt)),
		orchcmd.SucceedJob{JobRef: orchcmd.JobRef{ScanID: ref.ScanID, JobID: ref.JobID}, Attempt: attempt, ImportID: importID, ReportScanID: reportScanID})
	return jobOver(err)
}

func (r inProcessReporter) FailJob(ctx context.Context, ref scanworker.Ref, attempt int, reason string, timedOut bool) error {
	_, err := r.h.FailJob(ctx, workerMeta(ref, fmt.Sprintf("fail-%s-%s-%d", ref.ScanID, ref.JobID, attempt)),
		orchcmd.FailJob{JobRef: orchcmd.JobRef{ScanID: ref.ScanID, JobID: ref.JobID}, Attempt: attempt, Reason: reason, TimedOut: timedOut})
	return jobOver(err)
}

type reportImporter interface {
	ImportReport(ctx context.Context, m commands.Meta, cmd cscmd.ImportReport) (cscmd.ImportResult, error)
}

type inProcessImporter struct{ h reportImporter }

func (im inProcessImporter) Import(ctx context.Context, ref scanworker.Ref, key, format, fileName string, report io.Reader) (scanworker.Imported, error) {
	meta := commands.Meta{TeamID: ref.TeamID, Actor: "system:worker", Route: "worker import", CorrelationID: ref.CorrelationID, IdempotencyKey: key}
	res, err := im.h.ImportReport(ctx, meta, cscmd.ImportReport{Format: format, FileName: fileName, Body: report})
	var rejected *cscmd.RejectedError
	var invalid *domain.ValidationError
	switch {
	case errors.As(err, &rejected):
		return scanworker.Imported{}, &scanworker.RejectedError{ImportID: rejected.Result.ImportID, Reason: rejected.Result.Reason}
	case errors.As(err, &invalid), errors.Is(err, eventstore.ErrIdempotencyMismatch):
		return scanworker.Imported{}, &scanworker.RejectedError{Reason: err.Error()}
	case err != nil:
		return scanworker.Imported{}, err
	}
	return scanworker.Imported{ImportID: res.ImportID, ScanID: res.ScanID}, nil
}

// scanRunService is api.ScanRunService: the scan-run commands and queries.
type scanRunService struct {
	*orchcmd.Handlers
	*orchquery.Service
}

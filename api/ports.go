package api

import (
	"context"
	"errors"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// OrchestrationCommands is what the scan routes call.
// *commands/orchestration.Handlers satisfies it.
type OrchestrationCommands interface {
	RequestScan(ctx context.Context, m commands.Meta, cmd orchcmd.RequestScan) (commands.Result, error)
	StartScan(ctx context.Context, m commands.Meta, cmd orchcmd.StartScan) (commands.Result, error)
	CompleteScan(ctx context.Context, m commands.Meta, cmd orchcmd.CompleteScan) (commands.Result, error)
	FailScan(ctx context.Context, m commands.Meta, cmd orchcmd.FailScan) (commands.Result, error)
}

// CloudSecurityCommands is what the finding routes call.
// *commands/cloudsecurity.Handlers satisfies it.
type CloudSecurityCommands interface {
	RaiseFindings(ctx context.Context, m commands.Meta, cmd cscmd.RaiseFindings) (commands.BatchResult, error)
	ResolveFinding(ctx context.Context, m commands.Meta, cmd cscmd.ResolveFinding) (commands.Result, error)
	SuppressFinding(ctx context.Context, m commands.Meta, cmd cscmd.SuppressFinding) (commands.Result, error)
	ImportReport(ctx context.Context, m commands.Meta, cmd cscmd.ImportReport) (cscmd.ImportResult, error)

	// Muting rules.
	CreateMutingRule(ctx context.Context, m commands.Meta, cmd cscmd.CreateMutingRule) (commands.Result, error)
	ChangeMutingRule(ctx context.Context, m commands.Meta, cmd cscmd.ChangeMutingRule) (commands.Result, error)
	RemoveMutingRule(ctx context.Context, m commands.Meta, cmd cscmd.RemoveMutingRule) (commands.Result, error)
}

// CommandService is what the command routes call: every module's
// commands. CommandModules builds one from the modules' handlers.
type CommandService interface {
	OrchestrationCommands
	CloudSecurityCommands
}

// CommandModules is a CommandService made of each module's command
// handlers; NewServer refuses one with a module missing.
type CommandModules struct {
	OrchestrationCommands
	CloudSecurityCommands
}

// complete reports whether every module is there.
func (m CommandModules) complete() bool {
	return m.OrchestrationCommands != nil && m.CloudSecurityCommands != nil
}

// ReadinessChecker is one named check run by /readyz. Ready returns nil
// when the dependency it guards can serve; it must honour ctx.
type ReadinessChecker interface {
	Name() string
	Ready(ctx context.Context) error
}

// ReadinessCheck adapts a function into a ReadinessChecker:
//
//	api.ReadinessCheck("eventstore", func(ctx context.Context) error {
//		_, err := store.HeadPosition(ctx)
//		return err
//	})
func ReadinessCheck(name string, ready func(ctx context.Context) error) ReadinessChecker {
	return namedCheck{name: name, ready: ready}
}

// NotReady is a readiness failure with a reason /readyz may send: what is
// wrong in operators' words (a component, a position, a count, never
// stored data). Cause, when set, is only logged (it may hold addresses or
// paths). A check's other errors are sent as "failed".
type NotReady struct {
	Reason string
	Cause  error
}

func (e *NotReady) Error() string {
	if e.Cause == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Cause.Error()
}

func (e *NotReady) Unwrap() error { return e.Cause }

type namedCheck struct {
	name  string
	ready func(ctx context.Context) error
}

func (c namedCheck) Name() string                    { return c.name }
func (c namedCheck) Ready(ctx context.Context) error { return c.ready(ctx) }

// Database is one entry of the database registry as GET
// /api/v1/system/databases shows it.
type Database struct {
	Constant    string `json:"constant"`     // registry constant, e.g. ORCHESTRATION
	Name        string `json:"name"`         // effective name (prefix applied)
	DefaultName string `json:"default_name"` // name without prefix
	Purpose     string `json:"purpose"`
	Side        string `json:"side,omitempty"` // write or read side, when the registry says
}

// DatabaseLister lists the database registry.
type DatabaseLister interface {
	Databases() []Database
}

// DatabaseListerFunc adapts a function into a DatabaseLister, e.g. over
// dbregistry.Registry.Entries.
type DatabaseListerFunc func() []Database

// Databases calls f.
func (f DatabaseListerFunc) Databases() []Database { return f() }

// OrchestrationQueries is what the scan query routes call.
// *queries/orchestration.Service satisfies it.
type OrchestrationQueries interface {
	ListScans(ctx context.Context, team string, f orchquery.ScanFilter, p queries.Page) (orchquery.ScanList, error)
	GetScan(ctx context.Context, team, id string) (orchquery.ScanDetail, error)
	ScanDelta(ctx context.Context, team, id, change string, p queries.Page) (orchquery.DeltaList, error)
}

// CloudSecurityQueries is what the finding query routes call.
// *queries/cloudsecurity.Service satisfies it.
type CloudSecurityQueries interface {
	ListFindings(ctx context.Context, team string, f csquery.FindingFilter, p queries.Page) (csquery.FindingList, error)
	FindingHistory(ctx context.Context, team, id string) (csquery.History, error)
	ListImports(ctx context.Context, team string, p queries.Page) (csquery.ImportList, error)
	GetImport(ctx context.Context, team, id string) (csquery.Import, error)

	// Muting rules.
	ListMutingRules(ctx context.Context, team string, f csquery.MutingRuleFilter, p queries.Page) (csquery.MutingRuleList, error)
	GetMutingRule(ctx context.Context, team, id string) (csquery.MutingRule, error)

	// Compliance.
	GetComplianceOverview(ctx context.Context, team, framework string, p queries.Page) (csquery.ComplianceOverview, error)
	GetFrameworkCompliance(ctx context.Context, team string, q csquery.FrameworkQuery) (csquery.FrameworkCompliance, error)
	GetComplianceChanges(ctx context.Context, team string, q csquery.ChangesQuery) (csquery.ComplianceChanges, error)
}

// PlatformQueries is what the dashboard route calls.
// *queries/platform.Service satisfies it.
type PlatformQueries interface {
	DashboardSummary(ctx context.Context, team string) (platformquery.Dashboard, error)
}

// QueryService is what the query routes call: every module's queries.
// QueryModules builds one from the modules' query services.
type QueryService interface {
	OrchestrationQueries
	CloudSecurityQueries
	PlatformQueries
	CloudAssetsQueries // routes_cloudassets.go
}

// QueryModules is a QueryService made of each module's queries;
// NewServer refuses one with a module missing.
type QueryModules struct {
	OrchestrationQueries
	CloudSecurityQueries
	PlatformQueries
	CloudAssetsQueries
}

// complete reports whether every module is there.
func (m QueryModules) complete() bool {
	return m.OrchestrationQueries != nil && m.CloudSecurityQueries != nil && m.PlatformQueries != nil &&
		m.CloudAssetsQueries != nil
}

// ReadProgress says how far the projections have processed the event
// stream: the read side of read-your-writes. Projections are named as the
// projector runtime names them ("orchestration.scan_runs").
type ReadProgress interface {
	// Processed returns a position through which every named projection
	// has processed the stream (every event at or before it is in their
	// read models). It may lag the truth, never lead it.
	Processed(ctx context.Context, projections []string) (int64, error)
	// WaitFor blocks until every named projection has processed the
	// stream through position, and reports whether that happened before
	// ctx ended.
	WaitFor(ctx context.Context, projections []string, position int64) bool
}

// ProjectionAdmin is what the projection routes call: status, rebuilds
// and parked events of the projections (the projector role).
type ProjectionAdmin interface {
	// Names lists the projections, sorted.
	Names() []string
	// Status is a snapshot of every projection, sorted by name.
	Status(ctx context.Context) ([]ProjectionStatus, error)
	// StartRebuild starts rebuilding the named projection (or every one,
	// for RebuildAll) in the background and returns at once.
	// ErrRebuildInProgress when one of them is being rebuilt.
	StartRebuild(ctx context.Context, name string) (RebuildStarted, error)
	// CancelRebuild cancels the rebuild that covers name (RebuildAll: the
	// rebuild of every projection). ErrNoRebuild when none runs.
	CancelRebuild(ctx context.Context, name string) error
	// RetryParked applies a parked event (position > 0) or all of them
	// (position 0). A failing event stops it with a *RetryError.
	RetryParked(ctx context.Context, name string, position int64) (int, error)
	// SkipParked forgets a parked event (position > 0) or all of them.
	SkipParked(ctx context.Context, name string, position int64) (int, error)
}

// RebuildAll is the projection name that means every projection, in
// POST /api/v1/projections/{name}/rebuild.
const RebuildAll = "all"

// Errors a ProjectionAdmin returns (wrapped or not); classify maps them.
var (
	// ErrRebuildInProgress: a rebuild of that projection is running (409).
	ErrRebuildInProgress = errors.New("a rebuild of this projection is already running")
	// ErrNoRebuild: no rebuild of that projection is running (404).
	ErrNoRebuild = errors.New("no rebuild of this projection is running")
	// ErrNotParked: no such parked event (404).
	ErrNotParked = errors.New("no such parked event")
	// ErrProjectorUnavailable: this process does not run the projector
	// role, so it cannot rebuild or retry (503).
	ErrProjectorUnavailable = errors.New("this process does not run the projector role")
)

// RetryError is a parked-event retry stopped by an event that failed
// again; it stays parked with the new error.
type RetryError struct {
	Applied int // events applied before it
	Err     error
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// ProjectionStatus is one projection as GET /api/v1/projections shows it.
type ProjectionStatus struct {
	Name       string   `json:"name"`
	Database   string   `json:"database"` // registry constant, e.g. ORCHESTRATION
	EventTypes []string `json:"event_types"`
	// State: running, rebuilding, failing, stalled, stopped, remote
	// (this process does not run the projector role: the figures come
	// from the stored checkpoints), or standby (this projector process
	// does not own it: Owner runs it; the figures come from the stored
	// checkpoints).
	State string `json:"state"`
	// Owner is the node id (--node-id) of the projector process whose
	// lease runs the projection, when processes share the projections
	// through leases (an external NATS); empty otherwise.
	Owner string `json:"owner,omitempty"`
	// Checkpoint is the position of the last event committed into the
	// read model; Processed how far the projection has seen the stream
	// (it passes Checkpoint when the latest events are of other types).
	Checkpoint   int64            `json:"checkpoint"`
	Processed    int64            `json:"processed"`
	Head         int64            `json:"head"`
	LagEvents    int64            `json:"lag_events"`
	LagSeconds   float64          `json:"lag_seconds"`
	StalledSince time.Time        `json:"stalled_since,omitzero"`
	ParkedCount  int              `json:"parked_count"`
	Parked       []ParkedEvent    `json:"parked"`
	LastError    string           `json:"last_error,omitempty"`
	LastErrorAt  time.Time        `json:"last_error_at,omitzero"`
	NeedsRebuild string           `json:"needs_rebuild,omitempty"`
	Rebuild      *RebuildProgress `json:"rebuild,omitempty"`
	StatusError  string           `json:"status_error,omitempty"`
}

// RelayStatus is the relay's state: GET /api/v1/relay.
type RelayStatus struct {
	Stream          string    `json:"stream"`
	Running         bool      `json:"running"`
	Published       int64     `json:"published"`
	Head            int64     `json:"head"`
	LagEvents       int64     `json:"lag_events"`
	LagSeconds      float64   `json:"lag_seconds"`
	Failing         bool      `json:"failing"`
	LastError       string    `json:"last_error,omitempty"`
	LastErrorAt     time.Time `json:"last_error_at,omitzero"`
	ProgressAt      time.Time `json:"progress_at,omitzero"`
	StalledSince    time.Time `json:"stalled_since,omitzero"`
	Problem         string    `json:"problem,omitempty"`
	ByReference     int64     `json:"by_reference"`
	LastByReference int64     `json:"last_by_reference,omitempty"`
}

// RelayView reads the relay's state (in a process that runs the relay).
type RelayView interface {
	RelayStatus(ctx context.Context) RelayStatus
}

// ParkedEvent is an event a projection gave up on (retry or skip it).
type ParkedEvent struct {
	Position int64     `json:"position"`
	EventID  string    `json:"event_id"`
	Type     string    `json:"type"`
	StreamID string    `json:"stream_id"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	ParkedAt time.Time `json:"parked_at"`
}

// Rebuild phases beyond the runtime's (preparing, catching_up,
// cutting_over, done, failed).
const (
	RebuildQueued   = "queued"   // part of a rebuild of every projection, not started yet
	RebuildDone     = "done"     // swapped in
	RebuildFailed   = "failed"   // stopped (an error, or cancelled); the live model is untouched
	RebuildCanceled = "canceled" // cancelled before or while it ran; the live model is untouched
)

// RebuildProgress is the latest (or current) rebuild of a projection.
type RebuildProgress struct {
	Phase string `json:"phase"`
	// Processed is the position the rebuild has applied through, Target
	// the event store's head (it moves while appends go on).
	Processed    int64     `json:"processed"`
	Target       int64     `json:"target"`
	Applied      int64     `json:"applied"`
	EventsPerSec float64   `json:"events_per_sec"`
	ETASeconds   float64   `json:"eta_seconds"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	Error        string    `json:"error,omitempty"`
}

// Finished reports whether the rebuild ended (done, failed or canceled).
func (p RebuildProgress) Finished() bool {
	return p.Phase == RebuildDone || p.Phase == RebuildFailed || p.Phase == RebuildCanceled
}

// RebuildStarted answers POST /api/v1/projections/{name}/rebuild: the
// projections the rebuild covers, in the order they run, and when it
// was requested (each one's rebuild.started_at is at or after it).
type RebuildStarted struct {
	Projections []string  `json:"projections"`
	RequestedAt time.Time `json:"requested_at"`
}

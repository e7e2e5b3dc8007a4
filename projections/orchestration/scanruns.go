package orchestration

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/projections/fold"

	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// ScanRuns projects every scan into one scan_runs document (_id: the scan
// id), from the ScanRun events.
type ScanRuns struct{}

var _ projections.Projection = ScanRuns{}

// NewScanRuns returns the "orchestration.scan_runs" projection.
func NewScanRuns() ScanRuns { return ScanRuns{} }

// Name implements projections.Projection.
func (ScanRuns) Name() string { return ScanRunsName }

// Database implements projections.Projection.
func (ScanRuns) Database() dbregistry.Constant { return dbregistry.ORCHESTRATION }

// EventTypes implements projections.Projection.
func (ScanRuns) EventTypes() []string {
	return append(scanEventTypes(), orchdomain.ScanJobsPlanned{}.EventType(), orchdomain.ScanRunFinished{}.EventType())
}

func scanEventTypes() []string {
	return []string{
		orchdomain.ScanRequested{}.EventType(),
		orchdomain.ScanStarted{}.EventType(),
		orchdomain.ScanCompleted{}.EventType(),
		orchdomain.ScanFailed{}.EventType(),
	}
}

// Collections implements projections.Projection. Every index queries use
// starts with team_id and ends with requested_at descending (the list
// order). finished_at, set once a scan completed or failed, carries the TTL:
// requested and running scans never expire.
func (ScanRuns) Collections() []readmodel.CollectionSpec {
	byTeam := func(name string, fields ...string) readmodel.Index {
		ix := readmodel.Index{Name: name, Fields: []readmodel.IndexField{{Path: "team_id"}}}
		for _, f := range fields {
			ix.Fields = append(ix.Fields, readmodel.IndexField{Path: f})
		}
		ix.Fields = append(ix.Fields, readmodel.IndexField{Path: "requested_at", Desc: true})
		return ix
	}
	return []readmodel.CollectionSpec{{
		Name: ScanRunsCollection,
		Indexes: []readmodel.Index{
			byTeam("by_team_requested"),
			byTeam("by_team_status_requested", "status"),
			byTeam("by_team_account_requested", "account_id"),
			byTeam("by_team_tool_requested", "tool"),
			{Name: "expire_finished", Fields: []readmodel.IndexField{{Path: "finished_at"}}, TTL: ResultTTL},
		},
	}}
}

// scanRun is a scan_runs document.
type scanRun struct {
	ID              string
	TeamID          string
	AccountID       string
	Provider        string
	Tool            string
	Target          string
	Status          orchdomain.Status
	RequestedAt     time.Time
	StartedAt       time.Time
	CompletedAt     time.Time
	FailedAt        time.Time
	FailureReason   string
	ResourceCount   int64
	UpdatedPosition int64
	jobs            runJobs // a run planned with jobs (scanruns_jobs.go)
}

func scanRunFrom(d readmodel.Doc) scanRun {
	return scanRun{
		ID:              d.ID(),
		TeamID:          fold.Str(d, "team_id"),
		AccountID:       fold.Str(d, "account_id"),
		Provider:        fold.Str(d, "provider"),
		Tool:            fold.Str(d, "tool"),
		Target:          fold.Str(d, "target"),
		Status:          orchdomain.Status(fold.Str(d, "status")),
		RequestedAt:     fold.Time(d, "requested_at"),
		StartedAt:       fold.Time(d, "started_at"),
		CompletedAt:     fold.Time(d, "completed_at"),
		FailedAt:        fold.Time(d, "failed_at"),
		FailureReason:   fold.Str(d, "failure_reason"),
		ResourceCount:   fold.Num(d, "resource_count"),
		UpdatedPosition: fold.Num(d, "updated_position"),
	}
}

func (r scanRun) doc() readmodel.Doc {
	d := r.baseDoc()
	if j := r.jobs.doc(); j != nil {
		d["jobs"] = j
	}
	return d
}

func (r scanRun) baseDoc() readmodel.Doc {
	return readmodel.Doc{
		"_id":              r.ID,
		"team_id":          r.TeamID,
		"account_id":       r.AccountID,
		"provider":         r.Provider,
		"tool":             r.Tool,
		"target":           r.Target,
		"status":           string(r.Status),
		"requested_at":     fold.TimeOrNil(r.RequestedAt),
		"started_at":       fold.TimeOrNil(r.StartedAt),
		"completed_at":     fold.TimeOrNil(r.CompletedAt),
		"failed_at":        fold.TimeOrNil(r.FailedAt),
		"finished_at":      fold.TimeOrNil(fold.Later(r.CompletedAt, r.FailedAt)),
		"failure_reason":   r.FailureReason,
		"resource_count":   r.ResourceCount,
		"updated_position": r.UpdatedPosition,
	}
}

// Apply implements projections.Projection. Each event sets only its own
// fields, so a scan run merges whatever arrives first; the status is the
// furthest one seen.
func (ScanRuns) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	switch e := fold.Value(ev.Data).(type) {
	case orchdomain.ScanJobsPlanned, orchdomain.ScanRunFinished:
		return applyRunJobs(ctx, tx, ev, e)
	}
	change, ok, err := scanChangeOf(ev)
	if err != nil || !ok {
		return err
	}
	doc, _, err := fold.Get(ctx, tx, ScanRunsCollection, change.scanID)
	if err != nil {
		return fmt.Errorf("%s: %w", ScanRunsName, err)
	}
	run := scanRunFrom(doc)
	run.ID = change.scanID
	run.TeamID = ev.Metadata.TeamID
	run.Status = orchdomain.LaterStatus(run.Status, change.status)
	run.jobs = jobsOf(doc)
	run.UpdatedPosition = max(run.UpdatedPosition, ev.Position)
	switch e := change.event.(type) {
	case orchdomain.ScanRequested:
		run.AccountID, run.Provider, run.Tool, run.Target = e.AccountID, string(e.Provider), e.Tool, e.Target
		run.RequestedAt = e.RequestedAt
	case orchdomain.ScanStarted:
		run.StartedAt = e.StartedAt
	case orchdomain.ScanCompleted:
		run.CompletedAt, run.ResourceCount = e.CompletedAt, int64(e.ResourceCount)
	case orchdomain.ScanFailed:
		run.FailedAt, run.FailureReason = e.FailedAt, e.Reason
	}
	tx.Put(ScanRunsCollection, run.doc())
	return nil
}

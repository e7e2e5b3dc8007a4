package platform

import (
	"context"
	"fmt"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// RowTTL is how long the dashboard's internal rows are kept once no event
// can change them any more: a scan row after the scan finished, a finding
// row after the finding was resolved. The dashboard's counts are totals
// over all time and do not shrink when a row expires.
const RowTTL = 180 * 24 * time.Hour

// Dashboard maintains one dashboard_summaries document per team from the
// ScanRun and Finding events: scans by status, findings by severity and by
// status, open findings by severity, and the RecentScans latest scans by
// requested_at. The counts are maintained incrementally; the per-scan and
// per-finding rows in dashboard_scans and dashboard_findings record what
// the counts hold for each scan and finding, so that every event moves
// exactly what it changes, whatever order the streams interleave in.
//
// Events without a team belong to no dashboard and are ignored.
type Dashboard struct{}

var _ projections.Projection = Dashboard{}

// NewDashboard returns the "platform.dashboard" projection.
func NewDashboard() Dashboard { return Dashboard{} }

// Name implements projections.Projection.
func (Dashboard) Name() string { return DashboardName }

// Database implements projections.Projection.
func (Dashboard) Database() dbregistry.Constant { return dbregistry.PLATFORM }

// EventTypes implements projections.Projection.
func (Dashboard) EventTypes() []string {
	return slices.Concat(scanEventTypes, findingEventTypes, postureEventTypes, assessmentEventTypes, riskEventTypes)
}

// Collections implements projections.Projection. All three are read by _id
// only (the dashboard's _id is the team id); the rows carry TTLs (RowTTL).
func (Dashboard) Collections() []readmodel.CollectionSpec {
	ttl := func(field string) []readmodel.Index {
		return []readmodel.Index{{Name: "expire_" + field, Fields: []readmodel.IndexField{{Path: field}}, TTL: RowTTL}}
	}
	return append([]readmodel.CollectionSpec{
		{Name: DashboardCollection},
		{Name: DashboardScansCollection, Indexes: ttl("finished_at")},
		{Name: DashboardFindingsCollection, Indexes: ttl("resolved_at"), SmallDocs: true},
	}, slices.Concat(postureCollections(), assessmentCollections(), riskCollections())...)
}

// Apply implements projections.Projection.
func (Dashboard) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	if handled, err := applyPosture(ctx, tx, ev); handled || err != nil {
		return wrap(err)
	}
	if handled, err := applyAssessments(ctx, tx, ev); handled || err != nil { // dashboard_assessments.go
		return wrap(err)
	}
	if handled, err := applyRisk(ctx, tx, ev); handled || err != nil { // dashboard_risk.go
		return wrap(err)
	}
	data, err := eventData(ev)
	if err != nil || data == nil || ev.Metadata.TeamID == "" {
		return wrap(err)
	}
	switch e := data.(type) {
	case orchdomain.ScanRequested:
		err = applyScan(ctx, tx, ev, e.ScanID, orchdomain.StatusRequested, func(s *scanRow) {
			s.Requested, s.Tool, s.AccountID, s.RequestedAt = true, e.Tool, e.AccountID, e.RequestedAt
		})
	case orchdomain.ScanStarted:
		err = applyScan(ctx, tx, ev, e.ScanID, orchdomain.StatusRunning, nil)
	case orchdomain.ScanCompleted:
		err = applyScan(ctx, tx, ev, e.ScanID, orchdomain.StatusCompleted, func(s *scanRow) { s.FinishedAt = e.CompletedAt })
	case orchdomain.ScanFailed:
		err = applyScan(ctx, tx, ev, e.ScanID, orchdomain.StatusFailed, func(s *scanRow) { s.FinishedAt = e.FailedAt })
	case csdomain.FindingRaised:
		err = applyRaised(ctx, tx, ev, e)
	case csdomain.FindingResolved:
		err = applyFindingStatus(ctx, tx, ev, e.FindingID, csdomain.StatusResolved, e.ResolvedAt)
	case csdomain.FindingSuppressed:
		err = applyFindingStatus(ctx, tx, ev, e.FindingID, csdomain.StatusSuppressed, time.Time{})
	}
	return wrap(err)
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", DashboardName, err)
}

// applyScan folds one ScanRun event: a scan is counted when it is first
// seen and moves between status counts as its status advances; a requested
// scan is (re)placed among the recent scans with its current status.
func applyScan(ctx context.Context, tx projections.Tx, ev projections.Event, scanID string, status orchdomain.Status, set func(*scanRow)) error {
	if scanID == "" {
		return nil
	}
	team := ev.Metadata.TeamID
	s, found, err := loadScanRow(ctx, tx, team, scanID)
	if err != nil {
		return err
	}
	old := s.Status
	s.Status = orchdomain.LaterStatus(old, status)
	if set != nil {
		set(&s)
	}
	s.UpdatedPosition = max(s.UpdatedPosition, ev.Position)

	d, err := loadDashboard(ctx, tx, team)
	if err != nil {
		return err
	}
	if !found {
		d.ScansTotal++
	} else {
		d.ScansByStatus.Add(old, -1)
	}
	d.ScansByStatus.Add(s.Status, 1)
	if s.Requested {
		d.showRecent(s)
	}
	d.UpdatedPosition = max(d.UpdatedPosition, s.UpdatedPosition)
	tx.Put(DashboardScansCollection, s.doc())
	tx.Put(DashboardCollection, d.doc())
	return nil
}

// applyRaised counts a finding, with the status its row already holds
// (open, unless a later event of the finding came first). A finding
// already counted is not counted again.
func applyRaised(ctx context.Context, tx projections.Tx, ev projections.Event, e csdomain.FindingRaised) error {
	if e.FindingID == "" {
		return nil
	}
	team := ev.Metadata.TeamID
	f, err := loadFindingRow(ctx, tx, team, e.FindingID)
	if err != nil || f.Raised {
		return err
	}
	f.Raised, f.ScanID, f.Severity = true, e.ScanID, string(e.Severity)
	f.Status = csdomain.LaterStatus(f.Status, csdomain.StatusOpen)
	f.UpdatedPosition = max(f.UpdatedPosition, ev.Position)

	d, err := loadDashboard(ctx, tx, team)
	if err != nil {
		return err
	}
	d.FindingsTotal++
	d.FindingsBySeverity.Add(f.Severity, 1)
	d.FindingsByStatus.Add(f.Status, 1)
	if f.Status == csdomain.StatusOpen {
		d.OpenFindingsBySev.Add(f.Severity, 1)
	}
	d.UpdatedPosition = max(d.UpdatedPosition, f.UpdatedPosition)
	tx.Put(DashboardFindingsCollection, f.Doc())
	tx.Put(DashboardCollection, d.doc())
	return nil
}

// applyFindingStatus moves a counted finding between status counts. A
// finding not raised yet only records the status in its row, for
// FindingRaised to count it with.
func applyFindingStatus(ctx context.Context, tx projections.Tx, ev projections.Event, findingID string, status csdomain.Status, resolvedAt time.Time) error {
	if findingID == "" {
		return nil
	}
	team := ev.Metadata.TeamID
	f, err := loadFindingRow(ctx, tx, team, findingID)
	if err != nil {
		return err
	}
	old := f.Status
	f.Status = csdomain.LaterStatus(old, status)
	if !resolvedAt.IsZero() {
		f.ResolvedAt = resolvedAt
	}
	f.UpdatedPosition = max(f.UpdatedPosition, ev.Position)
	tx.Put(DashboardFindingsCollection, f.Doc())
	if !f.Raised {
		return nil
	}
	d, err := loadDashboard(ctx, tx, team)
	if err != nil {
		return err
	}
	if f.Status != old {
		d.FindingsByStatus.Add(old, -1)
		d.FindingsByStatus.Add(f.Status, 1)
		if old == csdomain.StatusOpen {
			d.OpenFindingsBySev.Add(f.Severity, -1)
		}
	}
	d.UpdatedPosition = max(d.UpdatedPosition, f.UpdatedPosition)
	tx.Put(DashboardCollection, d.doc())
	return nil
}

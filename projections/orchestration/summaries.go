package orchestration

import (
	"context"
	"fmt"
	"slices"

	"github.com/cspm-es/cspm-es/projections/fold"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// ScanSummaries maintains one scan_summaries document per team and scan
// (_id Key(team, scan id)): the scan's main fields and the counts of the
// findings raised in it, by severity and by status. It listens to the
// ScanRun events and to the Finding events of the cloud-security module: a
// cross-module view built at write time, never joined at query time.
//
// FindingResolved and FindingSuppressed carry only the finding id, so the
// internal collection scan_finding_index keeps, per team and finding, the
// scan, severity and status the counts hold for it.
type ScanSummaries struct{}

var _ projections.Projection = ScanSummaries{}

// NewScanSummaries returns the "orchestration.scan_summaries" projection.
func NewScanSummaries() ScanSummaries { return ScanSummaries{} }

// Name implements projections.Projection.
func (ScanSummaries) Name() string { return ScanSummariesName }

// Database implements projections.Projection.
func (ScanSummaries) Database() dbregistry.Constant { return dbregistry.ORCHESTRATION }

// EventTypes implements projections.Projection.
func (ScanSummaries) EventTypes() []string {
	return slices.Concat(scanEventTypes(), findingEventTypes(), deltaEventTypes())
}

// Collections implements projections.Projection. Both collections are read
// by _id only. A summary expires ResultTTL after its scan finished (running
// scans never expire); an index entry ResultTTL after its finding was
// resolved, the one status no later event can change.
func (ScanSummaries) Collections() []readmodel.CollectionSpec {
	return append([]readmodel.CollectionSpec{
		{Name: ScanSummariesCollection, Indexes: []readmodel.Index{
			{Name: "expire_finished", Fields: []readmodel.IndexField{{Path: "finished_at"}}, TTL: ResultTTL},
		}},
		{Name: FindingIndexCollection, SmallDocs: true, Indexes: []readmodel.Index{
			{Name: "expire_resolved", Fields: []readmodel.IndexField{{Path: "resolved_at"}}, TTL: ResultTTL},
		}},
	}, deltaCollections()...)
}

// Apply implements projections.Projection.
func (p ScanSummaries) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	if err := p.apply(ctx, tx, ev); err != nil {
		return fmt.Errorf("%s: %w", ScanSummariesName, err)
	}
	return nil
}

func (p ScanSummaries) apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	if ok, err := applyDelta(ctx, tx, ev); ok {
		return err
	}
	sc, isScan, err := scanChangeOf(ev)
	switch {
	case err != nil:
		return err
	case isScan:
		return p.applyScan(ctx, tx, ev, sc)
	}
	fc, isFinding, err := findingChangeOf(ev)
	switch {
	case err != nil || !isFinding:
		return err
	case fc.raised != nil:
		return p.applyRaised(ctx, tx, ev, fc)
	default:
		return p.applyStatus(ctx, tx, ev, fc)
	}
}

// applyScan merges the scan's fields into its summary; the counts stay.
func (ScanSummaries) applyScan(ctx context.Context, tx projections.Tx, ev projections.Event, c scanChange) error {
	team := ev.Metadata.TeamID
	s, err := loadSummary(ctx, tx, team, c.scanID)
	if err != nil {
		return err
	}
	s.Status = orchdomain.LaterStatus(s.Status, c.status)
	switch e := c.event.(type) {
	case orchdomain.ScanRequested:
		s.AccountID, s.Provider, s.Tool, s.RequestedAt = e.AccountID, string(e.Provider), e.Tool, e.RequestedAt
	case orchdomain.ScanCompleted:
		s.FinishedAt = fold.Later(s.FinishedAt, e.CompletedAt)
	case orchdomain.ScanFailed:
		s.FinishedAt = fold.Later(s.FinishedAt, e.FailedAt)
	}
	s.UpdatedPosition = max(s.UpdatedPosition, ev.Position)
	tx.Put(ScanSummariesCollection, s.doc())
	return nil
}

// applyRaised counts a finding in its scan's summary, with the status its
// index entry already holds (open, unless a later event of the finding came
// first). A finding already counted is not counted again.
func (ScanSummaries) applyRaised(ctx context.Context, tx projections.Tx, ev projections.Event, c findingChange) error {
	team, r := ev.Metadata.TeamID, c.raised
	f, err := loadIndexed(ctx, tx, team, c.findingID)
	if err != nil || f.Raised {
		return err
	}
	f.Raised, f.ScanID, f.Severity = true, r.ScanID, string(r.Severity)
	f.Status = csdomain.LaterStatus(f.Status, c.status)
	f.UpdatedPosition = max(f.UpdatedPosition, ev.Position)

	s, err := loadSummary(ctx, tx, team, r.ScanID)
	if err != nil {
		return err
	}
	s.FindingsTotal++
	s.SeverityCounts.Add(f.Severity, 1)
	s.StatusCounts.Add(f.Status, 1)
	s.UpdatedPosition = max(s.UpdatedPosition, f.UpdatedPosition)
	tx.Put(FindingIndexCollection, f.Doc())
	tx.Put(ScanSummariesCollection, s.doc())
	return nil
}

// applyStatus moves a counted finding from its old status to the new one in
// its scan's summary. A finding not raised yet only records the status in
// its index entry, for FindingRaised to count it with.
//
// A summary's updated_position is the highest position of the events of
// its scan and of its counted findings, whichever came first: FindingRaised
// takes the index entry's position, which covers any earlier status.
func (ScanSummaries) applyStatus(ctx context.Context, tx projections.Tx, ev projections.Event, c findingChange) error {
	team := ev.Metadata.TeamID
	f, err := loadIndexed(ctx, tx, team, c.findingID)
	if err != nil {
		return err
	}
	old := f.Status
	f.Status = csdomain.LaterStatus(old, c.status)
	if f.Status == c.status && c.status == statusResolved {
		f.ResolvedAt = fold.Later(f.ResolvedAt, c.at)
	}
	f.UpdatedPosition = max(f.UpdatedPosition, ev.Position)
	tx.Put(FindingIndexCollection, f.Doc())
	if !f.Raised {
		return nil
	}
	s, err := loadSummary(ctx, tx, team, f.ScanID)
	if err != nil {
		return err
	}
	s.StatusCounts.Add(old, -1)
	s.StatusCounts.Add(f.Status, 1)
	s.UpdatedPosition = max(s.UpdatedPosition, ev.Position)
	tx.Put(ScanSummariesCollection, s.doc())
	return nil
}

// Package cloudsecurity holds the projections that write the cloud-security
// module database (dbregistry.CLOUD_SECURITY, cspm_cloud_security):
// Findings ("cloudsecurity.findings"), one document per finding.
package cloudsecurity

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/projections/fold"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// FindingsName is the projection's stable name.
const FindingsName = "cloudsecurity.findings"

// FindingsCollection holds one document per finding (_id: the finding id).
const FindingsCollection = "findings"

// ResultTTL is how long a resolved finding is kept (docs/architecture.md §3: 180 days
// by default on scan-result read models), from its expires_from. Open and
// suppressed findings are live problems and never expire; nor do imported
// findings, whose document carries the history that tells a finding seen
// again (reopened) from a new one.
const ResultTTL = 180 * 24 * time.Hour

// Findings projects every finding into one findings document.
type Findings struct{}

var _ projections.Projection = Findings{}

// NewFindings returns the "cloudsecurity.findings" projection.
func NewFindings() Findings { return Findings{} }

// Name implements projections.Projection.
func (Findings) Name() string { return FindingsName }

// Database implements projections.Projection.
func (Findings) Database() dbregistry.Constant { return dbregistry.CLOUD_SECURITY }

// EventTypes implements projections.Projection.
func (Findings) EventTypes() []string {
	return append([]string{
		csdomain.FindingRaised{}.EventType(),
		csdomain.FindingResolved{}.EventType(),
		csdomain.FindingSuppressed{}.EventType(),
		csdomain.ImportStarted{}.EventType(),
		csdomain.ChecksDescribed{}.EventType(),
		csdomain.ResultsRecorded{}.EventType(),
		csdomain.ImportCompleted{}.EventType(),
		csdomain.ImportRejected{}.EventType(),
		csdomain.MutingRuleCreated{}.EventType(),
		csdomain.MutingRuleChanged{}.EventType(),
		csdomain.MutingRuleRemoved{}.EventType(),
		csdomain.MutingRuleExpired{}.EventType(),
	}, append(inventoryEventTypes(), vulnScanEventTypes()...)...) // inventories.go, vulnscans.go
}

// Collections implements projections.Projection. The query indexes start
// with team_id, then the filtered field, and end with raised_at descending
// (the list order; _id is appended as the tie-break). expires_from carries
// the TTL. No query filters by check_id (by_team_check_raised is gone,
// decision 109).
func (Findings) Collections() []readmodel.CollectionSpec {
	byTeam := func(name string, fields ...string) readmodel.Index {
		ix := readmodel.Index{Name: name, Fields: []readmodel.IndexField{{Path: "team_id"}}}
		for _, f := range fields {
			ix.Fields = append(ix.Fields, readmodel.IndexField{Path: f})
		}
		ix.Fields = append(ix.Fields, readmodel.IndexField{Path: "raised_at", Desc: true})
		return ix
	}
	// The flags are stored only when set (finding.doc): their indexes
	// hold only the findings that have them, which the filters muted=true
	// and suppressed=true look up; muted=false and suppressed=false walk
	// by_team_raised (decision 109).
	partial := func(ix readmodel.Index, path string) readmodel.Index {
		ix.Partial = path
		return ix
	}
	return append([]readmodel.CollectionSpec{{
		Name: FindingsCollection,
		Indexes: []readmodel.Index{
			byTeam("by_team_raised"),
			byTeam("by_team_severity_raised", "severity"),
			byTeam("by_team_status_raised", "status"),
			byTeam("by_team_account_raised", "account_id"),
			byTeam("by_team_scan_raised", "scan_id"),
			partial(byTeam("by_team_muted_raised", "muted"), "muted"),
			partial(byTeam("by_team_suppressed_raised", "suppressed"), "suppressed"),
			{Name: "expire_resolved", Fields: []readmodel.IndexField{{Path: "expires_from"}}, TTL: ResultTTL},
		},
	}, {
		Name: ImportsCollection,
		Indexes: []readmodel.Index{
			{Name: "by_team_received", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "received_at", Desc: true}}},
			{Name: "by_team_scan", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "scan_id"}}},
		},
	}, {
		Name:    ChecksCollection,
		Indexes: []readmodel.Index{{Name: "by_team", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "check_id"}}}},
	}}, append(lifecycle.CollectionSpecs(), mutingCollections()...)...)
}

// Apply implements projections.Projection. FindingRaised sets the finding's
// fields; the status is the furthest one seen (open → suppressed →
// resolved), and reason is the reason of the event that set it, so a
// finding merges whatever arrived first.
func (Findings) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	if ok, err := applyInventory(ctx, tx, ev); ok {
		return err
	}
	if ok, err := applyVulnScan(ctx, tx, ev); ok {
		return err
	}
	if ok, err := applyImport(ctx, tx, ev); ok {
		if err != nil {
			return fmt.Errorf("%s: %w", FindingsName, err)
		}
		return nil
	}
	if ok, err := applyMuting(ctx, tx, ev); ok {
		if err != nil {
			return fmt.Errorf("%s: %w", FindingsName, err)
		}
		return nil
	}
	id, status, err := findingOf(ev)
	if err != nil || id == "" {
		return err
	}
	if csdomain.IsImportedFinding(id) {
		if err := triageImported(ctx, tx, ev, id); err != nil {
			return fmt.Errorf("%s: %w", FindingsName, err)
		}
		return nil
	}
	doc, _, err := tx.Get(ctx, FindingsCollection, id)
	if err != nil {
		return fmt.Errorf("%s: get %s/%s: %w", FindingsName, FindingsCollection, id, err)
	}
	f := findingFrom(doc)
	f.ID = id
	f.TeamID = ev.Metadata.TeamID
	f.UpdatedPosition = max(f.UpdatedPosition, ev.Position)
	takes := rank[status] >= rank[f.Status] // the event sets the current status
	if takes {
		f.Status = status
	}
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.FindingRaised:
		f.ScanID, f.AccountID, f.CheckID, f.Title = e.ScanID, e.AccountID, e.CheckID, e.Title
		f.Severity, f.ResourceID, f.Region, f.Description = string(e.Severity), e.ResourceID, e.Region, e.Description
		f.RaisedAt = e.RaisedAt
	case csdomain.FindingResolved:
		f.ResolvedAt = e.ResolvedAt
		if takes {
			f.Reason = e.Reason
		}
	case csdomain.FindingSuppressed:
		f.SuppressedAt, f.SuppressedUntil = e.SuppressedAt, e.Until
		if takes {
			f.Reason = e.Reason
		}
	}
	tx.Put(FindingsCollection, f.doc())
	return nil
}

// rank orders the statuses a finding moves through (see Apply).
var rank = map[csdomain.Status]int{
	csdomain.StatusOpen:       1,
	csdomain.StatusSuppressed: 2,
	csdomain.StatusResolved:   3,
}

// SeverityRank orders severities for sorting: critical 4 (first in a
// descending sort) down to informational 0; an unknown severity is -1.
func SeverityRank(s string) int64 {
	switch csdomain.Severity(s) {
	case csdomain.SeverityCritical:
		return 4
	case csdomain.SeverityHigh:
		return 3
	case csdomain.SeverityMedium:
		return 2
	case csdomain.SeverityLow:
		return 1
	case csdomain.SeverityInformational:
		return 0
	}
	return -1
}

// finding is a findings document.
type finding struct {
	ID              string
	TeamID          string
	ScanID          string
	AccountID       string
	CheckID         string
	Title           string
	Severity        string
	ResourceID      string
	Region          string
	Description     string
	Status          csdomain.Status
	RaisedAt        time.Time
	ResolvedAt      time.Time
	SuppressedAt    time.Time
	SuppressedUntil time.Time
	Reason          string
	UpdatedPosition int64
}

func findingFrom(d readmodel.Doc) finding {
	return finding{
		ID:              d.ID(),
		TeamID:          fold.Str(d, "team_id"),
		ScanID:          fold.Str(d, "scan_id"),
		AccountID:       fold.Str(d, "account_id"),
		CheckID:         fold.Str(d, "check_id"),
		Title:           fold.Str(d, "title"),
		Severity:        fold.Str(d, "severity"),
		ResourceID:      fold.Str(d, "resource_id"),
		Region:          fold.Str(d, "region"),
		Description:     fold.Str(d, "description"),
		Status:          csdomain.Status(fold.Str(d, "status")),
		RaisedAt:        fold.Time(d, "raised_at"),
		ResolvedAt:      fold.Time(d, "resolved_at"),
		SuppressedAt:    fold.Time(d, "suppressed_at"),
		SuppressedUntil: fold.Time(d, "suppressed_until"),
		Reason:          fold.Str(d, "reason"),
		UpdatedPosition: fold.Num(d, "updated_position"),
	}
}

// doc is the stored document: the fields that are empty (no region, no
// reason, times not reached yet, false flags) are left out
// (fold.OmitEmpty): every reader and filter of this collection reads a
// missing field as the empty one.
func (f finding) doc() readmodel.Doc {
	return fold.OmitEmpty(readmodel.Doc{
		"_id":              f.ID,
		"team_id":          f.TeamID,
		"scan_id":          f.ScanID,
		"account_id":       f.AccountID,
		"check_id":         f.CheckID,
		"title":            f.Title,
		"severity":         f.Severity,
		"resource_id":      f.ResourceID,
		"region":           f.Region,
		"description":      f.Description,
		"status":           string(f.Status),
		"suppressed":       f.Status == csdomain.StatusSuppressed, // as imported findings say it (the findings list filters on it)
		"raised_at":        fold.TimeOrNil(f.RaisedAt),
		"resolved_at":      fold.TimeOrNil(f.ResolvedAt),
		"expires_from":     fold.TimeOrNil(f.ResolvedAt),
		"suppressed_at":    fold.TimeOrNil(f.SuppressedAt),
		"suppressed_until": fold.TimeOrNil(f.SuppressedUntil),
		"reason":           f.Reason,
		"updated_position": f.UpdatedPosition,
	})
}

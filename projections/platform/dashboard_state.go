package platform

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/cspm-es/cspm-es/projections/fold"

	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// dashboard is a dashboard_summaries document.
type dashboard struct {
	ID                 string
	TeamID             string
	ScansTotal         int64
	ScansByStatus      fold.ScanStatusCounts
	FindingsTotal      int64
	FindingsBySeverity fold.SeverityCounts
	FindingsByStatus   fold.FindingStatusCounts
	OpenFindingsBySev  fold.SeverityCounts
	RecentScans        []recentScan
	UpdatedPosition    int64
	Posture            map[string]any // the posture section (dashboard_posture.go)
	Risk               map[string]any // the risk section (dashboard_risk.go); nil before any risk event
}

// recentScan is an entry of dashboard.RecentScans.
type recentScan struct {
	ScanID      string
	Status      orchdomain.Status
	Tool        string
	AccountID   string
	RequestedAt time.Time
}

func loadDashboard(ctx context.Context, tx projections.Tx, team string) (dashboard, error) {
	doc, _, err := fold.Get(ctx, tx, DashboardCollection, team)
	d := dashboard{
		ID:                 team,
		TeamID:             team,
		ScansTotal:         fold.Num(doc, "scans_total"),
		ScansByStatus:      fold.ScanStatusCountsFrom(fold.Obj(doc, "scans_by_status")),
		FindingsTotal:      fold.Num(doc, "findings_total"),
		FindingsBySeverity: fold.SeverityCountsFrom(fold.Obj(doc, "findings_by_severity")),
		FindingsByStatus:   fold.FindingStatusCountsFrom(fold.Obj(doc, "findings_by_status")),
		OpenFindingsBySev:  fold.SeverityCountsFrom(fold.Obj(doc, "open_findings_by_severity")),
		UpdatedPosition:    fold.Num(doc, "updated_position"),
		Posture:            fold.Obj(doc, "posture"),
		Risk:               fold.Obj(doc, "risk"),
	}
	for _, r := range fold.Objs(doc, "recent_scans") {
		d.RecentScans = append(d.RecentScans, recentScan{
			ScanID: fold.Str(r, "scan_id"), Status: orchdomain.Status(fold.Str(r, "status")), Tool: fold.Str(r, "tool"),
			AccountID: fold.Str(r, "account_id"), RequestedAt: fold.Time(r, "requested_at"),
		})
	}
	return d, err
}

func (d dashboard) doc() readmodel.Doc {
	recent := make([]any, len(d.RecentScans))
	for i, r := range d.RecentScans {
		recent[i] = map[string]any{
			"scan_id": r.ScanID, "status": string(r.Status), "tool": r.Tool, "account_id": r.AccountID,
			"requested_at": fold.TimeOrNil(r.RequestedAt),
		}
	}
	out := readmodel.Doc{
		"_id":                       d.ID,
		"team_id":                   d.TeamID,
		"scans_total":               d.ScansTotal,
		"scans_by_status":           d.ScansByStatus.Doc(),
		"findings_total":            d.FindingsTotal,
		"findings_by_severity":      d.FindingsBySeverity.Doc(),
		"findings_by_status":        d.FindingsByStatus.Doc(),
		"open_findings_by_severity": d.OpenFindingsBySev.Doc(),
		"recent_scans":              recent,
		"updated_position":          d.UpdatedPosition,
		"posture":                   d.posture(),
	}
	if d.Risk != nil {
		out["risk"] = d.Risk
	}
	return out
}

// showRecent puts s (a requested scan) among the recent scans, replacing
// its earlier entry, and keeps the RecentScans latest by requested_at (then
// scan id), newest first: the top RecentScans of the set of requested
// scans, with each one's current status, whatever order they came in. A
// scan dropped from the list can never return, since only newer scans push
// it out and none are ever removed.
func (d *dashboard) showRecent(s scanRow) {
	d.RecentScans = slices.DeleteFunc(d.RecentScans, func(r recentScan) bool { return r.ScanID == s.ScanID })
	d.RecentScans = append(d.RecentScans, recentScan{
		ScanID: s.ScanID, Status: s.Status, Tool: s.Tool, AccountID: s.AccountID,
		RequestedAt: readmodel.NormalizeTime(s.RequestedAt),
	})
	slices.SortFunc(d.RecentScans, func(a, b recentScan) int {
		return cmp.Or(b.RequestedAt.Compare(a.RequestedAt), cmp.Compare(b.ScanID, a.ScanID))
	})
	if len(d.RecentScans) > RecentScans {
		d.RecentScans = d.RecentScans[:RecentScans]
	}
}

// scanRow is a dashboard_scans document: what the dashboard counts hold
// for one scan. Requested is false while only later events were seen.
type scanRow struct {
	ID              string
	TeamID          string
	ScanID          string
	Requested       bool
	Status          orchdomain.Status
	Tool            string
	AccountID       string
	RequestedAt     time.Time
	FinishedAt      time.Time
	UpdatedPosition int64
}

func loadScanRow(ctx context.Context, tx projections.Tx, team, scanID string) (scanRow, bool, error) {
	d, found, err := fold.Get(ctx, tx, DashboardScansCollection, Key(team, scanID))
	s := scanRow{
		ID:              Key(team, scanID),
		TeamID:          team,
		ScanID:          scanID,
		Requested:       fold.Flag(d, "requested"),
		Status:          orchdomain.Status(fold.Str(d, "status")),
		Tool:            fold.Str(d, "tool"),
		AccountID:       fold.Str(d, "account_id"),
		RequestedAt:     fold.Time(d, "requested_at"),
		FinishedAt:      fold.Time(d, "finished_at"),
		UpdatedPosition: fold.Num(d, "updated_position"),
	}
	return s, found, err
}

func (s scanRow) doc() readmodel.Doc {
	return readmodel.Doc{
		"_id":              s.ID,
		"team_id":          s.TeamID,
		"scan_id":          s.ScanID,
		"requested":        s.Requested,
		"status":           string(s.Status),
		"tool":             s.Tool,
		"account_id":       s.AccountID,
		"requested_at":     fold.TimeOrNil(s.RequestedAt),
		"finished_at":      fold.TimeOrNil(s.FinishedAt),
		"updated_position": s.UpdatedPosition,
	}
}

// loadFindingRow reads a dashboard_findings row: what the dashboard counts
// hold for one finding (fold.FindingRow).
func loadFindingRow(ctx context.Context, tx projections.Tx, team, findingID string) (fold.FindingRow, error) {
	return fold.LoadFindingRow(ctx, tx, DashboardFindingsCollection, Key(team, findingID), team, findingID)
}

// posture is the document's posture section (empty for a team without
// imports).
func (d dashboard) posture() map[string]any {
	if d.Posture == nil {
		return emptyPosture()
	}
	return d.Posture
}

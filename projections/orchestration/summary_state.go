package orchestration

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/projections/fold"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

const statusResolved = csdomain.StatusResolved

// summary is a scan_summaries document.
type summary struct {
	ID              string
	TeamID          string
	ScanID          string
	AccountID       string
	Provider        string
	Tool            string
	Status          orchdomain.Status
	RequestedAt     time.Time
	FinishedAt      time.Time
	FindingsTotal   int64
	SeverityCounts  fold.SeverityCounts
	StatusCounts    fold.FindingStatusCounts
	UpdatedPosition int64
}

func loadSummary(ctx context.Context, tx projections.Tx, team, scanID string) (summary, error) {
	d, _, err := fold.Get(ctx, tx, ScanSummariesCollection, Key(team, scanID))
	s := summary{
		ID:              Key(team, scanID),
		TeamID:          team,
		ScanID:          scanID,
		AccountID:       fold.Str(d, "account_id"),
		Provider:        fold.Str(d, "provider"),
		Tool:            fold.Str(d, "tool"),
		Status:          orchdomain.Status(fold.Str(d, "status")),
		RequestedAt:     fold.Time(d, "requested_at"),
		FinishedAt:      fold.Time(d, "finished_at"),
		FindingsTotal:   fold.Num(d, "findings_total"),
		SeverityCounts:  fold.SeverityCountsFrom(fold.Obj(d, "severity_counts")),
		StatusCounts:    fold.FindingStatusCountsFrom(fold.Obj(d, "status_counts")),
		UpdatedPosition: fold.Num(d, "updated_position"),
	}
	return s, err
}

func (s summary) doc() readmodel.Doc {
	return readmodel.Doc{
		"_id":              s.ID,
		"team_id":          s.TeamID,
		"scan_id":          s.ScanID,
		"account_id":       s.AccountID,
		"provider":         s.Provider,
		"tool":             s.Tool,
		"status":           string(s.Status),
		"requested_at":     fold.TimeOrNil(s.RequestedAt),
		"finished_at":      fold.TimeOrNil(s.FinishedAt),
		"findings_total":   s.FindingsTotal,
		"severity_counts":  s.SeverityCounts.Doc(),
		"status_counts":    s.StatusCounts.Doc(),
		"updated_position": s.UpdatedPosition,
	}
}

// loadIndexed reads a scan_finding_index row: what the summary counts
// hold for one finding (fold.FindingRow).
func loadIndexed(ctx context.Context, tx projections.Tx, team, findingID string) (fold.FindingRow, error) {
	return fold.LoadFindingRow(ctx, tx, FindingIndexCollection, Key(team, findingID), team, findingID)
}

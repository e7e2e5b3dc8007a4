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

// indexed is a scan_finding_index document: what the summary counts hold
// for one finding. Raised is false while only later events of the finding
// were seen (Status then holds the furthest status they reached).
type indexed struct {
	ID              string
	TeamID          string
	FindingID       string
	Raised          bool
	ScanID          string
	Severity        string
	Status          csdomain.Status
	ResolvedAt      time.Time
	UpdatedPosition int64
}

func loadIndexed(ctx context.Context, tx projections.Tx, team, findingID string) (indexed, error) {
	d, _, err := fold.Get(ctx, tx, FindingIndexCollection, Key(team, findingID))
	f := indexed{
		ID:              Key(team, findingID),
		TeamID:          team,
		FindingID:       findingID,
		Raised:          fold.Flag(d, "raised"),
		ScanID:          fold.Str(d, "scan_id"),
		Severity:        fold.Str(d, "severity"),
		Status:          csdomain.Status(fold.Str(d, "status")),
		ResolvedAt:      fold.Time(d, "resolved_at"),
		UpdatedPosition: fold.Num(d, "updated_position"),
	}
	return f, err
}

func (f indexed) doc() readmodel.Doc {
	return readmodel.Doc{
		"_id":              f.ID,
		"team_id":          f.TeamID,
		"finding_id":       f.FindingID,
		"raised":           f.Raised,
		"scan_id":          f.ScanID,
		"severity":         f.Severity,
		"status":           string(f.Status),
		"resolved_at":      fold.TimeOrNil(f.ResolvedAt),
		"updated_position": f.UpdatedPosition,
	}
}

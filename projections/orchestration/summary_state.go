package orchestration

import (
	"context"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

const statusResolved = csdomain.StatusResolved

// severityCounts counts findings per severity. A severity outside the five
// (which the domain never produces) counts in the total only.
type severityCounts struct {
	Critical      int64 `json:"critical"`
	High          int64 `json:"high"`
	Medium        int64 `json:"medium"`
	Low           int64 `json:"low"`
	Informational int64 `json:"informational"`
}

func (c *severityCounts) add(severity string, n int64) {
	switch csdomain.Severity(severity) {
	case csdomain.SeverityCritical:
		c.Critical += n
	case csdomain.SeverityHigh:
		c.High += n
	case csdomain.SeverityMedium:
		c.Medium += n
	case csdomain.SeverityLow:
		c.Low += n
	case csdomain.SeverityInformational:
		c.Informational += n
	}
}

func (c severityCounts) doc() map[string]any {
	return map[string]any{
		"critical": c.Critical, "high": c.High, "medium": c.Medium, "low": c.Low, "informational": c.Informational,
	}
}

// statusCounts counts findings per status.
type statusCounts struct {
	Open       int64 `json:"open"`
	Resolved   int64 `json:"resolved"`
	Suppressed int64 `json:"suppressed"`
}

func (c *statusCounts) add(status csdomain.Status, n int64) {
	switch status {
	case csdomain.StatusOpen:
		c.Open += n
	case csdomain.StatusResolved:
		c.Resolved += n
	case csdomain.StatusSuppressed:
		c.Suppressed += n
	}
}

func (c statusCounts) doc() map[string]any {
	return map[string]any{"open": c.Open, "resolved": c.Resolved, "suppressed": c.Suppressed}
}

// summary is a scan_summaries document.
type summary struct {
	ID              string            `json:"_id"`
	TeamID          string            `json:"team_id"`
	ScanID          string            `json:"scan_id"`
	AccountID       string            `json:"account_id"`
	Provider        string            `json:"provider"`
	Tool            string            `json:"tool"`
	Status          orchdomain.Status `json:"status"`
	RequestedAt     time.Time         `json:"requested_at"`
	FinishedAt      time.Time         `json:"finished_at"`
	FindingsTotal   int64             `json:"findings_total"`
	SeverityCounts  severityCounts    `json:"severity_counts"`
	StatusCounts    statusCounts      `json:"status_counts"`
	UpdatedPosition int64             `json:"updated_position"`
}

func loadSummary(ctx context.Context, tx projections.Tx, team, scanID string) (summary, error) {
	s := summary{ID: Key(team, scanID), TeamID: team, ScanID: scanID}
	_, err := load(ctx, tx, ScanSummariesCollection, s.ID, &s)
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
		"requested_at":     timeOrNil(s.RequestedAt),
		"finished_at":      timeOrNil(s.FinishedAt),
		"findings_total":   s.FindingsTotal,
		"severity_counts":  s.SeverityCounts.doc(),
		"status_counts":    s.StatusCounts.doc(),
		"updated_position": s.UpdatedPosition,
	}
}

// indexed is a scan_finding_index document: what the summary counts hold
// for one finding. Raised is false while only later events of the finding
// were seen (Status then holds the furthest status they reached).
type indexed struct {
	ID              string          `json:"_id"`
	TeamID          string          `json:"team_id"`
	FindingID       string          `json:"finding_id"`
	Raised          bool            `json:"raised"`
	ScanID          string          `json:"scan_id"`
	Severity        string          `json:"severity"`
	Status          csdomain.Status `json:"status"`
	ResolvedAt      time.Time       `json:"resolved_at"`
	UpdatedPosition int64           `json:"updated_position"`
}

func loadIndexed(ctx context.Context, tx projections.Tx, team, findingID string) (indexed, error) {
	f := indexed{ID: Key(team, findingID), TeamID: team, FindingID: findingID}
	_, err := load(ctx, tx, FindingIndexCollection, f.ID, &f)
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
		"resolved_at":      timeOrNil(f.ResolvedAt),
		"updated_position": f.UpdatedPosition,
	}
}

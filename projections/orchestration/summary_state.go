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
	Critical      int64
	High          int64
	Medium        int64
	Low           int64
	Informational int64
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

func severityCountsFrom(m map[string]any) severityCounts {
	return severityCounts{
		Critical: num(m, "critical"), High: num(m, "high"), Medium: num(m, "medium"),
		Low: num(m, "low"), Informational: num(m, "informational"),
	}
}

func (c severityCounts) doc() map[string]any {
	return map[string]any{
		"critical": c.Critical, "high": c.High, "medium": c.Medium, "low": c.Low, "informational": c.Informational,
	}
}

// statusCounts counts findings per status.
type statusCounts struct {
	Open       int64
	Resolved   int64
	Suppressed int64
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

func statusCountsFrom(m map[string]any) statusCounts {
	return statusCounts{Open: num(m, "open"), Resolved: num(m, "resolved"), Suppressed: num(m, "suppressed")}
}

func (c statusCounts) doc() map[string]any {
	return map[string]any{"open": c.Open, "resolved": c.Resolved, "suppressed": c.Suppressed}
}

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
	SeverityCounts  severityCounts
	StatusCounts    statusCounts
	UpdatedPosition int64
}

func loadSummary(ctx context.Context, tx projections.Tx, team, scanID string) (summary, error) {
	d, _, err := get(ctx, tx, ScanSummariesCollection, Key(team, scanID))
	s := summary{
		ID:              Key(team, scanID),
		TeamID:          team,
		ScanID:          scanID,
		AccountID:       str(d, "account_id"),
		Provider:        str(d, "provider"),
		Tool:            str(d, "tool"),
		Status:          orchdomain.Status(str(d, "status")),
		RequestedAt:     when(d, "requested_at"),
		FinishedAt:      when(d, "finished_at"),
		FindingsTotal:   num(d, "findings_total"),
		SeverityCounts:  severityCountsFrom(obj(d, "severity_counts")),
		StatusCounts:    statusCountsFrom(obj(d, "status_counts")),
		UpdatedPosition: num(d, "updated_position"),
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
	d, _, err := get(ctx, tx, FindingIndexCollection, Key(team, findingID))
	f := indexed{
		ID:              Key(team, findingID),
		TeamID:          team,
		FindingID:       findingID,
		Raised:          flag(d, "raised"),
		ScanID:          str(d, "scan_id"),
		Severity:        str(d, "severity"),
		Status:          csdomain.Status(str(d, "status")),
		ResolvedAt:      when(d, "resolved_at"),
		UpdatedPosition: num(d, "updated_position"),
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
		"resolved_at":      timeOrNil(f.ResolvedAt),
		"updated_position": f.UpdatedPosition,
	}
}

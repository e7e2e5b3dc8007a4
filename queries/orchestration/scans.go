package orchestration

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/domain"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// ScanFilter narrows ListScans; empty fields do not filter.
type ScanFilter struct {
	Status    string // requested, running, completed or failed (any case)
	AccountID string
	Tool      string
}

var scanStatuses = []orchdomain.Status{
	orchdomain.StatusRequested, orchdomain.StatusRunning, orchdomain.StatusCompleted, orchdomain.StatusFailed,
	orchdomain.StatusPartial, orchdomain.StatusCancelled, // runs planned with jobs
}

// ListScans returns one page of the team's scans, most recently requested
// first (then by id), matching every field f sets.
func (s *Service) ListScans(ctx context.Context, team string, f ScanFilter, p queries.Page) (ScanList, error) {
	if team == "" {
		return ScanList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && !queries.OneOf(scanStatuses, status) {
		v.Add("status", "%q is not one of requested, running, completed, failed, partial, cancelled", f.Status)
	}
	queries.CheckText(&v, "account_id", f.AccountID)
	queries.CheckText(&v, "tool", f.Tool)
	p.Check(&v)
	if err := v.Err(); err != nil {
		return ScanList{}, err
	}

	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}
	terms = queries.AppendEq(terms, "status", status)
	terms = queries.AppendEq(terms, "account_id", f.AccountID)
	terms = queries.AppendEq(terms, "tool", f.Tool)
	page, err := queries.Find(ctx, s.orchestration, scanRunsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Desc("requested_at")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return ScanList{}, fmt.Errorf("list scans: %w", err)
	}
	out := ScanList{Items: make([]Scan, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = scanOf(d)
	}
	return out, nil
}

// GetScan returns the team's scan id with the counts of its findings: the
// scan_runs document and the scan_summaries document, two reads of the
// orchestration database. A scan of another team is queries.ErrNotFound. A scan
// whose findings are not counted yet has zero counts.
func (s *Service) GetScan(ctx context.Context, team, id string) (ScanDetail, error) {
	if team == "" {
		return ScanDetail{}, queries.ErrNoTeam
	}
	run, err := s.orchestration.Get(ctx, scanRunsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return ScanDetail{}, queries.NotFound("scan", id)
	case err != nil:
		return ScanDetail{}, fmt.Errorf("get scan %q: %w", id, err)
	case queries.Str(run, "team_id") != team:
		return ScanDetail{}, queries.NotFound("scan", id)
	}
	detail := ScanDetail{Scan: scanOf(run)}
	if _, err := s.orchestration.Get(ctx, scanDeltaCountsCollection, queries.TeamKey(team, id)); err == nil {
		counts, err := s.deltaCounts(ctx, team, id)
		if err != nil {
			return ScanDetail{}, err
		}
		detail.Delta = &counts
	} else if !errors.Is(err, readmodel.ErrNotFound) {
		return ScanDetail{}, fmt.Errorf("get delta counts of scan %q: %w", id, err)
	}
	sum, err := s.orchestration.Get(ctx, scanSummariesCollection, queries.TeamKey(team, id))
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		return detail, nil
	case err != nil:
		return ScanDetail{}, fmt.Errorf("get summary of scan %q: %w", id, err)
	}
	detail.Findings = FindingCounts{
		Total:      queries.Num(sum, "findings_total"),
		BySeverity: queries.SeverityCountsOf(queries.Obj(sum, "severity_counts")),
		ByStatus:   queries.FindingStatusCountsOf(queries.Obj(sum, "status_counts")),
	}
	return detail, nil
}

func scanOf(d readmodel.Doc) Scan {
	return Scan{
		ID:              d.ID(),
		AccountID:       queries.Str(d, "account_id"),
		Provider:        queries.Str(d, "provider"),
		Tool:            queries.Str(d, "tool"),
		Target:          queries.Str(d, "target"),
		Status:          queries.Str(d, "status"),
		RequestedAt:     queries.When(d, "requested_at"),
		StartedAt:       queries.When(d, "started_at"),
		CompletedAt:     queries.When(d, "completed_at"),
		FailedAt:        queries.When(d, "failed_at"),
		FailureReason:   queries.Str(d, "failure_reason"),
		ResourceCount:   queries.Num(d, "resource_count"),
		UpdatedPosition: queries.Num(d, "updated_position"),
	}
}

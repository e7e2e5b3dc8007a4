package queries

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/domain"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// ScanFilter narrows ListScans; empty fields do not filter.
type ScanFilter struct {
	Status    string // requested, running, completed or failed (any case)
	AccountID string
	Tool      string
}

var scanStatuses = []orchdomain.Status{
	orchdomain.StatusRequested, orchdomain.StatusRunning, orchdomain.StatusCompleted, orchdomain.StatusFailed,
}

// ListScans returns one page of the team's scans, most recently requested
// first (then by id), matching every field f sets.
func (s *Service) ListScans(ctx context.Context, team string, f ScanFilter, p Page) (ScanList, error) {
	if team == "" {
		return ScanList{}, ErrNoTeam
	}
	var v domain.Validator
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && !contains(scanStatuses, status) {
		v.Add("status", "%q is not one of requested, running, completed, failed", f.Status)
	}
	checkText(&v, "account_id", f.AccountID)
	checkText(&v, "tool", f.Tool)
	p.check(&v)
	if err := v.Err(); err != nil {
		return ScanList{}, err
	}

	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}
	terms = appendEq(terms, "status", status)
	terms = appendEq(terms, "account_id", f.AccountID)
	terms = appendEq(terms, "tool", f.Tool)
	page, err := find(ctx, s.orchestration, scanRunsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Desc("requested_at")},
		Limit:  p.limit(),
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
// orchestration database. A scan of another team is ErrNotFound. A scan
// whose findings are not counted yet has zero counts.
func (s *Service) GetScan(ctx context.Context, team, id string) (ScanDetail, error) {
	if team == "" {
		return ScanDetail{}, ErrNoTeam
	}
	run, err := s.orchestration.Get(ctx, scanRunsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return ScanDetail{}, notFound("scan", id)
	case err != nil:
		return ScanDetail{}, fmt.Errorf("get scan %q: %w", id, err)
	case str(run, "team_id") != team:
		return ScanDetail{}, notFound("scan", id)
	}
	detail := ScanDetail{Scan: scanOf(run)}
	sum, err := s.orchestration.Get(ctx, scanSummariesCollection, teamKey(team, id))
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		return detail, nil
	case err != nil:
		return ScanDetail{}, fmt.Errorf("get summary of scan %q: %w", id, err)
	}
	detail.Findings = FindingCounts{
		Total:      num(sum, "findings_total"),
		BySeverity: severityCounts(obj(sum, "severity_counts")),
		ByStatus:   findingStatusCounts(obj(sum, "status_counts")),
	}
	return detail, nil
}

func scanOf(d readmodel.Doc) Scan {
	return Scan{
		ID:              d.ID(),
		AccountID:       str(d, "account_id"),
		Provider:        str(d, "provider"),
		Tool:            str(d, "tool"),
		Target:          str(d, "target"),
		Status:          str(d, "status"),
		RequestedAt:     when(d, "requested_at"),
		StartedAt:       when(d, "started_at"),
		CompletedAt:     when(d, "completed_at"),
		FailedAt:        when(d, "failed_at"),
		FailureReason:   str(d, "failure_reason"),
		ResourceCount:   num(d, "resource_count"),
		UpdatedPosition: num(d, "updated_position"),
	}
}

// appendEq adds Eq(path, value) unless value is empty.
func appendEq(terms []readmodel.Filter, path, value string) []readmodel.Filter {
	if value == "" {
		return terms
	}
	return append(terms, readmodel.Eq(path, value))
}

func contains[S ~string](set []S, s string) bool {
	for _, x := range set {
		if string(x) == s {
			return true
		}
	}
	return false
}

package cloudsecurity

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// FindingFilter narrows ListFindings; empty fields do not filter.
type FindingFilter struct {
	Severity  []string // any of critical, high, medium, low, informational (any case)
	Status    string   // open, fixed, resolved or suppressed (any case)
	AccountID string
	ScanID    string
	// Muted and Suppressed, when set, keep the findings that are (true) or
	// are not (false) muted by a rule, or suppressed by a person.
	Muted      *bool
	Suppressed *bool
}

var findingStatuses = []csdomain.Status{csdomain.StatusOpen, csdomain.Status(csdomain.LifecycleFixed), csdomain.StatusResolved, csdomain.StatusSuppressed}

// ListFindings returns one page of the team's findings, most recently
// raised first (then by id, descending), matching every field f sets.
func (s *Service) ListFindings(ctx context.Context, team string, f FindingFilter, p queries.Page) (FindingList, error) {
	if team == "" {
		return FindingList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	severities := make([]any, 0, len(f.Severity))
	for _, raw := range f.Severity {
		sev, ok := csdomain.ParseSeverity(raw)
		if !ok {
			v.Add("severity", "%q is not one of critical, high, medium, low, informational", raw)
			continue
		}
		if !slices.Contains(severities, any(string(sev))) {
			severities = append(severities, string(sev))
		}
	}
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && !queries.OneOf(findingStatuses, status) {
		v.Add("status", "%q is not one of open, fixed, resolved, suppressed", f.Status)
	}
	queries.CheckText(&v, "account_id", f.AccountID)
	queries.CheckText(&v, "scan_id", f.ScanID)
	p.Check(&v)
	if err := v.Err(); err != nil {
		return FindingList{}, err
	}

	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}
	switch len(severities) {
	case 0:
	case 1:
		terms = append(terms, readmodel.Eq("severity", severities[0]))
	default:
		terms = append(terms, readmodel.In("severity", severities...))
	}
	terms = queries.AppendEq(terms, "status", status)
	terms = queries.AppendEq(terms, "account_id", f.AccountID)
	terms = queries.AppendEq(terms, "scan_id", f.ScanID)
	terms = appendFlag(terms, "muted", f.Muted)
	terms = appendFlag(terms, "suppressed", f.Suppressed)
	page, err := queries.Find(ctx, s.cloudSecurity, findingsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Desc("raised_at")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return FindingList{}, fmt.Errorf("list findings: %w", err)
	}
	out := FindingList{Items: make([]Finding, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = findingOf(d)
	}
	return out, s.withAccepted(ctx, team, out.Items)
}

func findingOf(d readmodel.Doc) Finding {
	return Finding{
		ID:              d.ID(),
		ScanID:          queries.Str(d, "scan_id"),
		AccountID:       queries.Str(d, "account_id"),
		CheckID:         queries.Str(d, "check_id"),
		Title:           queries.Str(d, "title"),
		Severity:        queries.Str(d, "severity"),
		ResourceID:      queries.Str(d, "resource_id"),
		Region:          queries.Str(d, "region"),
		Description:     queries.Str(d, "description"),
		Status:          queries.Str(d, "status"),
		RaisedAt:        queries.When(d, "raised_at"),
		ResolvedAt:      queries.When(d, "resolved_at"),
		SuppressedAt:    queries.When(d, "suppressed_at"),
		SuppressedUntil: queries.When(d, "suppressed_until"),
		Reason:          queries.Str(d, "reason"),
		UpdatedPosition: queries.Num(d, "updated_position"),
		Source:          sourceOf(d),
		Provider:        queries.Str(d, "provider"),
		FirstSeen:       queries.When(d, "first_seen"),
		LastSeen:        queries.When(d, "last_seen"),
		FailingSince:    queries.When(d, "failing_since"),
		TimesReopened:   queries.Num(d, "times_reopened"),
		ClosedAt:        queries.When(d, "closed_at"),
		ClosedByScan:    queries.Str(d, "closed_by_scan"),
		LastScanID:      queries.Str(d, "last_scan_id"),
		Muted:           d["muted"] == true,
		MutedBy:         strs(d, "muted_by"),
		Suppressed:      d["suppressed"] == true || queries.Str(d, "status") == string(csdomain.StatusSuppressed),
	}
}

// sourceOf is where a finding came from: "import", or "api" for one raised
// through the API (whose documents carry no source).
func sourceOf(d readmodel.Doc) string {
	if s := queries.Str(d, "source"); s != "" {
		return s
	}
	return "api"
}

// appendFlag adds the filter of a boolean field unless want is nil; a
// missing field reads as false (Ne matches it).
func appendFlag(terms []readmodel.Filter, path string, want *bool) []readmodel.Filter {
	switch {
	case want == nil:
		return terms
	case *want:
		return append(terms, readmodel.Eq(path, true))
	}
	return append(terms, readmodel.Ne(path, true))
}

package orchestration

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Scan deltas: what each scan changed (docs/findings-lifecycle.md, "Scan
// deltas"), from the scan_deltas and scan_delta_counts collections the
// scan summaries projection keeps.

const (
	scanDeltasCollection      = "scan_deltas"
	scanDeltaCountsCollection = "scan_delta_counts"
)

var deltaChanges = []string{csdomain.ChangeNew, csdomain.ChangeReopened, csdomain.ChangeFixed}

// DeltaCounts are what a scan changed and saw, by severity.
type DeltaCounts struct {
	New       queries.SeverityCounts `json:"new"`
	Reopened  queries.SeverityCounts `json:"reopened"`
	Fixed     queries.SeverityCounts `json:"fixed"`
	Unchanged queries.SeverityCounts `json:"unchanged"` // failing - new - reopened
	Failing   queries.SeverityCounts `json:"failing"`   // failing results of the scan
	Muted     queries.SeverityCounts `json:"muted"`     // failing results muted then (by the tool or a rule)
}

// DeltaEntry is one finding a scan changed.
type DeltaEntry struct {
	FindingID  string `json:"finding_id"`
	Change     string `json:"change"` // new, reopened, fixed
	Severity   string `json:"severity"`
	Provider   string `json:"provider"`
	AccountID  string `json:"account_id"`
	Region     string `json:"region,omitempty"`
	CheckID    string `json:"check_id"`
	ResourceID string `json:"resource_id"`
}

// DeltaList is one page of a scan's delta, most severe first.
type DeltaList struct {
	ScanID     string       `json:"scan_id"`
	Counts     DeltaCounts  `json:"counts"`
	Items      []DeltaEntry `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// ScanDelta returns the counts of the team's scan id and one page of the
// findings it changed (change: new, reopened or fixed; "" for all), most
// severe first. A scan of another team, or none, is queries.ErrNotFound.
func (s *Service) ScanDelta(ctx context.Context, team, id, change string, p queries.Page) (DeltaList, error) {
	if team == "" {
		return DeltaList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	change = strings.ToLower(strings.TrimSpace(change))
	if change != "" && !queries.OneOf(deltaChanges, change) {
		v.Add("change", "%q is not one of new, reopened, fixed", change)
	}
	p.Check(&v)
	if err := v.Err(); err != nil {
		return DeltaList{}, err
	}
	if _, err := s.scanRun(ctx, team, id); err != nil {
		return DeltaList{}, err
	}
	counts, err := s.deltaCounts(ctx, team, id)
	if err != nil {
		return DeltaList{}, err
	}
	terms := []readmodel.Filter{readmodel.Eq("team_id", team), readmodel.Eq("scan_id", id)}
	terms = queries.AppendEq(terms, "change", change)
	page, err := queries.Find(ctx, s.orchestration, scanDeltasCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Desc("severity_rank")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return DeltaList{}, fmt.Errorf("delta of scan %q: %w", id, err)
	}
	out := DeltaList{ScanID: id, Counts: counts, Items: make([]DeltaEntry, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = DeltaEntry{
			FindingID: queries.Str(d, "finding_id"), Change: queries.Str(d, "change"), Severity: queries.Str(d, "severity"),
			Provider: queries.Str(d, "provider"), AccountID: queries.Str(d, "account_id"), Region: queries.Str(d, "region"),
			CheckID: queries.Str(d, "check_id"), ResourceID: queries.Str(d, "resource_id"),
		}
	}
	return out, nil
}

// scanRun reads the team's scan_runs document of id.
func (s *Service) scanRun(ctx context.Context, team, id string) (readmodel.Doc, error) {
	run, err := s.orchestration.Get(ctx, scanRunsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return nil, queries.NotFound("scan", id)
	case err != nil:
		return nil, fmt.Errorf("get scan %q: %w", id, err)
	case queries.Str(run, "team_id") != team:
		return nil, queries.NotFound("scan", id)
	}
	return run, nil
}

// deltaCounts reads a scan's delta counts (zero counts when it has none).
func (s *Service) deltaCounts(ctx context.Context, team, id string) (DeltaCounts, error) {
	d, err := s.orchestration.Get(ctx, scanDeltaCountsCollection, queries.TeamKey(team, id))
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		d = readmodel.Doc{}
	case err != nil:
		return DeltaCounts{}, fmt.Errorf("get delta counts of scan %q: %w", id, err)
	}
	c := queries.Obj(d, "counts")
	out := DeltaCounts{
		New:      queries.SeverityCountsOf(queries.Obj(c, csdomain.ChangeNew)),
		Reopened: queries.SeverityCountsOf(queries.Obj(c, csdomain.ChangeReopened)),
		Fixed:    queries.SeverityCountsOf(queries.Obj(c, csdomain.ChangeFixed)),
		Failing:  queries.SeverityCountsOf(queries.Obj(c, "failing")),
		Muted:    queries.SeverityCountsOf(queries.Obj(c, "muted")),
	}
	out.Unchanged = out.Failing.Minus(out.New).Minus(out.Reopened)
	return out, nil
}

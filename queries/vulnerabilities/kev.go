package vulnerabilities

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// listKEVAsOf answers ?kev=true&as_of=T: the team's occurrences first
// seen by T whose CVE's listing intervals (copied onto each occurrence by
// the KEV join, decision 55; transaction time) hold T, most severe first.
// It reads the occurrences ever listed (kev_ever, an index seek) in
// severity order and keeps those listed at T: keyset pages whose cursor
// is the last document examined, so a page is full unless the list ends
// (only withdrawn entries are skipped, and withdrawals are rare).
func (s *Service) listKEVAsOf(ctx context.Context, terms []readmodel.Filter, t time.Time, p queries.Page) (OccurrenceList, error) {
	t = t.UTC()
	terms = append(terms, readmodel.Eq("kev_ever", true), readmodel.Lte("first_seen", t))
	opts := readmodel.FindOptions{Filter: readmodel.And(terms...), Sort: []readmodel.SortField{readmodel.Desc("severity_rank")},
		Limit: p.Size(), Cursor: p.Cursor}
	plan, err := opts.Plan()
	if err != nil {
		return OccurrenceList{}, fmt.Errorf("list kev as of: %w", err)
	}
	out := OccurrenceList{Items: []Occurrence{}}
	for {
		page, err := queries.Find(ctx, s.db, occurrencesCollection, opts)
		if err != nil {
			return OccurrenceList{}, fmt.Errorf("list kev as of: %w", err)
		}
		for _, d := range page.Docs {
			if !listedAt(queries.Objs(d, "kev_intervals"), t) {
				continue
			}
			out.Items = append(out.Items, occurrenceOf(d))
			if len(out.Items) == p.Size() {
				if out.NextCursor, err = plan.NextCursor(d); err != nil {
					return OccurrenceList{}, fmt.Errorf("list kev as of: %w", err)
				}
				return out, nil
			}
		}
		if page.NextCursor == "" {
			return out, nil
		}
		opts.Cursor = page.NextCursor
	}
}

func listedAt(intervals []map[string]any, t time.Time) bool {
	for _, iv := range intervals {
		from, to := queries.When(iv, "from"), queries.When(iv, "to")
		if !from.IsZero() && !from.After(t) && (to.IsZero() || to.After(t)) {
			return true
		}
	}
	return false
}

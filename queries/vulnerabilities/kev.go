package vulnerabilities

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// kevStatusCollection is projections/vulnerabilities' copy of the KEV
// catalogue's listings, one document per CVE ever listed, with its
// listing intervals (the KEV join, decision 55).
const kevStatusCollection = "kev_status"

// kevAt returns the CVEs in KEV at t: those first listed by t (an index
// range on first_listed; the catalogue holds about 1,500) with a listing
// interval holding t. Intervals are transaction time: from the import that
// published the entry to the one that withdrew it.
func (s *Service) kevAt(ctx context.Context, t time.Time) ([]any, error) {
	t = t.UTC()
	var out []any
	opts := readmodel.FindOptions{Filter: readmodel.Lte("first_listed", t),
		Sort: []readmodel.SortField{readmodel.Asc("first_listed")}, Limit: readmodel.MaxLimit}
	for {
		page, err := queries.Find(ctx, s.db, kevStatusCollection, opts)
		if err != nil {
			return nil, fmt.Errorf("kev as of %s: %w", t.Format(time.RFC3339), err)
		}
		for _, d := range page.Docs {
			if listedAt(queries.Objs(d, "intervals"), t) {
				out = append(out, queries.Str(d, "_id"))
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
		if !from.After(t) && (to.IsZero() || to.After(t)) {
			return true
		}
	}
	return false
}

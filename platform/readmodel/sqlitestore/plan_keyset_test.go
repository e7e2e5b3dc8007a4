package sqlitestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// TestQueryPlans_CursorAmongEqualKeys: a page whose cursor sits among many
// documents with the same first sort key (the findings one scan raised all
// share their raised_at) seeks to the cursor's _id within them, in both
// directions, instead of scanning the equal keys before it; no segment
// sorts.
func TestQueryPlans_CursorAmongEqualKeys(t *testing.T) {
	s := openInternal(t)
	ctx := context.Background()
	require.NoError(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "findings", Indexes: []readmodel.Index{
		{Name: "by_team_raised", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "raised_at", Desc: true}}},
	}}))
	var docs []readmodel.Doc
	for i := range 300 {
		docs = append(docs, readmodel.Doc{"_id": fmt.Sprintf("f%04d", i), "team_id": "t1", "raised_at": time.Unix(int64(i/200), 0)})
	}
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"findings": docs}}))

	for _, sort := range []readmodel.SortField{readmodel.Desc("raised_at"), readmodel.Asc("raised_at")} {
		page := readmodel.FindOptions{Filter: readmodel.Eq("team_id", "t1"), Sort: []readmodel.SortField{sort}, Limit: 30}
		var walked []string
		for {
			p, err := s.Find(ctx, "findings", page)
			require.NoError(t, err)
			for _, d := range p.Docs {
				walked = append(walked, d.ID())
			}
			if p.NextCursor == "" {
				break
			}
			page.Cursor = p.NextCursor
			qs := findSQL(t, "findings", page)
			require.Contains(t, explain(t, s, qs[0]), "<expr>=? AND <expr>=? AND id", "%v: the first segment seeks to the cursor's _id: %s", sort, qs[0].String())
			for _, q := range qs {
				require.NotContains(t, explain(t, s, q), "TEMP B-TREE", q.String())
			}
		}
		require.Len(t, walked, 300, "%v: every document once", sort)
	}
}

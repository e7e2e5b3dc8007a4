package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// findSQL renders the statements Find runs for opts (one per segment).
func findSQL(t *testing.T, coll string, opts readmodel.FindOptions) []sqlBuilder {
	t.Helper()
	plan, err := opts.Plan()
	require.NoError(t, err)
	segments := []segment{{}}
	if plan.After != nil {
		segments = keysetSegments(plan.Sort, plan.After)
	}
	var out []sqlBuilder
	for _, seg := range segments {
		out = append(out, findQuery(coll, plan, seg, plan.Limit+1))
	}
	return out
}

func explain(t *testing.T, s *Store, q sqlBuilder) string {
	t.Helper()
	rows, err := s.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q.String(), q.args...)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

// TestQueryPlans: equality filters and sorted pages (first and later pages,
// both directions) walk the declared expression indexes, without a
// temporary sort; on both table layouts (decision 108).
func TestQueryPlans(t *testing.T) {
	t.Run("rowid table", func(t *testing.T) { testQueryPlans(t, false) })
	t.Run("WITHOUT ROWID table (SmallDocs)", func(t *testing.T) { testQueryPlans(t, true) })
}

func testQueryPlans(t *testing.T, smallDocs bool) {
	s := openInternal(t)
	ctx := context.Background()
	require.NoError(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "findings", SmallDocs: smallDocs, Indexes: []readmodel.Index{
		{Name: "by_team_seen", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "last_seen", Desc: true}}},
		{Name: "by_asset", Fields: []readmodel.IndexField{{Path: "asset_id"}}, Unique: true},
	}}))
	var docs []readmodel.Doc
	for i := range 500 {
		docs = append(docs, readmodel.Doc{"_id": fmt.Sprintf("f%04d", i), "team_id": fmt.Sprintf("t%d", i%5), "asset_id": fmt.Sprint(i),
			"last_seen": time.Unix(int64(i%50), 0)})
	}
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"findings": docs}}))
	_, err := s.rdb.ExecContext(ctx, "ANALYZE") // query_only forbids it; planners must cope without stats
	require.Error(t, err)

	page := readmodel.FindOptions{Filter: readmodel.Eq("team_id", "t1"), Sort: []readmodel.SortField{readmodel.Desc("last_seen")}, Limit: 10}
	first := findSQL(t, "findings", page)
	require.Len(t, first, 1)
	plan := explain(t, s, first[0])
	require.Contains(t, plan, "USING INDEX ix_by_team_seen_")
	require.NotContains(t, plan, "TEMP B-TREE")

	p, err := s.Find(ctx, "findings", page)
	require.NoError(t, err)
	page.Cursor = p.NextCursor
	for _, q := range findSQL(t, "findings", page) {
		plan := explain(t, s, q)
		require.Contains(t, plan, "USING INDEX ix_by_team_seen_", q.String())
		require.NotContains(t, plan, "TEMP B-TREE", q.String())
	}

	page.Sort = []readmodel.SortField{readmodel.Asc("last_seen")}
	page.Cursor = ""
	p, err = s.Find(ctx, "findings", page)
	require.NoError(t, err)
	page.Cursor = p.NextCursor
	for _, q := range findSQL(t, "findings", page) {
		plan := explain(t, s, q)
		require.Contains(t, plan, "USING INDEX ix_by_team_seen_", q.String())
		require.NotContains(t, plan, "TEMP B-TREE", q.String())
	}

	for _, f := range []readmodel.Filter{readmodel.Eq("asset_id", "7"), readmodel.In("asset_id", "7", "8")} {
		q := findSQL(t, "findings", readmodel.FindOptions{Filter: f})[0]
		require.Contains(t, explain(t, s, q), "USING INDEX ix_by_asset_", q.String())
	}
	q := findSQL(t, "findings", readmodel.FindOptions{Filter: readmodel.Eq("_id", "f0007")})[0]
	if smallDocs {
		require.Contains(t, explain(t, s, q), "USING PRIMARY KEY (id=?)", "the table itself, clustered on id")
	} else {
		require.Contains(t, explain(t, s, q), "USING INDEX sqlite_autoindex_findings_1")
	}
}

// TestNoInjection: values never reach the SQL text; they are bound.
func TestNoInjection(t *testing.T) {
	s := openInternal(t)
	ctx := context.Background()
	evil := []string{`x' OR '1'='1`, `"); DROP TABLE findings; --`, `\' OR 1=1 --`, "'||(SELECT doc FROM _checkpoints)||'"}
	var docs []readmodel.Doc
	for i, v := range evil {
		docs = append(docs, readmodel.Doc{"_id": v, "v": v, "n": i})
	}
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"findings": docs}}))
	for _, v := range evil {
		for _, f := range []readmodel.Filter{readmodel.Eq("v", v), readmodel.In("v", v, "zz"), readmodel.Eq("_id", v), readmodel.Gte("v", v)} {
			q := findSQL(t, "findings", readmodel.FindOptions{Filter: f})[0]
			require.NotContains(t, q.String(), v)
			p, err := s.Find(ctx, "findings", readmodel.FindOptions{Filter: f})
			require.NoError(t, err)
			require.NotEmpty(t, p.Docs)
		}
		p, err := s.Find(ctx, "findings", readmodel.FindOptions{Filter: readmodel.Eq("v", v)})
		require.NoError(t, err)
		require.Len(t, p.Docs, 1)
		require.Equal(t, v, p.Docs[0].ID())
		d, err := s.Get(ctx, "findings", v)
		require.NoError(t, err)
		require.Equal(t, v, d["v"])
	}
	n, err := s.Count(ctx, "findings", readmodel.Filter{})
	require.NoError(t, err)
	require.Equal(t, int64(len(evil)), n)
}

// TestPartialIndexPlans: an equality on a partial index's field walks
// that index (SQLite proves the field not null from the equality), and
// SweepExpired's range walks a TTL index, which holds only the rows whose
// field is set (decisions 108 and 109).
func TestPartialIndexPlans(t *testing.T) {
	s := openInternal(t)
	ctx := context.Background()
	require.NoError(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "findings", SmallDocs: true, Indexes: []readmodel.Index{
		{Name: "by_team_raised", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "raised_at", Desc: true}}},
		{Name: "by_team_muted_raised", Partial: "muted", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "muted"}, {Path: "raised_at", Desc: true}}},
		{Name: "expire_resolved", Fields: []readmodel.IndexField{{Path: "resolved_at"}}, TTL: time.Hour},
	}}))
	var docs []readmodel.Doc
	for i := range 500 {
		d := readmodel.Doc{"_id": fmt.Sprintf("f%04d", i), "team_id": fmt.Sprintf("t%d", i%5), "raised_at": time.Unix(int64(i), 0)}
		if i%50 == 0 {
			d["muted"] = true
		}
		if i%4 == 0 {
			d["resolved_at"] = time.Unix(int64(i), 0)
		}
		docs = append(docs, d)
	}
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"findings": docs}}))

	page := readmodel.FindOptions{Filter: readmodel.And(readmodel.Eq("team_id", "t0"), readmodel.Eq("muted", true)),
		Sort: []readmodel.SortField{readmodel.Desc("raised_at")}, Limit: 10}
	q := findSQL(t, "findings", page)[0]
	plan := explain(t, s, q)
	require.Contains(t, plan, "USING INDEX ix_by_team_muted_raised_", q.String())
	require.NotContains(t, plan, "TEMP B-TREE", q.String())
	p, err := s.Find(ctx, "findings", page)
	require.NoError(t, err)
	require.Len(t, p.Docs, 10)

	var rows, entries int
	require.NoError(t, s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM findings`).Scan(&rows))
	for _, name := range []string{"by_team_muted_raised", "expire_resolved"} {
		var physical string
		require.NoError(t, s.rdb.QueryRowContext(ctx, `SELECT physical FROM _indexes WHERE name = ?`, name).Scan(&physical))
		// An index b-tree keeps an entry in each of its cells, interior ones too.
		require.NoError(t, s.rdb.QueryRowContext(ctx, `SELECT sum(ncell) FROM dbstat WHERE name = ?`, physical).Scan(&entries))
		require.Less(t, entries, rows/2, "%s holds only the rows whose field is set", name)
	}

	st := `EXPLAIN QUERY PLAN DELETE FROM findings WHERE ` + valueExpr("resolved_at") + ` >= ? AND ` + valueExpr("resolved_at") + ` < ?`
	var id, parent, notused int
	var detail string
	require.NoError(t, s.rdb.QueryRowContext(ctx, st, timeLo, encodeTime(time.Unix(100, 0))).Scan(&id, &parent, &notused, &detail))
	require.Contains(t, detail, "USING INDEX ix_expire_resolved_", "the sweep's range walks the partial TTL index")
	n, err := s.SweepExpired(ctx, time.Unix(3600+100, 0))
	require.NoError(t, err)
	require.EqualValues(t, 25, n, "resolved before 100 s: every fourth of the first 100")
}

package readmodeltest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// filterDocs mixes types on purpose: comparisons are type-strict.
func filterDocs() []readmodel.Doc {
	return []readmodel.Doc{
		doc("n1", "team", "t1", "v", 1, "sev", "high", "at", t0, "meta", map[string]any{"team": map[string]any{"id": "t1"}, "n": 10}),
		doc("n2", "team", "t1", "v", 2.5, "sev", "low", "at", t0.Add(time.Hour), "meta", map[string]any{"team": map[string]any{"id": "t2"}, "n": 20}),
		doc("n3", "team", "t2", "v", int64(3), "sev", "high", "at", t0.Add(-time.Hour)),
		doc("f1", "team", "t2", "v", 1.0, "flag", true),
		doc("b1", "team", "t1", "v", true, "flag", false),
		doc("s1", "team", "t3", "v", "1"),
		doc("s2", "team", "t3", "v", "abc"),
		doc("tm", "team", "t3", "v", t0),
		doc("nl", "v", nil),
		doc("ms"),
	}
}

func testFilters(t *testing.T, e *env) {
	e.ensure("items", readmodel.Index{Name: "by_v", Fields: []readmodel.IndexField{{Path: "v"}}})
	e.put("items", filterDocs()...)
	cases := []struct {
		f    readmodel.Filter
		want []string
	}{
		{readmodel.Filter{}, []string{"b1", "f1", "ms", "n1", "n2", "n3", "nl", "s1", "s2", "tm"}},
		{readmodel.Eq("v", 1), []string{"f1", "n1"}}, // 1 == 1.0, never true or "1"
		{readmodel.Eq("v", 1.0), []string{"f1", "n1"}},
		{readmodel.Eq("v", true), []string{"b1"}},
		{readmodel.Eq("v", "1"), []string{"s1"}},
		{readmodel.Eq("v", t0), []string{"tm"}},
		{readmodel.Eq("v", nil), []string{"ms", "nl"}},
		{readmodel.Eq("flag", false), []string{"b1"}},
		{readmodel.Ne("v", 1), []string{"b1", "ms", "n2", "n3", "nl", "s1", "s2", "tm"}},
		{readmodel.Ne("v", nil), []string{"b1", "f1", "n1", "n2", "n3", "s1", "s2", "tm"}},
		{readmodel.Ne("v", true), []string{"f1", "ms", "n1", "n2", "n3", "nl", "s1", "s2", "tm"}},
		{readmodel.Ne("v", "abc"), []string{"b1", "f1", "ms", "n1", "n2", "n3", "nl", "s1", "tm"}},
		{readmodel.Ne("v", t0), []string{"b1", "f1", "ms", "n1", "n2", "n3", "nl", "s1", "s2"}},
		{readmodel.In("v", 2.5, "abc", false, int64(3)), []string{"n2", "n3", "s2"}},
		{readmodel.In("v", nil, true), []string{"b1", "ms", "nl"}},
		{readmodel.In("v", t0, "1"), []string{"s1", "tm"}},
		{readmodel.In("v"), nil},
		{readmodel.Gt("v", 1), []string{"n2", "n3"}},
		{readmodel.Gte("v", 1), []string{"f1", "n1", "n2", "n3"}},
		{readmodel.Lt("v", 2.5), []string{"f1", "n1"}},
		{readmodel.Lte("v", 2.5), []string{"f1", "n1", "n2"}},
		{readmodel.Gt("v", ""), []string{"s1", "s2"}},
		{readmodel.Lt("v", "b"), []string{"s1", "s2"}},
		{readmodel.Gte("v", "abc"), []string{"s2"}},
		{readmodel.Gt("v", t0.Add(-time.Millisecond)), []string{"tm"}},
		{readmodel.Lte("v", t0), []string{"tm"}},
		{readmodel.Gt("at", t0), []string{"n2"}},
		{readmodel.Gte("at", t0), []string{"n1", "n2"}},
		{readmodel.Lt("at", t0), []string{"n3"}},
		{readmodel.Lte("at", t0.Add(time.Hour)), []string{"n1", "n2", "n3"}},
		{readmodel.Exists("flag", true), []string{"b1", "f1"}},
		{readmodel.Exists("v", true), []string{"b1", "f1", "n1", "n2", "n3", "nl", "s1", "s2", "tm"}}, // null exists
		{readmodel.Exists("v", false), []string{"ms"}},
		{readmodel.Eq("meta.team.id", "t1"), []string{"n1"}},
		{readmodel.Gte("meta.n", 15), []string{"n2"}},
		{readmodel.Exists("meta.team", true), []string{"n1", "n2"}},
		{readmodel.Eq("team.id", "t1"), nil}, // team is a string, not an object
		{readmodel.Eq("_id", "n2"), []string{"n2"}},
		{readmodel.In("_id", "n2", "s1", "zz"), []string{"n2", "s1"}},
		{readmodel.Gt("_id", "n"), []string{"n1", "n2", "n3", "nl", "s1", "s2", "tm"}},
		{readmodel.Ne("_id", "ms"), []string{"b1", "f1", "n1", "n2", "n3", "nl", "s1", "s2", "tm"}},
		{readmodel.And(readmodel.Eq("team", "t1"), readmodel.Eq("sev", "high")), []string{"n1"}},
		{readmodel.And(readmodel.Eq("team", "t1"), readmodel.And(readmodel.Gte("v", 1), readmodel.Lt("v", 3))), []string{"n1", "n2"}},
		{readmodel.And(), []string{"b1", "f1", "ms", "n1", "n2", "n3", "nl", "s1", "s2", "tm"}},
		{readmodel.And(readmodel.Eq("team", "t1"), readmodel.Eq("team", "t2")), nil},
	}
	for _, c := range cases {
		got := e.find("items", c.f, readmodel.Asc("_id"))
		require.Equal(t, c.want, nilIfEmpty(got), "Find %+v", c.f)
		require.Equal(t, int64(len(c.want)), e.count("items", c.f), "Count %+v", c.f)
	}
}

// testJSONLookalikes: strings that read like the JSON of an array or an
// object never match the array or object.
func testJSONLookalikes(t *testing.T, e *env) {
	e.put("items",
		doc("arr", "v", []any{"~"}), doc("arrs", "v", `["~"]`),
		doc("obj", "v", map[string]any{"k": int64(1)}), doc("objs", "v", `{"k":1}`),
		doc("one", "v", 1), doc("yes", "v", true))
	require.Equal(t, []string{"arrs"}, e.find("items", readmodel.Eq("v", `["~"]`)))
	require.Equal(t, []string{"objs"}, e.find("items", readmodel.Eq("v", `{"k":1}`)))
	require.Equal(t, []string{"arrs", "objs"}, e.find("items", readmodel.In("v", `["~"]`, `{"k":1}`)))
	require.Equal(t, []string{"arr", "obj", "objs", "one", "yes"}, e.find("items", readmodel.Ne("v", `["~"]`)))
	require.Equal(t, []string{"arr", "arrs", "obj", "objs", "yes"}, e.find("items", readmodel.Ne("v", 1)))
	// ("~" sorts above "|": no backend matches the array by its element.)
	require.Equal(t, []string{"arrs", "objs"}, e.find("items", readmodel.And(readmodel.Gte("v", "["), readmodel.Lt("v", "|"))))
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func testSort(t *testing.T, e *env) {
	e.ensure("items",
		readmodel.Index{Name: "by_sev_at", Fields: []readmodel.IndexField{{Path: "sev", Desc: true}, {Path: "at"}}})
	e.put("items",
		doc("a", "sev", 3, "at", t0.Add(2*time.Second), "m", map[string]any{"k": "y"}),
		doc("b", "sev", 1, "at", t0, "m", map[string]any{"k": "x"}),
		doc("c", "sev", 3, "at", t0, "m", map[string]any{"k": "x"}),
		doc("d", "sev", 2, "at", t0.Add(time.Second)),
		doc("e", "sev", 3, "at", t0),
		doc("f"), // missing: first ascending, last descending
	)
	require.Equal(t, []string{"f", "b", "d", "a", "c", "e"}, e.find("items", readmodel.Filter{}, readmodel.Asc("sev")))
	require.Equal(t, []string{"e", "c", "a", "d", "b", "f"}, e.find("items", readmodel.Filter{}, readmodel.Desc("sev")), "_id tie-break follows the last key's direction")
	require.Equal(t, []string{"c", "e", "a", "d", "b", "f"}, e.find("items", readmodel.Filter{}, readmodel.Desc("sev"), readmodel.Asc("at")))
	require.Equal(t, []string{"a", "c", "e", "d", "b", "f"}, e.find("items", readmodel.Filter{}, readmodel.Desc("sev"), readmodel.Desc("at"), readmodel.Asc("_id")))
	require.Equal(t, []string{"f", "b", "c", "e", "d", "a"}, e.find("items", readmodel.Filter{}, readmodel.Asc("at")))
	require.Equal(t, []string{"d", "e", "f", "b", "c", "a"}, e.find("items", readmodel.Filter{}, readmodel.Asc("m.k")))
	require.Equal(t, []string{"a", "c", "b", "f", "e", "d"}, e.find("items", readmodel.Filter{}, readmodel.Desc("m.k"), readmodel.Desc("_id")))
	require.Equal(t, []string{"e", "d", "c", "b", "a"}, e.find("items", readmodel.Gte("sev", 1), readmodel.Desc("_id")))
}

// pagingDocs has many equal sort keys, missing keys and nested keys.
func pagingDocs(n int) []readmodel.Doc {
	docs := make([]readmodel.Doc, 0, n)
	for i := range n {
		d := doc(fmt.Sprintf("d%03d", i), "team", "t1", "grp", int64(i%4), "at", t0.Add(time.Duration(i%7)*time.Minute),
			"meta", map[string]any{"rank": fmt.Sprintf("r%d", i%3)})
		if i%9 == 0 {
			delete(d, "grp")
		}
		if i%5 == 0 {
			d["team"] = "t2"
		}
		docs = append(docs, d)
	}
	return docs
}

func testPagination(t *testing.T, e *env) {
	e.ensure("items",
		readmodel.Index{Name: "by_team_grp", Fields: []readmodel.IndexField{{Path: "team"}, {Path: "grp"}}},
		readmodel.Index{Name: "by_at", Fields: []readmodel.IndexField{{Path: "at", Desc: true}}})
	e.put("items", pagingDocs(61)...)
	sorts := [][]readmodel.SortField{
		nil,
		{readmodel.Asc("grp")},
		{readmodel.Desc("grp")},
		{readmodel.Desc("at")},
		{readmodel.Asc("grp"), readmodel.Desc("at")},
		{readmodel.Desc("grp"), readmodel.Asc("meta.rank"), readmodel.Desc("at")},
		{readmodel.Asc("meta.rank"), readmodel.Desc("_id")},
	}
	filters := []readmodel.Filter{{}, readmodel.Eq("team", "t1")}
	for i, sort := range sorts {
		for _, f := range filters {
			want := e.find("items", f, sort...)
			limits := []int{7, 20}
			if i < 2 {
				limits = append(limits, 1)
			}
			for _, limit := range limits {
				got := e.walk("items", readmodel.FindOptions{Filter: f, Sort: sort, Limit: limit}, nil)
				require.Equal(t, want, got, "sort %v filter %+v limit %d", sort, f, limit)
			}
		}
	}
	// The last page is exactly full: no empty extra page.
	got := e.walk("items", readmodel.FindOptions{Limit: 61}, nil)
	require.Len(t, got, 61)
}

func testPaginationWithInserts(t *testing.T, e *env) {
	e.put("items", pagingDocs(40)...)
	for _, sort := range [][]readmodel.SortField{{readmodel.Asc("grp")}, {readmodel.Desc("grp"), readmodel.Asc("at")}} {
		before := e.find("items", readmodel.Filter{}, sort...)
		inserted := 0
		got := e.walk("items", readmodel.FindOptions{Sort: sort, Limit: 6}, func(page int) {
			// New documents before, at and after the cursor's keys.
			var docs []readmodel.Doc
			for g := range int64(4) {
				docs = append(docs, doc(fmt.Sprintf("new-%v-%d-%d", sort[0].Desc, page, g), "grp", g, "at", t0))
			}
			docs = append(docs, doc(fmt.Sprintf("new-%v-%d-x", sort[0].Desc, page)))
			inserted += len(docs)
			e.put("items", docs...)
		})
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
			require.Equal(t, 1, seen[id], "%s returned twice (sort %v)", id, sort)
		}
		for _, id := range before {
			require.Equal(t, 1, seen[id], "%s existed throughout but was not returned (sort %v)", id, sort)
		}
		require.Positive(t, inserted)
		// Whatever was returned came in sort order.
		all := e.find("items", readmodel.Filter{}, sort...)
		pos := map[string]int{}
		for i, id := range all {
			pos[id] = i
		}
		for i := 1; i < len(got); i++ {
			require.Less(t, pos[got[i-1]], pos[got[i]], "out of order: %s before %s", got[i-1], got[i])
		}
		e.del("items", newIDs(all)...)
	}
}

func newIDs(all []string) []string {
	var out []string
	for _, id := range all {
		if len(id) > 4 && id[:4] == "new-" {
			out = append(out, id)
		}
	}
	return out
}

func testCount(t *testing.T, e *env) {
	e.put("items", filterDocs()...)
	require.Equal(t, int64(10), e.count("items", readmodel.Filter{}))
	require.Equal(t, int64(3), e.count("items", readmodel.Eq("team", "t1")))

	by, err := e.s.CountBy(e.ctx, "items", readmodel.Filter{}, "team")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"t1": 3, "t2": 2, "t3": 3, "": 2}, by)

	by, err = e.s.CountBy(e.ctx, "items", readmodel.Eq("team", "t1"), "sev")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"high": 1, "low": 1, "": 1}, by)

	by, err = e.s.CountBy(e.ctx, "items", readmodel.Filter{}, "v")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{
		"1": 3, "2.5": 1, "3": 1, "true": 1, "abc": 1, t0.Format(readmodel.TimeLayout): 1, "": 2,
	}, by, `1, 1.0 and "1" share the key "1"`)

	by, err = e.s.CountBy(e.ctx, "items", readmodel.Filter{}, "meta.team.id")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"t1": 1, "t2": 1, "": 8}, by)

	by, err = e.s.CountBy(e.ctx, "missing", readmodel.Filter{}, "team")
	require.NoError(t, err)
	require.Empty(t, by)
}

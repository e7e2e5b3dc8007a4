package readmodeltest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

func testRoundTrip(t *testing.T, e *env) {
	paris := time.FixedZone("CET", 3600)
	in := readmodel.Doc{
		"_id":      "doc-1",
		"s":        "héllo \"quoted\" \\ \n\t",
		"empty":    "",
		"marker":   "\x01Tlooks like a time",
		"nul":      "\x00lead",
		"i":        42,
		"i64":      int64(math.MaxInt64),
		"neg":      int32(-7),
		"u":        uint16(9),
		"f":        2.5,
		"fint":     3.0,
		"fbig":     1e300,
		"fsmall":   -1.5e-300,
		"jn":       json.Number("17"),
		"yes":      true,
		"no":       false,
		"null":     nil,
		"when":     time.Date(2025, 3, 14, 16, 9, 26, 535_999_999, paris),
		"old":      time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		"strs":     []string{"a", "b"},
		"mixed":    []any{int64(1), "x", nil, t0, map[string]any{"k": 1.5}},
		"nested":   map[string]any{"deep": map[string]any{"er": []any{}, "t": t0}, "n": 1},
		"emptyobj": map[string]any{},
		"ptr":      new(int64),
	}
	e.put("items", in)
	want := readmodel.Doc{
		"_id":      "doc-1",
		"s":        "héllo \"quoted\" \\ \n\t",
		"empty":    "",
		"marker":   "\x01Tlooks like a time",
		"nul":      "\x00lead",
		"i":        int64(42),
		"i64":      int64(math.MaxInt64),
		"neg":      int64(-7),
		"u":        int64(9),
		"f":        2.5,
		"fint":     3.0,
		"fbig":     1e300,
		"fsmall":   -1.5e-300,
		"jn":       int64(17),
		"yes":      true,
		"no":       false,
		"null":     nil,
		"when":     time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC),
		"old":      time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		"strs":     []any{"a", "b"},
		"mixed":    []any{int64(1), "x", nil, t0, map[string]any{"k": 1.5}},
		"nested":   map[string]any{"deep": map[string]any{"er": []any{}, "t": t0}, "n": int64(1)},
		"emptyobj": map[string]any{},
		"ptr":      int64(0),
	}
	got := e.get("items", "doc-1")
	require.Equal(t, want, got)
	require.IsType(t, float64(0), got["fint"], "an integral float64 reads back as float64")
	require.Equal(t, time.UTC, got["when"].(time.Time).Location())

	// Strings that look like stored markers stay strings in filters too.
	require.Equal(t, []string{"doc-1"}, e.find("items", readmodel.Eq("marker", "\x01Tlooks like a time")))
	require.Equal(t, []string{"doc-1"}, e.find("items", readmodel.Eq("nested.deep.t", t0)))
}

func testPutGetDelete(t *testing.T, e *env) {
	_, err := e.s.Get(e.ctx, "items", "nope")
	require.ErrorIs(t, err, readmodel.ErrNotFound, "collection never written")
	p, err := e.s.Find(e.ctx, "items", readmodel.FindOptions{})
	require.NoError(t, err)
	require.Empty(t, p.Docs)
	require.Zero(t, e.count("items", readmodel.Filter{}))

	e.put("items", doc("a", "v", 1, "old", "x"), doc("b", "v", 2))
	require.Equal(t, doc("a", "v", int64(1), "old", "x"), e.get("items", "a"))

	// A put replaces the whole document.
	e.put("items", doc("a", "v", 3))
	require.Equal(t, doc("a", "v", int64(3)), e.get("items", "a"))

	// The same _id twice in one batch: the last put wins.
	e.put("items", doc("c", "v", 1), doc("c", "v", 2))
	require.Equal(t, doc("c", "v", int64(2)), e.get("items", "c"))

	e.del("items", "a", "missing-is-fine")
	_, err = e.s.Get(e.ctx, "items", "a")
	require.ErrorIs(t, err, readmodel.ErrNotFound)
	require.Equal(t, []string{"b", "c"}, e.find("items", readmodel.Filter{}))

	// Puts and deletes across collections in one batch.
	require.NoError(t, e.commit(
		map[string][]readmodel.Doc{"items": {doc("d")}, "others": {doc("o1")}},
		map[string][]string{"items": {"b"}}))
	require.Equal(t, []string{"c", "d"}, e.find("items", readmodel.Filter{}))
	require.Equal(t, []string{"o1"}, e.find("others", readmodel.Filter{}))
}

func testValidation(t *testing.T, e *env) {
	invalid := func(err error, msg string) {
		t.Helper()
		require.ErrorIs(t, err, readmodel.ErrInvalid, msg)
	}
	for _, name := range []string{"", "Items", "1x", "a-b", "a.b", "_x", "x__", "x__y__z", "a___b", "sqlite_x", strings.Repeat("a", 65)} {
		_, err := e.s.Get(e.ctx, name, "id")
		invalid(err, "collection "+name)
		invalid(e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: name}), "ensure "+name)
	}
	for _, d := range []readmodel.Doc{
		{"v": 1},                                  // no _id
		{"_id": 5},                                // not a string
		{"_id": ""},                               // empty
		{"_id": "x", "_pos": 1},                   // reserved
		{"_id": "x", "a.b": 1},                    // dot in key
		{"_id": "x", "$a": 1},                     // leading $
		{"_id": "x", "v": math.NaN()},             // NaN
		{"_id": "x", "v": struct{}{}},             // unsupported type
		{"_id": "x", "v": "\xff"},                 // invalid UTF-8
		{"_id": "x", "v": uint64(math.MaxUint64)}, // out of range
		{"_id": "x", "v": map[string]any{"": 1}},  // empty key
		{"_id": "x", "v": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		invalid(e.commit(map[string][]readmodel.Doc{"items": {doc("ok"), d}}, nil), "document")
	}
	invalid(e.s.Commit(e.ctx, readmodel.Batch{Projection: "", Checkpoint: 1}), "no projection")
	invalid(e.s.Commit(e.ctx, readmodel.Batch{Projection: "p", Checkpoint: 0}), "checkpoint 0")
	invalid(e.s.Commit(e.ctx, readmodel.Batch{Projection: "p", Checkpoint: 1,
		Puts: map[string][]readmodel.Doc{"items": {doc("a")}}, Deletes: map[string][]string{"items": {"a"}}}), "put and delete")
	_, err := e.s.Get(e.ctx, "items", "ok")
	require.ErrorIs(t, err, readmodel.ErrNotFound, "an invalid batch writes nothing")
	require.Zero(t, e.checkpoint("p"))

	e.put("items", doc("a", "v", 1))
	for _, f := range []readmodel.Filter{
		readmodel.Eq("", 1), readmodel.Eq("a..b", 1), readmodel.Eq("$where", 1), readmodel.Eq("_pos", 1),
		readmodel.Eq("a'b", 1), readmodel.Eq("a.0", 1), readmodel.Gt("v", nil), readmodel.Lt("v", true),
		readmodel.Eq("v", []any{1}), readmodel.Eq("v", map[string]any{}), readmodel.In("v", 1, []any{}),
		{Op: readmodel.OpExists, Path: "v", Value: 1}, readmodel.Eq("_id", 5), {Op: "regex", Path: "v"},
	} {
		_, err := e.s.Count(e.ctx, "items", f)
		invalid(err, "filter")
		_, err = e.s.Find(e.ctx, "items", readmodel.FindOptions{Filter: f})
		invalid(err, "find filter")
	}
	for _, o := range []readmodel.FindOptions{
		{Limit: -1}, {Limit: readmodel.MaxLimit + 1},
		{Sort: []readmodel.SortField{readmodel.Asc("v"), readmodel.Asc("v")}},
		{Sort: []readmodel.SortField{readmodel.Asc("_id"), readmodel.Asc("v")}},
		{Sort: []readmodel.SortField{readmodel.Asc("bad path")}},
		{Cursor: "!!!"}, {Cursor: "e30"}, // "{}"
	} {
		_, err := e.s.Find(e.ctx, "items", o)
		invalid(err, "find options")
	}
	// A cursor only continues the sort it was issued for.
	e.put("items", doc("b", "v", 2))
	p, err := e.s.Find(e.ctx, "items", readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Asc("v")}, Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, p.NextCursor)
	_, err = e.s.Find(e.ctx, "items", readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Desc("v")}, Limit: 1, Cursor: p.NextCursor})
	invalid(err, "cursor of another sort")

	_, err = e.s.CountBy(e.ctx, "items", readmodel.Filter{}, "bad path")
	invalid(err, "count by path")
	for _, ix := range []readmodel.Index{
		{Name: "", Fields: []readmodel.IndexField{{Path: "v"}}},
		{Name: "x"},
		{Name: "x", Fields: []readmodel.IndexField{{Path: "v"}, {Path: "v"}}},
		{Name: "x", Fields: []readmodel.IndexField{{Path: "v"}, {Path: "w"}}, TTL: time.Hour},
		{Name: "x", Fields: []readmodel.IndexField{{Path: "v"}}, TTL: 1500 * time.Millisecond},
	} {
		invalid(e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: "items", Indexes: []readmodel.Index{ix}}), "index "+ix.Name)
	}
	invalid(e.s.RenameCollections(e.ctx, map[string]string{"items": "items"}), "rename to itself")
	invalid(e.s.RenameCollections(e.ctx, map[string]string{"a": "b", "b": "c"}), "rename chain")
	_, err = e.s.Checkpoint(e.ctx, "bad name!")
	invalid(err, "projection name")
	require.True(t, errors.Is(e.s.DropCollection(e.ctx, "Bad"), readmodel.ErrInvalid))
}

// GetMany returns the documents that exist, each as Get returns it; the
// ids that do not exist are left out, whether the collection was never
// written or holds others; repeated ids and chunks of every size are
// served.
func testGetMany(t *testing.T, e *env) {
	got, err := e.s.GetMany(e.ctx, "items", []string{"a", "b"})
	require.NoError(t, err, "collection never written")
	require.Empty(t, got)

	var docs []readmodel.Doc
	var all, ids []string
	for i := range 300 {
		id := fmt.Sprintf("d%03d", i)
		docs = append(docs, doc(id, "n", i, "tags", []any{"x", id}))
		all = append(all, id)
		if i%2 == 0 {
			ids = append(ids, id)
		}
	}
	e.put("items", docs...)
	ids = append(ids, "missing", "d000", "d001") // one absent, one repeated, one odd
	got, err = e.s.GetMany(e.ctx, "items", ids)
	require.NoError(t, err)
	require.Len(t, got, 151) // the 150 even ids and d001
	for _, id := range []string{"d000", "d001", "d298"} {
		require.Equal(t, e.get("items", id), got[id], id)
	}
	require.NotContains(t, got, "missing")
	require.NotContains(t, got, "d003")
	for _, n := range []int{1, 7, 8, 9, 33, 97, 257, 300} {
		got, err := e.s.GetMany(e.ctx, "items", all[:n])
		require.NoError(t, err)
		require.Len(t, got, n, "%d ids", n)
	}
	got, err = e.s.GetMany(e.ctx, "items", nil)
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = e.s.GetMany(e.ctx, "items", []string{"a", ""})
	require.ErrorIs(t, err, readmodel.ErrInvalid)
}

package readmodel_test

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

func TestCollectionNames(t *testing.T) {
	for _, ok := range []string{"findings", "a", "asset_cache", "findings__rebuild", "findings__v2", "x1", strings.Repeat("a", 64)} {
		require.NoError(t, readmodel.ValidateCollection(ok), ok)
	}
	for _, bad := range []string{"", "Findings", "1a", "_a", "a-b", "a b", "a.b", "a__", "a___b", "a__b__c", "__a", "sqlite_master", "a\"b", strings.Repeat("a", 65)} {
		require.ErrorIs(t, readmodel.ValidateCollection(bad), readmodel.ErrInvalid, bad)
	}
	name, err := readmodel.ShadowName("findings", "rebuild")
	require.NoError(t, err)
	require.Equal(t, "findings__rebuild", name)
	live, shadow := readmodel.LiveName(name)
	require.Equal(t, "findings", live)
	require.True(t, shadow)
	_, shadow = readmodel.LiveName("findings")
	require.False(t, shadow)
	_, err = readmodel.ShadowName(name, "again")
	require.ErrorIs(t, err, readmodel.ErrInvalid)
}

func TestPaths(t *testing.T) {
	for _, ok := range []string{"_id", "a", "a.b.c", "team_id", "A1._x"} {
		require.NoError(t, readmodel.ValidatePath(ok), ok)
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "_pos", "_x.y", "a.0", "a-b", "a'b", "a\"b", "a b", "$where", "a[0]", strings.Repeat("a.", 16) + "a"} {
		require.ErrorIs(t, readmodel.ValidatePath(bad), readmodel.ErrInvalid, bad)
	}
}

func TestNormalizeDoc(t *testing.T) {
	type myString string
	loc := time.FixedZone("X", -5*3600)
	in := readmodel.Doc{
		"_id": "1", "i": 7, "u8": uint8(1), "f32": float32(0.5), "s": myString("x"), "t": time.Date(2025, 1, 2, 3, 4, 5, 6_789_999, loc),
		"m": map[string]int{"a": 1}, "arr": [2]bool{true, false}, "d": readmodel.Doc{"k": nil}, "nilslice": []string(nil), "p": (*int)(nil),
	}
	got, err := readmodel.NormalizeDoc(in)
	require.NoError(t, err)
	require.Equal(t, readmodel.Doc{
		"_id": "1", "i": int64(7), "u8": int64(1), "f32": 0.5, "s": "x", "t": time.Date(2025, 1, 2, 8, 4, 5, 6_000_000, time.UTC),
		"m": map[string]any{"a": int64(1)}, "arr": []any{true, false}, "d": map[string]any{"k": nil}, "nilslice": nil, "p": nil,
	}, got)

	deep := any("leaf")
	for range readmodel.MaxNesting + 1 {
		deep = []any{deep}
	}
	for _, bad := range []readmodel.Doc{
		{"_id": "1", "f": math.Inf(1)}, {"_id": "1", "c": make(chan int)}, {"_id": "1", "m": map[int]int{1: 1}},
		{"_id": "1", "deep": deep}, {"_id": strings.Repeat("x", readmodel.MaxIDLen+1)}, {"_id": "1", "k\x00": 1},
	} {
		_, err := readmodel.NormalizeDoc(bad)
		require.ErrorIs(t, err, readmodel.ErrInvalid)
	}
}

func TestFilterNormalize(t *testing.T) {
	f, err := readmodel.And(
		readmodel.Filter{},
		readmodel.Eq("a", 1),
		readmodel.And(readmodel.In("b", int32(2), "x"), readmodel.And()),
		readmodel.Gt("t", time.Date(2025, 1, 1, 0, 0, 0, 1, time.UTC)),
	).Normalize()
	require.NoError(t, err)
	require.Equal(t, readmodel.And(
		readmodel.Eq("a", int64(1)),
		readmodel.In("b", int64(2), "x"),
		readmodel.Gt("t", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
	), f, "flattened, match-all terms dropped, operands canonical")

	single, err := readmodel.And(readmodel.Eq("a", "x")).Normalize()
	require.NoError(t, err)
	require.Equal(t, readmodel.Eq("a", "x"), single)
	zero, err := readmodel.And(readmodel.And()).Normalize()
	require.NoError(t, err)
	require.True(t, zero.IsZero())

	many := make([]any, readmodel.MaxInValues+1)
	for i := range many {
		many[i] = i
	}
	for _, bad := range []readmodel.Filter{readmodel.In("a", many...), readmodel.Gte("a", false), readmodel.Lt("a", nil), readmodel.Eq("a", math.NaN())} {
		_, err := bad.Normalize()
		require.ErrorIs(t, err, readmodel.ErrInvalid)
	}
}

func TestPlanAndCursor(t *testing.T) {
	opts := readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Desc("sev"), readmodel.Asc("at")}, Limit: 2}
	p, err := opts.Plan()
	require.NoError(t, err)
	require.Equal(t, []readmodel.SortField{readmodel.Desc("sev"), readmodel.Asc("at"), readmodel.Asc("_id")}, p.Sort)
	require.Nil(t, p.After)

	at := time.Date(2025, 1, 1, 0, 0, 0, 123_000_000, time.UTC)
	for _, sev := range []any{int64(-3), 2.75, "high", true, at, nil} {
		c, err := p.NextCursor(readmodel.Doc{"_id": "x/1", "sev": sev, "at": at})
		require.NoError(t, err)
		require.NotContains(t, c, "=", "unpadded base64url")
		opts.Cursor = c
		next, err := opts.Plan()
		require.NoError(t, err)
		require.Equal(t, []any{sev, at, "x/1"}, next.After)
	}

	_, err = p.NextCursor(readmodel.Doc{"_id": "x", "sev": []any{1}})
	require.ErrorIs(t, err, readmodel.ErrInvalid, "array sort keys")

	opts.Sort = []readmodel.SortField{readmodel.Asc("sev")}
	_, err = opts.Plan()
	require.ErrorIs(t, err, readmodel.ErrInvalid, "cursor of another sort")
	opts.Cursor = base64.RawURLEncoding.EncodeToString([]byte(`{"s":"sev,_id","k":["i:x","s:a"]}`))
	_, err = opts.Plan()
	require.ErrorIs(t, err, readmodel.ErrInvalid, "malformed key")

	p, err = readmodel.FindOptions{}.Plan()
	require.NoError(t, err)
	require.Equal(t, readmodel.DefaultLimit, p.Limit)
	require.Equal(t, []readmodel.SortField{readmodel.Asc("_id")}, p.Sort)
	p, err = readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Desc("_id")}}.Plan()
	require.NoError(t, err)
	require.Equal(t, []readmodel.SortField{readmodel.Desc("_id")}, p.Sort)
}

func TestBatchNormalize(t *testing.T) {
	b, err := readmodel.Batch{Projection: "p", Checkpoint: 3,
		Puts:    map[string][]readmodel.Doc{"a": {{"_id": "1", "v": 1}, {"_id": "2"}, {"_id": "1", "v": 2}}, "empty": nil},
		Deletes: map[string][]string{"a": {"3", "3"}, "b": {"9"}},
	}.Normalize()
	require.NoError(t, err)
	require.Equal(t, []readmodel.Doc{{"_id": "1", "v": int64(2)}, {"_id": "2"}}, b.Puts["a"])
	require.Equal(t, []string{"3"}, b.Deletes["a"])
	require.Equal(t, []string{"a", "b"}, b.Collections())
	assert.True(t, b.Normalized, "a normalized batch says so")

	// A batch whose docs are NormalizeDoc's output already (a projection's
	// Tx) keeps them as they are: still one put per _id, the last.
	doc, err := readmodel.NormalizeDoc(readmodel.Doc{"_id": "1", "v": 3})
	require.NoError(t, err)
	b, err = readmodel.Batch{Projection: "p", Checkpoint: 4, Normalized: true,
		Puts: map[string][]readmodel.Doc{"a": {{"_id": "1", "v": "old"}, doc}}}.Normalize()
	require.NoError(t, err)
	require.Len(t, b.Puts["a"], 1)
	assert.Equal(t, readmodel.Doc{"_id": "1", "v": int64(3)}, b.Puts["a"][0])

	for _, bad := range []readmodel.Batch{
		{Projection: "p", Checkpoint: -1},
		{Projection: "p q", Checkpoint: 1},
		{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"Bad": nil}},
		{Projection: "p", Checkpoint: 1, Deletes: map[string][]string{"a": {""}}},
		{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"a": {{"_id": "1"}}}, Deletes: map[string][]string{"a": {"1"}}},
	} {
		_, err := bad.Normalize()
		require.ErrorIs(t, err, readmodel.ErrInvalid)
	}
}

func TestIndexKeyFields(t *testing.T) {
	f := func(p string, desc bool) readmodel.IndexField { return readmodel.IndexField{Path: p, Desc: desc} }
	require.Equal(t, []readmodel.IndexField{f("a", false), f("b", true), f("_id", true)},
		readmodel.Index{Name: "x", Fields: []readmodel.IndexField{f("a", false), f("b", true)}}.KeyFields())
	require.Equal(t, []readmodel.IndexField{f("a", false)},
		readmodel.Index{Name: "x", Fields: []readmodel.IndexField{f("a", false)}, Unique: true}.KeyFields())
	require.Equal(t, []readmodel.IndexField{f("a", false)},
		readmodel.Index{Name: "x", Fields: []readmodel.IndexField{f("a", false)}, TTL: time.Hour}.KeyFields())
	require.ErrorIs(t, readmodel.Index{Name: "x", Fields: []readmodel.IndexField{f("a", false), f("_id", false)}}.Validate(), readmodel.ErrInvalid)
}

func TestGroupKey(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 5e6, time.UTC)
	for v, want := range map[any]string{nil: "", "x": "x", int64(3): "3", 3.0: "3", 2.5: "2.5", 1e20: "1e+20", true: "true", at: "2025-01-01T00:00:00.005Z"} {
		require.Equal(t, want, readmodel.GroupKey(v), "%v", v)
	}
	require.Equal(t, `{"a":[1,"2025-01-01T00:00:00.005Z"]}`, readmodel.GroupKey(map[string]any{"a": []any{int64(1), at}}))
}

func TestDuplicateError(t *testing.T) {
	var err error = &readmodel.DuplicateError{Collection: "c", Index: "by_x"}
	require.ErrorIs(t, err, readmodel.ErrDuplicate)
	require.Contains(t, err.Error(), "by_x")
}

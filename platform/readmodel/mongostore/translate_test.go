package mongostore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

var at = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func norm(t *testing.T, f readmodel.Filter) readmodel.Filter {
	t.Helper()
	nf, err := f.Normalize()
	require.NoError(t, err)
	return nf
}

// ejson renders BSON as canonical extended JSON, so tests compare types too
// (an int32 and an int64 render differently).
func ejson(t *testing.T, v any) string {
	t.Helper()
	raw, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
	require.NoError(t, err)
	b, err := bson.MarshalExtJSON(bson.Raw(raw), true, false)
	require.NoError(t, err)
	return string(b)
}

func TestFilterBSON(t *testing.T) {
	cases := []struct {
		f    readmodel.Filter
		want string
	}{
		{readmodel.Filter{}, `{}`},
		{readmodel.Eq("team_id", "t1"), `{"team_id":{"$eq":"t1"}}`},
		{readmodel.Eq("n", 3), `{"n":{"$eq":{"$numberLong":"3"}}}`},
		{readmodel.Eq("f", 2.5), `{"f":{"$eq":{"$numberDouble":"2.5"}}}`},
		{readmodel.Eq("b", true), `{"b":{"$eq":true}}`},
		{readmodel.Eq("x", nil), `{"x":{"$eq":null}}`},
		{readmodel.Eq("t", at), `{"t":{"$eq":{"$date":{"$numberLong":"1741964966535"}}}}`},
		{readmodel.Eq("meta.team.id", "t1"), `{"meta.team.id":{"$eq":"t1"}}`},
		{readmodel.Ne("s", "closed"), `{"s":{"$ne":"closed"}}`},
		{readmodel.Ne("s", nil), `{"s":{"$ne":null}}`},
		{readmodel.In("sev", "high", int32(4), nil), `{"sev":{"$in":["high",{"$numberLong":"4"},null]}}`},
		{readmodel.In("sev"), `{"sev":{"$in":[]}}`},
		{readmodel.Gt("n", 1), `{"n":{"$gt":{"$numberLong":"1"}}}`},
		{readmodel.Gte("t", at), `{"t":{"$gte":{"$date":{"$numberLong":"1741964966535"}}}}`},
		{readmodel.Lt("s", "m"), `{"s":{"$lt":"m"}}`},
		{readmodel.Lte("f", 0.5), `{"f":{"$lte":{"$numberDouble":"0.5"}}}`},
		{readmodel.Exists("x", true), `{"x":{"$exists":true}}`},
		{readmodel.Exists("x", false), `{"x":{"$exists":false}}`},
		{readmodel.Eq("_id", "a"), `{"_id":{"$eq":"a"}}`},
		{readmodel.And(readmodel.Eq("a", "x"), readmodel.And(readmodel.Gt("n", 1), readmodel.Lt("n", 5))),
			`{"$and":[{"a":{"$eq":"x"}},{"n":{"$gt":{"$numberLong":"1"}}},{"n":{"$lt":{"$numberLong":"5"}}}]}`},
	}
	for _, c := range cases {
		require.Equal(t, `{"v":`+c.want+`}`, ejson(t, FilterBSON(norm(t, c.f))), "%+v", c.f)
	}
}

func plan(t *testing.T, o readmodel.FindOptions) readmodel.FindPlan {
	t.Helper()
	p, err := o.Plan()
	require.NoError(t, err)
	return p
}

func TestSortAndKeysetBSON(t *testing.T) {
	sort := []readmodel.SortField{readmodel.Desc("sev"), readmodel.Asc("at")}
	p := plan(t, readmodel.FindOptions{Sort: sort})
	require.Equal(t, `{"v":{"sev":{"$numberInt":"-1"},"at":{"$numberInt":"1"},"_id":{"$numberInt":"1"}}}`, ejson(t, SortBSON(p.Sort)))
	require.Equal(t, `{"v":{}}`, ejson(t, FindFilter(p)), "first page: no keyset")

	cursor := func(o readmodel.FindOptions, last readmodel.Doc) readmodel.FindPlan {
		c, err := plan(t, o).NextCursor(last)
		require.NoError(t, err)
		o.Cursor = c
		return plan(t, o)
	}
	date := `{"$date":{"$numberLong":"1741964966535"}}`
	cases := []struct {
		o    readmodel.FindOptions
		last readmodel.Doc
		want string
	}{
		{readmodel.FindOptions{}, readmodel.Doc{"_id": "a"}, `{"_id":{"$gt":"a"}}`},
		{readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Desc("_id")}}, readmodel.Doc{"_id": "a"}, `{"_id":{"$lt":"a"}}`},
		{readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Asc("n")}}, readmodel.Doc{"_id": "a", "n": int64(2)},
			`{"$or":[{"n":{"$gt":{"$numberLong":"2"}}},{"$and":[{"n":{"$eq":{"$numberLong":"2"}}},{"_id":{"$gt":"a"}}]}]}`},
		{readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Asc("n")}}, readmodel.Doc{"_id": "a"},
			`{"$or":[{"n":{"$ne":null}},{"$and":[{"n":null},{"_id":{"$gt":"a"}}]}]}`},
		{readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Desc("at")}}, readmodel.Doc{"_id": "a", "at": at},
			`{"$or":[{"at":{"$lt":` + date + `}},{"at":null},{"$and":[{"at":{"$eq":` + date + `}},{"_id":{"$lt":"a"}}]}]}`},
		{readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Desc("at")}}, readmodel.Doc{"_id": "a", "at": nil},
			`{"$or":[{"$and":[{"at":null},{"_id":{"$lt":"a"}}]}]}`},
		{readmodel.FindOptions{Filter: readmodel.Eq("team", "t"), Sort: sort}, readmodel.Doc{"_id": "a", "sev": "high", "at": at},
			`{"$and":[{"team":{"$eq":"t"}},{"$or":[{"sev":{"$lt":"high"}},{"sev":null},{"$and":[{"sev":{"$eq":"high"}},` +
				`{"$or":[{"at":{"$gt":` + date + `}},{"$and":[{"at":{"$eq":` + date + `}},{"_id":{"$gt":"a"}}]}]}]}]}]}`},
	}
	for _, c := range cases {
		require.Equal(t, `{"v":`+c.want+`}`, ejson(t, FindFilter(cursor(c.o, c.last))), "%+v after %v", c.o.Sort, c.last)
	}
}

func applyIndexOptions(t *testing.T, b *options.IndexOptionsBuilder) options.IndexOptions {
	t.Helper()
	var o options.IndexOptions
	for _, set := range b.Opts {
		require.NoError(t, set(&o))
	}
	return o
}

func TestIndexModels(t *testing.T) {
	spec := readmodel.CollectionSpec{Name: "registry_images", Indexes: []readmodel.Index{
		{Name: "by_image", Unique: true, Fields: []readmodel.IndexField{{Path: "account_id"}, {Path: "repository_name"}, {Path: "image_digest"}}},
		{Name: "by_team_seen", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "last_seen", Desc: true}}},
		{Name: "expiry", Fields: []readmodel.IndexField{{Path: "scanned_at"}}, TTL: 180 * 24 * time.Hour},
	}}
	models := IndexModels(spec)
	require.Len(t, models, 3)

	require.Equal(t, `{"v":{"account_id":{"$numberInt":"1"},"repository_name":{"$numberInt":"1"},"image_digest":{"$numberInt":"1"}}}`, ejson(t, models[0].Keys))
	o := applyIndexOptions(t, models[0].Options)
	require.Equal(t, "by_image", *o.Name)
	require.True(t, *o.Unique)
	require.Nil(t, o.ExpireAfterSeconds)
	require.Equal(t, `{"v":{"account_id":{"$exists":true},"repository_name":{"$exists":true},"image_digest":{"$exists":true}}}`, ejson(t, o.PartialFilterExpression))

	require.Equal(t, `{"v":{"team_id":{"$numberInt":"1"},"last_seen":{"$numberInt":"-1"},"_id":{"$numberInt":"-1"}}}`, ejson(t, models[1].Keys), "_id appended")
	o = applyIndexOptions(t, models[1].Options)
	require.Nil(t, o.Unique)
	require.Nil(t, o.PartialFilterExpression)

	require.Equal(t, `{"v":{"scanned_at":{"$numberInt":"1"}}}`, ejson(t, models[2].Keys))
	o = applyIndexOptions(t, models[2].Options)
	require.Equal(t, int32(180*24*3600), *o.ExpireAfterSeconds)

	plain := indexModel(spec.Indexes[0], false) // Options.NoPartialIndexes
	require.Equal(t, ejson(t, models[0].Keys), ejson(t, plain.Keys))
	o = applyIndexOptions(t, plain.Options)
	require.True(t, *o.Unique)
	require.Nil(t, o.PartialFilterExpression)
}

// serverEntry is a listIndexes entry as the server returns it.
func serverEntry(t *testing.T, d bson.D) serverIndex {
	t.Helper()
	raw, err := bson.Marshal(d)
	require.NoError(t, err)
	var ix serverIndex
	require.NoError(t, bson.Unmarshal(raw, &ix))
	return ix
}

func TestSameIndexAndDeclared(t *testing.T) {
	team := readmodel.Index{Name: "by_team_seen", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "last_seen", Desc: true}}}
	teamEntry := serverEntry(t, bson.D{{Key: "v", Value: int32(2)}, {Key: "name", Value: "by_team_seen"},
		{Key: "key", Value: bson.D{{Key: "team_id", Value: int32(1)}, {Key: "last_seen", Value: -1.0}, {Key: "_id", Value: int64(-1)}}}})
	require.True(t, sameIndex(teamEntry, team, true))
	require.Equal(t, &team, declared(teamEntry))
	asc := team
	asc.Fields = []readmodel.IndexField{{Path: "team_id"}, {Path: "last_seen"}}
	require.False(t, sameIndex(teamEntry, asc, true), "direction changed")
	uniq := team
	uniq.Unique = true
	require.False(t, sameIndex(teamEntry, uniq, true), "uniqueness changed")

	ttl := readmodel.Index{Name: "expiry", Fields: []readmodel.IndexField{{Path: "scanned_at"}}, TTL: time.Hour}
	ttlEntry := serverEntry(t, bson.D{{Key: "name", Value: "expiry"}, {Key: "key", Value: bson.D{{Key: "scanned_at", Value: int32(1)}}},
		{Key: "expireAfterSeconds", Value: int32(3600)}})
	require.True(t, sameIndex(ttlEntry, ttl, true))
	require.Equal(t, &ttl, declared(ttlEntry))
	ttl.TTL = 2 * time.Hour
	require.False(t, sameIndex(ttlEntry, ttl, true), "TTL changed")

	asset := readmodel.Index{Name: "by_asset", Unique: true, Fields: []readmodel.IndexField{{Path: "asset_id"}}}
	assetEntry := serverEntry(t, bson.D{{Key: "name", Value: "by_asset"}, {Key: "key", Value: bson.D{{Key: "asset_id", Value: int32(1)}}},
		{Key: "unique", Value: true}, {Key: "partialFilterExpression", Value: bson.D{{Key: "asset_id", Value: bson.D{{Key: "$exists", Value: true}}}}}})
	require.True(t, sameIndex(assetEntry, asset, true))
	require.Equal(t, &asset, declared(assetEntry))
	noPartial := serverEntry(t, bson.D{{Key: "name", Value: "by_asset"}, {Key: "key", Value: bson.D{{Key: "asset_id", Value: int32(1)}}}, {Key: "unique", Value: true}})
	require.False(t, sameIndex(noPartial, asset, true), "a unique index without the partial filter is rebuilt")
	require.True(t, sameIndex(noPartial, asset, false), "unless the store makes unique indexes without it (NoPartialIndexes)")
	require.False(t, sameIndex(assetEntry, asset, false))
	require.Equal(t, &asset, declared(noPartial))

	require.Nil(t, declared(serverEntry(t, bson.D{{Key: "name", Value: "_id_"}, {Key: "key", Value: bson.D{{Key: "_id", Value: int32(1)}}}})))
	require.Nil(t, declared(serverEntry(t, bson.D{{Key: "name", Value: "txt"}, {Key: "key", Value: bson.D{{Key: "title", Value: "text"}}}})))
}

func TestCountByPipeline(t *testing.T) {
	p := CountByPipeline(norm(t, readmodel.Eq("team_id", "t1")), "severity")
	require.Equal(t, `{"v":[{"$match":{"team_id":{"$eq":"t1"}}},{"$group":{"_id":"$severity","n":{"$sum":{"$numberInt":"1"}}}}]}`, ejson(t, bson.A{p[0], p[1]}))
}

func TestWriteModels(t *testing.T) {
	b, err := readmodel.Batch{Projection: "p", Checkpoint: 7,
		Puts:    map[string][]readmodel.Doc{"c": {{"_id": "a", "v": 1}}},
		Deletes: map[string][]string{"c": {"b"}}}.Normalize()
	require.NoError(t, err)

	txn := WriteModels(b, "c", false)
	require.Len(t, txn, 2)
	put := txn[1].(*mongo.ReplaceOneModel)
	require.True(t, *put.Upsert)
	require.Equal(t, `{"v":{"_id":"a"}}`, ejson(t, put.Filter))
	require.Equal(t, `{"v":{"_id":"a","v":{"$numberLong":"1"},"_pos":{"$numberLong":"7"}}}`, ejson(t, put.Replacement))
	require.Equal(t, `{"v":{"_id":"b"}}`, ejson(t, txn[0].(*mongo.DeleteOneModel).Filter), "deletes first")

	guarded := WriteModels(b, "c", true)
	guard := `"_pos":{"$lt":{"$numberLong":"7"}}`
	require.Equal(t, `{"v":{"_id":"b",`+guard+`}}`, ejson(t, guarded[0].(*mongo.DeleteOneModel).Filter))
	require.Equal(t, `{"v":{"_id":"a",`+guard+`}}`, ejson(t, guarded[1].(*mongo.ReplaceOneModel).Filter))

	// Guarded commits send these as two unordered bulk writes, deletes
	// first: an unordered bulk write runs its deletes last.
	dels, puts := DeleteModels(b, "c", true), PutModels(b, "c", true)
	require.Equal(t, guarded, append(dels, puts...))
	require.Len(t, dels, 1)
	require.IsType(t, &mongo.DeleteOneModel{}, dels[0])
	require.Len(t, puts, 1)
	require.IsType(t, &mongo.ReplaceOneModel{}, puts[0])
}

func TestUnavailableMarksUnreachableDeployments(t *testing.T) {
	network := mongo.CommandError{Code: 6, Message: "connection reset", Labels: []string{"NetworkError"}}
	assert.ErrorIs(t, unavailable(fmt.Errorf("find: %w", network)), readmodel.ErrUnavailable)
	assert.ErrorIs(t, unavailable(mongo.ErrClientDisconnected), readmodel.ErrUnavailable)
	assert.ErrorIs(t, ErrClosed, readmodel.ErrUnavailable)
	dup := mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000"}}}
	assert.NotErrorIs(t, unavailable(dup), readmodel.ErrUnavailable)
	assert.NotErrorIs(t, unavailable(context.DeadlineExceeded), readmodel.ErrUnavailable)
	assert.NoError(t, unavailable(nil))
}

// A partial index (Index.Partial) carries {path: {$exists: true}}, is
// recognised on the server by it, and reads back as declared; without
// partial indexes (NoPartialIndexes) it is a plain index.
func TestPartialIndexModel(t *testing.T) {
	muted := readmodel.Index{Name: "by_team_muted", Partial: "muted", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "muted"}}}
	o := applyIndexOptions(t, indexModel(muted, true).Options)
	require.Equal(t, `{"v":{"muted":{"$exists":true}}}`, ejson(t, o.PartialFilterExpression))
	require.Nil(t, o.Unique)

	keys := bson.D{{Key: "team_id", Value: int32(1)}, {Key: "muted", Value: int32(1)}, {Key: "_id", Value: int32(1)}}
	entry := serverEntry(t, bson.D{{Key: "name", Value: "by_team_muted"}, {Key: "key", Value: keys},
		{Key: "partialFilterExpression", Value: bson.D{{Key: "muted", Value: bson.D{{Key: "$exists", Value: true}}}}}})
	require.True(t, sameIndex(entry, muted, true))
	require.Equal(t, &muted, declared(entry))
	other := muted
	other.Partial = "team_id"
	require.False(t, sameIndex(entry, other, true), "partial on another field")
	full := muted
	full.Partial = ""
	require.False(t, sameIndex(entry, full, true), "a full index is another index")
	plain := serverEntry(t, bson.D{{Key: "name", Value: "by_team_muted"}, {Key: "key", Value: keys}})
	require.False(t, sameIndex(plain, muted, true))
	require.True(t, sameIndex(plain, muted, false), "NoPartialIndexes: a plain index")
}

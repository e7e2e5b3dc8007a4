package mongostore

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

func TestDocBSONRoundTrip(t *testing.T) {
	in, err := readmodel.NormalizeDoc(readmodel.Doc{
		"_id": "a/1", "s": "x", "marker": "\x01T2025", "i": 42, "i64": int64(math.MaxInt64), "neg": -1, "f": 3.0, "tiny": 5e-324,
		"b": true, "n": nil, "t": time.Date(2025, 3, 14, 16, 9, 26, 535_999_999, time.FixedZone("CET", 3600)),
		"old": time.Date(1969, 7, 20, 20, 17, 40, 1e6, time.UTC),
		"arr": []any{1, "x", nil, at, map[string]any{"k": 1.5}}, "nested": map[string]any{"deep": map[string]any{"t": at, "e": []any{}}},
	})
	require.NoError(t, err)
	raw, err := bson.Marshal(toBSON(in, 9))
	require.NoError(t, err)

	keys := []string{}
	elems, err := bson.Raw(raw).Elements()
	require.NoError(t, err)
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	require.Equal(t, []string{"_id", "arr", "b", "f", "i", "i64", "marker", "n", "neg", "nested", "old", "s", "t", "tiny", "_pos"}, keys)
	require.Equal(t, bson.TypeInt64, bson.Raw(raw).Lookup("i").Type)
	require.Equal(t, bson.TypeDouble, bson.Raw(raw).Lookup("f").Type)
	require.Equal(t, bson.TypeDateTime, bson.Raw(raw).Lookup("t").Type)
	require.Equal(t, int64(9), bson.Raw(raw).Lookup("_pos").Int64())

	out, err := fromBSON(raw)
	require.NoError(t, err)
	require.Equal(t, in, out, "_pos dropped, every type kept")
	require.Equal(t, time.Date(2025, 3, 14, 15, 9, 26, 535e6, time.UTC), out["t"])
}

func TestFromBSONForeignTypes(t *testing.T) {
	oid := bson.NewObjectID()
	raw, err := bson.Marshal(bson.D{{Key: "_id", Value: "x"}, {Key: "i32", Value: int32(7)}, {Key: "oid", Value: oid}, {Key: "u", Value: bson.Undefined{}}})
	require.NoError(t, err)
	d, err := fromBSON(raw)
	require.NoError(t, err)
	require.Equal(t, readmodel.Doc{"_id": "x", "i32": int64(7), "oid": oid.Hex(), "u": nil}, d)

	for _, bad := range []bson.D{
		{{Key: "_id", Value: oid}},
		{{Key: "_id", Value: "x"}, {Key: "d", Value: bson.NewDecimal128(1, 1)}},
		{{Key: "_id", Value: "x"}, {Key: "r", Value: bson.Regex{Pattern: "x"}}},
	} {
		raw, err := bson.Marshal(bad)
		require.NoError(t, err)
		_, err = fromBSON(raw)
		require.Error(t, err)
	}
}

func writeErr(code int, msg string) mongo.WriteError {
	return mongo.WriteError{Code: code, Message: msg}
}

const (
	dupAsset = `E11000 duplicate key error collection: cspm_cloud_assets.asset_cache index: by_asset dup key: { asset_id: "x" }`
	dupID    = `E11000 duplicate key error collection: cspm_cloud_assets.asset_cache index: _id_ dup key: { _id: "a1" }`
)

func TestClassify(t *testing.T) {
	for _, err := range []error{
		mongo.WriteException{WriteErrors: mongo.WriteErrors{writeErr(11000, dupAsset)}},
		mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: writeErr(11000, dupAsset)}}},
		mongo.CommandError{Code: 11000, Message: dupAsset},
		mongo.WriteException{WriteErrors: mongo.WriteErrors{writeErr(11001, dupAsset)}},
	} {
		got := classify(err, "asset_cache")
		require.ErrorIs(t, got, readmodel.ErrDuplicate)
		var dup *readmodel.DuplicateError
		require.True(t, errors.As(got, &dup))
		require.Equal(t, readmodel.DuplicateError{Collection: "asset_cache", Index: "by_asset"}, *dup)
	}
	unnamed := classify(mongo.CommandError{Code: 11000, Message: "E11000 duplicate key"}, "c")
	require.ErrorIs(t, unnamed, readmodel.ErrDuplicate)

	other := mongo.CommandError{Code: 112, Message: "WriteConflict", Labels: []string{"TransientTransactionError"}}
	require.Equal(t, error(other), classify(other, "c"), "other errors pass through with their labels")
}

func TestGuardResult(t *testing.T) {
	require.NoError(t, guardResult(nil, "c"))
	stale := mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{
		{WriteError: writeErr(11000, dupID)}, {WriteError: writeErr(11000, dupID)},
	}}
	require.NoError(t, guardResult(stale, "asset_cache"), "upserts that met a newer document are skipped")

	mixed := mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{
		{WriteError: writeErr(11000, dupID)}, {WriteError: writeErr(11000, dupAsset)},
	}}
	var dup *readmodel.DuplicateError
	require.True(t, errors.As(guardResult(mixed, "asset_cache"), &dup))
	require.Equal(t, "by_asset", dup.Index)

	wc := mongo.BulkWriteException{WriteConcernError: &mongo.WriteConcernError{Code: 64, Message: "waiting for replication timed out"}}
	require.Error(t, guardResult(wc, "c"))
	require.Error(t, guardResult(errors.New("network"), "c"))
}

func TestHello(t *testing.T) {
	require.True(t, helloReply{SetName: "rs0"}.transactions())
	require.True(t, helloReply{Msg: "isdbgrid"}.transactions())
	require.False(t, helloReply{}.transactions())
	for _, bad := range []string{"", "a.b", "a/b", "a b", "a$", string(make([]byte, 64))} {
		require.Error(t, ValidateDatabaseName(bad), "%q", bad)
	}
	require.NoError(t, ValidateDatabaseName("acme-cspm_cloud_security"))
}

package mongostore

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Pure translations of the port's filter, sort, cursor and index
// declarations into BSON, unit-tested without a server.
//
// MongoDB already has the semantics the port defines: comparisons are
// type-bracketed (1 matches 1.0, never true or "1"), {f: null} matches a
// missing or null field, and sorting puts missing/null first. Paths that
// hold arrays compare element-wise here (and as a whole on SQLite): the
// port only defines filters and sorts over scalar fields.

var mongoOps = map[readmodel.Op]string{
	readmodel.OpEq: "$eq", readmodel.OpNe: "$ne", readmodel.OpGt: "$gt", readmodel.OpGte: "$gte",
	readmodel.OpLt: "$lt", readmodel.OpLte: "$lte", readmodel.OpIn: "$in", readmodel.OpExists: "$exists",
}

// FilterBSON translates a normalized filter (see readmodel.Filter.Normalize).
func FilterBSON(f readmodel.Filter) bson.D {
	switch f.Op {
	case "":
		return bson.D{}
	case readmodel.OpAnd:
		terms := make(bson.A, len(f.Filters))
		for i, t := range f.Filters {
			terms[i] = FilterBSON(t)
		}
		return bson.D{{Key: "$and", Value: terms}}
	case readmodel.OpIn:
		vals := make(bson.A, len(f.Values))
		for i, v := range f.Values {
			vals[i] = bsonValue(v)
		}
		return bson.D{{Key: f.Path, Value: bson.D{{Key: "$in", Value: vals}}}}
	case readmodel.OpExists:
		return bson.D{{Key: f.Path, Value: bson.D{{Key: "$exists", Value: f.Value}}}}
	}
	return bson.D{{Key: f.Path, Value: bson.D{{Key: mongoOps[f.Op], Value: bsonValue(f.Value)}}}}
}

// SortBSON translates a plan's sort keys (_id included).
func SortBSON(sort []readmodel.SortField) bson.D {
	out := make(bson.D, len(sort))
	for i, s := range sort {
		out[i] = bson.E{Key: s.Path, Value: direction(s.Desc)}
	}
	return out
}

func direction(desc bool) int32 {
	if desc {
		return -1
	}
	return 1
}

// KeysetBSON is "strictly after the cursor key" for a plan's sort keys
// (the last is _id): gt(k0) OR (eq(k0) AND after(k1..)), where a missing
// or null key sorts first:
//
//	asc,  v set:  {k: {$gt: v}}            asc,  v null: {k: {$ne: null}}
//	desc, v set:  {$or: [{k: {$lt: v}}, {k: null}]}    desc, v null: (nothing)
func KeysetBSON(sort []readmodel.SortField, after []any) bson.D {
	k, v, desc := sort[0].Path, after[0], sort[0].Desc
	op := "$gt"
	if desc {
		op = "$lt"
	}
	if len(sort) == 1 { // _id, never null
		return bson.D{{Key: k, Value: bson.D{{Key: op, Value: bsonValue(v)}}}}
	}
	var branches bson.A
	switch {
	case v != nil && !desc:
		branches = append(branches, bson.D{{Key: k, Value: bson.D{{Key: "$gt", Value: bsonValue(v)}}}})
	case v != nil && desc:
		branches = append(branches, bson.D{{Key: k, Value: bson.D{{Key: "$lt", Value: bsonValue(v)}}}}, bson.D{{Key: k, Value: nil}})
	case v == nil && !desc:
		branches = append(branches, bson.D{{Key: k, Value: bson.D{{Key: "$ne", Value: nil}}}})
	}
	eq := bson.D{{Key: k, Value: bson.D{{Key: "$eq", Value: bsonValue(v)}}}}
	if v == nil {
		eq = bson.D{{Key: k, Value: nil}}
	}
	branches = append(branches, bson.D{{Key: "$and", Value: bson.A{eq, KeysetBSON(sort[1:], after[1:])}}})
	return bson.D{{Key: "$or", Value: branches}}
}

// FindFilter combines a plan's filter and its keyset condition.
func FindFilter(p readmodel.FindPlan) bson.D {
	f := FilterBSON(p.Filter)
	if p.After == nil {
		return f
	}
	k := KeysetBSON(p.Sort, p.After)
	if len(f) == 0 {
		return k
	}
	return bson.D{{Key: "$and", Value: bson.A{f, k}}}
}

// CountByPipeline groups the documents matching f by the value at field.
func CountByPipeline(f readmodel.Filter, field string) mongo.Pipeline {
	return mongo.Pipeline{
		{{Key: "$match", Value: FilterBSON(f)}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$" + field}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}
}

// IndexModel translates an index declaration: keys from KeyFields (_id
// appended to non-unique, non-TTL indexes), unique indexes partial on the
// presence of all their fields (so documents lacking one never collide, as
// on SQLite), TTL as expireAfterSeconds.
func IndexModel(ix readmodel.Index) mongo.IndexModel {
	return indexModel(ix, true)
}

// indexModel translates one index; partial: a unique index carries the
// partialFilterExpression (see Options.NoPartialIndexes).
func indexModel(ix readmodel.Index, partial bool) mongo.IndexModel {
	return mongo.IndexModel{Keys: indexKeys(ix), Options: indexOptions(ix, partial)}
}

// IndexModels translates every index of a spec.
func IndexModels(spec readmodel.CollectionSpec) []mongo.IndexModel {
	out := make([]mongo.IndexModel, len(spec.Indexes))
	for i, ix := range spec.Indexes {
		out[i] = IndexModel(ix)
	}
	return out
}

func indexKeys(ix readmodel.Index) bson.D {
	keys := ix.KeyFields()
	out := make(bson.D, len(keys))
	for i, f := range keys {
		out[i] = bson.E{Key: f.Path, Value: direction(f.Desc)}
	}
	return out
}

func indexOptions(ix readmodel.Index, partial bool) *options.IndexOptionsBuilder {
	o := options.Index().SetName(ix.Name)
	if ix.Unique {
		o.SetUnique(true)
		if partial {
			o.SetPartialFilterExpression(uniquePartial(ix))
		}
	}
	if ix.Partial != "" && partial {
		o.SetPartialFilterExpression(bson.D{{Key: ix.Partial, Value: bson.D{{Key: "$exists", Value: true}}}})
	}
	if ix.TTL > 0 {
		o.SetExpireAfterSeconds(int32(ix.TTL / time.Second))
	}
	return o
}

func uniquePartial(ix readmodel.Index) bson.D {
	out := make(bson.D, len(ix.Fields))
	for i, f := range ix.Fields {
		out[i] = bson.E{Key: f.Path, Value: bson.D{{Key: "$exists", Value: true}}}
	}
	return out
}

// partialPath is the path a non-unique index's partialFilterExpression
// requires ({path: {$exists: true}}, as indexOptions sets it), or "".
func partialPath(have serverIndex) string {
	if len(have.Partial) == 0 {
		return ""
	}
	var d bson.D
	if err := bson.Unmarshal(have.Partial, &d); err != nil || len(d) != 1 {
		return ""
	}
	return d[0].Key
}

// serverIndex is the part of a listIndexes entry that identifies an index.
type serverIndex struct {
	Name               string   `bson:"name"`
	Key                bson.D   `bson:"key"`
	Unique             bool     `bson:"unique"`
	ExpireAfterSeconds *float64 `bson:"expireAfterSeconds"`
	Partial            bson.Raw `bson:"partialFilterExpression"`
}

// sameIndex reports whether an index on the server is the one ix declares
// (partial: as indexModel builds it).
func sameIndex(have serverIndex, ix readmodel.Index, partial bool) bool {
	want := indexKeys(ix)
	if len(have.Key) != len(want) || have.Unique != ix.Unique || (len(have.Partial) > 0) != ((ix.Unique || ix.Partial != "") && partial) {
		return false
	}
	if ix.Partial != "" && partial && partialPath(have) != ix.Partial {
		return false
	}
	for i, e := range have.Key {
		if e.Key != want[i].Key || isDesc(e.Value) != (want[i].Value == int32(-1)) {
			return false
		}
	}
	ttl := int64(0)
	if have.ExpireAfterSeconds != nil {
		ttl = int64(*have.ExpireAfterSeconds)
	}
	return ttl == int64(ix.TTL/time.Second)
}

func isDesc(v any) bool {
	switch x := v.(type) {
	case int32:
		return x < 0
	case int64:
		return x < 0
	case float64:
		return x < 0
	}
	return false
}

// declared turns a server index back into its declaration (nil for _id_
// and for indexes whose keys are not plain ascending/descending paths).
func declared(have serverIndex) *readmodel.Index {
	if have.Name == "_id_" || len(have.Key) == 0 {
		return nil
	}
	ix := &readmodel.Index{Name: have.Name, Unique: have.Unique}
	if !have.Unique {
		ix.Partial = partialPath(have)
	}
	if have.ExpireAfterSeconds != nil {
		ix.TTL = time.Duration(*have.ExpireAfterSeconds) * time.Second
	}
	keys := have.Key
	if !ix.Unique && ix.TTL == 0 && len(keys) > 1 && keys[len(keys)-1].Key == readmodel.IDField {
		keys = keys[:len(keys)-1]
	}
	for _, e := range keys {
		switch e.Value.(type) {
		case int32, int64, float64:
		default:
			return nil // text, hashed, 2dsphere: not ours
		}
		ix.Fields = append(ix.Fields, readmodel.IndexField{Path: e.Key, Desc: isDesc(e.Value)})
	}
	return ix
}

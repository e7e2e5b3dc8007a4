package mongostore

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// posField carries, in every stored document, the checkpoint of the batch
// that last wrote it (the position guard of standalone deployments).
const posField = "_pos"

// toBSON converts a normalized document to BSON: _id first, other keys
// sorted, pos as _pos. int64 stays int64 and float64 double; times become
// BSON dates (milliseconds, UTC).
func toBSON(d readmodel.Doc, pos int64) bson.D {
	out := make(bson.D, 0, len(d)+1)
	out = append(out, bson.E{Key: readmodel.IDField, Value: d.ID()})
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if k != readmodel.IDField {
			out = append(out, bson.E{Key: k, Value: bsonValue(d[k])})
		}
	}
	return append(out, bson.E{Key: posField, Value: pos})
}

// bsonValue converts a canonical value.
func bsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return bson.NewDateTimeFromTime(x)
	case []any:
		a := make(bson.A, len(x))
		for i, e := range x {
			a[i] = bsonValue(e)
		}
		return a
	case map[string]any:
		d := make(bson.D, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			d = append(d, bson.E{Key: k, Value: bsonValue(x[k])})
		}
		return d
	}
	return v // nil, string, int64, float64, bool
}

// fromBSON converts a stored document back, dropping _pos.
func fromBSON(raw bson.Raw) (readmodel.Doc, error) {
	if t := raw.Lookup(readmodel.IDField).Type; t != bson.TypeString {
		return nil, fmt.Errorf("stored document has a BSON %s _id, want a string", t)
	}
	m, err := fromRawDoc(raw, true)
	if err != nil {
		return nil, err
	}
	return readmodel.Doc(m), nil
}

func fromRawDoc(raw bson.Raw, top bool) (map[string]any, error) {
	elems, err := raw.Elements()
	if err != nil {
		return nil, fmt.Errorf("stored document: %w", err)
	}
	m := make(map[string]any, len(elems))
	for _, e := range elems {
		k := e.Key()
		if top && k == posField {
			continue
		}
		v, err := fromRawValue(e.Value())
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

// fromRawValue maps BSON to canonical values: double → float64, int32 and
// int64 → int64, date → time.Time (UTC), null/undefined → nil, ObjectID →
// its hex string. Other types are not read-model values.
func fromRawValue(v bson.RawValue) (any, error) {
	switch v.Type {
	case bson.TypeString:
		return v.StringValue(), nil
	case bson.TypeInt64:
		return v.Int64(), nil
	case bson.TypeInt32:
		return int64(v.Int32()), nil
	case bson.TypeDouble:
		return v.Double(), nil
	case bson.TypeBoolean:
		return v.Boolean(), nil
	case bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeDateTime:
		return time.UnixMilli(v.DateTime()).UTC(), nil
	case bson.TypeObjectID:
		return v.ObjectID().Hex(), nil
	case bson.TypeEmbeddedDocument:
		return fromRawDoc(v.Document(), false)
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, e := range vals {
			if out[i], err = fromRawValue(e); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("BSON type %s is not a read-model value", v.Type)
}

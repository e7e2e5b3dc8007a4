package readmodel

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Doc is one read-model document: a JSON-like object whose "_id" is a
// non-empty string. Values are listed in the package documentation; a read
// returns only canonical ones (string, int64, float64, bool, nil, time.Time,
// []any, map[string]any). Top-level keys starting with "_" other than "_id"
// are reserved for the store.
type Doc map[string]any

// ID returns the document's _id ("" when absent or not a string).
func (d Doc) ID() string {
	s, _ := d[IDField].(string)
	return s
}

// MaxNesting bounds how deep documents nest (objects and arrays).
const MaxNesting = 32

// TimeLayout is the fixed-width form times take in cursors and grouped
// counts (and, behind a type marker, in SQLite documents).
const TimeLayout = "2006-01-02T15:04:05.000Z"

var minTime, maxTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)

// NormalizeDoc validates d and returns a deep copy holding only canonical
// values. It fails with ErrInvalid on a missing or non-string _id, a reserved
// or malformed key, or an unsupported value.
func NormalizeDoc(d Doc) (Doc, error) {
	id, ok := d[IDField].(string)
	if !ok || id == "" || len(id) > MaxIDLen || !utf8.ValidString(id) {
		return nil, Invalidf("document _id %v: want a non-empty UTF-8 string of at most %d bytes", d[IDField], MaxIDLen)
	}
	out := make(Doc, len(d))
	for k, v := range d {
		if k == IDField {
			out[k] = id
			continue
		}
		if !validKey(k) || k[0] == '_' {
			return nil, Invalidf("document %q: key %q is reserved or malformed", id, k)
		}
		nv, err := normalize(v, 1)
		if err != nil {
			return nil, Invalidf("document %q: field %q: %v", id, k, err)
		}
		out[k] = nv
	}
	return out, nil
}

// NormalizeValue returns the canonical form of v (see the package
// documentation), or an error wrapping ErrInvalid.
func NormalizeValue(v any) (any, error) {
	nv, err := normalize(v, 0)
	if err != nil {
		return nil, Invalidf("%v", err)
	}
	return nv, nil
}

// NormalizeTime returns t in UTC truncated to the millisecond, the form
// every backend stores.
func NormalizeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

type valueError string

func (e valueError) Error() string { return string(e) }

func normalize(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, valueError("string is not valid UTF-8")
		}
		return x, nil
	case bool:
		return x, nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, valueError("NaN and infinities are not stored")
		}
		return x, nil
	case time.Time:
		t := NormalizeTime(x)
		if t.Before(minTime) || t.After(maxTime) {
			return nil, valueError("time outside the years 0000-9999")
		}
		return t, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, valueError("json.Number " + strconv.Quote(x.String()) + " is not a number")
		}
		return normalize(f, depth)
	case Doc:
		return normalizeMap(map[string]any(x), depth)
	case map[string]any:
		return normalizeMap(x, depth)
	case []any:
		return normalizeSlice(reflect.ValueOf(x), depth)
	}
	return normalizeReflect(reflect.ValueOf(v), depth)
}

func normalizeReflect(rv reflect.Value, depth int) (any, error) {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return normalize(rv.Elem().Interface(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, valueError("unsigned integer above MaxInt64")
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return normalize(rv.Float(), depth)
	case reflect.String:
		return normalize(rv.String(), depth)
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Slice:
		if rv.IsNil() {
			return nil, nil
		}
		return normalizeSlice(rv, depth)
	case reflect.Array:
		return normalizeSlice(rv, depth)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, valueError("map keys must be strings")
		}
		if rv.IsNil() {
			return nil, nil
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return normalizeMap(m, depth)
	}
	if rv.IsValid() {
		return nil, valueError("unsupported type " + rv.Type().String())
	}
	return nil, nil
}

func normalizeMap(m map[string]any, depth int) (any, error) {
	if depth >= MaxNesting {
		return nil, valueError("nested deeper than " + strconv.Itoa(MaxNesting))
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !validKey(k) {
			return nil, valueError("key " + strconv.Quote(k) + " is malformed (empty, a dot, a leading $ or invalid UTF-8)")
		}
		nv, err := normalize(v, depth+1)
		if err != nil {
			return nil, valueError(k + ": " + err.Error())
		}
		out[k] = nv
	}
	return out, nil
}

func normalizeSlice(rv reflect.Value, depth int) (any, error) {
	if depth >= MaxNesting {
		return nil, valueError("nested deeper than " + strconv.Itoa(MaxNesting))
	}
	out := make([]any, rv.Len())
	for i := range out {
		nv, err := normalize(rv.Index(i).Interface(), depth+1)
		if err != nil {
			return nil, valueError("[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		out[i] = nv
	}
	return out, nil
}

// IsScalar reports whether a canonical value is a scalar (string, int64,
// float64, bool, nil or time.Time): what filters compare and sorts order.
func IsScalar(v any) bool {
	switch v.(type) {
	case nil, string, int64, float64, bool, time.Time:
		return true
	}
	return false
}

// Lookup returns the value at a dotted path in d, and whether it is
// present. It walks nested objects only, never arrays.
func Lookup(d Doc, path string) (any, bool) {
	var cur any = map[string]any(d)
	for seg := range strings.SplitSeq(path, ".") {
		var m map[string]any
		switch x := cur.(type) {
		case map[string]any:
			m = x
		case Doc:
			m = x
		default:
			return nil, false
		}
		v, ok := m[seg]
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// GroupKey is the key CountBy reports for a canonical value: strings as
// they are, numbers in their shortest decimal form (so 3 and 3.0 share the
// key "3"), "true"/"false", times in TimeLayout, and "" for null or missing.
// Arrays and objects have no portable key (see docs/read-model-store.md);
// they are rendered as JSON with sorted keys.
func GroupKey(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return FormatFloat(x)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(TimeLayout)
	}
	b, err := json.Marshal(sortedJSON(v))
	if err != nil {
		return ""
	}
	return string(b)
}

// FormatFloat renders f in its shortest form, integral values without a
// fraction ("3", not "3e+00").
func FormatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// sortedJSON prepares a canonical value for json.Marshal (which sorts map
// keys): times become TimeLayout strings.
func sortedJSON(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(TimeLayout)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sortedJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = sortedJSON(e)
		}
		return out
	}
	return v
}

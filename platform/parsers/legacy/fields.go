package legacy

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// doc is a document's top-level fields by name.
type doc map[string]any

func fields(d bson.D) doc {
	m := make(doc, len(d))
	for _, e := range d {
		m[e.Key] = e.Value
	}
	return m
}

// id is the _id as text: an ObjectId's hex, a string, a number.
func (f doc) id() (string, bool) {
	v, ok := f["_id"]
	if !ok || v == nil {
		return "", false
	}
	s, err := text(v)
	if err != nil || s == "" {
		return "", false
	}
	return s, true
}

// oidTime is the creation time an ObjectId _id carries (zero otherwise).
func (f doc) oidTime() time.Time {
	if oid, ok := f["_id"].(bson.ObjectID); ok {
		return oid.Timestamp().UTC()
	}
	return time.Time{}
}

// str is the first of names present and not null, as text. A value that is
// not text-like (a document, an array) is an error naming the field.
func (f doc) str(names ...string) (string, error) {
	for _, n := range names {
		v, ok := f[n]
		if !ok || v == nil {
			continue
		}
		s, err := text(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", n, err)
		}
		return strings.TrimSpace(s), nil
	}
	return "", nil
}

// required is str, and an error naming the first name when empty.
func (f doc) required(names ...string) (string, error) {
	s, err := f.str(names...)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("%s: missing", names[0])
	}
	return s, nil
}

func text(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bson.ObjectID:
		return x.Hex(), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case bson.Decimal128:
		return x.String(), nil
	case bson.Symbol:
		return string(x), nil
	}
	return "", fmt.Errorf("is a %s, not text", kind(v))
}

func kind(v any) string {
	switch v.(type) {
	case bson.D, bson.M, map[string]any:
		return "document"
	case bson.A, []any:
		return "array"
	case bson.DateTime:
		return "date"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// time is the first of names present and not null, as a time: a $date,
// an RFC 3339 string, or milliseconds since the epoch.
func (f doc) time(names ...string) (time.Time, error) {
	for _, n := range names {
		v, ok := f[n]
		if !ok || v == nil {
			continue
		}
		t, err := timeOf(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", n, err)
		}
		return t, nil
	}
	return time.Time{}, nil
}

func timeOf(v any) (time.Time, error) {
	switch x := v.(type) {
	case bson.DateTime:
		return x.Time().UTC(), nil
	case time.Time:
		return x.UTC(), nil
	case bson.Timestamp:
		return time.Unix(int64(x.T), 0).UTC(), nil
	case int64:
		return time.UnixMilli(x).UTC(), nil
	case int32:
		return time.UnixMilli(int64(x)).UTC(), nil
	case float64:
		return time.UnixMilli(int64(x)).UTC(), nil
	case string:
		if x == "" {
			return time.Time{}, nil
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not a date", x)
	}
	return time.Time{}, fmt.Errorf("is a %s, not a date", kind(v))
}

// int is the first of names present and not null, as an integer.
func (f doc) int(names ...string) (int, error) {
	for _, n := range names {
		v, ok := f[n]
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case int32:
			return int(x), nil
		case int64:
			return int(x), nil
		case float64:
			if x == math.Trunc(x) {
				return int(x), nil
			}
		case string:
			if i, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%s: %v is not an integer", n, v)
	}
	return 0, nil
}

// bool is the first of names present and not null, as a boolean; def when none is.
func (f doc) bool(def bool, names ...string) (bool, error) {
	for _, n := range names {
		v, ok := f[n]
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case bool:
			return x, nil
		case int32:
			return x != 0, nil
		case int64:
			return x != 0, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
		return false, fmt.Errorf("%s: %v is not a boolean", n, v)
	}
	return def, nil
}

// tags is the first of names present: a document of values, or an array
// of {Key, Value} (AWS) or {key, value} pairs.
func (f doc) tags(names ...string) (map[string]string, error) {
	for _, n := range names {
		v, ok := f[n]
		if !ok || v == nil {
			continue
		}
		out := map[string]string{}
		switch x := v.(type) {
		case bson.D:
			for _, e := range x {
				s, err := text(e.Value)
				if err != nil {
					return nil, fmt.Errorf("%s.%s: %w", n, e.Key, err)
				}
				out[e.Key] = s
			}
		case bson.A:
			for i, item := range x {
				pair, ok := item.(bson.D)
				if !ok {
					return nil, fmt.Errorf("%s[%d]: is a %s, not a {Key, Value} pair", n, i, kind(item))
				}
				p := fields(pair)
				k, err := p.required("Key", "key")
				if err != nil {
					return nil, fmt.Errorf("%s[%d].%w", n, i, err)
				}
				val, err := p.str("Value", "value")
				if err != nil {
					return nil, fmt.Errorf("%s[%d].%w", n, i, err)
				}
				out[k] = val
			}
		default:
			return nil, fmt.Errorf("%s: is a %s, not a document of tags", n, kind(v))
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return nil, nil
}

// strings is the first of names present: an array of text, or one text.
func (f doc) strings(names ...string) ([]string, error) {
	for _, n := range names {
		v, ok := f[n]
		if !ok || v == nil {
			continue
		}
		if a, ok := v.(bson.A); ok {
			out := make([]string, 0, len(a))
			for i, item := range a {
				s, err := text(item)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]: %w", n, i, err)
				}
				out = append(out, s)
			}
			sort.Strings(out)
			return out, nil
		}
		s, err := text(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		return []string{s}, nil
	}
	return nil, nil
}

// errs gathers the first error of a sequence of reads.
type errs struct{ err error }

func (e *errs) s(v string, err error) string {
	if e.err == nil && err != nil {
		e.err = err
	}
	return v
}

func (e *errs) t(v time.Time, err error) time.Time {
	if e.err == nil && err != nil {
		e.err = err
	}
	return v
}

func (e *errs) i(v int, err error) int {
	if e.err == nil && err != nil {
		e.err = err
	}
	return v
}

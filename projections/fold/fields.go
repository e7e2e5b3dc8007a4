// Package fold holds what the module projections share when they fold
// events into documents: readers of the fields of a document a projection
// wrote, and the per-severity / per-status counters several read models keep.
package fold

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// Get reads collection/id through tx; found is false when there is no such
// document.
func Get(ctx context.Context, tx projections.Tx, collection, id string) (doc readmodel.Doc, found bool, err error) {
	doc, found, err = tx.Get(ctx, collection, id)
	if err != nil {
		return nil, false, fmt.Errorf("get %s/%s: %w", collection, id, err)
	}
	return doc, found, nil
}

// Readers of the fields of a document: a missing or mistyped field reads as
// the zero value. Numbers are accepted as any of the types a store or a
// batch may hand back.

// Str reads a string field.
func Str(d map[string]any, key string) string {
	s, _ := d[key].(string)
	return s
}

// Num reads an integer field.
func Num(d map[string]any, key string) int64 {
	switch n := d[key].(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

// Time reads a time field.
func Time(d map[string]any, key string) time.Time {
	t, _ := d[key].(time.Time)
	return t
}

// Flag reads a boolean field.
func Flag(d map[string]any, key string) bool {
	b, _ := d[key].(bool)
	return b
}

// Obj reads an object field.
func Obj(d map[string]any, key string) map[string]any {
	switch m := d[key].(type) {
	case map[string]any:
		return m
	case readmodel.Doc:
		return m
	}
	return nil
}

// Objs reads an array of objects (a batch may hand back []map[string]any).
func Objs(d map[string]any, key string) []map[string]any {
	switch l := d[key].(type) {
	case []map[string]any:
		return l
	case []any:
		out := make([]map[string]any, 0, len(l))
		for _, e := range l {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// TimeOrNil stores a zero time as null: TTL indexes ignore it and a
// descending sort puts it last.
func TimeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return readmodel.NormalizeTime(t)
}

// Later is the later of two times (a zero time is the earliest).
func Later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Value returns the event data a projection switches on: the codec decodes
// values; a pointer to one (as tests or other callers may hand over) is
// dereferenced.
func Value(data any) any {
	if v := reflect.ValueOf(data); v.Kind() == reflect.Pointer && !v.IsNil() {
		return v.Elem().Interface()
	}
	return data
}

// OmitEmpty deletes from d the top-level fields that hold nil, "",
// false, an int64 0, a zero time or an empty list, and returns d: the
// readers above read a missing field as that same zero value, and so do
// the store's filters (Eq(p, nil) and Ne(p, true) match a missing field),
// so a document read or filtered through them answers the same, and takes
// fewer bytes (issue 17, decision 109). Not for a field a query matches
// with Eq(p, ""), Eq(p, false) or Eq(p, 0), tests with Exists, or whose
// reader tells an empty list from none. _id is kept.
func OmitEmpty(d readmodel.Doc) readmodel.Doc {
	for k, v := range d {
		if k == readmodel.IDField {
			continue
		}
		switch x := v.(type) {
		case nil:
			delete(d, k)
		case string:
			if x == "" {
				delete(d, k)
			}
		case bool:
			if !x {
				delete(d, k)
			}
		case int64:
			if x == 0 {
				delete(d, k)
			}
		case []any:
			if len(x) == 0 {
				delete(d, k)
			}
		case time.Time:
			if x.IsZero() {
				delete(d, k)
			}
		}
	}
	return d
}

package queries

import (
	"time"
)

// Readers of canonical read-model values (see platform/readmodel): a
// missing or mistyped field reads as the zero value.

// Str reads a string field.
func Str(d map[string]any, key string) string {
	s, _ := d[key].(string)
	return s
}

// Num reads an integer field (stored as int64, or float64 after a JSON
// round trip).
func Num(d map[string]any, key string) int64 {
	switch n := d[key].(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}

// When reads a time field.
func When(d map[string]any, key string) time.Time {
	t, _ := d[key].(time.Time)
	return t
}

// Obj reads an embedded document.
func Obj(d map[string]any, key string) map[string]any {
	m, _ := d[key].(map[string]any)
	return m
}

// Objs reads an array of objects (nil when missing or mistyped).
func Objs(d map[string]any, key string) []map[string]any {
	l, _ := d[key].([]any)
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

package orchestration

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// get reads collection/id through tx; found is false when there is no such
// document.
func get(ctx context.Context, tx projections.Tx, collection, id string) (doc readmodel.Doc, found bool, err error) {
	doc, found, err = tx.Get(ctx, collection, id)
	if err != nil {
		return nil, false, fmt.Errorf("get %s/%s: %w", collection, id, err)
	}
	return doc, found, nil
}

// Readers of the fields of a document the projection wrote: a missing or
// mistyped field reads as the zero value. Numbers are accepted as any of
// the types a store or a batch may hand back.

func str(d map[string]any, key string) string {
	s, _ := d[key].(string)
	return s
}

func num(d map[string]any, key string) int64 {
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

func when(d map[string]any, key string) time.Time {
	t, _ := d[key].(time.Time)
	return t
}

func flag(d map[string]any, key string) bool {
	b, _ := d[key].(bool)
	return b
}

func obj(d map[string]any, key string) map[string]any {
	switch m := d[key].(type) {
	case map[string]any:
		return m
	case readmodel.Doc:
		return m
	}
	return nil
}

// timeOrNil stores a zero time as null: TTL indexes ignore it and a
// descending sort puts it last.
func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return readmodel.NormalizeTime(t)
}

// later is the later of two times (a zero time is the earliest).
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

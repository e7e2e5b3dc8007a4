package platform

import (
	"context"
	"fmt"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

var (
	scanEventTypes = []string{
		orchdomain.ScanRequested{}.EventType(),
		orchdomain.ScanStarted{}.EventType(),
		orchdomain.ScanCompleted{}.EventType(),
		orchdomain.ScanFailed{}.EventType(),
	}
	findingEventTypes = []string{
		csdomain.FindingRaised{}.EventType(),
		csdomain.FindingResolved{}.EventType(),
		csdomain.FindingSuppressed{}.EventType(),
	}
)

// eventData returns the event's data as a value (the codec decodes values;
// pointers are accepted too). Data of a type that does not match a known
// ev.Type is an error: the codec never produces it.
func eventData(ev projections.Event) (any, error) {
	switch d := ev.Data.(type) {
	case orchdomain.ScanRequested, orchdomain.ScanStarted, orchdomain.ScanCompleted, orchdomain.ScanFailed,
		csdomain.FindingRaised, csdomain.FindingResolved, csdomain.FindingSuppressed:
		return d, nil
	case *orchdomain.ScanRequested:
		return *d, nil
	case *orchdomain.ScanStarted:
		return *d, nil
	case *orchdomain.ScanCompleted:
		return *d, nil
	case *orchdomain.ScanFailed:
		return *d, nil
	case *csdomain.FindingRaised:
		return *d, nil
	case *csdomain.FindingResolved:
		return *d, nil
	case *csdomain.FindingSuppressed:
		return *d, nil
	}
	if slices.Contains(scanEventTypes, ev.Type) || slices.Contains(findingEventTypes, ev.Type) {
		return nil, fmt.Errorf("event %s (%s) at position %d: unexpected data %T", ev.EventID, ev.Type, ev.Position, ev.Data)
	}
	return nil, nil
}

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

// objs reads an array of objects (a batch may hand back []map[string]any).
func objs(d map[string]any, key string) []map[string]any {
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

// timeOrNil stores a zero time as null: TTL indexes ignore it and a
// descending sort puts it last.
func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return readmodel.NormalizeTime(t)
}

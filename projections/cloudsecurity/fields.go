package cloudsecurity

import (
	"fmt"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// findingOf returns the finding id of a Finding event and the status it
// moves the finding to; id is "" for other events (ignored) and for a
// Finding event without an id (nothing to project). Data that does not
// match ev.Type is an error: the codec never produces it.
func findingOf(ev projections.Event) (id string, status csdomain.Status, err error) {
	switch e := deref(ev.Data).(type) {
	case csdomain.FindingRaised:
		return e.FindingID, csdomain.StatusOpen, nil
	case csdomain.FindingResolved:
		return e.FindingID, csdomain.StatusResolved, nil
	case csdomain.FindingSuppressed:
		return e.FindingID, csdomain.StatusSuppressed, nil
	}
	if slices.Contains(Findings{}.EventTypes(), ev.Type) {
		return "", "", fmt.Errorf("%s: event %s (%s) at position %d: unexpected data %T", FindingsName, ev.EventID, ev.Type, ev.Position, ev.Data)
	}
	return "", "", nil
}

// deref turns a pointer to an event into the event value.
func deref(data any) any {
	switch d := data.(type) {
	case *csdomain.FindingRaised:
		return *d
	case *csdomain.FindingResolved:
		return *d
	case *csdomain.FindingSuppressed:
		return *d
	}
	return data
}

// Readers of the fields of a document the projection wrote: a missing or
// mistyped field reads as the zero value.

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

// timeOrNil stores a zero time as null: TTL indexes ignore it and a
// descending sort puts it last.
func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return readmodel.NormalizeTime(t)
}

package cloudsecurity

import (
	"context"
	"encoding/json"
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

// load reads collection/id through tx into v (a pointer to a struct whose
// json tags name the document's fields); v is left alone when there is no
// such document.
func load(ctx context.Context, tx projections.Tx, collection, id string, v any) error {
	doc, found, err := tx.Get(ctx, collection, id)
	if err != nil {
		return fmt.Errorf("get %s/%s: %w", collection, id, err)
	}
	if !found {
		return nil
	}
	raw, err := json.Marshal(doc)
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return fmt.Errorf("decode %s/%s: %w", collection, id, err)
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

package cloudsecurity

import (
	"fmt"
	"slices"

	"github.com/cspm-es/cspm-es/projections/fold"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
)

// findingOf returns the finding id of a Finding event and the status it
// moves the finding to; id is "" for other events (ignored) and for a
// Finding event without an id (nothing to project). Data that does not
// match ev.Type is an error: the codec never produces it.
func findingOf(ev projections.Event) (id string, status csdomain.Status, err error) {
	switch e := fold.Value(ev.Data).(type) {
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

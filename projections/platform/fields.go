package platform

import (
	"fmt"
	"slices"

	"github.com/cspm-es/cspm-es/projections/fold"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
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

// eventData returns the event's data as a value (see fold.Value), or nil
// for an event of a type the platform projections do not handle. Data of a
// type that does not match a known ev.Type is an error: the codec never
// produces it.
func eventData(ev projections.Event) (any, error) {
	switch d := fold.Value(ev.Data).(type) {
	case orchdomain.ScanRequested, orchdomain.ScanStarted, orchdomain.ScanCompleted, orchdomain.ScanFailed,
		csdomain.FindingRaised, csdomain.FindingResolved, csdomain.FindingSuppressed:
		return d, nil
	}
	if slices.Contains(scanEventTypes, ev.Type) || slices.Contains(findingEventTypes, ev.Type) {
		return nil, fmt.Errorf("event %s (%s) at position %d: unexpected data %T", ev.EventID, ev.Type, ev.Position, ev.Data)
	}
	return nil, nil
}

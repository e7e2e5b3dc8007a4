package orchestration

import (
	"fmt"
	"slices"
	"time"

	"github.com/cspm-es/cspm-es/projections/fold"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/projections"
)

// scanChange is a ScanRun event reduced to what the projections need.
type scanChange struct {
	scanID string
	status orchdomain.Status // the status the event moves the scan to
	event  orchdomain.Event  // the event, as a value
}

// scanChangeOf decodes a ScanRun event (ok=false for other events, and for a
// scan event without a scan id, which has nothing to project). Data that
// does not match ev.Type is an error: the codec should never produce it.
func scanChangeOf(ev projections.Event) (scanChange, bool, error) {
	var c scanChange
	switch e := fold.Value(ev.Data).(type) {
	case orchdomain.ScanRequested:
		c = scanChange{e.ScanID, orchdomain.StatusRequested, e}
	case orchdomain.ScanStarted:
		c = scanChange{e.ScanID, orchdomain.StatusRunning, e}
	case orchdomain.ScanCompleted:
		c = scanChange{e.ScanID, orchdomain.StatusCompleted, e}
	case orchdomain.ScanFailed:
		c = scanChange{e.ScanID, orchdomain.StatusFailed, e}
	default:
		return c, false, mismatch(ev, scanEventTypes())
	}
	return c, c.scanID != "", nil
}

// findingChange is a Finding event reduced to what the projections need.
type findingChange struct {
	findingID string
	status    csdomain.Status         // the status the event moves the finding to
	raised    *csdomain.FindingRaised // set for FindingRaised
	at        time.Time               // when the event happened
}

func findingEventTypes() []string {
	return []string{
		csdomain.FindingRaised{}.EventType(),
		csdomain.FindingResolved{}.EventType(),
		csdomain.FindingSuppressed{}.EventType(),
	}
}

// findingChangeOf decodes a Finding event, like scanChangeOf.
func findingChangeOf(ev projections.Event) (findingChange, bool, error) {
	var c findingChange
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.FindingRaised:
		c = findingChange{findingID: e.FindingID, status: csdomain.StatusOpen, raised: &e, at: e.RaisedAt}
	case csdomain.FindingResolved:
		c = findingChange{findingID: e.FindingID, status: csdomain.StatusResolved, at: e.ResolvedAt}
	case csdomain.FindingSuppressed:
		c = findingChange{findingID: e.FindingID, status: csdomain.StatusSuppressed, at: e.SuppressedAt}
	default:
		return c, false, mismatch(ev, findingEventTypes())
	}
	return c, c.findingID != "", nil
}

// mismatch is nil for an event of a type the caller does not handle (it is
// ignored) and an error for one of types whose data is not the Go type the
// codec registers for it.
func mismatch(ev projections.Event, handled []string) error {
	if !slices.Contains(handled, ev.Type) {
		return nil
	}
	return fmt.Errorf("event %s (%s) at position %d: unexpected data %T", ev.EventID, ev.Type, ev.Position, ev.Data)
}

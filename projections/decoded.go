package projections

import "sync"

// decodedWindow holds the events the live loops decoded lately, by
// position, so that an event several projections consume is decoded once
// (envelope and data) rather than once per projection: a finding raised
// goes to seven of them. Each projection still gets its own delivery from
// the bus, with its own ordering checks and acknowledgement; only the
// decoding is shared, read-only, as RebuildTogether already shares it
// (decision 111). A slot is keyed by position and checked against the
// delivery's event id, so a stale or foreign slot is never used. The zero
// value is ready.
type decodedWindow struct {
	mu    sync.Mutex
	slots []decodedSlot // position % len
}

type decodedSlot struct {
	pos int64
	ev  Event // RecordedEvent and data, both decoded
}

// decodedWindowSize is the positions remembered: a few seconds of ingest
// at full rate, so the projections that share an event find it while the
// first one's decode is recent.
const decodedWindowSize = 4096

// get returns the event at pos decoded by another loop, if it is still
// remembered and is the event eventID.
func (dw *decodedWindow) get(pos int64, eventID string) (Event, bool) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if dw.slots == nil {
		return Event{}, false
	}
	s := &dw.slots[pos%decodedWindowSize]
	if s.pos != pos || s.ev.EventID != eventID || eventID == "" {
		return Event{}, false
	}
	return s.ev, true
}

// put remembers ev, decoded without error, at its position.
func (dw *decodedWindow) put(ev Event) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if dw.slots == nil {
		dw.slots = make([]decodedSlot, decodedWindowSize)
	}
	dw.slots[ev.Position%decodedWindowSize] = decodedSlot{pos: ev.Position, ev: ev}
}

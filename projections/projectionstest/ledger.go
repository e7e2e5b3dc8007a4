package projectionstest

import (
	"context"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// LedgerCollection is where a Ledger writes.
const LedgerCollection = "test_ledger"

// Ledger is a projection that writes one document per event (no reads):
// the cheapest projection there is, for throughput measurements.
type Ledger struct {
	name  string
	db    dbregistry.Constant
	types []string
}

// NewLedger returns a Ledger named name over the given event types
// (default: every test event type).
func NewLedger(name string, db dbregistry.Constant, types ...string) *Ledger {
	if len(types) == 0 {
		types = []string{TypeIncremented, TypeRenamed, TypeClosed, TypeNoted}
	}
	return &Ledger{name: name, db: db, types: types}
}

// Name implements projections.Projection.
func (l *Ledger) Name() string { return l.name }

// Database implements projections.Projection.
func (l *Ledger) Database() dbregistry.Constant { return l.db }

// Collections implements projections.Projection.
func (l *Ledger) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: LedgerCollection}}
}

// EventTypes implements projections.Projection.
func (l *Ledger) EventTypes() []string { return l.types }

// Apply implements projections.Projection.
func (l *Ledger) Apply(_ context.Context, tx projections.Tx, ev projections.Event) error {
	tx.Put(LedgerCollection, LedgerDoc(ev.RecordedEvent.EventID, ev.StreamID, ev.Metadata.TeamID, ev.Type, ev.Position, ev.Version))
	return nil
}

// LedgerDoc is the document a Ledger writes for an event.
func LedgerDoc(eventID, streamID, team, typ string, position, version int64) readmodel.Doc {
	return readmodel.Doc{"_id": eventID, "stream_id": streamID, "team_id": team, "type": typ,
		"position": position, "version": version}
}

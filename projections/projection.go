// Package projections is the projector runtime: it feeds each projection the
// events it listens to, in position order, from a durable JetStream consumer
// (live) or from the event store (rebuild), batches their writes and commits
// them with the projection's checkpoint, parks poison events, and reports
// status and lag. The module projections live in subpackages
// (projections/orchestration, projections/cloudsecurity, projections/platform).
package projections

import (
	"context"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Projection materializes read models in one module database.
//
// Apply must be deterministic and must not reject well-formed events for
// business reasons: the event already happened. It is called once per event
// in position order; the runtime skips events at or below the checkpoint, so
// a redelivered event is never applied twice. Across streams, a projection
// must converge whatever order its source events arrive in (invariant 6).
type Projection interface {
	// Name is stable: it names the durable consumer, the checkpoint and the
	// parked-event records. Renaming a projection rebuilds it from zero.
	Name() string
	// Database is the module database the projection writes.
	Database() dbregistry.Constant
	// Collections it writes, with their indexes (created idempotently at start).
	Collections() []readmodel.CollectionSpec
	// EventTypes it listens to (the consumer's filter).
	EventTypes() []string
	// Apply folds one event into the read models through tx.
	Apply(ctx context.Context, tx Tx, ev Event) error
}

// Event is a stored event with its data decoded (upcast to the current
// schema) by the codec into its registered Go type (a value, not a pointer).
type Event struct {
	eventstore.RecordedEvent
	Data any
}

// Tx is a projection's view of its module database during one batch. Reads
// see the batch's own earlier writes. During a rebuild the same collection
// names transparently address the shadow collections.
type Tx interface {
	// Get returns the document, or found=false.
	Get(ctx context.Context, collection, id string) (doc readmodel.Doc, found bool, err error)
	// Put upserts a whole document (it must carry "_id").
	Put(collection string, doc readmodel.Doc)
	// Delete removes a document by id.
	Delete(collection, id string)
}

// Prefetcher is implemented by a projection that can tell, before a run
// of events is applied, which documents it will read for an event: the
// runtime then reads those of the whole run with one GetMany per
// collection instead of one Get each (a finding raised reads rows that
// mostly do not exist yet; each miss was a query of its own). It is a
// hint: a document it names and Apply never reads costs only its read,
// one Apply reads and Prefetch did not name is read as before.
type Prefetcher interface {
	Prefetch(ev Event, want func(collection, id string))
}

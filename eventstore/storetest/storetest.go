// Package storetest is the contract every eventstore.Store adapter passes.
// An adapter's tests call Run with a function that opens a fresh store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (eventstore.Store, storetest.Tamperer) { ... })
//	}
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Tamperer edits stored events behind the store's back (tamper-evidence tests).
type Tamperer interface {
	// SetData overwrites the stored data of the event at position.
	SetData(ctx context.Context, position int64, data []byte) error
	// Delete removes the event at position (the stream head is left alone).
	Delete(ctx context.Context, position int64) error
	// SwapPayloads exchanges everything but position and version of two
	// events of one stream, i.e. reorders them.
	SwapPayloads(ctx context.Context, posA, posB int64) error
	// InsertRaw stores ev exactly as given, with no checks and no hashing,
	// at ev.Position (the stream head is left alone). The suite only inserts
	// at a free position (head+1) with a version that stream does not use,
	// so no other event has to move.
	InsertRaw(ctx context.Context, ev eventstore.RecordedEvent) error
}

// Open returns a fresh, empty, isolated store and a Tamperer over its
// storage. Run calls it once per subtest, from parallel subtests; the
// adapter closes the store in a t.Cleanup.
type Open func(t *testing.T) (eventstore.Store, Tamperer)

// Run runs the contract suite against the stores open returns.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open Open)
	}{
		{"AppendReadRoundTrip", testRoundTrip},
		{"ExpectedVersion", testExpectedVersion},
		{"OptimisticConcurrency", testOptimisticConcurrency},
		{"AtomicBatch", testAtomicBatch},
		{"ValidationAppendsNothing", testValidation},
		{"Idempotency", testIdempotency},
		{"IdempotencyConcurrentRetries", testIdempotencyConcurrent},
		{"ConcurrentTailing", testConcurrentTailing},
		{"ReadStreamBounds", testReadStreamBounds},
		{"HeadAndStreamsPaging", testHeadAndStreams},
		{"Upcasting", testUpcasting},
		{"WaitForAppend", testWaitForAppend},
		{"Tamper", testTamper},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// testTimeout bounds every subtest; a hang fails instead of blocking CI.
const testTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Package storetest is the contract every eventstore.Store adapter passes.
// An adapter's tests call Run with a function that opens a fresh store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, key eventstore.AuditKey) (eventstore.Store, storetest.Tamperer) { ... })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Tamperer edits the stored log behind the store's back, as someone with
// write access to the database (but not the audit key) would
// (tamper-evidence tests). Every method changes exactly what it says and
// nothing else; an error means the change could not be made.
type Tamperer interface {
	// SetData overwrites the stored data of the event at position.
	SetData(ctx context.Context, position int64, data []byte) error
	// Delete removes the event at position (the stream head is left alone).
	Delete(ctx context.Context, position int64) error
	// SwapPayloads exchanges everything but position and version of two
	// events of one stream, i.e. reorders them.
	SwapPayloads(ctx context.Context, posA, posB int64) error
	// InsertRaw stores ev exactly as given (log hash included), with no
	// checks and no hashing, at ev.Position (the stream head is left
	// alone). The suite only inserts at a free position with a version
	// that stream does not use.
	InsertRaw(ctx context.Context, ev eventstore.RecordedEvent) error
	// ReplaceRaw overwrites every stored field of the event at ev.Position
	// with ev's (log hash included).
	ReplaceRaw(ctx context.Context, ev eventstore.RecordedEvent) error
	// Renumber moves events to new positions (old position -> new), all
	// at once; each keeps everything else, its log hash included.
	Renumber(ctx context.Context, moves map[int64]int64) error
	// SetStreamHead creates or overwrites a stream head.
	SetStreamHead(ctx context.Context, head eventstore.StreamInfo) error
	// DeleteStreamHead removes a stream head.
	DeleteStreamHead(ctx context.Context, streamID string) error
	// SetMetadataKey adds (or overwrites) key in the stored metadata of the
	// event at position, with a JSON value.
	SetMetadataKey(ctx context.Context, position int64, key string, value json.RawMessage) error
	// SetIdempotencyResult overwrites the outcome stored under key (its
	// fingerprint and MAC are left alone). Where the store keeps no
	// positions, res.Positions is ignored.
	SetIdempotencyResult(ctx context.Context, key string, res eventstore.AppendResult) error
	// DeleteCheckpoints removes the stored checkpoints above position.
	DeleteCheckpoints(ctx context.Context, above int64) error
}

// Open returns a fresh, empty, isolated store writing with the given audit
// key (the zero key: the empty key), and a Tamperer over its storage. Run
// calls it once per subtest, from parallel subtests; the adapter closes
// the store in a t.Cleanup. The store must implement eventstore.AuditStore.
type Open func(t *testing.T, key eventstore.AuditKey) (eventstore.Store, Tamperer)

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
		{"BatchAllOrNothing", testBatchAllOrNothing},
		{"BatchExpectedVersions", testBatchExpectedVersions},
		{"BatchPositions", testBatchPositions},
		{"BatchSameStream", testBatchSameStream},
		{"BatchIdempotency", testBatchIdempotency},
		{"BatchValidation", testBatchValidation},
		{"BatchConcurrency", testBatchConcurrency},
		{"Tamper", testTamper},
		{"Checkpoints", testCheckpoints},
		{"Archive", testArchive},
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

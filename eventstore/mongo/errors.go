package mongo

import (
	"errors"
	"fmt"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/mongodb"
)

var (
	// ErrClosed is returned by waits cut short by Close.
	ErrClosed = errors.New("mongo event store: store closed")
	// ErrNotSequenced: the append committed (it is durable and will get
	// positions) but the sequencer did not stamp them before AppendTimeout
	// or the caller's context ended. Retry with the same idempotency key to
	// get the positions; do not retry without one.
	ErrNotSequenced = errors.New("mongo event store: append committed but not yet sequenced")
	// ErrStandalone: the server cannot run multi-document transactions.
	ErrStandalone = errors.New("mongo event store: MongoDB is a standalone server; a replica set (a single-node one is enough) or a sharded cluster is required for transactions")

	// errDeposed: a sequencer round found another holder's token (or an
	// expired lease) on the sequencer document; nothing was written.
	errDeposed = errors.New("mongo event store: sequencer lease lost")
)

// Labels the server puts on transaction errors.
const (
	labelTransient     = "TransientTransactionError"
	labelUnknownCommit = "UnknownTransactionCommitResult"
)

// Index names (also used to classify duplicate-key errors).
const (
	idxID              = "_id_"
	idxStreamVersion   = "stream_version"
	idxPosition        = "position"
	idxPendingByTime   = "pending_by_time"
	idxPendingByStream = "pending_by_stream"
	idxCheckpointOrder = "checkpoint_order" // on the checkpoints collection
)

// dupKey names the collection and index a duplicate-key error hit.
type dupKey struct {
	Collection string // without the database prefix
	Index      string
}

// The server's message: "E11000 duplicate key error collection: db.coll index: name dup key: {...}".
var dupKeyRE = regexp.MustCompile(`collection: [^.\s]+\.(\S+) index: (\S+)`)

// duplicateKey reports the first duplicate-key error (code 11000/11001) in err.
func duplicateKey(err error) (dupKey, bool) {
	parse := func(code int, msg string) (dupKey, bool) {
		if code != 11000 && code != 11001 {
			return dupKey{}, false
		}
		m := dupKeyRE.FindStringSubmatch(msg)
		if m == nil {
			return dupKey{}, true // a duplicate key, index unknown
		}
		return dupKey{Collection: m[1], Index: m[2]}, true
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			if k, ok := parse(e.Code, e.Message); ok {
				return k, true
			}
		}
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		for _, e := range bwe.WriteErrors {
			if k, ok := parse(e.Code, e.Message); ok {
				return k, true
			}
		}
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		if k, ok := parse(int(ce.Code), ce.Message); ok {
			return k, true
		}
	}
	return dupKey{}, false
}

const codeWriteConflict = 112

func hasCode(err error, code int) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(code)
}

func hasLabel(err error, label string) bool {
	var le mongo.LabeledError
	return errors.As(err, &le) && le.HasErrorLabel(label)
}

// isTransient reports whether the whole transaction may be retried
// (write conflicts with a concurrent transaction, primary step-downs).
func isTransient(err error) bool { return hasLabel(err, labelTransient) }

// failure classifies an error from the append transaction.
type failure int

const (
	failOther          failure = iota
	failTransient              // retry the transaction
	failConflict               // the stream head or (stream, version) was taken: wrong expected version
	failIdempotencyDup         // the idempotency key was stored by a concurrent append
	failEventIDTaken           // a caller-supplied event id already exists
)

func (f failure) String() string {
	return [...]string{"other", "transient", "conflict", "idempotency-duplicate", "event-id-taken"}[f]
}

func classifyAppendError(err error) failure {
	if err == nil {
		return failOther
	}
	if isTransient(err) {
		return failTransient
	}
	if errors.Is(err, errHeadMoved) {
		return failConflict
	}
	k, ok := duplicateKey(err)
	if !ok {
		return failOther
	}
	switch {
	case k.Collection == collIdempotency:
		return failIdempotencyDup
	case k.Collection == collStreams, k.Index == idxStreamVersion:
		return failConflict
	case k.Collection == collEvents && k.Index == idxID:
		return failEventIDTaken
	}
	return failOther
}

// appendError maps a classified failure to the port's errors. current is the
// stream's version re-read after the failure (used for conflicts).
func appendError(f failure, req eventstore.AppendRequest, current int64, cause error) error {
	switch f {
	case failConflict:
		return &eventstore.ConflictError{StreamID: req.StreamID, Expected: req.Expected, Current: current}
	case failTransient:
		// Retries exhausted. A write conflict means other appends kept
		// winning the stream head: report it as a conflict. Anything else
		// (a fail-over, say) is returned as is.
		if hasCode(cause, codeWriteConflict) {
			return &eventstore.ConflictError{StreamID: req.StreamID, Expected: req.Expected, Current: current}
		}
		return fmt.Errorf("mongo event store: append to %q: %w", req.StreamID, cause)
	case failEventIDTaken:
		return fmt.Errorf("%w: an event id is already stored: %w", eventstore.ErrInvalidAppend, cause)
	default:
		return fmt.Errorf("mongo event store: append to %q: %w", req.StreamID, cause)
	}
}

// unavailable marks err with eventstore.ErrUnavailable when it means the
// deployment cannot serve right now: a network error, a timeout (server
// selection included), a disconnected client or a closed store.
func unavailable(err error) error {
	if err == nil || errors.Is(err, eventstore.ErrUnavailable) {
		return err
	}
	if errors.Is(err, ErrClosed) || mongodb.Unavailable(err) {
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	return err
}

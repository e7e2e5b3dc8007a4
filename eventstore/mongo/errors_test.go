package mongo

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/stretchr/testify/assert"
)

func dupMsg(coll, index string) string {
	return fmt.Sprintf("E11000 duplicate key error collection: cspm_events.%s index: %s dup key: { _id: \"x\" }", coll, index)
}

func writeDup(coll, index string) error {
	return mongo.WriteException{WriteErrors: mongo.WriteErrors{{Index: 0, Code: 11000, Message: dupMsg(coll, index)}}}
}

func TestClassifyAppendError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want failure
	}{
		{"stream head created by a racer", writeDup(collStreams, idxID), failConflict},
		{"stream version taken", writeDup(collEvents, idxStreamVersion), failConflict},
		{"event id taken", writeDup(collEvents, idxID), failEventIDTaken},
		{"idempotency key taken", writeDup(collIdempotency, idxID), failIdempotencyDup},
		{"command error form", mongo.CommandError{Code: 11000, Message: dupMsg(collEvents, idxStreamVersion)}, failConflict},
		{"bulk write form", mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: mongo.WriteError{Code: 11000, Message: dupMsg(collStreams, idxID)}}}}, failConflict},
		{"wrapped", fmt.Errorf("insert events: %w", writeDup(collEvents, idxID)), failEventIDTaken},
		{"write conflict in a transaction", mongo.CommandError{Code: 112, Name: "WriteConflict", Labels: []string{labelTransient}}, failTransient},
		{"labelled write exception", mongo.WriteException{Labels: []string{labelTransient}, WriteErrors: mongo.WriteErrors{{Code: 112}}}, failTransient},
		{"head moved", fmt.Errorf("write stream head: %w", errHeadMoved), failConflict},
		{"duplicate on an unknown index", writeDup(collEvents, "other"), failOther},
		{"duplicate with an unparsable message", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 11000, Message: "E11000"}}}, failOther},
		{"not a duplicate", mongo.CommandError{Code: 2, Message: dupMsg(collStreams, idxID)}, failOther},
		{"plain", errors.New("boom"), failOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classifyAppendError(tc.err); got != tc.want {
				t.Fatalf("classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDuplicateKeyNamesIndex(t *testing.T) {
	k, ok := duplicateKey(writeDup(collEvents, idxStreamVersion))
	if !ok || k != (dupKey{Collection: collEvents, Index: idxStreamVersion}) {
		t.Fatalf("got %+v %v", k, ok)
	}
	// A database name with dashes or underscores and a compound key.
	msg := `E11000 duplicate key error collection: cspm_events_test_ab12.events index: stream_version dup key: { stream_id: "s", version: 2 }`
	k, ok = duplicateKey(mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 11000, Message: msg}}})
	if !ok || k != (dupKey{Collection: collEvents, Index: idxStreamVersion}) {
		t.Fatalf("got %+v %v", k, ok)
	}
}

func TestAppendErrorMapping(t *testing.T) {
	req := eventstore.AppendRequest{StreamID: "s", Expected: eventstore.Exact(3)}
	for _, f := range []failure{failConflict} {
		err := appendError(f, req, 7, writeDup(collStreams, idxID))
		var ce *eventstore.ConflictError
		if !errors.As(err, &ce) || ce.Current != 7 || ce.StreamID != "s" || !errors.Is(err, eventstore.ErrConflict) {
			t.Fatalf("%v: got %v", f, err)
		}
	}
	// Retries exhausted on write conflicts: a conflict.
	wc := mongo.CommandError{Code: codeWriteConflict, Labels: []string{labelTransient}}
	if err := appendError(failTransient, req, 9, wc); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("exhausted write conflicts: %v", err)
	}
	// Retries exhausted on something else (a fail-over): not a conflict.
	stepDown := mongo.CommandError{Code: 189, Labels: []string{labelTransient}}
	if err := appendError(failTransient, req, 9, stepDown); errors.Is(err, eventstore.ErrConflict) || !isTransient(err) {
		t.Fatalf("exhausted fail-over: %v", err)
	}
	if err := appendError(failEventIDTaken, req, 0, writeDup(collEvents, idxID)); !errors.Is(err, eventstore.ErrInvalidAppend) {
		t.Fatalf("event id taken: %v", err)
	}
	boom := errors.New("boom")
	if err := appendError(failOther, req, 0, boom); !errors.Is(err, boom) || errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("other: %v", err)
	}
}

func TestChangeStreamsUnsupported(t *testing.T) {
	if !changeStreamsUnsupported(mongo.CommandError{Code: 40573, Message: "The $changeStream stage is only supported on replica sets"}) {
		t.Fatal("40573 means no change streams")
	}
	if changeStreamsUnsupported(mongo.CommandError{Code: 6, Name: "HostUnreachable"}) {
		t.Fatal("a network error is transient, not 'unsupported'")
	}
}

func TestHelloCheck(t *testing.T) {
	if err := (helloReply{SetName: "rs0"}).check(); err != nil {
		t.Fatal(err)
	}
	if err := (helloReply{Msg: "isdbgrid"}).check(); err != nil {
		t.Fatal(err)
	}
	if err := (helloReply{}).check(); !errors.Is(err, ErrStandalone) {
		t.Fatalf("standalone: %v", err)
	}
}

func TestUnavailableMarksUnreachableDeployments(t *testing.T) {
	network := mongo.CommandError{Code: 6, Message: "connection reset", Labels: []string{"NetworkError"}}
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"network error":       {fmt.Errorf("read all: %w", network), true},
		"client disconnected": {mongo.ErrClientDisconnected, true},
		"store closed":        {ErrClosed, true},
		"duplicate key":       {mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000"}}}, false},
		"caller deadline":     {context.DeadlineExceeded, false},
		"nil":                 {nil, false},
	} {
		got := unavailable(tc.err)
		assert.Equal(t, tc.want, errors.Is(got, eventstore.ErrUnavailable), name)
		if tc.want {
			assert.ErrorIs(t, got, tc.err, "%s: the cause stays in the chain", name)
		}
	}
}

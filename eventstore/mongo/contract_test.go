package mongo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/storetest"
)

const uriEnv = "CSPM_TEST_MONGODB_URI"

// TestContract runs the shared event-store contract against MongoDB, one
// fresh database per subtest. It needs a replica set (transactions).
func TestContract(t *testing.T) {
	uri := os.Getenv(uriEnv)
	if uri == "" {
		t.Skip("MongoDB contract suite NOT RUN: " + uriEnv + " is not set (make test-mongo)")
	}
	storetest.Run(t, func(t *testing.T, key eventstore.AuditKey) (eventstore.Store, storetest.Tamperer) {
		s := openTestStore(t, uri, key)
		return s, tamperer{s}
	})
}

// openTestStore opens a store on a uuid-suffixed database dropped at cleanup.
func openTestStore(t *testing.T, uri string, key eventstore.AuditKey) *Store {
	t.Helper()
	database := "cspm_events_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, uri, database, Options{
		SequencerLease: 2 * time.Second,
		PollInterval:   20 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		AuditKey:       key,
	})
	if err != nil {
		t.Fatalf("open %s: %v", database, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Errorf("drop %s: %v", database, err)
			return
		}
		defer client.Disconnect(ctx)
		if err := client.Database(database).Drop(ctx); err != nil {
			t.Errorf("drop %s: %v", database, err)
		}
	})
	return s
}

// tamperer edits the raw collections behind the store's back.
type tamperer struct{ s *Store }

var _ storetest.Tamperer = tamperer{}

func (tp tamperer) at(ctx context.Context, position int64) (eventDoc, error) {
	var d eventDoc
	if err := tp.s.events.FindOne(ctx, bson.D{{Key: "position", Value: position}}).Decode(&d); err != nil {
		return d, fmt.Errorf("event at position %d: %w", position, err)
	}
	return d, nil
}

func (tp tamperer) SetData(ctx context.Context, position int64, data []byte) error {
	r, err := tp.s.events.UpdateOne(ctx, bson.D{{Key: "position", Value: position}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: string(data)}}}})
	if err == nil && r.MatchedCount != 1 {
		err = fmt.Errorf("no event at position %d", position)
	}
	return err
}

func (tp tamperer) Delete(ctx context.Context, position int64) error {
	r, err := tp.s.events.DeleteOne(ctx, bson.D{{Key: "position", Value: position}})
	if err == nil && r.DeletedCount != 1 {
		err = fmt.Errorf("no event at position %d", position)
	}
	return err
}

// SwapPayloads exchanges everything but position and version. The event id
// is the _id, which cannot be updated, so both documents are replaced.
func (tp tamperer) SwapPayloads(ctx context.Context, posA, posB int64) error {
	a, err := tp.at(ctx, posA)
	if err != nil {
		return err
	}
	b, err := tp.at(ctx, posB)
	if err != nil {
		return err
	}
	a2, b2 := b, a
	a2.Position, a2.Version = a.Position, a.Version
	b2.Position, b2.Version = b.Position, b.Version
	return tp.s.inTxn(ctx, func(sc context.Context) error {
		if _, err := tp.s.events.DeleteMany(sc, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{a.ID, b.ID}}}}}); err != nil {
			return err
		}
		_, err := tp.s.events.InsertMany(sc, []any{a2, b2})
		return err
	})
}

// InsertRaw stores ev as given and moves the sequencer past its position, so
// later rounds do not collide with it.
func (tp tamperer) InsertRaw(ctx context.Context, ev eventstore.RecordedEvent) error {
	if _, err := tp.s.events.InsertOne(ctx, toEventDoc(ev)); err != nil {
		return err
	}
	return tp.bumpNext(ctx, ev.Position+1)
}

func (tp tamperer) bumpNext(ctx context.Context, next int64) error {
	_, err := tp.s.seq.UpdateOne(ctx, bson.D{{Key: "_id", Value: sequencerID}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "next", Value: next}}}})
	return err
}

// ReplaceRaw replaces the document at ev.Position (its _id may change).
func (tp tamperer) ReplaceRaw(ctx context.Context, ev eventstore.RecordedEvent) error {
	return tp.s.inTxn(ctx, func(sc context.Context) error {
		r, err := tp.s.events.DeleteOne(sc, bson.D{{Key: "position", Value: ev.Position}})
		if err != nil {
			return err
		}
		if r.DeletedCount != 1 {
			return fmt.Errorf("no event at position %d", ev.Position)
		}
		_, err = tp.s.events.InsertOne(sc, toEventDoc(ev))
		return err
	})
}

// Renumber moves the events to negative positions first, so that no move
// collides with an event still to move on the unique position index.
func (tp tamperer) Renumber(ctx context.Context, moves map[int64]int64) error {
	top := int64(0)
	err := tp.s.inTxn(ctx, func(sc context.Context) error {
		for from := range moves {
			if _, err := tp.s.events.UpdateOne(sc, bson.D{{Key: "position", Value: from}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "position", Value: -from}}}}); err != nil {
				return err
			}
		}
		for from, to := range moves {
			r, err := tp.s.events.UpdateOne(sc, bson.D{{Key: "position", Value: -from}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "position", Value: to}}}})
			if err != nil {
				return err
			}
			if r.MatchedCount != 1 {
				return fmt.Errorf("renumber: no event at position %d", from)
			}
			top = max(top, to)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tp.bumpNext(ctx, top+1)
}

func (tp tamperer) SetStreamHead(ctx context.Context, h eventstore.StreamInfo) error {
	_, err := tp.s.streams.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.StreamID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "stream_type", Value: h.StreamType}, {Key: "version", Value: h.Version},
			{Key: "last_hash", Value: h.LastHash}}}}, options.UpdateOne().SetUpsert(true))
	return err
}

func (tp tamperer) DeleteStreamHead(ctx context.Context, streamID string) error {
	r, err := tp.s.streams.DeleteOne(ctx, bson.D{{Key: "_id", Value: streamID}})
	if err == nil && r.DeletedCount != 1 {
		err = fmt.Errorf("no stream head %q", streamID)
	}
	return err
}

func (tp tamperer) SetMetadataKey(ctx context.Context, position int64, key string, value json.RawMessage) error {
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		return err
	}
	r, err := tp.s.events.UpdateOne(ctx, bson.D{{Key: "position", Value: position}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "metadata." + key, Value: v}}}})
	if err == nil && r.MatchedCount != 1 {
		err = fmt.Errorf("no event at position %d", position)
	}
	return err
}

func (tp tamperer) SetIdempotencyResult(ctx context.Context, key string, res eventstore.AppendResult) error {
	r, err := tp.s.idem.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "stream_id", Value: res.StreamID}, {Key: "version", Value: res.Version},
			{Key: "event_ids", Value: res.EventIDs}}}})
	if err == nil && r.MatchedCount != 1 {
		err = fmt.Errorf("no idempotency record %q", key)
	}
	return err
}

func (tp tamperer) DeleteCheckpoints(ctx context.Context, above int64) error {
	_, err := tp.s.checkpoints.DeleteMany(ctx, bson.D{{Key: "position", Value: bson.D{{Key: "$gt", Value: above}}}})
	return err
}

// TestSequencerFailover checks against a server that a second store takes
// over the lease when the first closes, with positions staying dense.
func TestSequencerFailover(t *testing.T) {
	uri := os.Getenv(uriEnv)
	if uri == "" {
		t.Skip("MongoDB fail-over test NOT RUN: " + uriEnv + " is not set (make test-mongo)")
	}
	a := openTestStore(t, uri, eventstore.AuditKey{})
	ctx := t.Context()
	b, err := Open(ctx, uri, a.db.Name(), Options{SequencerLease: time.Second, PollInterval: 20 * time.Millisecond, Logger: a.log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendOne := func(s *Store, stream string) eventstore.AppendResult {
		t.Helper()
		res, err := s.Append(ctx, eventstore.AppendRequest{
			StreamID: stream, StreamType: "T", Expected: eventstore.Any,
			Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: []byte(`{}`)}},
		})
		if err != nil {
			t.Fatalf("append via %s: %v", s.sq.holder, err)
		}
		return res
	}
	for i := range 10 {
		appendOne(a, fmt.Sprint("a-", i%3))
		appendOne(b, fmt.Sprint("b-", i%3))
	}
	var d sequencerDoc
	if err := a.seq.FindOne(ctx, bson.D{{Key: "_id", Value: sequencerID}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	leader, other := a, b
	if d.Holder == b.sq.holder {
		leader, other = b, a
	}
	if err := leader.Close(); err != nil { // hands the lease back
		t.Fatal(err)
	}
	res := appendOne(other, "after-failover")
	if got := res.LastPosition(); got != 21 {
		t.Fatalf("position after fail-over = %d, want 21", got)
	}
	evs, err := other.ReadAll(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, hole := firstHole(0, evs); hole || len(evs) != 21 {
		t.Fatalf("read %d events, hole=%v", len(evs), hole)
	}
	if err := other.seq.FindOne(ctx, bson.D{{Key: "_id", Value: sequencerID}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Holder != other.sq.holder || d.Token < 2 || d.Next != 22 {
		t.Fatalf("sequencer doc after fail-over: %+v", d)
	}
}

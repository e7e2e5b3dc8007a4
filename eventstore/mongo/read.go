package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/eventstore"
)

// positioned restricts a query to sequenced events; it matches the partial
// filter of the position index, so the planner can use that index.
var positioned = bson.E{Key: "$exists", Value: true}

func readStreamFilter(streamID string, o eventstore.ReadStreamOptions) bson.D {
	f := bson.D{{Key: "stream_id", Value: streamID}}
	var v bson.D
	if o.FromVersion > 0 {
		v = append(v, bson.E{Key: "$gte", Value: o.FromVersion})
	}
	if o.ToVersion > 0 {
		v = append(v, bson.E{Key: "$lte", Value: o.ToVersion})
	}
	if len(v) > 0 {
		f = append(f, bson.E{Key: "version", Value: v})
	}
	if !o.Until.IsZero() {
		// Stored times are whole milliseconds, so t <= Until iff t <= Until truncated.
		f = append(f, bson.E{Key: "recorded_at", Value: bson.D{{Key: "$lte", Value: eventstore.NormalizeTime(o.Until)}}})
	}
	return f
}

func readAllFilter(after int64) bson.D {
	return bson.D{{Key: "position", Value: bson.D{positioned, {Key: "$gt", Value: after}}}}
}

// ReadStream returns a stream's events in version order. An event whose
// append committed but is not sequenced yet has Position 0: it is returned
// so that the stream's version is never understated to a command handler.
func (s *Store) ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	r0, err := s.doReadStream(ctx, streamID, opts)
	return r0, unavailable(err)
}

// doReadStream is ReadStream before unavailable errors are marked.
func (s *Store) doReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	cur, err := s.events.Find(ctx, readStreamFilter(streamID, opts),
		options.Find().SetSort(bson.D{{Key: "version", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo event store: read stream %q: %w", streamID, err)
	}
	evs, err := decodeEvents(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("mongo event store: read stream %q: %w", streamID, err)
	}
	return evs, nil
}

// ReadAll returns up to limit (limit <= 0: all) sequenced events after the
// given position, in position order. Unsequenced events are invisible to it.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error) {
	r0, err := s.doReadAll(ctx, after, limit)
	return r0, unavailable(err)
}

// doReadAll is ReadAll before unavailable errors are marked.
func (s *Store) doReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error) {
	opts := options.Find().SetSort(bson.D{{Key: "position", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.events.Find(ctx, readAllFilter(after), opts)
	if err != nil {
		return nil, fmt.Errorf("mongo event store: read all after %d: %w", after, err)
	}
	evs, err := decodeEvents(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("mongo event store: read all after %d: %w", after, err)
	}
	if missing, ok := firstHole(after, evs); ok {
		// Rounds commit atomically, so this is not an append in flight: an
		// event was deleted behind the store's back. It is returned as is
		// (not hidden) so that Verify names the missing position.
		s.log.Error("global position missing from the events collection", "position", missing)
	}
	return evs, nil
}

// firstHole returns the first position missing from evs (sorted by
// position, read after the given position), if any.
func firstHole(after int64, evs []eventstore.RecordedEvent) (int64, bool) {
	for i, e := range evs {
		if want := after + int64(i) + 1; e.Position != want {
			return want, true
		}
	}
	return 0, false
}

// HeadPosition is the highest stamped position.
func (s *Store) HeadPosition(ctx context.Context) (int64, error) {
	r0, err := s.doHeadPosition(ctx)
	return r0, unavailable(err)
}

// doHeadPosition is HeadPosition before unavailable errors are marked.
func (s *Store) doHeadPosition(ctx context.Context) (int64, error) {
	return s.maxPosition(ctx)
}

func (s *Store) maxPosition(ctx context.Context) (int64, error) {
	var d struct {
		Position int64 `bson:"position"`
	}
	err := s.events.FindOne(ctx, bson.D{{Key: "position", Value: bson.D{positioned}}},
		options.FindOne().SetSort(bson.D{{Key: "position", Value: -1}}).SetProjection(bson.D{{Key: "position", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongo event store: head position: %w", err)
	}
	return d.Position, nil
}

// Streams lists stream heads ordered by stream id, after the given id
// (limit <= 0: all).
func (s *Store) Streams(ctx context.Context, after string, limit int) ([]eventstore.StreamInfo, error) {
	r0, err := s.doStreams(ctx, after, limit)
	return r0, unavailable(err)
}

// doStreams is Streams before unavailable errors are marked.
func (s *Store) doStreams(ctx context.Context, after string, limit int) ([]eventstore.StreamInfo, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.streams.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}, opts)
	if err != nil {
		return nil, fmt.Errorf("mongo event store: list streams: %w", err)
	}
	var docs []streamDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo event store: list streams: %w", err)
	}
	out := make([]eventstore.StreamInfo, len(docs))
	for i, d := range docs {
		out[i] = d.info()
	}
	return out, nil
}

// WaitForAppend blocks until the head passes after or ctx ends. It wakes on
// rounds of the local sequencer and on change-stream notifications of
// remote ones, and polls every PollInterval otherwise.
func (s *Store) WaitForAppend(ctx context.Context, after int64) error {
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	for {
		woken := s.head.wait()
		head, err := s.HeadPosition(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if head > after {
			return nil
		}
		select {
		case <-woken:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrClosed
		}
	}
}

func decodeEvents(ctx context.Context, cur *mongo.Cursor) ([]eventstore.RecordedEvent, error) {
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]eventstore.RecordedEvent, len(docs))
	for i, d := range docs {
		out[i] = d.recorded()
	}
	return out, nil
}

package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/cspm-es/cspm-es/eventstore"
)

const (
	// maxTxnAttempts bounds retries of a transaction that hit a write
	// conflict; past it a conflicting append reports ErrConflict.
	maxTxnAttempts = 8
	// commitTimeout bounds a commit that the caller's cancellation does not
	// interrupt (an interrupted commit has an unknown outcome).
	commitTimeout = 10 * time.Second
)

var (
	errStoredOutcome = errors.New("idempotency key already stored")
	errHeadMoved     = errors.New("stream head moved during the append")
)

// Append writes req.Events in one transaction, then waits until the
// sequencer has stamped their positions (see Options.AppendTimeout). When the
// wait ends first, the returned result has no positions and the error wraps
// ErrNotSequenced: the events are committed all the same.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	r0, err := s.doAppend(ctx, req)
	return r0, unavailable(err)
}

// doAppend is Append before unavailable errors are marked.
func (s *Store) doAppend(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := req.Validate(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if s.opts.ReadOnly {
		return eventstore.AppendResult{}, fmt.Errorf("append to %q: the store is open read-only", req.StreamID)
	}
	if err := s.keyMismatch(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %q: %w", req.StreamID, err)
	}
	for attempt := 1; ; attempt++ {
		res, stored, err := s.appendTxn(ctx, req)
		if err == nil && stored != nil {
			return s.duplicate(ctx, req.Idempotency, *stored)
		}
		if err == nil {
			s.kickSequencer()
			res.Positions, err = s.awaitPositions(ctx, res.EventIDs)
			return res, err
		}
		var ce *eventstore.ConflictError
		if errors.As(err, &ce) || errors.Is(err, eventstore.ErrInvalidAppend) {
			return eventstore.AppendResult{}, err
		}
		f := classifyAppendError(err)
		retry := attempt < maxTxnAttempts && ctx.Err() == nil
		switch {
		case (f == failTransient || f == failConflict && req.Expected.IsAny()) && retry:
			// A write conflict, or (for Any) a racing append took the head
			// first: rerun the transaction on the new head.
			s.log.Debug("append transaction conflict; retrying", "stream_id", req.StreamID, "attempt", attempt, "err", err)
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				return eventstore.AppendResult{}, werr
			}
			continue
		case f == failIdempotencyDup:
			d, found, lerr := s.loadIdempotency(ctx, req.Idempotency.Key)
			if lerr != nil {
				return eventstore.AppendResult{}, lerr
			}
			if found {
				return s.duplicate(ctx, req.Idempotency, d)
			}
			if retry { // the winner's commit is not visible to majority reads yet
				if werr := sleep(ctx, backoff(attempt)); werr != nil {
					return eventstore.AppendResult{}, werr
				}
				continue
			}
		case f == failConflict || f == failTransient:
			current, rerr := s.streamVersion(ctx, req.StreamID)
			if rerr != nil {
				return eventstore.AppendResult{}, fmt.Errorf("%w (re-reading the stream version: %w)", appendError(f, req, 0, err), rerr)
			}
			return eventstore.AppendResult{}, appendError(f, req, current, err)
		}
		return eventstore.AppendResult{}, appendError(f, req, 0, err)
	}
}

// appendTxn runs one attempt of the append transaction. When the idempotency
// key is already stored it writes nothing and returns the stored outcome.
func (s *Store) appendTxn(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, *idempotencyDoc, error) {
	var (
		res    eventstore.AppendResult
		stored idempotencyDoc
	)
	err := s.inTxn(ctx, func(sc context.Context) error {
		if key := req.Idempotency.Key; key != "" {
			err := s.idem.FindOne(sc, bson.D{{Key: "_id", Value: key}}).Decode(&stored)
			if err == nil {
				return errStoredOutcome
			}
			if !errors.Is(err, mongo.ErrNoDocuments) {
				return fmt.Errorf("read idempotency key: %w", err)
			}
		}
		var head streamDoc
		err := s.streams.FindOne(sc, bson.D{{Key: "_id", Value: req.StreamID}}).Decode(&head)
		exists := err == nil
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return fmt.Errorf("read stream head: %w", err)
		}
		if !req.Expected.Satisfied(head.Version) {
			return &eventstore.ConflictError{StreamID: req.StreamID, Expected: req.Expected, Current: head.Version}
		}
		if exists && head.StreamType != req.StreamType {
			return fmt.Errorf("%w: stream %q has type %q, not %q", eventstore.ErrInvalidAppend, req.StreamID, head.StreamType, req.StreamType)
		}
		now := time.Now()
		if now.Before(head.LastRecordedAt) { // another appender's clock was ahead
			now = head.LastRecordedAt
		}
		evs, err := eventstore.Prepare(req, head.Version, head.LastHash, now)
		if err != nil {
			return err
		}
		last := evs[len(evs)-1]
		if !exists {
			// A racing creator fails on the unique _id (or on a write conflict).
			_, err = s.streams.InsertOne(sc, streamDoc{ID: req.StreamID, StreamType: req.StreamType,
				Version: last.Version, LastHash: last.Hash, LastRecordedAt: last.RecordedAt})
		} else {
			var r *mongo.UpdateResult
			r, err = s.streams.UpdateOne(sc,
				bson.D{{Key: "_id", Value: req.StreamID}, {Key: "version", Value: head.Version}},
				bson.D{{Key: "$set", Value: bson.D{
					{Key: "version", Value: last.Version},
					{Key: "last_hash", Value: last.Hash},
					{Key: "last_recorded_at", Value: last.RecordedAt},
				}}})
			if err == nil && r.MatchedCount == 0 {
				err = errHeadMoved
			}
		}
		if err != nil {
			return fmt.Errorf("write stream head: %w", err)
		}
		docs := make([]any, len(evs))
		ids := make([]string, len(evs))
		for i, e := range evs {
			docs[i] = toEventDoc(e)
			ids[i] = e.EventID
		}
		if _, err := s.events.InsertMany(sc, docs); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		if key := req.Idempotency.Key; key != "" {
			d := idempotencyDoc{
				Key: key, Fingerprint: req.Idempotency.Fingerprint,
				StreamID: req.StreamID, EventIDs: ids, Version: last.Version, CreatedAt: last.RecordedAt,
			}
			d.MAC = eventstore.IdempotencyMAC(s.opts.AuditKey, key, d.Fingerprint, d.result(nil))
			_, err := s.idem.InsertOne(sc, d)
			if err != nil {
				return fmt.Errorf("store idempotency key: %w", err)
			}
		}
		res = eventstore.AppendResult{StreamID: req.StreamID, Version: last.Version, EventIDs: ids}
		return nil
	})
	if errors.Is(err, errStoredOutcome) {
		return eventstore.AppendResult{}, &stored, nil
	}
	return res, nil, err
}

func txnOptions() *options.TransactionOptionsBuilder {
	return options.Transaction().SetReadConcern(readconcern.Snapshot()).SetWriteConcern(writeconcern.Majority())
}

// inTxn runs fn in one transaction and commits it. It retries only the
// commit on UnknownTransactionCommitResult (committing is idempotent); the
// caller decides whether to rerun the whole transaction.
func (s *Store) inTxn(ctx context.Context, fn func(sc context.Context) error) error {
	sess, err := s.client.StartSession()
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	if err := sess.StartTransaction(txnOptions()); err != nil {
		return fmt.Errorf("start transaction: %w", err)
	}
	if err := fn(mongo.NewSessionContext(ctx, sess)); err != nil {
		_ = sess.AbortTransaction(context.WithoutCancel(ctx))
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := sess.CommitTransaction(cctx)
		if err == nil {
			return nil
		}
		if !hasLabel(err, labelUnknownCommit) || attempt == 3 {
			return fmt.Errorf("commit: %w", err)
		}
	}
}

// duplicate answers an append whose idempotency key is already stored.
func (s *Store) duplicate(ctx context.Context, idem eventstore.Idempotency, d idempotencyDoc) (eventstore.AppendResult, error) {
	if d.Fingerprint != idem.Fingerprint {
		return eventstore.AppendResult{}, fmt.Errorf("%w: key %q", eventstore.ErrIdempotencyMismatch, idem.Key)
	}
	positions, err := s.awaitPositions(ctx, d.EventIDs)
	res := d.result(positions)
	res.Duplicate = true
	return res, err
}

func (s *Store) loadIdempotency(ctx context.Context, key string) (idempotencyDoc, bool, error) {
	var d idempotencyDoc
	err := s.idem.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("mongo event store: read idempotency key: %w", err)
	}
	return d, true, nil
}

// LookupIdempotency returns the outcome stored under key. Positions are
// re-read from the events, waiting for the sequencer like Append does.
func (s *Store) LookupIdempotency(ctx context.Context, key string) (eventstore.AppendResult, string, bool, error) {
	r0, r1, r2, err := s.doLookupIdempotency(ctx, key)
	return r0, r1, r2, unavailable(err)
}

// doLookupIdempotency is LookupIdempotency before unavailable errors are marked.
func (s *Store) doLookupIdempotency(ctx context.Context, key string) (eventstore.AppendResult, string, bool, error) {
	d, found, err := s.loadIdempotency(ctx, key)
	if err != nil || !found {
		return eventstore.AppendResult{}, "", false, err
	}
	positions, err := s.awaitPositions(ctx, d.EventIDs)
	return d.result(positions), d.Fingerprint, true, err
}

func (s *Store) streamVersion(ctx context.Context, streamID string) (int64, error) {
	var head streamDoc
	err := s.streams.FindOne(ctx, bson.D{{Key: "_id", Value: streamID}}).Decode(&head)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, fmt.Errorf("mongo event store: read stream head: %w", err)
	}
	return head.Version, nil
}

// awaitPositions waits until every id has a position, waking on the
// sequencer's notifications and polling otherwise.
func (s *Store) awaitPositions(ctx context.Context, ids []string) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.AppendTimeout)
	defer cancel()
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		woken := s.head.wait()
		positions, done, err := s.positionsOf(ctx, ids)
		if err == nil && done {
			return positions, nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-woken:
		case <-tick.C:
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("%w: %d event(s): %w", ErrNotSequenced, len(ids), ctx.Err()), lastErr)
		case <-s.closed:
			return nil, fmt.Errorf("%w: %w", ErrNotSequenced, ErrClosed)
		}
	}
}

// positionsOf returns the positions of ids in order; done is false while
// any of them is unsequenced.
func (s *Store) positionsOf(ctx context.Context, ids []string) ([]int64, bool, error) {
	cur, err := s.events.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "position", Value: 1}}))
	if err != nil {
		return nil, false, fmt.Errorf("mongo event store: read positions: %w", err)
	}
	var docs []struct {
		ID       string `bson:"_id"`
		Position int64  `bson:"position"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, false, fmt.Errorf("mongo event store: read positions: %w", err)
	}
	byID := make(map[string]int64, len(docs))
	for _, d := range docs {
		byID[d.ID] = d.Position
	}
	out := make([]int64, len(ids))
	for i, id := range ids {
		if out[i] = byID[id]; out[i] == 0 {
			return nil, false, nil
		}
	}
	return out, true, nil
}

// backoff is a full-jitter exponential delay before attempt+1 (at most 100ms).
func backoff(attempt int) time.Duration {
	ceiling := min(100*time.Millisecond, time.Millisecond<<min(attempt, 7))
	return rand.N(ceiling) + 1
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

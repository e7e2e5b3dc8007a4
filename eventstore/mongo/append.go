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
	errNothingToWrite = errors.New("every request of the batch is an idempotent duplicate")
	errHeadMoved      = errors.New("stream head moved during the append")
)

// Append writes req.Events: it is AppendBatch of one request. When the
// wait for positions ends first, the returned result has no positions and
// the error wraps ErrNotSequenced: the events are committed all the same.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	res, err := s.AppendBatch(ctx, []eventstore.AppendRequest{req})
	if len(res) == 0 {
		return eventstore.AppendResult{}, err
	}
	return res[0], err
}

// AppendBatch writes every request's events in one transaction, then waits
// until the sequencer has stamped their positions (see
// Options.AppendTimeout). The batch's events are one unit for the
// sequencer (batch fields of eventDoc): they get consecutive positions in
// request order, in one round. When the wait ends first, the results have
// no positions and the error wraps ErrNotSequenced: the events are
// committed all the same.
func (s *Store) AppendBatch(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error) {
	res, err := s.doAppend(ctx, reqs)
	return res, unavailable(err)
}

// doAppend is AppendBatch before unavailable errors are marked.
func (s *Store) doAppend(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error) {
	if err := eventstore.ValidateBatch(reqs); err != nil {
		return nil, err
	}
	what := describe(reqs)
	if s.opts.ReadOnly {
		return nil, fmt.Errorf("%s: the store is open read-only", what)
	}
	if err := s.keyMismatch(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for attempt := 1; ; attempt++ {
		plan, stored, err := s.appendTxn(ctx, reqs)
		if err == nil {
			return s.finish(ctx, reqs, plan, stored)
		}
		var ce *eventstore.ConflictError
		if errors.As(err, &ce) || errors.Is(err, eventstore.ErrInvalidAppend) || errors.Is(err, eventstore.ErrIdempotencyMismatch) {
			return nil, err
		}
		f := classifyAppendError(err)
		retry := attempt < maxTxnAttempts && ctx.Err() == nil
		// A write conflict; a racing append took a head first (for Any,
		// running again appends after it); or a concurrent append stored
		// an idempotency key of the batch (running again finds it and
		// answers that request with it, appending the rest): run the
		// transaction again on what is committed now.
		rerun := retry && (f == failTransient || f == failIdempotencyDup || f == failConflict && allAny(reqs))
		if f == failConflict && !allAny(reqs) {
			// A head moved under an exact expectation: if one of the
			// batch's expectations no longer holds, its stream's conflict
			// is the answer; if they all hold again, run it again.
			_, derr := s.dryRun(ctx, reqs)
			if errors.As(derr, &ce) {
				return nil, ce
			}
			rerun = retry && derr == nil
		}
		if rerun {
			s.log.Debug("append transaction conflict; retrying", "append", what, "attempt", attempt, "failure", f, "err", err)
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				return nil, werr
			}
			continue
		}
		return nil, s.appendFailed(ctx, reqs, f, err)
	}
}

// appendFailed maps the failure of the last attempt onto the port's errors.
func (s *Store) appendFailed(ctx context.Context, reqs []eventstore.AppendRequest, f failure, cause error) error {
	if f == failConflict || f == failTransient && hasCode(cause, codeWriteConflict) {
		// Other appends kept winning: a conflict, on the stream whose
		// expectation fails now, else on the first request's stream.
		heads, err := s.dryRun(ctx, reqs)
		var ce *eventstore.ConflictError
		switch {
		case errors.As(err, &ce):
			return ce
		case err != nil && heads == nil:
			return fmt.Errorf("%w (re-reading the stream versions: %w)", appendError(f, reqs[0], 0, cause), err)
		}
		return appendError(f, reqs[0], heads[reqs[0].StreamID].Version, cause)
	}
	if len(reqs) == 1 || f == failEventIDTaken {
		return appendError(f, reqs[0], 0, cause)
	}
	return fmt.Errorf("mongo event store: %s: %w", describe(reqs), cause)
}

// describe names what a call appends, for error messages.
func describe(reqs []eventstore.AppendRequest) string {
	if len(reqs) == 1 {
		return fmt.Sprintf("append to %q", reqs[0].StreamID)
	}
	return fmt.Sprintf("append batch of %d requests", len(reqs))
}

func allAny(reqs []eventstore.AppendRequest) bool {
	for _, r := range reqs {
		if !r.Expected.IsAny() {
			return false
		}
	}
	return true
}

// plan reads what the batch depends on (its idempotency keys, its streams'
// heads) with ctx (a transaction's session context, or none) and plans it
// (eventstore.PlanBatch). The batch is recorded at the latest of now and
// its streams' last recording times, so recorded_at never goes backwards
// within a stream whatever the appenders' clocks say.
func (s *Store) plan(ctx context.Context, reqs []eventstore.AppendRequest) (*eventstore.BatchPlan, map[string]idempotencyDoc, map[string]eventstore.StreamHead, error) {
	var keys bson.A
	for _, r := range reqs {
		if r.Idempotency.Key != "" {
			keys = append(keys, r.Idempotency.Key)
		}
	}
	stored := map[string]idempotencyDoc{}
	fps := map[string]string{}
	if len(keys) > 0 {
		var docs []idempotencyDoc
		cur, err := s.idem.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
		if err == nil {
			err = cur.All(ctx, &docs)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read idempotency keys: %w", err)
		}
		for _, d := range docs {
			stored[d.Key], fps[d.Key] = d, d.Fingerprint
		}
	}
	var read map[string]eventstore.StreamHead
	plan, err := eventstore.PlanBatch(reqs, fps, func(streams []string) (map[string]eventstore.StreamHead, time.Time, error) {
		var docs []streamDoc
		cur, err := s.streams.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: streams}}}})
		if err == nil {
			err = cur.All(ctx, &docs)
		}
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("read stream heads: %w", err)
		}
		now := time.Now()
		read = make(map[string]eventstore.StreamHead, len(docs))
		for _, d := range docs {
			read[d.ID] = eventstore.StreamHead{StreamType: d.StreamType, Version: d.Version, LastHash: d.LastHash}
			if now.Before(d.LastRecordedAt) { // another appender's clock was ahead
				now = d.LastRecordedAt
			}
		}
		return read, now, nil
	})
	return plan, stored, read, err
}

// dryRun plans the batch outside any transaction, on what is committed
// now: its error is the *ConflictError of the first expectation that no
// longer holds (or nil when they all hold). It returns the heads it read.
func (s *Store) dryRun(ctx context.Context, reqs []eventstore.AppendRequest) (map[string]eventstore.StreamHead, error) {
	_, _, heads, err := s.plan(ctx, reqs)
	return heads, err
}

// appendTxn runs one attempt of the batch's transaction: it plans the
// batch on the transaction's snapshot and writes the stream heads (each
// insert or update guarded by the version it read), the events (pending,
// one sequencing unit) and the idempotency records. When every request is
// an idempotent duplicate it writes nothing.
func (s *Store) appendTxn(ctx context.Context, reqs []eventstore.AppendRequest) (*eventstore.BatchPlan, map[string]idempotencyDoc, error) {
	var (
		plan   *eventstore.BatchPlan
		stored map[string]idempotencyDoc
	)
	err := s.inTxn(ctx, func(sc context.Context) error {
		var err error
		plan, stored, _, err = s.plan(sc, reqs)
		if err != nil {
			return err
		}
		if !plan.Writes() {
			return errNothingToWrite
		}
		heads, updates := headModels(plan)
		r, err := s.streams.BulkWrite(sc, heads, options.BulkWrite().SetOrdered(true))
		if err == nil && r.MatchedCount != int64(updates) {
			err = errHeadMoved
		}
		if err != nil {
			return fmt.Errorf("write stream heads: %w", err)
		}
		if _, err := s.events.InsertMany(sc, eventDocs(plan.Events)); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		if docs := s.idempotencyDocs(reqs, plan); len(docs) > 0 {
			if _, err := s.idem.InsertMany(sc, docs); err != nil {
				return fmt.Errorf("store idempotency keys: %w", err)
			}
		}
		return nil
	})
	if errors.Is(err, errNothingToWrite) {
		return plan, stored, nil
	}
	return plan, stored, err
}

// headModels are the writes of the batch's stream heads: an insert for a
// stream the batch creates (a racing creator fails on the unique _id), an
// update guarded by the version read for the others (updates of them).
func headModels(plan *eventstore.BatchPlan) (models []mongo.WriteModel, updates int) {
	for _, h := range plan.Heads {
		a := h.After
		if h.Before == 0 {
			models = append(models, mongo.NewInsertOneModel().SetDocument(streamDoc{ID: a.StreamID, StreamType: a.StreamType,
				Version: a.Version, LastHash: a.LastHash, LastRecordedAt: plan.RecordedAt}))
			continue
		}
		updates++
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: a.StreamID}, {Key: "version", Value: h.Before}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{
				{Key: "version", Value: a.Version},
				{Key: "last_hash", Value: a.LastHash},
				{Key: "last_recorded_at", Value: plan.RecordedAt},
			}}}))
	}
	return models, updates
}

// eventDocs are the documents of a batch's events, pending. A batch of
// more than one event is one sequencing unit: every document names the
// unit (the first event's id), its index in it and the unit's size, and
// the sequencer stamps the unit whole, in index order, in one round.
func eventDocs(evs []eventstore.RecordedEvent) []any {
	docs := make([]any, len(evs))
	for i, e := range evs {
		d := toEventDoc(e)
		if len(evs) > 1 {
			d.Batch, d.BatchSeq, d.BatchLen = evs[0].EventID, i, len(evs)
		}
		docs[i] = d
	}
	return docs
}

// idempotencyDocs are the records of the batch's appending requests that
// carry a key, with their MACs.
func (s *Store) idempotencyDocs(reqs []eventstore.AppendRequest, plan *eventstore.BatchPlan) []any {
	var docs []any
	for i, r := range reqs {
		key := r.Idempotency.Key
		if key == "" || !plan.Requests[i].Appends() {
			continue
		}
		res := plan.Result(reqs, i, nil)
		d := idempotencyDoc{
			Key: key, Fingerprint: r.Idempotency.Fingerprint,
			StreamID: r.StreamID, EventIDs: res.EventIDs, Version: res.Version, CreatedAt: plan.RecordedAt,
		}
		d.MAC = eventstore.IdempotencyMAC(s.opts.AuditKey, key, d.Fingerprint, d.result(nil))
		docs = append(docs, d)
	}
	return docs
}

// finish answers a committed (or wholly duplicate) batch: it kicks the
// sequencer and waits until the batch's events, and those of the stored
// outcomes it repeats, have positions.
func (s *Store) finish(ctx context.Context, reqs []eventstore.AppendRequest, plan *eventstore.BatchPlan, stored map[string]idempotencyDoc) ([]eventstore.AppendResult, error) {
	if plan.Writes() {
		s.kickSequencer()
	}
	ids := make([]string, 0, len(plan.Events))
	for _, e := range plan.Events {
		ids = append(ids, e.EventID)
	}
	first := make([]int, len(reqs)) // a stored duplicate's first id in ids
	for i, r := range reqs {
		if plan.Requests[i].Stored {
			first[i] = len(ids)
			ids = append(ids, stored[r.Idempotency.Key].EventIDs...)
		}
	}
	positions, err := s.awaitPositions(ctx, ids)
	res := make([]eventstore.AppendResult, len(reqs))
	for i, r := range reqs {
		if !plan.Requests[i].Stored {
			res[i] = plan.Result(reqs, i, positions) // nil positions: none yet
			continue
		}
		d := stored[r.Idempotency.Key]
		var pos []int64
		if positions != nil {
			pos = positions[first[i] : first[i]+len(d.EventIDs)]
		}
		res[i] = d.result(append([]int64(nil), pos...))
		res[i].Duplicate = true
	}
	return res, err
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

package mongo

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/eventstore"
)

// roundBatch bounds the events one sequencer round stamps.
const roundBatch = 500

// sequencer is this process's candidate for the single sequencer. It holds
// the lease while token != 0 and the local lease clock has not run out.
type sequencer struct {
	s      *Store
	holder string // unique per Store instance

	token      int64     // fencing token of the current lease; 0 when not leading
	validUntil time.Time // local, conservative end of the lease (monotonic clock)
	renewAt    time.Time
	nextTry    time.Time // when a follower next tries to take the lease

	brokenLogged time.Time

	hasher  *eventstore.LogHasher // the global chain's, under the store's key
	keyed   bool                  // the store is claimed for this Store's key
	chained bool                  // the stored events were chained (backfill) by this process
}

// errUnchained: the global chain's head in the sequencer document is
// behind next-1 (a store from before the chain): the leader must chain the
// stored events before it stamps new ones.
var errUnchained = errors.New("the global chain is behind the positions")

func (q *sequencer) leading() bool { return q.token != 0 && time.Now().Before(q.validUntil) }

// run elects, renews and stamps until ctx ends.
func (q *sequencer) run(ctx context.Context) {
	log := q.s.log.With("holder", q.holder)
	poll := time.NewTicker(q.s.opts.PollInterval)
	defer poll.Stop()
	var lastWarn time.Time
	warn := func(msg string, err error) { // at most one a second: failures repeat every PollInterval
		if time.Since(lastWarn) >= time.Second {
			lastWarn = time.Now()
			log.Warn(msg, "err", err)
		}
	}
	for ctx.Err() == nil {
		now := time.Now()
		if (q.token != 0 && !now.Before(q.renewAt)) || (q.token == 0 && !now.Before(q.nextTry)) {
			if err := q.acquire(ctx); err != nil && ctx.Err() == nil {
				warn("sequencer lease", err)
			}
		}
		more := false
		if q.leading() && !q.ready(ctx, warn) {
			if q.s.keyMismatch() != nil {
				q.release(ctx) // another key's store: let a process with the right key sequence
				log.Error("sequencer stopped: the store is chained with another audit key", "err", q.s.keyMismatch())
				return
			}
		} else if q.leading() {
			n, full, err := q.round(ctx)
			switch {
			case errors.Is(err, errUnchained):
				q.chained = false
				more = true
			case errors.Is(err, errDeposed):
				log.Info("sequencer deposed: another process holds the lease", "token", q.token)
				q.token = 0
			case err != nil && ctx.Err() == nil:
				warn("sequencer round failed; will retry", err)
			case n > 0:
				q.s.head.notify()
				more = full
			}
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
		case <-q.s.kick:
		case <-poll.C:
		}
	}
}

// ready claims the store for this Store's audit key and chains what an
// older version stored, once per process, before the leader's first round.
func (q *sequencer) ready(ctx context.Context, warn func(string, error)) bool {
	if !q.keyed {
		if err := q.s.claimKey(ctx); err != nil {
			if ctx.Err() == nil && q.s.keyMismatch() == nil {
				warn("sequencer: claim the audit key", err)
			}
			return false
		}
		q.keyed = true
		if n, err := q.s.signIdempotency(ctx); err != nil {
			warn("sequencer: sign idempotency records", err)
		} else if n > 0 {
			q.s.log.Info("idempotency records signed with the audit key", "records", n)
		}
	}
	if !q.chained {
		n, err := q.backfill(ctx)
		if err != nil {
			if ctx.Err() == nil {
				warn("sequencer: chain stored events", err)
			}
			return false
		}
		if n > 0 {
			q.s.log.Info("stored events chained with the audit key", "events", n, "key_id", q.s.opts.AuditKey.ID())
		}
		q.chained = true
	}
	return true
}

// backfill brings the global chain's head (chained_to, log_hash in the
// sequencer document) up to next-1: every stamped event without a log hash
// gets one, in position order; log hashes already stored are kept (Verify
// judges them). Each batch commits with the head's advance, fenced by the
// lease, so a successor continues where a failed leader stopped.
func (q *sequencer) backfill(ctx context.Context) (int, error) {
	done := 0
	for {
		var d sequencerDoc
		if err := q.s.seq.FindOne(ctx, bson.D{{Key: "_id", Value: sequencerID}}).Decode(&d); err != nil {
			return done, fmt.Errorf("read sequencer: %w", err)
		}
		if d.ChainedTo >= d.Next-1 {
			return done, nil
		}
		var evs []struct {
			ID       string `bson:"_id"`
			Position int64  `bson:"position"`
			Hash     string `bson:"hash"`
			LogHash  string `bson:"log_hash"`
		}
		cur, err := q.s.events.Find(ctx,
			bson.D{{Key: "position", Value: bson.D{positioned, {Key: "$gt", Value: d.ChainedTo}, {Key: "$lt", Value: d.Next}}}},
			options.Find().SetSort(bson.D{{Key: "position", Value: 1}}).SetLimit(roundBatch).
				SetProjection(bson.D{{Key: "position", Value: 1}, {Key: "hash", Value: 1}, {Key: "log_hash", Value: 1}}))
		if err == nil {
			err = cur.All(ctx, &evs)
		}
		if err != nil {
			return done, fmt.Errorf("read stored events: %w", err)
		}
		var models []mongo.WriteModel
		prev := d.LogHash
		for _, e := range evs {
			if e.LogHash == "" {
				e.LogHash = q.hasher.Next(prev, e.Position, e.Hash)
				models = append(models, mongo.NewUpdateOneModel().
					SetFilter(bson.D{{Key: "_id", Value: e.ID}, {Key: "log_hash", Value: bson.D{{Key: "$exists", Value: false}}}}).
					SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "log_hash", Value: e.LogHash}}}}))
			}
			prev = e.LogHash
		}
		// A full batch moves the head to its last event; a partial one read
		// the whole range, so the head moves to next-1 (past positions that
		// are missing: Verify reports those).
		chainedTo := d.Next - 1
		if len(evs) == roundBatch {
			chainedTo = evs[len(evs)-1].Position
		}
		fence := bson.D{{Key: "_id", Value: sequencerID}, {Key: "holder", Value: q.holder}, {Key: "token", Value: q.token},
			{Key: "chained_to", Value: d.ChainedTo}}
		err = q.s.inTxn(ctx, func(sc context.Context) error {
			if len(models) > 0 {
				if _, err := q.s.events.BulkWrite(sc, models, options.BulkWrite().SetOrdered(true)); err != nil {
					return fmt.Errorf("write log hashes: %w", err)
				}
			}
			u, err := q.s.seq.UpdateOne(sc, fence, bson.D{{Key: "$set", Value: bson.D{
				{Key: "chained_to", Value: chainedTo}, {Key: "log_hash", Value: prev}}}})
			if err != nil {
				return fmt.Errorf("advance the chain's head: %w", err)
			}
			if u.MatchedCount != 1 {
				return errDeposed
			}
			return nil
		})
		if err != nil {
			return done, err
		}
		done += len(models)
	}
}

// acquireUpdate takes the lease if this holder has it or it has expired on
// the server clock ($$NOW), renewing it for lease; a takeover increments the
// fencing token. Otherwise the document is left as it is.
func acquireUpdate(holder string, lease time.Duration) mongo.Pipeline {
	me := bson.D{{Key: "$literal", Value: holder}} // never read as a field path
	mine := bson.D{{Key: "$eq", Value: bson.A{"$holder", me}}}
	take := "$_take"
	return mongo.Pipeline{
		{{Key: "$set", Value: bson.D{{Key: "_take", Value: bson.D{{Key: "$or", Value: bson.A{
			mine,
			bson.D{{Key: "$lte", Value: bson.A{"$lease_until", "$$NOW"}}},
		}}}}}}},
		{{Key: "$set", Value: bson.D{ // one stage: every expression sees the old values
			{Key: "token", Value: bson.D{{Key: "$cond", Value: bson.A{
				bson.D{{Key: "$and", Value: bson.A{take, bson.D{{Key: "$not", Value: bson.A{mine}}}}}},
				bson.D{{Key: "$add", Value: bson.A{"$token", int64(1)}}},
				"$token",
			}}}},
			{Key: "lease_until", Value: bson.D{{Key: "$cond", Value: bson.A{
				take, bson.D{{Key: "$add", Value: bson.A{"$$NOW", lease.Milliseconds()}}}, "$lease_until",
			}}}},
			{Key: "holder", Value: bson.D{{Key: "$cond", Value: bson.A{take, me, "$holder"}}}},
		}}},
		{{Key: "$unset", Value: "_take"}},
	}
}

func (q *sequencer) acquire(ctx context.Context) error {
	lease := q.s.opts.SequencerLease
	start := time.Now()
	q.nextTry = start.Add(lease / 4)
	var d sequencerDoc
	err := q.s.seq.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: sequencerID}}, acquireUpdate(q.holder, lease),
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	if d.Holder != q.holder {
		if q.token != 0 {
			q.s.log.Info("sequencer lease lost", "holder", q.holder, "new_holder", d.Holder, "token", d.Token)
		}
		q.token = 0
		return nil
	}
	if d.Token != q.token {
		q.s.log.Info("sequencer lease acquired", "holder", q.holder, "token", d.Token, "next_position", d.Next)
	}
	q.token = d.Token
	// The server's expiry is $$NOW+lease with $$NOW later than start, so
	// start+lease ends no later than it does (clock rates assumed similar).
	q.validUntil = start.Add(lease)
	q.renewAt = start.Add(lease / 3)
	return nil
}

// release hands the lease back on Close so a successor need not wait for it
// to expire.
func (q *sequencer) release(ctx context.Context) {
	if q.token == 0 {
		return
	}
	_, err := q.s.seq.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: sequencerID}, {Key: "holder", Value: q.holder}, {Key: "token", Value: q.token}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_until", Value: time.Unix(0, 0).UTC()}}}})
	if err != nil {
		q.s.log.Warn("sequencer lease release", "err", err)
	}
	q.token = 0
}

// pendingEvent is an unsequenced event as the sequencer sees it.
type pendingEvent struct {
	ID         string    `bson:"_id"`
	StreamID   string    `bson:"stream_id"`
	Version    int64     `bson:"version"`
	RecordedAt time.Time `bson:"recorded_at"`
	Hash       string    `bson:"hash"`
	// The event's sequencing unit (see eventDoc); empty: a unit of its own.
	Batch    string `bson:"batch"`
	BatchSeq int    `bson:"batch_seq"`
	BatchLen int    `bson:"batch_len"`
}

// unit is the id of the sequencing unit of e: all the events of one append
// are stamped together, at consecutive positions.
func (e pendingEvent) unit() string {
	if e.Batch != "" {
		return e.Batch
	}
	return e.ID
}

var pendingProjection = bson.D{{Key: "stream_id", Value: 1}, {Key: "version", Value: 1}, {Key: "recorded_at", Value: 1}, {Key: "hash", Value: 1},
	{Key: "batch", Value: 1}, {Key: "batch_seq", Value: 1}, {Key: "batch_len", Value: 1}}

// round stamps one batch: it reads unsequenced events, completes them with
// the rest of their units and any unsequenced predecessors, plans a dense
// assignment and commits it in one transaction fenced by the lease token.
// more reports that pending events may be left that the next round can
// stamp at once.
func (q *sequencer) round(ctx context.Context) (n int, more bool, err error) {
	var cand []pendingEvent
	cur, err := q.s.events.Find(ctx, bson.D{{Key: "pending", Value: true}},
		options.Find().SetSort(bson.D{{Key: "recorded_at", Value: 1}, {Key: "_id", Value: 1}}).
			SetLimit(roundBatch).SetProjection(pendingProjection))
	if err == nil {
		err = cur.All(ctx, &cand)
	}
	if err != nil {
		return 0, false, fmt.Errorf("read unsequenced events: %w", err)
	}
	if len(cand) == 0 {
		return 0, false, nil
	}
	r, err := q.resolve(ctx, cand)
	if err != nil {
		return 0, false, err
	}
	if len(r.broken) > 0 && time.Since(q.brokenLogged) >= time.Minute {
		q.brokenLogged = time.Now()
		q.s.log.Error("unsequenced events whose predecessor is missing are held back (store damaged?)", "streams", r.broken)
	}
	if len(r.partial) > 0 {
		q.s.log.Warn("units found partly sequenced already (by a sequencer of an older version?): stamping the rest", "units", r.partial)
	}
	plan, _ := planRound(r.set, r.heads, r.whole, roundBatch)
	if len(plan) == 0 {
		return 0, false, nil
	}
	token := q.token
	fence := bson.D{{Key: "_id", Value: sequencerID}, {Key: "holder", Value: q.holder}, {Key: "token", Value: token}}
	err = q.s.inTxn(ctx, func(sc context.Context) error {
		// Read next, stamp, then advance next under the fencing filter. The
		// sequencer document is written last so that a leader dying before
		// its commit leaves it locked for as short a time as possible.
		var d sequencerDoc
		err := q.s.seq.FindOne(sc, fence).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return errDeposed
		}
		if err != nil {
			return fmt.Errorf("read next position: %w", err)
		}
		if d.ChainedTo < d.Next-1 {
			return errUnchained
		}
		models, logHash := stampModels(plan, d.Next, d.LogHash, q.hasher)
		r, err := q.s.events.BulkWrite(sc, models, options.BulkWrite().SetOrdered(true))
		if err != nil {
			return fmt.Errorf("stamp positions: %w", err)
		}
		if r.ModifiedCount != int64(len(plan)) {
			return fmt.Errorf("stamp positions: %d of %d events were still unsequenced", r.ModifiedCount, len(plan))
		}
		u, err := q.s.seq.UpdateOne(sc, append(slices.Clip(fence), bson.E{Key: "next", Value: d.Next}),
			bson.D{
				{Key: "$inc", Value: bson.D{{Key: "next", Value: int64(len(plan))}}},
				{Key: "$set", Value: bson.D{{Key: "chained_to", Value: d.Next + int64(len(plan)) - 1}, {Key: "log_hash", Value: logHash}}},
			})
		if err != nil {
			return fmt.Errorf("advance next position: %w", err)
		}
		if u.MatchedCount != 1 {
			return errDeposed
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	// A full read, or a plan cut at the limit, may have left more behind.
	return len(plan), len(cand) == roundBatch || len(plan) >= roundBatch, nil
}

// resolved is what a round knows before planning: the pending events it
// considers (set), the highest sequenced version of each of their streams
// that could be found (heads), the units all of whose pending events are
// in set (whole), streams whose predecessor is missing (broken) and units
// found with fewer pending events than their size (partial).
type resolved struct {
	set     []pendingEvent
	heads   map[string]int64
	whole   map[string]bool
	broken  []string
	partial []string
}

// resolve completes cand into a set the planner can stamp from: it adds
// the rest of every unit (complete) and, for every stream, looks up the
// predecessor of its lowest pending version to find its highest sequenced
// version (heads), adding unsequenced predecessors that were not among
// cand. A predecessor of a visible event is committed (the stream head
// orders the appends), so it is visible too; and a unit is committed in
// one transaction, so all of it is. Streams whose predecessor is missing
// altogether are reported as broken and get no head.
func (q *sequencer) resolve(ctx context.Context, cand []pendingEvent) (resolved, error) {
	r := resolved{set: cand, heads: map[string]int64{}, whole: map[string]bool{}}
	for range 4 {
		if err := q.complete(ctx, &r); err != nil {
			return r, err
		}
		var ask bson.A
		lowest := lowestVersions(r.set, r.heads)
		for stream, v := range lowest {
			if v == 1 {
				r.heads[stream] = 0
				continue
			}
			ask = append(ask, bson.D{{Key: "stream_id", Value: stream}, {Key: "version", Value: v - 1}})
		}
		if len(ask) == 0 {
			break
		}
		var preds []struct {
			StreamID string `bson:"stream_id"`
			Version  int64  `bson:"version"`
			Position int64  `bson:"position"`
		}
		cur, err := q.s.events.Find(ctx, bson.D{{Key: "$or", Value: ask}},
			options.Find().SetProjection(bson.D{{Key: "stream_id", Value: 1}, {Key: "version", Value: 1}, {Key: "position", Value: 1}}))
		if err == nil {
			err = cur.All(ctx, &preds)
		}
		if err != nil {
			return r, fmt.Errorf("read predecessors: %w", err)
		}
		found := map[string]bool{}
		var fetch []string
		for _, p := range preds {
			found[p.StreamID] = true
			if p.Position != 0 {
				r.heads[p.StreamID] = p.Version
			} else {
				fetch = append(fetch, p.StreamID)
			}
		}
		for stream := range lowest {
			if _, ok := r.heads[stream]; !ok && !found[stream] && lowest[stream] > 1 {
				r.broken = append(r.broken, stream)
				r.heads[stream] = -1 // known broken: never matches a version
			}
		}
		if len(fetch) == 0 {
			break
		}
		var more []pendingEvent
		cur, err = q.s.events.Find(ctx,
			bson.D{{Key: "pending", Value: true}, {Key: "stream_id", Value: bson.D{{Key: "$in", Value: fetch}}}},
			options.Find().SetSort(bson.D{{Key: "stream_id", Value: 1}, {Key: "version", Value: 1}}).
				SetLimit(roundBatch).SetProjection(pendingProjection))
		if err == nil {
			err = cur.All(ctx, &more)
		}
		if err != nil {
			return r, fmt.Errorf("read unsequenced predecessors: %w", err)
		}
		r.set = union(r.set, more)
	}
	for stream, h := range r.heads {
		if h < 0 {
			delete(r.heads, stream)
		}
	}
	return r, nil
}

// complete adds to r.set the pending events of every unit of r.set that
// is not whole yet, and marks those units whole.
func (q *sequencer) complete(ctx context.Context, r *resolved) error {
	filter, asked := completion(r.set, r.whole)
	if len(asked) == 0 {
		return nil
	}
	var more []pendingEvent
	cur, err := q.s.events.Find(ctx, filter, options.Find().SetProjection(pendingProjection))
	if err == nil {
		err = cur.All(ctx, &more)
	}
	if err != nil {
		return fmt.Errorf("read the rest of unsequenced units: %w", err)
	}
	r.set = union(r.set, more)
	r.partial = append(r.partial, markWhole(r.set, asked, r.whole)...)
	return nil
}

// completion is the query for the pending events of the units of set
// that are neither known whole nor wholly in set (those it marks whole),
// and those units (asked). A unit's events share their recording time, so
// each clause runs on the pending_by_time index (each implies its partial
// filter on its own).
func completion(set []pendingEvent, whole map[string]bool) (filter bson.D, asked map[string]bool) {
	count := map[string]int{}
	for _, e := range set {
		count[e.unit()]++
	}
	var ask bson.A
	asked = map[string]bool{}
	for _, e := range set {
		u := e.unit()
		switch {
		case e.BatchLen <= 1 || whole[u] || asked[u]:
		case count[u] >= e.BatchLen:
			whole[u] = true
		default:
			asked[u] = true
			ask = append(ask, bson.D{{Key: "pending", Value: true}, {Key: "recorded_at", Value: e.RecordedAt}, {Key: "batch", Value: u}})
		}
	}
	return bson.D{{Key: "$or", Value: ask}}, asked
}

// markWhole marks the asked units whole once their pending events have
// been read into set, and returns those with fewer pending events than
// their size: part of them was stamped already, which only a sequencer
// that does not know units (an older version) can have done; the rest is
// stamped as a unit of its own.
func markWhole(set []pendingEvent, asked, whole map[string]bool) (partial []string) {
	count, size := map[string]int{}, map[string]int{}
	for _, e := range set {
		count[e.unit()]++
		size[e.unit()] = e.BatchLen
	}
	for _, u := range slices.Sorted(maps.Keys(asked)) {
		whole[u] = true
		if count[u] < size[u] {
			partial = append(partial, u)
		}
	}
	return partial
}

// lowestVersions is the lowest version per stream in evs, for streams whose
// head is not known yet.
func lowestVersions(evs []pendingEvent, heads map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for _, e := range evs {
		if _, known := heads[e.StreamID]; known {
			continue
		}
		if v, ok := out[e.StreamID]; !ok || e.Version < v {
			out[e.StreamID] = e.Version
		}
	}
	return out
}

func union(a, b []pendingEvent) []pendingEvent {
	seen := make(map[string]bool, len(a))
	for _, e := range a {
		seen[e.ID] = true
	}
	out := slices.Clip(a)
	for _, e := range b {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// planUnit is one sequencing unit as planRound sees it.
type planUnit struct {
	id     string
	at     time.Time      // its recording time (the earliest of its events)
	events []pendingEvent // in unit order (BatchSeq)
	deps   int            // units still to be stamped before it
	after  []*planUnit    // units that wait for it
}

// unitHeap orders ready units by recording time, then id.
type unitHeap []*planUnit

func (h unitHeap) Len() int { return len(h) }
func (h unitHeap) Less(i, j int) bool {
	return cmp.Or(h[i].at.Compare(h[j].at), cmp.Compare(h[i].id, h[j].id)) < 0
}
func (h unitHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *unitHeap) Push(x any)   { *h = append(*h, x.(*planUnit)) }
func (h *unitHeap) Pop() any {
	old := *h
	u := old[len(old)-1]
	*h = old[:len(old)-1]
	return u
}

// planRound decides which unsequenced events a round stamps, in stamping
// order. heads maps a stream to its highest sequenced version (0: none);
// a stream missing from heads is not stamped at all. whole holds the units
// all of whose pending events are in evs (a unit with all BatchLen events
// in evs is whole anyway; an event without a unit is a unit of its own).
//
// Events are stamped by unit: a unit's events get consecutive positions
// in unit order (the request order of a batch), in one round, or none of
// them is stamped. A unit is stamped once, for each of its streams, its
// first version follows that stream's head or the last version of a unit
// stamped before it; so within a stream versions get ascending positions.
// Of the units that can go, the earliest recorded goes first (then the
// lowest id). A unit that is not whole, is inconsistent (versions of a
// stream not consecutive in unit order) or follows a hole (a predecessor
// neither sequenced nor pending in evs) is withheld, with every unit that
// waits for it. At most limit events are stamped, except that a first
// unit larger than limit is stamped alone: units are never split.
func planRound(evs []pendingEvent, heads map[string]int64, whole map[string]bool, limit int) (stamp, withheld []pendingEvent) {
	units := map[string]*planUnit{}
	var order []*planUnit
	for _, e := range evs {
		u := units[e.unit()]
		if u == nil {
			u = &planUnit{id: e.unit(), at: e.RecordedAt}
			units[u.id] = u
			order = append(order, u)
		}
		u.events = append(u.events, e)
		if e.RecordedAt.Before(u.at) {
			u.at = e.RecordedAt
		}
	}
	type sv struct {
		stream  string
		version int64
	}
	owner := map[sv]*planUnit{}
	for _, u := range order {
		slices.SortFunc(u.events, func(a, b pendingEvent) int {
			return cmp.Or(cmp.Compare(a.BatchSeq, b.BatchSeq), cmp.Compare(a.StreamID, b.StreamID), cmp.Compare(a.Version, b.Version))
		})
		for _, e := range u.events {
			owner[sv{e.StreamID, e.Version}] = u
		}
	}
	var ready unitHeap
	for _, u := range order {
		if !u.valid(whole) {
			u.deps = -1 // never ready
			continue
		}
		first := map[string]int64{}
		for _, e := range u.events {
			if _, ok := first[e.StreamID]; !ok {
				first[e.StreamID] = e.Version
			}
		}
		for stream, v := range first {
			head, known := heads[stream]
			switch prev := owner[sv{stream, v - 1}]; {
			case !known:
				u.deps = -1
			case v == head+1:
			case prev != nil && u.deps >= 0:
				u.deps++
				prev.after = append(prev.after, u)
			default:
				u.deps = -1 // a hole before it
			}
		}
		if u.deps == 0 {
			ready = append(ready, u)
		}
	}
	heap.Init(&ready)
	done := map[string]bool{}
	for ready.Len() > 0 {
		u := heap.Pop(&ready).(*planUnit)
		if len(stamp) > 0 && len(stamp)+len(u.events) > limit {
			break
		}
		stamp = append(stamp, u.events...)
		done[u.id] = true
		for _, next := range u.after {
			if next.deps > 0 {
				if next.deps--; next.deps == 0 {
					heap.Push(&ready, next)
				}
			}
		}
	}
	for _, u := range order {
		if !done[u.id] {
			withheld = append(withheld, u.events...)
		}
	}
	slices.SortFunc(withheld, func(a, b pendingEvent) int {
		return cmp.Or(cmp.Compare(a.StreamID, b.StreamID), cmp.Compare(a.Version, b.Version))
	})
	return stamp, withheld
}

// valid reports whether u can be stamped as it is: whole (see planRound),
// its unit indexes distinct, and each stream's versions consecutive in
// unit order.
func (u *planUnit) valid(whole map[string]bool) bool {
	if n := u.events[0].BatchLen; n > 1 && len(u.events) != n && !whole[u.id] {
		return false
	}
	last := map[string]int64{}
	for i, e := range u.events {
		if i > 0 && e.BatchSeq == u.events[i-1].BatchSeq {
			return false
		}
		if v, ok := last[e.StreamID]; ok && e.Version != v+1 {
			return false
		}
		last[e.StreamID] = e.Version
	}
	return true
}

// stampModels gives plan[i] position next+i and its log hash in the global
// chain after prevLog (the log hash at next-1), only if it is still
// unsequenced, and returns the last log hash. It is the one place where
// this adapter assigns positions and log hashes.
func stampModels(plan []pendingEvent, next int64, prevLog string, h *eventstore.LogHasher) ([]mongo.WriteModel, string) {
	out := make([]mongo.WriteModel, len(plan))
	for i, e := range plan {
		pos := next + int64(i)
		prevLog = h.Next(prevLog, pos, e.Hash)
		out[i] = mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: e.ID}, {Key: "pending", Value: true}}).
			SetUpdate(bson.D{
				{Key: "$set", Value: bson.D{{Key: "position", Value: pos}, {Key: "log_hash", Value: prevLog}}},
				{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}}},
			})
	}
	return out, prevLog
}

// watch turns change-stream notifications into wake-ups: an inserted event
// kicks the local sequencer, a change of the sequencer document (a round or
// a lease renewal) wakes position waiters. It is an accelerator only: the
// sequencer's work queue is the pending index, not the stream, so a missed
// or expired notification costs latency (one PollInterval), never an event.
func (s *Store) watch(ctx context.Context) {
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "ns.coll", Value: collEvents}, {Key: "operationType", Value: "insert"}},
			bson.D{{Key: "ns.coll", Value: collSequencer}},
		}}}}},
		{{Key: "$project", Value: bson.D{{Key: "ns", Value: 1}}}},
	}
	backoff := time.Second
	for ctx.Err() == nil {
		cs, err := s.db.Watch(ctx, pipeline)
		if err != nil {
			if changeStreamsUnsupported(err) {
				s.log.Info("change streams unavailable; polling", "interval", s.opts.PollInterval, "err", err)
				return
			}
			if ctx.Err() == nil {
				s.log.Warn("change stream", "err", err)
			}
			_ = sleep(ctx, backoff)
			continue
		}
		// Catch up on whatever happened while nothing was watching.
		s.kickSequencer()
		s.head.notify()
		for cs.Next(ctx) {
			var ev struct {
				NS struct {
					Coll string `bson:"coll"`
				} `bson:"ns"`
			}
			if err := cs.Decode(&ev); err == nil && ev.NS.Coll == collEvents {
				s.kickSequencer()
			} else {
				s.head.notify()
			}
		}
		err = cs.Err()
		_ = cs.Close(context.WithoutCancel(ctx))
		if ctx.Err() == nil {
			s.log.Warn("change stream ended; reopening", "err", err)
			_ = sleep(ctx, backoff)
		}
	}
}

// changeStreamsUnsupported reports errors meaning the deployment will never
// serve change streams (as opposed to a transient failure).
func changeStreamsUnsupported(err error) bool {
	for _, code := range []int{
		40573, // $changeStream is only supported on replica sets
		40324, // unrecognized pipeline stage (server too old)
		115,   // CommandNotSupported
	} {
		if hasCode(err, code) {
			return true
		}
	}
	return false
}

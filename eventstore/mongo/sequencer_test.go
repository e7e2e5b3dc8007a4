package mongo

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/eventstore"
)

func pe(stream string, version int64, atMs int64) pendingEvent {
	return pendingEvent{
		ID:         fmt.Sprintf("%s#%d", stream, version),
		StreamID:   stream,
		Version:    version,
		RecordedAt: time.UnixMilli(atMs).UTC(),
	}
}

func ids(evs []pendingEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestPlanRoundOrdersByTimeAndVersion(t *testing.T) {
	evs := []pendingEvent{
		pe("b", 1, 20),
		pe("a", 3, 10), // a's clocks disagree with its versions
		pe("a", 2, 30),
		pe("c", 5, 5),
		pe("a", 4, 40),
	}
	stamp, withheld := planRound(evs, map[string]int64{"a": 1, "b": 0, "c": 4}, nil, 100)
	// By recording time among the events that can go: c#5 (5); a#3 (10)
	// waits for a#2, so b#1 (20), a#2 (30), then a#3 (10) is the earliest
	// ready, then a#4 (40).
	want := []string{"c#5", "b#1", "a#2", "a#3", "a#4"}
	if got := ids(stamp); !slices.Equal(got, want) {
		t.Fatalf("stamp order %v, want %v", got, want)
	}
	if len(withheld) != 0 {
		t.Fatalf("withheld %v", ids(withheld))
	}
}

func TestPlanRoundWithholdsAfterAHole(t *testing.T) {
	evs := []pendingEvent{pe("a", 2, 1), pe("a", 4, 2), pe("a", 5, 3), pe("b", 3, 4), pe("c", 1, 5)}
	// a is sequenced up to 1: 2 goes, 3 is missing so 4 and 5 wait.
	// b's predecessor (2) is not sequenced: b waits entirely.
	// d is unknown to heads (predecessor missing): its events wait.
	evs = append(evs, pe("d", 7, 0))
	stamp, withheld := planRound(evs, map[string]int64{"a": 1, "b": 1, "c": 0}, nil, 100)
	if got, want := ids(stamp), []string{"a#2", "c#1"}; !slices.Equal(got, want) {
		t.Fatalf("stamp %v, want %v", got, want)
	}
	if got, want := ids(withheld), []string{"a#4", "a#5", "b#3", "d#7"}; !slices.Equal(got, want) {
		t.Fatalf("withheld %v, want %v", got, want)
	}
}

func TestPlanRoundLimitKeepsPredecessors(t *testing.T) {
	evs := []pendingEvent{pe("a", 1, 1), pe("a", 2, 2), pe("b", 1, 3), pe("a", 3, 4)}
	stamp, withheld := planRound(evs, map[string]int64{"a": 0, "b": 0}, nil, 2)
	if got, want := ids(stamp), []string{"a#1", "a#2"}; !slices.Equal(got, want) {
		t.Fatalf("stamp %v, want %v", got, want)
	}
	if got, want := ids(withheld), []string{"a#3", "b#1"}; !slices.Equal(got, want) {
		t.Fatalf("withheld %v, want %v", got, want)
	}
}

// TestPlanRoundRandom checks the invariants on random batches: every event
// is stamped or withheld exactly once; per stream the stamped versions are
// exactly head+1..head+k in stamping order; withheld versions never precede
// a stamped one of their stream; a stream without a head is never stamped.
func TestPlanRoundRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		heads := map[string]int64{}
		var evs []pendingEvent
		for s := range rng.IntN(6) + 1 {
			stream := fmt.Sprint("s", s)
			head := int64(rng.IntN(4))
			if rng.IntN(5) > 0 {
				heads[stream] = head
			}
			for v := head + 1; v <= head+int64(rng.IntN(6)); v++ {
				if rng.IntN(8) == 0 {
					continue // a hole: this version is not in the batch
				}
				evs = append(evs, pe(stream, v, int64(rng.IntN(50))))
			}
		}
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		limit := rng.IntN(len(evs)+2) + 1
		stamp, withheld := planRound(slices.Clone(evs), heads, nil, limit)

		if len(stamp) > limit {
			t.Fatalf("iter %d: %d stamped over limit %d", iter, len(stamp), limit)
		}
		all := append(ids(stamp), ids(withheld)...)
		slices.Sort(all)
		want := ids(evs)
		slices.Sort(want)
		if !slices.Equal(all, want) {
			t.Fatalf("iter %d: stamped+withheld %v, want %v", iter, all, want)
		}
		next := map[string]int64{}
		for _, e := range stamp {
			head, ok := heads[e.StreamID]
			if !ok {
				t.Fatalf("iter %d: stamped %s of a stream without a known head", iter, e.ID)
			}
			if n, seen := next[e.StreamID]; seen {
				head = n
			}
			if e.Version != head+1 {
				t.Fatalf("iter %d: stamped %s after version %d", iter, e.ID, head)
			}
			next[e.StreamID] = e.Version
		}
		for _, e := range withheld {
			if n, ok := next[e.StreamID]; ok && e.Version <= n {
				t.Fatalf("iter %d: withheld %s but stamped version %d", iter, e.ID, n)
			}
		}
	}
}

// Stamping gives each event its position and its link in the global
// chain after the log hash at next-1, in the same update.
func TestStampModels(t *testing.T) {
	a, b := pe("a", 1, 0), pe("b", 1, 0)
	a.Hash, b.Hash = "ha", "hb"
	key, err := eventstore.NewAuditKey([]byte(strings.Repeat("k", eventstore.AuditKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	models, last := stampModels([]pendingEvent{a, b}, 41, "prev", key.LogHasher())
	l41 := eventstore.LogHash(key, "prev", 41, "ha")
	l42 := eventstore.LogHash(key, l41, 42, "hb")
	if last != l42 {
		t.Fatalf("last log hash %s, want %s", last, l42)
	}
	for i, m := range models {
		u := m.(*mongo.UpdateOneModel)
		wantFilter := bson.D{{Key: "_id", Value: []string{"a#1", "b#1"}[i]}, {Key: "pending", Value: true}}
		if !reflect.DeepEqual(u.Filter, wantFilter) {
			t.Fatalf("filter %v", u.Filter)
		}
		wantUpdate := bson.D{
			{Key: "$set", Value: bson.D{{Key: "position", Value: int64(41 + i)}, {Key: "log_hash", Value: []string{l41, l42}[i]}}},
			{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}}},
		}
		if !reflect.DeepEqual(u.Update, wantUpdate) {
			t.Fatalf("update %v", u.Update)
		}
	}
}

// evalPipeline applies an update pipeline ($set / $unset stages with the
// few operators acquireUpdate uses) the way the server does, for testing
// the lease logic without a server. Every expression in a $set stage sees
// the stage's input document.
func evalPipeline(t *testing.T, doc map[string]any, p mongo.Pipeline, now time.Time) map[string]any {
	t.Helper()
	var eval func(x any, in map[string]any) any
	eval = func(x any, in map[string]any) any {
		switch v := x.(type) {
		case string:
			switch {
			case v == "$$NOW":
				return now
			case strings.HasPrefix(v, "$"):
				return in[v[1:]]
			}
			return v
		case bson.A:
			out := make([]any, len(v))
			for i := range v {
				out[i] = eval(v[i], in)
			}
			return out
		case bson.D:
			if len(v) != 1 {
				t.Fatalf("expression %v", v)
			}
			if v[0].Key == "$literal" {
				return v[0].Value
			}
			args, _ := eval(v[0].Value, in).([]any)
			switch v[0].Key {
			case "$eq":
				return reflect.DeepEqual(args[0], args[1])
			case "$lte":
				return !args[0].(time.Time).After(args[1].(time.Time))
			case "$or":
				return slices.Contains(args, any(true))
			case "$and":
				return !slices.Contains(args, any(false))
			case "$not":
				return !args[0].(bool)
			case "$cond":
				if args[0].(bool) {
					return args[1]
				}
				return args[2]
			case "$add":
				if tm, ok := args[0].(time.Time); ok {
					return tm.Add(time.Duration(args[1].(int64)) * time.Millisecond)
				}
				return args[0].(int64) + args[1].(int64)
			}
			t.Fatalf("operator %s", v[0].Key)
		}
		return x
	}
	for _, stage := range p {
		out := map[string]any{}
		for k, v := range doc {
			out[k] = v
		}
		switch stage[0].Key {
		case "$set":
			for _, f := range stage[0].Value.(bson.D) {
				out[f.Key] = eval(f.Value, doc)
			}
		case "$unset":
			delete(out, stage[0].Value.(string))
		default:
			t.Fatalf("stage %s", stage[0].Key)
		}
		doc = out
	}
	return doc
}

func TestAcquireUpdateLease(t *testing.T) {
	now := time.UnixMilli(1_000_000).UTC()
	lease := 5 * time.Second
	seqDoc := func(holder string, until time.Time, token int64) map[string]any {
		return map[string]any{"_id": sequencerID, "holder": holder, "lease_until": until, "token": token, "next": int64(10)}
	}
	for _, tc := range []struct {
		name       string
		before     map[string]any
		holder     string
		wantHolder string
		wantToken  int64
		wantUntil  time.Time
	}{
		{"fresh document", seqDoc("", time.Unix(0, 0).UTC(), 0), "me", "me", 1, now.Add(lease)},
		{"renewal keeps the token", seqDoc("me", now.Add(time.Second), 3), "me", "me", 3, now.Add(lease)},
		{"own expired lease nobody took keeps the token", seqDoc("me", now.Add(-time.Second), 3), "me", "me", 3, now.Add(lease)},
		{"takeover of an expired lease fences the old holder", seqDoc("old", now.Add(-time.Millisecond), 3), "me", "me", 4, now.Add(lease)},
		{"expiry is inclusive", seqDoc("old", now, 3), "me", "me", 4, now.Add(lease)},
		{"a live foreign lease is left alone", seqDoc("old", now.Add(time.Millisecond), 3), "me", "old", 3, now.Add(time.Millisecond)},
		{"a holder name that looks like a field path is a literal", seqDoc("", time.Unix(0, 0).UTC(), 0), "$holder", "$holder", 1, now.Add(lease)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := evalPipeline(t, tc.before, acquireUpdate(tc.holder, lease), now)
			if after["holder"] != tc.wantHolder || after["token"] != tc.wantToken || !after["lease_until"].(time.Time).Equal(tc.wantUntil) {
				t.Fatalf("after = %v", after)
			}
			if _, ok := after["_take"]; ok || after["next"] != int64(10) {
				t.Fatalf("pipeline left %v", after)
			}
		})
	}
	if _, err := bson.Marshal(bson.D{{Key: "u", Value: acquireUpdate("me", lease)}}); err != nil {
		t.Fatalf("pipeline does not encode: %v", err)
	}
}

func TestLowestVersionsAndUnion(t *testing.T) {
	evs := []pendingEvent{pe("a", 3, 0), pe("a", 2, 0), pe("b", 5, 0)}
	if got := lowestVersions(evs, map[string]int64{"b": 4}); !reflect.DeepEqual(got, map[string]int64{"a": 2}) {
		t.Fatalf("lowest %v", got)
	}
	u := union(evs[:2], []pendingEvent{pe("a", 2, 0), pe("a", 1, 0)})
	if got, want := ids(u), []string{"a#3", "a#2", "a#1"}; !slices.Equal(got, want) {
		t.Fatalf("union %v", got)
	}
}

// unitOf makes evs one sequencing unit (one batch), in the given order,
// as eventDocs writes it.
func unitOf(evs ...pendingEvent) []pendingEvent {
	out := slices.Clone(evs)
	for i := range out {
		out[i].Batch, out[i].BatchSeq, out[i].BatchLen = evs[0].ID, i, len(evs)
		out[i].RecordedAt = evs[0].RecordedAt
	}
	return out
}

// A batch is stamped whole, at consecutive positions in request order,
// even where recording times or ids would interleave other appends.
func TestPlanRoundStampsABatchWhole(t *testing.T) {
	batch := unitOf(pe("z", 1, 10), pe("a", 3, 10), pe("m", 1, 10), pe("a", 4, 10))
	single := pe("b", 1, 10) // same millisecond, an id between the batch's
	evs := append([]pendingEvent{single, pe("c", 1, 5), pe("d", 1, 20)}, batch...)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	stamp, withheld := planRound(evs, map[string]int64{"a": 2, "b": 0, "c": 0, "d": 0, "m": 0, "z": 0}, nil, 100)
	want := []string{"c#1", "b#1", "z#1", "a#3", "m#1", "a#4", "d#1"} // unit ids: "b#1" < "z#1"
	if got := ids(stamp); !slices.Equal(got, want) {
		t.Fatalf("stamp %v, want %v", got, want)
	}
	if len(withheld) != 0 {
		t.Fatalf("withheld %v", ids(withheld))
	}
}

// A batch waits whole: for a predecessor of any of its streams, for the
// rest of its events, and past the limit (it is never split; alone, it
// may exceed the limit).
func TestPlanRoundWithholdsABatchWhole(t *testing.T) {
	batch := unitOf(pe("a", 1, 10), pe("b", 2, 10), pe("c", 1, 10))
	heads := map[string]int64{"a": 0, "b": 0, "c": 0, "x": 0}

	// b#1 is pending and not stamped yet in this set: the batch waits for it.
	stamp, _ := planRound(append(slices.Clone(batch), pe("b", 1, 50)), heads, nil, 100)
	if got, want := ids(stamp), []string{"b#1", "a#1", "b#2", "c#1"}; !slices.Equal(got, want) {
		t.Fatalf("after its predecessor: %v, want %v", got, want)
	}
	// b#1 missing altogether (a hole): nothing of the batch goes.
	stamp, withheld := planRound(append(slices.Clone(batch), pe("x", 1, 1)), heads, nil, 100)
	if got, want := ids(stamp), []string{"x#1"}; !slices.Equal(got, want) {
		t.Fatalf("after a hole: stamp %v, want %v", got, want)
	}
	if got, want := ids(withheld), []string{"a#1", "b#2", "c#1"}; !slices.Equal(got, want) {
		t.Fatalf("after a hole: withheld %v, want %v", got, want)
	}
	// Part of a batch, not known whole: withheld; known whole (the rest was
	// stamped already), the remainder goes.
	part := unitOf(pe("a", 1, 10), pe("c", 1, 10), pe("x", 1, 10))[:2]
	if stamp, _ := planRound(slices.Clone(part), heads, nil, 100); len(stamp) != 0 {
		t.Fatalf("part of a batch stamped: %v", ids(stamp))
	}
	stamp, _ = planRound(slices.Clone(part), heads, map[string]bool{"a#1": true}, 100)
	if got, want := ids(stamp), []string{"a#1", "c#1"}; !slices.Equal(got, want) {
		t.Fatalf("whole remainder: %v, want %v", got, want)
	}
	// Limit: the first unit goes even when larger; a later one waits.
	first := unitOf(pe("p", 1, 1), pe("q", 1, 1), pe("r", 1, 1))
	evs := append(slices.Clone(first), pe("s", 1, 2))
	stamp, withheld = planRound(evs, map[string]int64{"p": 0, "q": 0, "r": 0, "s": 0}, nil, 2)
	if got, want := ids(stamp), []string{"p#1", "q#1", "r#1"}; !slices.Equal(got, want) {
		t.Fatalf("limit: stamp %v, want %v", got, want)
	}
	if got, want := ids(withheld), []string{"s#1"}; !slices.Equal(got, want) {
		t.Fatalf("limit: withheld %v, want %v", got, want)
	}
	// A unit whose versions of a stream are not consecutive is damaged:
	// withheld.
	bad := unitOf(pe("a", 1, 1), pe("a", 3, 1))
	if stamp, _ := planRound(bad, map[string]int64{"a": 0}, nil, 100); len(stamp) != 0 {
		t.Fatalf("damaged unit stamped: %v", ids(stamp))
	}
}

// TestPlanRoundRandomBatches checks, on random mixes of batches and single
// appends committed in some order, that every unit is stamped whole and
// contiguous in unit order or withheld whole, that per stream the stamped
// versions are exactly head+1, head+2, ... in stamping order, that the
// limit is kept (but for a first unit larger than it), and that with no
// limit everything committed is stamped.
func TestPlanRoundRandomBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for iter := range 2000 {
		heads := map[string]int64{}
		version := map[string]int64{}
		for s := range rng.IntN(5) + 1 {
			stream := fmt.Sprint("s", s)
			heads[stream] = int64(rng.IntN(3))
			version[stream] = heads[stream]
		}
		streams := slices.Sorted(maps.Keys(heads))
		// Commit appends in order; each gets the next versions of its
		// streams, as the stream heads would give them.
		var evs []pendingEvent
		for a := range rng.IntN(8) + 1 {
			n := rng.IntN(4) + 1
			at := int64(rng.IntN(20)) // clocks disagree
			var unit []pendingEvent
			for k := range n {
				stream := streams[rng.IntN(len(streams))]
				version[stream]++
				e := pe(stream, version[stream], at)
				e.ID = fmt.Sprintf("%s#%d/%d.%d", stream, version[stream], a, k)
				unit = append(unit, e)
			}
			if n > 1 {
				unit = unitOf(unit...)
			}
			evs = append(evs, unit...)
		}
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })

		if stamp, withheld := planRound(slices.Clone(evs), heads, nil, 1<<30); len(withheld) != 0 || len(stamp) != len(evs) {
			t.Fatalf("iter %d: without a limit %d of %d stamped, withheld %v", iter, len(stamp), len(evs), ids(withheld))
		}
		limit := rng.IntN(len(evs)) + 1
		stamp, withheld := planRound(slices.Clone(evs), heads, nil, limit)
		if len(stamp) > limit && max(stamp[0].BatchLen, 1) != len(stamp) {
			t.Fatalf("iter %d: %d stamped over limit %d", iter, len(stamp), limit)
		}
		if len(stamp)+len(withheld) != len(evs) {
			t.Fatalf("iter %d: %d stamped + %d withheld of %d", iter, len(stamp), len(withheld), len(evs))
		}
		next := maps.Clone(heads)
		stampedUnits := map[string]bool{}
		for i := 0; i < len(stamp); {
			u := stamp[i].unit()
			if stampedUnits[u] {
				t.Fatalf("iter %d: unit %s stamped in two pieces: %v", iter, u, ids(stamp))
			}
			stampedUnits[u] = true
			n := max(stamp[i].BatchLen, 1)
			for k := range n {
				e := stamp[i+k]
				if e.unit() != u || e.BatchSeq != k {
					t.Fatalf("iter %d: unit %s not contiguous in order: %v", iter, u, ids(stamp))
				}
				if e.Version != next[e.StreamID]+1 {
					t.Fatalf("iter %d: stamped %s after version %d", iter, e.ID, next[e.StreamID])
				}
				next[e.StreamID] = e.Version
			}
			i += n
		}
		for _, e := range withheld {
			if stampedUnits[e.unit()] {
				t.Fatalf("iter %d: unit %s split: %s withheld", iter, e.unit(), e.ID)
			}
		}
	}
}

// A round asks for the rest of the units it holds part of, by unit and
// recording time, and only for those; what it reads makes them whole, and
// a unit still short of its size is reported (the rest was stamped).
func TestCompletion(t *testing.T) {
	batch := unitOf(pe("a", 1, 10), pe("b", 1, 10), pe("c", 1, 10))
	full := unitOf(pe("x", 1, 20), pe("y", 1, 20))
	set := []pendingEvent{batch[1], full[0], full[1], pe("s", 1, 5)}
	whole := map[string]bool{}
	filter, asked := completion(set, whole)
	if !reflect.DeepEqual(asked, map[string]bool{"a#1": true}) {
		t.Fatalf("asked %v", asked)
	}
	if !whole["x#1"] || len(whole) != 1 {
		t.Fatalf("a unit wholly in the set is whole: %v", whole)
	}
	want := bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "pending", Value: true},
		{Key: "recorded_at", Value: time.UnixMilli(10).UTC()}, {Key: "batch", Value: "a#1"}}}}}
	if !reflect.DeepEqual(filter, want) {
		t.Fatalf("filter %v, want %v", filter, want)
	}
	if _, err := bson.Marshal(filter); err != nil {
		t.Fatal(err)
	}
	// The read brought the whole unit: whole, nothing partial; asking again
	// asks for nothing.
	all := union(set, batch)
	if partial := markWhole(all, asked, whole); len(partial) != 0 || !whole["a#1"] {
		t.Fatalf("partial %v, whole %v", partial, whole)
	}
	if _, asked := completion(all, whole); len(asked) != 0 {
		t.Fatalf("asked again for %v", asked)
	}
	// Only part of the unit was still pending.
	whole = map[string]bool{}
	if partial := markWhole(union(set, batch[:2]), asked, whole); !slices.Equal(partial, []string{"a#1"}) || !whole["a#1"] {
		t.Fatalf("partial %v", partial)
	}
}

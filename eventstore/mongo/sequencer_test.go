package mongo

import (
	"fmt"
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
	stamp, withheld := planRound(evs, map[string]int64{"a": 1, "b": 0, "c": 4}, 100)
	// Time slots: c(5) a(10) b(20) a(30) a(40); a's slots get 2, 3, 4.
	want := []string{"c#5", "a#2", "b#1", "a#3", "a#4"}
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
	stamp, withheld := planRound(evs, map[string]int64{"a": 1, "b": 1, "c": 0}, 100)
	if got, want := ids(stamp), []string{"a#2", "c#1"}; !slices.Equal(got, want) {
		t.Fatalf("stamp %v, want %v", got, want)
	}
	if got, want := ids(withheld), []string{"a#4", "a#5", "b#3", "d#7"}; !slices.Equal(got, want) {
		t.Fatalf("withheld %v, want %v", got, want)
	}
}

func TestPlanRoundLimitKeepsPredecessors(t *testing.T) {
	evs := []pendingEvent{pe("a", 1, 1), pe("a", 2, 2), pe("b", 1, 3), pe("a", 3, 4)}
	stamp, withheld := planRound(evs, map[string]int64{"a": 0, "b": 0}, 2)
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
		stamp, withheld := planRound(slices.Clone(evs), heads, limit)

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

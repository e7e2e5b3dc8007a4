package mongo

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/eventstore"
)

func TestEventIndexes(t *testing.T) {
	type want struct {
		keys    bson.D
		unique  bool
		partial any
	}
	pending := bson.D{{Key: "pending", Value: true}}
	wants := map[string]want{
		idxStreamVersion:   {bson.D{{Key: "stream_id", Value: 1}, {Key: "version", Value: 1}}, true, nil},
		idxPosition:        {bson.D{{Key: "position", Value: 1}}, true, bson.D{{Key: "position", Value: bson.D{{Key: "$exists", Value: true}}}}},
		idxPendingByTime:   {bson.D{{Key: "recorded_at", Value: 1}, {Key: "_id", Value: 1}}, false, pending},
		idxPendingByStream: {bson.D{{Key: "pending", Value: 1}, {Key: "stream_id", Value: 1}, {Key: "version", Value: 1}}, false, pending},
	}
	models := eventIndexes()
	patterns := map[string]bool{}
	for _, m := range models {
		p := fmt.Sprint(m.Keys)
		if patterns[p] {
			t.Errorf("two indexes on key pattern %s (refused before MongoDB 5.0)", p)
		}
		patterns[p] = true
	}
	if len(models) != len(wants) {
		t.Fatalf("%d indexes, want %d", len(models), len(wants))
	}
	for _, m := range models {
		var o options.IndexOptions
		for _, set := range m.Options.List() {
			if err := set(&o); err != nil {
				t.Fatal(err)
			}
		}
		if o.Name == nil {
			t.Fatalf("index %v has no name", m.Keys)
		}
		w, ok := wants[*o.Name]
		if !ok {
			t.Fatalf("unexpected index %q", *o.Name)
		}
		if !reflect.DeepEqual(m.Keys, w.keys) {
			t.Errorf("%s keys %v, want %v", *o.Name, m.Keys, w.keys)
		}
		if got := o.Unique != nil && *o.Unique; got != w.unique {
			t.Errorf("%s unique %v, want %v", *o.Name, got, w.unique)
		}
		if !reflect.DeepEqual(o.PartialFilterExpression, w.partial) {
			t.Errorf("%s partial filter %v, want %v", *o.Name, o.PartialFilterExpression, w.partial)
		}
		delete(wants, *o.Name)
	}
}

func TestReadStreamFilter(t *testing.T) {
	until := time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", -7200))
	for _, tc := range []struct {
		name string
		opts eventstore.ReadStreamOptions
		want bson.D
	}{
		{"unbounded", eventstore.ReadStreamOptions{}, bson.D{{Key: "stream_id", Value: "s"}}},
		{"from", eventstore.ReadStreamOptions{FromVersion: 3}, bson.D{
			{Key: "stream_id", Value: "s"}, {Key: "version", Value: bson.D{{Key: "$gte", Value: int64(3)}}}}},
		{"range and until", eventstore.ReadStreamOptions{FromVersion: 2, ToVersion: 5, Until: until}, bson.D{
			{Key: "stream_id", Value: "s"},
			{Key: "version", Value: bson.D{{Key: "$gte", Value: int64(2)}, {Key: "$lte", Value: int64(5)}}},
			{Key: "recorded_at", Value: bson.D{{Key: "$lte", Value: time.Date(2025, 1, 2, 5, 4, 5, 678_000_000, time.UTC)}}},
		}},
		{"to only", eventstore.ReadStreamOptions{ToVersion: 1}, bson.D{
			{Key: "stream_id", Value: "s"}, {Key: "version", Value: bson.D{{Key: "$lte", Value: int64(1)}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readStreamFilter("s", tc.opts); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("filter %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadAllFilter(t *testing.T) {
	want := bson.D{{Key: "position", Value: bson.D{{Key: "$exists", Value: true}, {Key: "$gt", Value: int64(7)}}}}
	if got := readAllFilter(7); !reflect.DeepEqual(got, want) {
		t.Fatalf("filter %v, want %v", got, want)
	}
}

func TestFirstHole(t *testing.T) {
	at := func(ps ...int64) []eventstore.RecordedEvent {
		out := make([]eventstore.RecordedEvent, len(ps))
		for i, p := range ps {
			out[i].Position = p
		}
		return out
	}
	if _, hole := firstHole(4, at(5, 6, 7)); hole {
		t.Fatal("dense page has no hole")
	}
	if _, hole := firstHole(4, nil); hole {
		t.Fatal("empty page has no hole")
	}
	if p, hole := firstHole(4, at(5, 7)); !hole || p != 6 {
		t.Fatalf("hole at %d %v, want 6", p, hole)
	}
	if p, hole := firstHole(4, at(6)); !hole || p != 5 {
		t.Fatalf("hole at %d %v, want 5", p, hole)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.SequencerLease != 5*time.Second || o.PollInterval != 50*time.Millisecond || o.AppendTimeout != 15*time.Second || o.Logger == nil {
		t.Fatalf("defaults %+v", o)
	}
	o = Options{SequencerLease: time.Second, PollInterval: time.Millisecond, AppendTimeout: time.Minute}.withDefaults()
	if o.SequencerLease != time.Second || o.PollInterval != time.Millisecond || o.AppendTimeout != time.Minute {
		t.Fatalf("explicit options overridden: %+v", o)
	}
}

func TestBroadcasterWakesEveryWaiter(t *testing.T) {
	b := newBroadcaster()
	w1, w2 := b.wait(), b.wait()
	b.notify()
	for _, w := range []<-chan struct{}{w1, w2} {
		select {
		case <-w:
		default:
			t.Fatal("waiter not woken")
		}
	}
	select {
	case <-b.wait():
		t.Fatal("a new wait must block until the next notify")
	default:
	}
}

func TestBackoffBounded(t *testing.T) {
	for attempt := 1; attempt < 20; attempt++ {
		for range 100 {
			if d := backoff(attempt); d <= 0 || d > 100*time.Millisecond+1 {
				t.Fatalf("backoff(%d) = %v", attempt, d)
			}
		}
	}
}

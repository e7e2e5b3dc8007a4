package cloudsecurity_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// memTx is a map-backed projections.Tx. Put normalizes (and so validates
// and deep-copies) documents as a store would, Get returns copies. Like the
// runtime's Tx, it refuses collections the projection did not declare
// (when declared is set).
type memTx struct {
	colls    map[string]map[string]readmodel.Doc
	declared map[string]bool
	errs     []error
}

func (m *memTx) check(coll string) error {
	if m.declared != nil && !m.declared[coll] {
		err := fmt.Errorf("collection %q is not declared", coll)
		m.errs = append(m.errs, err)
		return err
	}
	return nil
}

func newMemTx() *memTx { return &memTx{colls: map[string]map[string]readmodel.Doc{}} }

func (m *memTx) Get(_ context.Context, coll, id string) (readmodel.Doc, bool, error) {
	if err := m.check(coll); err != nil {
		return nil, false, err
	}
	d, ok := m.colls[coll][id]
	if !ok {
		return nil, false, nil
	}
	c, err := readmodel.NormalizeDoc(d)
	return c, true, err
}

func (m *memTx) Put(coll string, doc readmodel.Doc) {
	if m.check(coll) != nil {
		return
	}
	d, err := readmodel.NormalizeDoc(doc)
	if err != nil {
		m.errs = append(m.errs, err)
		return
	}
	if m.colls[coll] == nil {
		m.colls[coll] = map[string]readmodel.Doc{}
	}
	m.colls[coll][d.ID()] = d
}

func (m *memTx) Delete(coll, id string) { delete(m.colls[coll], id) }

func (m *memTx) doc(t *testing.T, coll, id string) readmodel.Doc {
	t.Helper()
	d, ok := m.colls[coll][id]
	require.True(t, ok, "no document %s/%s; have %v", coll, id, slices.Sorted(maps.Keys(m.colls[coll])))
	return d
}

// apply folds events into a fresh memTx through p, in the given order.
func apply(t *testing.T, p projections.Projection, events ...projections.Event) *memTx {
	t.Helper()
	tx := newMemTx()
	tx.declared = map[string]bool{}
	for _, spec := range p.Collections() {
		tx.declared[spec.Name] = true
	}
	for _, ev := range events {
		require.Contains(t, p.EventTypes(), ev.Type)
		require.NoError(t, p.Apply(context.Background(), tx, ev))
	}
	require.Empty(t, tx.errs, "documents the store would reject")
	return tx
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

type eventData interface{ EventType() string }

// stream builds the events of one stream of team, at the given positions.
func stream(team string, positions []int64, data ...eventData) []projections.Event {
	out := make([]projections.Event, len(data))
	for i, d := range data {
		out[i] = projections.Event{RecordedEvent: eventstore.RecordedEvent{
			EventID:    "ev-" + d.EventType() + "-" + string(rune('a'+i)),
			Type:       d.EventType(),
			Version:    int64(i + 1),
			Position:   positions[i],
			Metadata:   eventstore.Metadata{TeamID: team},
			RecordedAt: t0.Add(time.Duration(positions[i]) * time.Millisecond),
		}, Data: d}
	}
	return out
}

// interleave returns a random merge of streams that keeps each stream's order.
func interleave(r *rand.Rand, streams [][]projections.Event) []projections.Event {
	next := make([]int, len(streams))
	var out []projections.Event
	for {
		var open []int
		for i, s := range streams {
			if next[i] < len(s) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return out
		}
		i := open[r.IntN(len(open))]
		out = append(out, streams[i][next[i]])
		next[i]++
	}
}

// interleavings is how many random interleavings assertOrderIndependent tries.
const interleavings = 200

// assertOrderIndependent applies the streams in many interleavings (each
// stream's order kept) and requires every one to build the same documents
// as the streams applied one after the other.
func assertOrderIndependent(t *testing.T, p projections.Projection, streams [][]projections.Event) {
	t.Helper()
	want := apply(t, p, slices.Concat(streams...)...).colls
	reversed := slices.Clone(streams)
	slices.Reverse(reversed)
	require.Equal(t, want, apply(t, p, slices.Concat(reversed...)...).colls, "streams in reverse order")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range interleavings {
		got := apply(t, p, interleave(r, streams)...).colls
		require.Equal(t, want, got, "interleaving %d", i)
	}
}

func positions(ps ...int64) []int64 { return ps }

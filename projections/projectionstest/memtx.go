// In-memory helpers for the module projections' unit tests: a map-backed
// Tx, event builders, and an order-independence check (invariant 6).

package projectionstest

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

// MemTx is a map-backed projections.Tx. Put normalizes (and so validates
// and deep-copies) documents as a store would, Get returns copies. Like the
// runtime's Tx, it refuses collections the projection did not declare
// (when declared is set).
type MemTx struct {
	Colls    map[string]map[string]readmodel.Doc
	Declared map[string]bool
	Errs     []error
}

func (m *MemTx) check(coll string) error {
	if m.Declared != nil && !m.Declared[coll] {
		err := fmt.Errorf("collection %q is not declared", coll)
		m.Errs = append(m.Errs, err)
		return err
	}
	return nil
}

func NewMemTx() *MemTx { return &MemTx{Colls: map[string]map[string]readmodel.Doc{}} }

func (m *MemTx) Get(_ context.Context, coll, id string) (readmodel.Doc, bool, error) {
	if err := m.check(coll); err != nil {
		return nil, false, err
	}
	d, ok := m.Colls[coll][id]
	if !ok {
		return nil, false, nil
	}
	c, err := readmodel.NormalizeDoc(d)
	return c, true, err
}

func (m *MemTx) Put(coll string, doc readmodel.Doc) {
	if m.check(coll) != nil {
		return
	}
	d, err := readmodel.NormalizeDoc(doc)
	if err != nil {
		m.Errs = append(m.Errs, err)
		return
	}
	if m.Colls[coll] == nil {
		m.Colls[coll] = map[string]readmodel.Doc{}
	}
	m.Colls[coll][d.ID()] = d
}

func (m *MemTx) Delete(coll, id string) { delete(m.Colls[coll], id) }

func (m *MemTx) Doc(t *testing.T, coll, id string) readmodel.Doc {
	t.Helper()
	d, ok := m.Colls[coll][id]
	require.True(t, ok, "no document %s/%s; have %v", coll, id, slices.Sorted(maps.Keys(m.Colls[coll])))
	return d
}

// Apply folds events into a fresh MemTx through p, in the given order.
func Apply(t *testing.T, p projections.Projection, events ...projections.Event) *MemTx {
	t.Helper()
	tx := NewMemTx()
	tx.Declared = map[string]bool{}
	for _, spec := range p.Collections() {
		tx.Declared[spec.Name] = true
	}
	for _, ev := range events {
		require.Contains(t, p.EventTypes(), ev.Type)
		require.NoError(t, p.Apply(context.Background(), tx, ev))
	}
	require.Empty(t, tx.Errs, "documents the store would reject")
	return tx
}

var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func At(d time.Duration) time.Time { return T0.Add(d) }

type EventData interface{ EventType() string }

// Stream builds the events of one stream of team, at the given positions.
func Stream(team string, positions []int64, data ...EventData) []projections.Event {
	out := make([]projections.Event, len(data))
	for i, d := range data {
		out[i] = projections.Event{RecordedEvent: eventstore.RecordedEvent{
			EventID:    "ev-" + d.EventType() + "-" + string(rune('a'+i)),
			Type:       d.EventType(),
			Version:    int64(i + 1),
			Position:   positions[i],
			Metadata:   eventstore.Metadata{TeamID: team},
			RecordedAt: T0.Add(time.Duration(positions[i]) * time.Millisecond),
		}, Data: d}
	}
	return out
}

// Interleave returns a random merge of streams that keeps each stream's order.
func Interleave(r *rand.Rand, streams [][]projections.Event) []projections.Event {
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

// Interleavings is how many random interleavings AssertOrderIndependent tries.
const Interleavings = 200

// AssertOrderIndependent applies the streams in many interleavings (each
// stream's order kept) and requires every one to build the same documents
// as the streams applied one after the other.
func AssertOrderIndependent(t *testing.T, p projections.Projection, streams [][]projections.Event) {
	t.Helper()
	want := Apply(t, p, slices.Concat(streams...)...).Colls
	reversed := slices.Clone(streams)
	slices.Reverse(reversed)
	require.Equal(t, want, Apply(t, p, slices.Concat(reversed...)...).Colls, "streams in reverse order")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range Interleavings {
		got := Apply(t, p, Interleave(r, streams)...).Colls
		require.Equal(t, want, got, "interleaving %d", i)
	}
}

func Positions(ps ...int64) []int64 { return ps }

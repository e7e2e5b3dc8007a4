package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

const counterName = "test.counter"

// testConfig makes batches small (several per test), retries fast and
// fetches short.
func testConfig() projections.RuntimeConfig {
	return projections.RuntimeConfig{
		BatchSize:    64,
		FetchWait:    200 * time.Millisecond,
		MaxAttempts:  3,
		RetryBackoff: 5 * time.Millisecond,
		MinBackoff:   5 * time.Millisecond,
		MaxBackoff:   100 * time.Millisecond,
		RebuildBatch: 100,
		WaitPoll:     20 * time.Millisecond,
	}
}

func newRuntime(t *testing.T, env *pt.Env, cfg projections.RuntimeConfig, deps func(*projections.RuntimeDeps), ps ...projections.Projection) *projections.Runtime {
	t.Helper()
	d := env.Deps()
	if deps != nil {
		deps(&d)
	}
	rt := projections.NewRuntime(cfg, d)
	for _, p := range ps {
		rt.Register(p)
	}
	return rt
}

func start(t *testing.T, rt *projections.Runtime) {
	t.Helper()
	require.NoError(t, rt.Start(context.Background()))
	t.Cleanup(func() { stop(t, rt) })
}

func stop(t *testing.T, rt *projections.Runtime) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, rt.Stop(ctx))
}

func startRuntime(t *testing.T, env *pt.Env, ps ...projections.Projection) *projections.Runtime {
	t.Helper()
	rt := newRuntime(t, env, testConfig(), nil, ps...)
	start(t, rt)
	return rt
}

func waitFor(t *testing.T, rt *projections.Runtime, position int64, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.True(t, rt.WaitFor(ctx, names, position), "projections %v did not reach position %d", names, position)
}

func dump(t *testing.T, env *pt.Env, p projections.Projection) map[string][]readmodel.Doc {
	t.Helper()
	var names []string
	for _, c := range p.Collections() {
		names = append(names, c.Name)
	}
	d, err := pt.Dump(context.Background(), env.Stores[p.Database()], names...)
	require.NoError(t, err)
	return d
}

func status(t *testing.T, rt *projections.Runtime, name string) projections.ProjectionStatus {
	t.Helper()
	for _, st := range rt.Status(context.Background()) {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no status for %s", name)
	return projections.ProjectionStatus{}
}

// memTx is a Tx over plain maps: the reference a projection's read model
// is compared with.
type memTx map[string]map[string]readmodel.Doc

func (m memTx) Get(_ context.Context, coll, id string) (readmodel.Doc, bool, error) {
	d, ok := m[coll][id]
	if !ok {
		return nil, false, nil
	}
	c, err := readmodel.NormalizeDoc(d) // a deep copy
	return c, true, err
}

func (m memTx) Put(coll string, doc readmodel.Doc) {
	d, err := readmodel.NormalizeDoc(doc)
	if err != nil {
		panic(err)
	}
	if m[coll] == nil {
		m[coll] = map[string]readmodel.Doc{}
	}
	m[coll][d.ID()] = d
}

func (m memTx) Delete(coll, id string) { delete(m[coll], id) }

// expected folds every event of the store into p with a memTx, in position
// order, leaving out the positions in skip.
func expected(t *testing.T, env *pt.Env, p projections.Projection, skip map[int64]bool) map[string][]readmodel.Doc {
	t.Helper()
	var order []int64
	for pos := int64(1); pos <= env.Head(t); pos++ {
		if !skip[pos] {
			order = append(order, pos)
		}
	}
	return expectedOrder(t, env, p, order)
}

// expectedOrder folds the events at the given positions into p with a
// memTx, in that order (events p does not listen to are left out).
func expectedOrder(t *testing.T, env *pt.Env, p projections.Projection, order []int64) map[string][]readmodel.Doc {
	t.Helper()
	ctx := context.Background()
	evs, err := env.Events.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	types := map[string]bool{}
	for _, typ := range p.EventTypes() {
		types[typ] = true
	}
	tx := memTx{}
	for _, pos := range order {
		rec := evs[pos-1]
		if !types[rec.Type] {
			continue
		}
		data, err := env.Codec.Decode(rec)
		require.NoError(t, err)
		require.NoError(t, p.Apply(ctx, tx, projections.Event{RecordedEvent: rec, Data: data}))
	}
	out := map[string][]readmodel.Doc{}
	for _, c := range p.Collections() {
		docs := []readmodel.Doc{}
		ids := make([]string, 0, len(tx[c.Name]))
		for id := range tx[c.Name] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			docs = append(docs, tx[c.Name][id])
		}
		out[c.Name] = docs
	}
	return out
}

// positions returns from..to without the ones in skip.
func positions(from, to int64, skip ...int64) []int64 {
	var out []int64
	for p := from; p <= to; p++ {
		if !slices.Contains(skip, p) {
			out = append(out, p)
		}
	}
	return out
}

// workload appends n appends of one to three mixed events to streams
// prefix-0..prefix-(streams-1), teams team-0..2: mostly increments, some
// renames, notes (which Counter ignores) and closes.
func workload(env *pt.Env, seed uint64, prefix string, streams, n int) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range n {
		s := rng.IntN(streams)
		req := eventstore.AppendRequest{
			StreamID: fmt.Sprintf("%s-%d", prefix, s), StreamType: pt.StreamType, Expected: eventstore.Any,
			Metadata: eventstore.Metadata{TeamID: fmt.Sprintf("team-%d", s%3), Actor: "test"},
		}
		for range 1 + rng.IntN(3) {
			var ev any
			switch r := rng.IntN(100); {
			case r < 70:
				ev = pt.Incremented{By: 1 + rng.Int64N(10)}
			case r < 85:
				ev = pt.Renamed{Label: fmt.Sprintf("label-%d-%d", i, r)}
			case r < 95:
				ev = pt.Noted{Text: "n"}
			default:
				ev = pt.Closed{}
			}
			ne, err := env.Codec.Encode(ev)
			if err != nil {
				return err
			}
			req.Events = append(req.Events, ne)
		}
		if _, err := env.Events.Append(context.Background(), req); err != nil {
			return err
		}
	}
	return nil
}

// writers runs k concurrent workloads and returns a function that waits
// for them and reports their first error.
func writers(env *pt.Env, k, streams, n int) func() error {
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for i := range k {
		wg.Go(func() {
			if err := workload(env, uint64(100+i), fmt.Sprintf("w%d", i), streams, n); err != nil {
				first.CompareAndSwap(nil, &err)
			}
		})
	}
	return func() error {
		wg.Wait()
		if p := first.Load(); p != nil {
			return *p
		}
		return nil
	}
}

func collectionsOf(t *testing.T, env *pt.Env, db dbregistry.Constant) []string {
	t.Helper()
	names, err := env.Stores[db].(readmodel.Inspector).ListCollections(context.Background())
	require.NoError(t, err)
	return names
}

func hasShadow(names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { _, shadow := readmodel.LiveName(n); return shadow })
}

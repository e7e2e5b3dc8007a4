package readmodeltest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

func testCheckpoint(t *testing.T, e *env) {
	require.Zero(t, e.checkpoint("nobody"))
	require.NoError(t, e.s.Commit(e.ctx, readmodel.Batch{Projection: "p1", Checkpoint: 10}), "a batch may only move the checkpoint")
	require.NoError(t, e.s.Commit(e.ctx, readmodel.Batch{Projection: "p2", Checkpoint: 3,
		Puts: map[string][]readmodel.Doc{"items": {doc("a")}}}))
	require.Equal(t, int64(10), e.checkpoint("p1"))
	require.Equal(t, int64(3), e.checkpoint("p2"))
	require.NoError(t, e.s.Commit(e.ctx, readmodel.Batch{Projection: "p1", Checkpoint: 12}))
	require.Equal(t, int64(12), e.checkpoint("p1"))
	require.Equal(t, int64(3), e.checkpoint("p2"), "projections are independent")
}

func testCheckpointAtomic(t *testing.T, e *env) {
	e.ensure("assets", assetIndex)
	e.put("assets", doc("a1", "asset_id", "x", "v", 1), doc("a2", "asset_id", "y"))
	cp := e.checkpoint(proj)
	before := e.find("assets", readmodel.Filter{})

	// Good puts, an update, a delete, and a violation last.
	err := e.commit(map[string][]readmodel.Doc{
		"assets": {doc("a1", "asset_id", "x", "v", 2), doc("a3", "asset_id", "z"), doc("a4", "asset_id", "x")},
		"other":  {doc("o1")},
	}, map[string][]string{"assets": {"a2"}})
	require.ErrorIs(t, err, readmodel.ErrDuplicate)
	require.Equal(t, cp, e.checkpoint(proj), "checkpoint unchanged")
	if !e.has(Transactions, "a batch that fails leaves every document as it was") {
		return // position guards: a retry converges (see testStaleBatch)
	}
	require.Equal(t, before, e.find("assets", readmodel.Filter{}), "documents unchanged")
	require.Equal(t, doc("a1", "asset_id", "x", "v", int64(1)), e.get("assets", "a1"))
	require.Empty(t, e.find("other", readmodel.Filter{}))
}

func testStaleBatch(t *testing.T, e *env) {
	put := func(cp int64, d readmodel.Doc) error {
		return e.s.Commit(e.ctx, readmodel.Batch{Projection: "p", Checkpoint: cp, Puts: map[string][]readmodel.Doc{"items": {d}}})
	}
	require.NoError(t, put(5, doc("a", "v", 5)))
	require.NoError(t, put(5, doc("a", "v", 99)), "replay of the same batch")
	require.NoError(t, put(3, doc("a", "v", 3)), "an older batch")
	require.NoError(t, e.s.Commit(e.ctx, readmodel.Batch{Projection: "p", Checkpoint: 4, Deletes: map[string][]string{"items": {"a"}}}))
	require.Equal(t, doc("a", "v", int64(5)), e.get("items", "a"))
	require.Equal(t, int64(5), e.checkpoint("p"))
	require.NoError(t, put(6, doc("a", "v", 6)))
	require.Equal(t, doc("a", "v", int64(6)), e.get("items", "a"))
	require.Equal(t, int64(6), e.checkpoint("p"))
}

func testRename(t *testing.T, e *env) {
	e.need(RenameOverTarget)
	e.ensure("findings", assetIndex)
	e.put("findings", doc("old1", "asset_id", "x"), doc("old2", "asset_id", "y"))
	shadow, err := readmodel.ShadowName("findings", "rebuild")
	require.NoError(t, err)
	e.ensure(shadow, assetIndex, teamIndex)
	e.put(shadow, doc("new1", "asset_id", "x"))
	e.ensure("other__rebuild")
	e.put("other__rebuild", doc("o1"))

	// A missing source fails; on SQLite nothing was renamed.
	err = e.s.RenameCollections(e.ctx, map[string]string{shadow: "findings", "missing__rebuild": "missing"})
	require.ErrorIs(t, err, readmodel.ErrNotFound)
	if e.info.Transactions && e.info.Backend == "sqlite" {
		require.Equal(t, []string{"old1", "old2"}, e.find("findings", readmodel.Filter{}))
	}
	if e.info.Backend != "sqlite" { // per-collection: the first rename may have happened
		_ = e.s.RenameCollections(e.ctx, map[string]string{shadow: "findings"})
		e.ensure(shadow, assetIndex, teamIndex)
		e.put(shadow, doc("new1", "asset_id", "x"))
	}

	require.NoError(t, e.s.RenameCollections(e.ctx, map[string]string{shadow: "findings", "other__rebuild": "other"}))
	require.Equal(t, []string{"new1"}, e.find("findings", readmodel.Filter{}), "queries see the new content")
	_, err = e.s.Get(e.ctx, "findings", "old1")
	require.ErrorIs(t, err, readmodel.ErrNotFound, "the old content is gone")
	require.Empty(t, e.find(shadow, readmodel.Filter{}), "the shadow is gone")
	require.Equal(t, []string{"o1"}, e.find("other", readmodel.Filter{}))
	if in, ok := e.s.(readmodel.Inspector); ok {
		cols, err := in.ListCollections(e.ctx)
		require.NoError(t, err)
		require.NotContains(t, cols, shadow)
		require.Equal(t, []readmodel.Index{assetIndex, teamIndex}, e.listIndexes("findings"), "the swapped-in collection keeps its indexes")
		require.Empty(t, e.listIndexes(shadow))
	}
	// The swapped-in indexes are live, and re-declaring them is a no-op.
	e.requireDuplicate(e.commit(map[string][]readmodel.Doc{"findings": {doc("dup", "asset_id", "x")}}, nil), "findings", "by_asset")
	e.ensure("findings", assetIndex, teamIndex)
	if _, ok := e.s.(readmodel.Inspector); ok {
		require.Len(t, e.listIndexes("findings"), 2)
	}
	// A new shadow can be built again under the same name.
	e.ensure(shadow, assetIndex)
	e.put(shadow, doc("new2", "asset_id", "x"))
	require.NoError(t, e.s.RenameCollections(e.ctx, map[string]string{shadow: "findings"}))
	require.Equal(t, []string{"new2"}, e.find("findings", readmodel.Filter{}))
}

func testSwap(t *testing.T, e *env) {
	sw, ok := e.s.(readmodel.Swapper)
	if !ok {
		t.Skip("store does not implement readmodel.Swapper")
	}
	live, rebuild := "findings.live", "findings.rebuild"
	require.NoError(t, e.s.Commit(e.ctx, readmodel.Batch{Projection: live, Checkpoint: 40, Puts: map[string][]readmodel.Doc{"findings": {doc("old")}}}))
	require.NoError(t, e.s.Commit(e.ctx, readmodel.Batch{Projection: rebuild, Checkpoint: 42, Puts: map[string][]readmodel.Doc{"findings__rebuild": {doc("new")}}}))
	spec := readmodel.SwapSpec{Checkpoints: map[string]int64{live: 42, rebuild: 0}}
	renames := e.has(RenameOverTarget, "a swap's renames, with the checkpoints set after them")
	if renames {
		spec.Renames = map[string]string{"findings__rebuild": "findings"}
	}
	require.NoError(t, sw.Swap(e.ctx, spec))
	if renames {
		require.Equal(t, []string{"new"}, e.find("findings", readmodel.Filter{}))
	}
	require.Equal(t, int64(42), e.checkpoint(live), "the live projection resumes after the rebuilt content")
	require.Zero(t, e.checkpoint(rebuild))

	// Checkpoints only: a reset, also backwards.
	require.NoError(t, sw.Swap(e.ctx, readmodel.SwapSpec{Checkpoints: map[string]int64{live: 7}}))
	require.Equal(t, int64(7), e.checkpoint(live))
	require.ErrorIs(t, sw.Swap(e.ctx, readmodel.SwapSpec{Checkpoints: map[string]int64{live: -1}}), readmodel.ErrInvalid)
}

func testDrop(t *testing.T, e *env) {
	e.ensure("items", assetIndex)
	e.put("items", doc("a", "asset_id", "x"))
	require.NoError(t, e.s.DropCollection(e.ctx, "items"))
	require.NoError(t, e.s.DropCollection(e.ctx, "items"), "dropping a missing collection is fine")
	_, err := e.s.Get(e.ctx, "items", "a")
	require.ErrorIs(t, err, readmodel.ErrNotFound)
	require.Empty(t, e.find("items", readmodel.Filter{}))
	require.Zero(t, e.count("items", readmodel.Filter{}))
	require.Empty(t, e.listIndexes("items"))
	// The name is free again, without the old indexes.
	e.put("items", doc("b", "asset_id", "x"), doc("c", "asset_id", "x"))
	require.Equal(t, int64(2), e.count("items", readmodel.Filter{}))
}

// testConcurrency: readers run while batches commit. Each batch rewrites
// every document with its generation, so a reader of a transactional store
// sees one generation per query, and the checkpoint never runs ahead of the
// documents.
func testConcurrency(t *testing.T, e *env) {
	const docs, batches, readers = 20, 40, 4
	write := func(gen int64) readmodel.Batch {
		b := readmodel.Batch{Projection: "gen", Checkpoint: gen, Puts: map[string][]readmodel.Doc{}}
		for i := range docs {
			b.Puts["items"] = append(b.Puts["items"], doc(fmt.Sprintf("d%02d", i), "gen", gen, "team", "t1"))
		}
		return b
	}
	require.NoError(t, e.s.Commit(e.ctx, write(1)))

	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, readers+2)
	for r := range readers {
		wg.Go(func() {
			var reads int
			for {
				select {
				case <-done:
					if reads == 0 {
						errs <- fmt.Errorf("reader %d never read", r)
					}
					return
				default:
				}
				cp, err := e.s.Checkpoint(e.ctx, "gen")
				if err != nil {
					errs <- err
					return
				}
				p, err := e.s.Find(e.ctx, "items", readmodel.FindOptions{Filter: readmodel.Eq("team", "t1"), Limit: docs})
				if err != nil {
					errs <- err
					return
				}
				reads++
				if len(p.Docs) != docs {
					errs <- fmt.Errorf("reader %d saw %d documents", r, len(p.Docs))
					return
				}
				gens := map[int64]bool{}
				for _, d := range p.Docs {
					g := d["gen"].(int64)
					gens[g] = true
					if g < cp {
						errs <- fmt.Errorf("reader %d: checkpoint %d ahead of a document at generation %d", r, cp, g)
						return
					}
				}
				// SQLite reads one snapshot per query; MongoDB may yield
				// (and move to a newer snapshot) inside a query.
				if e.info.Backend == "sqlite" && len(gens) != 1 {
					errs <- fmt.Errorf("reader %d saw a torn batch: generations %v", r, gens)
					return
				}
			}
		})
	}
	// Two projections commit concurrently into the same store.
	wg.Go(func() {
		for i := range int64(batches) {
			if err := e.s.Commit(e.ctx, readmodel.Batch{Projection: "side", Checkpoint: i + 1,
				Puts: map[string][]readmodel.Doc{"side": {doc(fmt.Sprintf("s%d", i%5), "i", i)}}}); err != nil {
				errs <- err
				return
			}
		}
	})
	for gen := int64(2); gen <= batches; gen++ {
		require.NoError(t, e.s.Commit(e.ctx, write(gen)))
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(batches), e.checkpoint("gen"))
	require.Equal(t, int64(batches), e.checkpoint("side"))
	require.Equal(t, int64(docs), e.count("items", readmodel.Eq("gen", int64(batches))))
}

// Package readmodeltest is the contract suite every readmodel.Store adapter
// passes: run it from the adapter's tests with a function that opens a
// fresh, empty store per call.
//
//	func TestContract(t *testing.T) {
//		readmodeltest.Run(t, func(t *testing.T) readmodel.Store { ... })
//	}
//
// Stores that implement readmodel.Inspector declare their guarantees with
// Info: on a store without transactions (a standalone MongoDB) the
// all-or-nothing assertions are replaced by the position-guard ones, and on
// a store with server-side TTL the index declaration is checked instead of
// SweepExpired.
//
// A server that lacks a feature some cases need (FerretDB has no partial
// or TTL indexes, no renameCollection with dropTarget, no transactions) is
// tested with RunTarget, declaring what it lacks as capabilities: what
// needs them is not run, each such skip says why, and Summary lists it for
// TestMain to print.
package readmodeltest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Run runs the contract suite against a backend with every capability.
// open must return a fresh, empty store and arrange for it to be closed
// (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) readmodel.Store) {
	RunTarget(t, Target{}, open)
}

// RunTarget runs the contract suite against a backend that may lack some
// capabilities (see Target and Summary).
func RunTarget(t *testing.T, target Target, open func(t *testing.T) readmodel.Store) {
	report := newRunReport(t, target)
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"RoundTrip", testRoundTrip},
		{"PutGetDelete", testPutGetDelete},
		{"GetMany", testGetMany},
		{"Validation", testValidation},
		{"Filters", testFilters},
		{"JSONLookalikes", testJSONLookalikes},
		{"Sort", testSort},
		{"Pagination", testPagination},
		{"PaginationWithInserts", testPaginationWithInserts},
		{"Count", testCount},
		{"EnsureCollection", testEnsureCollection},
		{"Unique", testUnique},
		{"CompoundUnique", testCompoundUnique},
		{"PartialIndex", testPartialIndex},
		{"DeletesBeforePuts", testDeletesBeforePuts},
		{"TTL", testTTL},
		{"TTLPolicy", testTTLPolicy},
		{"Checkpoint", testCheckpoint},
		{"CheckpointAtomicWithDocs", testCheckpointAtomic},
		{"StaleBatch", testStaleBatch},
		{"RenameCollections", testRename},
		{"Swap", testSwap},
		{"Drop", testDrop},
		{"ConcurrentReadersDuringCommits", testConcurrency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			report.mu.Lock()
			report.started++
			report.mu.Unlock()
			tc.fn(t, newEnv(t, report, open(t)))
		})
	}
}

// env is one test's store plus helpers.
type env struct {
	t      *testing.T
	ctx    context.Context
	s      readmodel.Store
	info   readmodel.Info
	report *runReport
	pos    atomic.Int64 // last checkpoint used by put/del
}

const proj = "contract"

func newEnv(t *testing.T, report *runReport, s readmodel.Store) *env {
	e := &env{t: t, ctx: t.Context(), s: s, info: readmodel.Info{Transactions: true}, report: report}
	if in, ok := s.(readmodel.Inspector); ok {
		e.info = in.Info()
	}
	return e
}

// commit commits with the next checkpoint of the "contract" projection.
func (e *env) commit(puts map[string][]readmodel.Doc, dels map[string][]string) error {
	return e.s.Commit(e.ctx, readmodel.Batch{Projection: proj, Checkpoint: e.pos.Add(1), Puts: puts, Deletes: dels})
}

func (e *env) put(coll string, docs ...readmodel.Doc) {
	e.t.Helper()
	require.NoError(e.t, e.commit(map[string][]readmodel.Doc{coll: docs}, nil))
}

func (e *env) del(coll string, ids ...string) {
	e.t.Helper()
	require.NoError(e.t, e.commit(nil, map[string][]string{coll: ids}))
}

func (e *env) ensure(coll string, ixs ...readmodel.Index) {
	e.t.Helper()
	require.NoError(e.t, e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: coll, Indexes: ixs}))
}

func (e *env) get(coll, id string) readmodel.Doc {
	e.t.Helper()
	d, err := e.s.Get(e.ctx, coll, id)
	require.NoError(e.t, err)
	return d
}

func (e *env) count(coll string, f readmodel.Filter) int64 {
	e.t.Helper()
	n, err := e.s.Count(e.ctx, coll, f)
	require.NoError(e.t, err)
	return n
}

// find returns the ids of one unpaginated Find (limit MaxLimit).
func (e *env) find(coll string, f readmodel.Filter, sort ...readmodel.SortField) []string {
	e.t.Helper()
	p, err := e.s.Find(e.ctx, coll, readmodel.FindOptions{Filter: f, Sort: sort, Limit: readmodel.MaxLimit})
	require.NoError(e.t, err)
	require.Empty(e.t, p.NextCursor)
	return ids(p.Docs)
}

// walk pages through a Find, calling between (if not nil) after each page,
// and returns the ids in the order seen.
func (e *env) walk(coll string, opts readmodel.FindOptions, between func(page int)) []string {
	e.t.Helper()
	var out []string
	for page := 0; ; page++ {
		require.Less(e.t, page, 10_000, "pagination does not end")
		p, err := e.s.Find(e.ctx, coll, opts)
		require.NoError(e.t, err)
		require.LessOrEqual(e.t, len(p.Docs), opts.Limit)
		out = append(out, ids(p.Docs)...)
		if p.NextCursor == "" {
			return out
		}
		require.Len(e.t, p.Docs, opts.Limit, "a page with a next cursor is full")
		opts.Cursor = p.NextCursor
		if between != nil {
			between(page)
		}
	}
}

func (e *env) checkpoint(p string) int64 {
	e.t.Helper()
	n, err := e.s.Checkpoint(e.ctx, p)
	require.NoError(e.t, err)
	return n
}

func ids(docs []readmodel.Doc) []string {
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.ID())
	}
	return out
}

func doc(id string, kv ...any) readmodel.Doc {
	d := readmodel.Doc{"_id": id}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i].(string)] = kv[i+1]
	}
	return d
}

// t0 is a fixed instant the tests build times from.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

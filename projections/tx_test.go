package projections

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

func openStore(t *testing.T) readmodel.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "rm.sqlite"), sqlitestore.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestTxReadsItsOwnWritesAndRollsBackOneEvent(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	require.NoError(t, store.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1,
		Puts: map[string][]readmodel.Doc{"things__rebuild": {{"_id": "a", "n": 1}, {"_id": "b", "n": 2}}}}))

	tx := newBatchTx(store, map[string]string{"things": "things__rebuild"}, 100)
	tx.begin()
	d, found, err := tx.Get(ctx, "things", "a")
	require.NoError(t, err)
	require.True(t, found, "reads go to the physical (shadow) collection")
	assert.Equal(t, int64(1), d["n"])
	d["n"] = int64(99) // editing what Get returned changes nothing
	d2, _, _ := tx.Get(ctx, "things", "a")
	assert.Equal(t, int64(1), d2["n"])

	tx.Put("things", readmodel.Doc{"_id": "c", "n": 3, "at": time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600))})
	tx.Delete("things", "b")
	_, found, err = tx.Get(ctx, "things", "b")
	require.NoError(t, err)
	assert.False(t, found, "Get sees the batch's own delete")
	c, found, err := tx.Get(ctx, "things", "c")
	require.NoError(t, err)
	require.True(t, found, "Get sees the batch's own put")
	assert.Equal(t, int64(3), c["n"], "puts are normalized like the store would return them")
	assert.Equal(t, time.Date(2026, 1, 2, 2, 4, 5, 678000000, time.UTC), c["at"])
	require.NoError(t, tx.scopeErr)

	// A second event fails: its writes go, the first event's stay.
	tx.begin()
	tx.Put("things", readmodel.Doc{"_id": "a", "n": 10})
	tx.Put("things", readmodel.Doc{"_id": "a", "n": 11})
	tx.Put("things", readmodel.Doc{"_id": "d", "n": 4})
	tx.Delete("things", "c")
	tx.rollback()
	a, _, _ := tx.Get(ctx, "things", "a")
	assert.Equal(t, int64(1), a["n"])
	_, found, _ = tx.Get(ctx, "things", "d")
	assert.False(t, found)
	_, found, _ = tx.Get(ctx, "things", "c")
	assert.True(t, found)

	b := tx.batch("p@rebuild", 2)
	assert.Equal(t, []string{"b"}, b.Deletes["things__rebuild"])
	require.Len(t, b.Puts["things__rebuild"], 1)
	assert.Equal(t, "c", b.Puts["things__rebuild"][0].ID())
	require.NoError(t, store.Commit(ctx, b))
	tx.committed()
	assert.Zero(t, tx.dirty)
	assert.Empty(t, tx.batch("p@rebuild", 3).Puts, "nothing left to write after the commit")
	c, found, _ = tx.Get(ctx, "things", "c")
	assert.True(t, found, "committed writes stay cached")
	assert.Equal(t, int64(3), c["n"])
}

func TestTxRefusesUndeclaredCollectionsAndBadDocuments(t *testing.T) {
	ctx := context.Background()
	tx := newBatchTx(openStore(t), map[string]string{"things": "things"}, 100)
	tx.begin()
	_, _, err := tx.Get(ctx, "other", "a")
	require.Error(t, err)
	tx.begin()
	tx.Put("other", readmodel.Doc{"_id": "a"})
	require.ErrorContains(t, tx.scopeErr, "not declared")
	tx.begin()
	tx.Put("things", readmodel.Doc{"n": 1})
	require.ErrorIs(t, tx.scopeErr, readmodel.ErrInvalid)
	tx.begin()
	tx.Delete("things", "")
	require.ErrorIs(t, tx.scopeErr, readmodel.ErrInvalid)
}

func TestTxPutsInFirstWriteOrder(t *testing.T) {
	tx := newBatchTx(openStore(t), map[string]string{"things": "things"}, 100)
	tx.begin()
	for _, id := range []string{"z", "a", "m", "a"} {
		tx.Put("things", readmodel.Doc{"_id": id})
	}
	var ids []string
	for _, d := range tx.batch("p", 1).Puts["things"] {
		ids = append(ids, d.ID())
	}
	assert.Equal(t, []string{"z", "a", "m"}, ids)
}

func TestSubjectsAndConsumerName(t *testing.T) {
	assert.Equal(t, "cloudsecurity_findings", ConsumerName("cloudsecurity.findings"))
	assert.Equal(t, "a_b_c-d", ConsumerName("a:b@c-d"))
	got := Subjects(bus.StreamConfig{}, nil, []string{"ScanStarted", "Weird.Type", "ScanStarted"})
	assert.Equal(t, []string{"cspm.events.*.ScanStarted", "cspm.events.*.Weird_Type"}, got)
	got = Subjects(bus.StreamConfig{}, func(t string) string {
		if t == "ScanStarted" {
			return "orchestration"
		}
		return ""
	}, []string{"ScanStarted", "FindingRaised"})
	assert.Equal(t, []string{"cspm.events.*.FindingRaised", "cspm.events.orchestration.ScanStarted"}, got)
}

func TestRetryDelay(t *testing.T) {
	r := NewRuntime(RuntimeConfig{RetryBackoff: 10 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond}, RuntimeDeps{})
	assert.Equal(t, 10*time.Millisecond, r.retryDelay(1))
	assert.Equal(t, 20*time.Millisecond, r.retryDelay(2))
	assert.Equal(t, 40*time.Millisecond, r.retryDelay(3))
	assert.Equal(t, 50*time.Millisecond, r.retryDelay(9))
}

// countingStore counts the store's single and multiple reads.
type countingStore struct {
	readmodel.Store
	gets, getManys int
}

func (c *countingStore) Get(ctx context.Context, collection, id string) (readmodel.Doc, error) {
	c.gets++
	return c.Store.Get(ctx, collection, id)
}

func (c *countingStore) GetMany(ctx context.Context, collection string, ids []string) (map[string]readmodel.Doc, error) {
	c.getManys++
	return c.Store.GetMany(ctx, collection, ids)
}

// prefetcher reads "things" by the event's stream id (a Prefetcher).
type prefetcher struct{ reads *[]bool }

func (prefetcher) Name() string                  { return "pf" }
func (prefetcher) Database() dbregistry.Constant { return dbregistry.PLATFORM }
func (prefetcher) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: "things"}}
}
func (prefetcher) EventTypes() []string                         { return []string{"T"} }
func (p prefetcher) Prefetch(ev Event, want func(c, id string)) { want("things", ev.StreamID) }
func (p prefetcher) Apply(ctx context.Context, tx Tx, ev Event) error {
	_, found, err := tx.Get(ctx, "things", ev.StreamID)
	*p.reads = append(*p.reads, found)
	tx.Put("things", readmodel.Doc{"_id": ev.StreamID})
	return err
}

// A run's documents named by Prefetch are read with one GetMany (from the
// physical collection, repeated ids once), existing or not, and Apply's
// Gets then read nothing more; what Apply reads finds the same as without.
func TestPrefetchReadsARunsDocumentsAtOnce(t *testing.T) {
	ctx := context.Background()
	base := openStore(t)
	require.NoError(t, base.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1,
		Puts: map[string][]readmodel.Doc{"things__rebuild": {{"_id": "a"}, {"_id": "c"}}}}))
	store := &countingStore{Store: base}
	tx := newBatchTx(store, map[string]string{"things": "things__rebuild"}, 100)
	var reads []bool
	p := prefetcher{reads: &reads}
	var evs []Event
	for _, id := range []string{"a", "b", "c", "a", "d"} {
		evs = append(evs, Event{RecordedEvent: eventstore.RecordedEvent{StreamID: id, Type: "T"}})
	}
	prefetch(ctx, p, tx, evs)
	assert.Equal(t, 1, store.getManys)
	for _, ev := range evs {
		_, err := applyEvent(ctx, p, tx, ev)
		require.NoError(t, err)
	}
	assert.Zero(t, store.gets, "every read was prefetched")
	assert.Equal(t, []bool{true, false, true, true, false}, reads)

	prefetch(ctx, p, tx, evs[:2])
	assert.Equal(t, 1, store.getManys, "what the Tx holds is not read again")
}

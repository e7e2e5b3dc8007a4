package queries_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
	cloudsecurityproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	orchestrationproj "github.com/cspm-es/cspm-es/projections/orchestration"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	"github.com/cspm-es/cspm-es/queries"
)

// allProjections are the projections whose read models the queries read.
func allProjections() []projections.Projection {
	return []projections.Projection{
		orchestrationproj.NewScanRuns(),
		orchestrationproj.NewScanSummaries(),
		cloudsecurityproj.NewFindings(),
		platformproj.NewDashboard(),
		platformproj.NewCrossModuleReferences(),
		platformproj.NewAuditLog(),
	}
}

// env is the three module databases on SQLite, in dir.
type env struct {
	stores map[dbregistry.Constant]*sqlitestore.Store
	svc    *queries.Service
}

func openEnv(tb testing.TB, dir string) *env {
	tb.Helper()
	ctx := context.Background()
	reg := dbregistry.MustNew("")
	consts := []dbregistry.Constant{dbregistry.ORCHESTRATION, dbregistry.CLOUD_SECURITY, dbregistry.PLATFORM}
	names := make([]string, len(consts))
	for i, c := range consts {
		names[i] = reg.Name(c)
	}
	byName, err := sqlitestore.OpenModuleStores(ctx, dir, names, sqlitestore.Options{Synchronous: "normal"})
	require.NoError(tb, err)
	e := &env{stores: map[dbregistry.Constant]*sqlitestore.Store{}}
	for i, c := range consts {
		e.stores[c] = byName[names[i]]
	}
	for _, p := range allProjections() {
		for _, spec := range p.Collections() {
			require.NoError(tb, e.stores[p.Database()].EnsureCollection(ctx, spec))
		}
	}
	e.svc = queries.New(queries.Stores{
		Orchestration: e.stores[dbregistry.ORCHESTRATION],
		CloudSecurity: e.stores[dbregistry.CLOUD_SECURITY],
		Platform:      e.stores[dbregistry.PLATFORM],
	})
	return e
}

func (e *env) close(tb testing.TB) {
	tb.Helper()
	for _, s := range e.stores {
		require.NoError(tb, s.Close())
	}
}

// newEnv opens an env in a test's temporary directory and seeds it.
func newEnv(t *testing.T, events []projections.Event) *env {
	t.Helper()
	e := openEnv(t, t.TempDir())
	t.Cleanup(func() { e.close(t) })
	e.seed(t, events)
	return e
}

// seed runs every projection over events (in order) through a map-backed
// Tx, then commits the documents it built to the projection's database in
// batches, as the runtime would.
func (e *env) seed(tb testing.TB, events []projections.Event) {
	tb.Helper()
	ctx := context.Background()
	for _, p := range allProjections() {
		tx := &memTx{colls: map[string]map[string]readmodel.Doc{}}
		types := p.EventTypes()
		for _, ev := range events {
			if slices.Contains(types, ev.Type) {
				require.NoError(tb, p.Apply(ctx, tx, ev))
			}
		}
		store := e.stores[p.Database()]
		cp, err := store.Checkpoint(ctx, p.Name())
		require.NoError(tb, err)
		for coll, docs := range tx.colls {
			ids := slices.Sorted(maps.Keys(docs))
			for chunk := range slices.Chunk(ids, 5000) {
				batch := readmodel.Batch{Projection: p.Name(), Checkpoint: cp + 1, Puts: map[string][]readmodel.Doc{}}
				for _, id := range chunk {
					batch.Puts[coll] = append(batch.Puts[coll], docs[id])
				}
				require.NoError(tb, store.Commit(ctx, batch))
				cp++
			}
		}
	}
}

// memTx is a map-backed projections.Tx. It keeps documents as the
// projections hand them over (they never change a document they read);
// Commit validates and normalizes them on the way to the store.
type memTx struct {
	colls map[string]map[string]readmodel.Doc
}

func (m *memTx) Get(_ context.Context, coll, id string) (readmodel.Doc, bool, error) {
	d, ok := m.colls[coll][id]
	return d, ok, nil
}

func (m *memTx) Put(coll string, doc readmodel.Doc) {
	if m.colls[coll] == nil {
		m.colls[coll] = map[string]readmodel.Doc{}
	}
	m.colls[coll][doc.ID()] = doc
}

func (m *memTx) Delete(coll, id string) { delete(m.colls[coll], id) }

// history numbers its events with positions 1, 2, ...
type history struct {
	events []projections.Event
}

type eventData interface{ EventType() string }

func (h *history) add(team string, data ...eventData) {
	for _, d := range data {
		pos := int64(len(h.events) + 1)
		h.events = append(h.events, projections.Event{RecordedEvent: eventstore.RecordedEvent{
			EventID:    fmt.Sprintf("ev-%d", pos),
			Type:       d.EventType(),
			Position:   pos,
			Metadata:   eventstore.Metadata{TeamID: team},
			RecordedAt: t0.Add(time.Duration(pos) * time.Millisecond),
		}, Data: d})
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

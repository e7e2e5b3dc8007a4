// Package queriestest holds what the tests of the queries share: the
// module databases on SQLite, seeded by running the real projections over
// a list of events (Env), and the test world (WorldEvents: two teams'
// scans and findings) with what the queries must answer about it.
package queriestest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
	aigovproj "github.com/cspm-es/cspm-es/projections/aigovernance"
	assessmentsproj "github.com/cspm-es/cspm-es/projections/assessments"
	biaproj "github.com/cspm-es/cspm-es/projections/bia"
	cloudassetsproj "github.com/cspm-es/cspm-es/projections/cloudassets"
	cloudsecurityproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	registriesproj "github.com/cspm-es/cspm-es/projections/containerregistries"
	integrationsproj "github.com/cspm-es/cspm-es/projections/integrations"
	kbproj "github.com/cspm-es/cspm-es/projections/knowledgebase"
	orchestrationproj "github.com/cspm-es/cspm-es/projections/orchestration"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	riskproj "github.com/cspm-es/cspm-es/projections/risk"
	securityscansproj "github.com/cspm-es/cspm-es/projections/securityscans"
	threatintelproj "github.com/cspm-es/cspm-es/projections/threatintel"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
)

// AllProjections are the projections whose read models the queries read.
func AllProjections() []projections.Projection {
	return []projections.Projection{
		orchestrationproj.NewScanRuns(),
		orchestrationproj.NewScanSummaries(),
		orchestrationproj.NewScanJobs(),
		orchestrationproj.NewJobReactor(0, 0),
		cloudsecurityproj.NewFindings(), cloudsecurityproj.NewAcceptances(),
		cloudassetsproj.NewAssets(),
		cloudsecurityproj.NewCompliance(),
		cloudsecurityproj.NewAccounts(),
		platformproj.NewDashboard(),
		platformproj.NewAuditLog(),
		// Vulnerabilities and container registries (Trivy imports).
		vulnproj.New(),
		registriesproj.New(),
		vulnproj.NewSLA(), // SLA clocks
		// Threat intelligence.
		threatintelproj.NewKEV(),
		threatintelproj.NewIndicators(),
		threatintelproj.NewCorrelation(),
		// The dashboard's vulnerabilities section (decision 57).
		platformproj.NewDashboardVulnerabilities(),
		// The dashboard's scan-engine section (decision 79).
		platformproj.NewDashboardScanEngine(),
		// Native security scans (Nuclei, ZAP, testssl.sh, SSLyze).
		securityscansproj.New(),
		// Assessments (catalogues, assessments, evidence, the unified view).
		assessmentsproj.NewAssessments(),
		assessmentsproj.NewEvidence(),
		assessmentsproj.NewIndex(),
		// Business impact analysis.
		biaproj.NewAnalyses(),
		biaproj.NewExercises(),
		// Risk management.
		riskproj.NewRegister(), riskproj.NewKRIs(),
		// Integrations (connections, the webhook outbox).
		integrationsproj.NewConnections(),
		integrationsproj.NewWebhooks(),
		// AI governance (the registry, the EU AI Act obligations).
		aigovproj.NewRegistry(),
		aigovproj.NewObligations(),
		// The knowledge base (documents, BM25 index, embedding cache).
		kbproj.New(),
	}
}

// Env is the three module databases on SQLite, in a directory.
type Env struct {
	Stores map[dbregistry.Constant]*sqlitestore.Store
}

// OpenEnv opens the module databases in dir, with the collections of
// AllProjections.
func OpenEnv(tb testing.TB, dir string) *Env {
	tb.Helper()
	ctx := context.Background()
	reg := dbregistry.MustNew("")
	consts := []dbregistry.Constant{dbregistry.ORCHESTRATION, dbregistry.CLOUD_SECURITY, dbregistry.PLATFORM, dbregistry.CLOUD_ASSETS,
		dbregistry.VULNERABILITIES, dbregistry.CONTAINER_REGISTRY, dbregistry.THREAT_INTELLIGENCE, dbregistry.SECURITY_SCANS, dbregistry.ASSESSMENTS, dbregistry.BIA, dbregistry.RISK_MANAGEMENT, dbregistry.INTEGRATIONS, dbregistry.AI_GOVERNANCE, dbregistry.KNOWLEDGE_BASE}
	names := make([]string, len(consts))
	for i, c := range consts {
		names[i] = reg.Name(c)
	}
	byName, err := sqlitestore.OpenModuleStores(ctx, dir, names, sqlitestore.Options{Synchronous: "normal"})
	require.NoError(tb, err)
	e := &Env{Stores: map[dbregistry.Constant]*sqlitestore.Store{}}
	for i, c := range consts {
		e.Stores[c] = byName[names[i]]
	}
	for _, p := range AllProjections() {
		for _, spec := range p.Collections() {
			require.NoError(tb, e.Stores[p.Database()].EnsureCollection(ctx, spec))
		}
	}
	return e
}

// Close closes the databases.
func (e *Env) Close(tb testing.TB) {
	tb.Helper()
	for _, s := range e.Stores {
		require.NoError(tb, s.Close())
	}
}

// NewEnv opens an Env in a test's temporary directory (closed when the
// test ends) and seeds it.
func NewEnv(t *testing.T, events []projections.Event) *Env {
	t.Helper()
	e := OpenEnv(t, t.TempDir())
	t.Cleanup(func() { e.Close(t) })
	e.Seed(t, events)
	return e
}

// Seed runs every projection over events (in order) through a map-backed
// Tx, then commits the documents it built to the projection's database in
// batches, as the runtime would.
func (e *Env) Seed(tb testing.TB, events []projections.Event) {
	tb.Helper()
	ctx := context.Background()
	for _, p := range AllProjections() {
		tx := NewMemTx()
		types := p.EventTypes()
		for _, ev := range events {
			if slices.Contains(types, ev.Type) {
				require.NoError(tb, p.Apply(ctx, tx, ev))
			}
		}
		store := e.Stores[p.Database()]
		cp, err := store.Checkpoint(ctx, p.Name())
		require.NoError(tb, err)
		for coll, docs := range tx.Colls {
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

// MemTx is a map-backed projections.Tx. It keeps documents as the
// projections hand them over (they never change a document they read);
// Commit validates and normalizes them on the way to the store.
type MemTx struct {
	Colls map[string]map[string]readmodel.Doc // collection → _id → document
}

// NewMemTx returns an empty MemTx.
func NewMemTx() *MemTx { return &MemTx{Colls: map[string]map[string]readmodel.Doc{}} }

// Get reads a document put before.
func (m *MemTx) Get(_ context.Context, coll, id string) (readmodel.Doc, bool, error) {
	d, ok := m.Colls[coll][id]
	return d, ok, nil
}

// Put keeps a document.
func (m *MemTx) Put(coll string, doc readmodel.Doc) {
	if m.Colls[coll] == nil {
		m.Colls[coll] = map[string]readmodel.Doc{}
	}
	m.Colls[coll][doc.ID()] = doc
}

// Delete forgets a document.
func (m *MemTx) Delete(coll, id string) { delete(m.Colls[coll], id) }

// History numbers its events with positions 1, 2, ...
type History struct {
	Events []projections.Event
}

// EventData is a domain event.
type EventData interface{ EventType() string }

// Add appends events of team, at the next positions.
func (h *History) Add(team string, data ...EventData) { h.AddAs(team, "", data...) }

// AddAs appends events of team that actor caused, at the next positions.
func (h *History) AddAs(team, actor string, data ...EventData) {
	for _, d := range data {
		pos := int64(len(h.Events) + 1)
		h.Events = append(h.Events, projections.Event{RecordedEvent: eventstore.RecordedEvent{
			EventID:    fmt.Sprintf("ev-%d", pos),
			Type:       d.EventType(),
			Position:   pos,
			Metadata:   eventstore.Metadata{TeamID: team, Actor: actor},
			RecordedAt: T0.Add(time.Duration(pos) * time.Millisecond),
		}, Data: d})
	}
}

// T0 is when the test world starts.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// At is T0 + d.
func At(d time.Duration) time.Time { return T0.Add(d) }

// IDs maps items to their ids, in order.
func IDs[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

// FieldsOf returns the fields a *domain.ValidationError names.
func FieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve), "want a *domain.ValidationError, got %v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

// JSONNumber is n as JSON.
func JSONNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

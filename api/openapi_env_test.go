package api_test

import (
	"context"
	"errors"
	biacmd "github.com/cspm-es/cspm-es/commands/bia"
	cacmd "github.com/cspm-es/cspm-es/commands/cloudassets"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	retcmd "github.com/cspm-es/cspm-es/commands/retention"
	biaproj "github.com/cspm-es/cspm-es/projections/bia"
	cloudassetsproj "github.com/cspm-es/cspm-es/projections/cloudassets"
	biaquery "github.com/cspm-es/cspm-es/queries/bia"
	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	riskcmd "github.com/cspm-es/cspm-es/commands/risk"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
	cloudsecurityproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	integrationsproj "github.com/cspm-es/cspm-es/projections/integrations"
	kbproj "github.com/cspm-es/cspm-es/projections/knowledgebase"
	orchestrationproj "github.com/cspm-es/cspm-es/projections/orchestration"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	riskproj "github.com/cspm-es/cspm-es/projections/risk"
	securityscansproj "github.com/cspm-es/cspm-es/projections/securityscans"
	threatintelproj "github.com/cspm-es/cspm-es/projections/threatintel"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// The environment of the OpenAPI tests: a server with every optional
// dependency (fullDeps, over fakes), and a server on the real pieces
// (contractEnv: SQLite event store, command handlers, projections into
// SQLite read models, queries) whose answers the contract tests validate.

// fullDeps are api.Deps with every field set, so that the server
// registers every route it can. A field added to api.Deps and left nil
// here fails the test: give it a fake, so that its routes are covered.
func fullDeps(t *testing.T) api.Deps {
	t.Helper()
	deps := api.Deps{
		Commands:    &fakeCommands{},
		Auth:        testAuth,
		Readiness:   []api.ReadinessChecker{api.ReadinessCheck("eventstore", func(context.Context) error { return nil })},
		Databases:   api.DatabaseListerFunc(func() []api.Database { return nil }),
		Queries:     &fakeQueries{},
		Progress:    &fakeProgress{},
		Projections: &fakeAdmin{},
		Relay:       fakeRelay{},
		Keys:        &keyService{},
		Audit:       &fakeAudit{},
		ThreatIntel: fakeThreatIntel{},
		Indicators:  fakeIndicators{},
		Accounts:    fakeAccounts{},
		Metrics:     prometheus.NewRegistry(),
		// Vulnerabilities (images, occurrences, the catalog).
		Vulnerabilities: fakeVulnerabilities{},
		// SLA clocks (sla_fakes_test.go).
		SLA: fakeSLA{},
		// Native security scans (securityscans_fakes_test.go).
		SecurityScans: fakeSecurityScans{},
		// Assessments (assessments_fakes_test.go).
		Assessments: fakeAssessments{},
		// Business impact analysis (bia_fakes_test.go).
		BIA: fakeBIA{},
		// Risk management (risk_fakes_test.go).
		Risk: fakeRisk{},
		// Scan runs of jobs (scanruns_fakes_test.go).
		ScanRuns: fakeScanRuns{},
		// Integrations (integrations_fakes_test.go).
		Integrations: fakeIntegrations{},
		// AI governance (aigovernance_fakes_test.go).
		AIGovernance: fakeAIGovernance{},
		// The knowledge base (kb_fakes_test.go).
		KnowledgeBase: fakeKnowledgeBase{},
		// Crypto-shredding (privacy_fakes_test.go).
		Privacy: fakePrivacy{},
		// Retention policies (retention_test.go).
		Retention: fakeRetention{},
	}
	requireAllSet(t, deps)
	return deps
}

// fakeRelay is a relay that published everything but one event, which
// went by reference.
type fakeRelay struct{}

func (fakeRelay) RelayStatus(context.Context) api.RelayStatus {
	at := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	return api.RelayStatus{Stream: "CSPM_EVENTS", Running: true, Published: 42, Head: 42, ProgressAt: at,
		ByReference: 1, LastByReference: 17}
}

// requireAllSet fails on a nil field of deps.
func requireAllSet(t *testing.T, deps api.Deps) {
	t.Helper()
	v := reflect.ValueOf(deps)
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map, reflect.Func:
			require.False(t, f.IsNil(), "api.Deps.%s is nil: give the OpenAPI tests a fake for it, so that its routes are covered",
				v.Type().Field(i).Name)
		}
	}
}

// contractEnv is the API on real pieces.
type contractEnv struct {
	kb       *contractKB
	store    *sqlite.Store
	projects *syncProjector
	admin    *contractAdmin
	srv      *api.Server
}

func newContractEnv(t *testing.T, mutate ...func(*api.ServerConfig, *api.Deps)) *contractEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "cspm_events.sqlite"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })

	reg := dbregistry.MustNew("")
	proj := newSyncProjector(t, store, reg, dir,
		orchestrationproj.NewScanRuns(), orchestrationproj.NewScanSummaries(), orchestrationproj.NewScanJobs(),
		cloudsecurityproj.NewFindings(), cloudsecurityproj.NewAcceptances(), platformproj.NewDashboard(), platformproj.NewAPIKeys(), platformproj.NewAuditLog(),
		cloudassetsproj.NewAssets(),
		cloudsecurityproj.NewCompliance(),
		cloudsecurityproj.NewAccounts(),
		vulnproj.New(), vulnproj.NewSLA(),
		threatintelproj.NewKEV(), threatintelproj.NewIndicators(), threatintelproj.NewCorrelation(),
		securityscansproj.New(),
		biaproj.NewAnalyses(), biaproj.NewExercises(),
		riskproj.NewRegister(), riskproj.NewKRIs(), platformproj.NewDashboardScanEngine(),
		integrationsproj.NewConnections(), integrationsproj.NewWebhooks(),
		kbproj.New())
	env := &contractEnv{store: store, projects: proj, admin: &contractAdmin{}}
	codec := eventstore.NewDomainCodec()
	kit := commands.NewKit(store, codec, time.Now)
	platformQueries := platformquery.New(platformquery.Stores{Platform: proj.stores[dbregistry.PLATFORM]})
	queryService := api.QueryModules{
		OrchestrationQueries: orchquery.New(orchquery.Stores{Orchestration: proj.stores[dbregistry.ORCHESTRATION]}),
		CloudSecurityQueries: csquery.New(csquery.Stores{CloudSecurity: proj.stores[dbregistry.CLOUD_SECURITY]}),
		PlatformQueries:      platformQueries,
		CloudAssetsQueries:   caquery.New(caquery.Stores{CloudAssets: proj.stores[dbregistry.CLOUD_ASSETS]}),
	}
	cfg := api.ServerConfig{BodyLimit: 4 << 10, IngestBodyLimit: 64 << 10, ImportBodyLimit: 256 << 10, ReadWaitTimeout: time.Second}
	commandModules := moduleCommands(kit)
	// The triage of imported findings asks the findings read model.
	commandModules.CloudSecurityCommands = cscmd.New(kit).WithImports(reportParsers{}, store).
		WithImportedFindings(importedFindings(queryService.CloudSecurityQueries.(*csquery.Service))).
		WithInventories(inventoryPort{h: cacmd.New(kit, inventoryParsers{}, store)}).
		WithScanImports(contractScanImports{vulncmd.New(kit, queriestest.TrivyParsers{}, store)}).
		WithFormatImporter(parsers.KEVFormats, contractKEVImporter(ticmd.New(kit).WithFeeds(parsers.Registry{})))
	deps := api.Deps{
		Commands: commandModules,
		Auth:     testAuth,
		Readiness: []api.ReadinessChecker{api.ReadinessCheck("eventstore", func(ctx context.Context) error {
			_, err := store.HeadPosition(ctx)
			return err
		})},
		Databases: api.DatabaseListerFunc(func() []api.Database {
			var out []api.Database
			for _, e := range reg.Entries() {
				out = append(out, api.Database{Constant: string(e.Constant), Name: e.Name, DefaultName: e.DefaultName,
					Purpose: e.Purpose, Side: string(e.Side)})
			}
			return out
		}),
		Queries:     queryService,
		Progress:    proj,
		Projections: env.admin,
		Relay:       fakeRelay{}, // the relay needs NATS: its own tests cover it
		Keys:        contractKeys{Handlers: platformcmd.New(kit), queries: platformQueries},
		Audit: platformquery.NewAudit(platformquery.AuditDeps{
			Log:    proj.stores[dbregistry.PLATFORM],
			Events: store,
			State:  func(evs []eventstore.RecordedEvent) (any, error) { return commands.State(codec, evs) },
		}),
		Vulnerabilities: vulnquery.New(proj.stores[dbregistry.VULNERABILITIES]),
		ThreatIntel:     tiquery.New(proj.stores[dbregistry.THREAT_INTELLIGENCE]),
		Indicators:      indicatorService{ticmd.New(kit), tiquery.New(proj.stores[dbregistry.THREAT_INTELLIGENCE])},
		Metrics:         prometheus.NewRegistry(),
	}
	// SLA clocks: the policy command and the queries in one.
	deps.SLA = slaService{vulncmd.NewSLA(kit), vulnquery.NewSLA(proj.stores[dbregistry.VULNERABILITIES], time.Now)}
	deps.SecurityScans = ssquery.New(proj.stores[dbregistry.SECURITY_SCANS], time.Now)
	// Business impact analysis.
	deps.BIA = biaService{biacmd.New(kit), biaquery.New(proj.stores[dbregistry.BIA], time.Now)}
	// Risk management: the commands and the queries in one.
	deps.Risk = riskService{riskcmd.New(kit), riskquery.New(proj.stores[dbregistry.RISK_MANAGEMENT], time.Now)}
	deps.Integrations = contractIntegrationService(t, kit, proj.stores[dbregistry.INTEGRATIONS]) // integrations_fakes_test.go
	// The knowledge base, semantic search on a local embedding service.
	env.kb = newContractKB(t, kit, store, proj.stores[dbregistry.KNOWLEDGE_BASE])
	deps.KnowledgeBase = env.kb
	accountQueries := queryService.CloudSecurityQueries.(*csquery.Service)
	deps.Accounts = contractAccounts{cscmd.New(kit).WithKnownAccounts(accountQueries), accountQueries}
	// Assessments: a fake (their handlers, projections and queries have
	// their own tests; cmd/cspm runs them for real).
	deps.Assessments = fakeAssessments{}
	deps.ScanRuns = contractScanRuns{orchcmd.New(kit), queryService.OrchestrationQueries.(*orchquery.Service)}
	deps.AIGovernance = fakeAIGovernance{} // likewise
	// Crypto-shredding (privacy_fakes_test.go).
	deps.Privacy = newContractPrivacy(t, kit)
	deps.Retention = retcmd.New(kit) // retention policies, read from the event store
	requireAllSet(t, deps)
	for _, m := range mutate {
		m(&cfg, &deps)
	}
	env.srv = api.NewServer(cfg, deps)
	return env
}

// contractKeys is the key service as the process wires it: the command
// handlers issue and revoke, the queries list.
type contractKeys struct {
	*platformcmd.Handlers
	queries *platformquery.Service
}

func (k contractKeys) ListKeys(ctx context.Context, team string, p queries.Page) (platformquery.APIKeyList, error) {
	return k.queries.ListKeys(ctx, team, p)
}

// syncProjector runs projections over the event store on demand, in the
// test's goroutine: it is the api.ReadProgress of the contract env, and
// catches up whenever a query asks how far it is.
type syncProjector struct {
	store  *sqlite.Store
	codec  *eventstore.Codec
	projs  []projections.Projection
	stores map[dbregistry.Constant]*sqlitestore.Store

	mu  sync.Mutex
	pos int64
}

func newSyncProjector(t *testing.T, store *sqlite.Store, reg *dbregistry.Registry, dir string, projs ...projections.Projection) *syncProjector {
	t.Helper()
	ctx := context.Background()
	consts := []dbregistry.Constant{dbregistry.ORCHESTRATION, dbregistry.CLOUD_SECURITY, dbregistry.PLATFORM, dbregistry.CLOUD_ASSETS,
		dbregistry.VULNERABILITIES, dbregistry.THREAT_INTELLIGENCE, dbregistry.SECURITY_SCANS, dbregistry.BIA, dbregistry.RISK_MANAGEMENT, dbregistry.INTEGRATIONS, dbregistry.KNOWLEDGE_BASE}
	names := make([]string, len(consts))
	for i, c := range consts {
		names[i] = reg.Name(c)
	}
	byName, err := sqlitestore.OpenModuleStores(ctx, dir, names, sqlitestore.Options{Synchronous: "normal"})
	require.NoError(t, err)
	p := &syncProjector{store: store, codec: eventstore.NewDomainCodec(), projs: projs, stores: map[dbregistry.Constant]*sqlitestore.Store{}}
	for i, c := range consts {
		p.stores[c] = byName[names[i]]
		t.Cleanup(func() { assert.NoError(t, byName[names[i]].Close()) })
	}
	for _, pr := range projs {
		for _, spec := range pr.Collections() {
			require.NoError(t, p.stores[pr.Database()].EnsureCollection(ctx, spec))
		}
	}
	return p
}

// catchUp applies every event not applied yet and returns the position
// the projections have processed.
func (p *syncProjector) catchUp(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		recs, err := p.store.ReadAll(ctx, p.pos, 500)
		if err != nil || len(recs) == 0 {
			return p.pos, err
		}
		events := make([]projections.Event, len(recs))
		for i, r := range recs {
			data, err := p.codec.Decode(r)
			if err != nil {
				return p.pos, err
			}
			events[i] = projections.Event{RecordedEvent: r, Data: data}
		}
		last := recs[len(recs)-1].Position
		for _, pr := range p.projs {
			if err := p.apply(ctx, pr, events, last); err != nil {
				return p.pos, err
			}
		}
		p.pos = last
	}
}

func (p *syncProjector) apply(ctx context.Context, pr projections.Projection, events []projections.Event, last int64) error {
	store := p.stores[pr.Database()]
	tx := &overlayTx{store: store, docs: map[string]map[string]readmodel.Doc{}}
	types := pr.EventTypes()
	for _, ev := range events {
		for _, typ := range types {
			if ev.Type == typ {
				if err := pr.Apply(ctx, tx, ev); err != nil {
					return err
				}
				break
			}
		}
	}
	b := readmodel.Batch{Projection: pr.Name(), Checkpoint: last, Puts: map[string][]readmodel.Doc{}, Deletes: map[string][]string{}}
	for coll, docs := range tx.docs {
		for id, d := range docs {
			if d == nil {
				b.Deletes[coll] = append(b.Deletes[coll], id)
			} else {
				b.Puts[coll] = append(b.Puts[coll], d)
			}
		}
	}
	return store.Commit(ctx, b)
}

// Processed implements api.ReadProgress: it catches up first.
func (p *syncProjector) Processed(ctx context.Context, _ []string) (int64, error) {
	return p.catchUp(ctx)
}

// WaitFor implements api.ReadProgress.
func (p *syncProjector) WaitFor(ctx context.Context, _ []string, position int64) bool {
	pos, err := p.catchUp(ctx)
	return err == nil && pos >= position
}

// overlayTx is a projections.Tx over a read-model store: writes stay in
// the overlay (nil: deleted) until the batch is committed.
type overlayTx struct {
	store interface {
		Get(ctx context.Context, collection, id string) (readmodel.Doc, error)
	}
	docs map[string]map[string]readmodel.Doc
}

func (x *overlayTx) Get(ctx context.Context, coll, id string) (readmodel.Doc, bool, error) {
	if d, ok := x.docs[coll][id]; ok {
		return d, d != nil, nil
	}
	d, err := x.store.Get(ctx, coll, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return d, true, nil
}

func (x *overlayTx) Put(coll string, doc readmodel.Doc) {
	if x.docs[coll] == nil {
		x.docs[coll] = map[string]readmodel.Doc{}
	}
	x.docs[coll][doc.ID()] = doc
}

func (x *overlayTx) Delete(coll, id string) {
	if x.docs[coll] == nil {
		x.docs[coll] = map[string]readmodel.Doc{}
	}
	x.docs[coll][id] = nil
}

// contractAdmin is a ProjectionAdmin with every field of its answers set,
// and an error to return when err is set.
type contractAdmin struct {
	mu  sync.Mutex
	err error
}

func (a *contractAdmin) fail() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *contractAdmin) setErr(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

func (a *contractAdmin) Names() []string {
	return []string{orchestrationproj.ScanRunsName, platformproj.DashboardName}
}

func (a *contractAdmin) Status(context.Context) ([]api.ProjectionStatus, error) {
	at := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	return []api.ProjectionStatus{
		{
			Name: orchestrationproj.ScanRunsName, Database: "ORCHESTRATION", EventTypes: []string{"ScanRequested"},
			State: "failing", Checkpoint: 40, Processed: 41, Head: 45, LagEvents: 4, LagSeconds: 1.5,
			ParkedCount: 1, Parked: []api.ParkedEvent{{Position: 41, EventID: "ev-41", Type: "ScanRequested",
				StreamID: "scan-x", Error: "boom", Attempts: 5, ParkedAt: at}},
			LastError: "boom", LastErrorAt: at, NeedsRebuild: "event types changed", StatusError: "",
			Rebuild: &api.RebuildProgress{Phase: "failed", Processed: 30, Target: 45, Applied: 10, EventsPerSec: 100,
				ETASeconds: 0.15, StartedAt: at, FinishedAt: at.Add(time.Second), Error: "canceled"},
		},
		{Name: platformproj.DashboardName, Database: "PLATFORM", EventTypes: []string{}, State: "remote", Parked: []api.ParkedEvent{}},
	}, nil
}

func (a *contractAdmin) StartRebuild(_ context.Context, name string) (api.RebuildStarted, error) {
	if err := a.fail(); err != nil {
		return api.RebuildStarted{}, err
	}
	names := []string{name}
	if name == api.RebuildAll {
		names = a.Names()
	}
	return api.RebuildStarted{Projections: names, RequestedAt: time.Now().UTC()}, nil
}

func (a *contractAdmin) CancelRebuild(context.Context, string) error { return a.fail() }

func (a *contractAdmin) RetryParked(context.Context, string, int64) (int, error) {
	return 1, a.fail()
}

func (a *contractAdmin) SkipParked(context.Context, string, int64) (int, error) {
	return 1, a.fail()
}

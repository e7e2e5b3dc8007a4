package main

import (
	"context"
	"errors"
	"fmt"
	biaproj "github.com/cspm-es/cspm-es/projections/bia"
	cloudassetsproj "github.com/cspm-es/cspm-es/projections/cloudassets"
	kbproj "github.com/cspm-es/cspm-es/projections/knowledgebase"
	securityscansproj "github.com/cspm-es/cspm-es/projections/securityscans"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/mongostore"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	registriesproj "github.com/cspm-es/cspm-es/projections/containerregistries"
	inproj "github.com/cspm-es/cspm-es/projections/integrations"
	"github.com/cspm-es/cspm-es/projections/orchestration"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	riskproj "github.com/cspm-es/cspm-es/projections/risk"
	tiproj "github.com/cspm-es/cspm-es/projections/threatintel"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// The read side of `cspm serve`: the 14 module read-model stores (api and
// projector roles), the projector runtime with every module projection
// (projector role), and what the API reads through (api role): queries,
// read-your-writes progress and projection admin.

// moduleProjections are every module projection, in registration order.
// Processes without the projector role use them for their names, databases
// and event types only.
func moduleProjections() []projections.Projection {
	return append([]projections.Projection{
		orchestration.NewScanRuns(),
		orchestration.NewScanSummaries(),
		orchestration.NewScanJobs(),       // scan jobs (docs/scan-jobs.md)
		orchestration.NewJobReactor(0, 0), // the scan-job process manager's state
		cloudsecurity.NewFindings(),
		// The risk acceptances GET /findings shows (the register's fold; docs/risk-management.md).
		cloudsecurity.NewAcceptances(),
		cloudassetsproj.NewAssets(),   // asset inventory (docs/assets.md)
		cloudsecurity.NewCompliance(), // compliance (docs/compliance.md)
		cloudsecurity.NewAccounts(),
		platformproj.NewDashboard(),
		platformproj.NewAuditLog(),
		platformproj.NewAPIKeys(),
		// Vulnerabilities and container registries (Trivy imports).
		vulnproj.New(),
		registriesproj.New(),
		vulnproj.NewSLA(), // SLA clocks (docs/sla.md)
		// Threat intelligence (the KEV catalogue, indicators).
		tiproj.NewKEV(),
		tiproj.NewIndicators(),
		tiproj.NewCorrelation(),
		// The dashboard's vulnerabilities section (decision 57).
		platformproj.NewDashboardVulnerabilities(),
		// The dashboard's scan-engine section: jobs and certificates (decision 79).
		platformproj.NewDashboardScanEngine(),
		// Native security scans (Nuclei, ZAP, testssl.sh, SSLyze; docs/security-scans.md).
		securityscansproj.New(),
		// The knowledge base (documents, BM25 index, embedding cache; docs/knowledge-base.md).
		kbproj.New(),
		// Business impact analysis (docs/bia.md).
		biaproj.NewAnalyses(),
		biaproj.NewExercises(),
		// Risk management (docs/risk-management.md).
		riskproj.NewRegister(), riskproj.NewKRIs(),
		// Integrations (connections, health, wizards; the webhook outbox).
		inproj.NewConnections(),
		inproj.NewWebhooks(),
	}, append(assessmentProjections(), // wiring_assessments.go
		aiGovernanceProjections()...)...) // wiring_aigovernance.go
}

// sweepInterval is how often the SQLite read models drop expired documents
// (MongoDB's server expires them itself).
const sweepInterval = 10 * time.Minute

// ReadModels are the module databases' read-model stores, by registry
// constant.
type ReadModels struct {
	Stores  map[dbregistry.Constant]readmodel.Store
	Backend string // "sqlite" or "mongodb"
}

var readModelModule = fx.Module("readmodel",
	fx.Provide(newReadModels),
	fx.Provide(moduleProjections),
)

// newReadModels opens the 14 module databases: SQLite files under the data
// directory, or MongoDB databases through one client. They close when the
// app stops. The retention policies in force set their TTL indexes' expiry
// before anything uses them (retention_ttl.go, decision 101).
func newReadModels(lc fx.Lifecycle, cfg config.Config, reg *dbregistry.Registry, store eventstore.Store, log *slog.Logger) (ReadModels, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	rm, closeAll, err := openReadModels(ctx, cfg, reg, log)
	if err != nil {
		return ReadModels{}, err
	}
	lc.Append(fx.StopHook(closeAll))
	if err := applyTTLPoliciesAtStart(ctx, store, rm); err != nil {
		return ReadModels{}, err
	}
	return rm, nil
}

// openReadModels opens the module databases (newReadModels); closeAll
// closes them.
func openReadModels(ctx context.Context, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger) (rm ReadModels, closeAll func(context.Context) error, err error) {
	byName := map[string]dbregistry.Constant{}
	var names []string
	for _, e := range reg.Entries() {
		if e.Side == dbregistry.Read {
			byName[e.Name] = e.Constant
			names = append(names, e.Name)
		}
	}
	rm = ReadModels{Stores: make(map[dbregistry.Constant]readmodel.Store, len(names))}
	var closeClient func(context.Context) error
	switch cfg.Store {
	case config.StoreSQLite:
		stores, err := sqlitestore.OpenModuleStores(ctx, cfg.DataDir, names, sqlitestore.Options{Synchronous: "normal"})
		if err != nil {
			return ReadModels{}, nil, fmt.Errorf("open read models under %s: %w", cfg.DataDir, err)
		}
		for name, s := range stores {
			rm.Stores[byName[name]] = s
		}
		rm.Backend = "sqlite"
	case config.StoreMongo:
		client, err := mongodriver.Connect(options.Client().ApplyURI(cfg.MongoURI))
		if err != nil {
			return ReadModels{}, nil, fmt.Errorf("read models: connect %s: %w", cfg.RedactedMongoURI(), err)
		}
		stores, err := mongostore.OpenModuleStores(ctx, client, names, mongostore.Options{})
		if err != nil {
			_ = client.Disconnect(context.Background())
			return ReadModels{}, nil, fmt.Errorf("open read models at %s: %w", cfg.RedactedMongoURI(), err)
		}
		for name, s := range stores {
			rm.Stores[byName[name]] = s
		}
		rm.Backend, closeClient = "mongodb", client.Disconnect
	default:
		return ReadModels{}, nil, fmt.Errorf("unknown store %q", cfg.Store)
	}
	log.Debug("read models open", "component", "readmodel", "backend", rm.Backend, "databases", len(rm.Stores))
	return rm, func(ctx context.Context) error {
		var errs []error
		for _, s := range rm.Stores {
			errs = append(errs, s.Close())
		}
		if closeClient != nil {
			errs = append(errs, closeClient(ctx))
		}
		return errors.Join(errs...)
	}, nil
}

// registerSweep drops expired read-model documents on SQLite: once in the
// background at start, then every sweepInterval, in the process that runs
// the projectors (the writer of the module databases).
func registerSweep(lc fx.Lifecycle, rm ReadModels, log *slog.Logger) {
	if rm.Backend != "sqlite" {
		return
	}
	log = log.With("component", "readmodel")
	runBackground(lc, func(ctx context.Context) {
		t := time.NewTicker(sweepInterval)
		defer t.Stop()
		for {
			sweepExpired(ctx, rm, log)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

func sweepExpired(ctx context.Context, rm ReadModels, log *slog.Logger) {
	now := time.Now()
	for c, s := range rm.Stores {
		n, err := s.SweepExpired(ctx, now)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("sweeping expired read-model documents failed", "database", c, "error", err)
		case n > 0:
			log.Info("expired read-model documents swept", "database", c, "documents", n)
		}
	}
}

// runBackground runs f from start to stop in a goroutine; stop cancels
// its context and waits for it.
func runBackground(lc fx.Lifecycle, f func(ctx context.Context)) {
	var (
		cancel context.CancelFunc
		wg     sync.WaitGroup
	)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ctx, c := context.WithCancel(context.Background())
			cancel = c
			wg.Go(func() { f(ctx) })
			return nil
		},
		OnStop: func(ctx context.Context) error {
			cancel()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
}

var projectorModule = fx.Module("projector",
	fx.Provide(newRuntime),
	readinessCheck(projectionsReadiness),
	fx.Invoke(registerProjectorHooks, registerSweep),
)

// runtimeParams are newRuntime's dependencies.
type runtimeParams struct {
	fx.In
	Store       eventstore.Store
	Codec       *eventstore.Codec
	ReadModels  ReadModels
	Bus         *Bus
	Logger      *slog.Logger
	Metrics     *prometheus.Registry
	Projections []projections.Projection
	Config      config.Config
	Leases      *Leases `optional:"true"` // wiring_lease.go; nil: one process runs every projection
}

// newRuntime builds the projector runtime with every module projection.
func newRuntime(p runtimeParams) (*projections.Runtime, error) {
	m, err := projections.NewPrometheusMetrics(p.Metrics)
	if err != nil {
		return nil, err
	}
	rt := projections.NewRuntime(projections.RuntimeConfig{StallTimeout: p.Config.StallTimeout, Distributed: p.Leases != nil}, projections.RuntimeDeps{
		Events:    p.Store,
		Codec:     p.Codec,
		Stores:    p.ReadModels.Stores,
		JetStream: p.Bus.JetStream,
		Stream:    eventStream(p.Config),
		Logger:    p.Logger,
		Metrics:   m,
		Owners:    ownersFunc(p.Leases, p.Projections),
	})
	for _, proj := range p.Projections {
		rt.Register(proj)
	}
	return rt, nil
}

// projectorRetry bounds the pause between attempts to start the runtime
// (NATS may be down at start).
const projectorRetry = 5 * time.Second

// registerProjectorHooks starts the runtime in the background (retrying
// while NATS is unreachable: the start never blocks) and stops it.
func registerProjectorHooks(lc fx.Lifecycle, rt *projections.Runtime, leases *Leases, reg *prometheus.Registry, log *slog.Logger) {
	log = log.With("component", "projections")
	// Hooks stop in reverse order: the start loop ends first, then the
	// runtime it may have started.
	lc.Append(fx.StopHook(rt.Stop))
	runBackground(lc, func(ctx context.Context) {
		wait := 100 * time.Millisecond
		for {
			err := rt.Start(ctx)
			if err == nil {
				if leases != nil { // share the projections until stop (wiring_lease.go)
					runProjectorBalancer(ctx, rt, leases, reg, log)
				}
				return
			}
			if ctx.Err() != nil {
				return
			}
			log.Warn("projections could not start; retrying", "error", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, projectorRetry)
		}
	})
}

var readSideModule = fx.Module("readside",
	fx.Provide(newScanQueries, newFindingQueries, newPlatformQueries, newAssetQueries, newReadSide),
	fx.Provide(newVulnerabilityQueries),
	fx.Provide(newSLAService),          // wiring_sla.go
	fx.Provide(newSecurityScanQueries), // wiring_securityscans.go
	fx.Provide(newBIAService),          // wiring_bia.go
)

// newScanQueries reads cspm_orchestration.
func newScanQueries(rm ReadModels) *orchquery.Service {
	return orchquery.New(orchquery.Stores{Orchestration: rm.Stores[dbregistry.ORCHESTRATION]})
}

// newFindingQueries reads cspm_cloud_security.
func newFindingQueries(rm ReadModels) *csquery.Service {
	return csquery.New(csquery.Stores{CloudSecurity: rm.Stores[dbregistry.CLOUD_SECURITY]})
}

// newPlatformQueries reads cspm_platform (dashboard, API keys).
func newPlatformQueries(rm ReadModels) *platformquery.Service {
	return platformquery.New(platformquery.Stores{Platform: rm.Stores[dbregistry.PLATFORM]})
}

// readSideParams are newReadSide's dependencies; Runtime is there when
// the process runs the projector role.
type readSideParams struct {
	fx.In
	Lifecycle   fx.Lifecycle
	Store       eventstore.Store
	Codec       *eventstore.Codec
	ReadModels  ReadModels
	Projections []projections.Projection
	Logger      *slog.Logger
	Runtime     *projections.Runtime `optional:"true"`
	Leases      *Leases              `optional:"true"` // owners in status (wiring_lease.go)
}

// ReadSide is what the API reads the projections through.
type ReadSide struct {
	Progress api.ReadProgress
	Admin    api.ProjectionAdmin
}

// newReadSide serves read-your-writes and projection admin from the
// in-process runtime when there is one, else from the stored checkpoints.
func newReadSide(p readSideParams) ReadSide {
	var recent *projections.TypeWindow
	if p.Runtime != nil {
		recent = p.Runtime.RecentTypes()
	}
	progress := newCheckpointProgress(p.Store, p.ReadModels.Stores, p.Projections, recent)
	if p.Runtime == nil {
		status := projections.NewRuntime(projections.RuntimeConfig{}, projections.RuntimeDeps{
			Events: p.Store, Codec: p.Codec, Stores: p.ReadModels.Stores, Logger: p.Logger,
			Owners: ownersFunc(p.Leases, p.Projections),
		})
		for _, proj := range p.Projections {
			status.Register(proj)
		}
		return ReadSide{Progress: progress, Admin: &remoteAdmin{status: status, progress: progress, types: eventTypes(p.Projections)}}
	}
	reb := newRebuilds(p.Runtime, p.Logger)
	p.Lifecycle.Append(fx.StopHook(reb.stop))
	return ReadSide{
		Progress: &runtimeProgress{checkpointProgress: progress, rt: p.Runtime},
		Admin:    &runtimeAdmin{rt: p.Runtime, rebuilds: reb, progress: progress, types: eventTypes(p.Projections)},
	}
}

func eventTypes(ps []projections.Projection) map[string][]string {
	out := make(map[string][]string, len(ps))
	for _, p := range ps {
		out[p.Name()] = p.EventTypes()
	}
	return out
}

// newVulnerabilityQueries reads cspm_vulnerabilities.
func newVulnerabilityQueries(rm ReadModels) *vulnquery.Service {
	return vulnquery.New(rm.Stores[dbregistry.VULNERABILITIES])
}

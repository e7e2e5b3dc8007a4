package main

import (
	"context"
	cacmd "github.com/cspm-es/cspm-es/commands/cloudassets"
	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	retcmd "github.com/cspm-es/cspm-es/commands/retention"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/logging"
	"github.com/cspm-es/cspm-es/platform/parsers"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// The fx graph of `cspm serve`, one thin module per area. Modules only call
// constructors that work without fx; no business logic lives here.
//
//	config → slog logger → database registry → event store → codec → commands ─┐
//	  bus (relay, projector) → relay (relay role)                               │
//	  read models (api, projector) → projector runtime (projector role)         │
//	  queries + read-your-writes + projection admin (api role) ─────────────────┴→ API server

// storeOpenTimeout bounds opening the event store (a MongoDB connection) at start.
const storeOpenTimeout = 30 * time.Second

// logOutput is where the process logs (stderr; a buffer in tests).
type logOutput struct{ io.Writer }

// serveOptions is the whole `cspm serve` application, logging to logTo;
// the first start's admin key banner is not printed (the key is in
// <data-dir>/admin.key). serveOptionsTo prints it to stdout.
func serveOptions(cfg config.Config, logTo io.Writer) fx.Option {
	return serveOptionsTo(cfg, logTo, io.Discard)
}

// serveOptionsTo is serveOptions with the first-start banner on stdout.
func serveOptionsTo(cfg config.Config, logTo, stdout io.Writer) fx.Option {
	opts := []fx.Option{
		fx.Supply(cfg, logOutput{logTo}, bannerOutput{stdout}),
		fx.WithLogger(newFxLogger),
		fx.StopTimeout(cfg.ShutdownTimeout),
		loggingModule,
		registryModule,
		metricsModule,
		eventStoreModule,
		commandsModule,
	}
	if cfg.HasRole(config.RoleRelay) || cfg.HasRole(config.RoleProjector) || cfg.RunsWorker() {
		opts = append(opts, busModule)
	}
	opts = append(opts, fx.Provide(newLeases)) // wiring_lease.go: relay leader and projection owners (nil on the embedded NATS)
	if cfg.HasRole(config.RoleAPI) || cfg.HasRole(config.RoleProjector) {
		opts = append(opts, readModelModule)
	}
	if cfg.HasRole(config.RoleRelay) {
		opts = append(opts, relayModule)
	}
	if cfg.HasRole(config.RoleProjector) {
		opts = append(opts, projectorModule)
		opts = append(opts, scanJobsModule) // scanjobs.go: the scan-job process manager
		// wiring_retention.go: the retention cycle (archival)
		opts = append(opts, retentionModule)
	}
	if cfg.RunsWorker() {
		opts = append(opts, workerModule) // scanjobs.go: a worker (the worker role, or --worker-tools beside the projector)
	}
	if cfg.HasRole(config.RoleAPI) {
		opts = append(opts, readSideModule, auditModule, apiModule, mutingModule, accountsModule)
		opts = append(opts, threatIntelModule, indicatorExpiryModule)
		opts = append(opts, assessmentsModule)   // wiring_assessments.go
		opts = append(opts, riskModule)          // wiring_risk.go
		opts = append(opts, integrationsModule)  // wiring_integrations.go
		opts = append(opts, aiGovernanceModule)  // wiring_aigovernance.go
		opts = append(opts, knowledgeBaseModule) // wiring_knowledgebase.go
		opts = append(opts, privacyModule)       // wiring_privacy.go
	}
	if cfg.OpsAddr != "" {
		opts = append(opts, opsModule) // wiring_ops.go: /healthz, /readyz, /metrics on --ops-addr
	}
	return fx.Options(opts...)
}

var loggingModule = fx.Module("logging",
	fx.Provide(func(cfg config.Config, out logOutput) *slog.Logger {
		return logging.FromConfig(out, cfg)
	}),
)

// newFxLogger routes fx's own events to slog: its chatter at debug level,
// its errors at error level.
func newFxLogger(log *slog.Logger) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
	l.UseLogLevel(slog.LevelDebug)
	l.UseErrorLevel(slog.LevelError)
	return l
}

var registryModule = fx.Module("dbregistry",
	fx.Provide(func(cfg config.Config) (*dbregistry.Registry, error) {
		return dbregistry.New(cfg.DBPrefix)
	}),
)

var metricsModule = fx.Module("metrics",
	fx.Provide(prometheus.NewRegistry),
)

var eventStoreModule = fx.Module("eventstore",
	fx.Provide(newEventStore, newDomainCodec), // wiring_privacy.go: the codec seals personal fields
	readinessCheck(storeReadiness),
	// Registered right after the store: its stop hook runs after every
	// later module's (the API, relay and projectors have stopped writing)
	// and before the store closes.
	fx.Invoke(registerCheckpointer),
)

// auditSetup is the audit key the store writes with and the audit
// directory (docs/tamper-evidence.md).
type auditSetup struct {
	Key eventstore.AuditKey
	Dir string
}

// newEventStore opens the configured store with the audit key (created on
// the first start) and closes it when the app stops.
func newEventStore(lc fx.Lifecycle, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger) (eventstore.Store, auditSetup, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	store, key, err := openWritableEventStore(ctx, cfg, reg, log)
	if err != nil {
		return nil, auditSetup{}, err
	}
	lc.Append(fx.StopHook(func() error {
		log.Debug("closing event store")
		return store.Close()
	}))
	return store, auditSetup{Key: key, Dir: cfg.AuditDirectory()}, nil
}

// registerCheckpointer signs checkpoints of the store: at start, every
// --audit-checkpoint-interval in which the head moved, and at the clean
// stop, before the store closes.
func registerCheckpointer(lc fx.Lifecycle, store eventstore.Store, audit auditSetup, cfg config.Config, log *slog.Logger) error {
	log = log.With("component", "audit")
	cp, err := eventstore.NewCheckpointer(store, audit.Key, audit.Dir, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				cp.Run(ctx, cfg.AuditCheckpointInterval)
			}()
			return nil
		},
		OnStop: func(stopCtx context.Context) error {
			cancel()
			<-done
			c, err := cp.Take(stopCtx, eventstore.CheckpointStop)
			if err != nil {
				log.Error("audit checkpoint at stop not taken", "err", err)
				return nil
			}
			log.Info("audit checkpoint taken", "reason", c.Reason, "position", c.Position, "file", eventstore.CheckpointFile(audit.Dir, c.StoreID))
			return nil
		},
	})
	return nil
}

// commandsModule provides the kit and every module's command handlers on it.
var commandsModule = fx.Module("commands",
	fx.Provide(
		func(store eventstore.Store, codec *eventstore.Codec) *commands.Kit {
			return commands.NewKit(store, codec, time.Now)
		},
		orchcmd.New,
		newFindingCommands,
		newAssetCommands, // wiring_assets.go
		newVulnerabilityCommands,
		platformcmd.New,
		retcmd.New, // retention policies (wiring_retention.go)
	),
)

// newFindingCommands are the cloud-security commands, with report imports
// through every parser (platform/parsers) and the store's batch append.
func newFindingCommands(kit *commands.Kit, store eventstore.Store, assets *cacmd.Handlers, vulns *vulncmd.Handlers) *cscmd.Handlers {
	return cscmd.New(kit).WithImports(reportParsers{}, store).WithInventories(inventories{h: assets}).WithScanImports(scanImports{vulns})
}

// reportParsers adapts the parser registry to the import's port.
type reportParsers struct{ parsers.Registry }

func (p reportParsers) Parse(ctx context.Context, r io.Reader, format string, emit func(csdomain.Observation) error) (cscmd.ReportInfo, error) {
	info, err := p.Registry.Parse(ctx, r, format, emit)
	return cscmd.ReportInfo{Format: info.Format, Tool: info.Tool, ToolVersion: info.ToolVersion, Problems: info.Problems, ProblemsCount: info.ProblemsCount, Certificates: info.Certificates}, err
}

var apiModule = fx.Module("api",
	fx.Provide(newAPIServer, newAuthenticator, authenticatorPort, newKeyService),
	// The first start's admin key is issued before the API listens.
	fx.Invoke(registerBootstrap, registerAPIHooks),
)

// apiParams are newAPIServer's dependencies.
type apiParams struct {
	fx.In
	Config          config.Config
	Logger          *slog.Logger
	Registry        *dbregistry.Registry
	Store           eventstore.Store
	ScanCommands    *orchcmd.Handlers
	FindingCommands *cscmd.Handlers
	ScanQueries     *orchquery.Service
	FindingQueries  *csquery.Service
	AssetQueries    *caquery.Service
	VulnQueries     *vulnquery.Service
	PlatformQueries *platformquery.Service
	ReadSide        ReadSide
	Metrics         *prometheus.Registry
	Auth            api.Authenticator
	Audit           *platformquery.Audit
	Keys            api.KeyService
	Ready           readinessChecks
	Relay           *relay.Relay `optional:"true"` // with the relay role
	// Threat intelligence (the KEV and indicator routes).
	ThreatIntel         *tiquery.Service
	ThreatIntelCommands *ticmd.Handlers
	// SLA clocks (wiring_sla.go).
	SLA *slaService `optional:"true"`
	// Native security scans (wiring_securityscans.go).
	SecurityScans *ssquery.Service `optional:"true"`
	// Assessments (wiring_assessments.go).
	Assessments *assessmentService `optional:"true"`
	// Business impact analysis (wiring_bia.go).
	BIA *biaService `optional:"true"`
	// Risk management (wiring_risk.go).
	Risk *riskService `optional:"true"`
	// Integrations (wiring_integrations.go).
	Integrations *integrationService `optional:"true"`
	// AI governance (wiring_aigovernance.go).
	AIGovernance *aiGovernanceService `optional:"true"`
	// The knowledge base (wiring_knowledgebase.go).
	KnowledgeBase *kbService `optional:"true"`
	// Crypto-shredding (wiring_privacy.go).
	Privacy *privacyService `optional:"true"`
	// Retention policies (wiring_retention.go); a policy set through the
	// API is applied at once to the read models' TTL indexes (retention_ttl.go).
	Retention  *retcmd.Handlers
	ReadModels ReadModels
}

// optional is an optional module's service as the route table's
// interface: nil when the module is not wired (a nil *T stored in an
// interface is not a nil interface, and the routes check for nil).
func optional[I any, T any](p *T) I {
	var none I
	if p == nil {
		return none
	}
	return any(p).(I)
}

func newAPIServer(p apiParams) *api.Server {
	var relayStatus api.RelayView
	if p.Relay != nil {
		relayStatus = relayView{r: p.Relay, bound: p.Config.StallTimeout}
	}
	return api.NewServer(api.ServerConfig{
		Addr:            p.Config.HTTPAddr,
		BodyLimit:       p.Config.HTTPBodyLimit,
		IngestBodyLimit: p.Config.HTTPIngestBodyLimit,
		ImportBodyLimit: p.Config.HTTPImportBodyLimit,
		ImportTimeout:   p.Config.HTTPImportTimeout,
		RequestTimeout:  p.Config.HTTPRequestTimeout,
		RateLimit:       p.Config.RateLimit,
		RateBurst:       p.Config.RateBurst,
		CORSOrigins:     p.Config.CORSOrigins,
		ReadWaitTimeout: p.Config.ReadWaitTimeout,
		Logger:          p.Logger.With("component", "api"),
	}, api.Deps{
		Commands:  api.CommandModules{OrchestrationCommands: p.ScanCommands, CloudSecurityCommands: p.FindingCommands},
		Auth:      p.Auth,
		Readiness: p.Ready.Checks,
		Databases: api.DatabaseListerFunc(func() []api.Database { return apiDatabases(p.Registry) }),
		Queries: api.QueryModules{
			OrchestrationQueries: p.ScanQueries,
			CloudSecurityQueries: p.FindingQueries,
			PlatformQueries:      p.PlatformQueries,
			CloudAssetsQueries:   p.AssetQueries,
		},
		Progress:    p.ReadSide.Progress,
		Projections: p.ReadSide.Admin,
		Relay:       relayStatus,
		Audit:       p.Audit,
		ThreatIntel: p.ThreatIntel,
		Indicators:  indicatorService{p.ThreatIntelCommands, p.ThreatIntel},
		Keys:        p.Keys,
		Accounts:    accountService{p.FindingCommands, p.FindingQueries},
		Metrics:     p.Metrics,
		// Vulnerabilities (images, occurrences, the catalog).
		Vulnerabilities: p.VulnQueries,
		SLA:             optional[api.SLAService](p.SLA),
		SecurityScans:   optional[api.SecurityScanQueries](p.SecurityScans),
		Assessments:     optional[api.AssessmentService](p.Assessments),
		BIA:             optional[api.BIAService](p.BIA),
		Risk:            optional[api.RiskService](p.Risk),
		// Scan runs planned with jobs (scanjobs.go).
		ScanRuns:      scanRunService{p.ScanCommands, p.ScanQueries},
		Integrations:  optional[api.IntegrationService](p.Integrations),
		AIGovernance:  optional[api.AIGovernanceService](p.AIGovernance),
		KnowledgeBase: optional[api.KnowledgeBaseService](p.KnowledgeBase),
		Privacy:       optional[api.PrivacyService](p.Privacy),
		Retention:     ttlApplyingRetention{p.Retention, p.ReadModels, p.Logger.With("component", "retention")},
	})
}

func apiDatabases(reg *dbregistry.Registry) []api.Database {
	entries := reg.Entries()
	out := make([]api.Database, len(entries))
	for i, e := range entries {
		out[i] = api.Database{
			Constant:    string(e.Constant),
			Name:        e.Name,
			DefaultName: e.DefaultName,
			Purpose:     e.Purpose,
			Side:        string(e.Side),
		}
	}
	return out
}

// registerAPIHooks starts the server (bind, then serve in the background:
// the hook does not block) and announces where cspm lives and listens.
func registerAPIHooks(lc fx.Lifecycle, srv *api.Server, cfg config.Config, reg *dbregistry.Registry, log *slog.Logger) {
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := srv.Start(ctx); err != nil {
				return err
			}
			log.Info("cspm serving",
				"data", eventStoreLocation(cfg, reg),
				"data_dir", cfg.DataDir,
				"listen", "http://"+srv.Addr(),
				"roles", config.JoinRoles(cfg.Roles))
			return nil
		},
		OnStop: srv.Shutdown,
	})
}

package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// ServerConfig is the HTTP server's configuration. Zero values take the
// defaults noted on each field.
type ServerConfig struct {
	Addr             string        // host:port to listen on; default 127.0.0.1:8080 (port 0: any free port)
	BodyLimit        int64         // bytes accepted in a command body; default 1 MiB
	IngestBodyLimit  int64         // bytes accepted by the findings batch route; default 16 MiB
	ImportBodyLimit  int64         // bytes of a report POST /api/v1/imports accepts; default 1 GiB
	ImportTimeout    time.Duration // deadline of an import (upload and append); default 30m
	RequestTimeout   time.Duration // deadline of every request's context; default 30s
	ReadinessTimeout time.Duration // bound on all /readyz checks together; default 5s
	// RateLimit is each API key's average budget in requests per second
	// (0: unlimited), RateBurst the burst it may spend at once (default
	// 2×RateLimit, at least 1).
	RateLimit float64
	RateBurst int
	// CORSOrigins are the origins browsers may call the API from; none
	// (the default) turns CORS off: no Access-Control-* headers at all.
	CORSOrigins []string
	// ReadWaitTimeout bounds how long a query given min_position waits
	// for its projections before answering with meta.stale; default 2s.
	ReadWaitTimeout time.Duration
	Logger          *slog.Logger // default: discard
}

// Defaults of ServerConfig.
const (
	DefaultAddr             = "127.0.0.1:8080"
	DefaultBodyLimit        = 1 << 20
	DefaultIngestBodyLimit  = 16 << 20
	DefaultImportBodyLimit  = 1 << 30
	DefaultImportTimeout    = 30 * time.Minute
	DefaultRequestTimeout   = 30 * time.Second
	DefaultReadinessTimeout = 5 * time.Second
	DefaultReadWaitTimeout  = 2 * time.Second
)

func (c ServerConfig) withDefaults() ServerConfig {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.IngestBodyLimit <= 0 {
		c.IngestBodyLimit = DefaultIngestBodyLimit
	}
	if c.ImportBodyLimit <= 0 {
		c.ImportBodyLimit = DefaultImportBodyLimit
	}
	if c.ImportTimeout <= 0 {
		c.ImportTimeout = DefaultImportTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ReadinessTimeout <= 0 {
		c.ReadinessTimeout = DefaultReadinessTimeout
	}
	if c.ReadWaitTimeout <= 0 {
		c.ReadWaitTimeout = DefaultReadWaitTimeout
	}
	if c.RateBurst <= 0 {
		c.RateBurst = max(1, int(2*c.RateLimit))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Deps are what the server calls.
type Deps struct {
	Commands  CommandService     // required
	Auth      Authenticator      // required: checks the API key of every non-public route
	Readiness []ReadinessChecker // run by /readyz; none means always ready
	Databases DatabaseLister     // GET /api/v1/system/databases; nil lists nothing
	// Queries serves the query routes (GET /api/v1/scans, ...); nil leaves
	// them out. Progress is then required: it answers min_position.
	Queries  QueryService
	Progress ReadProgress
	// Projections serves /api/v1/projections; nil leaves those routes out.
	Projections ProjectionAdmin
	// Relay serves GET /api/v1/relay in a process that runs the relay; nil
	// leaves the route out.
	Relay RelayView
	// Keys serves /api/v1/keys (issue, list, revoke API keys); nil leaves
	// those routes out. Progress is then required: the list answers
	// min_position.
	Keys KeyService
	// Audit serves /api/v1/audit/... (audit log, stream history, verify);
	// nil leaves those routes out. Progress is then required: the audit
	// log answers min_position.
	Audit AuditService
	// ThreatIntel serves GET /api/v1/kev and /api/v1/kev/{cve} (the KEV
	// catalogue, public); nil leaves those routes out. Progress is then
	// required.
	ThreatIntel ThreatIntelQueries
	// Indicators serves /api/v1/indicators (a team's indicators of
	// compromise); nil leaves those routes out. Progress is then required.
	Indicators IndicatorService
	// SecurityScans serves /api/v1/targets (native scanners' results;
	// routes_securityscans.go); nil leaves those routes out. Progress is
	// then required.
	SecurityScans SecurityScanQueries
	// Accounts serves /api/v1/accounts (cloud accounts); nil leaves those
	// routes out. Progress is then required: the reads answer min_position.
	Accounts AccountService
	// Vulnerabilities serves /api/v1/images and /api/v1/vulnerabilities;
	// nil leaves those routes out. Progress is then required.
	Vulnerabilities VulnerabilityQueries
	// ScanRuns serves /api/v1/scan-runs (scan runs planned with jobs;
	// routes_scanruns.go); nil leaves those routes out. Progress is then
	// required.
	ScanRuns ScanRunService
	// SLA serves /api/v1/sla/... (policy, breaches, summary; routes_sla.go);
	// nil leaves those routes out. Progress is then required.
	SLA SLAService
	// Assessments serves /api/v1/catalogs, /api/v1/frameworks/... and
	// /api/v1/assessments/... (routes_assessments.go); nil leaves those
	// routes out. Progress is then required.
	Assessments AssessmentService
	// BIA serves /api/v1/bias and /api/v1/bia-exercises (business impact
	// analyses and their exercises, routes_bia.go); nil leaves those
	// routes out. Progress is then required.
	BIA BIAService
	// Risk serves the risk-management routes (routes_risk.go); nil leaves
	// them out. Progress is then required.
	Risk RiskService
	// Integrations serves /api/v1/integrations and
	// /api/v1/integration-wizards (routes_integrations.go).
	Integrations IntegrationService
	// AIGovernance serves /api/v1/ai/... (models, EU AI Act obligations,
	// bias tests, incidents; routes_aigovernance.go); nil leaves those
	// routes out. Progress is then required.
	AIGovernance AIGovernanceService
	// Retention serves /api/v1/retention-policies (platform-wide
	// retention policies, admin-only; routes_retention.go); nil leaves
	// those routes out.
	Retention RetentionService
	// KnowledgeBase serves /api/v1/kb/... (documents, search, embedding
	// status; routes_knowledgebase.go); nil leaves those routes out.
	// Progress is then required.
	KnowledgeBase KnowledgeBaseService
	// Privacy serves POST /api/v1/privacy/subjects/{subject}/forget
	// (crypto-shredding, routes_privacy.go); nil leaves it out.
	Privacy PrivacyService
	// Metrics receives the HTTP collectors and is what /metrics exposes.
	// Nil gives the server a registry of its own. Never the global one, so
	// that tests can build many servers.
	Metrics *prometheus.Registry
}

// Server is cspm's HTTP API. Build it with NewServer, mount Handler in
// tests, or Start and Shutdown it from the process lifecycle.
type Server struct {
	cfg      ServerConfig
	deps     Deps
	logger   *slog.Logger
	echo     *echo.Echo
	metrics  *httpMetrics
	registry *prometheus.Registry

	table       []Route         // the route table (routes.go)
	limiter     *keyLimiter     // per-key rate budget; nil: unlimited
	routes      map[string]bool // "METHOD /template" of every registered route
	quietRoutes map[string]bool // probes, logged at debug level
	// longRoutes are the routes with a deadline of their own (imports),
	// by Route.Key.
	longRoutes map[string]time.Duration

	mu      sync.Mutex
	httpSrv *http.Server
	ln      net.Listener
	stopped chan struct{}
}

// NewServer builds the server and its routes. It panics when
// deps.Commands is nil or lacks a module, deps.Queries lacks a module, or
// deps.Queries comes without deps.Progress (wiring bugs, caught at
// start-up).
func NewServer(cfg ServerConfig, deps Deps) *Server {
	if deps.Commands == nil {
		panic("api.NewServer: Deps.Commands is nil")
	}
	if m, ok := deps.Commands.(CommandModules); ok && !m.complete() {
		panic("api.NewServer: Deps.Commands lacks a module's commands")
	}
	if m, ok := deps.Queries.(QueryModules); ok && !m.complete() {
		panic("api.NewServer: Deps.Queries lacks a module's queries")
	}
	if deps.Auth == nil {
		panic("api.NewServer: Deps.Auth is nil")
	}
	if deps.Queries != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.Queries without Deps.Progress")
	}
	if deps.Keys != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.Keys without Deps.Progress")
	}
	if deps.ScanRuns != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.ScanRuns without Deps.Progress")
	}
	if deps.Accounts != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.Accounts without Deps.Progress")
	}
	if deps.Vulnerabilities != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.Vulnerabilities without Deps.Progress")
	}
	if (deps.ThreatIntel != nil || deps.Indicators != nil) && deps.Progress == nil {
		panic("api.NewServer: Deps.ThreatIntel or Deps.Indicators without Deps.Progress")
	}
	if deps.SecurityScans != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.SecurityScans without Deps.Progress")
	}
	if deps.BIA != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.BIA without Deps.Progress")
	}
	if deps.Risk != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.Risk without Deps.Progress")
	}
	if deps.KnowledgeBase != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.KnowledgeBase without Deps.Progress")
	}
	if deps.SLA != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.SLA without Deps.Progress")
	}
	if deps.Assessments != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.Assessments without Deps.Progress")
	}
	if deps.AIGovernance != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.AIGovernance without Deps.Progress")
	}
	if deps.Audit != nil && deps.Progress == nil {
		panic("api.NewServer: Deps.Audit without Deps.Progress")
	}
	cfg = cfg.withDefaults()
	if deps.Metrics == nil {
		deps.Metrics = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:         cfg,
		deps:        deps,
		logger:      cfg.Logger,
		registry:    deps.Metrics,
		metrics:     newHTTPMetrics(deps.Metrics),
		limiter:     newKeyLimiter(cfg.RateLimit, cfg.RateBurst),
		routes:      map[string]bool{},
		quietRoutes: map[string]bool{},
		longRoutes:  map[string]time.Duration{},
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.OnAddRouteHandler = func(_ string, r echo.Route, _ echo.HandlerFunc, _ []echo.MiddlewareFunc) {
		s.routes[r.Method+" "+r.Path] = true
	}
	// Order: id first (everything logs it), then observe (sees the final
	// status), then recovery, then the deadline closest to the handler.
	e.Use(s.requestIDMiddleware, s.observeMiddleware, recoverMiddleware, s.timeoutMiddleware)
	if len(cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  cfg.CORSOrigins,
			AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, HeaderIdempotencyKey, HeaderMinPosition, HeaderRequestID},
			ExposeHeaders: []string{echo.HeaderLocation, echo.HeaderRetryAfter, HeaderIdempotentReplay, HeaderRequestID},
			MaxAge:        600,
		}))
	}
	s.echo = e
	s.registerRoutes()
	return s
}

// Handler serves the API (for httptest and custom servers).
func (s *Server) Handler() http.Handler { return s.echo }

// Start listens on cfg.Addr and serves in the background; it returns once
// the listener is bound (or failed to bind), so it suits an fx OnStart hook.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return errors.New("api: server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout,
		WriteTimeout:      s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	stopped := make(chan struct{})
	s.httpSrv, s.ln, s.stopped = srv, ln, stopped
	go func() {
		defer close(stopped)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped serving", slog.Any("error", err))
		}
	}()
	s.logger.Info("http server listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the address the server listens on once started ("" before).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends, then closes what is left. Safe to call when not started.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, stopped := s.httpSrv, s.stopped
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("api: graceful shutdown: %w", err), srv.Close())
	}
	<-stopped
	s.logger.Info("http server stopped")
	return err
}

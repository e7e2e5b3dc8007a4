package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/domain/access"
)

// Scope says how a route relates to teams, which decides what a key of
// another team gets.
type Scope int

// The scopes.
const (
	// Teamless routes hold no team's data: probes, the OpenAPI document,
	// projection administration, the database registry, the store-wide
	// verify. A key of any team with the route's role may call them; a
	// lower role gets 403.
	Teamless Scope = iota
	// TeamResource routes address one resource ({id} in the path) of the
	// caller's team: another team's resource is 404, as if it did not exist.
	TeamResource
	// TeamCollection routes list or create within the caller's team:
	// another team's data never appears in them and cannot be touched.
	TeamCollection
)

func (s Scope) String() string {
	switch s {
	case TeamResource:
		return "team-resource"
	case TeamCollection:
		return "team-collection"
	}
	return "teamless"
}

// Route is one row of the route table: everything about a route that the
// server, the OpenAPI document and the generated tests need. Every route
// of the API is registered from this table and nowhere else.
type Route struct {
	Method string
	// Path is echo's template, e.g. /api/v1/scans/:id (OpenAPI: {id}).
	Path string
	// Public routes need no key (probes, /metrics, /openapi.json, /docs).
	Public bool
	// Role is the least role a key needs (ignored when Public).
	Role  access.Role
	Scope Scope
	// OperationID names the operation in the OpenAPI document.
	OperationID string
	// Quiet routes (probes) are logged at debug level.
	Quiet bool
	// Timeout, when set, is the route's deadline instead of the server's
	// RequestTimeout (imports: a large report takes minutes to upload).
	Timeout time.Duration
	handler echo.HandlerFunc
}

// Key is "METHOD /path", as the route table and the OpenAPI test name it.
func (r Route) Key() string { return r.Method + " " + r.Path }

// Routes returns the server's route table, in registration order.
func (s *Server) Routes() []Route { return slices.Clone(s.table) }

// routeTable lists every route this server serves. Optional parts (query
// routes without a query service...) are left out, so the table is always
// exactly what is registered.
func (s *Server) routeTable() []Route {
	var t []Route
	add := func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc) {
		t = append(t, Route{Method: method, Path: path, Role: role, Scope: scope, OperationID: op, handler: h})
	}
	public := func(method, path, op string, quiet bool, h echo.HandlerFunc) {
		t = append(t, Route{Method: method, Path: path, Public: true, OperationID: op, Quiet: quiet, handler: h})
	}
	const v1 = "/api/v1"
	viewer, analyst, admin := access.Viewer, access.Analyst, access.Admin

	// System.
	public(http.MethodGet, "/healthz", "healthz", true, s.healthz)
	public(http.MethodHead, "/healthz", "healthzHead", true, s.healthz)
	public(http.MethodGet, "/readyz", "readyz", true, s.readyz)
	public(http.MethodHead, "/readyz", "readyzHead", true, s.readyz)
	public(http.MethodGet, "/metrics", "metrics", true, s.metricsHandler())
	public(http.MethodGet, "/openapi.json", "openapi", false, s.openAPIHandler())
	public(http.MethodGet, "/docs", "docs", false, s.docs)
	add(http.MethodGet, v1+"/system/databases", admin, Teamless, "listDatabases", s.listDatabases)

	// Commands: orchestration (scans), cloudsecurity (findings).
	add(http.MethodPost, v1+"/scans", analyst, TeamCollection, "requestScan", s.requestScan)
	add(http.MethodPost, v1+"/scans/:id/start", analyst, TeamResource, "startScan", s.startScan)
	add(http.MethodPost, v1+"/scans/:id/complete", analyst, TeamResource, "completeScan", s.completeScan)
	add(http.MethodPost, v1+"/scans/:id/fail", analyst, TeamResource, "failScan", s.failScan)
	add(http.MethodPost, v1+"/scans/:id/findings", analyst, TeamResource, "raiseFindings", s.raiseFindings)
	add(http.MethodPost, v1+"/findings/:id/resolve", analyst, TeamResource, "resolveFinding", s.resolveFinding)
	add(http.MethodPost, v1+"/findings/:id/suppress", analyst, TeamResource, "suppressFinding", s.suppressFinding)
	add(http.MethodPost, v1+"/imports", analyst, TeamCollection, "importReport", s.importReport)
	t[len(t)-1].Timeout = s.cfg.ImportTimeout

	// Commands: cloudsecurity (muting rules).
	add(http.MethodPost, v1+"/muting-rules", analyst, TeamCollection, "createMutingRule", s.createMutingRule)
	add(http.MethodPut, v1+"/muting-rules/:id", analyst, TeamResource, "changeMutingRule", s.changeMutingRule)
	add(http.MethodDelete, v1+"/muting-rules/:id", analyst, TeamResource, "removeMutingRule", s.removeMutingRule)

	// Queries: orchestration (scans), cloudsecurity (findings), platform (dashboard).
	if s.deps.Queries != nil {
		add(http.MethodGet, v1+"/scans", viewer, TeamCollection, "listScans", s.listScans)
		add(http.MethodGet, v1+"/scans/:id", viewer, TeamResource, "getScan", s.getScan)
		add(http.MethodGet, v1+"/scans/:id/delta", viewer, TeamResource, "getScanDelta", s.getScanDelta)
		add(http.MethodGet, v1+"/findings", viewer, TeamCollection, "listFindings", s.listFindings)
		add(http.MethodGet, v1+"/findings/:id/history", viewer, TeamResource, "getFindingHistory", s.getFindingHistory)
		add(http.MethodGet, v1+"/imports", viewer, TeamCollection, "listImports", s.listImports)
		add(http.MethodGet, v1+"/imports/:id", viewer, TeamResource, "getImport", s.getImport)
		add(http.MethodGet, v1+"/dashboard/summary", viewer, TeamCollection, "dashboardSummary", s.dashboardSummary)
		// Compliance (routes_compliance.go).
		add(http.MethodGet, v1+"/compliance", viewer, TeamCollection, "complianceOverview", s.complianceOverview)
		add(http.MethodGet, v1+"/compliance/:framework", viewer, TeamResource, "getFrameworkCompliance", s.frameworkCompliance)
		add(http.MethodGet, v1+"/compliance/:framework/changes", viewer, TeamResource, "getComplianceChanges", s.complianceChanges)

		// Queries: cloudsecurity (muting rules).
		add(http.MethodGet, v1+"/muting-rules", viewer, TeamCollection, "listMutingRules", s.listMutingRules)
		add(http.MethodGet, v1+"/muting-rules/:id", viewer, TeamResource, "getMutingRule", s.getMutingRule)

		// Queries: cloudassets (routes_cloudassets.go).
		s.assetRoutes(add)
	}

	// Cloud accounts (cloudsecurity): commands and queries.
	if s.deps.Accounts != nil {
		add(http.MethodPost, v1+"/accounts", analyst, TeamCollection, "registerAccount", s.registerAccount)
		add(http.MethodPost, v1+"/accounts/:id/rename", analyst, TeamResource, "renameAccount", s.renameAccount)
		add(http.MethodPost, v1+"/accounts/:id/tag", analyst, TeamResource, "tagAccount", s.tagAccount)
		add(http.MethodPost, v1+"/accounts/:id/retire", analyst, TeamResource, "retireAccount", s.retireAccount)
		add(http.MethodGet, v1+"/accounts", viewer, TeamCollection, "listAccounts", s.listAccounts)
		add(http.MethodGet, v1+"/accounts/:id", viewer, TeamResource, "getAccount", s.getAccount)
	}

	// Queries: vulnerabilities (images, occurrences, the catalog).
	if s.deps.Vulnerabilities != nil {
		add(http.MethodGet, v1+"/images", viewer, TeamCollection, "listImages", s.listImages)
		add(http.MethodGet, v1+"/images/:digest", viewer, TeamResource, "getImage", s.getImage)
		add(http.MethodGet, v1+"/vulnerabilities", viewer, TeamCollection, "listVulnerabilities", s.listVulnerabilities)
		// The catalog entry is public; the occurrences listed with it are
		// the caller's team's (another team's id: its entry, none of theirs).
		add(http.MethodGet, v1+"/vulnerabilities/:id", viewer, TeamCollection, "getVulnerability", s.getVulnerability)
	}

	// Queries: threatintel (the KEV catalogue: public data, any team).
	if s.deps.ThreatIntel != nil {
		add(http.MethodGet, v1+"/kev", viewer, Teamless, "listKEV", s.listKEV)
		add(http.MethodGet, v1+"/kev/:cve", viewer, Teamless, "getKEV", s.getKEV)
	}

	// Indicators of compromise (threatintel): a team's own.
	if s.deps.Indicators != nil {
		add(http.MethodPost, v1+"/indicators", analyst, TeamCollection, "createIndicator", s.createIndicator)
		add(http.MethodPut, v1+"/indicators/:id", analyst, TeamResource, "updateIndicator", s.updateIndicator)
		add(http.MethodDelete, v1+"/indicators/:id", analyst, TeamResource, "revokeIndicator", s.revokeIndicator)
		add(http.MethodPost, v1+"/indicators/:id/observe", analyst, TeamResource, "observeIndicator", s.observeIndicator)
		add(http.MethodGet, v1+"/indicators", viewer, TeamCollection, "listIndicators", s.listIndicators)
		add(http.MethodGet, v1+"/indicators/:id", viewer, TeamResource, "getIndicator", s.getIndicator)
		add(http.MethodGet, v1+"/indicators/:id/matches", viewer, TeamResource, "indicatorMatches", s.indicatorMatches)
	}

	// Scan runs planned with jobs (orchestration; routes_scanruns.go).
	if s.deps.ScanRuns != nil {
		s.scanRunRoutes(add)
	}

	// SLA clocks (vulnerabilities; routes_sla.go).
	if s.deps.SLA != nil {
		s.slaRoutes(add)
	}

	// Native security scans (securityscans; routes_securityscans.go).
	if s.deps.SecurityScans != nil {
		s.securityScanRoutes(add)
	}
	// Assessments: catalogues, assessments, evidence, the unified view
	// (routes_assessments.go).
	if s.deps.Assessments != nil {
		s.assessmentRoutes(add)
	}
	// Business impact analysis (routes_bia.go).
	if s.deps.BIA != nil {
		s.biaRoutes(add)
	}
	// Risk management (routes_risk.go).
	if s.deps.Risk != nil {
		s.riskRoutes(add)
	}
	// Integrations (routes_integrations.go).
	if s.deps.Integrations != nil {
		s.integrationRoutes(add)
	}

	// AI governance: models, EU AI Act obligations, bias tests, incidents
	// (routes_aigovernance.go).
	if s.deps.AIGovernance != nil {
		s.aiGovernanceRoutes(add)
	}
	// The knowledge base (knowledgebase; routes_knowledgebase.go).
	if s.deps.KnowledgeBase != nil {
		s.knowledgeBaseRoutes(add)
	}

	// API keys (platform).
	if s.deps.Keys != nil {
		add(http.MethodPost, v1+"/keys", admin, TeamCollection, "createKey", s.createKey)
		add(http.MethodGet, v1+"/keys", admin, TeamCollection, "listKeys", s.listKeys)
		add(http.MethodPost, v1+"/keys/:id/revoke", admin, TeamResource, "revokeKey", s.revokeKey)
	}

	// Audit (platform).
	if s.deps.Audit != nil {
		add(http.MethodGet, v1+"/audit/log", admin, TeamCollection, "auditLog", s.auditLog)
		add(http.MethodGet, v1+"/audit/streams/:stream_id/events", admin, TeamResource, "auditStreamEvents", s.auditStreamEvents)
		add(http.MethodGet, v1+"/audit/streams/:stream_id/state", admin, TeamResource, "auditStreamState", s.auditStreamState)
		add(http.MethodGet, v1+"/audit/verify", admin, Teamless, "auditVerify", s.auditVerify)
	}

	// Retention policies (routes_retention.go; docs/archival.md).
	if s.deps.Retention != nil {
		s.retentionRoutes(add)
	}

	// Projection administration.
	if s.deps.Projections != nil {
		add(http.MethodGet, v1+"/projections", admin, Teamless, "listProjections", s.projectionStatus)
		add(http.MethodPost, v1+"/projections/:name/rebuild", admin, Teamless, "startRebuild", s.startRebuild)
		add(http.MethodDelete, v1+"/projections/:name/rebuild", admin, Teamless, "cancelRebuild", s.cancelRebuild)
		add(http.MethodPost, v1+"/projections/:name/parked/retry", admin, Teamless, "retryParked", s.retryParked)
		add(http.MethodPost, v1+"/projections/:name/parked/skip", admin, Teamless, "skipParked", s.skipParked)
	}
	if s.deps.Relay != nil {
		add(http.MethodGet, v1+"/relay", admin, Teamless, "getRelay", s.relayStatus)
	}
	// Crypto-shredding: forget a data subject of the team (routes_privacy.go).
	if s.deps.Privacy != nil {
		add(http.MethodPost, v1+"/privacy/subjects/:subject/forget", admin, TeamCollection, "forgetDataSubject", s.forgetSubject)
	}
	return t
}

// registerRoutes registers the route table, each route behind its guard.
func (s *Server) registerRoutes() {
	s.table = s.routeTable()
	for _, r := range s.table {
		s.echo.Add(r.Method, r.Path, r.handler, s.guard(r))
		if r.Quiet {
			s.quietRoutes[r.Path] = true
		}
		if r.Timeout > 0 {
			s.longRoutes[r.Key()] = r.Timeout
		}
	}
}

// principal is who the request acts as; the guard set it (the zero
// Principal on public routes).
func principal(c echo.Context) access.Principal {
	p, _ := c.Get(ctxKeyPrincipal).(access.Principal)
	return p
}

package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	cloudassetsproj "github.com/cspm-es/cspm-es/projections/cloudassets"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	cloudsecurityproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	orchestrationproj "github.com/cspm-es/cspm-es/projections/orchestration"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	threatintelproj "github.com/cspm-es/cspm-es/projections/threatintel"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// Query and projection routes over fakes: parameters, validation,
// read-your-writes and the envelope. The real pieces are exercised in
// cmd/cspm (readside_test.go) and tests/e2e.

type fakeQueries struct {
	mu       sync.Mutex
	scanF    orchquery.ScanFilter
	findingF csquery.FindingFilter
	ruleF    csquery.MutingRuleFilter
	page     queries.Page
	err      error
}

func (f *fakeQueries) ListScans(_ context.Context, team string, sf orchquery.ScanFilter, p queries.Page) (orchquery.ScanList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scanF, f.page = sf, p
	if f.err != nil {
		return orchquery.ScanList{}, f.err
	}
	return orchquery.ScanList{Items: []orchquery.Scan{{ID: "s1", Status: "requested", AccountID: team}}, NextCursor: "next-1"}, nil
}

func (f *fakeQueries) GetScan(_ context.Context, _ string, id string) (orchquery.ScanDetail, error) {
	if id == "missing" {
		return orchquery.ScanDetail{}, fmt.Errorf("scan %q: %w", id, queries.ErrNotFound)
	}
	return orchquery.ScanDetail{Scan: orchquery.Scan{ID: id, Status: "running"}}, nil
}

func (f *fakeQueries) ListFindings(_ context.Context, _ string, ff csquery.FindingFilter, p queries.Page) (csquery.FindingList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.findingF, f.page = ff, p
	if f.err != nil {
		return csquery.FindingList{}, f.err
	}
	return csquery.FindingList{}, nil
}

func (f *fakeQueries) DashboardSummary(_ context.Context, team string) (platformquery.Dashboard, error) {
	return platformquery.Dashboard{TeamID: team}, nil
}

// fakeProgress has processed through reached; WaitFor succeeds at once
// for positions at or below it and otherwise waits for ctx.
type fakeProgress struct {
	mu      sync.Mutex
	reached int64
	asked   [][]string
}

func (f *fakeProgress) Processed(_ context.Context, names []string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, names)
	return f.reached, nil
}

func (f *fakeProgress) WaitFor(ctx context.Context, names []string, position int64) bool {
	f.mu.Lock()
	ok := position <= f.reached
	f.mu.Unlock()
	if ok {
		return true
	}
	<-ctx.Done()
	return false
}

func (f *fakeProgress) lastAsked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[len(f.asked)-1]
}

type fakeAdmin struct {
	mu        sync.Mutex
	err       error
	rebuilds  []string
	retried   []int64
	cancelled []string
}

func (f *fakeAdmin) Names() []string {
	return []string{"orchestration.scan_runs", "platform.dashboard"}
}

func (f *fakeAdmin) Status(context.Context) ([]api.ProjectionStatus, error) {
	return []api.ProjectionStatus{{Name: "orchestration.scan_runs", Database: "ORCHESTRATION", State: "running",
		Rebuild: &api.RebuildProgress{Phase: "catching_up", Processed: 5, Target: 10}}}, nil
}

func (f *fakeAdmin) StartRebuild(_ context.Context, name string) (api.RebuildStarted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return api.RebuildStarted{}, f.err
	}
	f.rebuilds = append(f.rebuilds, name)
	return api.RebuildStarted{Projections: []string{name}, RequestedAt: time.Unix(1, 0).UTC()}, nil
}

func (f *fakeAdmin) CancelRebuild(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, name)
	return f.err
}

func (f *fakeAdmin) RetryParked(_ context.Context, _ string, position int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, position)
	return 2, f.err
}

func (f *fakeAdmin) SkipParked(context.Context, string, int64) (int, error) { return 1, f.err }

type readEnv struct {
	*fakeEnv
	queries  *fakeQueries
	progress *fakeProgress
	admin    *fakeAdmin
}

func newReadEnv(t *testing.T, wait time.Duration) *readEnv {
	t.Helper()
	r := &readEnv{queries: &fakeQueries{}, progress: &fakeProgress{reached: 40}, admin: &fakeAdmin{}}
	r.fakeEnv = newFakeEnv(t, func(c *api.ServerConfig, d *api.Deps) {
		c.ReadWaitTimeout = wait
		d.Queries, d.Progress, d.Projections = r.queries, r.progress, r.admin
	})
	return r
}

func (r *readEnv) get(t *testing.T, path string, header ...string) response {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	return serve(t, r.srv.Handler(), request{Method: http.MethodGet, Path: path, Header: h})
}

func TestListScans_FiltersPageAndMeta(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	res := r.get(t, "/api/v1/scans?status=running&account_id=123&tool=prowler&limit=10&cursor=abc")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.JSONEq(t, `[{"id":"s1","account_id":"team-a","provider":"","tool":"","status":"requested","resource_count":0,"updated_position":0}]`, string(res.Data))
	assert.Equal(t, orchquery.ScanFilter{Status: "running", AccountID: "123", Tool: "prowler"}, r.queries.scanF)
	assert.Equal(t, queries.Page{Limit: 10, Cursor: "abc"}, r.queries.page)
	assert.Contains(t, string(res.Raw), `"position":40,"stale":false,"next_cursor":"next-1"`)
	assert.Equal(t, []string{orchestrationproj.ScanRunsName}, r.progress.lastAsked())
}

func TestListFindings_SeverityRepeatsAndCommas(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	res := r.get(t, "/api/v1/findings?severity=high,critical&severity=low&status=open&scan_id=s1&account_id=a")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.JSONEq(t, `[]`, string(res.Data))
	assert.Contains(t, string(res.Raw), `"next_cursor":null`, "the last page says so")
	assert.Equal(t, csquery.FindingFilter{Severity: []string{"high", "critical", "low"}, Status: "open", ScanID: "s1", AccountID: "a"}, r.queries.findingF)
	assert.Equal(t, queries.Page{}, r.queries.page, "no limit: the queries' default")
}

func TestQueryValidation_NamesTheParameter(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	tests := []struct {
		path, header, field, in string
	}{
		{"/api/v1/scans?limit=0", "", "limit", "query"},
		{"/api/v1/scans?limit=201", "", "limit", "query"},
		{"/api/v1/scans?limit=ten", "", "limit", "query"},
		{"/api/v1/scans?cursor=", "", "cursor", "query"},
		{"/api/v1/scans?status=", "", "status", "query"},
		{"/api/v1/scans?status=a&status=b", "", "status", "query"},
		{"/api/v1/scans?stauts=running", "", "stauts", "query"},
		{"/api/v1/scans?severity=high", "", "severity", "query"},
		{"/api/v1/findings?severity=high,,low", "", "severity", "query"},
		{"/api/v1/findings?min_position=-1", "", "min_position", "query"},
		{"/api/v1/findings?min_position=1e3", "", "min_position", "query"},
		{"/api/v1/scans/s1?limit=1", "", "limit", "query"},
		{"/api/v1/dashboard/summary", "abc", "X-Min-Position", "header"},
		{"/api/v1/scans/s%20x", "", "id", "path"},
		{"/api/v1/projections?x=1", "", "x", "query"},
		// Projection status and the registry read no projection: they take
		// no parameter at all.
		{"/api/v1/projections?min_position=abc", "", "min_position", "query"},
		{"/api/v1/projections?min_position=3", "", "min_position", "query"},
		{"/api/v1/projections?limit=10", "", "limit", "query"},
		{"/api/v1/system/databases?x=1", "", "x", "query"},
		{"/api/v1/system/databases?min_position=1", "", "min_position", "query"},
		// Percent-decoded to bytes that are not UTF-8.
		{"/api/v1/scans?account_id=%FF", "", "account_id", "query"},
		{"/api/v1/findings?severity=%ED%A0%80", "", "severity", "query"},
		{"/api/v1/scans?status=running&tool=tr%C3", "", "tool", "query"},
		{"/api/v1/scans?%FFx=1", "", "\uFFFDx", "query"},
		{"/api/v1/scans/%FF", "", "id", "path"},
		{"/api/v1/scans/a%C3%28b", "", "id", "path"},
	}
	for _, tt := range tests {
		var h []string
		if tt.header != "" {
			h = []string{api.HeaderMinPosition, tt.header}
		}
		res := r.get(t, tt.path, h...)
		require.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", tt.path, res.Raw)
		require.NotNil(t, res.Env.Error, tt.path)
		assert.Equal(t, api.CodeValidationFailed, res.Env.Error.Code, tt.path)
		require.NotEmpty(t, res.Env.Error.Details, tt.path)
		assert.Equal(t, tt.field, res.Env.Error.Details[0].Field, tt.path)
		assert.Equal(t, tt.in, res.Env.Error.Details[0].In, tt.path)
	}
}

// A *domain.ValidationError from a query names a query parameter.
func TestQueryValidationFromTheQueries(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	var v domain.Validator
	v.Add("severity", `"bogus" is not one of critical, high, medium, low, informational`)
	r.queries.err = v.Err()
	res := r.get(t, "/api/v1/findings?severity=bogus")
	require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Raw)
	assert.Equal(t, []api.ErrorDetail{{Field: "severity", In: "query", Message: `"bogus" is not one of critical, high, medium, low, informational`}}, res.Env.Error.Details)
}

func TestGetScan_NotFoundAndReads(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	res := r.get(t, "/api/v1/scans/missing")
	require.Equal(t, http.StatusNotFound, res.Status)
	assert.Equal(t, api.CodeNotFound, res.Env.Error.Code)

	res = r.get(t, "/api/v1/scans/s1")
	require.Equal(t, http.StatusOK, res.Status)
	assert.Equal(t, []string{orchestrationproj.ScanRunsName, orchestrationproj.ScanSummariesName}, r.progress.lastAsked())
	assert.Contains(t, string(res.Raw), `"position":40,"stale":false}`)
	assert.NotContains(t, string(res.Raw), "next_cursor", "not a list")
}

func TestMinPosition_ReachedIsNotStale(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, 5*time.Second)
	for _, tt := range []struct {
		path   string
		header []string
	}{
		{"/api/v1/dashboard/summary?min_position=30", nil},
		{"/api/v1/dashboard/summary", []string{api.HeaderMinPosition, "30"}},
		{"/api/v1/dashboard/summary?min_position=12", []string{api.HeaderMinPosition, "30"}},
	} {
		start := time.Now()
		res := r.get(t, tt.path, tt.header...)
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		assert.False(t, res.Env.Meta.Stale)
		assert.Equal(t, int64(40), res.Env.Meta.Position, "what the projections processed, not less")
		assert.Less(t, time.Since(start), time.Second, "no wait")
	}
}

func TestMinPosition_PastTheBoundIsStale(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, 100*time.Millisecond)
	start := time.Now()
	res := r.get(t, "/api/v1/scans?min_position=41")
	took := time.Since(start)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.True(t, res.Env.Meta.Stale)
	assert.Equal(t, int64(40), res.Env.Meta.Position, "where the projections are, below min_position")
	assert.GreaterOrEqual(t, took, 100*time.Millisecond)
	assert.Less(t, took, 2*time.Second)
	assert.Contains(t, string(res.Raw), `"stale":true`)
}

// A 404 answered after the read-your-writes wait says how far the
// projections were: stale when min_position was not reached in time (the
// scan may only be "not projected yet"), as the query's answer would.
func TestNotFoundAfterTheWait_CarriesStale(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, 100*time.Millisecond)
	for _, tt := range []struct {
		path   string
		header []string
		stale  bool
	}{
		{"/api/v1/scans/missing?min_position=41", nil, true},
		{"/api/v1/scans/missing", []string{api.HeaderMinPosition, "41"}, true},
		{"/api/v1/scans/missing?min_position=40", nil, false},
		{"/api/v1/scans/missing", nil, false},
	} {
		res := r.get(t, tt.path, tt.header...)
		require.Equal(t, http.StatusNotFound, res.Status, "%s: %s", tt.path, res.Raw)
		assert.Equal(t, api.CodeNotFound, res.Env.Error.Code)
		assert.Equal(t, tt.stale, res.Env.Meta.Stale, "%s %v: %s", tt.path, tt.header, res.Raw)
		assert.Equal(t, int64(40), res.Env.Meta.Position, "where the projections are")
		assert.Contains(t, string(res.Raw), fmt.Sprintf(`"meta":{"request_id":%q,"position":40,"stale":%t}`, res.Header.Get(api.HeaderRequestID), tt.stale))
	}

	// A list error after the wait carries them too; one before it does not.
	r.queries.err = fmt.Errorf("list: %w", readmodel.ErrUnavailable)
	res := r.get(t, "/api/v1/scans?min_position=41")
	assert.Contains(t, string(res.Raw), `"position":40,"stale":true}`, "%s", res.Raw)
	assert.NotContains(t, string(res.Raw), "next_cursor")
	res = r.get(t, "/api/v1/scans?limit=0&min_position=41")
	require.Equal(t, http.StatusBadRequest, res.Status)
	assert.NotContains(t, string(res.Raw), "stale", "refused before any wait")
}

func TestQueryRoutesAbsentWithoutQueries(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	for _, path := range []string{"/api/v1/scans", "/api/v1/findings", "/api/v1/dashboard/summary", "/api/v1/projections"} {
		res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: path})
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, res.Status, path)
	}
	assert.Panics(t, func() {
		api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Queries: &fakeQueries{}})
	}, "queries need read progress")
}

// The projections the query routes declare are the projections' names.
func TestQueryReadsAreProjectionNames(t *testing.T) {
	t.Parallel()
	known := []string{orchestrationproj.ScanRunsName, orchestrationproj.ScanSummariesName,
		cloudsecurityproj.FindingsName, cloudsecurityproj.AcceptancesName, platformproj.DashboardName, platformproj.AuditLogName,
		platformproj.DashboardVulnerabilitiesName, platformproj.DashboardScanEngineName,
		cloudassetsproj.AssetsName,
		cloudsecurityproj.ComplianceName,
		cloudsecurityproj.AccountsName,
		threatintelproj.KEVName, threatintelproj.IndicatorsName, threatintelproj.CorrelationName}
	reads := api.QueryReads()
	require.Len(t, reads, 11+2+3+2+5) // + assets, compliance, accounts, threat intelligence
	for route, names := range reads {
		require.NotEmpty(t, names, route)
		for _, n := range names {
			assert.Contains(t, known, n, route)
		}
	}
	assert.Equal(t, []string{orchestrationproj.ScanRunsName, orchestrationproj.ScanSummariesName}, reads["GET /api/v1/scans/:id"])
	assert.Equal(t, []string{cloudsecurityproj.FindingsName, cloudsecurityproj.AcceptancesName}, reads["GET /api/v1/findings"])
	assert.Equal(t, []string{platformproj.DashboardName, platformproj.DashboardVulnerabilitiesName, platformproj.DashboardScanEngineName},
		reads["GET /api/v1/dashboard/summary"])
	assert.Equal(t, []string{cloudsecurityproj.FindingsName}, reads["GET /api/v1/muting-rules"])
	assert.Equal(t, []string{cloudsecurityproj.FindingsName}, reads["GET /api/v1/muting-rules/:id"])
}

func TestProjectionRoutes(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	h := r.srv.Handler()

	res := r.get(t, "/api/v1/projections")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	var st []api.ProjectionStatus
	require.NoError(t, json.Unmarshal(res.Data, &st))
	require.Len(t, st, 1)
	assert.Equal(t, "catching_up", st[0].Rebuild.Phase)

	res = serve(t, h, request{Path: "/api/v1/projections/platform.dashboard/rebuild"})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	assert.JSONEq(t, `{"projections":["platform.dashboard"],"requested_at":"1970-01-01T00:00:01Z"}`, string(res.Data))
	res = serve(t, h, request{Path: "/api/v1/projections/all/rebuild"})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	assert.Equal(t, []string{"platform.dashboard", "all"}, r.admin.rebuilds)

	res = serve(t, h, request{Path: "/api/v1/projections/nope/rebuild"})
	require.Equal(t, http.StatusNotFound, res.Status)
	assert.Equal(t, "name", res.Env.Error.Details[0].Field)
	res = serve(t, h, request{Path: "/api/v1/projections/all/parked/retry"})
	require.Equal(t, http.StatusNotFound, res.Status, "all is for rebuilds only")
	res = serve(t, h, request{Path: "/api/v1/projections/platform.dashboard/rebuild", Body: `{"force": true}`})
	require.Equal(t, http.StatusBadRequest, res.Status, "no body fields")

	res = serve(t, h, request{Method: http.MethodDelete, Path: "/api/v1/projections/platform.dashboard/rebuild"})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	assert.Equal(t, []string{"platform.dashboard"}, r.admin.cancelled)

	res = serve(t, h, request{Path: "/api/v1/projections/platform.dashboard/parked/retry", Body: `{"position": 17}`})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.JSONEq(t, `{"projection":"platform.dashboard","applied":2}`, string(res.Data))
	res = serve(t, h, request{Path: "/api/v1/projections/platform.dashboard/parked/retry"})
	require.Equal(t, http.StatusOK, res.Status, "an empty body retries all")
	assert.Equal(t, []int64{17, 0}, r.admin.retried)
	res = serve(t, h, request{Path: "/api/v1/projections/platform.dashboard/parked/skip", Body: `{"position": -2}`})
	require.Equal(t, http.StatusBadRequest, res.Status)
	assert.Equal(t, "position", res.Env.Error.Details[0].Field)
	res = serve(t, h, request{Path: "/api/v1/projections/platform.dashboard/parked/skip", Body: `{"position": 3}`})
	require.Equal(t, http.StatusOK, res.Status)
	assert.JSONEq(t, `{"projection":"platform.dashboard","removed":1}`, string(res.Data))
}

func TestProjectionRoutes_ErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", api.ErrRebuildInProgress), http.StatusConflict, api.CodeRebuildInProgress},
		{api.ErrNoRebuild, http.StatusNotFound, api.CodeNotFound},
		{fmt.Errorf("x: %w", api.ErrNotParked), http.StatusNotFound, api.CodeNotFound},
		{api.ErrProjectorUnavailable, http.StatusServiceUnavailable, api.CodeProjectorUnavailable},
		{&api.RetryError{Applied: 1, Err: errors.New("position 9: boom")}, http.StatusUnprocessableEntity, api.CodeRetryFailed},
	}
	for _, tt := range tests {
		r := newReadEnv(t, time.Second)
		r.admin.err = tt.err
		for _, req := range []request{
			{Path: "/api/v1/projections/platform.dashboard/rebuild"},
			{Method: http.MethodDelete, Path: "/api/v1/projections/platform.dashboard/rebuild"},
			{Path: "/api/v1/projections/platform.dashboard/parked/retry"},
			{Path: "/api/v1/projections/platform.dashboard/parked/skip"},
		} {
			res := serve(t, r.srv.Handler(), req)
			require.Equal(t, tt.status, res.Status, "%v %s: %s", tt.err, req.Path, res.Raw)
			assert.Equal(t, tt.code, res.Env.Error.Code)
		}
	}
	r := newReadEnv(t, time.Second)
	r.admin.err = &api.RetryError{Applied: 1, Err: errors.New("position 9: boom")}
	res := serve(t, r.srv.Handler(), request{Path: "/api/v1/projections/platform.dashboard/parked/retry"})
	assert.Contains(t, res.Env.Error.Message, "position 9: boom", "the operator needs the cause")
}

func (f *fakeQueries) ScanDelta(_ context.Context, _ string, id, change string, p queries.Page) (orchquery.DeltaList, error) {
	if id == "missing" {
		return orchquery.DeltaList{}, fmt.Errorf("scan %q: %w", id, queries.ErrNotFound)
	}
	return orchquery.DeltaList{ScanID: id, Items: []orchquery.DeltaEntry{{FindingID: "fnd-1", Change: "new"}}, NextCursor: "next-d"}, nil
}

func (f *fakeQueries) FindingHistory(_ context.Context, _ string, id string) (csquery.History, error) {
	if id == "missing" {
		return csquery.History{}, fmt.Errorf("finding %q: %w", id, queries.ErrNotFound)
	}
	return csquery.History{FindingID: id, Source: "import", Status: "open", Transitions: []csquery.Transition{{Kind: "raised"}}}, nil
}

func (f *fakeQueries) ListImports(_ context.Context, _ string, p queries.Page) (csquery.ImportList, error) {
	return csquery.ImportList{Items: []csquery.Import{{ID: "imp-1", Status: "completed"}}}, nil
}

func (f *fakeQueries) GetImport(_ context.Context, _ string, id string) (csquery.Import, error) {
	if id == "missing" {
		return csquery.Import{}, fmt.Errorf("import %q: %w", id, queries.ErrNotFound)
	}
	return csquery.Import{ID: id, Status: "completed"}, nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// Component tests of the read side through the HTTP API of the real app
// (SQLite stores, embedded NATS, relay, projector runtime).

func TestReadSide_ReadYourWrites(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)

	pos := a.newScan(t, "rw-1")
	ans := must(t, a.get(t, fmt.Sprintf("/api/v1/scans/rw-1?min_position=%d", pos)), http.StatusOK)
	require.False(t, stale(ans), "%s", ans.raw)
	assert.GreaterOrEqual(t, ans.env.Meta.Position, pos)
	var scan orchquery.ScanDetail
	ans.data(t, &scan)
	assert.Equal(t, "requested", scan.Status)

	must(t, a.post(t, "/api/v1/scans/rw-1/start", nil), http.StatusAccepted)
	pos = a.raise(t, "rw-1", "critical", "high", "high", "low")
	// The header works as the parameter does; GET /scans/{id} waits for
	// scan_runs (which ignores findings) and scan_summaries.
	ans = must(t, a.get(t, "/api/v1/scans/rw-1", api.HeaderMinPosition, fmt.Sprint(pos)), http.StatusOK)
	require.False(t, stale(ans), "%s", ans.raw)
	ans.data(t, &scan)
	assert.Equal(t, "running", scan.Status)
	assert.Equal(t, orchquery.FindingCounts{Total: 4, BySeverity: queries.SeverityCounts{Critical: 1, High: 2, Low: 1},
		ByStatus: queries.FindingStatusCounts{Open: 4}}, scan.Findings)

	pos = must(t, a.post(t, "/api/v1/scans/rw-1/complete", map[string]any{"resource_count": 9}), http.StatusAccepted).env.Meta.Position
	ans = must(t, a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", pos)), http.StatusOK)
	require.False(t, stale(ans))
	var dash platformquery.Dashboard
	ans.data(t, &dash)
	assert.EqualValues(t, 1, dash.Scans.ByStatus.Completed)
	assert.EqualValues(t, 4, dash.Findings.Total)
	assert.Equal(t, pos, dash.UpdatedPosition)

	ans = must(t, a.get(t, fmt.Sprintf("/api/v1/findings?min_position=%d&severity=high", pos)), http.StatusOK)
	var fs []csquery.Finding
	ans.data(t, &fs)
	assert.Len(t, fs, 2)
}

func TestReadSide_PaginationFiltersAndNotFound(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	var last int64
	for i := range 7 {
		last = a.newScan(t, fmt.Sprintf("page-%d", i))
	}
	must(t, a.post(t, "/api/v1/scans/page-3/start", nil), http.StatusAccepted)
	last = a.raise(t, "page-3", "critical", "high", "medium", "low", "informational", "high")

	// Pages of 3: 3, 3, 1, every scan once, newest first.
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		q := fmt.Sprintf("/api/v1/scans?limit=3&min_position=%d", last)
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		ans := must(t, a.get(t, q), http.StatusOK)
		require.False(t, stale(ans))
		var items []orchquery.Scan
		ans.data(t, &items)
		for _, s := range items {
			ids = append(ids, s.ID)
		}
		if ans.env.Meta.NextCursor == nil {
			assert.Len(t, items, 1, "page %d", page)
			break
		}
		assert.Len(t, items, 3, "page %d", page)
		cursor = *ans.env.Meta.NextCursor
		require.Less(t, page, 5)
	}
	assert.Equal(t, []string{"page-6", "page-5", "page-4", "page-3", "page-2", "page-1", "page-0"}, ids)

	// Filters.
	var scans []orchquery.Scan
	must(t, a.get(t, "/api/v1/scans?status=running"), http.StatusOK).data(t, &scans)
	require.Len(t, scans, 1)
	assert.Equal(t, "page-3", scans[0].ID)
	must(t, a.get(t, "/api/v1/scans?tool=nmap"), http.StatusOK).data(t, &scans)
	assert.Empty(t, scans)

	// The findings are another read model than the scans: read them at
	// the last write's position too.
	at := fmt.Sprintf("&min_position=%d", last)
	var fs []csquery.Finding
	must(t, a.get(t, "/api/v1/findings?severity=critical,high&scan_id=page-3"+at), http.StatusOK).data(t, &fs)
	assert.Len(t, fs, 3)
	must(t, a.get(t, "/api/v1/findings?severity=low&severity=informational&status=open"+at), http.StatusOK).data(t, &fs)
	assert.Len(t, fs, 2)
	ans := must(t, a.get(t, "/api/v1/findings?limit=4"+at), http.StatusOK)
	ans.data(t, &fs)
	assert.Len(t, fs, 4)
	require.NotNil(t, ans.env.Meta.NextCursor)
	must(t, a.get(t, "/api/v1/findings?limit=4&cursor="+*ans.env.Meta.NextCursor), http.StatusOK).data(t, &fs)
	assert.Len(t, fs, 2)

	// Errors: unknown scan, bad values, a cursor of another list.
	ans = must(t, a.get(t, "/api/v1/scans/nope"), http.StatusNotFound)
	assert.Equal(t, api.CodeNotFound, ans.env.Error.Code)
	for path, field := range map[string]string{
		"/api/v1/findings?severity=urgent":         "severity",
		"/api/v1/scans?status=paused":              "status",
		"/api/v1/scans?limit=500":                  "limit",
		"/api/v1/scans?cursor=garbage":             "cursor",
		"/api/v1/scans?min_position=soon":          "min_position",
		"/api/v1/dashboard/summary?team_id=other":  "team_id",
		"/api/v1/findings?severity=high&sevrity=x": "sevrity",
	} {
		ans := must(t, a.get(t, path), http.StatusBadRequest)
		require.NotEmpty(t, ans.env.Error.Details, path)
		assert.Equal(t, field, ans.env.Error.Details[0].Field, path)
		assert.Equal(t, api.InQuery, ans.env.Error.Details[0].In, path)
	}
}

// Without a projector nothing passes min_position: the query answers
// after the bound, stale, with what the read models hold.
func TestReadSide_StaleWithoutProjector(t *testing.T) {
	t.Parallel()
	a := startApp(t, func(c *config.Config) {
		c.Roles = []config.Role{config.RoleAPI, config.RoleRelay}
		c.ReadWaitTimeout = 300 * time.Millisecond
	})
	pos := a.newScan(t, "st-1")
	start := time.Now()
	ans := must(t, a.get(t, fmt.Sprintf("/api/v1/scans/st-1?min_position=%d", pos)), http.StatusNotFound)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.Less(t, time.Since(start), 3*time.Second)

	start = time.Now()
	ans = must(t, a.get(t, fmt.Sprintf("/api/v1/scans?min_position=%d", pos)), http.StatusOK)
	took := time.Since(start)
	assert.True(t, stale(ans), "%s", ans.raw)
	assert.Less(t, ans.env.Meta.Position, pos, "not through the scan (only the first start's key before it)")
	assert.GreaterOrEqual(t, took, 300*time.Millisecond)
	assert.Less(t, took, 3*time.Second)
	ans = must(t, a.get(t, "/api/v1/scans"), http.StatusOK)
	assert.False(t, stale(ans), "no min_position, never stale")

	// Projection admin needs the projector role; status comes from the
	// stored checkpoints.
	st := a.projections(t)
	require.Len(t, st, len(moduleProjections()))
	for _, s := range st {
		assert.Equal(t, "remote", s.State)
		assert.Equal(t, pos, s.Head)
		assert.Zero(t, s.Checkpoint)
		assert.NotEmpty(t, s.EventTypes)
	}
	ans = must(t, a.post(t, "/api/v1/projections/all/rebuild", nil), http.StatusServiceUnavailable)
	assert.Equal(t, api.CodeProjectorUnavailable, ans.env.Error.Code)
}

// An api-only process answers min_position from the stored checkpoints of
// the projections another process runs, including past events of types a
// projection ignores.
func TestReadSide_APIOnlyFollowsStoredCheckpoints(t *testing.T) {
	t.Parallel()
	proj := startApp(t, nil)
	pos := proj.newScan(t, "split-1")
	must(t, proj.post(t, "/api/v1/scans/split-1/start", nil), http.StatusAccepted)
	pos = proj.raise(t, "split-1", "medium")
	// Let the projector process get there first (however long a loaded
	// machine makes it take: each read waits up to the read-wait bound).
	for _, path := range []string{"/api/v1/scans/split-1", "/api/v1/scans", "/api/v1/dashboard/summary"} {
		require.Eventually(t, func() bool {
			return !stale(must(t, proj.get(t, fmt.Sprintf("%s?min_position=%d", path, pos)), http.StatusOK))
		}, time.Minute, time.Millisecond, path)
	}

	// A second, api-only process on the same read models and event store
	// (it appends nothing here).
	cfg := proj.cfg
	cfg.Roles = []config.Role{config.RoleAPI}
	cfg.HTTPAddr = "127.0.0.1:0"
	var srv *api.Server
	app := fx.New(serveOptions(cfg, io.Discard), fx.Populate(&srv))
	require.NoError(t, app.Err())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, app.Start(ctx))
	defer func() { assert.NoError(t, app.Stop(ctx)) }()
	api2 := &testApp{base: "http://" + srv.Addr()}
	useAppKey(t, cfg.DataDir, srv.Addr())

	// scan_runs' checkpoint is the ScanStarted before the finding: the
	// finding is of a type it ignores, so it has processed through pos.
	ans := must(t, api2.get(t, fmt.Sprintf("/api/v1/scans/split-1?min_position=%d", pos)), http.StatusOK)
	assert.False(t, stale(ans), "%s", ans.raw)
	assert.Equal(t, pos, ans.env.Meta.Position)
	ans = must(t, api2.get(t, fmt.Sprintf("/api/v1/scans?min_position=%d", pos)), http.StatusOK)
	assert.False(t, stale(ans), "%s", ans.raw)
	assert.Equal(t, pos, ans.env.Meta.Position)
}

// A rebuild via HTTP runs in the background while queries keep answering
// from the live model; a second rebuild of a covered projection is a 409;
// cancelling leaves the live model as it was; a rebuild can run again.
func TestReadSide_RebuildWhileQueriesAnswer(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	const scans = 40
	var last int64
	for i := range scans {
		id := fmt.Sprintf("rb-%02d", i)
		last = a.newScan(t, id)
		if i%4 == 0 {
			must(t, a.post(t, "/api/v1/scans/"+id+"/start", nil), http.StatusAccepted)
			last = a.raise(t, id, "high", "low")
		}
	}
	want := must(t, a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", last)), http.StatusOK)
	var before platformquery.Dashboard
	want.data(t, &before)
	require.EqualValues(t, scans, before.Scans.Total)
	require.EqualValues(t, 20, before.Findings.Total)

	// Readers: every answer during the rebuild is a 200 with the full counts.
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		reads   atomic.Int64
		badRead atomic.Value
	)
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				req, _ := http.NewRequest(http.MethodGet, a.base+"/api/v1/dashboard/summary", nil)
				authorize(req)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					badRead.Store(err.Error())
					return
				}
				var env struct {
					Data platformquery.Dashboard `json:"data"`
				}
				err = json.NewDecoder(resp.Body).Decode(&env)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || env.Data.Scans.Total != scans || env.Data.Findings.Total != 20 {
					badRead.Store(fmt.Sprintf("status %d, %+v, %v", resp.StatusCode, env.Data.Scans, err))
					return
				}
				reads.Add(1)
			}
		})
	}

	ans := must(t, a.post(t, "/api/v1/projections/all/rebuild", nil), http.StatusAccepted)
	var started api.RebuildStarted
	ans.data(t, &started)
	require.Len(t, started.Projections, len(moduleProjections()))
	ans = must(t, a.post(t, "/api/v1/projections/platform.dashboard/rebuild", nil), http.StatusConflict)
	assert.Equal(t, api.CodeRebuildInProgress, ans.env.Error.Code)
	waitRebuilt(t, a, started)
	stop.Store(true)
	wg.Wait()
	require.Nil(t, badRead.Load(), "a query during the rebuild: %v", badRead.Load())
	assert.Positive(t, reads.Load())
	for _, s := range a.projections(t) {
		assert.Equal(t, api.RebuildDone, s.Rebuild.Phase, s.Name)
		assert.Equal(t, s.Head, s.Rebuild.Processed, s.Name)
	}
	var after platformquery.Dashboard
	must(t, a.get(t, "/api/v1/dashboard/summary"), http.StatusOK).data(t, &after)
	assert.Equal(t, before, after, "the rebuilt model is the live one")

	// Cancel: the projections not rebuilt yet are cancelled, nothing fails,
	// the live models stay.
	ans = must(t, a.post(t, "/api/v1/projections/all/rebuild", nil), http.StatusAccepted)
	ans.data(t, &started)
	must(t, a.call(t, http.MethodDelete, "/api/v1/projections/all/rebuild", nil), http.StatusAccepted)
	st := waitRebuilt(t, a, started)
	lastName := started.Projections[len(started.Projections)-1]
	assert.Equal(t, api.RebuildCanceled, st[lastName].Rebuild.Phase)
	for _, s := range st {
		assert.NotEqual(t, api.RebuildFailed, s.Rebuild.Phase, "%s: %s", s.Name, s.Rebuild.Error)
		assert.Equal(t, "running", s.State, "%s: %+v", s.Name, s.Rebuild)
	}
	must(t, a.get(t, "/api/v1/dashboard/summary"), http.StatusOK).data(t, &after)
	assert.Equal(t, before, after)
	ans = must(t, a.call(t, http.MethodDelete, "/api/v1/projections/platform.dashboard/rebuild", nil), http.StatusNotFound)

	// Again, after the cancel.
	ans = must(t, a.post(t, "/api/v1/projections/platform.dashboard/rebuild", nil), http.StatusAccepted)
	ans.data(t, &started)
	st = waitRebuilt(t, a, started)
	assert.Equal(t, api.RebuildDone, st["platform.dashboard"].Rebuild.Phase)
	pos := a.newScan(t, "rb-after")
	must(t, a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", pos)), http.StatusOK).data(t, &after)
	assert.EqualValues(t, scans+1, after.Scans.Total, "live projection resumed after the swap")
}

// waitRebuilt waits until every projection of a rebuild request finished.
func waitRebuilt(t *testing.T, a *testApp, started api.RebuildStarted) map[string]api.ProjectionStatus {
	t.Helper()
	var st map[string]api.ProjectionStatus
	eventually(t, 3*time.Minute, "rebuild finished", func() bool {
		st = a.projections(t)
		for _, name := range started.Projections {
			r := st[name].Rebuild
			if r == nil || r.StartedAt.Before(started.RequestedAt) || !r.Finished() {
				return false
			}
		}
		return true
	})
	return st
}

// A poison event is parked (not blocking the projection), listed, retried
// (it fails again: 422) and skipped.
func TestReadSide_ParkedEvents(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	poison := appendPoison(t, a.store)
	pos := a.newScan(t, "after-poison")

	const findings = "cloudsecurity.findings"
	eventually(t, 30*time.Second, "poison parked", func() bool {
		return a.projections(t)[findings].ParkedCount == 1
	})
	st := a.projections(t)[findings]
	require.Len(t, st.Parked, 1)
	assert.Equal(t, poison, st.Parked[0].Position)
	assert.Equal(t, "FindingRaised", st.Parked[0].Type)
	ans := must(t, a.get(t, fmt.Sprintf("/api/v1/findings?min_position=%d", pos)), http.StatusOK)
	assert.False(t, stale(ans), "the projection moved past the parked event")

	ans = must(t, a.post(t, "/api/v1/projections/"+findings+"/parked/retry", map[string]any{"position": poison}), http.StatusUnprocessableEntity)
	assert.Equal(t, api.CodeRetryFailed, ans.env.Error.Code)
	assert.Equal(t, 1, a.projections(t)[findings].ParkedCount, "still parked")
	ans = must(t, a.post(t, "/api/v1/projections/"+findings+"/parked/skip", map[string]any{"position": poison + 1}), http.StatusNotFound)
	ans = must(t, a.post(t, "/api/v1/projections/"+findings+"/parked/skip", map[string]any{"position": poison}), http.StatusOK)
	assert.JSONEq(t, `{"projection":"cloudsecurity.findings","removed":1}`, string(ans.env.Data))
	assert.Zero(t, a.projections(t)[findings].ParkedCount)
}

// appendPoison appends a FindingRaised whose data no projection can
// decode, and returns its position.
func appendPoison(t *testing.T, store eventstore.Store) int64 {
	t.Helper()
	res, err := store.Append(context.Background(), eventstore.AppendRequest{
		StreamID: "finding-poison", StreamType: "Finding", Expected: eventstore.Any,
		Events:   []eventstore.NewEvent{{Type: "FindingRaised", SchemaVersion: 1, Data: json.RawMessage(`{"severity": 42}`)}},
		Metadata: eventstore.Metadata{TeamID: "default", Actor: "test"},
	})
	require.NoError(t, err)
	return res.LastPosition()
}

// Every non-empty subset of roles starts and stops.
func TestServe_EveryRoleSubset(t *testing.T) {
	t.Parallel()
	all := config.AllRoles
	for mask := 1; mask < 1<<len(all); mask++ {
		var roles []config.Role
		for i, r := range all {
			if mask&(1<<i) != 0 {
				roles = append(roles, r)
			}
		}
		t.Run(config.JoinRoles(roles), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.Roles = roles
			require.NoError(t, fx.ValidateApp(serveOptions(cfg, io.Discard)))
			app := fx.New(serveOptions(cfg, io.Discard))
			require.NoError(t, app.Err())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, app.Start(ctx))
			require.NoError(t, app.Stop(ctx))
		})
	}
}

// The projections the query routes wait for are registered.
func TestQueryReadsAreRegistered(t *testing.T) {
	t.Parallel()
	var names []string
	for _, p := range moduleProjections() {
		names = append(names, p.Name())
	}
	all := api.QueryReads()
	for route, reads := range api.KnowledgeBaseReads() {
		all[route] = reads
	}
	for route, reads := range all {
		for _, n := range reads {
			assert.True(t, slices.Contains(names, n), "%s reads %s, which is not registered", route, n)
		}
	}
}

// /readyz runs the checks of what the process runs: all four with every
// role, the event store alone in an api-only process.
func TestReadyz_ChecksPerRole(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		roles []config.Role
		want  []string
	}{
		{config.AllRoles, []string{"bus", "eventstore", "projections", "relay"}},
		{[]config.Role{config.RoleAPI}, []string{"eventstore"}},
		{[]config.Role{config.RoleAPI, config.RoleRelay}, []string{"bus", "eventstore", "relay"}},
	} {
		t.Run(config.JoinRoles(tc.roles), func(t *testing.T) {
			t.Parallel()
			a := startApp(t, func(c *config.Config) { c.Roles = tc.roles })
			var got []string
			require.Eventually(t, func() bool {
				res := a.get(t, "/readyz")
				if res.status != http.StatusOK {
					return false
				}
				var data struct {
					Checks []struct {
						Name   string `json:"name"`
						Status string `json:"status"`
					} `json:"checks"`
				}
				require.NoError(t, json.Unmarshal(res.env.Data, &data))
				got = got[:0]
				for _, c := range data.Checks {
					got = append(got, c.Name)
					assert.Equal(t, "ok", c.Status)
				}
				return true
			}, 30*time.Second, 20*time.Millisecond)
			slices.Sort(got)
			assert.Equal(t, tc.want, got)
		})
	}
}

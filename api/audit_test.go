package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	"github.com/cspm-es/cspm-es/queries"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// fakeAudit answers the audit routes with canned data and records what
// it was asked.
type fakeAudit struct {
	mu      sync.Mutex
	filters []platformquery.AuditFilter
	pages   []queries.Page
	asOf    []eventstore.AsOf
	broken  bool
}

func (f *fakeAudit) AuditLog(_ context.Context, team string, fl platformquery.AuditFilter, p queries.Page) (platformquery.AuditList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters, f.pages = append(f.filters, fl), append(f.pages, p)
	return platformquery.AuditList{Items: []platformquery.AuditEntry{{ID: "cmd-1", TeamID: team, CommandID: "cmd-1", Actor: "key:k", Route: "POST /api/v1/scans",
		FirstPosition: 1, Position: 1, EventCount: 1, StreamIDs: []string{"scan-1"}, EventTypes: []string{"ScanRequested"}}}}, nil
}

func (f *fakeAudit) StreamEvents(_ context.Context, team, streamID string) ([]platformquery.AuditEvent, error) {
	if team != "team-a" {
		return nil, queries.ErrNotFound
	}
	return []platformquery.AuditEvent{{RecordedEvent: eventstore.RecordedEvent{StreamID: streamID, Version: 1, Position: 1,
		Data: json.RawMessage(`{"x":"<&>"}`), Metadata: eventstore.Metadata{TeamID: team}}}}, nil
}

func (f *fakeAudit) StreamState(_ context.Context, team, streamID string, at eventstore.AsOf) (platformquery.StreamState, error) {
	f.mu.Lock()
	f.asOf = append(f.asOf, at)
	f.mu.Unlock()
	if team != "team-a" {
		return platformquery.StreamState{}, queries.ErrNotFound
	}
	return platformquery.StreamState{StreamID: streamID, Version: 1, State: map[string]any{"status": "requested"}}, nil
}

func (f *fakeAudit) Verify(context.Context) (platformquery.VerifyResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return platformquery.VerifyResult{EventsChecked: 3, StreamsChecked: 2,
			Broken: &eventstore.BrokenLink{Position: 2, StreamID: "scan-1", Version: 2, EventID: "e2", Reason: "hash does not match the event's content"}}, nil
	}
	return platformquery.VerifyResult{OK: true, EventsChecked: 3, StreamsChecked: 2}, nil
}

func newAuditFakeEnv(t *testing.T) (*fakeEnv, *fakeAudit) {
	t.Helper()
	audit := &fakeAudit{}
	env := newFakeEnv(t, func(_ *api.ServerConfig, d *api.Deps) {
		d.Audit, d.Progress = audit, &fakeProgress{reached: 9}
	})
	return env, audit
}

func TestAuditRoutes_Table(t *testing.T) {
	t.Parallel()
	env, _ := newAuditFakeEnv(t)
	want := map[string]api.Route{
		"GET /api/v1/audit/log":                       {Role: access.Admin, Scope: api.TeamCollection, OperationID: "auditLog"},
		"GET /api/v1/audit/streams/:stream_id/events": {Role: access.Admin, Scope: api.TeamResource, OperationID: "auditStreamEvents"},
		"GET /api/v1/audit/streams/:stream_id/state":  {Role: access.Admin, Scope: api.TeamResource, OperationID: "auditStreamState"},
		"GET /api/v1/audit/verify":                    {Role: access.Admin, Scope: api.Teamless, OperationID: "auditVerify"},
	}
	got := 0
	for _, r := range env.srv.Routes() {
		if w, ok := want[r.Key()]; ok {
			got++
			assert.Equal(t, w.Role, r.Role, r.Key())
			assert.Equal(t, w.Scope, r.Scope, r.Key())
			assert.Equal(t, w.OperationID, r.OperationID, r.Key())
		}
	}
	assert.Equal(t, len(want), got)
	assert.Equal(t, []string{"platform.audit_log"}, api.QueryReads()["GET /api/v1/audit/log"])

	// Without an audit service the routes are not there.
	plain := newFakeEnv(t)
	for _, r := range plain.srv.Routes() {
		assert.False(t, strings.HasPrefix(r.Path, "/api/v1/audit"), r.Key())
	}
	res := serve(t, plain.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/audit/verify"})
	assert.Equal(t, http.StatusNotFound, res.Status)
	assert.Panics(t, func() {
		api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth, Audit: &fakeAudit{}})
	}, "the audit log needs Progress")
}

func TestAuditRoutes_Parameters(t *testing.T) {
	t.Parallel()
	env, audit := newAuditFakeEnv(t)
	get := func(path string, header ...string) response {
		h := map[string]string{}
		for i := 0; i+1 < len(header); i += 2 {
			h[header[i]] = header[i+1]
		}
		return serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: path, Header: h})
	}
	bad := func(path string, want ...string) {
		t.Helper()
		res := get(path)
		require.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", path, res.Raw)
		assert.Equal(t, api.CodeValidationFailed, res.Env.Error.Code)
		assert.Equal(t, want, fields(res.Env), path)
		for _, d := range res.Env.Error.Details {
			assert.Equal(t, api.InQuery, d.In, path)
		}
	}

	res := get("/api/v1/audit/log?actor=key:k&route=" + url.QueryEscape("POST /api/v1/scans") + "&limit=5&cursor=c1&min_position=3")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.Equal(t, platformquery.AuditFilter{Actor: "key:k", Route: "POST /api/v1/scans"}, audit.filters[0])
	assert.Equal(t, queries.Page{Limit: 5, Cursor: "c1"}, audit.pages[0])
	assert.JSONEq(t, `{"position": 9, "stale": false, "next_cursor": null, "request_id": "`+res.Env.Meta.RequestID+`"}`, string(metaOf(t, res)))

	bad("/api/v1/audit/log?actr=x", "actr")
	bad("/api/v1/audit/log?actor=", "actor")
	bad("/api/v1/audit/log?route=a&route=b", "route")
	bad("/api/v1/audit/log?limit=0", "limit")
	bad("/api/v1/audit/streams/scan-1/events?version=1", "version")
	bad("/api/v1/audit/streams/scan-1/events?min_position=x", "min_position")
	bad("/api/v1/audit/streams/scan-1/state?as_of=2025-06-01T12:00:00Z&version=2", "as_of", "version")
	bad("/api/v1/audit/streams/scan-1/state?as_of=yesterday", "as_of")
	bad("/api/v1/audit/streams/scan-1/state?version=0", "version")
	bad("/api/v1/audit/streams/scan-1/state?version=two", "version")
	bad("/api/v1/audit/streams/scan-1/state?at=1", "at")
	bad("/api/v1/audit/verify?full=1", "full")

	res = get("/api/v1/audit/streams/scan-1/state?as_of=2025-06-01T12:00:00.5%2B02:00")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	res = get("/api/v1/audit/streams/scan-1/state?version=2")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	res = get("/api/v1/audit/streams/scan-1/state")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	audit.mu.Lock()
	assert.Equal(t, []eventstore.AsOf{
		{Time: time.Date(2025, 6, 1, 10, 0, 0, 500e6, time.UTC)}, {Version: 2}, {},
	}, normalizeAsOf(audit.asOf))
	audit.mu.Unlock()

	// Stored event data is sent as stored, not HTML-escaped.
	res = get("/api/v1/audit/streams/scan-1/events")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.Contains(t, string(res.Raw), `"data":{"x":"<&>"}`)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))

	// Another team's stream is a 404, never a 403.
	for _, path := range []string{"/api/v1/audit/streams/scan-1/events", "/api/v1/audit/streams/scan-1/state"} {
		res = get(path, "Authorization", "Bearer "+testKey(access.Admin, "team-b"))
		require.Equal(t, http.StatusNotFound, res.Status, "%s", res.Raw)
		assert.Equal(t, api.CodeNotFound, res.Env.Error.Code)
	}
	// Admin only.
	for _, path := range []string{"/api/v1/audit/log", "/api/v1/audit/streams/scan-1/events", "/api/v1/audit/verify"} {
		res = get(path, "Authorization", "Bearer "+testKey(access.Analyst, "team-a"))
		assert.Equal(t, http.StatusForbidden, res.Status, "%s", path)
	}
	res = get("/api/v1/audit/streams/scan%2F1/events")
	require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Raw)
	assert.Equal(t, []string{"stream_id"}, fields(res.Env))
	assert.Equal(t, api.InPath, res.Env.Error.Details[0].In)
}

func metaOf(t *testing.T, res response) json.RawMessage {
	t.Helper()
	var env struct {
		Meta json.RawMessage `json:"meta"`
	}
	require.NoError(t, json.Unmarshal(res.Raw, &env))
	return env.Meta
}

func normalizeAsOf(in []eventstore.AsOf) []eventstore.AsOf {
	out := make([]eventstore.AsOf, len(in))
	for i, a := range in {
		out[i] = a
		if !a.Time.IsZero() {
			out[i].Time = a.Time.UTC()
		}
	}
	return out
}

// A broken chain is data: 200 with ok false and the first broken link.
func TestAuditRoutes_VerifyBrokenIs200(t *testing.T) {
	t.Parallel()
	env, audit := newAuditFakeEnv(t)
	res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/audit/verify"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.JSONEq(t, `{"ok": true, "head": 0, "events_checked": 3, "streams_checked": 2, "checkpoints_checked": 0, "idempotency_records_checked": 0,
		"keyed": false, "events_after_checkpoint": 0, "started_at": "0001-01-01T00:00:00Z", "duration_ms": 0}`, string(res.Data))

	audit.mu.Lock()
	audit.broken = true
	audit.mu.Unlock()
	res = serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/audit/verify"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.True(t, res.Env.Success)
	var got platformquery.VerifyResult
	require.NoError(t, json.Unmarshal(res.Data, &got))
	assert.False(t, got.OK)
	require.NotNil(t, got.Broken)
	assert.Equal(t, int64(2), got.Broken.Position)
	assert.Equal(t, "scan-1", got.Broken.StreamID)
}

// ---- component: real command handlers, SQLite event store and read model ----

// auditComponent is an API with the real command handlers, the audit
// queries over a real SQLite event store and cspm_platform read model,
// and read progress that catches platform.audit_log up on demand.
type auditComponent struct {
	store   *sqlite.Store
	path    string
	url     string
	mu      sync.Mutex
	rt      *projections.Runtime
	builtTo int64
}

func newAuditComponent(t *testing.T, mutate ...func(*api.ServerConfig)) *auditComponent {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	c := &auditComponent{path: filepath.Join(dir, "cspm_events.sqlite")}
	var err error
	c.store, err = sqlite.Open(ctx, c.path, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.store.Close()) })
	platform, err := sqlitestore.Open(ctx, filepath.Join(dir, "cspm_platform.sqlite"), sqlitestore.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, platform.Close()) })

	codec := eventstore.NewDomainCodec()
	c.rt = projections.NewRuntime(projections.RuntimeConfig{}, projections.RuntimeDeps{
		Events: c.store, Codec: codec, Stores: map[dbregistry.Constant]readmodel.Store{dbregistry.PLATFORM: platform},
		Logger: slog.New(slog.DiscardHandler),
	})
	c.rt.Register(platformproj.NewAuditLog())

	cfg := api.ServerConfig{ReadWaitTimeout: 2 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	srv := api.NewServer(cfg, api.Deps{
		Commands: moduleCommands(commands.NewKit(c.store, codec, time.Now)),
		Auth:     testAuth,
		Progress: c,
		Audit: platformquery.NewAudit(platformquery.AuditDeps{
			Log:    platform,
			Events: c.store,
			State:  func(evs []eventstore.RecordedEvent) (any, error) { return commands.State(codec, evs) },
		}),
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c.url = ts.URL
	return c
}

// catchUp rebuilds the audit log from the store when it moved on.
func (c *auditComponent) catchUp(ctx context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	head, err := c.store.HeadPosition(ctx)
	if err != nil || head == c.builtTo {
		return c.builtTo, err
	}
	if err := c.rt.Rebuild(ctx, platformproj.AuditLogName, nil); err != nil {
		return 0, err
	}
	c.builtTo = head
	return head, nil
}

func (c *auditComponent) Processed(ctx context.Context, _ []string) (int64, error) {
	return c.catchUp(ctx)
}

func (c *auditComponent) WaitFor(ctx context.Context, _ []string, position int64) bool {
	p, err := c.catchUp(ctx)
	return err == nil && p >= position
}

func (c *auditComponent) send(t *testing.T, team string, r request) response {
	t.Helper()
	if r.Header == nil {
		r.Header = map[string]string{}
	}
	if _, ok := r.Header["Authorization"]; !ok {
		r.Header["Authorization"] = "Bearer " + testKey(access.Admin, team)
	}
	return send(t, c.url, r)
}

func (c *auditComponent) get(t *testing.T, path string) response {
	t.Helper()
	return c.send(t, "team-a", request{Method: http.MethodGet, Path: path})
}

func auditRoutes(entries []platformquery.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Route
	}
	return out
}

func TestAuditComponent(t *testing.T) {
	t.Parallel()
	c := newAuditComponent(t)
	scanBody := `{"scan_id": "a1", "account_id": "123456789012", "provider": "aws", "tool": "prowler"}`
	first := mustSucceed[api.CommandResult](t, c.send(t, "team-a", request{Path: "/api/v1/scans", Body: scanBody,
		Header: map[string]string{"Idempotency-Key": "k-1", "X-Correlation-ID": "corr-1"}}), http.StatusCreated)
	// The idempotent replay appends nothing, so it adds no entry.
	replay := c.send(t, "team-a", request{Path: "/api/v1/scans", Body: scanBody, Header: map[string]string{"Idempotency-Key": "k-1"}})
	require.Equal(t, http.StatusCreated, replay.Status, "%s", replay.Raw)
	require.Equal(t, "true", replay.Header.Get(api.HeaderIdempotentReplay))
	mustSucceed[api.CommandResult](t, c.send(t, "team-a", request{Path: "/api/v1/scans/a1/start",
		Header: map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}}), http.StatusAccepted)
	batch := mustSucceed[api.BatchCommandResult](t, c.send(t, "team-a", request{Path: "/api/v1/scans/a1/findings", Body: findings("fa-2", "fa-1", "fa-3")}), http.StatusAccepted)
	mustSucceed[api.CommandResult](t, c.send(t, "team-b", request{Path: "/api/v1/scans", Body: `{"scan_id": "b1", "account_id": "123456789012", "provider": "aws", "tool": "prowler"}`}), http.StatusCreated)

	// The audit log, newest first, read-your-writes through min_position.
	res := c.get(t, fmt.Sprintf("/api/v1/audit/log?min_position=%d", batch.Position))
	log := mustSucceed[[]platformquery.AuditEntry](t, res, http.StatusOK)
	assert.False(t, res.Env.Meta.Stale)
	assert.GreaterOrEqual(t, res.Env.Meta.Position, batch.Position)
	require.Equal(t, []string{"POST /api/v1/scans/:id/findings", "POST /api/v1/scans/:id/start", "POST /api/v1/scans"}, auditRoutes(log))
	req, start, findingsEntry := log[2], log[1], log[0]
	assert.Equal(t, "key:k-admin-team-a", req.Actor)
	assert.Equal(t, "k-1", req.IdempotencyKey)
	assert.Equal(t, "corr-1", req.CorrelationID, "the correlation id flows into the event metadata")
	assert.Equal(t, first.Position, req.Position)
	assert.Equal(t, []string{"scan-a1"}, req.StreamIDs)
	assert.Equal(t, []string{"ScanRequested"}, req.EventTypes)
	assert.Equal(t, "key:k-analyst-team-a", start.Actor)
	assert.Empty(t, start.IdempotencyKey)
	assert.NotEmpty(t, start.CorrelationID, "the request id when no X-Correlation-ID is sent")
	assert.Equal(t, int64(3), findingsEntry.EventCount)
	assert.Equal(t, batch.Position, findingsEntry.Position)
	assert.Equal(t, []string{"finding-fa-1", "finding-fa-2", "finding-fa-3"}, findingsEntry.StreamIDs)
	for _, e := range log {
		assert.Equal(t, "team-a", e.TeamID)
		assert.Equal(t, e.CommandID, e.ID)
		assert.NotEmpty(t, e.CommandID)
	}

	// Filters and pages.
	byActor := mustSucceed[[]platformquery.AuditEntry](t, c.get(t, "/api/v1/audit/log?actor=key:k-analyst-team-a"), http.StatusOK)
	assert.Equal(t, []string{"POST /api/v1/scans/:id/start"}, auditRoutes(byActor))
	byRoute := mustSucceed[[]platformquery.AuditEntry](t, c.get(t, "/api/v1/audit/log?route="+url.QueryEscape("POST /api/v1/scans")), http.StatusOK)
	assert.Equal(t, []string{"POST /api/v1/scans"}, auditRoutes(byRoute))
	var paged []string
	path := "/api/v1/audit/log?limit=2"
	for {
		res := c.get(t, path)
		paged = append(paged, auditRoutes(mustSucceed[[]platformquery.AuditEntry](t, res, http.StatusOK))...)
		if res.Env.Meta.NextCursor == "" {
			break
		}
		path = "/api/v1/audit/log?limit=2&cursor=" + url.QueryEscape(res.Env.Meta.NextCursor)
	}
	assert.Equal(t, auditRoutes(log), paged)
	teamB := mustSucceed[[]platformquery.AuditEntry](t, c.send(t, "team-b", request{Method: http.MethodGet, Path: "/api/v1/audit/log"}), http.StatusOK)
	assert.Equal(t, []string{"POST /api/v1/scans"}, auditRoutes(teamB), "each team sees only its own log")

	// A stream's stored events: the hash chain recomputes from the answer.
	res = c.get(t, "/api/v1/audit/streams/scan-a1/events")
	events := mustSucceed[[]eventstore.RecordedEvent](t, res, http.StatusOK)
	require.Len(t, events, 2)
	for i, e := range events {
		assert.Equal(t, int64(i+1), e.Version)
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash, "version %d", e.Version)
		assert.NotEmpty(t, e.Metadata.CommandID)
	}
	assert.Equal(t, events[0].Hash, events[1].PrevHash)
	assert.Equal(t, "POST /api/v1/scans", events[0].Metadata.Route)
	assert.Equal(t, "k-1", events[0].Metadata.IdempotencyKey)
	assert.Equal(t, "corr-1", events[0].Metadata.CorrelationID)
	assert.Equal(t, "POST /api/v1/scans/:id/start", events[1].Metadata.Route)

	// Another team's stream and a missing one are both 404.
	for _, p := range []string{"/api/v1/audit/streams/scan-b1/events", "/api/v1/audit/streams/scan-nope/events",
		"/api/v1/audit/streams/scan-b1/state", "/api/v1/audit/streams/scan-b1/state?version=1"} {
		res := c.get(t, p)
		require.Equal(t, http.StatusNotFound, res.Status, "%s: %s", p, res.Raw)
		assert.Equal(t, api.CodeNotFound, res.Env.Error.Code)
	}

	// State now, at version 1, and as of the request's recording time.
	type stateView struct {
		platformquery.StreamState
		State struct {
			Status string `json:"status"`
		} `json:"state"`
	}
	now := mustSucceed[stateView](t, c.get(t, "/api/v1/audit/streams/scan-a1/state"), http.StatusOK)
	assert.Equal(t, "running", now.State.Status)
	assert.Equal(t, int64(2), now.Version)
	assert.Nil(t, now.AsOf)
	v1 := mustSucceed[stateView](t, c.get(t, "/api/v1/audit/streams/scan-a1/state?version=1"), http.StatusOK)
	assert.Equal(t, "requested", v1.State.Status)
	assert.Equal(t, int64(1), v1.Version)
	require.Len(t, v1.Events, 1)
	assert.Equal(t, &platformquery.StreamAsOf{Version: 1}, v1.AsOf)
	asOf := mustSucceed[stateView](t, c.get(t, "/api/v1/audit/streams/scan-a1/state?as_of="+url.QueryEscape(events[1].RecordedAt.Format(time.RFC3339Nano))), http.StatusOK)
	assert.Equal(t, int64(2), asOf.Version, "as_of includes events recorded at that instant")
	before := c.get(t, "/api/v1/audit/streams/scan-a1/state?as_of="+url.QueryEscape(events[0].RecordedAt.Add(-time.Hour).Format(time.RFC3339)))
	assert.Equal(t, http.StatusNotFound, before.Status, "no event yet then: %s", before.Raw)

	// Verify: intact, then a tampered event is named; 200 both times.
	res = c.get(t, "/api/v1/audit/verify")
	verified := mustSucceed[platformquery.VerifyResult](t, res, http.StatusOK)
	assert.True(t, verified.OK)
	assert.Equal(t, c.head(t), verified.EventsChecked)
	assert.Nil(t, verified.Broken)

	db, err := sql.Open("sqlite", c.path+"?_busy_timeout=10000")
	require.NoError(t, err)
	_, err = db.Exec("UPDATE events SET data = ? WHERE position = ?", `{"scan_id":"a1","started_at":"2020-01-01T00:00:00Z"}`, events[1].Position)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	res = c.get(t, "/api/v1/audit/verify")
	verified = mustSucceed[platformquery.VerifyResult](t, res, http.StatusOK)
	assert.False(t, verified.OK)
	require.NotNil(t, verified.Broken)
	assert.Equal(t, events[1].Position, verified.Broken.Position)
	assert.Equal(t, "scan-a1", verified.Broken.StreamID)
	assert.Equal(t, int64(2), verified.Broken.Version)
	assert.Equal(t, events[1].EventID, verified.Broken.EventID)
}

func (c *auditComponent) head(t *testing.T) int64 {
	t.Helper()
	p, err := c.store.HeadPosition(context.Background())
	require.NoError(t, err)
	return p
}

// Verify honours the request's deadline.
func TestAuditComponent_VerifyTimeout(t *testing.T) {
	t.Parallel()
	c := newAuditComponent(t, func(cfg *api.ServerConfig) { cfg.RequestTimeout = time.Nanosecond })
	res := c.get(t, "/api/v1/audit/verify")
	require.Equal(t, http.StatusGatewayTimeout, res.Status, "%s", res.Raw)
	assert.False(t, res.Env.Success)
}

// An error of the audit service that is no verdict is not a 200.
func TestAuditRoutes_VerifyError(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t, func(_ *api.ServerConfig, d *api.Deps) {
		d.Audit, d.Progress = failingAudit{fakeAudit: &fakeAudit{}}, &fakeProgress{}
	})
	res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/audit/verify"})
	assert.Equal(t, http.StatusGatewayTimeout, res.Status, "%s", res.Raw)
}

type failingAudit struct{ *fakeAudit }

func (failingAudit) Verify(context.Context) (platformquery.VerifyResult, error) {
	return platformquery.VerifyResult{}, fmt.Errorf("audit: verify: %w", errors.Join(context.DeadlineExceeded))
}

package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/access"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

// Component tests: the real server, the real command handlers and the real
// SQLite event store in a temporary directory, over real HTTP.

type component struct {
	store *sqlite.Store
	url   string
}

func newComponent(t *testing.T) *component {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cspm_events.sqlite"),
		sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	return &component{store: store, url: serveComponent(t, store, "default")}
}

// serveComponent starts an API over store for team.
func serveComponent(t *testing.T, store *sqlite.Store, team string) string {
	t.Helper()
	cmds := moduleCommands(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now))
	srv := api.NewServer(api.ServerConfig{
		BodyLimit:       4 << 10,
		IngestBodyLimit: 64 << 10,
	}, api.Deps{
		Commands: cmds,
		Auth:     testAuth,
		Readiness: []api.ReadinessChecker{api.ReadinessCheck("eventstore", func(ctx context.Context) error {
			_, err := store.HeadPosition(ctx)
			return err
		})},
	})
	// Requests carrying the default test key act as team's admin here.
	asTeam := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+testKey(access.Admin, "team-a") {
			r.Header.Set("Authorization", "Bearer "+testKey(access.Admin, team))
		}
		srv.Handler().ServeHTTP(w, r)
	})
	ts := httptest.NewServer(asTeam)
	t.Cleanup(ts.Close)
	return ts.URL
}

func (c *component) head(t *testing.T) int64 {
	t.Helper()
	p, err := c.store.HeadPosition(context.Background())
	require.NoError(t, err)
	return p
}

func (c *component) send(t *testing.T, r request) response {
	t.Helper()
	return send(t, c.url, r)
}

// mustSucceed asserts a success envelope with status and decodes its data.
func mustSucceed[T any](t *testing.T, res response, status int) T {
	t.Helper()
	require.Equal(t, status, res.Status, "body: %s", res.Raw)
	require.True(t, res.Env.Success, "body: %s", res.Raw)
	var data T
	require.NoError(t, json.Unmarshal(res.Data, &data))
	return data
}

// requestScan creates a scan and returns its id.
func (c *component) requestScan(t *testing.T, body string) string {
	t.Helper()
	res := c.send(t, request{Path: "/api/v1/scans", Body: body})
	out := mustSucceed[api.CommandResult](t, res, http.StatusCreated)
	loc := res.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/api/v1/scans/"), loc)
	id := strings.TrimPrefix(loc, "/api/v1/scans/")
	require.Equal(t, "scan-"+id, out.StreamID)
	return id
}

func (c *component) runningScan(t *testing.T) string {
	t.Helper()
	id := c.requestScan(t, `{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}`)
	mustSucceed[api.CommandResult](t, c.send(t, request{Path: "/api/v1/scans/" + id + "/start"}), http.StatusAccepted)
	return id
}

func findings(ids ...string) string {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = fmt.Sprintf(`{"finding_id": %q, "check_id": "s3_public", "title": "Bucket is public", "severity": "high", "resource_id": "arn:aws:s3:::b%d"}`, id, i)
	}
	return `{"findings": [` + strings.Join(items, ",") + `]}`
}

func TestComponentScanLifecycle(t *testing.T) {
	t.Parallel()
	c := newComponent(t)

	res := c.send(t, request{
		Path:   "/api/v1/scans",
		Body:   `{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}`,
		Header: map[string]string{"X-Correlation-ID": "corr-lifecycle"},
	})
	created := mustSucceed[api.CommandResult](t, res, http.StatusCreated)
	scanID := strings.TrimPrefix(res.Header.Get("Location"), "/api/v1/scans/")
	assert.Equal(t, "scan-"+scanID, created.StreamID)
	assert.Equal(t, int64(1), created.Version)
	assert.Equal(t, int64(1), created.Position)
	assert.Equal(t, created.Position, res.Env.Meta.Position)
	assert.Len(t, created.EventIDs, 1)

	started := mustSucceed[api.CommandResult](t, c.send(t, request{
		Path: "/api/v1/scans/" + scanID + "/start", Body: `{"started_at": "` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`,
	}), http.StatusAccepted)
	assert.Equal(t, int64(2), started.Version)

	res = c.send(t, request{Path: "/api/v1/scans/" + scanID + "/findings", Body: findings("f-1", "f-2", "f-3")})
	batch := mustSucceed[api.BatchCommandResult](t, res, http.StatusAccepted)
	require.Len(t, batch.Items, 3)
	for i, item := range batch.Items {
		assert.Equal(t, fmt.Sprintf("finding-f-%d", i+1), item.StreamID)
		assert.Equal(t, int64(1), item.Version)
	}
	assert.Equal(t, c.head(t), batch.Position)
	assert.Equal(t, batch.Position, res.Env.Meta.Position)

	completed := mustSucceed[api.CommandResult](t, c.send(t, request{
		Path: "/api/v1/scans/" + scanID + "/complete", Body: `{"resource_count": 42}`,
	}), http.StatusAccepted)
	assert.Equal(t, int64(3), completed.Version)

	resolved := mustSucceed[api.CommandResult](t, c.send(t, request{Path: "/api/v1/findings/f-1/resolve", Body: `{"reason": "bucket made private"}`}), http.StatusAccepted)
	assert.Equal(t, "finding-f-1", resolved.StreamID)
	assert.Equal(t, int64(2), resolved.Version)
	suppressed := mustSucceed[api.CommandResult](t, c.send(t, request{Path: "/api/v1/findings/f-2/suppress", Body: `{"reason": "accepted risk"}`}), http.StatusAccepted)
	assert.Equal(t, int64(2), suppressed.Version)
	assert.Equal(t, c.head(t), suppressed.Position)

	// The events carry the key's team and id (as the actor) and the
	// caller's correlation id.
	events, err := c.store.ReadStream(context.Background(), created.StreamID, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, events, 3)
	assert.Equal(t, "default", events[0].Metadata.TeamID)
	assert.Equal(t, "key:k-admin-default", events[0].Metadata.Actor)
	assert.Equal(t, "corr-lifecycle", events[0].Metadata.CorrelationID)
	assert.NotEmpty(t, events[1].Metadata.CorrelationID)

	ready := c.send(t, request{Method: http.MethodGet, Path: "/readyz"})
	assert.Equal(t, http.StatusOK, ready.Status)
}

func TestComponentConflict(t *testing.T) {
	t.Parallel()
	c := newComponent(t)
	body := `{"scan_id": "scan-a", "account_id": "123456789012", "provider": "aws", "tool": "prowler"}`
	c.requestScan(t, body)

	t.Run("scan id in use", func(t *testing.T) {
		before := c.head(t)
		res := c.send(t, request{Path: "/api/v1/scans", Body: body})
		assert.Equal(t, http.StatusConflict, res.Status, "body: %s", res.Raw)
		require.NotNil(t, res.Env.Error)
		assert.Equal(t, api.CodeConflict, res.Env.Error.Code)
		require.Len(t, res.Env.Error.Details, 1)
		require.NotNil(t, res.Env.Error.Details[0].CurrentVersion)
		assert.Equal(t, int64(1), *res.Env.Error.Details[0].CurrentVersion)
		assert.Equal(t, before, c.head(t))
	})
	t.Run("finding id in use", func(t *testing.T) {
		scanID := c.runningScan(t)
		mustSucceed[api.BatchCommandResult](t, c.send(t, request{Path: "/api/v1/scans/" + scanID + "/findings", Body: findings("dup-1")}), http.StatusAccepted)
		before := c.head(t)
		res := c.send(t, request{Path: "/api/v1/scans/" + scanID + "/findings", Body: findings("new-1", "dup-1")})
		assert.Equal(t, http.StatusConflict, res.Status, "body: %s", res.Raw)
		require.NotNil(t, res.Env.Error)
		assert.Equal(t, api.CodeConflict, res.Env.Error.Code)
		require.NotEmpty(t, res.Env.Error.Details)
		require.NotNil(t, res.Env.Error.Details[0].CurrentVersion)
		assert.Equal(t, int64(1), *res.Env.Error.Details[0].CurrentVersion)
		assert.Equal(t, before, c.head(t), "the batch appends nothing")
	})
}

func TestComponentRuleViolations(t *testing.T) {
	t.Parallel()
	c := newComponent(t)
	requested := c.requestScan(t, `{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}`)
	running := c.runningScan(t)
	mustSucceed[api.BatchCommandResult](t, c.send(t, request{Path: "/api/v1/scans/" + running + "/findings", Body: findings("r-1")}), http.StatusAccepted)
	mustSucceed[api.CommandResult](t, c.send(t, request{Path: "/api/v1/findings/r-1/resolve"}), http.StatusAccepted)

	tests := []struct {
		name string
		req  request
		code string
	}{
		{"complete a scan that never started", request{Path: "/api/v1/scans/" + requested + "/complete"}, orchestration.CodeScanNotRunning},
		{"start a scan twice", request{Path: "/api/v1/scans/" + running + "/start"}, orchestration.CodeScanAlreadyStarted},
		{"findings in a scan that is not running", request{Path: "/api/v1/scans/" + requested + "/findings", Body: findings("r-2")}, orchestration.CodeScanNotAccepting},
		{"resolve a resolved finding", request{Path: "/api/v1/findings/r-1/resolve"}, cloudsecurity.CodeFindingAlreadyResolved},
		{"suppress a resolved finding", request{Path: "/api/v1/findings/r-1/suppress", Body: `{"reason": "fp"}`}, cloudsecurity.CodeFindingAlreadyResolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.head(t)
			res := c.send(t, tt.req)
			assert.Equal(t, http.StatusUnprocessableEntity, res.Status, "body: %s", res.Raw)
			require.NotNil(t, res.Env.Error)
			assert.Equal(t, tt.code, res.Env.Error.Code)
			assert.NotEmpty(t, res.Env.Error.Message)
			assert.Equal(t, before, c.head(t))
		})
	}
}

func TestComponentIdempotentReplay(t *testing.T) {
	t.Parallel()
	c := newComponent(t)
	create := request{
		Path:   "/api/v1/scans",
		Body:   `{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}`,
		Header: map[string]string{"Idempotency-Key": "create-scan-1"},
	}
	first := c.send(t, create)
	mustSucceed[api.CommandResult](t, first, http.StatusCreated)
	assert.Empty(t, first.Header.Get("Idempotent-Replayed"))
	head := c.head(t)

	again := c.send(t, create)
	mustSucceed[api.CommandResult](t, again, http.StatusCreated)
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.JSONEq(t, string(first.Data), string(again.Data), "the replay answers the first result")
	assert.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
	assert.Equal(t, head, c.head(t), "a replay appends nothing")

	t.Run("same key, other request", func(t *testing.T) {
		other := create
		other.Body = `{"account_id": "999999999999", "provider": "aws", "tool": "prowler"}`
		res := c.send(t, other)
		assert.Equal(t, http.StatusUnprocessableEntity, res.Status, "body: %s", res.Raw)
		require.NotNil(t, res.Env.Error)
		assert.Equal(t, api.CodeIdempotencyKeyReused, res.Env.Error.Code)
		assert.Equal(t, head, c.head(t))
	})

	t.Run("command on an existing stream", func(t *testing.T) {
		scanID := strings.TrimPrefix(first.Header.Get("Location"), "/api/v1/scans/")
		start := request{Path: "/api/v1/scans/" + scanID + "/start", Header: map[string]string{"Idempotency-Key": "start-1"}}
		r1 := c.send(t, start)
		mustSucceed[api.CommandResult](t, r1, http.StatusAccepted)
		h := c.head(t)
		r2 := c.send(t, start)
		mustSucceed[api.CommandResult](t, r2, http.StatusAccepted)
		assert.Equal(t, "true", r2.Header.Get("Idempotent-Replayed"))
		assert.JSONEq(t, string(r1.Data), string(r2.Data))
		assert.Equal(t, h, c.head(t))

		batch := request{Path: "/api/v1/scans/" + scanID + "/findings", Body: findings("i-1", "i-2"), Header: map[string]string{"Idempotency-Key": "batch-1"}}
		b1 := c.send(t, batch)
		mustSucceed[api.BatchCommandResult](t, b1, http.StatusAccepted)
		h = c.head(t)
		b2 := c.send(t, batch)
		mustSucceed[api.BatchCommandResult](t, b2, http.StatusAccepted)
		assert.Equal(t, "true", b2.Header.Get("Idempotent-Replayed"))
		assert.JSONEq(t, string(b1.Data), string(b2.Data))
		assert.Equal(t, h, c.head(t))
	})
}

func TestComponentNotFoundAndTeamIsolation(t *testing.T) {
	t.Parallel()
	c := newComponent(t)
	scanID := c.runningScan(t)
	otherTeam := serveComponent(t, c.store, "team-b")
	before := c.head(t)

	for _, r := range []struct {
		base string
		req  request
	}{
		{c.url, request{Path: "/api/v1/scans/no-such-scan/start"}},
		{c.url, request{Path: "/api/v1/findings/no-such-finding/resolve"}},
		{otherTeam, request{Path: "/api/v1/scans/" + scanID + "/complete"}},
		{otherTeam, request{Path: "/api/v1/scans/" + scanID + "/findings", Body: findings("x-1")}},
	} {
		res := send(t, r.base, r.req)
		assert.Equal(t, http.StatusNotFound, res.Status, "%s: %s", r.req.Path, res.Raw)
		require.NotNil(t, res.Env.Error)
		assert.Equal(t, api.CodeNotFound, res.Env.Error.Code)
	}
	assert.Equal(t, before, c.head(t))
}

// TestComponentBadInputAppendsNothing: invariant 8 end to end.
func TestComponentBadInputAppendsNothing(t *testing.T) {
	t.Parallel()
	c := newComponent(t)
	scanID := c.runningScan(t)
	scanPath := "/api/v1/scans/" + scanID

	badSeverity := make([]string, 5)
	for i := range badSeverity {
		sev := "high"
		if i == 3 {
			sev = "catastrophic"
		}
		badSeverity[i] = fmt.Sprintf(`{"check_id": "c", "title": "t", "severity": %q, "resource_id": "r%d"}`, sev, i)
	}

	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"bad JSON", request{Path: "/api/v1/scans", Body: `{"account_id": "a",}`}, 400, api.CodeMalformedBody, ""},
		{"wrong type", request{Path: "/api/v1/scans", Body: `{"account_id": 123456789012, "provider": "aws", "tool": "prowler"}`}, 400, api.CodeMalformedBody, "account_id"},
		{"unknown field", request{Path: "/api/v1/scans", Body: `{"account_id": "a", "provider": "aws", "tool": "prowler", "team_id": "team-b"}`}, 400, api.CodeMalformedBody, "team_id"},
		{"trailing data", request{Path: "/api/v1/scans", Body: `{"account_id": "a", "provider": "aws", "tool": "prowler"}{}`}, 400, api.CodeMalformedBody, ""},
		{"empty body", request{Path: "/api/v1/scans", ContentType: "application/json"}, 400, api.CodeMalformedBody, ""},
		{"oversize body", request{Path: "/api/v1/scans", Body: `{"account_id": "` + strings.Repeat("1", 5<<10) + `", "provider": "aws", "tool": "prowler"}`}, 413, api.CodePayloadTooLarge, ""},
		{"oversize batch", request{Path: scanPath + "/findings", Body: `{"findings": [{"title": "` + strings.Repeat("t", 65<<10) + `"}]}`}, 413, api.CodePayloadTooLarge, ""},
		{"wrong content type", request{Path: "/api/v1/scans", Body: `{"account_id": "a", "provider": "aws", "tool": "prowler"}`, ContentType: "text/plain"}, 415, api.CodeUnsupportedMediaType, "Content-Type"},
		{"invalid Idempotency-Key", request{Path: scanPath + "/complete", Header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 400, api.CodeValidationFailed, "Idempotency-Key"},
		{"invalid path id", request{Path: "/api/v1/scans/bad*id/complete"}, 400, api.CodeValidationFailed, "id"},
		{"path id too long", request{Path: "/api/v1/findings/" + strings.Repeat("f", 129) + "/resolve"}, 400, api.CodeValidationFailed, "id"},
		{"missing required fields", request{Path: "/api/v1/scans", Body: `{}`}, 400, api.CodeValidationFailed, "account_id"},
		{"invalid severity in item 3", request{Path: scanPath + "/findings", Body: `{"findings": [` + strings.Join(badSeverity, ",") + `]}`}, 400, api.CodeValidationFailed, "findings[3].severity"},
		{"wrong type in item 3", request{Path: scanPath + "/findings", Body: findingsBody(5, 3, `"severity": 3`)}, 400, api.CodeMalformedBody, "findings[3].severity"},
		{"empty batch", request{Path: scanPath + "/findings", Body: `{"findings": []}`}, 400, api.CodeValidationFailed, "findings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.head(t)
			res := c.send(t, tt.req)
			assert.Equal(t, tt.wantStatus, res.Status, "body: %s", res.Raw)
			require.NotNil(t, res.Env.Error, "body: %s", res.Raw)
			assert.Equal(t, tt.wantCode, res.Env.Error.Code)
			if tt.wantField != "" {
				assert.Contains(t, fields(res.Env), tt.wantField, "body: %s", res.Raw)
			}
			assert.Equal(t, before, c.head(t), "bad input appends nothing")
		})
	}
}

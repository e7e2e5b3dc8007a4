package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
)

func TestCreateAnswers201WithLocationAndResult(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	res := serve(t, env.srv.Handler(), request{
		Path:   "/api/v1/scans",
		Body:   `{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}`,
		Header: map[string]string{"Idempotency-Key": "create-1"},
	})
	require.Equal(t, http.StatusCreated, res.Status, "body: %s", res.Raw)
	assert.Equal(t, "/api/v1/scans/scan-7", res.Header.Get("Location"))
	assert.Empty(t, res.Header.Get("Idempotent-Replayed"))
	assert.True(t, res.Env.Success)
	assert.Nil(t, res.Env.Error)
	assert.Equal(t, int64(7), res.Env.Meta.Position)
	assert.JSONEq(t, `{"id": "scan-7", "stream_id": "stream-1", "version": 1, "position": 7, "event_ids": ["ev-1"]}`, string(res.Data))

	calls := env.cmds.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, orchcmd.RequestScan{AccountID: "123456789012", Provider: "aws", Tool: "prowler"}, calls[0].Cmd)
	assert.Equal(t, commands.Meta{
		TeamID:         "team-a",
		Actor:          "key:k-admin-team-a",
		CorrelationID:  res.Header.Get("X-Request-ID"),
		IdempotencyKey: "create-1",
		Route:          "POST /api/v1/scans",
	}, calls[0].Meta)
}

func TestReplayIsFlagged(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	env.cmds.duplicate = true
	res := serve(t, env.srv.Handler(), request{
		Path: "/api/v1/scans", Body: `{"account_id": "a"}`, Header: map[string]string{"Idempotency-Key": "k"},
	})
	assert.Equal(t, http.StatusCreated, res.Status)
	assert.Equal(t, "true", res.Header.Get("Idempotent-Replayed"))
	assert.NotContains(t, string(res.Data), "duplicate", "a replay has the first answer's data")

	res = serve(t, env.srv.Handler(), request{
		Path: "/api/v1/scans/s1/findings", Body: findingsBody(2, -1, ""), Header: map[string]string{"Idempotency-Key": "k2"},
	})
	assert.Equal(t, http.StatusAccepted, res.Status)
	assert.Equal(t, "true", res.Header.Get("Idempotent-Replayed"))
}

func TestBatchResult(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans/s1/findings", Body: findingsBody(2, -1, "")})
	require.Equal(t, http.StatusAccepted, res.Status, "body: %s", res.Raw)
	var data api.BatchCommandResult
	require.NoError(t, json.Unmarshal(res.Data, &data))
	require.Len(t, data.Items, 2)
	assert.Equal(t, int64(8), data.Position)
	assert.Equal(t, int64(8), res.Env.Meta.Position)
	cmd := env.cmds.Calls()[0].Cmd.(cscmd.RaiseFindings)
	assert.Equal(t, "s1", cmd.ScanID)
	assert.Len(t, cmd.Findings, 2)
}

func TestRequestAndCorrelationIDs(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	h := env.srv.Handler()

	t.Run("generated when absent", func(t *testing.T) {
		res := serve(t, h, request{Method: http.MethodGet, Path: "/healthz"})
		id := res.Header.Get("X-Request-ID")
		assert.Len(t, id, 36)
		assert.Equal(t, id, res.Env.Meta.RequestID)
		assert.Equal(t, id, res.Header.Get("X-Correlation-ID"))
	})
	t.Run("incoming ids honoured and passed to the command", func(t *testing.T) {
		res := serve(t, h, request{Path: "/api/v1/scans/s1/start", Header: map[string]string{
			"X-Request-ID": "req-123", "X-Correlation-ID": "corr-9",
		}})
		require.Equal(t, http.StatusAccepted, res.Status)
		assert.Equal(t, "req-123", res.Header.Get("X-Request-ID"))
		assert.Equal(t, "corr-9", res.Header.Get("X-Correlation-ID"))
		calls := env.cmds.Calls()
		assert.Equal(t, "corr-9", calls[len(calls)-1].Meta.CorrelationID)
	})
	t.Run("insane incoming id replaced", func(t *testing.T) {
		res := serve(t, h, request{Method: http.MethodGet, Path: "/healthz", Header: map[string]string{
			"X-Request-ID": strings.Repeat("x", 200),
		}})
		assert.Len(t, res.Header.Get("X-Request-ID"), 36)
	})
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	res := serve(t, env.srv.Handler(), request{
		Path:   "/api/v1/findings/f1/suppress",
		Body:   `{"reason": "SECRET-REASON-TEXT"}`,
		Header: map[string]string{"X-Request-ID": "req-log-1"},
	})
	require.Equal(t, http.StatusAccepted, res.Status)

	var line map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(env.logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if m["msg"] == "http request" {
			line = m
		}
	}
	require.NotNil(t, line, "logs: %s", env.logs.String())
	assert.Equal(t, "POST", line["method"])
	assert.Equal(t, "/api/v1/findings/:id/suppress", line["route"])
	assert.Equal(t, float64(202), line["status"])
	assert.Equal(t, "req-log-1", line["request_id"])
	assert.Contains(t, line, "duration")
	assert.NotContains(t, env.logs.String(), "SECRET-REASON-TEXT", "bodies are never logged")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	h := env.srv.Handler()
	serve(t, h, request{Path: "/api/v1/scans/s1/start"})
	serve(t, h, request{Path: "/api/v1/scans/s2/start"})
	serve(t, h, request{Method: http.MethodGet, Path: "/no/such/route/" + strings.Repeat("z", 10)})

	res := serve(t, h, request{Method: http.MethodGet, Path: "/metrics"})
	require.Equal(t, http.StatusOK, res.Status)
	body := string(res.Raw)
	assert.Contains(t, body, `cspm_http_requests_total{method="POST",route="/api/v1/scans/:id/start",status="202"} 2`)
	assert.Contains(t, body, `cspm_http_requests_total{method="GET",route="unmatched",status="404"} 1`)
	assert.Contains(t, body, `cspm_http_request_duration_seconds_bucket{method="POST",route="/api/v1/scans/:id/start",status="202",le="0.005"}`)
	assert.NotContains(t, body, "zzzzzzzzzz", "raw paths never become labels")
}

func TestServersCanShareARegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a := api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth, Metrics: reg})
	b := api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth, Metrics: reg})
	serve(t, a.Handler(), request{Method: http.MethodGet, Path: "/healthz"})
	serve(t, b.Handler(), request{Method: http.MethodGet, Path: "/healthz"})
	res := serve(t, a.Handler(), request{Method: http.MethodGet, Path: "/metrics"})
	assert.Contains(t, string(res.Raw), `cspm_http_requests_total{method="GET",route="/healthz",status="200"} 2`)
}

func TestNewServerNeedsCommands(t *testing.T) {
	t.Parallel()
	assert.Panics(t, func() { api.NewServer(api.ServerConfig{}, api.Deps{}) })
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/healthz"})
	assert.Equal(t, http.StatusOK, res.Status)
	assert.True(t, res.Env.Success)
	assert.JSONEq(t, `{"status": "ok"}`, string(res.Data))

	res = serve(t, env.srv.Handler(), request{Method: http.MethodHead, Path: "/healthz"})
	assert.Equal(t, http.StatusOK, res.Status)
	assert.Empty(t, res.Raw)
}

func TestEmptyPathID(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans//start"})
	assert.Equal(t, http.StatusBadRequest, res.Status)
	assert.Equal(t, []string{"id"}, fields(res.Env), "body: %s", res.Raw)
	assert.Empty(t, env.cmds.Calls())
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := api.ReadinessCheck("eventstore", func(context.Context) error { return nil })
	broken := api.ReadinessCheck("bus", func(context.Context) error { return errors.New("dial nats://10.0.0.1: refused") })
	slow := api.ReadinessCheck("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	stalled := api.ReadinessCheck("relay", func(context.Context) error {
		return &api.NotReady{Reason: "relay stalled for 45s: 3 events are not on the bus", Cause: errors.New("dial 10.0.0.2")}
	})

	t.Run("ready", func(t *testing.T) {
		t.Parallel()
		env := newFakeEnv(t, func(_ *api.ServerConfig, d *api.Deps) { d.Readiness = []api.ReadinessChecker{ok} })
		res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/readyz"})
		assert.Equal(t, http.StatusOK, res.Status)
		assert.JSONEq(t, `{"status": "ready", "checks": [{"name": "eventstore", "status": "ok"}]}`, string(res.Data))
	})
	t.Run("not ready names the failing checks", func(t *testing.T) {
		t.Parallel()
		env := newFakeEnv(t, func(c *api.ServerConfig, d *api.Deps) {
			c.ReadinessTimeout = 20 * time.Millisecond
			d.Readiness = []api.ReadinessChecker{ok, broken, slow, stalled}
		})
		res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/readyz"})
		assert.Equal(t, http.StatusServiceUnavailable, res.Status)
		require.NotNil(t, res.Env.Error)
		assert.Equal(t, api.CodeNotReady, res.Env.Error.Code)
		assert.Equal(t, []api.ErrorDetail{
			{Check: "bus", Message: "failed"},
			{Check: "slow", Message: "timed out"},
			{Check: "relay", Message: "relay stalled for 45s: 3 events are not on the bus"},
		}, res.Env.Error.Details)
		assert.NotContains(t, string(res.Raw), "10.0.0.1", "causes are logged, not sent")
		assert.NotContains(t, string(res.Raw), "10.0.0.2", "causes are logged, not sent")
		assert.Contains(t, env.logs.String(), "10.0.0.1")
		assert.Contains(t, env.logs.String(), "10.0.0.2")
	})
}

func TestListDatabases(t *testing.T) {
	t.Parallel()
	dbs := []api.Database{{Constant: "PLATFORM", Name: "x_cspm_platform", DefaultName: "cspm_platform", Purpose: "users", Side: "read"}}
	env := newFakeEnv(t, func(_ *api.ServerConfig, d *api.Deps) {
		d.Databases = api.DatabaseListerFunc(func() []api.Database { return dbs })
	})
	res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/system/databases"})
	assert.Equal(t, http.StatusOK, res.Status)
	assert.JSONEq(t, `[{"constant": "PLATFORM", "name": "x_cspm_platform", "default_name": "cspm_platform", "purpose": "users", "side": "read"}]`, string(res.Data))

	empty := newFakeEnv(t)
	res = serve(t, empty.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/system/databases"})
	assert.JSONEq(t, `[]`, string(res.Data))
}

func TestStartAndShutdown(t *testing.T) {
	t.Parallel()
	srv := api.NewServer(api.ServerConfig{Addr: "127.0.0.1:0"}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth})
	assert.Empty(t, srv.Addr())
	require.NoError(t, srv.Shutdown(t.Context()), "stopping a server that never started is fine")

	require.NoError(t, srv.Start(t.Context()))
	require.Error(t, srv.Start(t.Context()), "a second start is refused")

	resp, err := http.Get("http://" + srv.Addr() + "/healthz")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"success":true`)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	_, err = http.Get("http://" + srv.Addr() + "/healthz")
	assert.Error(t, err, "no longer serving")
}

func TestStartReportsABusyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	srv := api.NewServer(api.ServerConfig{Addr: ln.Addr().String()}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth})
	assert.Error(t, srv.Start(t.Context()))
}

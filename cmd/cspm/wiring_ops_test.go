package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/platform/config"
)

// A process without the api role, given --ops-addr, answers /healthz,
// /readyz (its own checks) and /metrics (its relay's and projections'
// series) there, and nothing else.
func TestOpsListener_RelayProjectorProcess(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Roles = []config.Role{config.RoleRelay, config.RoleProjector}
	cfg.OpsAddr = "127.0.0.1:0"
	cfg.LogFormat = config.LogJSON
	logs := &lockedBuffer{}
	app := fx.New(serveOptions(cfg, logs))
	require.NoError(t, app.Err())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, app.Start(ctx))
	t.Cleanup(func() {
		require.NoError(t, app.Stop(context.Background()))
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	})

	addr := ""
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "ops endpoints listening" {
			addr = line.Addr
		}
	}
	require.NotEmpty(t, addr, "the start logs where the ops listener listens")
	base := "http://" + addr

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}

	code, body := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok"}`, body)

	code, body = get("/readyz")
	assert.Equal(t, http.StatusOK, code, body)
	var ready struct {
		Status string `json:"status"`
		Checks []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"checks"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	assert.Equal(t, "ready", ready.Status)
	var names []string
	for _, c := range ready.Checks {
		names = append(names, c.Name)
	}
	assert.ElementsMatch(t, []string{"eventstore", "bus", "relay", "projections"}, names)

	code, body = get("/metrics")
	assert.Equal(t, http.StatusOK, code)
	for _, name := range []string{"cspm_relay_lag_events", "cspm_relay_lag_seconds", "cspm_projection_lag_events", "cspm_projection_parked_events"} {
		assert.Contains(t, body, "\n"+name, "the relay and projector register %s", name)
	}

	code, _ = get("/api/v1/projections")
	assert.Equal(t, http.StatusNotFound, code, "the ops listener serves no API route")
}

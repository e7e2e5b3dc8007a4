package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.AuditDir = t.TempDir() // never the user's config dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 10 * time.Second // above net/http's 5s grace for just-accepted connections
	cfg.RateLimit = 0                      // tests hammer the API; the limiter has its own tests
	// A read with min_position answers as soon as the projections have the
	// position: a long bound only keeps a loaded machine's reads from
	// answering stale. Tests of stale answers set their own short one.
	// Under the race detector, with the whole package's apps starting two
	// at a time beside other packages, 33 projections can take longer than
	// 20 s to start: a minute (and a request deadline above it).
	cfg.ReadWaitTimeout = time.Minute
	cfg.HTTPRequestTimeout = 90 * time.Second
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestServeGraph_Validates(t *testing.T) {
	t.Parallel()
	require.NoError(t, fx.ValidateApp(serveOptions(testConfig(t), io.Discard)))

	mongoCfg := testConfig(t)
	mongoCfg.Store, mongoCfg.MongoURI = config.StoreMongo, "mongodb://127.0.0.1:1/"
	require.NoError(t, fx.ValidateApp(serveOptions(mongoCfg, io.Discard)), "validation opens nothing")

	// On an external NATS every role split wires its leases (wiring_lease.go).
	for _, roles := range [][]config.Role{{config.RoleAPI}, {config.RoleRelay}, {config.RoleProjector}, config.AllRoles} {
		c := testConfig(t)
		c.NATSURL, c.Roles, c.OpsAddr = "nats://127.0.0.1:1", roles, "127.0.0.1:0"
		require.NoError(t, fx.ValidateApp(serveOptions(c, io.Discard)), "roles %v", roles)
	}
}

// The serve application starts on a temp data dir and a random port,
// answers its probes and stops cleanly.
func TestServeApp_StartStop(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DBPrefix = "smoke_"
	var srv *api.Server
	app := fxtest.New(t, serveOptions(cfg, io.Discard), fx.Populate(&srv))
	app.RequireStart()

	base := "http://" + srv.Addr()
	useAppKey(t, cfg.DataDir, srv.Addr())
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	}

	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/system/databases", nil)
	require.NoError(t, err)
	authorize(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var env struct {
		Data []api.Database `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	require.Len(t, env.Data, 15)
	assert.Equal(t, "smoke_cspm_events", env.Data[0].Name)

	assert.FileExists(t, dbregistry.MustNew("smoke_").SQLiteFile(cfg.DataDir, dbregistry.EVENTS))
	app.RequireStop()

	_, err = http.Get(base + "/healthz")
	assert.Error(t, err, "the listener is closed after stop")
}

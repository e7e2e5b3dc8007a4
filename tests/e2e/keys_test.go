package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIKeys: the first start writes <data-dir>/admin.key (0600) and
// shows the key on stdout, never in the log; `cspm keys list` works beside
// the running server, `keys create|revoke` are refused there (the server
// owns the data directory) and work once it is stopped; a key revoked over
// HTTP is refused at once; a restart shows no key and honours the CLI's
// keys.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	dataDir := filepath.Join(t.TempDir(), "fresh")
	env := cleanEnv("CSPM_DATA_DIR=" + dataDir)
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	srv.waitReady(t)

	// First start.
	keyFile := filepath.Join(dataDir, "admin.key")
	info, err := os.Stat(keyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	admin := adminKey(t, dataDir)
	assert.Regexp(t, `^cspm_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$`, admin)
	assert.Contains(t, srv.stdout.String(), admin, "the banner shows the key")
	assert.Contains(t, srv.stdout.String(), keyFile)
	assert.Contains(t, srv.logs.String(), `"file":"`+keyFile+`"`, "the log says where the key is")

	call := func(method, path, key string, body any) *apiAnswer {
		t.Helper()
		a, err := callAPI(context.Background(), method, srv.base+path, body, map[string]string{"Authorization": "Bearer " + key})
		require.NoError(t, err)
		return a
	}

	// keys create (CLI) beside the server: refused, the server owns the
	// data directory.
	r := runCLI(t, bin, env, "keys", "create", "--team", "default", "--role", "viewer", "--json")
	require.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "is in use by pid ")
	assert.Contains(t, r.stderr, "POST /api/v1/keys")

	// A viewer and an analyst key over HTTP, shown once.
	issue := func(name, role string) (id, key string) {
		t.Helper()
		a := call(http.MethodPost, "/api/v1/keys", admin, map[string]any{"name": name, "role": role})
		require.Equal(t, http.StatusCreated, a.status, "%s", a.raw)
		var k struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		require.NoError(t, json.Unmarshal(a.env.Data, &k))
		return k.ID, k.Key
	}
	viewerID, viewer := issue("dashboards", "viewer")
	assert.Equal(t, http.StatusOK, call(http.MethodGet, "/api/v1/scans", viewer, nil).status)
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/keys", viewer, map[string]any{"name": "x", "role": "admin"}).status,
		"a viewer cannot make keys")
	httpKeyID, httpKey := issue("ci", "analyst")
	assert.Equal(t, http.StatusCreated, call(http.MethodPost, "/api/v1/scans", httpKey,
		map[string]any{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}).status)

	// keys list (CLI) beside the server: it only reads.
	r = runCLI(t, bin, env, "keys", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 4, r.stdout)
	assert.Contains(t, r.stdout, viewerID)
	assert.Contains(t, r.stdout, httpKeyID)
	assert.NotContains(t, r.stdout, viewer)

	// Revoked over HTTP: refused at once by the process that revoked it.
	a := call(http.MethodPost, "/api/v1/keys/"+viewerID+"/revoke", admin, nil)
	require.Equal(t, http.StatusAccepted, a.status, "%s", a.raw)
	assert.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/api/v1/scans", viewer, nil).status)
	assert.Equal(t, http.StatusOK, call(http.MethodGet, "/api/v1/scans", httpKey, nil).status, "other keys keep working")

	// The projections CLI finds the admin key in the data directory.
	r = runCLI(t, bin, env, "projections", "status", "--server", srv.base)
	require.Equal(t, 0, r.code, r.stderr)

	require.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "logs:\n%s", srv.logs)
	for _, k := range []string{admin, viewer, httpKey} {
		secret := k[len("cspm_")+16+1:]
		assert.NotContains(t, srv.logs.String(), k, "the log holds a key")
		assert.NotContains(t, srv.logs.String(), secret, "the log holds a secret")
	}

	// With the server stopped, keys create and revoke (CLI) work.
	r = runCLI(t, bin, env, "keys", "create", "--team", "default", "--role", "viewer", "--name", "cli", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &created), r.stdout)
	r = runCLI(t, bin, env, "keys", "revoke", httpKeyID, "--reason", "e2e")
	require.Equal(t, 0, r.code, r.stderr)

	// A restart prints no key and keeps admin.key; the CLI's changes hold.
	again := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	again.waitReady(t)
	assert.Empty(t, again.stdout.String())
	assert.Equal(t, admin, adminKey(t, dataDir))
	assert.Equal(t, http.StatusOK, getKeys(t, again.base, admin).status)
	scans, err := callAPI(context.Background(), http.MethodGet, again.base+"/api/v1/scans", nil, map[string]string{"Authorization": "Bearer " + created.Key})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, scans.status, "the key the CLI issued works")
	assert.Equal(t, http.StatusUnauthorized, getKeys(t, again.base, viewer).status, "revoked for good")
	assert.Equal(t, http.StatusUnauthorized, getKeys(t, again.base, httpKey).status, "revoked by the CLI")
	require.Equal(t, 0, again.stop(t, syscall.SIGTERM), "logs:\n%s", again.logs)
}

func getKeys(t *testing.T, base, key string) *apiAnswer {
	t.Helper()
	a, err := callAPI(context.Background(), http.MethodGet, base+"/api/v1/keys", nil, map[string]string{"Authorization": "Bearer " + key})
	require.NoError(t, err)
	return a
}

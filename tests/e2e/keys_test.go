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
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIKeys: the first start writes <data-dir>/admin.key (0600) and
// shows the key on stdout, never in the log; `cspm keys create|list|revoke`
// work beside the running server; a revoked key is refused within the
// authenticator's TTL; a restart shows no key.
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

	// keys create (CLI) beside the server, then use the key.
	r := runCLI(t, bin, env, "keys", "create", "--team", "default", "--role", "viewer", "--name", "dashboards", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &created), r.stdout)
	viewer := created.Key
	assert.Equal(t, http.StatusOK, call(http.MethodGet, "/api/v1/scans", viewer, nil).status)
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/keys", viewer, map[string]any{"name": "x", "role": "admin"}).status,
		"a viewer cannot make keys")

	// An analyst key over HTTP, shown once.
	a := call(http.MethodPost, "/api/v1/keys", admin, map[string]any{"name": "ci", "role": "analyst"})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.raw)
	var httpKey struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal(a.env.Data, &httpKey))
	assert.Equal(t, http.StatusCreated, call(http.MethodPost, "/api/v1/scans", httpKey.Key,
		map[string]any{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}).status)

	// keys list (CLI).
	r = runCLI(t, bin, env, "keys", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 4, r.stdout)
	assert.Contains(t, r.stdout, created.ID)
	assert.Contains(t, r.stdout, httpKey.ID)
	assert.NotContains(t, r.stdout, viewer)

	// keys revoke (CLI, another process): refused within the TTL.
	r = runCLI(t, bin, env, "keys", "revoke", created.ID, "--reason", "e2e")
	require.Equal(t, 0, r.code, r.stderr)
	revoked := time.Now()
	for call(http.MethodGet, "/api/v1/scans", viewer, nil).status != http.StatusUnauthorized {
		require.Less(t, time.Since(revoked), 5*time.Second, "the revoked key is still accepted")
		time.Sleep(20 * time.Millisecond)
	}
	assert.Less(t, time.Since(revoked), 2*time.Second, "refused within the 1s TTL (and scheduling slack)")
	assert.Equal(t, http.StatusOK, call(http.MethodGet, "/api/v1/scans", httpKey.Key, nil).status, "other keys keep working")

	// The projections CLI finds the admin key in the data directory.
	r = runCLI(t, bin, env, "projections", "status", "--server", srv.base)
	require.Equal(t, 0, r.code, r.stderr)

	require.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "logs:\n%s", srv.logs)
	for _, k := range []string{admin, viewer, httpKey.Key} {
		secret := k[len("cspm_")+16+1:]
		assert.NotContains(t, srv.logs.String(), k, "the log holds a key")
		assert.NotContains(t, srv.logs.String(), secret, "the log holds a secret")
	}

	// A restart prints no key and keeps admin.key.
	again := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	again.waitReady(t)
	assert.Empty(t, again.stdout.String())
	assert.Equal(t, admin, adminKey(t, dataDir))
	assert.Equal(t, http.StatusOK, getKeys(t, again.base, admin).status)
	assert.Equal(t, http.StatusUnauthorized, getKeys(t, again.base, viewer).status, "revoked for good")
	require.Equal(t, 0, again.stop(t, syscall.SIGTERM), "logs:\n%s", again.logs)
}

func getKeys(t *testing.T, base, key string) *apiAnswer {
	t.Helper()
	a, err := callAPI(context.Background(), http.MethodGet, base+"/api/v1/keys", nil, map[string]string{"Authorization": "Bearer " + key})
	require.NoError(t, err)
	return a
}

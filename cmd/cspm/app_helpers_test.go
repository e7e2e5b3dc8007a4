package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
)

// testApp is the whole `cspm serve` application in process: the real fx
// graph over SQLite stores and an embedded NATS server in the test's
// temporary directory, its API on a random loopback port.
type testApp struct {
	cfg   config.Config
	base  string
	store eventstore.Store
	logs  *lockedBuffer
	srv   *api.Server
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startApp starts the app with cfg (testConfig with mutate applied) and
// stops it when the test ends; logs are shown when the test fails (or
// always with CSPM_TEST_LOG set).
func startApp(t *testing.T, mutate func(*config.Config)) *testApp {
	t.Helper()
	return startAppWith(t, mutate)
}

// startAppWith is startApp with more fx options (decorators of the app's
// components, for tests that need them tuned).
func startAppWith(t *testing.T, mutate func(*config.Config), opts ...fx.Option) *testApp {
	t.Helper()
	cfg := testConfig(t)
	cfg.LogFormat = config.LogJSON
	if mutate != nil {
		mutate(&cfg)
	}
	a := &testApp{cfg: cfg, logs: &lockedBuffer{}}
	var out io.Writer = a.logs
	if os.Getenv("CSPM_TEST_LOG") != "" {
		out = io.MultiWriter(a.logs, os.Stderr)
	}
	app := fxtest.New(t, append([]fx.Option{serveOptions(cfg, out), fx.Populate(&a.srv, &a.store)}, opts...)...)
	app.RequireStart()
	t.Cleanup(func() {
		app.RequireStop()
		if t.Failed() {
			t.Logf("logs:\n%s", a.logs)
		}
	})
	a.base = "http://" + a.srv.Addr()
	useAppKey(t, cfg.DataDir, a.srv.Addr())
	return a
}

// answer is a decoded envelope.
type answer struct {
	status int
	raw    []byte
	env    struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Meta    struct {
			Position   int64   `json:"position"`
			Stale      *bool   `json:"stale"`
			NextCursor *string `json:"next_cursor"`
		} `json:"meta"`
		Error *api.ErrorBody `json:"error"`
	}
}

func (a *answer) data(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.env.Data, v), "%s", a.raw)
}

func (a *testApp) call(t *testing.T, method, path string, body any, header ...string) *answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	authorize(req)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	ans := &answer{status: resp.StatusCode}
	ans.raw, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(ans.raw, &ans.env), "%s %s: %s", method, path, ans.raw)
	return ans
}

// must asserts the status of an answer.
func must(t *testing.T, a *answer, status int) *answer {
	t.Helper()
	require.Equal(t, status, a.status, "%s", a.raw)
	return a
}

func (a *testApp) get(t *testing.T, path string, header ...string) *answer {
	t.Helper()
	return a.call(t, http.MethodGet, path, nil, header...)
}

func (a *testApp) post(t *testing.T, path string, body any) *answer {
	t.Helper()
	return a.call(t, http.MethodPost, path, body)
}

// newScan requests a scan and returns its id and the command's position.
func (a *testApp) newScan(t *testing.T, id string) int64 {
	t.Helper()
	ans := must(t, a.post(t, "/api/v1/scans", map[string]any{"scan_id": id, "account_id": "123456789012", "provider": "aws", "tool": "prowler"}), http.StatusCreated)
	return ans.env.Meta.Position
}

// raise raises one finding per severity in a running scan and returns the
// batch's position.
func (a *testApp) raise(t *testing.T, scanID string, severities ...string) int64 {
	t.Helper()
	items := make([]map[string]any, len(severities))
	for i, s := range severities {
		items[i] = map[string]any{"check_id": fmt.Sprintf("check_%d", i), "title": "t", "severity": s, "resource_id": fmt.Sprintf("%s-r%d", scanID, i)}
	}
	return must(t, a.post(t, "/api/v1/scans/"+scanID+"/findings", map[string]any{"findings": items}), http.StatusAccepted).env.Meta.Position
}

// projections returns GET /api/v1/projections by name.
func (a *testApp) projections(t *testing.T) map[string]api.ProjectionStatus {
	t.Helper()
	var st []api.ProjectionStatus
	must(t, a.get(t, "/api/v1/projections"), http.StatusOK).data(t, &st)
	out := map[string]api.ProjectionStatus{}
	for _, s := range st {
		out[s.Name] = s
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s", what, within)
		case <-tick.C:
		}
	}
}

func stale(a *answer) bool { return a.env.Meta.Stale != nil && *a.env.Meta.Stale }

// appKeys maps the host:port of each app a test started to the API key
// its requests send (authorize).
var appKeys sync.Map

// adminKey is the admin key the app's first start wrote to its data dir.
func adminKey(t testing.TB, dataDir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, adminKeyFile))
	require.NoError(t, err, "the first start writes the admin key")
	key := strings.TrimSpace(string(raw))
	require.NotEmpty(t, key)
	return key
}

// useAppKey makes requests to the app listening on addr send the admin
// key in dataDir (every app started on a fresh data dir writes one).
func useAppKey(t testing.TB, dataDir, addr string) {
	t.Helper()
	appKeys.Store(addr, adminKey(t, dataDir))
}

// cli runs the cspm CLI with env, plus CSPM_DATA_DIR set to the app's
// data dir (where the CLI finds the admin key to call the app with).
func (a *testApp) cli(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, a.lookupEnv(env))
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// lookupEnv is env with CSPM_DATA_DIR and CSPM_AUDIT_DIR set to the app's.
func (a *testApp) lookupEnv(env map[string]string) config.LookupEnv {
	e := map[string]string{"CSPM_DATA_DIR": a.cfg.DataDir, "CSPM_AUDIT_DIR": a.cfg.AuditDir}
	maps.Copy(e, env)
	return func(k string) (string, bool) { v, ok := e[k]; return v, ok }
}

// authorize sets the API key of a test request: the admin key of the app
// the request goes to (registered by startApp or useAppKey).
func authorize(req *http.Request) {
	key, ok := appKeys.Load(req.URL.Host)
	if !ok {
		panic("authorize: no API key for " + req.URL.Host + ": start the app with startApp, or call useAppKey")
	}
	req.Header.Set("Authorization", "Bearer "+key.(string))
}

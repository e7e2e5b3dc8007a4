package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
)

// `cspm projections ...` against an in-process server.

func TestProjectionsCLI_ListAndStatus(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	pos := a.newScan(t, "cli-1")
	must(t, a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", pos)), 200)

	// --server defaults to http://<CSPM_HTTP_ADDR>.
	u, err := url.Parse(a.base)
	require.NoError(t, err)
	r := a.cli(t, map[string]string{"CSPM_HTTP_ADDR": u.Host}, "projections", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	n := len(moduleProjections())
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, n+1, r.stdout)
	assert.Regexp(t, `^NAME\s+DATABASE\s+EVENT TYPES$`, lines[0])
	assert.Regexp(t, `(?m)^orchestration\.scan_runs\s+ORCHESTRATION\s+ScanRequested,ScanStarted,ScanCompleted,ScanFailed,ScanJobsPlanned,ScanRunFinished$`, r.stdout)

	r = a.cli(t, nil, "projections", "list", "--json", "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	var list []struct {
		Name       string   `json:"name"`
		Database   string   `json:"database"`
		EventTypes []string `json:"event_types"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &list))
	require.Len(t, list, n)
	databases := map[string]string{}
	for _, p := range list {
		databases[p.Name] = p.Database
	}
	assert.Equal(t, "CLOUD_SECURITY", databases["cloudsecurity.findings"])
	assert.Equal(t, "CLOUD_ASSETS", databases["cloudassets.assets"])
	assert.Equal(t, "CLOUD_SECURITY", databases["cloudsecurity.accounts"])

	r = a.cli(t, nil, "projections", "status", "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, n+2, r.stdout)
	assert.Regexp(t, `^NAME\s+STATE\s+OWNER\s+CHECKPOINT\s+PROCESSED\s+HEAD\s+LAG EVENTS\s+LAG SECONDS\s+PARKED\s+REBUILD$`, lines[0])
	assert.Regexp(t, fmt.Sprintf(`^relay: published %d of %d \(lag 0 events, 0\.0s\)$`, pos, pos), lines[n+1])
	assert.Regexp(t, fmt.Sprintf(`(?m)^platform\.dashboard\s+running\s+-\s+%d\s+%d\s+%d\s+0\s+0\.0\s+0\s+-$`, pos, pos, pos), r.stdout)

	r = a.cli(t, nil, "projections", "status", "--json", "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	var st []api.ProjectionStatus
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	require.Len(t, st, n)
	for _, s := range st {
		assert.Equal(t, pos, s.Head, s.Name)
	}
}

func TestProjectionsCLI_Rebuild(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	for i := range 5 {
		a.newScan(t, fmt.Sprintf("cli-rb-%d", i))
	}
	r := a.cli(t, nil, "projections", "rebuild", "platform.dashboard", "--server", a.base)
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	// Position 1 is the first start's admin key, which the dashboard ignores.
	assert.Regexp(t, `^platform\.dashboard\tdone: 5 events applied through position 6 in \S+\n$`, r.stdout)
	assert.Contains(t, r.stderr, "rebuild platform.dashboard: ", "plain progress lines off a terminal")

	// Flags after the name, and --all.
	r = a.cli(t, nil, "projections", "rebuild", "--server", a.base, "--all")
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), len(moduleProjections()), r.stdout)
	assert.NotContains(t, r.stdout, "failed")

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"projections", "rebuild", "--server", a.base}, exitUsage, "give its NAME"},
		{[]string{"projections", "rebuild", "platform.dashboard", "--all", "--server", a.base}, exitUsage, "not both"},
		{[]string{"projections", "rebuild", "a", "b", "--server", a.base}, exitUsage, `unexpected argument "b"`},
		{[]string{"projections", "rebuild", "nope", "--server", a.base}, exitFailure, "404 NOT_FOUND"},
		{[]string{"projections", "rebuild", "--all", "--server", "ftp://x"}, exitUsage, "want an http://"},
		{[]string{"projections", "status", "--server", "http://127.0.0.1:1"}, exitFailure, "cannot reach the cspm server at http://127.0.0.1:1"},
		{[]string{"projections", "retry-parked", "--server", a.base}, exitUsage, "give its NAME"},
	} {
		r := a.cli(t, nil, tt.args...)
		assert.Equal(t, tt.code, r.code, "%v: %s", tt.args, r.stderr)
		assert.Contains(t, r.stderr, tt.want, "%v", tt.args)
	}
}

// cancelOnWrite cancels a context on the first write (the first progress
// line), then keeps what is written.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel()
	return w.buf.Write(p)
}

func (w *cancelOnWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Ctrl-C (here: the command's context ending) cancels the rebuild on the
// server, waits for it to stop and fails; the rebuild can start again.
func TestProjectionsCLI_RebuildCanceled(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	a.newScan(t, "cli-cancel")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	stderr := &cancelOnWrite{cancel: cancel}
	code := run(ctx, []string{"projections", "rebuild", "--all", "--server", a.base}, &stdout, stderr, a.lookupEnv(nil))
	assert.Equal(t, exitFailure, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr)
	assert.Contains(t, stderr.String(), "canceling the rebuild of all on the server")
	assert.Contains(t, stderr.String(), "canceled: ")
	// Rebuilt together: the cancel (at the first line, which says they
	// started) finds them under way; one that was quicker is done.
	assert.Contains(t, stdout.String(), "\tcanceled: canceled; the live model is untouched")
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		assert.Regexp(t, `^\S+\t(canceled: canceled; the live model is untouched|done: .*)$`, line)
	}

	for _, s := range a.projections(t) {
		assert.Equal(t, "running", s.State, s.Name)
	}
	r := a.cli(t, nil, "projections", "rebuild", "--all", "--server", a.base)
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
}

func TestProjectionsCLI_ParkedEvents(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	poison := appendPoison(t, a.store)
	const proj = "platform.dashboard"
	eventually(t, 30*time.Second, "poison parked", func() bool { return a.projections(t)[proj].ParkedCount == 1 })

	r := a.cli(t, nil, "projections", "status", "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `platform\.dashboard\s+running\s+-\s+\d+\s+\d+\s+\d+\s+0\s+0\.0\s+1\s`, r.stdout)

	r = a.cli(t, nil, "projections", "retry-parked", proj, "--position", fmt.Sprint(poison), "--server", a.base)
	assert.Equal(t, exitFailure, r.code, r.stdout)
	assert.Contains(t, r.stderr, "422 RETRY_FAILED")
	r = a.cli(t, nil, "projections", "skip-parked", proj, "--position", fmt.Sprint(poison+7), "--server", a.base)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "no such parked event")
	r = a.cli(t, nil, "projections", "skip-parked", proj, "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, proj+": 1 parked event(s) skipped\n", r.stdout)
	r = a.cli(t, nil, "projections", "retry-parked", proj, "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, proj+": 0 parked event(s) applied\n", r.stdout)
}

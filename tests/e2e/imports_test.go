package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/prowler/prowlergen"
)

// TestImportCrashAndRebuild: reports are imported while cspm is killed
// with SIGKILL at random points of their imports, restarted on the same
// data directory, and the reports imported again (an import is idempotent
// by content and resumes where it was cut). In the end the server shows
// exactly what a server that imported the same reports once, undisturbed,
// shows (each import, each scan's delta, every finding's status), the
// event store verifies, and rebuilding every projection changes nothing.
func TestImportCrashAndRebuild(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	// Three scans of the same accounts, an hour apart: later ones fix,
	// keep and reopen what earlier ones found.
	dir := t.TempDir()
	var reports []string
	for i := range 3 {
		path := filepath.Join(dir, fmt.Sprintf("scan%d.ocsf.json", i+1))
		f, err := os.Create(path)
		require.NoError(t, err)
		_, err = prowlergen.GenerateOCSF(f, 1500, prowlergen.Options{Seed: uint64(i + 1), Accounts: 2, Regions: 3, Checks: 10,
			ResourcesPerCheck: 25, FailRatio: 0.3 + 0.1*float64(i), Start: time.Date(2026, 3, 1, 8+i, 0, 0, 0, time.UTC)})
		require.NoError(t, err)
		require.NoError(t, f.Close())
		reports = append(reports, path)
	}

	// The reference: imported once, in order, undisturbed.
	refEnv := cleanEnv("CSPM_DATA_DIR="+t.TempDir(), "CSPM_RATE_LIMIT=0")
	ref := startServe(t, bin, refEnv, "--http-addr", "127.0.0.1:0")
	for _, r := range reports {
		res := runCLI(t, bin, refEnv, "import", r, "--server", ref.base)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
	want := importState(t, ref.base)

	// The crash run: each report's import is under way when the server is
	// killed (after a random delay), then the server restarts.
	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_RATE_LIMIT=0")
	args := []string{"--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s"}
	srv := startServe(t, bin, env, args...)
	for i, r := range reports {
		cli := exec.Command(bin, "import", r, "--server", srv.base)
		cli.Env = append(slices.Clone(env), "CSPM_API_KEY="+adminKey(t, dataDir))
		out := &syncBuffer{}
		cli.Stdout, cli.Stderr = out, out
		require.NoError(t, cli.Start())
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		kill := time.AfterFunc(delay, func() { _ = srv.cmd.Process.Signal(syscall.SIGKILL) })
		err := cli.Wait()
		if kill.Stop() { // the import ended first: kill it now
			srv.stop(t, syscall.SIGKILL)
		} else {
			waitExit(t, srv)
		}
		t.Logf("report %d: killed %v after the import began; the client said (%v): %s", i+1, delay, err, strings.TrimSpace(out.String()))
		srv = startServe(t, bin, env, args...)
	}
	for _, r := range reports { // again, in order: done ones answer, cut ones resume
		res := runCLI(t, bin, env, "import", r, "--server", srv.base)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
	got := importState(t, srv.base)
	require.Equal(t, want, got, "the killed server shows what the undisturbed one shows")

	// Rebuilding every projection from the events changes nothing.
	res := runCLI(t, bin, env, "projections", "rebuild", "--all", "--server", srv.base)
	require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	require.Equal(t, want, importState(t, srv.base), "after rebuilding every projection")

	assert.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "clean exit; logs:\n%s", srv.logs)
	verify := runCLI(t, bin, env, "events", "verify")
	require.Equal(t, 0, verify.code, "stdout:\n%s\nstderr:\n%s", verify.stdout, verify.stderr)
	assert.Equal(t, 0, ref.stop(t, syscall.SIGTERM))
}

// importState is what a server shows of its imports, once its projections
// have everything: every import (counts, scan), each scan's delta counts,
// and every finding's id, status and lifecycle dates.
func importState(t *testing.T, base string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	head := relayHead(t, ctx, base)
	state := map[string]string{}
	type importDoc struct {
		ID          string         `json:"id"`
		Status      string         `json:"status"`
		ScanID      string         `json:"scan_id"`
		ContentHash string         `json:"content_hash"`
		Counts      map[string]any `json:"counts"`
	}
	var imports []importDoc
	for _, raw := range readPages(t, ctx, base, "/api/v1/imports", head) {
		var d importDoc
		require.NoError(t, json.Unmarshal(raw, &d))
		imports = append(imports, d)
		state["import "+d.ID] = fmt.Sprintf("%s %s %s %v", d.Status, d.ScanID, d.ContentHash, d.Counts)
		var delta struct {
			Counts json.RawMessage `json:"counts"`
		}
		a := readFresh(t, ctx, base+"/api/v1/scans/"+d.ScanID+"/delta?limit=1", head)
		require.NoError(t, json.Unmarshal(a.env.Data, &delta))
		state["delta "+d.ScanID] = string(delta.Counts)
	}
	require.Len(t, imports, 3, "each report imported once")
	for _, raw := range readPages(t, ctx, base, "/api/v1/findings?limit=200", head) {
		var f struct {
			ID            string `json:"id"`
			Status        string `json:"status"`
			FirstSeen     string `json:"first_seen"`
			LastSeen      string `json:"last_seen"`
			TimesReopened int    `json:"times_reopened"`
			ClosedByScan  string `json:"closed_by_scan"`
		}
		require.NoError(t, json.Unmarshal(raw, &f))
		state["finding "+f.ID] = fmt.Sprintf("%s %s %s %d %s", f.Status, f.FirstSeen, f.LastSeen, f.TimesReopened, f.ClosedByScan)
	}
	return state
}

// relayHead is the event store's head as the server reports it.
func relayHead(t *testing.T, ctx context.Context, base string) int64 {
	t.Helper()
	a, err := callAPI(ctx, "GET", base+"/api/v1/relay", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 200, a.status, "%s", a.raw)
	var st struct {
		Head int64 `json:"head"`
	}
	require.NoError(t, json.Unmarshal(a.env.Data, &st))
	return st.Head
}

// readFresh GETs target until its projections have passed position.
func readFresh(t *testing.T, ctx context.Context, target string, position int64) *apiAnswer {
	t.Helper()
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	for {
		a, err := callAPI(ctx, "GET", target+sep+"min_position="+fmt.Sprint(position), nil, nil)
		require.NoError(t, err)
		require.Equal(t, 200, a.status, "%s: %s", target, a.raw)
		if !a.env.Meta.Stale {
			return a
		}
		require.NoError(t, ctx.Err(), "%s never caught up with position %d", target, position)
	}
}

// readPages reads every page of a list once its projections have passed
// position.
func readPages(t *testing.T, ctx context.Context, base, path string, position int64) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	cursor := ""
	for {
		target := base + path
		if cursor != "" {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			target += sep + "cursor=" + url.QueryEscape(cursor)
		}
		a := readFresh(t, ctx, target, position)
		var items []json.RawMessage
		require.NoError(t, json.Unmarshal(a.env.Data, &items))
		out = append(out, items...)
		if a.env.Meta.NextCursor == nil || *a.env.Meta.NextCursor == "" {
			return out
		}
		cursor = *a.env.Meta.NextCursor
	}
}

// waitExit waits for a server killed from elsewhere to exit.
func waitExit(t *testing.T, s *server) {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline(t)))
	defer timer.Stop()
	select {
	case <-s.done:
		s.exited = true
	case <-timer.C:
		t.Fatalf("cspm serve did not exit; logs:\n%s", s.logs)
	}
}

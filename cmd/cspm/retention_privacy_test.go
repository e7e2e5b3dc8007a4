package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/platform/config"
)

// TestRetention_ArchiveHoldsNoPersonalData: archive × crypto-shredding
// (docs/privacy.md, docs/archival.md). A person owns a risk and approves
// an acceptance with a reason they wrote; `cspm retention run` archives
// those events; no archive segment or manifest, gunzipped, holds the clear
// values (they are sealed: the archive holds the store's ciphertext).
// Then `cspm privacy forget` erases the person: replay and export read
// through the archive and show [erased], and `events verify` still passes
// over archive and live store as one chain.
func TestRetention_ArchiveHoldsNoPersonalData(t *testing.T) {
	t.Parallel()
	const (
		owner    = "Hana.Archive@Example.com"
		approver = "hana.archive@example.com"
		reason   = "Hana explains: the break-glass account stays until the vault migration"
	)
	clear := []string{"hana", "break-glass account stays", "vault migration"}
	cfg := testConfig(t)
	ctx := context.Background()

	// A first server records the personal data, then stops (the retention
	// CLI needs the data directory to itself).
	var srv *api.Server
	first := fxtest.New(t, serveOptions(cfg, io.Discard), fx.Populate(&srv))
	first.RequireStart()
	useAppKey(t, cfg.DataDir, srv.Addr())
	a := &testApp{cfg: cfg, base: "http://" + srv.Addr()}
	var res api.CommandResult
	must(t, a.post(t, "/api/v1/risks", map[string]any{"title": "shared admin account", "owner": owner}), http.StatusCreated).data(t, &res)
	riskStream := "risk-" + res.ID
	must(t, a.post(t, "/api/v1/risk-acceptances", map[string]any{"scope": map[string]any{"rule": map[string]any{"module": "cloud_findings",
		"checks": []string{"iam_root_mfa_enabled"}, "accounts": []string{"123456789012"}}}, "reason": reason, "approver": approver,
		"expires_at": time.Now().Add(24 * time.Hour)}), http.StatusCreated).data(t, &res)
	acceptance := res.Position
	// One more event after them, so that they are not the live store's last.
	must(t, a.post(t, "/api/v1/risks", map[string]any{"title": "stale backups", "owner": "ivan@example.com"}), http.StatusCreated)
	first.RequireStop()

	// Archive everything but the live store's last event.
	in200 := time.Now().Add(200 * 24 * time.Hour).UTC().Format(time.RFC3339)
	rep := retentionReportOf(t, a.cli(t, nil, "retention", "run", "--json", "--now", in200))
	require.GreaterOrEqual(t, rep.Archive.ToPosition, acceptance, "the risk and the acceptance are archived")
	require.Positive(t, rep.Archive.DeletedEvents)

	// Every archive file, gunzipped, holds ciphertext only.
	files, err := filepath.Glob(filepath.Join(cfg.DataDir, "archive", "segment-*"))
	require.NoError(t, err)
	segments := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.HasSuffix(f, ".gz") {
			segments++
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			require.NoError(t, err)
			raw, err = io.ReadAll(zr)
			require.NoError(t, err)
			assert.Contains(t, string(raw), `"$pii"`, "%s holds the sealed fields", filepath.Base(f))
			assert.Contains(t, string(raw), `"RiskAccepted"`)
		}
		low := strings.ToLower(string(raw))
		for _, c := range clear {
			assert.NotContains(t, low, c, "%s holds a clear personal value", filepath.Base(f))
		}
	}
	require.Positive(t, segments)

	// The server again: the person is still readable (through the archive),
	// then forgotten.
	b := startApp(t, func(c *config.Config) { c.DataDir, c.AuditDir = cfg.DataDir, cfg.AuditDir })
	_, through := b.store.(*archive.Store)
	require.True(t, through, "serve reads through the archive")
	rp := b.cli(t, nil, "events", "replay", "--stream", riskStream, "--json")
	require.Equal(t, exitOK, rp.code, rp.stderr)
	assert.Contains(t, rp.stdout, owner, "readable through the archive while the key exists")

	var accepted []map[string]any
	eventually(t, 30*time.Second, "risk acceptances", func() bool {
		ans := b.get(t, "/api/v1/risk-acceptances?min_position="+itoa(acceptance))
		if ans.status != http.StatusOK || stale(ans) {
			return false
		}
		ans.data(t, &accepted)
		return len(accepted) == 1
	})
	assert.Equal(t, approver, accepted[0]["approver"], "the read model built before the archival and the forget holds the clear value")

	f := b.cli(t, nil, "privacy", "forget", approver, "--server", b.base)
	require.Equal(t, exitOK, f.code, "stdout:\n%s\nstderr:\n%s", f.stdout, f.stderr)
	assert.Contains(t, f.stdout, "key destroyed: true")

	rp = b.cli(t, nil, "events", "replay", "--stream", riskStream, "--json")
	require.Equal(t, exitOK, rp.code, rp.stderr)
	assert.Contains(t, rp.stdout, `"Owner": "`+eventstore.Erased+`"`, "replay through the archive shows the owner erased")
	assert.NotContains(t, strings.ToLower(rp.stdout), "hana")
	out := filepath.Join(t.TempDir(), "events.jsonl")
	x := b.cli(t, nil, "events", "export", "--out", out)
	require.Equal(t, exitOK, x.code, x.stderr)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"RiskAccepted"`, "the export reads the archived events")
	assert.Contains(t, string(raw), "DataSubjectForgotten")
	for _, c := range clear {
		assert.NotContains(t, strings.ToLower(string(raw)), c)
	}
	// The acceptance's stored events come from the archive; the read model
	// the forget rebuilt (through the archive) shows approver and reason
	// erased.
	all, err := b.store.ReadAll(ctx, 0, 1000)
	require.NoError(t, err)
	var acceptanceID string
	for _, e := range all {
		if e.Type == "RiskAccepted" {
			assert.LessOrEqual(t, e.Position, rep.Archive.ToPosition, "read from the archive")
			acceptanceID = strings.TrimPrefix(e.StreamID, "riskacceptance-")
		}
	}
	require.NotEmpty(t, acceptanceID)
	view := must(t, b.get(t, "/api/v1/risk-acceptances/"+acceptanceID), http.StatusOK)
	assert.Contains(t, string(view.raw), `"approver":"`+eventstore.Erased+`"`)
	assert.Contains(t, string(view.raw), `"reason":"`+eventstore.Erased+`"`)
	for _, c := range clear {
		assert.NotContains(t, strings.ToLower(string(view.raw)), c)
	}

	v := b.cli(t, nil, "events", "verify")
	require.Equal(t, exitOK, v.code, "stdout:\n%s\nstderr:\n%s", v.stdout, v.stderr)
	assert.Contains(t, v.stdout, "archive: ")
}

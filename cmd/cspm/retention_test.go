package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain/retention"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

// retentionWorld is a data directory with an audit key, two scans (s1
// complete with two findings, s2 requested only) sent with idempotency
// keys, and one expired read-model document under a TTL index.
type retentionWorld struct {
	dir, auditDir string
	key           eventstore.AuditKey
	head          int64
	idempotent    int64 // idempotency records stored
}

func (w retentionWorld) env() map[string]string {
	return map[string]string{"CSPM_AUDIT_DIR": w.auditDir}
}

func (w retentionWorld) cspm(t *testing.T, args ...string) result {
	t.Helper()
	return cspm(t, w.env(), append(args, "--data-dir", w.dir)...)
}

// open opens the world's store read through its archive, with its key.
func (w retentionWorld) open(t *testing.T) (*archive.Store, func()) {
	t.Helper()
	ctx := context.Background()
	live, err := sqlite.Open(ctx, dbregistry.MustNew("").SQLiteFile(w.dir, dbregistry.EVENTS), sqlite.Options{Synchronous: "normal", AuditKey: w.key})
	require.NoError(t, err)
	a, err := archive.Open(filepath.Join(w.dir, "archive"))
	require.NoError(t, err)
	return archive.Through(live, a), func() { require.NoError(t, live.Close()) }
}

func newRetentionWorld(t *testing.T) retentionWorld {
	t.Helper()
	ctx := context.Background()
	w := retentionWorld{dir: t.TempDir(), auditDir: t.TempDir()}
	var err error
	w.key, err = eventstore.CreateAuditKeyFile(filepath.Join(w.auditDir, eventstore.AuditKeyFile))
	require.NoError(t, err)
	store, closeStore := w.open(t)
	defer closeStore()
	kit := commands.NewKit(store, eventstore.NewDomainCodec(), time.Now)
	scans, findings := orchcmd.New(kit), cscmd.New(kit)
	meta := func(key string) commands.Meta {
		return commands.Meta{TeamID: "team-a", Actor: "tester", IdempotencyKey: key}
	}
	steps := []func() (commands.Result, error){
		func() (commands.Result, error) {
			return scans.RequestScan(ctx, meta("k1"), orchcmd.RequestScan{ScanID: "s1", AccountID: "123456789012", Provider: "aws", Tool: "prowler"})
		},
		func() (commands.Result, error) {
			return scans.StartScan(ctx, meta("k2"), orchcmd.StartScan{ScanID: "s1"})
		},
		func() (commands.Result, error) {
			b, err := findings.RaiseFindings(ctx, meta("k3"), cscmd.RaiseFindings{ScanID: "s1", Findings: []cscmd.FindingInput{
				{CheckID: "s3_public", Title: "S3 bucket is public", Severity: "high", ResourceID: "arn:aws:s3:::b1"},
				{CheckID: "iam_root_mfa", Title: "Root account without MFA", Severity: "critical", ResourceID: "arn:aws:iam::123456789012:root"},
			}})
			return commands.Result{Position: b.Position}, err
		},
		func() (commands.Result, error) {
			return scans.CompleteScan(ctx, meta("k4"), orchcmd.CompleteScan{ScanID: "s1", ResourceCount: 42})
		},
		func() (commands.Result, error) {
			return scans.RequestScan(ctx, meta(""), orchcmd.RequestScan{ScanID: "s2", AccountID: "123456789012", Provider: "aws", Tool: "prowler"})
		},
	}
	for _, step := range steps {
		res, err := step()
		require.NoError(t, err)
		w.head = res.Position
	}
	recs, err := store.IdempotencyRecords(ctx, "", 100)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	w.idempotent = int64(len(recs))

	// A read model with a TTL index and one document long expired.
	rm, err := sqlitestore.OpenModuleStores(ctx, w.dir, []string{dbregistry.MustNew("").Name(dbregistry.ORCHESTRATION)}, sqlitestore.Options{})
	require.NoError(t, err)
	for _, s := range rm {
		require.NoError(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "retention_probe",
			Indexes: []readmodel.Index{{Name: "expire_at", Fields: []readmodel.IndexField{{Path: "at"}}, TTL: time.Hour}}}))
		require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "retention.probe", Checkpoint: 1, Puts: map[string][]readmodel.Doc{
			"retention_probe": {{"_id": "old", "at": time.Now().Add(-2 * time.Hour)}, {"_id": "new", "at": time.Now().Add(time.Hour)}}}}))
		require.NoError(t, s.Close())
	}
	return w
}

func retentionReportOf(t *testing.T, r result) retentionReport {
	t.Helper()
	require.Equal(t, exitOK, r.code, r.stderr)
	var rep retentionReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	return rep
}

// The retention cycle archives the log's prefix, drops expired read-model
// documents and purges idempotency records; verify, replay and export
// answer across the archive boundary as they did before; an aggregate
// whose stream was archived takes commands.
func TestRetention_ArchiveVerifyReplayExport(t *testing.T) {
	t.Parallel()
	w := newRetentionWorld(t)
	ctx := context.Background()
	export := w.cspm(t, "events", "export")
	require.Equal(t, exitOK, export.code, export.stderr)
	replay := w.cspm(t, "events", "replay", "--stream", "scan-s1", "--json")
	require.Equal(t, exitOK, replay.code, replay.stderr)
	verify := w.cspm(t, "events", "verify")
	require.Equal(t, exitOK, verify.code, verify.stdout)

	later := time.Now().Add(200 * 24 * time.Hour).UTC().Format(time.RFC3339)
	dry := retentionReportOf(t, w.cspm(t, "retention", "run", "--dry-run", "--json", "--now", later))
	assert.True(t, dry.DryRun)
	assert.Equal(t, w.head-1, dry.Archive.Events, "everything but the last event is older than the 180-day cut-off")
	assert.Zero(t, dry.Archived)
	_, err := os.Stat(filepath.Join(w.dir, "archive"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a dry run writes nothing")

	now := retentionReportOf(t, w.cspm(t, "retention", "run", "--json"))
	assert.Zero(t, now.Archive.Events, "nothing is 180 days old yet")
	assert.Equal(t, int64(1), now.ReadModel.DocumentsExpired, "the expired read-model document is dropped")
	assert.Zero(t, now.IdempotencyPurged, "idempotency records are younger than the window")

	rep := retentionReportOf(t, w.cspm(t, "retention", "run", "--json", "--now", later))
	assert.Equal(t, w.head-1, rep.Archive.Events)
	assert.Equal(t, w.head-1, rep.Archive.DeletedEvents)
	assert.Equal(t, w.head-1, rep.Archived)
	assert.Positive(t, rep.Archive.Bytes)
	assert.Equal(t, w.idempotent, rep.IdempotencyPurged, "records older than the 7-day window are purged")
	require.NotNil(t, rep.Cutoff)

	r := w.cspm(t, "events", "verify")
	require.Equal(t, exitOK, r.code, r.stdout)
	assert.Equal(t, firstLine(verify.stdout), firstLine(r.stdout), "verify counts the same events and streams through the archive")
	r = w.cspm(t, "events", "export")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, export.stdout, r.stdout, "export reads through the archive")
	r = w.cspm(t, "events", "replay", "--stream", "scan-s1", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.JSONEq(t, replay.stdout, r.stdout, "replay reads through the archive")

	// The live store holds one event; the archived scan s2 still takes a command.
	store, closeStore := w.open(t)
	live, err := store.Live().ReadAll(ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, live, 1)
	res, err := orchcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now)).
		StartScan(ctx, commands.Meta{TeamID: "team-a", Actor: "tester"}, orchcmd.StartScan{ScanID: "s2"})
	require.NoError(t, err, "an aggregate whose stream was archived loads and decides")
	assert.Equal(t, int64(2), res.Version)
	closeStore()
	r = w.cspm(t, "events", "verify")
	require.Equal(t, exitOK, r.code, r.stdout)
	assert.Contains(t, r.stdout, "OK: "+itoa(w.head+1)+" events")
	assert.Contains(t, r.stdout, "archive: "+itoa(w.head-1)+" events in 1 segments")

	// A changed archive segment is named, exit 1.
	segs, err := filepath.Glob(filepath.Join(w.dir, "archive", "*.jsonl.gz"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	raw, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0x01
	require.NoError(t, os.WriteFile(segs[0], raw, 0o600))
	r = w.cspm(t, "events", "verify")
	assert.Equal(t, exitFailure, r.code, r.stdout)
	assert.Contains(t, r.stdout, "BROKEN: first broken link: archive segment 1 (")
	assert.Contains(t, r.stdout, "sha256 or size does not match its manifest")
	assert.NotContains(t, r.stdout, "archive: ")
	r = w.cspm(t, "events", "verify", "--json")
	assert.Equal(t, exitFailure, r.code, r.stdout)
	assert.Contains(t, r.stdout, `"kind": "archive"`)
}

// Retention policies are events, set from the CLI, listed with who set
// them; the longest one sets the cut-off and 0 days stops archival.
func TestRetention_Policies(t *testing.T) {
	t.Parallel()
	w := newRetentionWorld(t)
	r := w.cspm(t, "retention", "set", "--module", "scan-results", "--days", "10")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--days: must be 0 (keep live for ever) or between 30 and 3650")
	r = w.cspm(t, "retention", "set", "--module", "nope", "--days", "90")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--module: must be one of scan-results, webhook-deliveries")

	r = w.cspm(t, "retention", "set", "--module", "scan-results", "--days", "365", "--reason", "audit asks for a year")
	require.Equal(t, exitOK, r.code, r.stderr)
	r = w.cspm(t, "retention", "policies", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var ps []retention.Policy
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ps))
	require.Len(t, ps, 2)
	assert.Equal(t, "scan-results", ps[0].Module)
	assert.Equal(t, 365, ps[0].Days)
	assert.False(t, ps[0].Default)
	assert.Equal(t, cliActor, ps[0].SetBy)
	assert.Equal(t, "audit asks for a year", ps[0].Reason)
	assert.True(t, ps[1].Default)
	assert.Equal(t, retention.DefaultDays, ps[1].Days)

	in200 := time.Now().Add(200 * 24 * time.Hour).UTC().Format(time.RFC3339)
	rep := retentionReportOf(t, w.cspm(t, "retention", "run", "--json", "--now", in200))
	assert.Zero(t, rep.Archive.Events, "the longest policy (365 days) governs the prefix")

	r = w.cspm(t, "retention", "set", "--module", "webhook-deliveries", "--days", "0")
	require.Equal(t, exitOK, r.code, r.stderr)
	in4000 := time.Now().Add(4000 * 24 * time.Hour).UTC().Format(time.RFC3339)
	rep = retentionReportOf(t, w.cspm(t, "retention", "run", "--json", "--now", in4000))
	assert.Zero(t, rep.Archive.Events, "a policy of 0 days keeps every event live")
	assert.Nil(t, rep.Cutoff)
	assert.Contains(t, rep.NotDone, "a policy keeps its module's events live for ever (0 days): no event archived")
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// serve runs the retention cycle at start (its metrics say so) and
// serves the policy routes to admins.
func TestServe_RetentionCycleAndRoutes(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	eventually(t, 30*time.Second, "the retention cycle ran at start", func() bool {
		resp, err := http.Get(a.base + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return strings.Contains(string(body), "cspm_retention_cycle_duration_seconds_count 1") &&
			strings.Contains(a.logs.String(), `"msg":"retention cycle done"`)
	})

	ans := a.call(t, http.MethodPut, "/api/v1/retention-policies/scan-results", map[string]any{"days": 365, "reason": "a year"})
	require.Equal(t, http.StatusAccepted, ans.status, "%s", ans.raw)
	ans = a.call(t, http.MethodPut, "/api/v1/retention-policies/scan-results", map[string]any{"days": 7})
	require.Equal(t, http.StatusBadRequest, ans.status, "%s", ans.raw)
	assert.Contains(t, string(ans.raw), `"field":"days"`)
	ans = a.call(t, http.MethodGet, "/api/v1/retention-policies", nil)
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.raw)
	var ps []retention.Policy
	require.NoError(t, json.Unmarshal(ans.env.Data, &ps))
	assert.Equal(t, 365, ps[0].Days)
	assert.Equal(t, "a year", ps[0].Reason)
}

package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/domain/access"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/datadir"
	"github.com/cspm-es/cspm-es/platform/parsers/legacy"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// legacySeed is the legacy platform's data the parser's tests read too:
// mongoexport files of every collection, in both Extended JSON modes and
// both file layouts, under the deprecated database name among others,
// with bad documents of every kind (docs/legacy-import.md).
var legacySeed = filepath.Join("..", "..", "platform", "parsers", "legacy", "testdata", "seed")

const legacyTeam = "team-legacy"

// legacyDirs are a data directory and an audit directory for the import.
func legacyEnv(t *testing.T) (config.Config, map[string]string) {
	t.Helper()
	cfg := testConfig(t)
	return cfg, map[string]string{"CSPM_DATA_DIR": cfg.DataDir, "CSPM_AUDIT_DIR": cfg.AuditDir}
}

func importLegacyRun(t *testing.T, env map[string]string, args ...string) (result, legacyReport) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	r := cspm(t, env, append([]string{"import-legacy", "--report", report}, args...)...)
	raw, err := os.ReadFile(report)
	require.NoError(t, err, "the report is written: %s", r.stderr)
	var rep legacyReport
	require.NoError(t, json.Unmarshal(raw, &rep))
	return r, rep
}

func kinds(rep legacyReport) map[string]legacyKind {
	out := map[string]legacyKind{}
	for _, k := range rep.Kinds {
		out[k.Kind] = *k
	}
	return out
}

func headPosition(t *testing.T, cfg config.Config) int64 {
	t.Helper()
	s, err := openEventStoreReadOnly(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer s.Close()
	head, err := s.HeadPosition(t.Context())
	require.NoError(t, err)
	return head
}

// TestImportLegacy_Idempotent: the first run imports what it can, reports
// every bad document with its reason and goes on; the second imports
// nothing, and the store's head does not move.
func TestImportLegacy_Idempotent(t *testing.T) {
	t.Parallel()
	cfg, env := legacyEnv(t)
	r, first := importLegacyRun(t, env, "--from-dir", legacySeed, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, "documents were skipped: exit 1\n%s\n%s", r.stdout, r.stderr)

	assert.Equal(t, map[string]legacyKind{
		"users":     {Kind: "users", Read: 4, Imported: 3, Skipped: 1},
		"accounts":  {Kind: "accounts", Read: 7, Imported: 4, Skipped: 2},
		"scan_runs": {Kind: "scan_runs", Read: 5, Imported: 3, Skipped: 2},
		"findings":  {Kind: "findings", Read: 8, Imported: 4, Skipped: 4},
	}, kinds(first))
	// users 3 + accounts 4 (+1 retire) + scans 3 requested, 3 started, 1 completed, 1 failed
	// + findings 4 raised, 1 resolved, 1 suppressed.
	assert.Equal(t, 3+5+8+6, first.Events)
	head := headPosition(t, cfg)
	assert.Equal(t, head, first.Position)
	assert.Contains(t, r.stdout, "database cspm_platform_core read as cspm_platform (deprecated name)")
	assert.Contains(t, r.stdout, "events appended: 22, through position 22")
	assert.Contains(t, r.stderr, `database name \"cspm_platform_core\" is deprecated`)

	reasons := map[string]string{}
	for _, p := range first.Skipped {
		reasons[p.Collection+"/"+p.ID] = p.Reason
		assert.NotEmpty(t, p.Reason)
	}
	assert.Len(t, first.Skipped, 9)
	assert.Equal(t, "email: missing", reasons["users/64b7f0a1c2d3e4f5a6b7c803"])
	assert.Contains(t, reasons["findings/64b7f4000000000000000006"], `scan run "no-such-scan" of team team-legacy was not imported`)
	assert.Contains(t, reasons["findings/64b7f4000000000000000005"], "apocalyptic")
	assert.Contains(t, r.stdout, "skipped cspm_cloud_security.findings[4] _id 64b7f4000000000000000005: severity")

	r, second := importLegacyRun(t, env, "--from-dir", legacySeed, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, "the same documents are skipped again")
	assert.Equal(t, map[string]legacyKind{
		"users":     {Kind: "users", Read: 4, Already: 3, Skipped: 1},
		"accounts":  {Kind: "accounts", Read: 7, Already: 4, Skipped: 2},
		"scan_runs": {Kind: "scan_runs", Read: 5, Already: 3, Skipped: 2},
		"findings":  {Kind: "findings", Read: 8, Already: 4, Skipped: 4},
	}, kinds(second))
	assert.Zero(t, second.Events)
	assert.Equal(t, head, headPosition(t, cfg), "the second run appends nothing")
	assert.Equal(t, first.Skipped, second.Skipped)

	// The chain holds.
	v := cspm(t, env, "events", "verify")
	assert.Equal(t, exitOK, v.code, "%s\n%s", v.stdout, v.stderr)
}

// TestImportLegacy_EventsCarryTheLegacyTimesAndTheMarker: the imported
// events are dated by the legacy documents and say they were imported
// (actor, route, the legacy document as correlation id).
func TestImportLegacy_EventsCarryTheLegacyTimesAndTheMarker(t *testing.T) {
	t.Parallel()
	cfg, env := legacyEnv(t)
	r, _ := importLegacyRun(t, env, "--from-dir", legacySeed)
	require.Equal(t, exitFailure, r.code, r.stderr)

	s, err := openEventStoreReadOnly(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer s.Close()
	codec, err := readCodec(cfg, slog.New(slog.DiscardHandler)) // opens the personal fields with the data directory's keyring
	require.NoError(t, err)

	id := csdomain.AccountID(legacyTeam, "aws", "123456789012")
	evs, err := s.ReadStream(t.Context(), csdomain.AccountStream(id), eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	md := evs[0].Metadata
	assert.Equal(t, legacyTeam, md.TeamID)
	assert.Equal(t, legacyActor, md.Actor)
	assert.Equal(t, legacyRoute, md.Route)
	assert.Equal(t, "legacy:cspm_cloud_security.cloud_accounts:64b7f1000000000000000001,cspm_cloud_security.enhanced_cloud_accounts:64b7f2000000000000000001", md.CorrelationID)
	v, err := codec.Decode(evs[0])
	require.NoError(t, err)
	reg := v.(csdomain.CloudAccountRegistered)
	assert.Equal(t, "production", reg.Name, "enhanced_cloud_accounts wins")
	assert.Equal(t, "Acme", reg.Organization, "cloud_accounts fills what it lacks")
	assert.Equal(t, map[string]string{"env": "production", "owner": "alice", "cost-center": "42"}, reg.Tags)
	assert.Equal(t, time.Date(2022, 3, 1, 10, 0, 0, 0, time.UTC), reg.RegisteredAt.UTC(), "the legacy creation time")

	gone := csdomain.AccountID(legacyTeam, "gcp", "acme-old-project")
	evs, err = s.ReadStream(t.Context(), csdomain.AccountStream(gone), eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, "CloudAccountRetired", evs[1].Type)

	uid := access.UserID(legacyTeam, "alice.owner@example.com")
	evs, err = s.ReadStream(t.Context(), access.UserStream(uid), eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.NotContains(t, string(evs[0].Data), "alice.owner@example.com", "the email is stored sealed (docs/privacy.md)")
	assert.NotContains(t, string(evs[0].Data), "Alice Owner", "the name too")
	v, err = codec.Decode(evs[0])
	require.NoError(t, err)
	u := v.(access.UserImported)
	assert.Equal(t, "Alice Owner", u.Name)
	assert.Equal(t, access.Admin, u.Role)
	assert.Equal(t, time.UnixMilli(1689776289000).UTC(), u.CreatedAt.UTC())
	assert.Equal(t, "legacy:cspm_platform.users:64b7f0a1c2d3e4f5a6b7c801", evs[0].Metadata.CorrelationID, "the deprecated database read as cspm_platform")
	// Carol names no team and no --team was given: skipped, and said so.
	r2, rep := importLegacyRun(t, env, "--from-dir", legacySeed, "--dry-run")
	require.Equal(t, exitFailure, r2.code)
	assert.True(t, slices.ContainsFunc(rep.Skipped, func(p legacy.Problem) bool {
		return p.ID == "64b7f0a1c2d3e4f5a6b7c804" && strings.Contains(p.Reason, "team_id: missing")
	}), "%+v", rep.Skipped)
}

// TestImportLegacy_FileLayouts: <collection>.json files (no database in
// the name) read as <db>.<collection>.json ones; an unknown collection's
// file is listed as ignored; a directory with none is a usage error.
func TestImportLegacy_FileLayouts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"cspm_cloud_security.enhanced_cloud_accounts.json": "enhanced_cloud_accounts.json",
		"cspm_platform_core.users.json":                    "cspm_platform_core.users.json",
	} {
		raw, err := os.ReadFile(filepath.Join(legacySeed, src))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, dst), raw, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cspm_platform.sessions.json"), []byte(`{"_id":"s"}`), 0o600))
	_, env := legacyEnv(t)
	r, rep := importLegacyRun(t, env, "--from-dir", dir, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, r.stderr)
	assert.Equal(t, []string{"cspm_platform.sessions.json"}, rep.Ignored)
	assert.Equal(t, 2, kinds(rep)["accounts"].Imported)
	assert.Equal(t, 3, kinds(rep)["users"].Imported)
	assert.Equal(t, []legacyDatabase{{Name: "cspm_platform_core", ReadAs: "cspm_platform", Deprecated: true}}, rep.Databases)

	empty := cspm(t, env, "import-legacy", "--from-dir", t.TempDir())
	assert.Equal(t, exitUsage, empty.code)
	assert.Contains(t, empty.stderr, "no mongoexport file of users, cloud_accounts")
	both := cspm(t, env, "import-legacy")
	assert.Equal(t, exitUsage, both.code)
	assert.Contains(t, both.stderr, "give one of --from-dir or --from-mongodb")
}

// TestImportLegacy_QueriesShowTheImport: a server started on the imported
// store shows the legacy accounts, scans and findings to the legacy team
// (and none of them to another team).
func TestImportLegacy_QueriesShowTheImport(t *testing.T) {
	t.Parallel()
	cfg, env := legacyEnv(t)
	// A first start (which issues the admin key of an empty store), then
	// the import with the server stopped, then the server again.
	first := fxtest.New(t, serveOptions(cfg, io.Discard))
	first.RequireStart()
	first.RequireStop()
	r, rep := importLegacyRun(t, env, "--from-dir", legacySeed)
	require.Equal(t, exitFailure, r.code, r.stderr)

	a := startApp(t, func(c *config.Config) { c.DataDir, c.AuditDir = cfg.DataDir, cfg.AuditDir })
	k := a.cli(t, nil, "keys", "create", "--team", legacyTeam, "--role", "viewer")
	require.Equal(t, exitOK, k.code, k.stderr)
	as := []string{"Authorization", "Bearer " + strings.TrimSpace(k.stdout)}
	at := "?min_position=" + itoa(rep.Position)

	var accounts []csquery.Account
	must(t, a.get(t, "/api/v1/accounts"+at, as...), http.StatusOK).data(t, &accounts)
	byUID := map[string]csquery.Account{}
	for _, acc := range accounts {
		byUID[acc.Provider+"/"+acc.UID] = acc
	}
	require.Len(t, byUID, 4, "%+v", accounts)
	assert.Equal(t, "production", byUID["aws/123456789012"].Name)
	assert.True(t, byUID["aws/123456789012"].Registered)
	assert.Equal(t, "retired", byUID["gcp/acme-old-project"].Status)
	assert.Equal(t, "azure-dev", byUID["azure/0b1f6471-1bf0-4dda-aec3-cb9272f09590"].Name)

	var scans orchquery.ScanList
	must(t, a.get(t, "/api/v1/scans"+at, as...), http.StatusOK).data(t, &scans.Items)
	status := map[string]int{}
	for _, s := range scans.Items {
		status[s.Status]++
		if s.Status == "completed" {
			assert.Equal(t, int64(312), s.ResourceCount)
			assert.Equal(t, time.Date(2024, 1, 10, 8, 20, 0, 0, time.UTC), s.CompletedAt.UTC(), "the legacy completion time")
		}
		if s.Status == "failed" {
			assert.Equal(t, "credentials expired", s.FailureReason)
		}
	}
	assert.Equal(t, map[string]int{"completed": 1, "failed": 1, "running": 1}, status)

	var findings []csquery.Finding
	must(t, a.get(t, "/api/v1/findings"+at+"&limit=100", as...), http.StatusOK).data(t, &findings)
	fs := map[string]string{}
	for _, f := range findings {
		fs[f.CheckID] = f.Status
	}
	assert.Equal(t, map[string]string{
		"s3_bucket_public_access": "open", "iam_root_mfa": "resolved",
		"ec2_sg_open_22": "suppressed", "cloudtrail_enabled": "open",
	}, fs)

	// The server's own team sees none of it.
	var none []csquery.Account
	must(t, a.get(t, "/api/v1/accounts"+at), http.StatusOK).data(t, &none)
	assert.Empty(t, none)
}

// TestImportLegacy_RefusedBesideARunningServer: the import appends to the
// store directly: refused while a server owns the data directory.
func TestImportLegacy_RefusedBesideARunningServer(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil) // in process: the app does not take the lock itself
	lock, err := datadir.Acquire(a.cfg.DataDir, "cspm serve --roles api,relay,projector --http-addr test")
	require.NoError(t, err)
	defer lock.Release()
	head, err := a.store.HeadPosition(t.Context())
	require.NoError(t, err)
	r := a.cli(t, nil, "import-legacy", "--from-dir", legacySeed)
	assert.Equal(t, exitFailure, r.code, r.stdout)
	assert.Contains(t, r.stderr, "in use by pid")
	assert.Contains(t, r.stderr, "stop it first")
	after, err := a.store.HeadPosition(t.Context())
	require.NoError(t, err)
	assert.Equal(t, head, after, "nothing appended")
}

func TestRedactURI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"mongodb://u:secret@h:27017/db?authSource=admin": "mongodb://u:***@h:27017/db?authSource=admin",
		"mongodb://h:27017/":                             "mongodb://h:27017/",
		"mongodb+srv://u@cluster.example":                "mongodb+srv://u:***@cluster.example",
	} {
		assert.Equal(t, want, redactURI(in))
	}
}

// TestImportLegacy_ChangedDocumentIsNotRewritten: a document changed since
// its import is refused and listed on the next run; history is not
// rewritten.
func TestImportLegacy_ChangedDocumentIsNotRewritten(t *testing.T) {
	t.Parallel()
	cfg, env := legacyEnv(t)
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(legacySeed, "*.json"))
	require.NoError(t, err)
	for _, p := range files {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(p)), raw, 0o600))
	}
	r, _ := importLegacyRun(t, env, "--from-dir", dir, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, r.stderr)
	head := headPosition(t, cfg)

	path := filepath.Join(dir, "cspm_cloud_security.enhanced_cloud_accounts.json")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(raw), `"name": "production"`, `"name": "renamed since"`, 1)), 0o600))
	r, rep := importLegacyRun(t, env, "--from-dir", dir, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, r.stderr)
	assert.Equal(t, head, headPosition(t, cfg))
	assert.Equal(t, legacyKind{Kind: "accounts", Read: 7, Already: 3, Skipped: 3}, kinds(rep)["accounts"])
	assert.True(t, slices.ContainsFunc(rep.Skipped, func(p legacy.Problem) bool {
		return p.ID == "64b7f2000000000000000001" && strings.Contains(p.Reason, "idempotency key reused with different content")
	}), "%+v", rep.Skipped)
}

// TestImportLegacy_ImportedInPart: a finding whose resolution the domain
// refuses (resolved before it was first seen) is raised, counted as
// imported, and listed with what was not imported; a finding of a failed
// scan is skipped with the rule's reason.
func TestImportLegacy_ImportedInPart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	write("scan_runs.json", `{"_id":"r1","team_id":"t","account_id":"1","tool":"prowler","status":"completed","created_at":{"$date":"2024-01-01T00:00:00Z"},"completed_at":{"$date":"2024-01-01T01:00:00Z"}}
{"_id":"r2","team_id":"t","account_id":"1","tool":"prowler","status":"failed","created_at":{"$date":"2024-01-02T00:00:00Z"}}
`)
	write("findings.json", `{"_id":"f1","team_id":"t","scan_id":"r1","check_id":"c","title":"T","severity":"low","resource_id":"r","status":"resolved","first_seen":{"$date":"2024-01-01T00:30:00Z"},"resolved_at":{"$date":"2023-01-01T00:00:00Z"}}
{"_id":"f2","team_id":"t","scan_id":"r2","check_id":"c","title":"T","severity":"low","resource_id":"r","status":"open","first_seen":{"$date":"2024-01-02T00:30:00Z"}}
`)
	_, env := legacyEnv(t)
	r, rep := importLegacyRun(t, env, "--from-dir", dir)
	require.Equal(t, exitFailure, r.code, r.stderr)
	assert.Equal(t, legacyKind{Kind: "findings", Read: 2, Imported: 1, Skipped: 1}, kinds(rep)["findings"])
	require.Len(t, rep.Skipped, 2, "%+v", rep.Skipped)
	assert.Equal(t, "f1", rep.Skipped[0].ID)
	assert.Contains(t, rep.Skipped[0].Reason, "imported in part: resolve not imported: ")
	assert.Equal(t, "f2", rep.Skipped[1].ID)
	assert.Contains(t, rep.Skipped[1].Reason, "findings need a running or completed scan")
}

package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to tamper with the store

	"github.com/cspm-es/cspm-es/eventstore"
)

// TestE2E builds cspm once and runs the scenarios against that binary.
func TestE2E(t *testing.T) {
	bin := buildCSPM(t)
	t.Run("help", func(t *testing.T) { testHelp(t, bin) })
	t.Run("db list", func(t *testing.T) { testDBList(t, bin) })
	t.Run("scan lifecycle, audit and tampering", func(t *testing.T) { testScanLifecycle(t, bin) })
}

func testHelp(t *testing.T, bin string) {
	r := runCLI(t, bin, cleanEnv(), "help")
	assert.Equal(t, 0, r.code, r.stderr)
	for _, cmd := range []string{"serve", "db list", "events replay", "events export", "events verify", "projections list", "projections status", "projections rebuild", "projections retry-parked"} {
		assert.Contains(t, r.stdout, cmd)
	}
	r = runCLI(t, bin, cleanEnv(), "nope")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown command "nope"`)
}

func testDBList(t *testing.T, bin string) {
	r := runCLI(t, bin, cleanEnv(), "db", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 16, r.stdout)
	assert.Regexp(t, `^CONSTANT\s+NAME\s+SIDE\s+PURPOSE$`, lines[0])
	want := []string{
		"EVENTS cspm_events", "PLATFORM cspm_platform", "CLOUD_SECURITY cspm_cloud_security",
		"CLOUD_ASSETS cspm_cloud_assets", "ORCHESTRATION cspm_orchestration",
		"VULNERABILITIES cspm_vulnerabilities", "RISK_MANAGEMENT cspm_risk_management",
		"ASSESSMENTS cspm_assessments", "CONTAINER_REGISTRY cspm_container_registries",
		"SECURITY_SCANS cspm_security_scans", "THREAT_INTELLIGENCE cspm_threat_intelligence",
		"AI_GOVERNANCE cspm_ai_governance", "INTEGRATIONS cspm_integrations",
		"KNOWLEDGE_BASE cspm_knowledge_base", "BIA cspm_bia",
	}
	for i, w := range want {
		assert.Equal(t, w, strings.Join(strings.Fields(lines[i+1])[:2], " "), "row %d: %s", i+1, lines[i+1])
	}

	r = runCLI(t, bin, cleanEnv("CSPM_DB_PREFIX=acme_"), "db", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var entries []struct {
		Constant    string `json:"constant"`
		Name        string `json:"name"`
		DefaultName string `json:"default_name"`
		Purpose     string `json:"purpose"`
		Side        string `json:"side"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &entries))
	require.Len(t, entries, 15)
	for _, e := range entries {
		assert.Equal(t, "acme_"+e.DefaultName, e.Name)
		assert.NotEmpty(t, e.Purpose)
	}
	assert.Equal(t, "EVENTS", entries[0].Constant)
	assert.Equal(t, "write", entries[0].Side)

	r = runCLI(t, bin, cleanEnv("CSPM_DB_PREFIX=ACME"), "db", "list")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "invalid configuration")
}

func testScanLifecycle(t *testing.T, bin string) {
	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR=" + dataDir)
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s")
	srv.waitReady(t)

	// Bad input appends nothing and is answered 400.
	bad := srv.post(t, "/api/v1/scans", map[string]any{"account_id": "", "provider": "aws", "tool": "prowler"}, 400)
	assert.False(t, bad.Success)

	var accepted struct {
		StreamID string `json:"stream_id"`
		Version  int64  `json:"version"`
		Position int64  `json:"position"`
	}
	created := srv.post(t, "/api/v1/scans", map[string]any{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}, 201)
	require.NoError(t, json.Unmarshal(created.Data, &accepted))
	require.True(t, strings.HasPrefix(accepted.StreamID, "scan-"), accepted.StreamID)
	scanID := strings.TrimPrefix(accepted.StreamID, "scan-")
	assert.EqualValues(t, 2, accepted.Position, "the 400 appended nothing (position 1 is the first start's admin key)")

	srv.post(t, "/api/v1/scans/"+scanID+"/start", nil, 202)

	raised := srv.post(t, "/api/v1/scans/"+scanID+"/findings", map[string]any{"findings": []map[string]any{
		{"check_id": "s3_bucket_public_access", "title": "S3 bucket is public", "severity": "high", "resource_id": "arn:aws:s3:::e2e-bucket", "region": "eu-west-1"},
		{"check_id": "iam_root_mfa", "title": "Root account without MFA", "severity": "critical", "resource_id": "arn:aws:iam::123456789012:root"},
		{"check_id": "ec2_sg_open_22", "title": "Security group open to the world on 22", "severity": "medium", "resource_id": "sg-0123"},
	}}, 202)
	var batch struct {
		Items []struct {
			StreamID string `json:"stream_id"`
			Position int64  `json:"position"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(raised.Data, &batch))
	require.Len(t, batch.Items, 3)
	findingPosition := batch.Items[1].Position

	completed := srv.post(t, "/api/v1/scans/"+scanID+"/complete", map[string]any{"resource_count": 17}, 202)
	head := completed.Meta.Position
	require.Positive(t, head)

	// A rule violation is a 422 and appends nothing either.
	srv.post(t, "/api/v1/scans/"+scanID+"/start", nil, 422)

	// Read your writes: the query waits for the projections to pass head.
	a, err := getOK(context.Background(), fmt.Sprintf("%s/api/v1/scans/%s?min_position=%d", srv.base, scanID, head))
	require.NoError(t, err)
	assert.False(t, a.env.Meta.Stale)
	var scan struct {
		Status   string `json:"status"`
		Findings struct {
			Total      int64            `json:"total"`
			BySeverity map[string]int64 `json:"by_severity"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(a.env.Data, &scan))
	assert.Equal(t, "completed", scan.Status)
	assert.EqualValues(t, 3, scan.Findings.Total)
	assert.Equal(t, map[string]int64{"critical": 1, "high": 1, "medium": 1, "low": 0, "informational": 0}, scan.Findings.BySeverity)

	// The projections CLI talks to the running server.
	r := runCLI(t, bin, env, "projections", "status", "--server", srv.base)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, fmt.Sprintf(`platform\.dashboard\s+running\s+-\s+%d\s+%d\s+%d\s+0\s`, head, head, head), r.stdout) // OWNER: - (one process)
	r = runCLI(t, bin, env, "projections", "rebuild", "orchestration.scan_summaries", "--server", srv.base)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "orchestration.scan_summaries\tdone: ")

	assert.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "clean exit on SIGTERM; logs:\n%s", srv.logs)
	assert.Contains(t, srv.logs.String(), `"msg":"stopped"`)

	r = runCLI(t, bin, env, "events", "verify")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	// The streams: the first start's admin key, the scan, its findings.
	assert.Contains(t, r.stdout, fmt.Sprintf("OK: %d events in %d streams verified", head, 2+len(batch.Items)))

	r = runCLI(t, bin, env, "events", "replay", "--stream", accepted.StreamID, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var replay struct {
		StreamID string                     `json:"stream_id"`
		Events   []eventstore.RecordedEvent `json:"events"`
		State    map[string]any             `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &replay), r.stdout)
	assert.Equal(t, accepted.StreamID, replay.StreamID)
	require.NotEmpty(t, replay.Events)
	assert.Equal(t, "ScanRequested", replay.Events[0].Type)
	assert.Equal(t, "ScanCompleted", replay.Events[len(replay.Events)-1].Type)
	assert.Equal(t, "completed", replay.State["status"], "state: %v", replay.State)

	r = runCLI(t, bin, env, "events", "replay", "--stream", accepted.StreamID, "--version", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"status": "running"`)

	r = runCLI(t, bin, env, "events", "export")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, int(head), "one line per event")
	for i, line := range lines {
		var e eventstore.RecordedEvent
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		assert.EqualValues(t, i+1, e.Position)
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash, "line %d re-hashes to its hash", i+1)
		assert.Equal(t, "default", e.Metadata.TeamID, "team from configuration")
	}

	// Tamper with one finding's stored data, as someone with file access could.
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "cspm_events.sqlite"))
	require.NoError(t, err)
	res, err := db.Exec(`UPDATE events SET data = json_set(data, '$.severity', 'low') WHERE position = ?`, findingPosition)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var streamID, eventID string
	// A UUID event id is stored as its 16 bytes (docs/event-store-sqlite.md, "Stored forms").
	require.NoError(t, db.QueryRow(`SELECT stream_id, CASE typeof(event_id) WHEN 'blob' THEN lower(substr(hex(event_id), 1, 8) || '-' || substr(hex(event_id), 9, 4) || '-' ||
		substr(hex(event_id), 13, 4) || '-' || substr(hex(event_id), 17, 4) || '-' || substr(hex(event_id), 21)) ELSE event_id END
		FROM events WHERE position = ?`, findingPosition).Scan(&streamID, &eventID))
	require.NoError(t, db.Close())

	r = runCLI(t, bin, env, "events", "verify")
	assert.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("first broken link at position %d: stream %s version 1, event %s:", findingPosition, streamID, eventID))
}

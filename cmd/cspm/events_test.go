package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

// seeded is a data dir holding one scan's lifecycle: requested, started,
// two findings raised, completed.
type seeded struct {
	dir      string
	stream   string
	head     int64       // last global position
	recorded []time.Time // recorded_at of the scan stream's events (the store's clock), by version-1
	findings []string
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func seed(t *testing.T) seeded {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, dbregistry.MustNew("").SQLiteFile(dir, dbregistry.EVENTS), sqlite.Options{Synchronous: "normal"})
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()

	now := t0
	clock := func() time.Time { return now }
	kit := commands.NewKit(store, eventstore.NewDomainCodec(), clock)
	scans, findings := orchcmd.New(kit), cscmd.New(kit)
	meta := commands.Meta{TeamID: "team-a", Actor: "tester"}
	s := seeded{dir: dir}

	res, err := scans.RequestScan(ctx, meta, orchcmd.RequestScan{ScanID: "s1", AccountID: "123456789012", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	s.stream = res.StreamID

	now = now.Add(time.Minute)
	_, err = scans.StartScan(ctx, meta, orchcmd.StartScan{ScanID: "s1"})
	require.NoError(t, err)

	now = now.Add(time.Minute)
	batch, err := findings.RaiseFindings(ctx, meta, cscmd.RaiseFindings{ScanID: "s1", Findings: []cscmd.FindingInput{
		{CheckID: "s3_public", Title: "S3 bucket is public", Severity: "high", ResourceID: "arn:aws:s3:::b1"},
		{CheckID: "iam_root_mfa", Title: "Root account without MFA", Severity: "critical", ResourceID: "arn:aws:iam::123456789012:root"},
	}})
	require.NoError(t, err)
	for _, it := range batch.Items {
		s.findings = append(s.findings, it.StreamID)
	}

	now = now.Add(time.Minute)
	res, err = scans.CompleteScan(ctx, meta, orchcmd.CompleteScan{ScanID: "s1", ResourceCount: 42})
	require.NoError(t, err)
	s.head = res.Position

	// recorded_at is the store's clock, not the command's.
	events, err := store.ReadStream(ctx, s.stream, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	for _, e := range events {
		s.recorded = append(s.recorded, e.RecordedAt)
	}
	return s
}

func TestEventsVerify_Intact(t *testing.T) {
	t.Parallel()
	s := seed(t)
	r := cspm(t, nil, "events", "verify", "--data-dir", s.dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^OK: \d+ events in \d+ streams verified`, r.stdout)
	assert.Contains(t, r.stdout, "OK: "+itoa(s.head)+" events in "+itoa(int64(1+len(s.findings)))+" streams")
	assert.Empty(t, r.stderr, "no progress bar when stderr is not a terminal")
}

// Invariant 7: a changed, deleted or reordered stored event is named.
func TestEventsVerify_Tampered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper string // SQL; ?1 is the scan stream id
		// where the first broken link must be reported
		wantPosition int64
	}{
		{
			name:         "changed data",
			tamper:       `UPDATE events SET data = json_set(data, '$.tool', 'nmap') WHERE stream_id = ?1 AND version = 1`,
			wantPosition: 1,
		},
		{
			name:         "changed metadata",
			tamper:       `UPDATE events SET metadata = '{"team_id":"team-b"}' WHERE stream_id = ?1 AND version = 2`,
			wantPosition: 2,
		},
		{
			name:         "deleted event",
			tamper:       `DELETE FROM events WHERE stream_id = ?1 AND version = 2`,
			wantPosition: 2,
		},
		{
			name: "reordered events",
			tamper: `UPDATE events SET data = CASE version
				WHEN 1 THEN (SELECT data FROM events WHERE stream_id = ?1 AND version = 2)
				ELSE (SELECT data FROM events WHERE stream_id = ?1 AND version = 1) END
				WHERE stream_id = ?1 AND version IN (1, 2)`,
			wantPosition: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := seed(t)
			db, err := sql.Open("sqlite", dbregistry.MustNew("").SQLiteFile(s.dir, dbregistry.EVENTS))
			require.NoError(t, err)
			res, err := db.Exec(tt.tamper, s.stream)
			require.NoError(t, err)
			n, err := res.RowsAffected()
			require.NoError(t, err)
			require.Positive(t, n, "the tampering changed something")
			require.NoError(t, db.Close())

			r := cspm(t, nil, "events", "verify", "--data-dir", s.dir)
			assert.Equal(t, exitFailure, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "BROKEN: first broken link at position "+itoa(tt.wantPosition)+": ")
		})
	}
}

func TestEventsVerify_NamesTheLink(t *testing.T) {
	t.Parallel()
	s := seed(t)
	db, err := sql.Open("sqlite", dbregistry.MustNew("").SQLiteFile(s.dir, dbregistry.EVENTS))
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE events SET data = json_set(data, '$.tool', 'nmap') WHERE stream_id = ? AND version = 1`, s.stream)
	require.NoError(t, err)
	var pos int64
	var id string
	// A UUID event id is stored as its 16 bytes (docs/event-store-sqlite.md, "Stored forms").
	require.NoError(t, db.QueryRow(`SELECT position, CASE typeof(event_id) WHEN 'blob' THEN lower(substr(hex(event_id), 1, 8) || '-' || substr(hex(event_id), 9, 4) || '-' ||
		substr(hex(event_id), 13, 4) || '-' || substr(hex(event_id), 17, 4) || '-' || substr(hex(event_id), 21)) ELSE event_id END
		FROM events WHERE stream_id = ? AND version = 1`, s.stream).Scan(&pos, &id))
	require.NoError(t, db.Close())

	r := cspm(t, nil, "events", "verify", "--data-dir", s.dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stdout, "BROKEN: first broken link at position "+itoa(pos)+": stream "+s.stream+" version 1, event "+id+":")
}

func TestEventsReplay_Text(t *testing.T) {
	t.Parallel()
	s := seed(t)
	r := cspm(t, nil, "events", "replay", "--stream", s.stream, "--data-dir", s.dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(r.stdout, "\n")
	assert.Equal(t, "stream "+s.stream+" (ScanRun): 3 events", lines[0])
	assert.Regexp(t, `^VERSION\s+POSITION\s+RECORDED AT\s+TYPE\s+SCHEMA\s+ACTOR\s+DATA$`, lines[1])
	at := func(v int) string { return s.recorded[v-1].UTC().Format("2006-01-02T15:04:05.000Z") }
	assert.Regexp(t, `^1\s+1\s+`+at(1)+`\s+ScanRequested\s+v1\s+tester\s+\{.*"tool":"prowler"`, lines[2])
	assert.Regexp(t, `^2\s+2\s+`+at(2)+`\s+ScanStarted\s+v1\s+tester\s+\{.*"started_at":"2025-06-01T12:01:00Z"`, lines[3])
	assert.Regexp(t, `^3\s+\d+\s+`+at(3)+`\s+ScanCompleted\s+`, lines[4])
	assert.Contains(t, r.stdout, "\nstate at version 3:\n{")
	assert.Contains(t, r.stdout, `"status": "completed"`)
}

func TestEventsReplay_JSONAsOf(t *testing.T) {
	t.Parallel()
	s := seed(t)
	statusAt := []string{1: "requested", 2: "running", 3: "completed"}
	// Events recorded at or before t (appends may share a millisecond).
	versionAt := func(t time.Time) int64 {
		var n int64
		for _, r := range s.recorded {
			if !r.After(t) {
				n++
			}
		}
		return n
	}
	start := s.recorded[1]
	tests := []struct {
		name        string
		args        []string
		wantVersion int64
	}{
		{"whole stream", nil, 3},
		{"up to version 1", []string{"--version", "1"}, 1},
		{"up to version 2", []string{"--version", "2"}, 2},
		{"as of the start", []string{"--as-of", start.Format(time.RFC3339Nano)}, versionAt(start)},
		{"as of the request", []string{"--as-of", s.recorded[0].Format(time.RFC3339Nano)}, versionAt(s.recorded[0])},
		{"as of later", []string{"--as-of", s.recorded[2].Add(time.Hour).Format(time.RFC3339)}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"events", "replay", "--json", "--stream", s.stream, "--data-dir", s.dir}, tt.args...)
			r := cspm(t, nil, args...)
			require.Equal(t, exitOK, r.code, r.stderr)
			var out struct {
				StreamID string                     `json:"stream_id"`
				Version  int64                      `json:"version"`
				Events   []eventstore.RecordedEvent `json:"events"`
				State    map[string]any             `json:"state"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
			assert.Equal(t, s.stream, out.StreamID)
			assert.Equal(t, tt.wantVersion, out.Version)
			assert.Len(t, out.Events, int(tt.wantVersion))
			assert.Equal(t, statusAt[tt.wantVersion], out.State["status"], "state: %v", out.State)
		})
	}
}

func TestEventsReplay_NothingToShow(t *testing.T) {
	t.Parallel()
	s := seed(t)
	r := cspm(t, nil, "events", "replay", "--stream", "scan-nope", "--data-dir", s.dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, `stream "scan-nope" has no events`)

	r = cspm(t, nil, "events", "replay", "--stream", s.stream, "--as-of", "2020-01-01T00:00:00Z", "--data-dir", s.dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "has no events as of 2020-01-01T00:00:00Z")
}

func TestEventsExport(t *testing.T) {
	t.Parallel()
	s := seed(t)

	r := cspm(t, nil, "events", "export", "--data-dir", s.dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	events := parseJSONL(t, r.stdout)
	require.Len(t, events, int(s.head))
	for i, e := range events {
		assert.Equal(t, int64(i+1), e.Position)
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash, "an exported envelope still hashes to its hash")
		assert.Equal(t, "team-a", e.Metadata.TeamID)
	}

	r = cspm(t, nil, "events", "export", "--from-position", "2", "--to-position", "3", "--data-dir", s.dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	sub := parseJSONL(t, r.stdout)
	require.Len(t, sub, 2)
	assert.Equal(t, events[1:3], sub)

	r = cspm(t, nil, "events", "export", "--from-position", "99", "--data-dir", s.dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stdout)

	out := filepath.Join(t.TempDir(), "events.jsonl")
	r = cspm(t, nil, "events", "export", "--out", out, "--data-dir", s.dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "exported "+itoa(s.head)+" events (positions 1.."+itoa(s.head)+") to "+out)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, events, parseJSONL(t, string(raw)))
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.tmp"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)

	r = cspm(t, nil, "events", "export", "--out", filepath.Join(t.TempDir(), "missing", "x.jsonl"), "--data-dir", s.dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "create ")
}

func parseJSONL(t *testing.T, s string) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var e eventstore.RecordedEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		out = append(out, e)
	}
	require.NoError(t, sc.Err())
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

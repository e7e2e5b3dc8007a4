package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

type result struct {
	code   int
	stdout string
	stderr string
}

// cspm runs the CLI in process with the given environment.
// testAuditDirs holds each test's audit directory (CSPM_AUDIT_DIR of its
// cspm calls, unless the test sets it): one per test, so that commands of
// one test share the audit key, and never the user's config dir.
var testAuditDirs sync.Map

func testAuditDir(t *testing.T) string {
	if dir, ok := testAuditDirs.Load(t); ok {
		return dir.(string)
	}
	dir := t.TempDir()
	testAuditDirs.Store(t, dir)
	t.Cleanup(func() { testAuditDirs.Delete(t) })
	return dir
}

func cspm(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	auditDir := testAuditDir(t)
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		if !ok && k == "CSPM_AUDIT_DIR" {
			return auditDir, true
		}
		return v, ok
	}
	code := run(context.Background(), args, &stdout, &stderr, lookup)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "help", args: []string{"help"}, wantStdout: []string{"Usage: cspm <command>", "serve", "db list", "events replay", "events export", "events verify", "projections rebuild", "cspm help <command>"}},
		{name: "-h", args: []string{"-h"}, wantStdout: []string{"Usage: cspm <command>"}},
		{name: "--help", args: []string{"--help"}, wantStdout: []string{"Usage: cspm <command>"}},
		{name: "no command", args: nil, wantCode: exitUsage, wantStderr: []string{"Usage: cspm <command>"}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantStderr: []string{`unknown command "frobnicate"`, "cspm -h"}},
		{name: "flag before command", args: []string{"--data-dir", "x", "serve"}, wantCode: exitUsage, wantStderr: []string{"flag --data-dir given before a command"}},
		{name: "help serve", args: []string{"help", "serve"}, wantStdout: []string{"Usage: cspm serve [flags]", "-http-addr", "CSPM_HTTP_ADDR", "-shutdown-timeout", "SIGTERM"}},
		{name: "serve -h", args: []string{"serve", "-h"}, wantStdout: []string{"Usage: cspm serve [flags]"}},
		{name: "help worker", args: []string{"help", "worker"}, wantStdout: []string{"Usage: cspm worker [flags]", "-worker-tools", "CSPM_WORKER_SLOTS", "--nats-url"}},
		{name: "worker without nats", args: []string{"worker"}, wantCode: exitUsage, wantStderr: []string{"--nats-url / CSPM_NATS_URL: required for a worker"}},
		{name: "worker with other roles", args: []string{"worker", "--roles", "api", "--nats-url", "nats://127.0.0.1:1"}, wantCode: exitUsage, wantStderr: []string{"runs the worker role only"}},
		{name: "db group", args: []string{"db"}, wantCode: exitUsage, wantStderr: []string{"Usage: cspm db <command>", "list"}},
		{name: "db -h", args: []string{"db", "-h"}, wantStdout: []string{"Usage: cspm db <command>"}},
		{name: "help db list", args: []string{"help", "db", "list"}, wantStdout: []string{"Usage: cspm db list [flags]", "-json", "-db-prefix", "CSPM_DB_PREFIX"}},
		{name: "events group", args: []string{"events", "--help"}, wantStdout: []string{"Usage: cspm events <command>", "replay", "export", "verify"}},
		{name: "events replay -h", args: []string{"events", "replay", "-h"}, wantStdout: []string{"Usage: cspm events replay --stream ID [--as-of RFC3339 | --version N] [flags]", "-as-of", "-data-dir"}},
		{name: "events export -h", args: []string{"events", "export", "-h"}, wantStdout: []string{"-from-position", "-to-position", "-out"}},
		{name: "events verify -h", args: []string{"events", "verify", "-h"}, wantStdout: []string{"first broken link"}},
		{name: "unknown flag", args: []string{"db", "list", "--nope"}, wantCode: exitUsage, wantStderr: []string{"cspm db list: flag provided but not defined: -nope", "Run 'cspm db list -h'"}},
		{name: "flag of another command", args: []string{"db", "list", "--http-addr", ":1"}, wantCode: exitUsage, wantStderr: []string{"not defined: -http-addr"}},
		{name: "projections group", args: []string{"projections", "-h"}, wantStdout: []string{"Usage: cspm projections <command>", "list", "status", "rebuild", "retry-parked", "skip-parked", "--server"}},
		{name: "projections rebuild -h", args: []string{"projections", "rebuild", "-h"}, wantStdout: []string{"Usage: cspm projections rebuild NAME|--all [flags]", "-all", "-server", "-http-addr", "Ctrl-C cancels"}},
		{name: "stray argument", args: []string{"events", "verify", "extra"}, wantCode: exitUsage, wantStderr: []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cspm(t, nil, tt.args...)
			assert.Equal(t, tt.wantCode, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			for _, w := range tt.wantStdout {
				assert.Contains(t, r.stdout, w)
			}
			for _, w := range tt.wantStderr {
				assert.Contains(t, r.stderr, w)
			}
		})
	}
}

func TestInvalidConfiguration_ListsEveryProblem(t *testing.T) {
	t.Parallel()
	r := cspm(t, map[string]string{"CSPM_STORE": "mongo"},
		"serve", "--http-addr", "localhost", "--log-level", "loud", "--data-dir", t.TempDir())
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "cspm serve: invalid configuration:\n")
	assert.Contains(t, r.stderr, "  - --log-level=loud: unknown level")
	assert.Contains(t, r.stderr, "  - --mongodb-uri / CSPM_MONGODB_URI: required when the store is mongo")
	assert.Contains(t, r.stderr, "  - --http-addr / CSPM_HTTP_ADDR: \"localhost\": want host:port")
	assert.Empty(t, r.stdout)
}

func TestDBList(t *testing.T) {
	t.Parallel()
	r := cspm(t, nil, "db", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 16, "header + events + 14 module databases:\n%s", r.stdout)
	assert.Regexp(t, `^CONSTANT\s+NAME\s+SIDE\s+PURPOSE$`, lines[0])
	assert.Regexp(t, `^EVENTS\s+cspm_events\s+write\s+the event store`, lines[1])
	assert.Regexp(t, `^CONTAINER_REGISTRY\s+cspm_container_registries\s+read\s+registries`, lines[9])
	assert.Regexp(t, `^BIA\s+cspm_bia\s+read\s+business impact analyses`, lines[15])
}

func TestDBList_JSONWithPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"env", map[string]string{"CSPM_DB_PREFIX": "acme_"}, []string{"db", "list", "--json"}},
		{"flag over env", map[string]string{"CSPM_DB_PREFIX": "other_"}, []string{"db", "list", "--json", "--db-prefix=acme_"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cspm(t, tc.env, tc.args...)
			require.Equal(t, exitOK, r.code, r.stderr)
			var entries []dbregistry.Entry
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &entries))
			require.Len(t, entries, 15)
			assert.Equal(t, dbregistry.PLATFORM, entries[1].Constant)
			assert.Equal(t, "acme_cspm_platform", entries[1].Name)
			assert.Equal(t, "cspm_platform", entries[1].DefaultName)
			assert.Equal(t, dbregistry.Read, entries[1].Side)
		})
	}
}

func TestDBList_BadPrefix(t *testing.T) {
	t.Parallel()
	r := cspm(t, map[string]string{"CSPM_DB_PREFIX": "Acme."}, "db", "list")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--db-prefix / CSPM_DB_PREFIX: invalid database name: prefix \"Acme.\"")
}

func TestEvents_NoStoreYet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"events", "verify"},
		{"events", "export"},
		{"events", "replay", "--stream", "scan-x"},
	} {
		r := cspm(t, nil, append(args, "--data-dir", dir)...)
		assert.Equal(t, exitFailure, r.code, "%v", args)
		assert.Contains(t, r.stderr, "no event store at "+dir, "%v", args)
	}
	assert.NoFileExists(t, dbregistry.MustNew("").SQLiteFile(dir, dbregistry.EVENTS), "read-only commands create nothing")
}

func TestEventsReplay_FlagErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"events", "replay"}, "--stream is required"},
		{[]string{"events", "replay", "--stream", "s", "--as-of", "yesterday"}, `--as-of "yesterday": want RFC 3339`},
		{[]string{"events", "replay", "--stream", "s", "--as-of", "2025-01-01T00:00:00Z", "--version", "2"}, "not both"},
		{[]string{"events", "replay", "--stream", "s", "--version", "-1"}, "--version must be positive"},
		{[]string{"events", "export", "--from-position", "0"}, "--from-position must be at least 1"},
		{[]string{"events", "export", "--from-position", "5", "--to-position", "4"}, "--to-position 4 is before --from-position 5"},
	}
	for _, tt := range tests {
		r := cspm(t, nil, append(tt.args, "--data-dir", dir)...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", tt.args, r.stderr)
		assert.Contains(t, r.stderr, tt.want, "%v", tt.args)
	}
}

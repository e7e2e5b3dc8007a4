package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
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
	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/config"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// secretsOf are the strings of a key that must never be stored or logged:
// the key and its secret.
func secretsOf(t *testing.T, key string) []string {
	t.Helper()
	_, secret, err := access.ParseToken(key)
	require.NoError(t, err, "%q is not a key", key)
	return []string{key, secret}
}

// TestAPIKeys_NoSecretAnywhere: the first start's key, a key created over
// HTTP and one created with the CLI all work; none of them (nor their
// secrets) is in the logs, in any stored event, or in any file of the data
// directory except admin.key.
func TestAPIKeys_NoSecretAnywhere(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	boot := adminKey(t, a.cfg.DataDir)
	as := func(key string) []string { return []string{"Authorization", "Bearer " + key} }

	// Over HTTP, with the first start's key.
	var created api.KeyCreated
	ans := must(t, a.call(t, http.MethodPost, "/api/v1/keys", map[string]any{"name": "ci", "role": "analyst"}, as(boot)...), http.StatusCreated)
	ans.data(t, &created)
	assert.Equal(t, a.cfg.DefaultTeam, created.TeamID)
	must(t, a.call(t, http.MethodPost, "/api/v1/scans", map[string]any{"account_id": "123456789012", "provider": "aws", "tool": "prowler"}, as(created.Key)...), http.StatusCreated)

	// With the CLI, beside the running server, for another team.
	r := a.cli(t, nil, "keys", "create", "--team", "team-x", "--role", "viewer", "--name", "reporting")
	require.Equal(t, exitOK, r.code, r.stderr)
	cliKey := strings.TrimSpace(r.stdout)
	cliID, _, err := access.ParseToken(cliKey)
	require.NoError(t, err, "stdout is the key alone: %q", r.stdout)
	assert.Contains(t, r.stderr, "API key "+cliID+" created: team team-x, role viewer")
	ans = must(t, a.call(t, http.MethodGet, "/api/v1/scans", nil, as(cliKey)...), http.StatusOK)
	assert.Equal(t, "[]", string(ans.env.Data), "team-x sees none of the default team's scans")

	// The list: the caller's team only, never a secret.
	ans = must(t, a.call(t, http.MethodGet, fmt.Sprintf("/api/v1/keys?min_position=%d", created.Position), nil, as(boot)...), http.StatusOK)
	var list []platformquery.APIKey
	ans.data(t, &list)
	require.Len(t, list, 2, "%s", ans.raw)
	assert.Equal(t, created.ID, list[0].ID)
	assert.Equal(t, "first-start admin", list[1].Name)
	assert.Equal(t, "system:first-start", list[1].IssuedBy)
	for _, word := range []string{"salt", "hash", `"key"`} {
		assert.NotContains(t, string(ans.raw), word)
	}

	// Revoke the HTTP key with the CLI: the server refuses it within the
	// authenticator's TTL (another process revoked it).
	r = a.cli(t, nil, "keys", "revoke", created.ID, "--reason", "rotated")
	require.Equal(t, exitOK, r.code, r.stderr)
	revokedAt := time.Now()
	eventually(t, 5*time.Second, "the revoked key is refused", func() bool {
		return a.call(t, http.MethodGet, "/api/v1/scans", nil, as(created.Key)...).status == http.StatusUnauthorized
	})
	assert.Less(t, time.Since(revokedAt), 3*time.Second, "within the 1s TTL (and some slack)")

	// Revoke the CLI key over HTTP: it is team-x's, so the default team's
	// admin does not find it; team-x's own admin does.
	must(t, a.call(t, http.MethodPost, "/api/v1/keys/"+cliID+"/revoke", nil, as(boot)...), http.StatusNotFound)
	r = a.cli(t, nil, "keys", "create", "--team", "team-x", "--role", "admin")
	require.Equal(t, exitOK, r.code, r.stderr)
	adminX := strings.TrimSpace(r.stdout)
	must(t, a.call(t, http.MethodPost, "/api/v1/keys/"+cliID+"/revoke", map[string]any{"reason": "done"}, as(adminX)...), http.StatusAccepted)
	must(t, a.call(t, http.MethodGet, "/api/v1/scans", nil, as(cliKey)...), http.StatusUnauthorized)

	// keys list (CLI): everything, or one team.
	r = a.cli(t, nil, "keys", "list", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var states []access.APIKeyState
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &states), r.stdout)
	require.Len(t, states, 4)
	byID := map[string]access.APIKeyState{}
	for _, s := range states {
		byID[s.KeyID] = s
	}
	assert.Equal(t, access.StatusRevoked, byID[created.ID].Status)
	assert.Equal(t, "rotated", byID[created.ID].RevokeReason)
	assert.Equal(t, access.StatusRevoked, byID[cliID].Status)
	r = a.cli(t, nil, "keys", "list", "--team", a.cfg.DefaultTeam)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Regexp(t, `^ID\s+TEAM\s+ROLE\s+STATUS\s+ISSUED\s+REVOKED\s+NAME$`, lines[0])
	assert.Regexp(t, `^`+created.ID+`\s+default\s+analyst\s+revoked\s+\S+\s+\S+\s+ci$`, lines[1])

	// Nowhere but admin.key.
	var secrets []string
	for _, k := range []string{boot, created.Key, cliKey, adminX} {
		secrets = append(secrets, secretsOf(t, k)...)
	}
	logs := a.logs.String()
	for _, s := range secrets {
		assert.NotContains(t, logs, s, "the logs hold a key or secret")
	}
	events, err := a.store.ReadAll(context.Background(), 0, 0)
	require.NoError(t, err)
	var keyEvents int
	for _, e := range events {
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		for _, s := range secrets {
			assert.NotContains(t, string(raw), s, "event %d (%s) holds a key or secret", e.Position, e.Type)
		}
		if e.StreamType == access.StreamType {
			keyEvents++
		}
	}
	assert.Equal(t, 6, keyEvents, "4 issued, 2 revoked")
	assertNoSecretInFiles(t, a.cfg.DataDir, secrets)
}

// assertNoSecretInFiles reads every file under dir except admin.key
// (databases, their WAL, the embedded NATS store) and requires that none
// holds any of secrets.
func assertNoSecretInFiles(t *testing.T, dir string, secrets []string) {
	t.Helper()
	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == adminKeyFile {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil // a file that went away (a WAL checkpoint) holds nothing now
		}
		files++
		for _, s := range secrets {
			assert.False(t, bytes.Contains(raw, []byte(s)), "%s holds a key or secret", path)
		}
		return nil
	}))
	assert.Greater(t, files, 10, "the data directory was read")
}

// The first start on an empty store: an admin key of --default-team in
// <data-dir>/admin.key (0600), printed once on stdout, never logged.
// Later starts issue nothing.
func TestFirstStart_AdminKey(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DefaultTeam = "acme"
	cfg.DataDir = filepath.Join(cfg.DataDir, "not", "yet")
	cfg.LogFormat = config.LogJSON
	start := func() (logs, stdout string) {
		var logBuf, outBuf lockedBuffer
		var srv *api.Server
		app := fxtest.New(t, serveOptionsTo(cfg, &logBuf, &outBuf), fx.Populate(&srv))
		app.RequireStart()
		useAppKey(t, cfg.DataDir, srv.Addr())
		// The key acts as acme's admin.
		req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+"/api/v1/keys", nil)
		require.NoError(t, err)
		authorize(req)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		app.RequireStop()
		return logBuf.String(), outBuf.String()
	}

	logs, stdout := start()
	path := filepath.Join(cfg.DataDir, adminKeyFile)
	key := adminKey(t, cfg.DataDir)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "admin.key is readable by its owner only")
	entries, err := os.ReadDir(cfg.DataDir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasSuffix(e.Name(), ".tmp"), "no temporary file left: %s", e.Name())
	}

	assert.Contains(t, stdout, key, "the banner shows the key")
	assert.Contains(t, stdout, `for team "acme"`)
	assert.Contains(t, stdout, path)
	assert.Equal(t, 1, strings.Count(stdout, key), "shown once")
	for _, s := range secretsOf(t, key) {
		assert.NotContains(t, logs, s, "the log never holds the key")
	}
	var line struct {
		Msg  string `json:"msg"`
		File string `json:"file"`
		Team string `json:"team"`
		Use  string `json:"use"`
	}
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, "admin API key created") {
			require.NoError(t, json.Unmarshal([]byte(l), &line))
		}
	}
	assert.Equal(t, path, line.File, "the log says where the key is:\n%s", logs)
	assert.Equal(t, "acme", line.Team)
	assert.Equal(t, "Authorization: Bearer $(cat "+path+")", line.Use)

	logs, stdout = start()
	assert.Empty(t, stdout, "a later start prints nothing")
	assert.NotContains(t, logs, "admin API key")
	assert.Equal(t, key, adminKey(t, cfg.DataDir), "and leaves the key alone")
}

// Two api processes starting at once on one empty store issue one key: the
// second gets the first's result (the same command, by its idempotency
// key), which has no secret, and writes no file.
func TestFirstStart_OnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	h := platformcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now))
	cfg := config.Default()
	dirA, dirB := t.TempDir(), t.TempDir()
	var logs, out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	// Process B's head check ran before A appended.
	cfg.DataDir = dirA
	require.NoError(t, bootstrapAdminKey(ctx, cfg, store, h, log, &out))
	cfg.DataDir = dirB
	k, err := h.IssueKey(ctx, commands.Meta{TeamID: cfg.DefaultTeam, Actor: "system:first-start", Route: "serve first start", IdempotencyKey: bootstrapIdempotencyKey},
		platformcmd.IssueKey{Name: "first-start admin", Role: "admin"})
	require.NoError(t, err)
	assert.True(t, k.Duplicate, "the same command")
	assert.Empty(t, k.Key)

	head, err := store.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), head, "one key")
	_, err = os.Stat(filepath.Join(dirB, adminKeyFile))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.NotEmpty(t, adminKey(t, dirA))

	// A start on a store that is not empty issues nothing.
	out.Reset()
	require.NoError(t, bootstrapAdminKey(ctx, cfg, store, h, log, &out))
	assert.Empty(t, out.String())
	_, err = os.Stat(filepath.Join(dirB, adminKeyFile))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestCLIAPIKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inv := func(env map[string]string) *invocation {
		cfg := config.Default()
		cfg.DataDir = dir
		return &invocation{cfg: cfg, env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	}
	_, err := cliAPIKey(inv(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CSPM_API_KEY")
	assert.Contains(t, err.Error(), filepath.Join(dir, "admin.key"))

	require.NoError(t, writeKeyFile(filepath.Join(dir, adminKeyFile), "from-file"))
	key, err := cliAPIKey(inv(nil))
	require.NoError(t, err)
	assert.Equal(t, "from-file", key, "trailing newline trimmed")

	key, err = cliAPIKey(inv(map[string]string{"CSPM_API_KEY": " from-env "}))
	require.NoError(t, err)
	assert.Equal(t, "from-env", key, "CSPM_API_KEY wins")

	require.NoError(t, os.WriteFile(filepath.Join(dir, adminKeyFile), []byte("\n"), 0o600))
	_, err = cliAPIKey(inv(map[string]string{"CSPM_API_KEY": ""}))
	require.ErrorContains(t, err, "is empty")
}

// `cspm projections` sends CSPM_API_KEY when set: a wrong one is refused.
func TestProjectionsCLI_SendsTheKey(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	r := a.cli(t, map[string]string{"CSPM_API_KEY": "cspm_aaaaaaaaaaaaaaaa_" + strings.Repeat("A", 43)}, "projections", "status", "--server", a.base)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "401")
	r = a.cli(t, map[string]string{"CSPM_API_KEY": adminKey(t, a.cfg.DataDir)}, "projections", "status", "--server", a.base)
	assert.Equal(t, exitOK, r.code, r.stderr)
	r = cspm(t, map[string]string{"CSPM_DATA_DIR": t.TempDir()}, "projections", "status", "--server", a.base)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "no API key: set CSPM_API_KEY")
}

func TestKeysCLI_Errors(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys", "create", "--role", "admin"}, exitUsage, "--team is required"},
		{[]string{"keys", "create", "--team", "t"}, exitUsage, "--role is required"},
		{[]string{"keys", "create", "--team", "t", "--role", "root"}, exitUsage, "--role: must be one of viewer, analyst, admin"},
		{[]string{"keys", "create", "--team", "a team", "--role", "viewer"}, exitUsage, "--team: must not contain spaces"},
		{[]string{"keys", "create", "--team", "t", "--role", "viewer", "--name", strings.Repeat("n", 101)}, exitUsage, "--name: must be at most 100"},
		{[]string{"keys", "revoke"}, exitUsage, "give the id of the key"},
		{[]string{"keys", "revoke", "a", "b"}, exitUsage, `unexpected argument "b"`},
		{[]string{"keys", "revoke", "NOT-AN-ID"}, exitUsage, "is not a key id"},
		{[]string{"keys", "revoke", "aaaaaaaaaaaaaaaa"}, exitFailure, "no API key aaaaaaaaaaaaaaaa"},
	}
	for _, tt := range tests {
		r := a.cli(t, nil, tt.args...)
		assert.Equal(t, tt.code, r.code, "%v: %s", tt.args, r.stderr)
		assert.Contains(t, r.stderr, tt.want, "%v", tt.args)
	}

	// A whole key may be given to revoke; revoking twice fails.
	r := a.cli(t, nil, "keys", "create", "--team", "t", "--role", "viewer", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw), r.stdout)
	assert.ElementsMatch(t, []string{"id", "stream_id", "version", "position", "event_ids", "key", "name", "role", "team_id"}, mapKeys(raw))
	assert.Equal(t, "viewer key (cli)", raw["name"])
	id, key := raw["id"].(string), raw["key"].(string)
	r = a.cli(t, nil, "keys", "revoke", key)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "API key "+id+" (team t) revoked")
	r = a.cli(t, nil, "keys", "revoke", id)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "already revoked")

	// The keys commands need an existing store.
	r = cspm(t, nil, "keys", "list", "--data-dir", t.TempDir())
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "no event store at")
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The projection the key list waits for is registered.
func TestKeyReadsAreRegistered(t *testing.T) {
	t.Parallel()
	var names []string
	for _, p := range moduleProjections() {
		names = append(names, p.Name())
	}
	for _, n := range api.KeyReads() {
		assert.Contains(t, names, n)
	}
}

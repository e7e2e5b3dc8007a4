package config_test

import (
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/config"
)

func envMap(m map[string]string) config.LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(t *testing.T, groups config.Group, args []string, env map[string]string) (config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := config.Register(fs, groups)
	require.NoError(t, fs.Parse(args))
	return l.Load(envMap(env))
}

func TestLoad_Defaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, config.AllGroups, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, config.Default(), c)
	assert.Equal(t, "./data", c.DataDir)
	assert.Equal(t, config.StoreSQLite, c.Store)
	assert.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	assert.Equal(t, config.SyncFull, c.SQLiteSync)
	assert.Equal(t, slog.LevelInfo, c.LogLevel)
	assert.Equal(t, config.LogText, c.LogFormat)
	assert.True(t, c.EmbeddedNATS())
	assert.Equal(t, config.AllRoles, c.Roles)
	assert.NoError(t, c.Validate())
}

func TestLoad_Precedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(c config.Config) any
		exp  any
	}{
		{
			name: "env over default",
			env:  map[string]string{"CSPM_DATA_DIR": "/var/lib/cspm"},
			want: func(c config.Config) any { return c.DataDir }, exp: "/var/lib/cspm",
		},
		{
			name: "flag over env",
			args: []string{"--data-dir", "/flag"},
			env:  map[string]string{"CSPM_DATA_DIR": "/env"},
			want: func(c config.Config) any { return c.DataDir }, exp: "/flag",
		},
		{
			name: "flag set to its default still wins over env",
			args: []string{"--http-addr=127.0.0.1:8080"},
			env:  map[string]string{"CSPM_HTTP_ADDR": "0.0.0.0:9999"},
			want: func(c config.Config) any { return c.HTTPAddr }, exp: "127.0.0.1:8080",
		},
		{
			name: "empty env is unset",
			env:  map[string]string{"CSPM_DATA_DIR": ""},
			want: func(c config.Config) any { return c.DataDir }, exp: "./data",
		},
		{
			name: "mongo from env",
			env:  map[string]string{"CSPM_STORE": "mongo", "CSPM_MONGODB_URI": "mongodb://localhost:27017/?replicaSet=rs0"},
			want: func(c config.Config) any { return [2]string{string(c.Store), c.MongoURI} },
			exp:  [2]string{"mongo", "mongodb://localhost:27017/?replicaSet=rs0"},
		},
		{
			name: "store is case insensitive",
			args: []string{"--store", "SQLite"},
			want: func(c config.Config) any { return c.Store }, exp: config.StoreSQLite,
		},
		{
			name: "prefix",
			env:  map[string]string{"CSPM_DB_PREFIX": "acme_"},
			want: func(c config.Config) any { return c.DBPrefix }, exp: "acme_",
		},
		{
			name: "nats url",
			env:  map[string]string{"CSPM_NATS_URL": "nats://a:4222, nats://b:4222"},
			want: func(c config.Config) any { return c.EmbeddedNATS() }, exp: false,
		},
		{
			name: "roles",
			args: []string{"--roles", "api, projector"},
			want: func(c config.Config) any { return c.Roles }, exp: []config.Role{config.RoleAPI, config.RoleProjector},
		},
		{
			name: "durations",
			env:  map[string]string{"CSPM_SHUTDOWN_TIMEOUT": "3s", "CSPM_HTTP_REQUEST_TIMEOUT": "250ms"},
			want: func(c config.Config) any { return [2]time.Duration{c.ShutdownTimeout, c.HTTPRequestTimeout} },
			exp:  [2]time.Duration{3 * time.Second, 250 * time.Millisecond},
		},
		{
			name: "read wait timeout",
			args: []string{"--read-wait-timeout", "750ms"},
			want: func(c config.Config) any { return c.ReadWaitTimeout }, exp: 750 * time.Millisecond,
		},
		{
			name: "sizes",
			args: []string{"--http-body-limit", "512K", "--http-ingest-body-limit=64MiB"},
			want: func(c config.Config) any { return [2]int64{c.HTTPBodyLimit, c.HTTPIngestBodyLimit} },
			exp:  [2]int64{512 << 10, 64 << 20},
		},
		{
			name: "log level and format",
			env:  map[string]string{"CSPM_LOG_LEVEL": "WARNING", "CSPM_LOG_FORMAT": "json"},
			want: func(c config.Config) any { return [2]string{c.LogLevel.String(), string(c.LogFormat)} },
			exp:  [2]string{"WARN", "json"},
		},
		{
			name: "sqlite sync",
			args: []string{"--sqlite-sync=normal"},
			want: func(c config.Config) any { return c.SQLiteSync }, exp: config.SyncNormal,
		},
		{
			name: "any free port",
			args: []string{"--http-addr=127.0.0.1:0"},
			want: func(c config.Config) any { return c.HTTPAddr }, exp: "127.0.0.1:0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(t, config.AllGroups, tt.args, tt.env)
			require.NoError(t, err)
			assert.Equal(t, tt.exp, tt.want(c))
		})
	}
}

func TestLoad_ListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := load(t, config.AllGroups,
		[]string{"--http-addr", "localhost", "--log-level", "loud"},
		map[string]string{
			"CSPM_STORE":            "mongo",
			"CSPM_LOG_FORMAT":       "xml",
			"CSPM_SQLITE_SYNC":      "off",
			"CSPM_SHUTDOWN_TIMEOUT": "soon",
			"CSPM_DB_PREFIX":        "Bad.Prefix",
			"CSPM_ROLES":            "api,scanner,api",
			"CSPM_NATS_URL":         "http://example.com",
			"CSPM_HTTP_BODY_LIMIT":  "lots",
		})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"--mongodb-uri / CSPM_MONGODB_URI: required when the store is mongo",
		"--http-addr / CSPM_HTTP_ADDR: \"localhost\": want host:port",
		"--log-level=loud: unknown level",
		"--log-format / CSPM_LOG_FORMAT: unknown format \"xml\"",
		"--sqlite-sync / CSPM_SQLITE_SYNC: unknown mode \"off\"",
		"CSPM_SHUTDOWN_TIMEOUT=soon: time: invalid duration",
		"--db-prefix / CSPM_DB_PREFIX: invalid database name: prefix \"Bad.Prefix\"",
		"unknown role \"scanner\"",
		"role \"api\" listed twice",
		"want a nats://, tls://, ws:// or wss:// URL",
		"CSPM_HTTP_BODY_LIMIT=lots: invalid size",
	} {
		assert.Contains(t, msg, want)
	}
	assert.GreaterOrEqual(t, strings.Count(msg, "\n"), 10, "one line per problem:\n%s", msg)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(c *config.Config)
		wantErr string // "" = valid
	}{
		{name: "defaults", mutate: func(*config.Config) {}},
		{name: "mongo with uri", mutate: func(c *config.Config) { c.Store, c.MongoURI = config.StoreMongo, "mongodb+srv://u:p@cluster.example/" }},
		{name: "mongo without uri", mutate: func(c *config.Config) { c.Store = config.StoreMongo }, wantErr: "required when the store is mongo"},
		{name: "mongo with http uri, password hidden", mutate: func(c *config.Config) { c.Store, c.MongoURI = config.StoreMongo, "http://u:secret@h/" }, wantErr: "u:xxxxx@h"},
		{name: "unknown store", mutate: func(c *config.Config) { c.Store = "postgres" }, wantErr: `unknown store "postgres"`},
		{name: "empty data dir", mutate: func(c *config.Config) { c.DataDir = " " }, wantErr: "data-dir / CSPM_DATA_DIR: must not be empty"},
		{name: "ipv6 addr", mutate: func(c *config.Config) { c.HTTPAddr = "[::1]:8080" }},
		{name: "all interfaces", mutate: func(c *config.Config) { c.HTTPAddr = ":8080" }},
		{name: "port out of range", mutate: func(c *config.Config) { c.HTTPAddr = "127.0.0.1:70000" }, wantErr: `port "70000"`},
		{name: "named port", mutate: func(c *config.Config) { c.HTTPAddr = "127.0.0.1:http" }, wantErr: `port "http"`},
		{name: "unknown log level", mutate: func(c *config.Config) { c.LogLevel = slog.Level(3) }, wantErr: "unknown level"},
		{name: "no roles", mutate: func(c *config.Config) { c.Roles = nil }, wantErr: "at least one role"},
		{name: "zero shutdown", mutate: func(c *config.Config) { c.ShutdownTimeout = 0 }, wantErr: "shutdown-timeout / CSPM_SHUTDOWN_TIMEOUT: must be positive"},
		{name: "zero read wait", mutate: func(c *config.Config) { c.ReadWaitTimeout = 0 }, wantErr: "read-wait-timeout / CSPM_READ_WAIT_TIMEOUT: must be positive"},
		{name: "team with space", mutate: func(c *config.Config) { c.DefaultTeam = "a b" }, wantErr: "default-team"},
		{name: "nats without host", mutate: func(c *config.Config) { c.NATSURL = "nats://" }, wantErr: "no host"},
		{name: "nats cluster", mutate: func(c *config.Config) { c.NATSURL = "nats://a:4222,tls://b:4222" }},
		{name: "worker alone on an external nats", mutate: func(c *config.Config) { c.Roles, c.NATSURL = []config.Role{config.RoleWorker}, "nats://h:4222" }},
		{name: "worker alone on no nats", mutate: func(c *config.Config) { c.Roles = []config.Role{config.RoleWorker} }, wantErr: "nats-url / CSPM_NATS_URL: required for a worker"},
		{name: "worker beside the projector", mutate: func(c *config.Config) { c.Roles = append(c.Roles, config.RoleWorker) }},
		{name: "prefix too long", mutate: func(c *config.Config) { c.DBPrefix = strings.Repeat("a", 60) }, wantErr: "more than 63"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestRegister_OnlyGroupFlags(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("db list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := config.Register(fs, config.GroupRegistry|config.GroupLogging)
	assert.NotNil(t, fs.Lookup("db-prefix"))
	assert.NotNil(t, fs.Lookup("log-level"))
	assert.Nil(t, fs.Lookup("http-addr"))
	assert.Error(t, fs.Parse([]string{"--http-addr", "x"}))

	// Settings outside the groups are neither read nor validated.
	c, err := l.Load(envMap(map[string]string{"CSPM_HTTP_ADDR": "nonsense", "CSPM_STORE": "mongo"}))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	assert.Equal(t, config.StoreSQLite, c.Store)
}

// A client command (GroupClient) takes --http-addr, to find the server,
// and validates it, but none of the other serve settings.
func TestRegister_ClientGroup(t *testing.T) {
	t.Parallel()
	c, err := load(t, config.GroupClient, []string{"--http-addr", "127.0.0.1:9090"}, map[string]string{"CSPM_READ_WAIT_TIMEOUT": "nonsense"})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9090", c.HTTPAddr)
	assert.Equal(t, 2*time.Second, c.ReadWaitTimeout)

	_, err = load(t, config.GroupClient, nil, map[string]string{"CSPM_HTTP_ADDR": "nonsense"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "http-addr")
}

func TestLogValue_RedactsSecrets(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Store, c.MongoURI = config.StoreMongo, "mongodb://admin:hunter2@db:27017/"
	c.NATSURL = "nats://user:s3cret@nats:4222"
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", c)
	assert.NotContains(t, b.String(), "hunter2")
	assert.NotContains(t, b.String(), "s3cret")
	assert.Contains(t, b.String(), "admin:xxxxx@db:27017")
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false}, {"1024", 1024, false}, {"1K", 1 << 10, false}, {"1kb", 1 << 10, false},
		{"2MiB", 2 << 20, false}, {"1G", 1 << 30, false}, {" 3M ", 3 << 20, false},
		{"", 0, true}, {"-1", 0, true}, {"1T", 0, true}, {"M", 0, true}, {"1.5M", 0, true},
	}
	for _, tt := range tests {
		got, err := config.ParseSize(tt.in)
		if tt.err {
			assert.Error(t, err, "ParseSize(%q)", tt.in)
			continue
		}
		require.NoError(t, err, "ParseSize(%q)", tt.in)
		assert.Equal(t, tt.want, got, "ParseSize(%q)", tt.in)
	}
}

func TestSettings_Documented(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range config.Settings() {
		assert.True(t, strings.HasPrefix(s.Env, "CSPM_"), s.Env)
		assert.NotEmpty(t, s.Usage, s.Flag)
		assert.False(t, seen[s.Flag], "flag %s twice", s.Flag)
		seen[s.Flag] = true
	}
	for _, f := range []string{"data-dir", "store", "mongodb-uri", "nats-url", "http-addr", "db-prefix", "log-level", "log-format", "sqlite-sync", "shutdown-timeout", "roles"} {
		assert.True(t, seen[f], "setting %s missing", f)
	}
}

// Bus retention (decision 103): a week by default, bytes unbounded; 0 is
// unbounded; an age under a second and negative sizes are refused.
func TestLoad_BusRetention(t *testing.T) {
	t.Parallel()
	c, err := load(t, config.GroupServe, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 7*24*time.Hour, c.BusMaxAge)
	assert.Zero(t, c.BusMaxBytes)

	c, err = load(t, config.GroupServe, []string{"--bus-max-age=2s"}, map[string]string{"CSPM_BUS_MAX_BYTES": "512M"})
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, c.BusMaxAge)
	assert.Equal(t, int64(512<<20), c.BusMaxBytes)

	c, err = load(t, config.GroupServe, nil, map[string]string{"CSPM_BUS_MAX_AGE": "0"})
	require.NoError(t, err)
	assert.Zero(t, c.BusMaxAge)

	_, err = load(t, config.GroupServe, []string{"--bus-max-age=500ms"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--bus-max-age / CSPM_BUS_MAX_AGE")
	_, err = load(t, config.GroupServe, []string{"--bus-max-bytes=-1"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bus-max-bytes")
}

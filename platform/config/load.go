package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Group selects which settings a command takes: a subcommand registers only
// the flags it uses, reads only their environment variables and validates
// only them (the rest keep their defaults).
type Group uint8

const (
	GroupRegistry Group = 1 << iota // db-prefix
	GroupStorage                    // data-dir, store, mongodb-uri, sqlite-sync, audit-dir
	GroupLogging                    // log-level, log-format
	GroupServe                      // HTTP, NATS, roles, team, shutdown
	// GroupClient is what a command talking to a running server takes:
	// http-addr, to find it.
	GroupClient
	// GroupEmbeddings is the knowledge base's embedding service:
	// embeddings-url, -api, -model, -api-key, -interval (serve, kb embed).
	GroupEmbeddings

	AllGroups = GroupRegistry | GroupStorage | GroupLogging | GroupServe | GroupClient | GroupEmbeddings
)

// Setting describes one configuration knob, for flags, help and docs.
type Setting struct {
	Flag    string // flag name without dashes
	Env     string // environment variable
	Default string // default as text ("" shows as empty)
	Usage   string
	group   Group
	apply   func(c *Config, v string) error
}

// Settings lists every knob in documentation order.
func Settings() []Setting { return append([]Setting(nil), settings...) }

var settings = []Setting{
	{Flag: "data-dir", Env: "CSPM_DATA_DIR", Default: "./data", group: GroupStorage,
		Usage: "directory of the embedded databases (<name>.sqlite) and the embedded NATS server",
		apply: func(c *Config, v string) error { c.DataDir = v; return nil }},
	{Flag: "store", Env: "CSPM_STORE", Default: "sqlite", group: GroupStorage,
		Usage: "event-store backend: sqlite (embedded) or mongo",
		apply: func(c *Config, v string) error { c.Store = StoreKind(strings.ToLower(v)); return nil }},
	{Flag: "mongodb-uri", Env: "CSPM_MONGODB_URI", group: GroupStorage,
		Usage: "MongoDB connection string (required with --store=mongo)",
		apply: func(c *Config, v string) error { c.MongoURI = v; return nil }},
	{Flag: "sqlite-sync", Env: "CSPM_SQLITE_SYNC", Default: "full", group: GroupStorage,
		Usage: "SQLite durability: full (survives power loss) or normal (faster; survives process crashes)",
		apply: func(c *Config, v string) error { c.SQLiteSync = SQLiteSync(strings.ToLower(v)); return nil }},
	{Flag: "audit-dir", Env: "CSPM_AUDIT_DIR", group: GroupStorage,
		Usage: "directory of the audit key and the latest checkpoint copies, outside the event store (default <user config dir>/cspm/audit)",
		apply: func(c *Config, v string) error { c.AuditDir = v; return nil }},
	{Flag: "archive-dir", Env: "CSPM_ARCHIVE_DIR", group: GroupStorage,
		Usage: "directory of the event archive's segments (default <data-dir>/archive)",
		apply: func(c *Config, v string) error { c.ArchiveDir = v; return nil }},
	{Flag: "idempotency-window", Env: "CSPM_IDEMPOTENCY_WINDOW", Default: "168h", group: GroupStorage,
		Usage: "how long idempotency records are kept: a retry after it appends again (the retention cycle purges older ones)",
		apply: func(c *Config, v string) error { return parseInto(&c.IdempotencyWindow, v, time.ParseDuration) }},
	{Flag: "db-prefix", Env: "CSPM_DB_PREFIX", group: GroupRegistry,
		Usage: "prefix prepended as is to every database name (a-z, 0-9, '_', '-'), e.g. acme_",
		apply: func(c *Config, v string) error { c.DBPrefix = v; return nil }},
	{Flag: "http-addr", Env: "CSPM_HTTP_ADDR", Default: "127.0.0.1:8080", group: GroupServe | GroupClient,
		Usage: "host:port the HTTP API listens on (port 0 picks a free port)",
		apply: func(c *Config, v string) error { c.HTTPAddr = v; return nil }},
	{Flag: "ops-addr", Env: "CSPM_OPS_ADDR", group: GroupServe,
		Usage: "host:port of a second listener serving only /healthz, /readyz and /metrics, in any role (empty: none); how a relay, projector or worker process is probed and scraped",
		apply: func(c *Config, v string) error { c.OpsAddr = v; return nil }},
	{Flag: "http-body-limit", Env: "CSPM_HTTP_BODY_LIMIT", Default: "1MiB", group: GroupServe,
		Usage: "largest command request body (bytes, or with K/M/G suffix)",
		apply: func(c *Config, v string) error { return parseInto(&c.HTTPBodyLimit, v, ParseSize) }},
	{Flag: "http-ingest-body-limit", Env: "CSPM_HTTP_INGEST_BODY_LIMIT", Default: "16MiB", group: GroupServe,
		Usage: "largest bulk-ingest request body (bytes, or with K/M/G suffix)",
		apply: func(c *Config, v string) error { return parseInto(&c.HTTPIngestBodyLimit, v, ParseSize) }},
	{Flag: "http-import-body-limit", Env: "CSPM_HTTP_IMPORT_BODY_LIMIT", Default: "1GiB", group: GroupServe,
		Usage: "largest report POST /api/v1/imports accepts (bytes, or with K/M/G suffix); it is streamed, never held in memory",
		apply: func(c *Config, v string) error { return parseInto(&c.HTTPImportBodyLimit, v, ParseSize) }},
	{Flag: "http-import-timeout", Env: "CSPM_HTTP_IMPORT_TIMEOUT", Default: "30m", group: GroupServe,
		Usage: "deadline of one import (upload and append)",
		apply: func(c *Config, v string) error { return parseInto(&c.HTTPImportTimeout, v, time.ParseDuration) }},
	{Flag: "http-request-timeout", Env: "CSPM_HTTP_REQUEST_TIMEOUT", Default: "30s", group: GroupServe,
		Usage: "deadline of one HTTP request",
		apply: func(c *Config, v string) error { return parseInto(&c.HTTPRequestTimeout, v, time.ParseDuration) }},
	{Flag: "read-wait-timeout", Env: "CSPM_READ_WAIT_TIMEOUT", Default: "2s", group: GroupServe,
		Usage: "longest a query given min_position waits for the projections it reads before answering with meta.stale",
		apply: func(c *Config, v string) error { return parseInto(&c.ReadWaitTimeout, v, time.ParseDuration) }},
	{Flag: "stall-timeout", Env: "CSPM_STALL_TIMEOUT", Default: "30s", group: GroupServe,
		Usage: "how long the relay or a projection may have work pending without progress before /readyz fails and it is reported stalled",
		apply: func(c *Config, v string) error { return parseInto(&c.StallTimeout, v, time.ParseDuration) }},
	{Flag: "default-team", Env: "CSPM_DEFAULT_TEAM", Default: "default", group: GroupServe,
		Usage: "team of the admin API key created on first start (empty event store)",
		apply: func(c *Config, v string) error { c.DefaultTeam = v; return nil }},
	{Flag: "rate-limit", Env: "CSPM_RATE_LIMIT", Default: "100", group: GroupServe,
		Usage: "requests per second each API key may send on average (0: no limit)",
		apply: func(c *Config, v string) error { return parseInto(&c.RateLimit, v, parseNonNegativeFloat) }},
	{Flag: "rate-burst", Env: "CSPM_RATE_BURST", Default: "200", group: GroupServe,
		Usage: "requests an API key may send at once before the rate limit applies",
		apply: func(c *Config, v string) error { return parseInto(&c.RateBurst, v, strconv.Atoi) }},
	{Flag: "cors-origins", Env: "CSPM_CORS_ORIGINS", group: GroupServe,
		Usage: "origins allowed to call the API from a browser, comma separated (empty: CORS off)",
		apply: func(c *Config, v string) error { c.CORSOrigins = splitList(v); return nil }},
	{Flag: "nats-url", Env: "CSPM_NATS_URL", group: GroupServe,
		Usage: "external NATS server URL(s), comma separated; empty runs an embedded server under <data-dir>/nats",
		apply: func(c *Config, v string) error { c.NATSURL = v; return nil }},
	{Flag: "roles", Env: "CSPM_ROLES", Default: "api,relay,projector", group: GroupServe,
		Usage: "what this process runs, comma separated: api, relay, projector, worker (scan jobs; docs/scan-jobs.md)",
		apply: func(c *Config, v string) error { c.Roles = parseRoles(v); return nil }},
	{Flag: "audit-checkpoint-interval", Env: "CSPM_AUDIT_CHECKPOINT_INTERVAL", Default: "10s", group: GroupServe,
		Usage: "how often serve signs a checkpoint of the event store when it grew (the longest a cut tail can go unnoticed)",
		apply: func(c *Config, v string) error { return parseInto(&c.AuditCheckpointInterval, v, time.ParseDuration) }},
	{Flag: "retention-interval", Env: "CSPM_RETENTION_INTERVAL", Default: "24h", group: GroupServe,
		Usage: "how often serve runs the retention cycle (read-model expiry, event archival, idempotency purge); 0 turns it off",
		apply: func(c *Config, v string) error { return parseInto(&c.RetentionInterval, v, time.ParseDuration) }},
	{Flag: "job-lease", Env: "CSPM_JOB_LEASE", Default: "30s", group: GroupServe,
		Usage: "a worker's lease on a scan job (the work queue's ack wait), extended by its heartbeats; a job whose worker died runs again after it",
		apply: func(c *Config, v string) error { return parseInto(&c.JobLease, v, time.ParseDuration) }},
	{Flag: "worker-tools", Env: "CSPM_WORKER_TOOLS", group: GroupServe,
		Usage: "YAML file of the external scan tools a worker runs beside the built-in headers and tls (docs/scan-jobs.md); set, serve with the projector role runs a worker in-process",
		apply: func(c *Config, v string) error { c.WorkerTools = v; return nil }},
	{Flag: "worker-slots", Env: "CSPM_WORKER_SLOTS", Default: "2", group: GroupServe,
		Usage: "scan jobs a worker runs at once",
		apply: func(c *Config, v string) error { return parseInto(&c.WorkerSlots, v, strconv.Atoi) }},
	{Flag: "node-id", Env: "CSPM_NODE_ID", group: GroupServe,
		Usage: "this process's name in leases, projection status and logs (default hostname-pid)",
		apply: func(c *Config, v string) error { c.NodeID = v; return nil }},
	{Flag: "lease-ttl", Env: "CSPM_LEASE_TTL", Default: "6s", group: GroupServe,
		Usage: "how long the relay leader's and each projection owner's lease outlives its last renewal: the longest a killed process's work waits for another process",
		apply: func(c *Config, v string) error { return parseInto(&c.LeaseTTL, v, time.ParseDuration) }},
	{Flag: "stream-replicas", Env: "CSPM_STREAM_REPLICAS", Default: "1", group: GroupServe,
		Usage: "replicas of the event stream, the scan-job work queue and the lease bucket on a NATS JetStream cluster (1 to 5)",
		apply: func(c *Config, v string) error { return parseInto(&c.StreamReplicas, v, strconv.Atoi) }},
	{Flag: "bus-max-age", Env: "CSPM_BUS_MAX_AGE", Default: "168h", group: GroupServe,
		Usage: "longest the event stream CSPM_EVENTS keeps a message (0: forever); a projection behind it catches up from the event store",
		apply: func(c *Config, v string) error { return parseInto(&c.BusMaxAge, v, time.ParseDuration) }},
	{Flag: "bus-max-bytes", Env: "CSPM_BUS_MAX_BYTES", Default: "0", group: GroupServe,
		Usage: "most bytes the event stream CSPM_EVENTS keeps, oldest messages dropped first (bytes, or with K/M/G suffix; 0: unbounded)",
		apply: func(c *Config, v string) error { return parseInto(&c.BusMaxBytes, v, ParseSize) }},
	{Flag: "shutdown-timeout", Env: "CSPM_SHUTDOWN_TIMEOUT", Default: "15s", group: GroupServe,
		Usage: "how long a graceful stop may take after SIGINT/SIGTERM",
		apply: func(c *Config, v string) error { return parseInto(&c.ShutdownTimeout, v, time.ParseDuration) }},
	{Flag: "embeddings-url", Env: "CSPM_EMBEDDINGS_URL", group: GroupEmbeddings,
		Usage: "base URL of an OpenAI-compatible or Ollama embedding service (empty: lexical search only)",
		apply: func(c *Config, v string) error { c.EmbeddingsURL = v; return nil }},
	{Flag: "embeddings-api", Env: "CSPM_EMBEDDINGS_API", Default: "openai", group: GroupEmbeddings,
		Usage: "the service's API: openai (POST /v1/embeddings), ollama (POST /api/embed) or ollama-legacy (POST /api/embeddings)",
		apply: func(c *Config, v string) error { c.EmbeddingsAPI = strings.ToLower(v); return nil }},
	{Flag: "embeddings-model", Env: "CSPM_EMBEDDINGS_MODEL", group: GroupEmbeddings,
		Usage: "the embedding model every vector is made with (required with --embeddings-url)",
		apply: func(c *Config, v string) error { c.EmbeddingsModel = v; return nil }},
	{Flag: "embeddings-api-key", Env: "CSPM_EMBEDDINGS_API_KEY", group: GroupEmbeddings,
		Usage: "bearer token sent to the embedding service (never logged)",
		apply: func(c *Config, v string) error { c.EmbeddingsAPIKey = v; return nil }},
	{Flag: "embeddings-interval", Env: "CSPM_EMBEDDINGS_INTERVAL", Default: "5m", group: GroupEmbeddings,
		Usage: "how often serve embeds the chunks without a vector of the model (0: never; cspm kb embed does it by hand)",
		apply: func(c *Config, v string) error { return parseInto(&c.EmbeddingsInterval, v, time.ParseDuration) }},
	{Flag: "log-level", Env: "CSPM_LOG_LEVEL", Default: "info", group: GroupLogging,
		Usage: "debug, info, warn or error",
		apply: func(c *Config, v string) error { return parseInto(&c.LogLevel, v, ParseLevel) }},
	{Flag: "log-format", Env: "CSPM_LOG_FORMAT", Default: "text", group: GroupLogging,
		Usage: "text or json (logs go to stderr)",
		apply: func(c *Config, v string) error { c.LogFormat = LogFormat(strings.ToLower(v)); return nil }},
}

func parseInto[T any](dst *T, v string, parse func(string) (T, error)) error {
	x, err := parse(v)
	if err != nil {
		return err
	}
	*dst = x
	return nil
}

func parseNonNegativeFloat(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f != f {
		return 0, fmt.Errorf("%q: want a number of at least 0", v)
	}
	return f, nil
}

// splitList reads a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseRoles(v string) []Role {
	var out []Role
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(strings.ToLower(p)); p != "" {
			out = append(out, Role(p))
		}
	}
	return out
}

// ParseLevel accepts debug, info, warn (or warning) and error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
}

// ParseSize reads a byte count: a plain number, or one with a K, M or G
// suffix (powers of 1024; "KB", "KiB" and friends are accepted too).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want bytes, e.g. 1048576, 512K, 1M)", s)
	}
	return n * mult, nil
}

// Loader reads the configuration of one subcommand. Create it with Register
// before parsing the flag set, then call Load.
type Loader struct {
	fs     *flag.FlagSet
	groups Group
	values map[string]*string
}

// Register adds the flags of groups to fs.
func Register(fs *flag.FlagSet, groups Group) *Loader {
	l := &Loader{fs: fs, groups: groups, values: map[string]*string{}}
	for _, s := range settings {
		if s.group&groups == 0 {
			continue
		}
		usage := s.Usage + " (env " + s.Env + ")"
		l.values[s.Flag] = fs.String(s.Flag, s.Default, usage)
	}
	return l
}

// LookupEnv is the signature of os.LookupEnv.
type LookupEnv func(key string) (string, bool)

// Load builds the configuration: for each setting of the loader's groups the
// flag if given, else the environment variable if set and not empty, else the
// default. It returns every problem found, joined.
func (l *Loader) Load(env LookupEnv) (Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	given := map[string]bool{}
	l.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	c := Default()
	var errs []error
	for _, s := range settings {
		if s.group&l.groups == 0 {
			continue
		}
		var v, source string
		if given[s.Flag] {
			v, source = *l.values[s.Flag], "--"+s.Flag
		} else if e, ok := env(s.Env); ok && e != "" {
			v, source = e, s.Env
		} else {
			continue
		}
		if err := s.apply(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w", source, v, err))
		}
	}
	if err := c.validate(l.groups); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}

func settingLabel(flagName string) string {
	for _, s := range settings {
		if s.Flag == flagName {
			return "--" + s.Flag + " / " + s.Env
		}
	}
	return flagName
}

// Package config is cspm's configuration: one struct, parsed once at start
// from flags and CSPM_* environment variables (flag > environment > default),
// validated with every problem listed, then injected. No other package reads
// the environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

// StoreKind selects the event-store backend.
type StoreKind string

const (
	StoreSQLite StoreKind = "sqlite" // embedded, one file per database under DataDir
	StoreMongo  StoreKind = "mongo"  // MongoDB at MongoURI
)

// LogFormat selects the slog handler.
type LogFormat string

const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// SQLiteSync is SQLite's PRAGMA synchronous for the embedded backend.
type SQLiteSync string

const (
	// SyncFull survives power loss (fsync on every commit): the default.
	SyncFull SQLiteSync = "full"
	// SyncNormal may lose the last commits on power loss, never on a process crash.
	SyncNormal SQLiteSync = "normal"
)

// Role is a part of `cspm serve` that a process runs (docs/architecture.md §1).
type Role string

const (
	RoleAPI       Role = "api"
	RoleRelay     Role = "relay"
	RoleProjector Role = "projector"
	// RoleWorker runs the scan jobs of the work queue (docs/scan-jobs.md).
	// It is not in the default: `cspm serve` runs a worker with the
	// projector role when --worker-tools is set, and `cspm worker` is a
	// process of this role alone.
	RoleWorker Role = "worker"
)

// AllRoles is the default: one process runs everything.
var AllRoles = []Role{RoleAPI, RoleRelay, RoleProjector}

// KnownRoles are the roles --roles accepts.
var KnownRoles = []Role{RoleAPI, RoleRelay, RoleProjector, RoleWorker}

// RunsWorker reports whether a serve process with c runs a worker: the
// worker role, or the projector role with --worker-tools.
func (c Config) RunsWorker() bool {
	return c.HasRole(RoleWorker) || (c.HasRole(RoleProjector) && c.WorkerTools != "")
}

// Config is everything cspm reads from its environment.
type Config struct {
	DataDir  string    // embedded databases and the embedded NATS live here
	Store    StoreKind // event-store backend
	MongoURI string    // required when Store is mongo
	NATSURL  string    // external NATS; empty runs an embedded server
	DBPrefix string    // prepended to every database name (see dbregistry)

	HTTPAddr            string        // host:port the API listens on (port 0: any free port)
	HTTPBodyLimit       int64         // bytes accepted in a command body
	HTTPIngestBodyLimit int64         // bytes accepted by bulk ingest endpoints
	HTTPImportBodyLimit int64         // bytes of a report an import accepts
	HTTPImportTimeout   time.Duration // deadline of one import
	HTTPRequestTimeout  time.Duration // per-request deadline
	DefaultTeam         string        // team of the admin key created on first start (empty store)
	// RateLimit is each API key's budget in requests per second (0: no
	// limit); RateBurst how many it may send at once.
	RateLimit float64
	RateBurst int
	// CORSOrigins may call the API from a browser; empty: CORS off.
	CORSOrigins []string
	// ReadWaitTimeout bounds how long a query given min_position waits for
	// the projections it reads before answering with meta.stale: true.
	ReadWaitTimeout time.Duration
	// StallTimeout is how long the relay or a projection may have work
	// pending without progress before it counts as stalled: /readyz
	// fails, status and metrics say so.
	StallTimeout time.Duration
	// OpsAddr, when set, is a listener of its own serving only /healthz,
	// /readyz and /metrics (any role; the way to probe and scrape a relay,
	// projector or worker process, which has no API).
	OpsAddr string

	LogLevel  slog.Level
	LogFormat LogFormat

	SQLiteSync      SQLiteSync
	ShutdownTimeout time.Duration // bound on a graceful stop
	Roles           []Role        // what `cspm serve` runs

	// AuditDir holds the audit key and the latest checkpoint copies, kept
	// outside the event store; empty means the default (AuditDirectory).
	AuditDir string
	// AuditCheckpointInterval is how often serve signs a checkpoint of
	// the event store when its head moved.
	AuditCheckpointInterval time.Duration

	// Retention and archival (docs/archival.md). ArchiveDir holds the
	// archive segments (empty: ArchiveDirectory's default);
	// IdempotencyWindow is how long idempotency records are kept;
	// RetentionInterval is how often serve runs the retention cycle (0: never).
	ArchiveDir        string
	IdempotencyWindow time.Duration
	RetentionInterval time.Duration

	// Scan jobs (docs/scan-jobs.md). JobLease is a worker's lease on a
	// job (the work queue's AckWait), extended by its heartbeats.
	// WorkerTools, when set, is the YAML file of the external tools a
	// worker runs beside the built-in ones (serve with the projector role
	// then runs a worker in-process); a worker runs WorkerSlots jobs at once.
	JobLease    time.Duration
	WorkerTools string
	WorkerSlots int

	// Several processes (docs/decisions.md 83-85). NodeID names this
	// process in leases, status and logs (empty: hostname-pid). LeaseTTL is
	// how long a relay leader's or a projection owner's lease outlives its
	// last renewal: the longest a dead holder's work waits for a taker.
	// StreamReplicas is the event stream's (and the work queue's and the
	// lease bucket's) replica count on a NATS cluster.
	NodeID         string
	LeaseTTL       time.Duration
	StreamReplicas int

	// Bus retention (docs/decisions.md 103): the event stream keeps a
	// message at most BusMaxAge and the stream at most BusMaxBytes (0:
	// unbounded). The event store is the source of truth; a projection
	// behind what the stream still holds catches up from the store.
	BusMaxAge   time.Duration
	BusMaxBytes int64

	// The knowledge base's embedding service (docs/knowledge-base.md):
	// an empty URL leaves semantic search off.
	EmbeddingsURL      string
	EmbeddingsAPI      string // openai, ollama or ollama-legacy
	EmbeddingsModel    string
	EmbeddingsAPIKey   string        // secret: never logged
	EmbeddingsInterval time.Duration // serve's embed job; 0: off
}

// DefaultBusMaxAge is how long the event stream keeps a message by
// default: a week, far more than any outage a projector catches up from
// the bus; older history is read from the event store.
const DefaultBusMaxAge = 7 * 24 * time.Hour

// Default is the configuration with nothing set: everything embedded under ./data.
func Default() Config {
	return Config{
		DataDir:             "./data",
		Store:               StoreSQLite,
		HTTPAddr:            "127.0.0.1:8080",
		HTTPBodyLimit:       1 << 20,
		HTTPIngestBodyLimit: 16 << 20,
		HTTPImportBodyLimit: 1 << 30,
		HTTPImportTimeout:   30 * time.Minute,
		HTTPRequestTimeout:  30 * time.Second,
		DefaultTeam:         "default",
		RateLimit:           100,
		RateBurst:           200,
		ReadWaitTimeout:     2 * time.Second,
		StallTimeout:        30 * time.Second,
		LogLevel:            slog.LevelInfo,
		LogFormat:           LogText,
		SQLiteSync:          SyncFull,
		ShutdownTimeout:     15 * time.Second,
		Roles:               slices.Clone(AllRoles),

		AuditCheckpointInterval: 10 * time.Second,
		IdempotencyWindow:       7 * 24 * time.Hour,
		RetentionInterval:       24 * time.Hour,

		JobLease:    30 * time.Second,
		WorkerSlots: 2,

		LeaseTTL:       6 * time.Second,
		StreamReplicas: 1,

		BusMaxAge: DefaultBusMaxAge,

		EmbeddingsAPI:      "openai",
		EmbeddingsInterval: 5 * time.Minute,
	}
}

// AuditDirectory is AuditDir, or by default <user config dir>/cspm/audit
// (os.UserConfigDir: $XDG_CONFIG_HOME or ~/.config on Linux), outside the
// data directory. Where there is no user config dir (no $HOME), it is
// cspm-audit next to the data directory.
func (c Config) AuditDirectory() string {
	if c.AuditDir != "" {
		return c.AuditDir
	}
	if dir, err := os.UserConfigDir(); err == nil && dir != "" {
		return filepath.Join(dir, "cspm", "audit")
	}
	return filepath.Join(filepath.Dir(filepath.Clean(c.DataDir)), "cspm-audit")
}

// ArchiveDirectory is ArchiveDir, or by default <data dir>/archive.
func (c Config) ArchiveDirectory() string {
	if c.ArchiveDir != "" {
		return c.ArchiveDir
	}
	return filepath.Join(c.DataDir, "archive")
}

// HasRole reports whether r is among the configured roles.
func (c Config) HasRole(r Role) bool { return slices.Contains(c.Roles, r) }

// EmbeddedNATS reports whether cspm runs its own NATS server.
func (c Config) EmbeddedNATS() bool { return c.NATSURL == "" }

// RedactedMongoURI is MongoURI with any password masked, for logs.
func (c Config) RedactedMongoURI() string { return redactURI(c.MongoURI) }

// LogValue keeps secrets out of logs when a Config is logged.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("data_dir", c.DataDir),
		slog.String("store", string(c.Store)),
		slog.String("mongodb_uri", c.RedactedMongoURI()),
		slog.String("nats_url", redactURI(c.NATSURL)),
		slog.String("db_prefix", c.DBPrefix),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("ops_addr", c.OpsAddr),
		slog.Duration("read_wait_timeout", c.ReadWaitTimeout),
		slog.Duration("stall_timeout", c.StallTimeout),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", string(c.LogFormat)),
		slog.String("sqlite_sync", string(c.SQLiteSync)),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.String("roles", JoinRoles(c.Roles)),
		slog.String("audit_dir", c.AuditDirectory()),
		slog.Duration("audit_checkpoint_interval", c.AuditCheckpointInterval),
		slog.String("archive_dir", c.ArchiveDirectory()),
		slog.Duration("idempotency_window", c.IdempotencyWindow),
		slog.Duration("retention_interval", c.RetentionInterval),
		slog.Duration("bus_max_age", c.BusMaxAge),
		slog.Int64("bus_max_bytes", c.BusMaxBytes),
		slog.String("embeddings_url", redactURI(c.EmbeddingsURL)),
		slog.String("embeddings_model", c.EmbeddingsModel),
	)
}

// Validate reports every problem of c, or nil.
func (c Config) Validate() error { return c.validate(AllGroups) }

func (c Config) validate(groups Group) error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", settingLabel(key), fmt.Sprintf(format, args...)))
	}
	if groups&GroupRegistry != 0 {
		if err := dbregistry.ValidatePrefix(c.DBPrefix); err != nil {
			for _, e := range unjoin(err) {
				add("db-prefix", "%v", e)
			}
		}
	}
	if groups&GroupStorage != 0 {
		if strings.TrimSpace(c.DataDir) == "" {
			add("data-dir", "must not be empty")
		}
		switch c.Store {
		case StoreSQLite:
		case StoreMongo:
			switch {
			case c.MongoURI == "":
				add("mongodb-uri", "required when the store is mongo")
			case !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://"):
				add("mongodb-uri", "%q must start with mongodb:// or mongodb+srv://", c.RedactedMongoURI())
			}
		default:
			add("store", "unknown store %q (want sqlite or mongo)", c.Store)
		}
		switch c.SQLiteSync {
		case SyncFull, SyncNormal:
		default:
			add("sqlite-sync", "unknown mode %q (want full or normal)", c.SQLiteSync)
		}
		if c.AuditDir != "" && strings.TrimSpace(c.AuditDir) == "" {
			add("audit-dir", "must not be blank (leave it unset for the default)")
		}
		if c.ArchiveDir != "" && strings.TrimSpace(c.ArchiveDir) == "" {
			add("archive-dir", "must not be blank (leave it unset for the default)")
		}
		if c.IdempotencyWindow < time.Hour {
			add("idempotency-window", "must be at least 1h")
		}
	}
	if groups&GroupLogging != 0 {
		switch c.LogLevel {
		case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
		default:
			add("log-level", "unknown level %q (want debug, info, warn or error)", c.LogLevel)
		}
		switch c.LogFormat {
		case LogText, LogJSON:
		default:
			add("log-format", "unknown format %q (want text or json)", c.LogFormat)
		}
	}
	if groups&(GroupServe|GroupClient) != 0 {
		if err := checkHostPort(c.HTTPAddr); err != nil {
			add("http-addr", "%q: %v", c.HTTPAddr, err)
		}
	}
	if groups&GroupServe != 0 {
		if c.HTTPBodyLimit <= 0 {
			add("http-body-limit", "must be positive")
		}
		if c.HTTPIngestBodyLimit <= 0 {
			add("http-ingest-body-limit", "must be positive")
		}
		if c.HTTPImportBodyLimit <= 0 {
			add("http-import-body-limit", "must be positive")
		}
		if c.HTTPImportTimeout <= 0 {
			add("http-import-timeout", "must be positive")
		}
		if c.HTTPRequestTimeout <= 0 {
			add("http-request-timeout", "must be positive")
		}
		if c.DefaultTeam == "" || strings.ContainsFunc(c.DefaultTeam, isSpace) {
			add("default-team", "%q must be non-empty without white space", c.DefaultTeam)
		}
		if c.OpsAddr != "" {
			if err := checkHostPort(c.OpsAddr); err != nil {
				add("ops-addr", "%q: %v", c.OpsAddr, err)
			}
		}
		if err := checkNATSURLs(c.NATSURL); err != nil {
			add("nats-url", "%v", err)
		}
		if c.ShutdownTimeout <= 0 {
			add("shutdown-timeout", "must be positive")
		}
		if c.ReadWaitTimeout <= 0 {
			add("read-wait-timeout", "must be positive")
		}
		if c.StallTimeout < time.Second {
			add("stall-timeout", "must be at least 1s")
		}
		if c.AuditCheckpointInterval <= 0 {
			add("audit-checkpoint-interval", "must be positive")
		}
		if c.RetentionInterval < 0 {
			add("retention-interval", "must be 0 (off) or positive")
		}
		if c.JobLease < time.Second {
			add("job-lease", "must be at least 1s")
		}
		if c.LeaseTTL < time.Second {
			add("lease-ttl", "must be at least 1s")
		}
		if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
			add("stream-replicas", "must be between 1 and 5")
		}
		if c.BusMaxAge != 0 && c.BusMaxAge < time.Second {
			add("bus-max-age", "must be 0 (unbounded) or at least 1s")
		}
		if c.BusMaxBytes < 0 {
			add("bus-max-bytes", "must be 0 (unbounded) or positive")
		}
		if c.WorkerSlots < 1 || c.WorkerSlots > 64 {
			add("worker-slots", "must be between 1 and 64")
		}
		if c.RateLimit < 0 {
			add("rate-limit", "must be 0 (no limit) or positive")
		}
		if c.RateLimit > 0 && c.RateBurst < 1 {
			add("rate-burst", "must be at least 1")
		}
		for _, o := range c.CORSOrigins {
			if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
				add("cors-origins", "%q: want an origin like https://console.example.com, or *", o)
			}
		}
		if err := checkRoles(c.Roles); err != nil {
			add("roles", "%v", err)
		}
		if c.HasRole(RoleWorker) && !c.HasRole(RoleRelay) && !c.HasRole(RoleProjector) && c.EmbeddedNATS() {
			add("nats-url", "required for a worker without the relay or projector role: it takes its jobs from the NATS of the process that dispatches them")
		}
	}
	if groups&GroupEmbeddings != 0 {
		switch c.EmbeddingsAPI {
		case "openai", "ollama", "ollama-legacy":
		default:
			add("embeddings-api", "unknown API %q (want openai, ollama or ollama-legacy)", c.EmbeddingsAPI)
		}
		if c.EmbeddingsURL != "" {
			if u, err := url.Parse(c.EmbeddingsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("embeddings-url", "%q: want an http:// or https:// URL", redactURI(c.EmbeddingsURL))
			}
			if strings.TrimSpace(c.EmbeddingsModel) == "" {
				add("embeddings-model", "required with --embeddings-url")
			}
		}
		if c.EmbeddingsInterval < 0 {
			add("embeddings-interval", "must be 0 (never) or positive")
		}
	}
	return errors.Join(errs...)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port (%w)", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

func checkNATSURLs(s string) error {
	if s == "" {
		return nil
	}
	var errs []error
	for raw := range strings.SplitSeq(s, ",") {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", redactURI(raw), err))
			continue
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			errs = append(errs, fmt.Errorf("%q: want a nats://, tls://, ws:// or wss:// URL", redactURI(raw)))
			continue
		}
		if u.Host == "" {
			errs = append(errs, fmt.Errorf("%q: no host", redactURI(raw)))
		}
	}
	return errors.Join(errs...)
}

func checkRoles(roles []Role) error {
	if len(roles) == 0 {
		return fmt.Errorf("at least one role is needed (from %s)", JoinRoles(KnownRoles))
	}
	var errs []error
	seen := map[Role]bool{}
	for _, r := range roles {
		if !slices.Contains(KnownRoles, r) {
			errs = append(errs, fmt.Errorf("unknown role %q (want some of %s)", r, JoinRoles(KnownRoles)))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("role %q listed twice", r))
		}
		seen[r] = true
	}
	return errors.Join(errs...)
}

// JoinRoles is roles as the --roles flag spells them: "api,relay".
func JoinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func redactURI(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		// Not a URL we can parse: keep only its scheme to be safe.
		if i := strings.Index(s, "://"); i >= 0 {
			return s[:i+3] + "…"
		}
		return "…"
	}
	return u.Redacted()
}

// unjoin returns the errors joined in err (or err alone).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

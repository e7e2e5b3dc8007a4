package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspm-es/cspm-es/commands"
	retcmd "github.com/cspm-es/cspm-es/commands/retention"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/retention"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/progress"
)

// The retention cycle (docs/archival.md, decision 90): (a) drop expired
// read-model documents (SQLite: SweepExpired; MongoDB: the server's TTL
// indexes do it), (b) archive the prefix of the log older than the
// policies' cut-off and delete it from the live store, (c) purge the
// idempotency records older than the idempotency window. `cspm serve`
// runs it every --retention-interval in the projector process; `cspm
// retention run` runs it once.

// retentionCycle is one configured cycle.
type retentionCycle struct {
	store         *archive.Store
	codec         *eventstore.Codec
	readModels    ReadModels // may be empty
	window        time.Duration
	segmentEvents int
	log           *slog.Logger
	metrics       *retentionMetrics // nil: none
	clock         func() time.Time  // nil: time.Now
}

func (c *retentionCycle) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}

// retentionReport is what one cycle did (or, dry, would do).
type retentionReport struct {
	DryRun    bool               `json:"dry_run"`
	Now       time.Time          `json:"now"`
	Policies  []retention.Policy `json:"policies"`
	Cutoff    *time.Time         `json:"cutoff,omitempty"` // nil: a policy keeps events live for ever
	Archive   archive.RunResult  `json:"archive"`
	Archived  int64              `json:"archived_events_total"` // in the archive after the cycle
	ReadModel struct {
		Backend          string `json:"backend,omitempty"`
		DocumentsExpired int64  `json:"documents_expired"`
		ServerTTL        bool   `json:"server_ttl"` // MongoDB's TTL monitor deletes them, not the cycle
		// TTLIndexes are the TTL indexes the policies govern and their
		// days in force (decision 101); TTLIndexesChanged counts the
		// MongoDB indexes changed in place (collMod) by this cycle.
		TTLIndexes        []ttlReport `json:"ttl_indexes,omitempty"`
		TTLIndexesChanged int         `json:"ttl_indexes_changed"`
	} `json:"read_models"`
	IdempotencyBefore time.Time `json:"idempotency_purged_before"`
	IdempotencyPurged int64     `json:"idempotency_records_purged"`
	DurationSeconds   float64   `json:"duration_seconds"`
	NotDone           []string  `json:"not_done,omitempty"`
}

// run runs the cycle as of now.
func (c *retentionCycle) run(ctx context.Context, now time.Time, dryRun bool, prog func(done, total int64)) (retentionReport, error) {
	start := time.Now()
	rep := retentionReport{DryRun: dryRun, Now: now.UTC()}
	policies, err := retcmd.Policies(ctx, c.store, c.codec)
	if err != nil {
		return rep, err
	}
	rep.Policies = policies

	// (a) read-model documents past their TTL.
	rep.ReadModel.Backend = c.readModels.Backend
	rep.ReadModel.ServerTTL = c.readModels.Backend == "mongodb"
	switch {
	case len(c.readModels.Stores) == 0:
		rep.NotDone = append(rep.NotDone, "read models not opened: expired documents not dropped")
	case dryRun:
		rep.NotDone = append(rep.NotDone, "dry run: expired read-model documents not counted")
	default:
		// The policies in force set the governed TTL indexes' expiry
		// first (decision 101), then the sweep expires by them.
		ttls, changed, err := applyTTLPolicies(ctx, c.readModels, policies)
		rep.ReadModel.TTLIndexes, rep.ReadModel.TTLIndexesChanged = ttls, changed
		if err != nil {
			return rep, err
		}
		for db, s := range c.readModels.Stores {
			n, err := s.SweepExpired(ctx, now)
			if err != nil {
				return rep, fmt.Errorf("drop expired documents of %s: %w", db, err)
			}
			rep.ReadModel.DocumentsExpired += n
		}
	}

	// (b) events older than the cut-off, a prefix of the log.
	if cutoff, ok := retention.Cutoff(policies, now); ok {
		rep.Cutoff = &cutoff
		res, err := archive.Run(ctx, c.store, archive.RunOptions{Cutoff: cutoff, SegmentEvents: c.segmentEvents, DryRun: dryRun, Progress: prog})
		rep.Archive = res
		if c.metrics != nil {
			c.metrics.archived.Add(float64(res.DeletedEvents))
			c.metrics.bytes.Add(float64(res.Bytes))
			c.metrics.segments.Add(float64(res.Segments))
		}
		if err != nil {
			return rep, err
		}
	} else {
		rep.NotDone = append(rep.NotDone, "a policy keeps its module's events live for ever (0 days): no event archived")
	}
	rep.Archived = c.store.Archive().Events()

	// (c) idempotency records past the window.
	rep.IdempotencyBefore = now.Add(-c.window).UTC()
	if dryRun {
		rep.NotDone = append(rep.NotDone, "dry run: idempotency records not counted")
	} else {
		n, err := c.store.PurgeIdempotency(ctx, rep.IdempotencyBefore)
		if err != nil {
			return rep, err
		}
		rep.IdempotencyPurged = n
	}
	d := time.Since(start)
	rep.DurationSeconds = d.Seconds()
	if c.metrics != nil && !dryRun {
		c.metrics.expired.Add(float64(rep.ReadModel.DocumentsExpired))
		c.metrics.purged.Add(float64(rep.IdempotencyPurged))
		c.metrics.duration.Observe(d.Seconds())
		c.metrics.last.Set(float64(time.Now().Unix()))
	}
	return rep, nil
}

// retentionMetrics are the cycle's Prometheus metrics.
type retentionMetrics struct {
	archived, bytes, segments, expired, purged prometheus.Counter
	duration                                   prometheus.Histogram
	last                                       prometheus.Gauge
}

func newRetentionMetrics(reg prometheus.Registerer) *retentionMetrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "cspm", Subsystem: "retention", Name: name, Help: help})
	}
	m := &retentionMetrics{
		archived: counter("events_archived_total", "Events archived and deleted from the live store."),
		bytes:    counter("archive_bytes_total", "Compressed bytes of archive segments written."),
		segments: counter("archive_segments_total", "Archive segments written."),
		expired:  counter("read_model_documents_expired_total", "Read-model documents dropped past their TTL by the cycle (SQLite)."),
		purged:   counter("idempotency_records_purged_total", "Idempotency records purged past the idempotency window."),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "cspm", Subsystem: "retention", Name: "cycle_duration_seconds",
			Help: "Duration of a retention cycle.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "cspm", Subsystem: "retention", Name: "last_run_timestamp_seconds",
			Help: "When the last retention cycle ended (Unix time)."}),
	}
	reg.MustRegister(m.archived, m.bytes, m.segments, m.expired, m.purged, m.duration, m.last)
	return m
}

// logReport logs a cycle's outcome.
func logReport(log *slog.Logger, rep retentionReport) {
	log.Info("retention cycle done", "dry_run", rep.DryRun, "events_archived", rep.Archive.Events, "segments", rep.Archive.Segments,
		"bytes", rep.Archive.Bytes, "archived_to_position", rep.Archive.ToPosition, "read_model_documents_expired", rep.ReadModel.DocumentsExpired,
		"idempotency_records_purged", rep.IdempotencyPurged, "duration", time.Duration(rep.DurationSeconds*float64(time.Second)))
}

// ---- CLI ----

func retentionCommand() *command {
	return &command{
		name:    "retention",
		summary: "retention policies and the retention cycle (archival)",
		description: "Retention policies say, per module, how many days its data stays in the live\n" +
			"store (default 180 days for scan results). The retention cycle drops expired\n" +
			"read-model documents, archives the events older than the policies' cut-off to\n" +
			"--archive-dir (nothing is lost: every reader goes through the archive) and\n" +
			"purges idempotency records older than --idempotency-window. See docs/archival.md.",
		subs: []*command{retentionPoliciesCommand(), retentionSetCommand(), retentionRunCommand()},
	}
}

func retentionPoliciesCommand() *command {
	return &command{
		name:        "policies",
		summary:     "list the retention policies in force",
		description: "Lists every module's retention policy (days; 0 keeps its events live for ever) and who set it.",
		groups:      storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print a JSON array")
			return func(ctx context.Context, inv *invocation) error {
				store, err := openEventStoreReadOnly(ctx, inv.cfg, inv.log)
				if err != nil {
					return err
				}
				defer closeStore(inv, store)
				ps, err := retcmd.Policies(ctx, store, eventstore.NewDomainCodec())
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(inv.stdout, ps)
				}
				printPolicies(inv.stdout, ps)
				return nil
			}
		},
	}
}

func printPolicies(w io.Writer, ps []retention.Policy) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tDAYS\tSET AT\tSET BY\tREASON")
	for _, p := range ps {
		days, at := fmt.Sprint(p.Days), "-"
		if p.Days == retention.KeepForever {
			days = "0 (keep live)"
		}
		if p.Default {
			days += " (default)"
		}
		if p.SetAt != nil {
			at = p.SetAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Module, days, at, orDash(p.SetBy), orDash(p.Reason))
	}
	_ = tw.Flush()
}

// retentionLockHint is what a retention command says when a server owns
// the data directory.
const retentionLockHint = "stop it first, or let it run the cycle itself (--retention-interval) and set policies through its API (PUT /api/v1/retention-policies/{module})"

func retentionSetCommand() *command {
	return &command{
		name:    "set",
		summary: "set a module's retention policy",
		args:    "--module M --days N [--reason TEXT]",
		description: "Appends RetentionPolicySet for the module (nothing when the policy in force\n" +
			"already says the same). --days 0 keeps the module's events live for ever;\n" +
			"otherwise 30..3650. Modules: " + moduleList() + ".",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			module := fs.String("module", "", "module (required): "+moduleList())
			days := fs.Int("days", -1, "days of retention (required; 0: keep live for ever)")
			reason := fs.String("reason", "", "why (recorded with the policy)")
			return func(ctx context.Context, inv *invocation) error {
				if *module == "" {
					return usageError("--module is required (%s)", moduleList())
				}
				if *days < 0 {
					return usageError("--days is required (0, or %d..%d)", retention.MinDays, retention.MaxDays)
				}
				store, key, release, err := openEventStoreToWrite(ctx, inv, "cspm retention set", retentionLockHint)
				if err != nil {
					return err
				}
				defer release()
				h := retcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now))
				res, err := h.SetPolicy(ctx, commands.Meta{TeamID: retcmd.OperatorTeam, Actor: cliActor, Route: "cli retention set"},
					retcmd.SetPolicy{Module: *module, Days: *days, Reason: *reason})
				var v *domain.ValidationError
				if errors.As(err, &v) {
					parts := make([]string, len(v.Fields))
					for i, f := range v.Fields {
						parts[i] = "--" + f.Field + ": " + f.Message
					}
					return usageError("%s", strings.Join(parts, "; "))
				}
				if err != nil {
					return err
				}
				takeCheckpoint(ctx, inv, store, key)
				fmt.Fprintf(inv.stderr, "retention of %s: %d days (stream %s, version %d)\n", *module, *days, res.StreamID, res.Version)
				return nil
			}
		},
	}
}

func moduleList() string {
	names := make([]string, len(retention.Modules))
	for i, m := range retention.Modules {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

func retentionRunCommand() *command {
	return &command{
		name:    "run",
		summary: "run the retention cycle once (progress bar; --dry-run)",
		args:    "[--dry-run] [--json]",
		description: "Drops expired read-model documents, archives the events recorded before the\n" +
			"policies' cut-off (a prefix of the log; segments are written, synced and read\n" +
			"back before the events leave the live store) and purges idempotency records\n" +
			"older than --idempotency-window. --dry-run only says what would be archived.\n" +
			"On the embedded store it is refused while a server owns the data directory\n" +
			"(the server runs the cycle itself every --retention-interval).",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			dry := fs.Bool("dry-run", false, "count what would be archived; write and delete nothing")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			nowFlag := fs.String("now", "", "judge the policies as of this RFC 3339 instant instead of now (what-if runs, tests)")
			return func(ctx context.Context, inv *invocation) error {
				now := time.Now()
				if *nowFlag != "" {
					t, err := time.Parse(time.RFC3339Nano, *nowFlag)
					if err != nil {
						return usageError("--now %q: want RFC 3339, e.g. 2026-06-01T00:00:00Z", *nowFlag)
					}
					now = t
				}
				return runRetention(ctx, inv, now, *dry, *asJSON)
			}
		},
	}
}

func runRetention(ctx context.Context, inv *invocation, now time.Time, dry, asJSON bool) error {
	var (
		store   eventstore.Store
		key     eventstore.AuditKey
		release = func() {}
		err     error
	)
	if dry {
		store, err = openEventStoreReadOnly(ctx, inv.cfg, inv.log)
		if err == nil {
			release = func() { closeStore(inv, store) }
		}
	} else {
		store, key, release, err = openEventStoreToWrite(ctx, inv, "cspm retention run", retentionLockHint)
	}
	if err != nil {
		return err
	}
	defer release()
	through, ok := store.(*archive.Store)
	if !ok {
		return fmt.Errorf("event store %T is not read through the archive", store)
	}
	cycle := &retentionCycle{store: through, codec: eventstore.NewDomainCodec(), window: inv.cfg.IdempotencyWindow, log: inv.log}
	if !dry {
		reg, err := dbregistry.New(inv.cfg.DBPrefix)
		if err != nil {
			return err
		}
		rm, closeAll, err := openReadModels(ctx, inv.cfg, reg, inv.log)
		if err != nil {
			return err
		}
		defer func() { _ = closeAll(context.WithoutCancel(ctx)) }()
		cycle.readModels = rm
	}
	bar := progress.New(inv.stderr, "archiving", -1)
	rep, err := cycle.run(ctx, now, dry, bar.Update)
	bar.Finish()
	if err != nil {
		return fmt.Errorf("retention cycle: %w", err)
	}
	if !dry && rep.Archive.Events > 0 {
		takeCheckpoint(ctx, inv, store, key)
	}
	if asJSON {
		return writeJSON(inv.stdout, rep)
	}
	printRetention(inv.stdout, rep)
	return nil
}

func printRetention(w io.Writer, rep retentionReport) {
	verb := "archived"
	if rep.DryRun {
		verb = "would archive"
	}
	if rep.Cutoff != nil {
		fmt.Fprintf(w, "cut-off: events recorded before %s\n", rep.Cutoff.UTC().Format(time.RFC3339))
	}
	if rep.Archive.Events > 0 {
		fmt.Fprintf(w, "%s %d events (positions %d..%d) in %d segments, %d bytes\n", verb, rep.Archive.Events,
			rep.Archive.FromPosition, rep.Archive.ToPosition, rep.Archive.Segments, rep.Archive.Bytes)
	} else {
		fmt.Fprintf(w, "%s no events\n", verb)
	}
	fmt.Fprintf(w, "archive holds %d events\n", rep.Archived)
	if !rep.DryRun {
		fmt.Fprintf(w, "read-model documents expired: %d", rep.ReadModel.DocumentsExpired)
		if rep.ReadModel.ServerTTL {
			fmt.Fprint(w, " (MongoDB's TTL indexes expire them on the server)")
		}
		if n := len(rep.ReadModel.TTLIndexes); n > 0 {
			byModule := map[string]int{}
			for _, ix := range rep.ReadModel.TTLIndexes {
				byModule[ix.Module] = ix.Days
			}
			var parts []string
			for _, m := range slices.Sorted(maps.Keys(byModule)) {
				d := fmt.Sprintf("%d days", byModule[m])
				if byModule[m] == 0 {
					d = "kept (0 days)"
				}
				parts = append(parts, m+": "+d)
			}
			fmt.Fprintf(w, "\nread-model TTL indexes governed by the policies: %d (%s)", n, strings.Join(parts, ", "))
			if rep.ReadModel.ServerTTL {
				fmt.Fprintf(w, ", %d changed on the server", rep.ReadModel.TTLIndexesChanged)
			}
		}
		fmt.Fprintf(w, "\nidempotency records purged (created before %s): %d\n", rep.IdempotencyBefore.Format(time.RFC3339), rep.IdempotencyPurged)
	}
	for _, n := range rep.NotDone {
		fmt.Fprintf(w, "not done: %s\n", n)
	}
}

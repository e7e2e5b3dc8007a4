package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/progress"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

const storeGroups = config.GroupRegistry | config.GroupStorage | config.GroupLogging

func eventsCommand() *command {
	return &command{
		name:        "events",
		summary:     "event store audit tools",
		description: "Read and audit the event store: replay a stream, export events, verify the hash chains.",
		subs:        []*command{eventsReplayCommand(), eventsExportCommand(), eventsVerifyCommand()},
	}
}

// ---- replay ----

func eventsReplayCommand() *command {
	return &command{
		name:    "replay",
		summary: "print a stream's history and the state rebuilt from it",
		args:    "--stream ID [--as-of RFC3339 | --version N]",
		description: "Prints a stream's events, one line each, then the aggregate's state\n" +
			"rebuilt from them. --as-of or --version stops the replay at that instant\n" +
			"or version: the state the system had then.",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			stream := fs.String("stream", "", "stream id, e.g. scan-0190b3c4-... (required)")
			asOf := fs.String("as-of", "", "replay events recorded at or before this RFC 3339 instant")
			version := fs.Int64("version", 0, "replay events up to this stream version")
			asJSON := fs.Bool("json", false, "print one JSON document {stream_id, as_of, version, events, state}")
			return func(ctx context.Context, inv *invocation) error {
				if *stream == "" {
					return usageError("--stream is required")
				}
				var at eventstore.AsOf
				if *asOf != "" && *version != 0 {
					return usageError("give --as-of or --version, not both")
				}
				if *asOf != "" {
					t, err := time.Parse(time.RFC3339Nano, *asOf)
					if err != nil {
						return usageError("--as-of %q: want RFC 3339, e.g. 2025-06-01T12:00:00Z", *asOf)
					}
					at.Time = t
				}
				if *version < 0 {
					return usageError("--version must be positive")
				}
				at.Version = *version
				return replay(ctx, inv, *stream, at, *asJSON)
			}
		},
	}
}

// replayOutput is the --json document of `events replay`.
type replayOutput struct {
	StreamID string                     `json:"stream_id"`
	AsOf     *replayAsOf                `json:"as_of,omitempty"`
	Version  int64                      `json:"version"`
	Events   []eventstore.RecordedEvent `json:"events"`
	State    any                        `json:"state"`
}

type replayAsOf struct {
	Time    *time.Time `json:"time,omitempty"`
	Version int64      `json:"version,omitempty"`
}

func replay(ctx context.Context, inv *invocation, streamID string, at eventstore.AsOf, asJSON bool) error {
	store, err := openEventStoreReadOnly(ctx, inv.cfg, inv.log)
	if err != nil {
		return err
	}
	defer closeStore(inv, store)

	events, err := eventstore.ReplayStream(ctx, store, streamID, at)
	if err != nil {
		return fmt.Errorf("replay %s: %w", streamID, err)
	}
	if len(events) == 0 {
		if at.Time.IsZero() && at.Version == 0 {
			return fmt.Errorf("stream %q has no events", streamID)
		}
		return fmt.Errorf("stream %q has no events %s", streamID, describeAsOf(at))
	}
	codec, err := readCodec(inv.cfg, inv.log) // wiring_privacy.go: personal fields clear, or erased
	if err != nil {
		return err
	}
	state, err := commands.State(codec, events)
	if err != nil {
		return fmt.Errorf("rebuild state of %s: %w", streamID, err)
	}
	last := events[len(events)-1]

	if asJSON {
		out := replayOutput{StreamID: streamID, Version: last.Version, Events: events, State: state}
		if !at.Time.IsZero() || at.Version != 0 {
			out.AsOf = &replayAsOf{Version: at.Version}
			if !at.Time.IsZero() {
				t := at.Time.UTC()
				out.AsOf.Time = &t
			}
		}
		enc := json.NewEncoder(inv.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}

	fmt.Fprintf(inv.stdout, "stream %s (%s): %d events", streamID, last.StreamType, len(events))
	if at.Time.IsZero() && at.Version == 0 {
		fmt.Fprintln(inv.stdout)
	} else {
		fmt.Fprintf(inv.stdout, " %s\n", describeAsOf(at))
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tPOSITION\tRECORDED AT\tTYPE\tSCHEMA\tACTOR\tDATA")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\tv%d\t%s\t%s\n", e.Version, e.Position,
			e.RecordedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), e.Type, e.SchemaVersion, orDash(e.Metadata.Actor), e.Data)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	stateJSON, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	fmt.Fprintf(inv.stdout, "\nstate at version %d:\n%s\n", last.Version, stateJSON)
	return nil
}

func describeAsOf(at eventstore.AsOf) string {
	switch {
	case !at.Time.IsZero() && at.Version != 0:
		return fmt.Sprintf("as of %s, version %d", at.Time.UTC().Format(time.RFC3339Nano), at.Version)
	case !at.Time.IsZero():
		return "as of " + at.Time.UTC().Format(time.RFC3339Nano)
	default:
		return "up to version " + strconv.FormatInt(at.Version, 10)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- export ----

// exportBatch is how many events one ReadAll of export fetches.
const exportBatch = 1000

func eventsExportCommand() *command {
	return &command{
		name:    "export",
		summary: "write events as JSON Lines (full envelopes, as stored)",
		args:    "[--from-position N] [--to-position M] [--out FILE]",
		description: "Writes the events between two global positions (inclusive) as JSON Lines:\n" +
			"one full envelope per line, exactly as stored (data is not upcast), in\n" +
			"position order. Output goes to stdout unless --out names a file, which is\n" +
			"written whole or not at all. A progress bar shows on stderr when it is a\n" +
			"terminal.",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			from := fs.Int64("from-position", 1, "first global position to export")
			to := fs.Int64("to-position", 0, "last global position to export (0: the head at start)")
			out := fs.String("out", "", "write to this file instead of stdout")
			return func(ctx context.Context, inv *invocation) error {
				if *from < 1 {
					return usageError("--from-position must be at least 1")
				}
				if *to != 0 && *to < *from {
					return usageError("--to-position %d is before --from-position %d", *to, *from)
				}
				return export(ctx, inv, *from, *to, *out)
			}
		},
	}
}

func export(ctx context.Context, inv *invocation, from, to int64, outPath string) error {
	store, err := openEventStoreReadOnly(ctx, inv.cfg, inv.log)
	if err != nil {
		return err
	}
	defer closeStore(inv, store)

	head, err := store.HeadPosition(ctx)
	if err != nil {
		return fmt.Errorf("head position: %w", err)
	}
	if to == 0 || to > head {
		to = head
	}

	bar := progress.New(inv.stderr, "exporting", max(to-from+1, 0))
	var n int64
	write := func(w io.Writer) error {
		n, err = writeEvents(ctx, store, w, from, to, bar)
		return err
	}
	if outPath == "" {
		err = write(inv.stdout)
	} else {
		err = writeFileAtomic(outPath, write)
	}
	bar.Finish()
	if err != nil {
		return err
	}
	if outPath != "" {
		fmt.Fprintf(inv.stderr, "exported %d events (positions %d..%d) to %s\n", n, from, max(to, from-1), outPath)
	}
	return nil
}

// writeFileAtomic writes path through a temporary file in the same
// directory, synced and renamed into place: path is written whole or not at all.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeEvents writes the events with from <= position <= to as JSON Lines.
func writeEvents(ctx context.Context, store eventstore.Store, w io.Writer, from, to int64, bar *progress.Bar) (int64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // keep data byte for byte as stored
	var n int64
	for after := from - 1; after < to; {
		batch, err := store.ReadAll(ctx, after, int(min(exportBatch, to-after)))
		if err != nil {
			return n, fmt.Errorf("read events after position %d: %w", after, err)
		}
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			if e.Position > to {
				break
			}
			if err := enc.Encode(e); err != nil {
				return n, fmt.Errorf("write event at position %d: %w", e.Position, err)
			}
			n++
			after = e.Position
		}
		bar.Update(n, to-from+1)
		if batch[len(batch)-1].Position > to {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write: %w", err)
	}
	return n, nil
}

// ---- verify ----

func eventsVerifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "check the event store's tamper evidence (exit 1 if broken)",
		description: "Walks the whole log once and checks: every event's hash and its stream's\n" +
			"hash chain (versions 1..n, prev_hash links), that global positions are\n" +
			"dense, the global chain over positions (log_hash, keyed with the audit key\n" +
			"of --audit-dir), stream heads, the checkpoints (the store's history and the\n" +
			"latest copy in --audit-dir: a log cut below one is named) and the\n" +
			"idempotency records. Exits 0 with a summary when everything checked is\n" +
			"intact, 1 naming the first broken link (position, stream, version, event\n" +
			"id, reason) otherwise; both say what could not be checked (no key, no\n" +
			"checkpoint copy) and how many events lie after the latest checkpoint.\n" +
			"It only reads, and works beside a running server.",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print the report as one JSON document (the answer of GET /api/v1/audit/verify)")
			return func(ctx context.Context, inv *invocation) error { return verify(ctx, inv, *asJSON) }
		},
	}
}

func verify(ctx context.Context, inv *invocation, asJSON bool) error {
	key, err := readAuditKey(inv.cfg)
	if err != nil {
		return fmt.Errorf("%w (--audit-dir / CSPM_AUDIT_DIR)", err)
	}
	store, err := openEventStoreReadOnly(ctx, inv.cfg, inv.log)
	if err != nil {
		return err
	}
	defer closeStore(inv, store)

	// Verify checks the archive's own chain first (docs/archival.md);
	// the summary says what it holds.
	archiveLine := ""
	if through, ok := store.(*archive.Store); ok {
		if n := through.Archive().Events(); n > 0 {
			archiveLine = fmt.Sprintf("archive: %d events in %d segments under %s (sha256 and manifest chain checked; verified above as part of the log)\n",
				n, len(through.Archive().Segments()), through.Archive().Dir())
		}
	}
	bar := progress.New(inv.stderr, "verifying", -1)
	start := time.Now()
	report, err := eventstore.Verify(ctx, store, eventstore.VerifyOptions{Key: key, AuditDir: inv.cfg.AuditDirectory(), Progress: bar.Update})
	bar.Finish()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(inv.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(platformquery.NewVerifyResult(report, start, time.Since(start))); err != nil {
			return err
		}
	} else {
		printReport(inv.stdout, report)
		if report.Broken == nil {
			fmt.Fprint(inv.stdout, archiveLine)
		}
	}
	if report.Broken != nil {
		return &exitError{code: exitFailure}
	}
	return nil
}

// printReport writes a verification report for humans: the verdict first.
func printReport(w io.Writer, r eventstore.VerifyReport) {
	if b := r.Broken; b != nil {
		fmt.Fprintf(w, "BROKEN: %s\n", b)
		fmt.Fprintf(w, "(%d events in %d streams checked)\n", r.EventsChecked, r.StreamsChecked)
	} else {
		fmt.Fprintf(w, "OK: %d events in %d streams verified; every hash chain is intact\n", r.EventsChecked, r.StreamsChecked)
	}
	if r.Keyed {
		fmt.Fprintf(w, "global chain: checked with audit key %s (store %s)\n", r.KeyID, r.StoreID)
	}
	fmt.Fprintf(w, "checkpoints checked: %d; idempotency records checked: %d\n", r.CheckpointsChecked, r.IdempotencyChecked)
	if c := r.LatestCheckpoint; c != nil {
		fmt.Fprintf(w, "latest checkpoint: position %d, %s (%s, from the %s); %d events after it are not protected by a checkpoint yet\n",
			c.Position, c.TakenAt.UTC().Format(time.RFC3339), c.Reason, map[string]string{"audit_dir": "audit directory", "store": "store"}[c.Source],
			r.EventsAfterCheckpoint)
	}
	for _, n := range r.NotChecked {
		fmt.Fprintf(w, "not checked: %s\n", n)
	}
}

func closeStore(inv *invocation, store eventstore.Store) {
	if err := store.Close(); err != nil && !errors.Is(err, context.Canceled) {
		inv.log.Warn("close event store", "error", err)
	}
}

package queriestest

// BenchmarkRebuildAll: `rebuild --all` of the whole product (every
// projection of AllProjections, 14 module databases on SQLite) over an
// event store of the real workload's shape, rebuilt together (one shared
// read, projections in parallel) against the sequential baseline (one
// projection after another, as rebuild --all did before) in the same run:
//
//	go test -run '^$' -bench RebuildAll -benchtime 1x -timeout 60m ./queries/queriestest/
//	CSPM_BENCH_REBUILD_ALL_EVENTS=1000000 go test -run '^$' -bench RebuildAll -benchtime 1x -timeout 60m ./queries/queriestest/
//
// (-v shows the whole table of bytes per finding per collection; without
// it go test keeps the first lines of a benchmark's log.)
//
// CSPM_BENCH_REBUILD_ALL_EVENTS (default 100,000) sizes the store; it is
// built once and kept in os.TempDir() (cspm-rebuild-all-bench-<n>.sqlite).
// CSPM_BENCH_REBUILD_ALL_SKIP_SEQUENTIAL=1 leaves the baseline out (it
// takes about 6 minutes at 1,000,000 events); the ratio is then not
// reported.
//
// The workload: the rebuild-equivalence world (every module's
// collections get documents), then, per 753 events, a scan run reported
// over HTTP (ScanRequested, ScanStarted, 500 FindingRaised, a quarter
// resolved and a quarter suppressed, ScanCompleted; each finding its own
// stream, as the batch route appends them), and every 100 scans one
// account's two Prowler imports (10,000 findings, 20,000 results in
// chunks of 250, with their scan runs). Each AppendBatch of up to 100
// requests (findings) is one command, as one request of the batch route
// is (the audit log keeps an entry per command); an account's imports
// are one command.
//
// Metrics: events/s and s/rebuild of both, together_x (sequential time /
// together time), cpus (CPU time / wall time) and cpu_s/rebuild (the
// process's CPU seconds: the figure least moved by other load on the
// machine) of both,
// and the footprint after it: es_bytes/event (the event store file),
// rm_bytes/finding (all module databases, after the rebuild's swap and
// compaction), es_rm_bytes/finding (both) and findings.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	csproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
)

func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func BenchmarkRebuildAll(b *testing.B) {
	n := benchEnvInt("CSPM_BENCH_REBUILD_ALL_EVENTS", 100_000)
	path := rebuildAllFixture(b, n)
	ctx := context.Background()
	events, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: "normal"})
	require.NoError(b, err)
	b.Cleanup(func() { _ = events.Close() })
	head, err := events.HeadPosition(ctx)
	require.NoError(b, err)
	codec := eventstore.NewDomainCodec()
	log := slog.New(slog.DiscardHandler)

	// run rebuilds every projection into fresh module databases.
	run := func(b *testing.B, together bool) (took, cpu time.Duration, env *Env, dir string) {
		dir = b.TempDir()
		env = OpenEnv(b, dir)
		b.Cleanup(func() { env.Close(b) })
		stores := map[dbregistry.Constant]readmodel.Store{}
		for c, s := range env.Stores {
			stores[c] = s
		}
		rt := projections.NewRuntime(projections.RuntimeConfig{}, projections.RuntimeDeps{Events: events, Codec: codec, Stores: stores, Logger: log})
		for _, p := range AllProjections() {
			rt.Register(p)
		}
		began, cpu0 := time.Now(), cpuTime()
		if together {
			require.NoError(b, rt.RebuildAll(ctx, nil))
		} else {
			for _, name := range rt.Names() {
				require.NoError(b, rt.Rebuild(ctx, name, nil))
			}
		}
		took, cpu = time.Since(began), cpuTime()-cpu0
		for _, p := range AllProjections() {
			cp, err := env.Stores[p.Database()].Checkpoint(ctx, p.Name())
			require.NoError(b, err)
			require.LessOrEqual(b, cp, head, p.Name())
		}
		return took, cpu, env, dir
	}

	var seqTook, seqCPU, togTook, togCPU time.Duration
	var findings int64
	var rmBytes int64
	sequential := os.Getenv("CSPM_BENCH_REBUILD_ALL_SKIP_SEQUENTIAL") == ""
	for range b.N {
		if sequential {
			took, cpu, _, _ := run(b, false)
			seqTook += took
			seqCPU += cpu
		}
		took, cpu, env, dir := run(b, true)
		togTook += took
		togCPU += cpu
		findings, err = env.Stores[dbregistry.CLOUD_SECURITY].Count(ctx, csproj.FindingsCollection, readmodel.Filter{})
		require.NoError(b, err)
		rmBytes = dirBytes(b, dir)
		if findings > 0 {
			reportSizes(b, env, findings)
		}
	}
	esBytes := fileBytes(b, path)
	b.ReportMetric(float64(head), "events")
	b.ReportMetric(float64(head*int64(b.N))/togTook.Seconds(), "events/s")
	b.ReportMetric(togTook.Seconds()/float64(b.N), "s/rebuild")
	b.ReportMetric(togCPU.Seconds()/togTook.Seconds(), "cpus")
	b.ReportMetric(togCPU.Seconds()/float64(b.N), "cpu_s/rebuild")
	if sequential {
		b.ReportMetric(float64(head*int64(b.N))/seqTook.Seconds(), "seq_events/s")
		b.ReportMetric(seqTook.Seconds()/float64(b.N), "seq_s/rebuild")
		b.ReportMetric(seqTook.Seconds()/togTook.Seconds(), "together_x")
		b.ReportMetric(seqCPU.Seconds()/float64(b.N), "seq_cpu_s/rebuild")
		b.ReportMetric(seqCPU.Seconds()/seqTook.Seconds(), "seq_cpus")
	}
	b.ReportMetric(float64(findings), "findings")
	b.ReportMetric(float64(esBytes)/float64(head), "es_bytes/event")
	if findings > 0 {
		b.ReportMetric(float64(rmBytes)/float64(findings), "rm_bytes/finding")
		// The event store and the read models together (issue 17's goal
		// for the data directory: 3 KB per finding; the NATS stream,
		// bounded by age, is not counted).
		b.ReportMetric(float64(esBytes+rmBytes)/float64(findings), "es_rm_bytes/finding")
	}
}

// rebuildAllFixture returns an event store file of at least n events of
// the workload above, built once and kept in os.TempDir().
func rebuildAllFixture(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("cspm-rebuild-all-bench-v2-%d.sqlite", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(tmp + suffix)
	}
	began := time.Now()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, tmp, sqlite.Options{Synchronous: "normal"})
	require.NoError(b, err)
	codec := eventstore.NewDomainCodec()
	appendWorld(b, store, codec)

	var reqs []eventstore.AppendRequest
	command := "" // the command of the requests in reqs (the audit log keeps an entry per command)
	commands := 0
	flush := func() {
		if len(reqs) > 0 {
			_, err := store.AppendBatch(ctx, reqs)
			require.NoError(b, err)
			reqs = reqs[:0]
		}
	}
	add := func(team, stream, typ string, data ...EventData) {
		if len(reqs) == 0 && command == "" {
			commands++
			command = fmt.Sprintf("cmd-%07d", commands)
		}
		req := eventstore.AppendRequest{StreamID: stream, StreamType: typ, Expected: eventstore.Any,
			Metadata: eventstore.Metadata{TeamID: team, Actor: "bench", CommandID: command}}
		for _, d := range data {
			ne, err := codec.Encode(d)
			require.NoError(b, err)
			req.Events = append(req.Events, ne)
		}
		reqs = append(reqs, req)
		if len(reqs) >= 100 {
			flush()
			command = ""
		}
	}
	sevs := []csdomain.Severity{csdomain.SeverityCritical, csdomain.SeverityHigh, csdomain.SeverityHigh, csdomain.SeverityMedium,
		csdomain.SeverityMedium, csdomain.SeverityLow, csdomain.SeverityInformational}
	const perScan = 500
	for s := 0; ; s++ {
		head, err := store.HeadPosition(ctx)
		require.NoError(b, err)
		if head >= int64(n) {
			break
		}
		team := fmt.Sprintf("team-%02d", s%20)
		if s%100 == 99 { // an account's two imports
			w := ImportWorld{Team: fmt.Sprintf("team-import-%03d", s/100), Accounts: 1}
			for chunk := range w.Chunks(1) {
				for _, ev := range chunk {
					stream, typ := "import-", "Import"
					switch d := ev.Data.(type) {
					case csdomain.ImportStarted:
						stream += d.ImportID
					case csdomain.ChecksDescribed:
						stream += d.ImportID
					case csdomain.ResultsRecorded:
						stream += d.ImportID
					case csdomain.ImportCompleted:
						stream += d.ImportID
					case orchdomain.ScanRequested:
						stream, typ = "scan-"+d.ScanID, "ScanRun"
					case orchdomain.ScanStarted:
						stream, typ = "scan-"+d.ScanID, "ScanRun"
					case orchdomain.ScanCompleted:
						stream, typ = "scan-"+d.ScanID, "ScanRun"
					default:
						b.Fatalf("an import event of type %s", ev.Type)
					}
					add(w.Team, stream, typ, ev.Data.(EventData))
					flush() // a chunk of results is ~100 KB: one request per batch
				}
			}
			flush()
			command = ""
			continue
		}
		id := fmt.Sprintf("bench-scan-%06d", s)
		scan := "scan-" + id
		requested := T0.Add(time.Duration(s) * time.Minute)
		account := fmt.Sprintf("acc-%d", s%7)
		add(team, scan, "ScanRun", orchdomain.ScanRequested{ScanID: id, AccountID: account, Provider: orchdomain.ProviderAWS,
			Tool: []string{"prowler", "scout"}[s%2], RequestedAt: requested}, orchdomain.ScanStarted{ScanID: id, StartedAt: requested.Add(time.Minute)})
		for f := range perScan {
			fid := fmt.Sprintf("%s-f-%06d-%03d", team, s, f)
			data := []EventData{csdomain.FindingRaised{
				FindingID: fid, ScanID: id, AccountID: account, CheckID: fmt.Sprintf("check-%d", f%40),
				Title: "S3 bucket allows public read access", Severity: sevs[(s+f)%len(sevs)],
				ResourceID: "arn:aws:s3:::bucket-" + fid, Region: "eu-west-1", RaisedAt: requested.Add(time.Duration(f) * time.Second),
			}}
			switch f % 4 {
			case 1:
				data = append(data, csdomain.FindingResolved{FindingID: fid, Reason: "fixed", ResolvedAt: requested.Add(time.Hour)})
			case 2:
				data = append(data, csdomain.FindingSuppressed{FindingID: fid, Reason: "accepted", SuppressedAt: requested.Add(time.Hour)})
			}
			add(team, "finding-"+fid, "Finding", data...)
		}
		add(team, scan, "ScanRun", orchdomain.ScanCompleted{ScanID: id, CompletedAt: requested.Add(2 * time.Hour), ResourceCount: perScan * 3})
		flush()
		command = ""
	}
	require.NoError(b, store.Close())
	require.NoError(b, os.Rename(tmp, path))
	b.Logf("built the event store fixture of %d events in %s: %s", n, time.Since(began).Round(time.Millisecond), path)
	return path
}

// reportSizes logs, per module database and collection, the bytes per
// finding (dbstat: table and indexes), and reports each database's as a
// metric (<database>_B/finding).
func reportSizes(b *testing.B, env *Env, findings int64) {
	b.Helper()
	ctx := context.Background()
	reg := dbregistry.MustNew("")
	var lines []string
	consts := slices.SortedFunc(maps.Keys(env.Stores), func(a, b dbregistry.Constant) int { return strings.Compare(reg.Name(a), reg.Name(b)) })
	for _, c := range consts {
		s := env.Stores[c]
		sizes, err := s.CollectionBytes(ctx)
		require.NoError(b, err)
		var total int64
		names := slices.Sorted(maps.Keys(sizes))
		for _, name := range names {
			total += sizes[name]
		}
		db := reg.Name(c)
		b.ReportMetric(float64(total)/float64(findings), db+"_B/finding")
		lines = append(lines, fmt.Sprintf("%s: %.0f B/finding", db, float64(total)/float64(findings)))
		for _, name := range names {
			if float64(sizes[name])/float64(findings) >= 5 {
				label := name
				if label == "" {
					label = "(free pages)"
				}
				lines = append(lines, fmt.Sprintf("  %-40s %8.1f B/finding %12d bytes", label, float64(sizes[name])/float64(findings), sizes[name]))
			}
		}
	}
	b.Logf("read-model bytes per finding (%d findings):\n%s", findings, strings.Join(lines, "\n"))
}

func fileBytes(b *testing.B, path string) int64 {
	b.Helper()
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			total += fi.Size()
		}
	}
	return total
}

// dirBytes is the size of the module databases in dir (with their WALs).
func dirBytes(b *testing.B, dir string) int64 {
	b.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(b, err)
	var total int64
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(b, err)
		if !e.IsDir() {
			total += fi.Size()
		}
	}
	return total
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

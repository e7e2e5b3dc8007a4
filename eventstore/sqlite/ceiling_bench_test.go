package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/sqlitedb"
)

// The raw ceilings (issue 17): each benchmark below measures the store
// against a raw baseline of the same rows, with the same driver
// (modernc.org/sqlite) and settings, in the same run, op by op (one op
// runs both, in alternating order), so that load from other processes on
// the machine weighs on both alike. The ratios are the figures; the
// absolute rates depend on the machine and its load.

// findingData is a finding-shaped payload (~400 bytes, compact JSON).
var findingData = json.RawMessage(`{"finding_id":"0193a5e2-7c1f-7d2e-9b1a-2f4c6d8e0a11","account_id":"123456789012","provider":"aws","region":"eu-west-1","resource_type":"aws_s3_bucket","resource_id":"arn:aws:s3:::acme-logs-prod-eu-west-1","rule_id":"CKV_AWS_18","title":"Ensure the S3 bucket has access logging enabled","severity":"medium","tool":"checkov","first_seen":"2026-12-01T10:15:42Z","fingerprint":"5f2c9e0d7a1b3c4d"}`)

// realisticMeta is the metadata an API command stamps: a team id, an API
// key as actor, UUIDv7 correlation and command ids, the route and an
// idempotency key.
var realisticMeta = eventstore.Metadata{
	TeamID:         "0193a5e2-0000-7000-8000-00000000team",
	Actor:          "apikey:0193a5e2-0000-7000-8000-000000000key",
	CorrelationID:  "0193a5e2-7c1f-7d2e-9b1a-000000000corr",
	CommandID:      "0193a5e2-7c1f-7d2e-9b1a-0000000000cmd",
	Route:          "POST /api/v1/findings/batch",
	IdempotencyKey: "import-0193a5e2-7c1f-7d2e",
}

// cpuAndWall measures f's wall time and process CPU time.
func cpuAndWall(f func() error) (wall, cpu time.Duration, err error) {
	c0, t0 := processCPU(), time.Now()
	err = f()
	return time.Since(t0), processCPU() - c0, err
}

// pair accumulates the two sides of a same-run comparison.
type pair struct {
	wall, cpu [2]time.Duration // [0] raw, [1] store
}

// report writes events/s and cpu-µs/event of both sides and the ratio
// store/raw of the rates (1 means as fast as raw; above 1, faster).
func (p *pair) report(b *testing.B, events float64) {
	raw, store := events/p.wall[0].Seconds(), events/p.wall[1].Seconds()
	b.ReportMetric(raw, "raw-events/s")
	b.ReportMetric(store, "store-events/s")
	b.ReportMetric(store/raw, "ratio")
	b.ReportMetric(float64(p.cpu[0].Microseconds())/events, "raw-cpu-µs/event")
	b.ReportMetric(float64(p.cpu[1].Microseconds())/events, "store-cpu-µs/event")
	b.ReportMetric(p.cpu[0].Seconds()/p.cpu[1].Seconds(), "cpu-ratio")
}

// seedFindings appends n events in the shape of findings ingest: batches
// of 100 one-event requests, four events per stream on average (each
// batch appends to 25 streams of the previous batches and 75 new ones).
func seedFindings(b *testing.B, s *Store, n int) {
	ctx := context.Background()
	events := []eventstore.NewEvent{{Type: "FindingObserved", SchemaVersion: 1, Data: findingData}}
	reqs := make([]eventstore.AppendRequest, 100)
	for i := 0; i*100 < n; i++ {
		for k := range reqs {
			reqs[k] = eventstore.AppendRequest{
				StreamID: fmt.Sprintf("finding-%08d", i*25+k), StreamType: "finding",
				Expected: eventstore.Any, Events: events, Metadata: realisticMeta,
			}
		}
		if _, err := s.AppendBatch(ctx, reqs[:min(100, n-i*100)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCatchUpRead reads every event of a 20,000-event store in
// position order, the way a projector catches up: the store side pages
// with ReadAll (1,000 events per page) and decodes each row into a
// RecordedEvent (metadata and hash fields included); the raw side is one
// plain `SELECT *` over the same table, through the store's own read pool,
// scanning every column into reused buffers (sql.RawBytes for text and
// blobs), with no decoding. One op reads the whole store once each way.
//
//	go test -run '^$' -bench BenchmarkCatchUpRead -benchtime=20x ./eventstore/sqlite/
func BenchmarkCatchUpRead(b *testing.B) {
	const n = 20_000
	s, _ := openTemp(b, Options{Synchronous: "normal"})
	seedFindings(b, s, n)
	ctx := context.Background()
	raw := func() error { return rawScan(ctx, s.rdb, n) }
	store := func() error {
		var after int64
		read := 0
		for {
			page, err := s.ReadAll(ctx, after, 1000)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			read += len(page)
			after = page[len(page)-1].Position
		}
		if read != n {
			return fmt.Errorf("store read %d events, want %d", read, n)
		}
		return nil
	}
	var p pair
	b.ResetTimer()
	for i := range b.N {
		for j := range 2 {
			side := (i + j) % 2 // alternate which side goes first
			f := raw
			if side == 1 {
				f = store
			}
			wall, cpu, err := cpuAndWall(f)
			if err != nil {
				b.Fatal(err)
			}
			p.wall[side] += wall
			p.cpu[side] += cpu
		}
	}
	b.StopTimer()
	p.report(b, float64(b.N*n))
}

// rawScan is the raw ceiling of a catch-up read: every column of every
// row, in position order, into buffers reused across rows.
func rawScan(ctx context.Context, db *sql.DB, want int) error {
	rows, err := db.QueryContext(ctx, "SELECT * FROM events ORDER BY position")
	if err != nil {
		return err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	dest := make([]any, len(types))
	for i, t := range types {
		if t.DatabaseTypeName() == "INTEGER" {
			dest[i] = new(int64)
		} else {
			dest[i] = new(sql.RawBytes)
		}
	}
	read := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		read++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if read != want {
		return fmt.Errorf("raw scan read %d rows, want %d", read, want)
	}
	return nil
}

// BenchmarkAppendCeiling is issue 17's append figure: one writer appends
// 100 events per transaction, with synchronous=FULL (the default). The
// store side is Store.Append of 100 events to a new stream (validation,
// head and idempotency reads, Prepare with the hash chain, the global
// chain, the inserts and the stream head). The raw side inserts the same
// rows (the values the store binds, encoded before the clock starts) into
// a file with the store's schema, the fastest plain way: BEGIN IMMEDIATE,
// one prepared 100-row INSERT, COMMIT (ratio, cpu-ratio). A third side
// inserts them with one prepared single-row INSERT per row in the same
// transaction shape, the raw mode of BenchmarkAppend
// (ratio-vs-per-row-insert). One op does one of each, in rotating order.
//
//	go test -run '^$' -bench BenchmarkAppendCeiling -benchtime=2000x ./eventstore/sqlite/
func BenchmarkAppendCeiling(b *testing.B) {
	const batch = 100
	ctx := context.Background()
	s, _ := openTemp(b, Options{})
	events := make([]eventstore.NewEvent, batch)
	for j := range events {
		events[j] = eventstore.NewEvent{Type: "FindingObserved", SchemaVersion: 1, Data: findingData}
	}
	store := func(i int) func() error {
		req := eventstore.AppendRequest{
			StreamID: fmt.Sprintf("finding-%08d", i), StreamType: "finding", Expected: eventstore.NoStream,
			Events: events, Metadata: realisticMeta,
		}
		return func() error { _, err := s.Append(ctx, req); return err }
	}

	pools, err := sqlitedb.Open(ctx, filepath.Join(b.TempDir(), "raw.sqlite"), sqlitedb.Config{ReadConns: 1}, migrate)
	if err != nil {
		b.Fatal(err)
	}
	conn := pools.Conn
	var begin, commit, insert, insertOne *sql.Stmt
	for dst, query := range map[**sql.Stmt]string{&begin: "BEGIN IMMEDIATE", &commit: "COMMIT",
		&insert: rawInsertSQL(batch), &insertOne: rawInsertSQL(1)} {
		if *dst, err = conn.PrepareContext(ctx, query); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		_ = closeStmts(begin, commit, insert, insertOne)
		_ = pools.Close()
	})
	template := rawTemplate(b, events[0])
	var position int64
	args := make([]any, 0, batch*16)
	// raw writes the rows of op i, in one statement, or (perRow) one
	// statement per row, as BenchmarkAppend's raw mode does.
	raw := func(i int, perRow bool) func() error {
		args = args[:0]
		for j := range batch {
			position++
			e := template
			e.Position, e.StreamID, e.Version = position, fmt.Sprintf("finding-%08d-%t", i, perRow), int64(j+1)
			e.EventID = uuid.Must(uuid.NewV7()).String()
			args = appendEventArgs(args, &e.RecordedEvent, template.meta, nil)
		}
		return func() error {
			if _, err := begin.ExecContext(ctx); err != nil {
				return err
			}
			if perRow {
				cols := len(insertEventColumns)
				for j := range batch {
					if _, err := insertOne.ExecContext(ctx, args[j*cols:(j+1)*cols]...); err != nil {
						return err
					}
				}
			} else if _, err := insert.ExecContext(ctx, args...); err != nil {
				return err
			}
			_, err := commit.ExecContext(ctx)
			return err
		}
	}

	var p pair
	var perRow [2]time.Duration // wall, cpu of the per-row INSERTs
	b.ResetTimer()
	for i := range b.N {
		for j := range 3 {
			var f func() error
			side := (i + j) % 3 // rotate the order
			switch side {
			case 0:
				f = raw(i, false)
			case 1:
				f = store(i)
			case 2:
				f = raw(i, true)
			}
			wall, cpu, err := cpuAndWall(f)
			if err != nil {
				b.Fatal(err)
			}
			if side == 2 {
				perRow[0] += wall
				perRow[1] += cpu
				continue
			}
			p.wall[side] += wall
			p.cpu[side] += cpu
		}
	}
	b.StopTimer()
	p.report(b, float64(b.N*batch))
	b.ReportMetric(perRow[0].Seconds()/p.wall[1].Seconds(), "ratio-vs-per-row-insert")
	b.ReportMetric(perRow[1].Seconds()/p.cpu[1].Seconds(), "cpu-ratio-vs-per-row-insert")
}

// rawEvent is a row as the raw baseline binds it.
type rawEvent struct {
	eventstore.RecordedEvent
	meta []byte
}

// rawTemplate is one event as the store would store it (hashes set).
func rawTemplate(b *testing.B, ne eventstore.NewEvent) rawEvent {
	evs, err := eventstore.Prepare(eventstore.AppendRequest{StreamID: "finding-0", StreamType: "finding",
		Events: []eventstore.NewEvent{ne}, Metadata: realisticMeta}, 0, "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	e := evs[0]
	e.LogHash = e.Hash
	meta, err := encodeMetadata(realisticMeta)
	if err != nil {
		b.Fatal(err)
	}
	return rawEvent{RecordedEvent: e, meta: meta}
}

// rawInsertSQL inserts n rows of the events table in one statement.
func rawInsertSQL(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(insertEventColumns)), ",") + ")"
	return "INSERT INTO events (" + strings.Join(insertEventColumns, ", ") + ") VALUES " +
		row + strings.Repeat(","+row, n-1)
}

// BenchmarkBytesPerEvent is issue 17's footprint figure: the file's bytes
// per event (after a WAL checkpoint; pages in use, free pages excluded)
// against the raw payload plus the envelope's fixed fields: the data and
// the metadata values as bytes, the event id as 16 bytes (a UUID), stream
// id, stream type and type as their bytes, the three hashes as 32 bytes
// each (SHA-256 and HMAC-SHA256 outputs) and position, version, schema
// version and recorded_at as 8 bytes each. One op appends 100 events in
// the shape of findings ingest (seedFindings: 100 one-event requests,
// about four events per stream); the figures are for the whole run.
//
//	go test -run '^$' -bench BenchmarkBytesPerEvent -benchtime=200x ./eventstore/sqlite/
func BenchmarkBytesPerEvent(b *testing.B) {
	s, path := openTemp(b, Options{Synchronous: "normal"})
	b.ResetTimer()
	seedFindings(b, s, b.N*100)
	b.StopTimer()
	ctx := context.Background()
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	var pages, free, pageSize int64
	for q, dst := range map[string]*int64{"PRAGMA page_count": &pages, "PRAGMA freelist_count": &free, "PRAGMA page_size": &pageSize} {
		if err := s.wconn.QueryRowContext(ctx, q).Scan(dst); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N * 100)
	m := realisticMeta
	payload := len(findingData) + len(m.TeamID) + len(m.Actor) + len(m.CorrelationID) + len(m.CausationID) +
		len(m.CommandID) + len(m.Route) + len(m.IdempotencyKey) +
		16 + len("finding-00000000") + len("finding") + len("FindingObserved") + 3*32 + 4*8
	used := float64((pages - free) * pageSize)
	b.ReportMetric(used/n, "bytes/event")
	b.ReportMetric(float64(fi.Size())/n, "file-bytes/event")
	b.ReportMetric(float64(payload), "raw-bytes/event")
	b.ReportMetric(used/n/float64(payload), "ratio")
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/platform/sqlitedb"

	"github.com/cspm-es/cspm-es/eventstore"
)

// benchData is a typical event payload (~200 bytes, already canonical).
var benchData = json.RawMessage(`{"account_id":"acc-0001","duration_ms":48213,"findings":{"critical":1,"high":7,"low":31,"medium":12},"provider":"aws","region":"eu-west-1","scan_id":"scan-000000001","status":"completed"}`)

var benchMeta = eventstore.Metadata{TeamID: "team-1", Actor: "user-1", CorrelationID: "corr-1", CommandID: "cmd-1"}

// BenchmarkAppend compares Store.Append ("store") with plain INSERTs of rows
// of the same shape into an identical events table ("raw"): same driver,
// pragmas, single write connection and serialization, one transaction per
// batch. One op is one append of batch events; events/s is the throughput
// and cpu-µs/event the process CPU time per event (steadier than wall time
// on a shared machine).
//
//	go test -run '^$' -bench BenchmarkAppend -benchtime=2s ./eventstore/sqlite/
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []string{"raw", "store"} {
		for _, batch := range []int{1, 10, 100} {
			for _, writers := range []int{1, 16} {
				b.Run(fmt.Sprintf("mode=%s/batch=%d/writers=%d", mode, batch, writers), func(b *testing.B) {
					var appendOne func(ctx context.Context, i int64) error
					if mode == "raw" {
						appendOne = rawAppender(b, batch)
					} else {
						appendOne = storeAppender(b, batch)
					}
					runWriters(b, writers, batch, appendOne)
				})
			}
		}
	}
}

// runWriters spreads b.N appends over writers goroutines.
func runWriters(b *testing.B, writers, batch int, appendOne func(ctx context.Context, i int64) error) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu := processCPU()
	for range writers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := appendOne(ctx, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	events := float64(b.N * batch)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/events, "cpu-µs/event")
}

func storeAppender(b *testing.B, batch int) func(ctx context.Context, i int64) error {
	s, _ := openTemp(b, Options{})
	events := make([]eventstore.NewEvent, batch)
	for j := range events {
		events[j] = eventstore.NewEvent{Type: "ScanCompleted", SchemaVersion: 1, Data: benchData}
	}
	return func(ctx context.Context, i int64) error {
		_, err := s.Append(ctx, eventstore.AppendRequest{
			StreamID: fmt.Sprintf("scan-%d", i), StreamType: "scan_run", Expected: eventstore.NoStream,
			Events: events, Metadata: benchMeta,
		})
		return err
	}
}

// rawAppender inserts rows shaped like the store's (UUID ids and 32-byte
// hashes and log hashes in their stored forms, the same data and
// metadata) with no reads, hashing or JSON work.
func rawAppender(b *testing.B, batch int) func(ctx context.Context, i int64) error {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "raw.sqlite")
	// Opened exactly as the store opens its file (same pragmas, one writer).
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Config{Synchronous: "full"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	conn := pools.Conn
	for _, ddl := range []string{eventsTableV3DDL("events")} { // the events table as migration 3 leaves it
		if _, err := conn.ExecContext(ctx, ddl); err != nil {
			b.Fatal(err)
		}
	}
	var begin, commit, insert *sql.Stmt
	for dst, query := range map[**sql.Stmt]string{&begin: "BEGIN IMMEDIATE", &commit: "COMMIT", &insert: insertEventSQL} {
		if *dst, err = conn.PrepareContext(ctx, query); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		_ = closeStmts(begin, commit, insert)
		_ = pools.Close()
	})
	meta, _ := encodeMetadata(benchMeta)
	hash := hashValue(strings.Repeat("ab", 32), nil)
	sem := make(chan struct{}, 1)
	var position int64
	return func(ctx context.Context, i int64) error {
		sem <- struct{}{}
		defer func() { <-sem }()
		if _, err := begin.ExecContext(ctx); err != nil {
			return err
		}
		now := time.Now().UnixMilli()
		for j := range int64(batch) {
			position++
			id := uuidValue(fmt.Sprintf("00000000-0000-7000-8000-%012d", position))
			if _, err := insert.ExecContext(ctx, position, id, fmt.Sprintf("scan-%d", i), "scan_run", j+1,
				"ScanCompleted", 1, string(benchData), meta, now, hash, hash, hash); err != nil {
				return err
			}
		}
		_, err := commit.ExecContext(ctx)
		return err
	}
}

// BenchmarkAppendBatch appends batches of 1,000 one-event requests to 1,000
// distinct streams with Store.AppendBatch, one batch per op: streams=new
// creates them (NoStream), streams=existing appends to the same 1,000
// streams every time (Exact). Compare events/s with BenchmarkAppend's
// mode=raw/batch=100 (plain INSERTs, the raw ceiling) and
// mode=store/batch=100 (one stream per append), run alongside:
//
//	go test -run '^$' -bench 'BenchmarkAppend(Batch|/mode=(raw|store)/batch=100/writers=1$)' -benchtime=2s ./eventstore/sqlite/
func BenchmarkAppendBatch(b *testing.B) {
	const streams = 1000
	for _, mode := range []string{"new", "existing"} {
		b.Run("streams="+mode, func(b *testing.B) {
			s, _ := openTemp(b, Options{})
			ctx := context.Background()
			events := []eventstore.NewEvent{{Type: "ScanCompleted", SchemaVersion: 1, Data: benchData}}
			reqs := make([]eventstore.AppendRequest, streams)
			batch := func(i int) []eventstore.AppendRequest {
				for k := range reqs {
					r := eventstore.AppendRequest{StreamType: "scan_run", Events: events, Metadata: benchMeta}
					if mode == "new" {
						r.StreamID, r.Expected = fmt.Sprintf("scan-%d-%d", i, k), eventstore.NoStream
					} else {
						r.StreamID, r.Expected = fmt.Sprintf("scan-%d", k), eventstore.Exact(int64(i))
					}
					reqs[k] = r
				}
				return reqs
			}
			b.ResetTimer()
			cpu := processCPU()
			for i := range b.N {
				if _, err := s.AppendBatch(ctx, batch(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N * streams)
			b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/n, "cpu-µs/event")
		})
	}
}

package archive_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

// benchEvents is the size of the benchmarks' log.
const benchEvents = 20000

// benchStore returns a SQLite store holding benchEvents events of about
// 300 bytes over 100 streams.
func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	data := fmt.Sprintf(`{"check_id":"s3_bucket_public","title":"bucket is public","resource":"arn:aws:s3:::bucket-%0200d"}`, 0)
	for i := 0; i < benchEvents; i += 500 {
		reqs := make([]eventstore.AppendRequest, 0, 500)
		for j := i; j < i+500; j++ {
			reqs = append(reqs, eventstore.AppendRequest{StreamID: fmt.Sprintf("scan-%03d", j%100), StreamType: "ScanRun", Expected: eventstore.Any,
				Events:   []eventstore.NewEvent{{Type: "ScanRequested", SchemaVersion: 1, Data: []byte(data)}},
				Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "bench"}})
		}
		if _, err := s.AppendBatch(ctx, reqs); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkArchive: reading the whole log from the live store (the
// baseline: what export and rebuilds read), archiving it (write, fsync,
// read back, delete), and reading it back through the archive.
func BenchmarkArchive(b *testing.B) {
	ctx := context.Background()
	readAll := func(b *testing.B, s eventstore.Store) int {
		n := 0
		for after := int64(0); ; {
			page, err := s.ReadAll(ctx, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				return n
			}
			n += len(page)
			after = page[len(page)-1].Position
		}
	}
	b.Run("baseline-live-readall", func(b *testing.B) {
		s := benchStore(b)
		b.ResetTimer()
		for range b.N {
			if n := readAll(b, s); n != benchEvents {
				b.Fatalf("read %d", n)
			}
		}
		b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("archive-run", func(b *testing.B) {
		var bytes int64
		for range b.N {
			b.StopTimer()
			s := benchStore(b)
			a, err := archive.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := archive.Run(ctx, archive.Through(s, a), archive.RunOptions{Cutoff: time.Now().Add(time.Hour)})
			if err != nil || res.Events != benchEvents-1 {
				b.Fatal(res, err)
			}
			bytes = res.Bytes
		}
		b.ReportMetric(float64((benchEvents-1)*b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(bytes)/float64(benchEvents-1), "bytes/event")
	})
	b.Run("through-archive-readall", func(b *testing.B) {
		s := benchStore(b)
		a, err := archive.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		through := archive.Through(s, a)
		if _, err := archive.Run(ctx, through, archive.RunOptions{Cutoff: time.Now().Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if n := readAll(b, through); n != benchEvents {
				b.Fatalf("read %d", n)
			}
		}
		b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

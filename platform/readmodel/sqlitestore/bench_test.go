package sqlitestore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

// benchDoc is a finding-sized document (~450 bytes of JSON).
func benchDoc(i int) readmodel.Doc {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return readmodel.Doc{
		"_id":        fmt.Sprintf("finding-%07d", i),
		"team_id":    fmt.Sprintf("team-%d", i%10),
		"asset_id":   fmt.Sprintf("arn:aws:s3:::bucket-%d", i),
		"severity":   []string{"critical", "high", "medium", "low"}[i%4],
		"status":     "open",
		"title":      "S3 bucket allows public read access through its bucket policy",
		"score":      float64(i%100) / 10,
		"count":      i % 17,
		"first_seen": at, "last_seen": at.Add(time.Hour),
		"tags":     []any{"cis-1.4", "pci-dss", "public"},
		"resource": map[string]any{"type": "aws_s3_bucket", "region": "eu-west-1", "account": "123456789012"},
	}
}

const benchKeyspace = 20_000 // ids cycle: after the first pass every put is an update

func BenchmarkCommit(b *testing.B) {
	for _, sync := range []string{"normal", "full"} {
		for _, n := range []int{100, 500} {
			b.Run(fmt.Sprintf("sync=%s/batch=%d/store", sync, n), func(b *testing.B) { benchStoreCommit(b, sync, n) })
			b.Run(fmt.Sprintf("sync=%s/batch=%d/raw", sync, n), func(b *testing.B) { benchRawCommit(b, sync, n) })
		}
	}
}

func benchStoreCommit(b *testing.B, sync string, n int) {
	s := openTemp(b, sqlitestore.Options{Synchronous: sync})
	ctx := context.Background()
	var cp int64
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		docs := make([]readmodel.Doc, n)
		for j := range docs {
			docs[j] = benchDoc(next % benchKeyspace)
			next++
		}
		cp++
		if err := s.Commit(ctx, readmodel.Batch{Projection: "bench", Checkpoint: cp, Puts: map[string][]readmodel.Doc{"findings": docs}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "docs/s")
}

// benchRawCommit is the floor: the same rows, json.Marshal, one prepared
// INSERT OR REPLACE per row in one transaction, same file settings, no
// checkpoint, no validation.
func benchRawCommit(b *testing.B, sync string, n int) {
	path := filepath.Join(b.TempDir(), "raw.sqlite")
	db, err := sql.Open("sqlite", path+"?"+url.Values{
		"_busy_timeout": {"10000"}, "_journal_mode": {"WAL"}, "_synchronous": {sync}, "_pragma": {"temp_store(MEMORY)"},
	}.Encode())
	require.NoError(b, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	_, err = db.ExecContext(ctx, `CREATE TABLE findings (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL, pos INTEGER NOT NULL) STRICT`)
	require.NoError(b, err)
	conn, err := db.Conn(ctx)
	require.NoError(b, err)
	defer conn.Close()
	ins, err := conn.PrepareContext(ctx, `INSERT OR REPLACE INTO findings (id, doc, pos) VALUES (?, ?, ?)`)
	require.NoError(b, err)
	defer ins.Close()
	var cp int64
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		docs := make([]readmodel.Doc, n)
		for j := range docs {
			docs[j] = benchDoc(next % benchKeyspace)
			next++
		}
		cp++
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			b.Fatal(err)
		}
		for _, d := range docs {
			js, err := json.Marshal(d)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ins.ExecContext(ctx, d.ID(), string(js), cp); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "docs/s")
}

// seeded opens a store holding count finding documents with the indexes
// the queries use.
func seeded(b *testing.B, count int) *sqlitestore.Store {
	s := openTemp(b, sqlitestore.Options{Synchronous: "normal"})
	ctx := context.Background()
	require.NoError(b, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "findings", Indexes: []readmodel.Index{
		{Name: "by_team_seen", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "last_seen", Desc: true}}},
		{Name: "by_asset", Fields: []readmodel.IndexField{{Path: "asset_id"}}, Unique: true},
	}}))
	for start, cp := 0, int64(1); start < count; start, cp = start+500, cp+1 {
		docs := make([]readmodel.Doc, 0, 500)
		for i := start; i < min(start+500, count); i++ {
			docs = append(docs, benchDoc(i))
		}
		require.NoError(b, s.Commit(ctx, readmodel.Batch{Projection: "seed", Checkpoint: cp, Puts: map[string][]readmodel.Doc{"findings": docs}}))
	}
	return s
}

func BenchmarkGet(b *testing.B) {
	const count = 10_000
	s := seeded(b, count)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, "findings", fmt.Sprintf("finding-%07d", (i*7919)%count)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}

// BenchmarkFind walks one team's findings newest first, 50 per page, with
// the cursor (one op = one page), restarting at the end.
func BenchmarkFind(b *testing.B) {
	const count = 10_000
	s := seeded(b, count)
	ctx := context.Background()
	opts := readmodel.FindOptions{Filter: readmodel.Eq("team_id", "team-3"), Sort: []readmodel.SortField{readmodel.Desc("last_seen")}, Limit: 50}
	docs := 0
	b.ReportAllocs()
	for b.Loop() {
		p, err := s.Find(ctx, "findings", opts)
		if err != nil {
			b.Fatal(err)
		}
		docs += len(p.Docs)
		opts.Cursor = p.NextCursor
	}
	b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
}

package vulnerabilities_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
	"github.com/cspm-es/cspm-es/projections"
	registriesproj "github.com/cspm-es/cspm-es/projections/containerregistries"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries/queriestest"
)

// benchOccurrences sizes the report (CSPM_BENCH_TRIVY_OCCURRENCES, 10,000
// by default).
func benchOccurrences(b *testing.B) int {
	n := 10_000
	if s := os.Getenv("CSPM_BENCH_TRIVY_OCCURRENCES"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err)
		n = v
	}
	return n
}

// BenchmarkImportTrivy imports a trivygen image report (seed 1: n
// occurrences over n/8 packages and n/2 vulnerability ids) into a new
// SQLite event store (synchronous=full, as cspm serve), through the code
// path of POST /api/v1/imports and cspm import. In the same run, the
// baseline: the Trivy parser alone over the same bytes (the import cannot
// be faster). Then the vulnerabilities and container-registries
// projections fold the stored events (into memory: the fold's cost, not
// the read-model store's).
func BenchmarkImportTrivy(b *testing.B) {
	n := benchOccurrences(b)
	var buf bytes.Buffer
	_, err := trivygen.Write(&buf, trivygen.Options{Seed: 1, Occurrences: n, Tag: "registry.example.com/app:latest"})
	require.NoError(b, err)
	report := buf.Bytes()
	ctx := context.Background()

	var parsePerSec, importPerSec, projPerSec float64
	var events int
	var imported vulncmd.ImportResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		start := time.Now()
		items := 0
		_, err := trivy.Parse(ctx, bytes.NewReader(report), func(trivy.Item) error { items++; return nil })
		require.NoError(b, err)
		parsePerSec += float64(n) / time.Since(start).Seconds()

		store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "events.sqlite"), sqlite.Options{})
		require.NoError(b, err)
		codec := eventstore.NewDomainCodec()
		h := vulncmd.New(commands.NewKit(store, codec, time.Now), queriestest.TrivyParsers{}, store)
		b.StartTimer()
		start = time.Now()
		imported, err = h.ImportScan(ctx, commands.Meta{TeamID: "bench", Actor: "bench", CorrelationID: "c", Route: "bench"},
			vulncmd.ImportScan{Format: "trivy-json", Body: bytes.NewReader(report)})
		took := time.Since(start)
		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, n, imported.Counts.Occurrences)
		importPerSec += float64(n) / took.Seconds()
		events = imported.Events

		var evs []projections.Event
		var after int64
		for {
			recs, err := store.ReadAll(ctx, after, 1000)
			require.NoError(b, err)
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				v, err := codec.Decode(r)
				require.NoError(b, err)
				evs = append(evs, projections.Event{RecordedEvent: r, Data: v})
				after = r.Position
			}
		}
		start = time.Now()
		tx := queriestest.NewMemTx()
		for _, p := range []projections.Projection{vulnproj.New(), registriesproj.New()} {
			for _, ev := range evs {
				for _, typ := range p.EventTypes() {
					if typ == ev.Type {
						require.NoError(b, p.Apply(ctx, tx, ev))
					}
				}
			}
		}
		projPerSec += float64(n) / time.Since(start).Seconds()
		require.Len(b, tx.Colls[vulnproj.OccurrencesCollection], n)
		require.NoError(b, store.Close())
		b.StartTimer()
	}
	k := float64(b.N)
	b.ReportMetric(parsePerSec/k, "parse_occurrences/s")
	b.ReportMetric(importPerSec/k, "import_occurrences/s")
	b.ReportMetric(importPerSec/parsePerSec, "x_parse")
	b.ReportMetric(float64(events), "events/import")
	b.ReportMetric(float64(imported.Counts.Chunks), "chunks")
	b.ReportMetric(float64(len(report))/1e6, "report_MB")
	b.ReportMetric(projPerSec/k, "fold_occurrences/s")
}

package vulnerabilities_test

// The KEV join's benchmark (docs/vulnerabilities.md records the figures):
//
//	CSPM_BENCH_KEV_OCCURRENCES=100000 go test -run '^$' -bench KEVFlag -benchtime 3x ./projections/vulnerabilities/

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	pv "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries/queriestest"
)

// storeTx is the runtime's batch transaction in small: reads go to the
// store unless the batch wrote the document, writes are kept and committed
// in one readmodel.Batch with the checkpoint (Store.Commit, atomic).
type storeTx struct {
	store readmodel.Store
	puts  map[string]map[string]readmodel.Doc
}

func (t *storeTx) Get(ctx context.Context, coll, id string) (readmodel.Doc, bool, error) {
	if d, ok := t.puts[coll][id]; ok {
		return d, true, nil
	}
	d, err := t.store.Get(ctx, coll, id)
	switch {
	case err == nil:
		return d, true, nil
	case isNotFound(err):
		return nil, false, nil
	}
	return nil, false, err
}

func (t *storeTx) Put(coll string, d readmodel.Doc) {
	if t.puts[coll] == nil {
		t.puts[coll] = map[string]readmodel.Doc{}
	}
	t.puts[coll][d["_id"].(string)] = d
}

func (t *storeTx) Delete(string, string) {}

func (t *storeTx) commit(ctx context.Context, checkpoint int64) (int, error) {
	b := readmodel.Batch{Projection: pv.Name, Checkpoint: checkpoint, Puts: map[string][]readmodel.Doc{}}
	n := 0
	for coll, docs := range t.puts {
		for _, d := range docs {
			b.Puts[coll] = append(b.Puts[coll], d)
			n++
		}
	}
	return n, t.store.Commit(ctx, b)
}

// BenchmarkKEVFlag: one KEV entry whose CVE has N open occurrences
// (CSPM_BENCH_KEV_OCCURRENCES, 100,000 by default: N/10,000 images of
// trivygen reports whose every row is that CVE, imported through the real
// command and projected by the runtime into SQLite), applied by the real
// projection and committed: the time until all N are flagged (each
// iteration publishes or withdraws the entry, so each rewrites all N).
// Baselines in the same run: an entry matching no occurrence (the fixed
// cost), and the same N occurrence documents committed as they are (the
// store's floor for rewriting N documents).
func BenchmarkKEVFlag(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CSPM_BENCH_KEV_OCCURRENCES")); err == nil && v > 0 {
		n = v
	}
	const per = 10_000
	images := max(1, n/per)
	dir := b.TempDir()
	start := time.Now()
	env := queriestest.TrivyWorld(b, dir, func(i int) *queriestest.TrivyImport {
		if i >= images {
			return nil
		}
		var buf bytes.Buffer
		_, err := trivygen.Write(&buf, trivygen.Options{Seed: uint64(i + 1), Occurrences: min(per, n), Packages: min(per, n), Vulnerabilities: 1,
			Tag: fmt.Sprintf("registry.example.com/kev%d:latest", i)})
		require.NoError(b, err)
		return &queriestest.TrivyImport{Team: fmt.Sprintf("team-%d", i%3), Report: buf.Bytes()}
	})
	b.Cleanup(func() { env.Close(b) })
	store := env.Stores[dbregistry.VULNERABILITIES]
	ctx := context.Background()
	const cve = "CVE-2010-00000" // trivygen's id when Vulnerabilities is 1
	total, err := store.Count(ctx, pv.OccurrencesCollection, readmodel.Eq("vulnerability_id", cve))
	require.NoError(b, err)
	require.EqualValues(b, images*min(per, n), total)
	b.Logf("seeded %d occurrences of %s in %s", total, cve, time.Since(start).Round(time.Second))

	checkpoint, err := store.Checkpoint(ctx, pv.Name)
	require.NoError(b, err)
	p := pv.New()
	due := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	apply := func(cveID string, i int) (int, error) {
		checkpoint++
		var data pt.EventData = ti.KEVEntryPublished{ImportID: "kb", Entry: kevBenchEntry(cveID, due), PublishedAt: pt.At(time.Duration(i) * time.Hour)}
		if i%2 == 1 {
			data = ti.KEVEntryWithdrawn{ImportID: "kb", CVEID: cveID, Entry: kevBenchEntry(cveID, due), WithdrawnAt: pt.At(time.Duration(i) * time.Hour)}
		}
		ev := pt.Stream("team-admin", []int64{checkpoint}, data)[0]
		tx := &storeTx{store: store, puts: map[string]map[string]readmodel.Doc{}}
		if err := p.Apply(ctx, tx, ev); err != nil {
			return 0, err
		}
		return tx.commit(ctx, checkpoint)
	}

	b.Run(fmt.Sprintf("match_%d", total), func(b *testing.B) {
		i := 0
		for b.Loop() {
			written, err := apply(cve, i)
			require.NoError(b, err)
			require.Greater(b, written, int(total))
			i++
		}
		b.StopTimer()
		flagged, err := store.Count(ctx, pv.OccurrencesCollection, readmodel.Eq("kev", true))
		require.NoError(b, err)
		want := int64(0)
		if i%2 == 1 { // the last iteration published
			want = total
		}
		require.Equal(b, want, flagged)
		b.ReportMetric(float64(total)/b.Elapsed().Seconds()*float64(i), "occurrences/s")
	})
	b.Run("baseline_match_0", func(b *testing.B) {
		i := 0
		for b.Loop() {
			_, err := apply("CVE-1999-0001", i)
			require.NoError(b, err)
			i++
		}
	})
	// The floor: the same documents committed as they are.
	var docs []readmodel.Doc
	opts := readmodel.FindOptions{Filter: readmodel.Eq("vulnerability_id", cve), Limit: readmodel.MaxLimit}
	for {
		page, err := store.Find(ctx, pv.OccurrencesCollection, opts)
		require.NoError(b, err)
		docs = append(docs, page.Docs...)
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	b.Run(fmt.Sprintf("baseline_commit_%d_docs", len(docs)), func(b *testing.B) {
		for b.Loop() {
			checkpoint++
			require.NoError(b, store.Commit(ctx, readmodel.Batch{Projection: pv.Name, Checkpoint: checkpoint,
				Puts: map[string][]readmodel.Doc{pv.OccurrencesCollection: docs}}))
		}
	})
}

func kevBenchEntry(cve string, due time.Time) ti.KEVEntry {
	return ti.KEVEntry{CVEID: cve, VendorProject: "v", Product: "p", VulnerabilityName: "n", DateAdded: pt.T0,
		ShortDescription: "d", RequiredAction: "a", DueDate: due, Ransomware: ti.RansomwareKnown}
}

func isNotFound(err error) bool { return errors.Is(err, readmodel.ErrNotFound) }

package cloudsecurity_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler/prowlergen"
	"github.com/cspm-es/cspm-es/projections"
	csproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// The same scan imported again a day later appends its results again (in
// as many events as the first import, none per finding), and after
// projecting, every finding's last_seen is the second scan's time while
// first_seen stays the first's: nothing new, nothing fixed.
func TestReimportUnchanged_LastSeenMoves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 600
	paths := make([]string, 2)
	var stats prowlergen.Stats
	for i, start := range []time.Time{benchScan1, benchScan2} {
		paths[i] = filepath.Join(dir, start.Format("20060102")+".ocsf.json")
		f, err := os.Create(paths[i])
		require.NoError(t, err)
		stats, err = prowlergen.GenerateOCSF(f, n, benchOptions(n, start))
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "events.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })

	first, _ := importFile(t, store, paths[0])
	second, _ := importFile(t, store, paths[1])
	require.Equal(t, first.Events, second.Events, "the same results, the same events")
	checked := requireLastSeenMoved(t, store, first, second)
	require.Greater(t, checked, stats.Fail/2)
}

// requireLastSeenMoved projects the store's events through the findings
// projection and requires every imported finding to be open, first seen
// at the first import's evaluation and last seen at the second's; it
// returns how many findings it checked (the failing identities; several
// results of an account-wide check in a region share one).
func requireLastSeenMoved(tb testing.TB, store *sqlite.Store, first, second cloudsecurity.ImportResult) int {
	tb.Helper()
	ctx := context.Background()
	codec := eventstore.NewDomainCodec()
	p := csproj.NewFindings()
	tx := pt.NewMemTx()
	types := map[string]bool{}
	for _, t := range p.EventTypes() {
		types[t] = true
	}
	evaluated := map[string]time.Time{}
	failing := map[string]map[string]bool{first.ImportID: {}, second.ImportID: {}} // finding ids, by import
	var after int64
	for {
		recs, err := store.ReadAll(ctx, after, 64)
		require.NoError(tb, err)
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			after = rec.Position
			if !types[rec.Type] {
				continue
			}
			v, err := codec.Decode(rec)
			require.NoError(tb, err)
			switch e := v.(type) {
			case csdomain.ImportCompleted:
				evaluated[e.ImportID] = e.EvaluatedAt
			case csdomain.ResultsRecorded:
				for _, r := range e.Results {
					if r.Result == csdomain.ResultFail {
						failing[e.ImportID][r.Identity(e.IdentityRule).FindingID(rec.Metadata.TeamID)] = true
					}
				}
			}
			require.NoError(tb, p.Apply(ctx, tx, projections.Event{RecordedEvent: rec, Data: v}))
		}
	}
	firstAt, secondAt := evaluated[first.ImportID], evaluated[second.ImportID]
	require.True(tb, secondAt.After(firstAt), "the second scan is later: %v, %v", firstAt, secondAt)
	require.Equal(tb, failing[first.ImportID], failing[second.ImportID], "the same findings fail")
	checked := 0
	for id, d := range tx.Colls[csproj.FindingsCollection] {
		if fold.Str(d, "source") != csproj.SourceImport {
			continue
		}
		require.True(tb, failing[first.ImportID][id], "%s: a finding no result reported failing", id)
		checked++
		require.Equal(tb, "open", fold.Str(d, "status"), id)
		require.True(tb, fold.Time(d, "first_seen").Equal(firstAt), "%s first_seen %v", id, fold.Time(d, "first_seen"))
		require.True(tb, fold.Time(d, "last_seen").Equal(secondAt), "%s last_seen %v, want %v", id, fold.Time(d, "last_seen"), secondAt)
		require.Equal(tb, second.ScanID, fold.Str(d, "last_scan_id"), id)
		require.Equal(tb, int64(0), fold.Num(d, "times_reopened"), id)
	}
	require.Equal(tb, len(failing[first.ImportID]), checked, "a finding per failing identity")
	return checked
}

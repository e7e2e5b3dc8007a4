package vulnerabilities_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	pv "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// BenchmarkKEVQuery: GET /api/v1/vulnerabilities?kev=true (the first
// page, and ?kev=true&as_of=) at N occurrences of one team, with a
// baseline in the same run (one document read by _id, the cheapest read
// the store answers). Sizes: CSPM_BENCH_KEV_QUERY_OCCURRENCES ("10000" by
// default; "10000,1000000" for the size). The world is N/10,000
// trivygen images of 10,000 occurrences, and a KEV catalogue of 1,500
// CVEs, 100 of them among the reports' ids (2% flagged), imported through
// the real commands (KEV first: the occurrences are flagged on arrival);
// its events are applied by vulnerabilities.occurrences' own Apply in one
// batch per import (queriestest.TrivyKEVChunks and Env.SeedChunksWith),
// so the read model is the projection's. With CSPM_BENCH_KEV_QUERY_DIR
// set, worlds are kept there (dir/occurrences-N) and reused by later runs.
//
//	CSPM_BENCH_KEV_QUERY_OCCURRENCES=10000,1000000 CSPM_BENCH_KEV_QUERY_DIR=/tmp/kevq \
//	  go test -run '^$' -bench KEVQuery -timeout 60m ./queries/vulnerabilities/
func BenchmarkKEVQuery(b *testing.B) {
	spec := os.Getenv("CSPM_BENCH_KEV_QUERY_OCCURRENCES")
	if spec == "" {
		spec = "10000"
	}
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		require.NoError(b, err)
		b.Run(fmt.Sprintf("occurrences=%d", n), func(b *testing.B) { benchKEVQuery(b, n) })
	}
}

func benchKEVQuery(b *testing.B, n int) {
	const team, per = "bench-team", 10_000
	dir := b.TempDir()
	if keep := os.Getenv("CSPM_BENCH_KEV_QUERY_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("occurrences-%d", n))
	}
	done := filepath.Join(dir, "seeded")
	if _, err := os.Stat(done); err != nil {
		require.NoError(b, os.RemoveAll(dir))
		require.NoError(b, os.MkdirAll(dir, 0o755))
		seedKEVQueryWorld(b, dir, team, n, per)
		require.NoError(b, os.WriteFile(done, []byte("ok\n"), 0o644))
	} else {
		b.Logf("reusing the world in %s", dir)
	}
	env := queriestest.OpenEnv(b, filepath.Join(dir, "readmodels"))
	b.Cleanup(func() { env.Close(b) })
	store := env.Stores[dbregistry.VULNERABILITIES]
	s := vulnquery.New(store)
	ctx := context.Background()
	total, err := store.Count(ctx, pv.OccurrencesCollection, readmodel.Eq("team_id", team))
	require.NoError(b, err)
	require.EqualValues(b, max(1, n/per)*per, total)

	yes := true
	asOf := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	first, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{})
	require.NoError(b, err)
	require.Len(b, first.Items, queries.DefaultLimit, "KEV occurrences are flagged")
	for _, o := range first.Items {
		require.True(b, o.KEV)
	}
	ops := []struct {
		name string
		op   func() error
	}{
		{"baseline/get_one_document", func() error {
			_, err := store.Get(ctx, pv.OccurrencesCollection, first.Items[0].ID)
			return err
		}},
		{"vulnerabilities_kev_true", func() error {
			_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{})
			return err
		}},
		{"vulnerabilities_kev_true_second_page", func() error {
			_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{Cursor: first.NextCursor})
			return err
		}},
		{"vulnerabilities_kev_as_of", func() error {
			_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes, AsOf: asOf}, queries.Page{})
			return err
		}},
	}
	for _, q := range ops {
		b.Run(q.name, func(b *testing.B) { measure(b, func(int) error { return q.op() }) })
	}
}

// seedKEVQueryWorld builds the world of BenchmarkKEVQuery in dir.
func seedKEVQueryWorld(b *testing.B, dir, team string, n, per int) {
	images := max(1, n/per)
	var kevCVEs []string
	for j := 0; j < per/2; j += per / 200 {
		kevCVEs = append(kevCVEs, fmt.Sprintf("CVE-20%02d-%05d", 10+j%15, j))
	}
	for j := len(kevCVEs); j < 1500; j++ {
		kevCVEs = append(kevCVEs, fmt.Sprintf("CVE-2009-%05d", j))
	}
	start := time.Now()
	env := queriestest.OpenEnv(b, filepath.Join(dir, "readmodels"))
	chunks := queriestest.TrivyKEVChunks(b, dir, func(i int) *queriestest.TrivyImport {
		var buf bytes.Buffer
		switch {
		case i < images:
			_, err := trivygen.Write(&buf, trivygen.Options{Seed: uint64(i + 1), Occurrences: per, Tag: fmt.Sprintf("registry.example.com/app%d:latest", i)})
			require.NoError(b, err)
			if (i+1)%10 == 0 {
				b.Logf("seeding: %d of %d images in %s", i+1, images, time.Since(start).Round(time.Second))
			}
			return &queriestest.TrivyImport{Team: team, Report: buf.Bytes()}
		case i == images: // another team's image beside
			_, err := trivygen.Write(&buf, trivygen.Options{Seed: 999_999, Occurrences: 1000, Tag: "registry.example.com/other:latest"})
			require.NoError(b, err)
			return &queriestest.TrivyImport{Team: "other-team", Report: buf.Bytes()}
		}
		return nil
	}, queriestest.KEVFeed("2026.02.01", kevCVEs))
	env.SeedChunksWith(b, []projections.Projection{pv.New()}, chunks)
	env.Close(b)
	b.Logf("seeded %d occurrences (%d images) in %s", images*per, images, time.Since(start).Round(time.Second))
}

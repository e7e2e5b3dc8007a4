package vulnerabilities_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// benchSizes are the worlds' sizes in occurrences
// (CSPM_BENCH_VULN_OCCURRENCES, "10000" by default; "10000,100000").
// Each is images of 10,000 occurrences (trivygen, one seed each) of the
// bench team, beside another team's image.
func benchSizes(b *testing.B) []int {
	spec := os.Getenv("CSPM_BENCH_VULN_OCCURRENCES")
	if spec == "" {
		spec = "10000"
	}
	var out []int
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		require.NoError(b, err)
		out = append(out, n)
	}
	return out
}

func measure(b *testing.B, op func(i int) error) {
	b.Helper()
	var durs []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
		i++
	}
	slices.Sort(durs)
	pct := func(p float64) float64 { return float64(durs[int(p*float64(len(durs)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

// BenchmarkVulnerabilityQueries: GET /api/v1/vulnerabilities (first page,
// ?severity=high, ?kev=true with 2% of the occurrences flagged by a KEV
// catalogue of 1,500 CVEs, ?kev=true&as_of=, a page deep into the list), GET
// /api/v1/images and /images/{digest}, GET /api/v1/vulnerabilities/{id},
// on worlds seeded through the real command and the projections runtime
// (queriestest.TrivyWorld) into SQLite read models, closed and opened
// again before measuring.
func BenchmarkVulnerabilityQueries(b *testing.B) {
	const team, per = "bench-team", 10_000
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("occurrences=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			images := max(1, n/per)
			start := time.Now()
			// A KEV catalogue of 1,500 CVEs, 100 of them among the
			// reports' ids (2% of an image's occurrences flagged).
			var kevCVEs []string
			for j := 0; j < per/2; j += per / 200 {
				kevCVEs = append(kevCVEs, fmt.Sprintf("CVE-20%02d-%05d", 10+j%15, j))
			}
			for j := len(kevCVEs); j < 1500; j++ {
				kevCVEs = append(kevCVEs, fmt.Sprintf("CVE-2009-%05d", j))
			}
			env := queriestest.TrivyKEVWorld(b, dir, func(i int) *queriestest.TrivyImport {
				var buf bytes.Buffer
				switch {
				case i < images:
					_, err := trivygen.Write(&buf, trivygen.Options{Seed: uint64(i + 1), Occurrences: per, Tag: fmt.Sprintf("registry.example.com/app%d:latest", i)})
					require.NoError(b, err)
					return &queriestest.TrivyImport{Team: team, Report: buf.Bytes()}
				case i == images: // another team's image beside
					_, err := trivygen.Write(&buf, trivygen.Options{Seed: 999_999, Occurrences: 1000, Tag: "registry.example.com/other:latest"})
					require.NoError(b, err)
					return &queriestest.TrivyImport{Team: "other-team", Report: buf.Bytes()}
				}
				return nil
			}, queriestest.KEVFeed("2026.02.01", kevCVEs))
			seeded := time.Since(start)
			env.Close(b)
			env = queriestest.OpenEnv(b, filepath.Join(dir, "readmodels"))
			b.Cleanup(func() { env.Close(b) })
			s := vulnquery.New(env.Stores[dbregistry.VULNERABILITIES])
			ctx := context.Background()
			b.Logf("seeded %d occurrences in %s", n, seeded.Round(time.Second))

			yes := true
			deep := ""
			p := queries.Page{Limit: 200}
			for i := 0; i < n*9/10/200; i++ {
				page, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{}, p)
				require.NoError(b, err)
				p.Cursor = page.NextCursor
			}
			deep = p.Cursor
			first, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{}, queries.Page{})
			require.NoError(b, err)
			require.Len(b, first.Items, queries.DefaultLimit)
			kevPage, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{})
			require.NoError(b, err)
			require.Len(b, kevPage.Items, queries.DefaultLimit, "KEV occurrences are flagged")
			asOf, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes, AsOf: time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)}, queries.Page{})
			require.NoError(b, err)
			require.Len(b, asOf.Items, queries.DefaultLimit)
			imgs, err := s.ListImages(ctx, team, vulnquery.ImageFilter{}, queries.Page{})
			require.NoError(b, err)
			require.NotEmpty(b, imgs.Items)

			for _, q := range []struct {
				name string
				op   func() error
			}{
				{"vulnerabilities_first_page", func() error {
					_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{}, queries.Page{})
					return err
				}},
				{"vulnerabilities_severity_high", func() error {
					_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{Severity: "high"}, queries.Page{})
					return err
				}},
				{"vulnerabilities_kev_true", func() error {
					_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{})
					return err
				}},
				{"vulnerabilities_kev_as_of", func() error {
					_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes, AsOf: time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)}, queries.Page{})
					return err
				}},
				{"vulnerabilities_deep_cursor", func() error {
					_, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{}, queries.Page{Cursor: deep})
					return err
				}},
				{"vulnerabilities_by_id", func() error {
					_, err := s.GetVulnerability(ctx, team, first.Items[0].VulnerabilityID)
					return err
				}},
				{"images", func() error {
					_, err := s.ListImages(ctx, team, vulnquery.ImageFilter{}, queries.Page{})
					return err
				}},
				{"image_by_digest", func() error {
					_, err := s.GetImage(ctx, team, imgs.Items[0].ImageID)
					return err
				}},
			} {
				b.Run(q.name, func(b *testing.B) { measure(b, func(int) error { return q.op() }) })
			}
		})
	}
}

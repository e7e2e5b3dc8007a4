package vulnerabilities_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// BenchmarkSLAQueries: GET /api/v1/sla/breaches (first page, a page deep
// into the list, ?severity=high, ?kev=true) and GET /api/v1/sla/summary
// on an image of 10,000 occurrences (trivygen) seeded through the real
// command and the projections runtime into SQLite read models, measured
// in 2030 (every clock with a deadline is breached); the baseline is GET
// /api/v1/vulnerabilities' first page in the same run.
func BenchmarkSLAQueries(b *testing.B) {
	const team, n = "bench-team", 10_000
	dir := b.TempDir()
	start := time.Now()
	env := queriestest.TrivyWorld(b, dir, func(i int) *queriestest.TrivyImport {
		if i > 0 {
			return nil
		}
		var buf bytes.Buffer
		_, err := trivygen.Write(&buf, trivygen.Options{Seed: 1, Occurrences: n, Tag: "registry.example.com/app:latest"})
		require.NoError(b, err)
		return &queriestest.TrivyImport{Team: team, Report: buf.Bytes()}
	})
	seeded := time.Since(start)
	env.Close(b)
	env = queriestest.OpenEnv(b, filepath.Join(dir, "readmodels"))
	b.Cleanup(func() { env.Close(b) })
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := vulnquery.NewSLA(env.Stores[dbregistry.VULNERABILITIES], func() time.Time { return now })
	occ := vulnquery.New(env.Stores[dbregistry.VULNERABILITIES])
	ctx := context.Background()

	sum, err := s.Summary(ctx, team)
	require.NoError(b, err)
	b.Logf("seeded %d occurrences in %s; %d open, %d breached", n, seeded.Round(time.Second), sum.Total.Open, sum.Total.Breached)
	require.Greater(b, sum.Total.Breached, int64(n/2))
	p := queries.Page{Limit: 200}
	for i := 0; i < int(sum.Total.Breached)*9/10/200; i++ {
		page, err := s.ListBreaches(ctx, team, vulnquery.BreachFilter{}, p)
		require.NoError(b, err)
		p.Cursor = page.NextCursor
	}
	deep := p.Cursor
	yes := true
	for _, q := range []struct {
		name string
		op   func() error
	}{
		{"baseline_vulnerabilities_first_page", func() error {
			_, err := occ.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{}, queries.Page{})
			return err
		}},
		{"breaches_first_page", func() error {
			_, err := s.ListBreaches(ctx, team, vulnquery.BreachFilter{}, queries.Page{})
			return err
		}},
		{"breaches_deep_cursor", func() error {
			_, err := s.ListBreaches(ctx, team, vulnquery.BreachFilter{}, queries.Page{Cursor: deep})
			return err
		}},
		{"breaches_severity_high", func() error {
			_, err := s.ListBreaches(ctx, team, vulnquery.BreachFilter{Severity: "high"}, queries.Page{})
			return err
		}},
		{"breaches_kev_true", func() error {
			_, err := s.ListBreaches(ctx, team, vulnquery.BreachFilter{KEV: &yes}, queries.Page{})
			return err
		}},
		{"summary", func() error {
			_, err := s.Summary(ctx, team)
			return err
		}},
	} {
		b.Run(q.name, func(b *testing.B) { measure(b, func(int) error { return q.op() }) })
	}
}

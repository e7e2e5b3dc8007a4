package threatintel_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/kev"
	"github.com/cspm-es/cspm-es/queries"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
	qti "github.com/cspm-es/cspm-es/queries/threatintel"
)

func catalogue(t *testing.T, name string) ti.Catalogue {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "kev", "testdata", name))
	require.NoError(t, err)
	c, err := kev.Parse(context.Background(), bytes.NewReader(b), kev.FormatJSON, kev.Options{AllowPartial: true})
	require.NoError(t, err)
	c.Count = len(c.Entries)
	return c
}

// world: the 2025-05-22 catalogue accepted at T0, the 2025-06-09 one an
// hour later (team-admin imported them); team-a and team-b each have an
// indicator.
func world(t *testing.T) *qti.Service {
	t.Helper()
	h := &qt.History{}
	var kevHistory []ti.Event
	for i, name := range []string{"known_exploited_vulnerabilities_2025.05.22_subset.json", "known_exploited_vulnerabilities_2025.06.09_subset.json"} {
		evs, _, err := ti.RehydrateKEVCatalogue(kevHistory...).Accept(catalogue(t, name), ti.KEVImport{ImportID: "kev-x"}, qt.At(time.Duration(i)*time.Hour))
		require.NoError(t, err)
		kevHistory = append(kevHistory, evs...)
		for _, e := range evs {
			h.Add("team-admin", e)
		}
	}
	for _, team := range []string{"team-a", "team-b"} {
		h.Add(team, ti.IndicatorCreated{IndicatorID: "ind-" + team, Type: ti.TypeIPv4, Value: "192.0.2.1", RawValue: "192.0.2.1",
			Confidence: 60, Source: "feed", ValidFrom: qt.T0, ValidUntil: qt.At(time.Hour), CreatedAt: qt.T0})
	}
	// The value 192.0.2.1 seen on three of team A's resources, one of team B's.
	for team, n := range map[string]int{"team-a": 3, "team-b": 1} {
		var results []csdomain.CheckResult
		for i := range n {
			results = append(results, csdomain.CheckResult{Provider: "aws", Account: "123456789012", Check: "ec2_eip", Region: "eu-west-1",
				Resource: fmt.Sprintf("arn:aws:ec2:eu-west-1:123456789012:eip/eipalloc-%d", i), ResourceName: "192.0.2.1",
				Result: csdomain.ResultFail, Severity: csdomain.SeverityHigh, ObservedAt: qt.T0})
		}
		h.Add(team, csdomain.ResultsRecorded{ImportID: "imp-" + team, ScanID: "scan-" + team, EvaluatedAt: qt.T0, Results: results})
	}
	e := qt.NewEnv(t, h.Events)
	return qti.New(e.Stores[dbregistry.THREAT_INTELLIGENCE])
}

func TestKEVQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := world(t)
	all, err := s.ListKEV(ctx, qti.KEVFilter{}, queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, all.Items, 10)
	require.NotEmpty(t, all.NextCursor)
	rest, err := s.ListKEV(ctx, qti.KEVFilter{}, queries.Page{Limit: 100, Cursor: all.NextCursor})
	require.NoError(t, err)
	assert.Len(t, rest.Items, 13, "23 listed in all")

	yes := true
	ransom, err := s.ListKEV(ctx, qti.KEVFilter{Ransomware: &yes}, queries.Page{Limit: 100})
	require.NoError(t, err)
	for _, e := range ransom.Items {
		assert.True(t, e.Ransomware, e.CVEID)
	}
	assert.NotEmpty(t, ransom.Items)
	since, err := s.ListKEV(ctx, qti.KEVFilter{Since: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}, queries.Page{Limit: 100})
	require.NoError(t, err)
	for _, e := range since.Items {
		assert.False(t, e.DateAdded.Before(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)), e.CVEID)
	}
	withdrawn, err := s.ListKEV(ctx, qti.KEVFilter{Withdrawn: true}, queries.Page{Limit: 100})
	require.NoError(t, err)
	require.Len(t, withdrawn.Items, 1)
	assert.Equal(t, "CVE-2025-4664", withdrawn.Items[0].CVEID)

	// Was CVE-2025-4664 KEV at T? Yes between the imports, no after the second.
	d, err := s.GetKEV(ctx, "cve-2025-4664", qt.At(30*time.Minute))
	require.NoError(t, err)
	require.NotNil(t, d.IsKEV)
	assert.True(t, *d.IsKEV)
	d, err = s.GetKEV(ctx, "CVE-2025-4664", qt.At(2*time.Hour))
	require.NoError(t, err)
	assert.False(t, *d.IsKEV)
	assert.Len(t, d.History, 2)
	d, err = s.GetKEV(ctx, "CVE-2025-4664", qt.At(-time.Hour))
	require.NoError(t, err)
	assert.False(t, *d.IsKEV, "before the first import")

	// An updated entry: two versions, the first closed at the update.
	d, err = s.GetKEV(ctx, "CVE-2024-21762", time.Time{})
	require.NoError(t, err)
	require.Len(t, d.History, 2)
	assert.Equal(t, "updated", d.History[0].Kind)
	assert.Equal(t, qt.At(time.Hour), d.History[1].ValidTo)
	assert.False(t, d.History[1].Entry.Ransomware)
	assert.True(t, d.Ransomware)

	_, err = s.GetKEV(ctx, "CVE-1999-0001", time.Time{})
	assert.ErrorIs(t, err, queries.ErrNotFound)
}

// Indicators are private: each team sees its own; another's is not found.
func TestIndicatorQueries_Isolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := world(t)
	l, err := s.ListIndicators(ctx, "team-a", qti.IndicatorFilter{Type: "ipv4", Value: " 192.0.2.1 "}, queries.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, l.Items, 1)
	assert.Equal(t, "ind-team-a", l.Items[0].ID)
	_, err = s.GetIndicator(ctx, "team-a", "ind-team-b")
	assert.ErrorIs(t, err, queries.ErrNotFound)
	due, err := s.DueIndicators(ctx, qt.At(2*time.Hour), queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, due.Items, 2)
	due, err = s.DueIndicators(ctx, qt.At(time.Minute), queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, due.Items)
}

// An indicator's matches: the count, then pages of sightings; the other
// team's sightings of the same value never show.
func TestIndicatorMatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := world(t)
	m, err := s.IndicatorMatches(ctx, "team-a", "ind-team-a", queries.Page{Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, int64(3), m.Sightings)
	assert.Len(t, m.Items, 2)
	require.NotEmpty(t, m.NextCursor)
	rest, err := s.IndicatorMatches(ctx, "team-a", "ind-team-a", queries.Page{Limit: 2, Cursor: m.NextCursor})
	require.NoError(t, err)
	assert.Len(t, rest.Items, 1)
	b, err := s.IndicatorMatches(ctx, "team-b", "ind-team-b", queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, int64(1), b.Sightings)
	_, err = s.IndicatorMatches(ctx, "team-b", "ind-team-a", queries.Page{Limit: 10})
	assert.ErrorIs(t, err, queries.ErrNotFound)
}

package risk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

func day(n int) time.Time { return qt.T0.Add(time.Duration(n) * 24 * time.Hour) }

// kriWorld: team-a has a manual KRI measured on days 1 and 3 (red on day
// 3), its thresholds changed on day 2, a computed KRI of an account
// (no point yet) and a retired computed one; team-b has a computed KRI.
func kriWorld(t *testing.T) *riskquery.Service {
	t.Helper()
	manual := rdomain.KRISpec{Name: "phishing clicks", Unit: "%", Direction: rdomain.HigherIsWorse, Amber: 5, Red: 10, Source: rdomain.SourceManual}
	stricter := manual
	stricter.Red = 8
	computed := rdomain.KRISpec{Name: "prod criticals", Unit: "findings", Direction: rdomain.HigherIsWorse, Amber: 1, Red: 3,
		Source: rdomain.SourceOpenCriticalFindings, Account: "123456789012"}
	kev := rdomain.KRISpec{Name: "kev overdue", Unit: "occurrences", Direction: rdomain.HigherIsWorse, Amber: 1, Red: 2, Source: rdomain.SourceKEVOverdue}
	h := &qt.History{}
	h.Add("team-a",
		rdomain.KRIDefined{KRIID: "m1", Spec: manual, DefinedAt: day(0)},
		rdomain.KRIMeasured{KRIID: "m1", Value: 6, MeasuredAt: day(1)},
		rdomain.KRIDefined{KRIID: "m1", Spec: stricter, DefinedAt: day(2)},
		rdomain.KRIMeasured{KRIID: "m1", Value: 9, MeasuredAt: day(3)},
		rdomain.KRIDefined{KRIID: "c1", Spec: computed, DefinedAt: day(0)},
		rdomain.KRIDefined{KRIID: "c2", Spec: kev, DefinedAt: day(0)},
		rdomain.KRIRetired{KRIID: "c2", RetiredAt: day(1)})
	h.Add("team-b", rdomain.KRIDefined{KRIID: "c3", Spec: kev, DefinedAt: day(0)})
	e := qt.NewEnv(t, h.Events)
	return riskquery.New(e.Stores[dbregistry.RISK_MANAGEMENT], func() time.Time { return day(5) })
}

func TestKRIQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := kriWorld(t)

	k, err := s.GetKRI(ctx, "team-a", "m1")
	require.NoError(t, err)
	require.NotNil(t, k.LastValue)
	assert.Equal(t, 9.0, *k.LastValue)
	assert.Equal(t, rdomain.Red, k.State, "red from 8 since day 2")
	assert.Len(t, k.Definitions, 2)

	_, err = s.GetKRI(ctx, "team-b", "m1")
	assert.True(t, errors.Is(err, queries.ErrNotFound), "another team's KRI is not found: %v", err)

	list, err := s.ListKRIs(ctx, "team-a", queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, list.Items, 3)

	// The series judges each point by the thresholds in force at its time:
	// 6 on day 1 is amber (red from 10), 9 on day 3 red (red from 8).
	series, err := s.KRISeries(ctx, "team-a", "m1", riskquery.SeriesQuery{From: day(1), To: day(5), Granularity: riskquery.Day})
	require.NoError(t, err)
	require.Len(t, series.Buckets, 5, "day buckets from the day of day(1) to that of day(5)")
	assert.Equal(t, rdomain.Amber, series.Buckets[0].State)
	assert.True(t, series.Buckets[1].Carried)
	assert.Equal(t, rdomain.Red, series.Buckets[2].State)
	assert.True(t, series.Buckets[2].Breach)
	_, err = s.KRISeries(ctx, "team-a", "m1", riskquery.SeriesQuery{Granularity: "hour"})
	assert.ErrorContains(t, err, "granularity")
}

// The observer's list: the active computed KRIs of every team, never a
// manual or retired one; a KRI with no point yet has no value.
func TestActiveComputedKRIs(t *testing.T) {
	t.Parallel()
	s := kriWorld(t)
	var got []string
	p := queries.Page{Limit: 1}
	for {
		list, err := s.ActiveComputedKRIs(context.Background(), p)
		require.NoError(t, err)
		for _, k := range list.Items {
			got = append(got, k.TeamID+"/"+k.ID)
			assert.Nil(t, k.LastValue, "no point recorded")
		}
		if list.NextCursor == "" {
			break
		}
		p.Cursor = list.NextCursor
	}
	assert.Equal(t, []string{"team-a/c1", "team-b/c3"}, got)
}

package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/queries"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
)

type dueList []tiquery.DueIndicator

func (d dueList) DueIndicators(context.Context, time.Time, queries.Page) (tiquery.DueIndicatorList, error) {
	return tiquery.DueIndicatorList{Items: d}, nil
}

// The expiry scheduler ends a due indicator once (IndicatorExpired, by the
// system actor, visible in its history); a second sweep, or one before
// the end, appends nothing.
func TestIndicatorExpirySweep(t *testing.T) {
	t.Parallel()
	d := ct.New(t)
	h := ticmd.New(d.Kit)
	until := ct.T0.Add(time.Hour)
	res, err := h.CreateIndicator(context.Background(), ct.TeamA, ticmd.CreateIndicator{Type: "domain", Value: "Evil.Example.",
		Confidence: 70, Source: "partner", ValidUntil: &until})
	require.NoError(t, err)
	due := dueList{{ID: res.ID, TeamID: ct.TeamA.TeamID, ValidUntil: until}}
	x := &indicatorExpiry{Interval: time.Minute, due: due, expire: h, now: d.Clock.Now, log: slog.New(slog.DiscardHandler)}

	assert.Zero(t, x.Sweep(context.Background()), "not due yet: the command refuses")
	d.Clock.Advance(2 * time.Hour)
	assert.Equal(t, 1, x.Sweep(context.Background()))
	assert.Zero(t, x.Sweep(context.Background()), "expired already")

	evs := d.Stream(t, res.StreamID)
	require.Len(t, evs, 2)
	assert.Equal(t, indicatorExpiryActor, evs[1].Metadata.Actor)
	got := d.Decoded(t, res.StreamID)
	assert.Equal(t, ti.IndicatorExpired{IndicatorID: res.ID, ExpiredAt: until}, got[1])
	assert.Equal(t, "evil.example", got[0].(ti.IndicatorCreated).Value)

	// Re-observed: active again, extended by its own window.
	_, err = h.ObserveIndicator(context.Background(), ct.TeamA, ticmd.ObserveIndicator{IndicatorID: res.ID, Source: "sensor"})
	require.NoError(t, err)
	obs := d.Decoded(t, res.StreamID)[2].(ti.IndicatorObserved)
	assert.Equal(t, d.Clock.Now().Add(time.Hour), obs.ValidUntil)
	// Another team cannot touch it.
	_, err = h.RevokeIndicator(context.Background(), ct.TeamB, ticmd.RevokeIndicator{IndicatorID: res.ID})
	require.Error(t, err)
}

package main

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	"github.com/cspm-es/cspm-es/queries"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
)

// Indicator expiry in `cspm serve` (api role): like the muting-rule
// expiry, a scheduler lists the active indicators of every team whose
// valid_until has passed (the indicators read model) and sends
// ExpireIndicator for each, as the indicator's team. The command decides
// on the indicator's own stream: an indicator expired twice, or extended
// meanwhile, is a rule error (INDICATOR_EXPIRED, INDICATOR_NOT_EXPIRED),
// ignored.

var indicatorExpiryModule = fx.Module("indicator-expiry",
	fx.Provide(newIndicatorExpiry),
	fx.Invoke(func(p singletonParams, x *indicatorExpiry) { runSingleton(p, "indicator-expiry", x.Run) }),
)

const (
	indicatorExpiryInterval = time.Minute
	indicatorExpiryPage     = 200
	indicatorExpiryActor    = "system:indicator-expiry"
	indicatorExpiryRoute    = "serve indicator expiry"
)

type dueIndicators interface {
	DueIndicators(ctx context.Context, now time.Time, p queries.Page) (tiquery.DueIndicatorList, error)
}

type indicatorExpirer interface {
	ExpireIndicator(ctx context.Context, meta commands.Meta, cmd ticmd.ExpireIndicator) (commands.Result, error)
}

// indicatorExpiry ends the indicators whose valid_until has passed.
type indicatorExpiry struct {
	Interval time.Duration
	due      dueIndicators
	expire   indicatorExpirer
	now      func() time.Time
	log      *slog.Logger
}

func newIndicatorExpiry(q *tiquery.Service, h *ticmd.Handlers, log *slog.Logger) *indicatorExpiry {
	return &indicatorExpiry{Interval: indicatorExpiryInterval, due: q, expire: h, now: time.Now, log: log.With("component", "indicators")}
}

// Run sweeps at once, then every Interval, until ctx ends.
func (x *indicatorExpiry) Run(ctx context.Context) { everyInterval(ctx, x.Interval, x.Sweep) }

// Sweep expires every indicator due now and returns how many it expired.
func (x *indicatorExpiry) Sweep(ctx context.Context) int {
	now := x.now()
	return expirySweep{kind: "indicator", aKind: "an indicator", kinds: "indicators", idKey: "indicator_id", page: indicatorExpiryPage, log: x.log,
		list: func(ctx context.Context, p queries.Page) ([]dueItem, string, error) {
			list, err := x.due.DueIndicators(ctx, now, p)
			items := make([]dueItem, 0, len(list.Items))
			for _, d := range list.Items {
				items = append(items, dueItem{ID: d.ID, TeamID: d.TeamID, Attrs: []any{"valid_until", d.ValidUntil}})
			}
			return items, list.NextCursor, err
		},
		expire: func(ctx context.Context, it dueItem) (commands.Result, error) {
			meta := commands.Meta{TeamID: it.TeamID, Actor: indicatorExpiryActor, Route: indicatorExpiryRoute}
			return x.expire.ExpireIndicator(ctx, meta, ticmd.ExpireIndicator{IndicatorID: it.ID})
		},
	}.run(ctx)
}

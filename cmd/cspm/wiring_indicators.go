package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	"github.com/cspm-es/cspm-es/domain"
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
	fx.Invoke(func(lc fx.Lifecycle, x *indicatorExpiry) { runBackground(lc, x.Run) }),
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
func (x *indicatorExpiry) Run(ctx context.Context) {
	t := time.NewTicker(x.Interval)
	defer t.Stop()
	for {
		x.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep expires every indicator due now and returns how many it expired.
func (x *indicatorExpiry) Sweep(ctx context.Context) int {
	page := queries.Page{Limit: indicatorExpiryPage}
	now, expired := x.now(), 0
	for {
		list, err := x.due.DueIndicators(ctx, now, page)
		if err != nil {
			if ctx.Err() == nil {
				x.log.Warn("listing the indicators due to expire failed; retrying at the next sweep", "error", err)
			}
			return expired
		}
		for _, d := range list.Items {
			meta := commands.Meta{TeamID: d.TeamID, Actor: indicatorExpiryActor, Route: indicatorExpiryRoute}
			res, err := x.expire.ExpireIndicator(ctx, meta, ticmd.ExpireIndicator{IndicatorID: d.ID})
			var rule *domain.RuleError
			switch {
			case err == nil:
				expired++
				x.log.Info("indicator expired", "indicator_id", d.ID, "team_id", d.TeamID, "valid_until", d.ValidUntil, "position", res.Position)
			case errors.As(err, &rule):
				x.log.Debug("indicator not expired", "indicator_id", d.ID, "team_id", d.TeamID, "code", rule.Code)
			case ctx.Err() != nil:
				return expired
			default:
				x.log.Warn("expiring an indicator failed; retrying at the next sweep", "indicator_id", d.ID, "team_id", d.TeamID, "error", err)
			}
		}
		if list.NextCursor == "" {
			return expired
		}
		page.Cursor = list.NextCursor
	}
}

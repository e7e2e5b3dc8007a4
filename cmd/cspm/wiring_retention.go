package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/platform/config"
)

// The retention cycle in `cspm serve` (docs/archival.md, decision 90):
// the projector process (the writer of the read models) runs it at start
// and every --retention-interval (0: never). Run one projector process
// with it on: two cycles at once would race for the same archive segment
// (the second one's manifest is refused, nothing is lost or deleted twice).

var retentionModule = fx.Module("retention",
	fx.Provide(newRetentionCycle),
	fx.Invoke(registerRetention),
)

func newRetentionCycle(store eventstore.Store, codec *eventstore.Codec, rm ReadModels, cfg config.Config, log *slog.Logger, reg *prometheus.Registry) (*retentionCycle, error) {
	through, ok := store.(*archive.Store)
	if !ok {
		return nil, fmt.Errorf("retention: the event store %T is not read through the archive", store)
	}
	window := cfg.IdempotencyWindow
	if window <= 0 { // a Config built without defaults
		window = 7 * 24 * time.Hour
	}
	return &retentionCycle{store: through, codec: codec, readModels: rm, window: window,
		log: log.With("component", "retention"), metrics: newRetentionMetrics(reg)}, nil
}

func registerRetention(p singletonParams, c *retentionCycle, cfg config.Config) {
	if cfg.RetentionInterval <= 0 {
		c.log.Info("retention cycle off (--retention-interval 0)")
		return
	}
	runSingleton(p, "retention", func(ctx context.Context) {
		everyInterval(ctx, cfg.RetentionInterval, func(ctx context.Context) int {
			rep, err := c.run(ctx, c.now(), false, nil)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				c.log.Error("retention cycle failed; retrying at the next one", "error", err)
			default:
				logReport(c.log, rep)
			}
			return int(rep.Archive.Events)
		})
	})
}

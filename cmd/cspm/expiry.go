package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/queries"
)

// The expiry schedulers of `cspm serve` (muting rules, indicators) share
// their loop: sweep at once, then every interval; a sweep pages through
// what a read model says is due and sends each item's expiry command as
// its team. The command decides on the item's own stream, so an item
// expired twice (several API processes, a read model behind) or changed
// meanwhile answers a rule error, which is ignored.

// everyInterval runs sweep at once, then every interval, until ctx ends.
func everyInterval(ctx context.Context, interval time.Duration, sweep func(context.Context) int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dueItem is one item a sweep expires: its id and team, and what its log
// lines say of it beside them.
type dueItem struct {
	ID, TeamID string
	Attrs      []any
}

// expirySweep names what a sweep expires, for its log lines.
type expirySweep struct {
	kind   string // "muting rule"
	aKind  string // "a muting rule"
	kinds  string // "muting rules"
	idKey  string // "rule_id"
	page   int
	log    *slog.Logger
	list   func(ctx context.Context, p queries.Page) (items []dueItem, next string, err error)
	expire func(ctx context.Context, it dueItem) (commands.Result, error)
}

// run expires every item due and returns how many it expired.
func (s expirySweep) run(ctx context.Context) int {
	page := queries.Page{Limit: s.page}
	expired := 0
	for {
		items, next, err := s.list(ctx, page)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("listing the "+s.kinds+" due to expire failed; retrying at the next sweep", "error", err)
			}
			return expired
		}
		for _, it := range items {
			res, err := s.expire(ctx, it)
			ids := append([]any{s.idKey, it.ID, "team_id", it.TeamID}, it.Attrs...)
			var rule *domain.RuleError
			switch {
			case err == nil:
				expired++
				s.log.Info(s.kind+" expired", append(ids, "position", res.Position)...)
			case errors.As(err, &rule):
				s.log.Debug(s.kind+" not expired", append(ids, "code", rule.Code)...)
			case ctx.Err() != nil:
				return expired
			default:
				s.log.Warn("expiring "+s.aKind+" failed; retrying at the next sweep", append(ids, "error", err)...)
			}
		}
		if next == "" {
			return expired
		}
		page.Cursor = next
	}
}

package main

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	riskcmd "github.com/cspm-es/cspm-es/commands/risk"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// Risk management in `cspm serve` (docs/risk-management.md): the routes'
// service (commands on the kit, queries over cspm_risk_management) and
// the scheduler that expires the risk acceptances whose expiry has passed.

// riskService is api.RiskService.
type riskService struct {
	*riskcmd.Handlers
	*riskquery.Service
}

func newRiskService(kit *commands.Kit, rm ReadModels) *riskService {
	return &riskService{riskcmd.New(kit), riskquery.New(rm.Stores[dbregistry.RISK_MANAGEMENT], time.Now)}
}

var riskModule = fx.Module("risk",
	fx.Provide(newRiskService, newAcceptanceExpiry),
	fx.Invoke(registerAcceptanceExpiry),
)

// Risk acceptance expiry.
const (
	acceptanceExpiryInterval = time.Minute
	acceptanceExpiryPage     = 200
	acceptanceExpiryActor    = "system:risk-acceptance-expiry"
	acceptanceExpiryRoute    = "serve risk-acceptance expiry"
)

type dueAcceptances interface {
	DueAcceptances(ctx context.Context, now time.Time, p queries.Page) (riskquery.DueAcceptanceList, error)
}

type acceptanceExpirer interface {
	ExpireAcceptance(ctx context.Context, meta commands.Meta, cmd riskcmd.ExpireAcceptance) (commands.Result, error)
}

// acceptanceExpiry ends the risk acceptances whose expiry has passed, as
// the muting-rule scheduler does (expiry.go): the command decides on the
// acceptance's own stream, so a second expiry is a rule error, ignored.
type acceptanceExpiry struct {
	Interval time.Duration
	due      dueAcceptances
	expire   acceptanceExpirer
	now      func() time.Time
	log      *slog.Logger
}

func newAcceptanceExpiry(s *riskService, log *slog.Logger) *acceptanceExpiry {
	return &acceptanceExpiry{Interval: acceptanceExpiryInterval, due: s.Service, expire: s.Handlers, now: time.Now, log: log.With("component", "risk")}
}

func registerAcceptanceExpiry(lc fx.Lifecycle, x *acceptanceExpiry) { runBackground(lc, x.Run) }

// Run sweeps at once, then every Interval, until ctx ends.
func (x *acceptanceExpiry) Run(ctx context.Context) { everyInterval(ctx, x.Interval, x.Sweep) }

// Sweep expires every acceptance due now and returns how many it expired.
func (x *acceptanceExpiry) Sweep(ctx context.Context) int {
	now := x.now()
	return expirySweep{kind: "risk acceptance", aKind: "a risk acceptance", kinds: "risk acceptances", idKey: "acceptance_id",
		page: acceptanceExpiryPage, log: x.log,
		list: func(ctx context.Context, p queries.Page) ([]dueItem, string, error) {
			list, err := x.due.DueAcceptances(ctx, now, p)
			items := make([]dueItem, 0, len(list.Items))
			for _, a := range list.Items {
				items = append(items, dueItem{ID: a.ID, TeamID: a.TeamID, Attrs: []any{"expires_at", a.ExpiresAt}})
			}
			return items, list.NextCursor, err
		},
		expire: func(ctx context.Context, it dueItem) (commands.Result, error) {
			meta := commands.Meta{TeamID: it.TeamID, Actor: acceptanceExpiryActor, Route: acceptanceExpiryRoute}
			return x.expire.ExpireAcceptance(ctx, meta, riskcmd.ExpireAcceptance{AcceptanceID: it.ID})
		},
	}.run(ctx)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	riskcmd "github.com/cspm-es/cspm-es/commands/risk"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// Risk management in `cspm serve` (docs/risk-management.md): the routes'
// service (commands on the kit, queries over cspm_risk_management) and
// the schedulers that expire the risk acceptances whose expiry has passed
// and record the computed KRIs' breach states (the KRI observer).

// riskService is api.RiskService.
type riskService struct {
	*riskcmd.Handlers
	*riskquery.Service
}

func newRiskService(kit *commands.Kit, rm ReadModels) *riskService {
	return &riskService{riskcmd.New(kit), riskquery.New(rm.Stores[dbregistry.RISK_MANAGEMENT], time.Now)}
}

var riskModule = fx.Module("risk",
	fx.Provide(newRiskService, newAcceptanceExpiry, newKRIObserver),
	fx.Invoke(registerAcceptanceExpiry, func(p singletonParams, o *kriObserver) { runSingleton(p, "kri-observer", o.Run) }),
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
	fixes    readmodel.Store // the SLA clocks (cspm_vulnerabilities): accepted items fixed
	closer   acceptedItemCloser
	now      func() time.Time
	log      *slog.Logger
}

func newAcceptanceExpiry(s *riskService, rm ReadModels, log *slog.Logger) *acceptanceExpiry {
	return &acceptanceExpiry{Interval: acceptanceExpiryInterval, due: s.Service, expire: s.Handlers, fixes: rm.Stores[dbregistry.VULNERABILITIES],
		closer: s.Handlers, now: time.Now, log: log.With("component", "risk")}
}

func registerAcceptanceExpiry(p singletonParams, x *acceptanceExpiry) {
	runSingleton(p, "acceptance-expiry", x.Run)
}

// Run sweeps at once, then every Interval, until ctx ends: the expiries,
// then the accepted items fixed.
func (x *acceptanceExpiry) Run(ctx context.Context) {
	everyInterval(ctx, x.Interval, func(ctx context.Context) int { return x.Sweep(ctx) + x.SweepFixed(ctx) })
}

type acceptedItemCloser interface {
	CloseAcceptedItem(ctx context.Context, meta commands.Meta, cmd riskcmd.CloseAcceptedItem) (commands.Result, error)
}

const acceptanceFixActor = "system:risk-acceptance-fix"

// SweepFixed closes the acceptances of the items fixed while accepted:
// the SLA clocks (projection vulnerabilities.sla) that are resolved and
// still accepted, one CloseAcceptedItem per acceptance, dated at the
// clock's resolution. The command decides on the acceptance's stream: a
// second close, or a fix after the expiry, is a rule error, ignored.
func (x *acceptanceExpiry) SweepFixed(ctx context.Context) int {
	if x.fixes == nil {
		return 0
	}
	return expirySweep{kind: "accepted item fixed", aKind: "an accepted item", kinds: "accepted items fixed", idKey: "acceptance_id",
		page: acceptanceExpiryPage, log: x.log,
		list: func(ctx context.Context, p queries.Page) ([]dueItem, string, error) {
			page, err := x.fixes.Find(ctx, vulnproj.SLAClocksCollection, readmodel.FindOptions{
				Filter: readmodel.And(readmodel.Eq("accepted", true), readmodel.Eq("status", "resolved")),
				Sort:   []readmodel.SortField{readmodel.Asc("_id")}, Limit: p.Size(), Cursor: p.Cursor})
			if err != nil {
				return nil, "", err
			}
			var items []dueItem
			for _, d := range page.Docs {
				item, _ := d["_id"].(string)
				team, _ := d["team_id"].(string)
				fixed, _ := d["resolved_at"].(time.Time)
				ids, _ := d["acceptance_ids"].([]any)
				for _, id := range ids {
					if acc, ok := id.(string); ok {
						items = append(items, dueItem{ID: acc, TeamID: team, Attrs: []any{"item_id", item, "fixed_at", fixed}})
					}
				}
			}
			return items, page.NextCursor, nil
		},
		expire: func(ctx context.Context, it dueItem) (commands.Result, error) {
			item, _ := it.Attrs[1].(string)
			fixed, _ := it.Attrs[3].(time.Time)
			meta := commands.Meta{TeamID: it.TeamID, Actor: acceptanceFixActor, Route: acceptanceExpiryRoute}
			return x.closer.CloseAcceptedItem(ctx, meta, riskcmd.CloseAcceptedItem{AcceptanceID: it.ID, ItemID: item, FixedAt: fixed})
		},
	}.run(ctx)
}

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

// The KRI observer (decision 100): a computed KRI's points are the
// projection risk.kris's, in cspm_risk_management, which no other
// module's projection reads. Every kriObserveInterval the observer lists
// the active computed KRIs of every team with their latest points and
// runs ObserveKRI on each whose point or thresholds it has not seen: the
// KRI's stream records ComputedKRIObserved when the breach state changed
// (or the value moved while amber or red), which the dashboard folds. The
// decision is the aggregate's, so a repeated observation (a restart, two
// processes) appends nothing.
const (
	kriObserveInterval = 30 * time.Second
	kriObservePage     = 200
	kriObserverActor   = "system:kri-observer"
	kriObserverRoute   = "serve kri observer"
)

type computedKRILister interface {
	ActiveComputedKRIs(ctx context.Context, p queries.Page) (riskquery.ComputedKRIList, error)
}

type kriObserverCommand interface {
	ObserveKRI(ctx context.Context, meta commands.Meta, cmd riskcmd.ObserveKRI) (commands.Result, error)
}

type kriObserver struct {
	Interval time.Duration
	MaxPages int
	list     computedKRILister
	observe  kriObserverCommand
	log      *slog.Logger
	mu       sync.Mutex // one sweep at a time
	// seen is, per team/KRI, the point and thresholds last observed by
	// this process (nothing to do while they stay the same).
	seen map[string]string
}

func newKRIObserver(s *riskService, log *slog.Logger) *kriObserver {
	return &kriObserver{Interval: kriObserveInterval, MaxPages: 50, list: s.Service, observe: s.Handlers,
		log: log.With("component", "risk"), seen: map[string]string{}}
}

// Run observes at once, then every Interval, until ctx ends.
func (o *kriObserver) Run(ctx context.Context) { everyInterval(ctx, o.Interval, o.Sweep) }

// Sweep observes every active computed KRI once and returns how many
// observations it recorded.
func (o *kriObserver) Sweep(ctx context.Context) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	p := queries.Page{Limit: kriObservePage}
	for range o.MaxPages {
		list, err := o.list.ActiveComputedKRIs(ctx, p)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Warn("listing computed KRIs failed; retrying at the next sweep", "error", err)
			}
			return n
		}
		for _, k := range list.Items {
			if k.LastValue == nil {
				continue
			}
			key := k.TeamID + "/" + k.ID
			seen := fmt.Sprintf("%v@%s %s %v %v", *k.LastValue, k.LastMeasuredAt.Format(time.RFC3339Nano), k.Direction, k.Amber, k.Red)
			if o.seen[key] == seen {
				continue
			}
			res, err := o.observe.ObserveKRI(ctx, commands.Meta{TeamID: k.TeamID, Actor: kriObserverActor, Route: kriObserverRoute},
				riskcmd.ObserveKRI{KRIID: k.ID, Value: *k.LastValue, MeasuredAt: k.LastMeasuredAt})
			var rule *domain.RuleError
			switch {
			case err == nil:
				o.seen[key] = seen
				if len(res.EventIDs) > 0 {
					n++
					o.log.Info("computed KRI observed", "team_id", k.TeamID, "kri_id", k.ID, "value", *k.LastValue, "measured_at", k.LastMeasuredAt)
				}
			case errors.As(err, &rule):
				o.seen[key] = seen // retired since it was listed: nothing to record
			case ctx.Err() != nil:
				return n
			default:
				o.log.Warn("observing a computed KRI failed; retrying at the next sweep", "team_id", k.TeamID, "kri_id", k.ID, "error", err)
			}
		}
		if list.NextCursor == "" {
			break
		}
		p.Cursor = list.NextCursor
	}
	return n
}

package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// Muting rules and triage in `cspm serve` (api role): the triage
// commands' view of imported findings, and the scheduler that ends the
// muting rules whose expiry has passed.

var mutingModule = fx.Module("muting",
	fx.Provide(newMutingExpiry),
	fx.Invoke(wireImportedFindings, registerMutingExpiry),
)

// wireImportedFindings lets the finding commands triage imported findings:
// they ask the findings read model whether the caller's team has one, and
// what the scans say of it.
func wireImportedFindings(h *cscmd.Handlers, q *csquery.Service) {
	h.WithImportedFindings(importedFindings{q})
}

// importedFindings is cscmd.ImportedFindings over the findings queries.
type importedFindings struct{ q *csquery.Service }

func (f importedFindings) ImportedFinding(ctx context.Context, team, id string) (cscmd.ImportedFinding, bool, error) {
	got, err := f.q.ImportedFinding(ctx, team, id)
	switch {
	case errors.Is(err, queries.ErrNotFound):
		return cscmd.ImportedFinding{}, false, nil
	case err != nil:
		return cscmd.ImportedFinding{}, false, err
	}
	return cscmd.ImportedFinding{Status: got.Status, LastSeen: got.LastSeen}, true, nil
}

// Muting rule expiry.
const (
	// mutingExpiryInterval is how often the scheduler looks for due rules.
	mutingExpiryInterval = time.Minute
	// mutingExpiryPage is how many due rules it reads at once.
	mutingExpiryPage = 200
	// mutingExpiryActor and mutingExpiryRoute stamp the events it appends.
	mutingExpiryActor = "system:muting-expiry"
	mutingExpiryRoute = "serve muting-rule expiry"
)

// dueRules lists the active rules whose expiry has passed.
type dueRules interface {
	DueMutingRules(ctx context.Context, now time.Time, p queries.Page) (csquery.DueMutingRuleList, error)
}

// ruleExpirer ends a rule whose expiry has passed.
type ruleExpirer interface {
	ExpireMutingRule(ctx context.Context, meta commands.Meta, cmd cscmd.ExpireMutingRule) (commands.Result, error)
}

// mutingExpiry ends the muting rules whose expiry has passed: every
// Interval, it lists the due rules of every team (the muting_rules read
// model) and sends ExpireMutingRule for each, as the rule's team. The
// command decides on the rule's own stream, so a rule the read model
// shows late, or that several API processes expire at once, ends once: a
// second expiry is a rule error (MUTING_RULE_ENDED), which is ignored, as
// is MUTING_RULE_NOT_EXPIRED (a change moved the expiry and the read model
// does not show it yet).
type mutingExpiry struct {
	Interval time.Duration
	due      dueRules
	expire   ruleExpirer
	now      func() time.Time
	log      *slog.Logger
}

func newMutingExpiry(q *csquery.Service, h *cscmd.Handlers, log *slog.Logger) *mutingExpiry {
	return &mutingExpiry{Interval: mutingExpiryInterval, due: q, expire: h, now: time.Now, log: log.With("component", "muting")}
}

// registerMutingExpiry runs the scheduler from start to stop.
func registerMutingExpiry(p singletonParams, m *mutingExpiry) {
	runSingleton(p, "muting-expiry", m.Run)
}

// Run sweeps at once, then every Interval, until ctx ends.
func (m *mutingExpiry) Run(ctx context.Context) { everyInterval(ctx, m.Interval, m.Sweep) }

// Sweep expires every rule due now and returns how many it expired.
func (m *mutingExpiry) Sweep(ctx context.Context) int {
	now := m.now()
	return expirySweep{kind: "muting rule", aKind: "a muting rule", kinds: "muting rules", idKey: "rule_id", page: mutingExpiryPage, log: m.log,
		list: func(ctx context.Context, p queries.Page) ([]dueItem, string, error) {
			list, err := m.due.DueMutingRules(ctx, now, p)
			items := make([]dueItem, 0, len(list.Items))
			for _, r := range list.Items {
				items = append(items, dueItem{ID: r.ID, TeamID: r.TeamID, Attrs: []any{"expires_at", r.ExpiresAt}})
			}
			return items, list.NextCursor, err
		},
		expire: func(ctx context.Context, it dueItem) (commands.Result, error) {
			meta := commands.Meta{TeamID: it.TeamID, Actor: mutingExpiryActor, Route: mutingExpiryRoute}
			return m.expire.ExpireMutingRule(ctx, meta, cscmd.ExpireMutingRule{RuleID: it.ID})
		},
	}.run(ctx)
}

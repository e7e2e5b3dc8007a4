package vulnerabilities

import (
	"maps"
	"net/url"
	"slices"
	"time"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Risk acceptances pause SLA clocks (docs/sla.md, "Accepted items";
// decision 67). The projection folds the acceptance events itself:
//
//   - sla_acceptance_scopes (per team and acceptance): the items it names,
//     its start and expiry, whether it ended;
//   - sla_accepted (per team and item): each acceptance's interval of that
//     item, [from, end), end being the revoke, the expiry or the item's
//     fix, or, while none happened, the scheduled expiry.
//
// The rule: the time an item was accepted does not count. Its clock's due
// date moves later by the length of the union of its acceptance
// intervals, clipped to the clock's life (from its start to its
// resolution, when resolved). While an acceptance is in force its
// scheduled expiry stands for its end, so the item is out of the breaches
// until then; a revoke or a fix ends it earlier and the due date moves
// back to match.
//
// A rule's acceptance (scope.rule: a module's CVEs, or checks within
// accounts) pauses every clock of the team the rule matches, whenever the
// clock appears (before or after the acceptance: the rule is kept in
// sla_acceptance_rules, per team, and every clock's pause reads it). A fix
// of one of its items ends its interval for that item only (sla_accepted,
// as for items named by id).
const (
	slaAcceptanceScopesCollection = "sla_acceptance_scopes"
	slaAcceptedCollection         = "sla_accepted"
	slaAcceptanceRulesCollection  = "sla_acceptance_rules" // _id: the team: its rule acceptances, their rules and intervals
)

// rules is the team's rule acceptances document (cached for the pass).
func (p *slaPass) rules(team string) (readmodel.Doc, error) {
	if d, ok := p.ruleDocs[team]; ok {
		return d, nil
	}
	d, found, err := fold.Get(p.ctx, p.tx, slaAcceptanceRulesCollection, team)
	if err != nil {
		return nil, err
	}
	if !found {
		d = nil
	}
	p.ruleDocs[team] = d
	return d, nil
}

// ruleOf is the rule stored in a rule acceptance's entry.
func ruleOf(a map[string]any) rdomain.AcceptanceRule {
	return rdomain.AcceptanceRule{Module: fold.Str(a, "module"), VulnerabilityIDs: fold.Strs(a, "vulnerability_ids"),
		Checks: fold.Strs(a, "checks"), Accounts: fold.Strs(a, "accounts")}
}

// matches says whether rule r accepts the clock d.
func matches(r rdomain.AcceptanceRule, d readmodel.Doc) bool {
	return r.Matches(fold.Str(d, "module"), fold.Str(d, "vulnerability_id"), fold.Str(d, "check"), fold.Str(d, "account"))
}

// ruleAcceptance records a rule acceptance's rule and interval (from its
// RiskAccepted) or end (revoke, expiry) in the team's document, then
// recomputes the team's clocks the rule matches.
func (p *slaPass) ruleAcceptance(team, id string, rule *rdomain.AcceptanceRule, from, until, ended time.Time) error {
	d, err := p.rules(team)
	if err != nil {
		return err
	}
	if d == nil {
		d = readmodel.Doc{"_id": team, "team_id": team, "acceptances": map[string]any{}}
	}
	accs := maps.Clone(fold.Obj(d, "acceptances"))
	if accs == nil {
		accs = map[string]any{}
	}
	a := maps.Clone(fold.Obj(accs, id))
	if a == nil {
		a = map[string]any{}
	}
	if rule != nil {
		a["module"], a["vulnerability_ids"], a["checks"], a["accounts"] = rule.Module, strList(rule.VulnerabilityIDs), strList(rule.Checks), strList(rule.Accounts)
		a["from"], a["until"] = from, until
	}
	if !ended.IsZero() {
		a["ended_at"] = ended
	}
	accs[id] = a
	d["acceptances"] = accs
	p.ruleDocs[team] = d
	p.tx.Put(slaAcceptanceRulesCollection, d)
	if fold.Str(a, "module") == "" {
		return nil // its RiskAccepted has not been folded (it comes first in its stream)
	}
	return p.recomputeMatching(team, ruleOf(a))
}

func strList(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// recomputeMatching recomputes the team's clocks rule r matches: the
// occurrences of its artifacts, or the findings of its accounts.
func (p *slaPass) recomputeMatching(team string, r rdomain.AcceptanceRule) error {
	t, err := p.team(team)
	if err != nil {
		return err
	}
	if r.Module == rdomain.ModuleVulnerabilities {
		for _, art := range slices.Sorted(maps.Keys(fold.Obj(t.places, "artifacts"))) {
			a, _, err := fold.Get(p.ctx, p.tx, slaArtifactsCollection, slaArtifactID(team, art))
			if err != nil {
				return err
			}
			completed := timesOf(a, "completed")
			for _, oid := range slices.Sorted(maps.Keys(fold.Obj(a, "members"))) {
				c, found, err := fold.Get(p.ctx, p.tx, SLAClocksCollection, oid)
				if err != nil {
					return err
				}
				if found && matches(r, c) {
					if err := p.recompute(team, oid, completed, nil); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, acc := range slices.Sorted(maps.Keys(fold.Obj(t.places, "accounts"))) {
		a, _, err := fold.Get(p.ctx, p.tx, slaAccountsCollection, acc)
		if err != nil {
			return err
		}
		if len(r.Accounts) > 0 && !slices.Contains(r.Accounts, fold.Str(a, "account")) {
			continue
		}
		for _, fid := range slices.Sorted(maps.Keys(fold.Obj(a, "members"))) {
			c, found, err := fold.Get(p.ctx, p.tx, SLAClocksCollection, fid)
			if err != nil {
				return err
			}
			if found && matches(r, c) {
				if err := p.recompute(team, fid, nil, a); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func slaTeamItemID(team, id string) string { return url.PathEscape(team) + "/" + id }

// acceptance folds one acceptance event and recomputes the clocks it
// touches.
func (p *slaPass) acceptance(team string, data any) error {
	var id string
	switch e := data.(type) {
	case rdomain.RiskAccepted:
		id = e.AcceptanceID
	case rdomain.RiskAcceptanceRevoked:
		id = e.AcceptanceID
	case rdomain.RiskAcceptanceExpired:
		id = e.AcceptanceID
	case rdomain.AcceptedItemFixed:
		id = e.AcceptanceID
	}
	sid := slaTeamItemID(team, id)
	sc, found, err := fold.Get(p.ctx, p.tx, slaAcceptanceScopesCollection, sid)
	if err != nil {
		return err
	}
	if !found {
		sc = readmodel.Doc{"_id": sid, "team_id": team, "acceptance_id": id, "items": []any{}}
	}
	var items []string
	for _, x := range anyList(sc["items"]) {
		if s, ok := x.(string); ok {
			items = append(items, s)
		}
	}
	var touched []string
	switch e := data.(type) {
	case rdomain.RiskAccepted:
		for item := range e.Scope.Items() {
			items = append(items, item)
		}
		slices.Sort(items)
		items = slices.Compact(items)
		sc["from"], sc["until"] = readmodel.NormalizeTime(e.AcceptedAt), readmodel.NormalizeTime(e.ExpiresAt)
		touched = items
	case rdomain.RiskAcceptanceRevoked:
		sc["ended_at"] = readmodel.NormalizeTime(e.RevokedAt)
		touched = items
	case rdomain.RiskAcceptanceExpired:
		sc["ended_at"] = readmodel.NormalizeTime(e.ExpiredAt)
		touched = items
	case rdomain.AcceptedItemFixed:
		touched = []string{e.ItemID}
		if err := p.acceptedInterval(team, e.ItemID, id, time.Time{}, time.Time{}, readmodel.NormalizeTime(e.FixedAt)); err != nil {
			return err
		}
	}
	list := make([]any, len(items))
	for i, s := range items {
		list[i] = s
	}
	sc["items"] = list
	switch e := data.(type) {
	case rdomain.RiskAccepted:
		if e.Scope.Rule != nil {
			sc["rule"] = true
			if err := p.ruleAcceptance(team, id, e.Scope.Rule, fold.Time(sc, "from"), fold.Time(sc, "until"), time.Time{}); err != nil {
				return err
			}
		}
	case rdomain.RiskAcceptanceRevoked, rdomain.RiskAcceptanceExpired:
		if fold.Flag(sc, "rule") {
			if err := p.ruleAcceptance(team, id, nil, time.Time{}, time.Time{}, fold.Time(sc, "ended_at")); err != nil {
				return err
			}
		}
	}
	p.tx.Put(slaAcceptanceScopesCollection, sc)
	if _, fixed := data.(rdomain.AcceptedItemFixed); !fixed {
		for _, item := range touched {
			if err := p.acceptedInterval(team, item, id, fold.Time(sc, "from"), fold.Time(sc, "until"), fold.Time(sc, "ended_at")); err != nil {
				return err
			}
		}
	}
	for _, item := range touched {
		if err := p.recomputeTeamClock(team, item); err != nil {
			return err
		}
	}
	return nil
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// acceptedInterval records acceptance acc's interval of one item: its
// start and scheduled expiry (when given) and its end (when given; the
// earliest end wins: a fix before the acceptance's expiry or revoke).
func (p *slaPass) acceptedInterval(team, item, acc string, from, until, ended time.Time) error {
	id := slaTeamItemID(team, item)
	d, found, err := fold.Get(p.ctx, p.tx, slaAcceptedCollection, id)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "item_id": item, "acceptances": map[string]any{}}
	}
	accs := fold.Obj(d, "acceptances")
	if accs == nil {
		accs = map[string]any{}
		d["acceptances"] = accs
	}
	a := fold.Obj(accs, acc)
	if a == nil {
		a = map[string]any{}
		accs[acc] = a
	}
	if !from.IsZero() {
		a["from"], a["until"] = from, until
	}
	if !ended.IsZero() {
		if cur := fold.Time(a, "ended_at"); cur.IsZero() || ended.Before(cur) {
			a["ended_at"] = ended
		}
	}
	p.tx.Put(slaAcceptedCollection, d)
	return nil
}

// recomputeTeamClock recomputes the team's clock of item, if it has one.
func (p *slaPass) recomputeTeamClock(team, item string) error {
	d, found, err := fold.Get(p.ctx, p.tx, SLAClocksCollection, item)
	if err != nil || !found || fold.Str(d, "team_id") != team {
		return err
	}
	return p.recompute(team, item, nil, nil)
}

// pause is what the acceptances of clock d (of team) change: how long it
// was paused between start and end (end zero: open), and the acceptances
// still in force (no end recorded).
func (p *slaPass) pause(team string, d readmodel.Doc, start, end time.Time) (time.Duration, []any, error) {
	acc, _, err := fold.Get(p.ctx, p.tx, slaAcceptedCollection, slaTeamItemID(team, fold.Str(d, "_id")))
	if err != nil {
		return 0, nil, err
	}
	rules, err := p.rules(team)
	if err != nil {
		return 0, nil, err
	}
	// The item's intervals: its acceptances by id, and the rule
	// acceptances that match it (their interval, ended earlier by the
	// item's fix when one was recorded for it).
	accs := maps.Clone(fold.Obj(acc, "acceptances"))
	if accs == nil {
		accs = map[string]any{}
	}
	for id, x := range fold.Obj(rules, "acceptances") {
		r, _ := x.(map[string]any)
		if r == nil || fold.Str(r, "module") == "" || !matches(ruleOf(r), d) {
			continue
		}
		a := map[string]any{"from": fold.Time(r, "from"), "until": fold.Time(r, "until")}
		end := fold.Time(r, "ended_at")
		if fixed := fold.Time(fold.Obj(accs, id), "ended_at"); !fixed.IsZero() && (end.IsZero() || fixed.Before(end)) {
			end = fixed
		}
		if !end.IsZero() {
			a["ended_at"] = end
		}
		accs[id] = a
	}
	if len(accs) == 0 {
		return 0, nil, nil
	}
	type span struct{ from, to time.Time }
	var spans []span
	var active []any
	for _, id := range slices.Sorted(maps.Keys(accs)) {
		a := fold.Obj(accs, id)
		from, to := fold.Time(a, "from"), fold.Time(a, "ended_at")
		if from.IsZero() {
			continue // its start has not arrived yet (a fix folded first)
		}
		if to.IsZero() {
			to = fold.Time(a, "until")
			active = append(active, id)
		}
		if from.Before(start) {
			from = start
		}
		if !end.IsZero() && to.After(end) {
			to = end
		}
		if to.After(from) {
			spans = append(spans, span{from, to})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var total time.Duration
	var cur span
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if len(spans) > 0 {
		total += cur.to.Sub(cur.from)
	}
	return total, active, nil
}

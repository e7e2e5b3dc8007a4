package platform

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The dashboard's risk section (docs/risk-management.md, "Dashboard"):
// the team's top open risks by level, its KRIs in breach (red at their
// latest manual measurement, or as the KRI observer last recorded a
// computed one: ComputedKRIObserved, decision 100) and its active risk acceptances by expiry
// (the query keeps those expiring within 30 days of its time). The
// dashboard folds the risk events itself into one internal document per
// team (dashboard_risk), one entry per risk, KRI and acceptance, each
// written only by its own stream's events: the section is a function of
// the set of events.

// DashboardRiskCollection is the internal per-team index of the section.
const DashboardRiskCollection = "dashboard_risk"

// Sizes of the section's lists.
const (
	TopRisks          = 5
	RiskSectionListed = 50 // KRIs in breach and active acceptances kept in the section
)

var riskEventTypes = []string{
	rdomain.RiskIdentified{}.EventType(), rdomain.RiskDescribed{}.EventType(), rdomain.RiskScored{}.EventType(), rdomain.RiskClosed{}.EventType(),
	rdomain.KRIDefined{}.EventType(), rdomain.KRIMeasured{}.EventType(), rdomain.KRIRetired{}.EventType(), rdomain.ComputedKRIObserved{}.EventType(),
	rdomain.RiskAccepted{}.EventType(), rdomain.RiskAcceptanceRevoked{}.EventType(), rdomain.RiskAcceptanceExpired{}.EventType(),
	rdomain.AcceptedItemFixed{}.EventType(),
}

func riskCollections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: DashboardRiskCollection}}
}

// applyRisk folds a risk event; handled is false for other events.
func applyRisk(ctx context.Context, tx projections.Tx, ev projections.Event) (bool, error) {
	team := ev.Metadata.TeamID
	var kind, id string
	switch e := fold.Value(ev.Data).(type) {
	case rdomain.RiskIdentified:
		kind, id = "risks", e.RiskID
	case rdomain.RiskDescribed:
		kind, id = "risks", e.RiskID
	case rdomain.RiskScored:
		kind, id = "risks", e.RiskID
	case rdomain.RiskClosed:
		kind, id = "risks", e.RiskID
	case rdomain.KRIDefined:
		kind, id = "kris", e.KRIID
	case rdomain.KRIMeasured:
		kind, id = "kris", e.KRIID
	case rdomain.KRIRetired:
		kind, id = "kris", e.KRIID
	case rdomain.ComputedKRIObserved:
		kind, id = "kris", e.KRIID
	case rdomain.RiskAccepted:
		kind, id = "acceptances", e.AcceptanceID
	case rdomain.RiskAcceptanceRevoked:
		kind, id = "acceptances", e.AcceptanceID
	case rdomain.RiskAcceptanceExpired:
		kind, id = "acceptances", e.AcceptanceID
	case rdomain.AcceptedItemFixed:
		kind, id = "acceptances", e.AcceptanceID
	default:
		return false, nil
	}
	if team == "" {
		return true, nil
	}
	idx, _, err := fold.Get(ctx, tx, DashboardRiskCollection, team)
	if err != nil {
		return true, err
	}
	if idx == nil {
		idx = readmodel.Doc{"_id": team, "team_id": team}
	}
	entries := maps.Clone(fold.Obj(idx, kind))
	if entries == nil {
		entries = map[string]any{}
	}
	e := maps.Clone(fold.Obj(entries, id))
	if e == nil {
		e = map[string]any{}
	}
	if fold.Num(e, "pos") >= ev.Position {
		return true, nil // applied before
	}
	e["pos"] = ev.Position
	switch x := fold.Value(ev.Data).(type) {
	case rdomain.RiskIdentified:
		e["title"], e["status"], e["identified_at"] = x.Title, "open", x.IdentifiedAt
	case rdomain.RiskDescribed:
		e["title"] = x.Title
	case rdomain.RiskScored:
		if x.Kind == rdomain.Current || (x.Kind == rdomain.Inherent && fold.Str(e, "scored") != rdomain.Current) {
			e["level"], e["rank"], e["scored"] = x.Score.Level, int64(x.Score.LevelRank), x.Kind
		}
	case rdomain.RiskClosed:
		e["status"] = "closed"
	case rdomain.KRIDefined:
		e["name"], e["direction"], e["amber"], e["red"], e["status"] = x.Spec.Name, x.Spec.Direction, x.Spec.Amber, x.Spec.Red, "active"
		if v, ok := e["value"].(float64); ok {
			e["state"] = x.Spec.State(v)
		}
	case rdomain.KRIMeasured:
		if last := fold.Time(e, "at"); last.IsZero() || !x.MeasuredAt.Before(last) {
			spec := rdomain.KRISpec{Direction: fold.Str(e, "direction"), Amber: num(e["amber"]), Red: num(e["red"])}
			e["value"], e["at"], e["state"] = x.Value, x.MeasuredAt, spec.State(x.Value)
		}
	case rdomain.ComputedKRIObserved:
		if last := fold.Time(e, "at"); last.IsZero() || !x.MeasuredAt.Before(last) {
			e["value"], e["at"], e["state"] = x.Value, x.MeasuredAt, x.State
		}
	case rdomain.KRIRetired:
		e["status"] = "retired"
	case rdomain.RiskAccepted:
		e["expires_at"], e["items"], e["status"] = x.ExpiresAt, int64(len(x.Scope.Items())), rdomain.AcceptanceActive
		if x.Scope.Rule != nil {
			e["rule"] = true
		}
	case rdomain.RiskAcceptanceRevoked:
		e["status"] = rdomain.AcceptanceRevoked
	case rdomain.RiskAcceptanceExpired:
		e["status"] = rdomain.AcceptanceExpired
	case rdomain.AcceptedItemFixed:
		e["fixed"] = fold.Num(e, "fixed") + 1
		if !fold.Flag(e, "rule") && fold.Num(e, "fixed") >= fold.Num(e, "items") && fold.Num(e, "items") > 0 {
			e["status"] = rdomain.AcceptanceClosed
		}
	}
	entries[id] = e
	idx[kind] = entries
	tx.Put(DashboardRiskCollection, idx)

	d, err := loadDashboard(ctx, tx, team)
	if err != nil {
		return true, err
	}
	d.Risk = riskSection(idx)
	tx.Put(DashboardCollection, d.doc())
	return true, nil
}

func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	}
	return 0
}

// riskSection derives the section from the team's index.
func riskSection(idx readmodel.Doc) map[string]any {
	type risk struct {
		id, title, level string
		rank             int64
		at               time.Time
	}
	var risks []risk
	open := int64(0)
	for id, v := range fold.Obj(idx, "risks") {
		e, _ := v.(map[string]any)
		if fold.Str(e, "status") != "open" || fold.Str(e, "title") == "" {
			continue
		}
		open++
		risks = append(risks, risk{id, fold.Str(e, "title"), fold.Str(e, "level"), fold.Num(e, "rank"), fold.Time(e, "identified_at")})
	}
	slices.SortFunc(risks, func(a, b risk) int {
		return cmp.Or(cmp.Compare(b.rank, a.rank), b.at.Compare(a.at), cmp.Compare(a.id, b.id))
	})
	top := []any{}
	for _, r := range risks[:min(len(risks), TopRisks)] {
		top = append(top, map[string]any{"id": r.id, "title": r.title, "level": r.level, "level_rank": r.rank})
	}

	var breach []map[string]any
	for id, v := range fold.Obj(idx, "kris") {
		e, _ := v.(map[string]any)
		if fold.Str(e, "status") == "active" && fold.Str(e, "state") == rdomain.Red {
			breach = append(breach, map[string]any{"id": id, "name": fold.Str(e, "name"), "value": e["value"], "measured_at": fold.Time(e, "at")})
		}
	}
	slices.SortFunc(breach, func(a, b map[string]any) int {
		return cmp.Or(fold.Time(b, "measured_at").Compare(fold.Time(a, "measured_at")), cmp.Compare(fold.Str(a, "id"), fold.Str(b, "id")))
	})

	var accs []map[string]any
	for id, v := range fold.Obj(idx, "acceptances") {
		e, _ := v.(map[string]any)
		if fold.Str(e, "status") == rdomain.AcceptanceActive && !fold.Time(e, "expires_at").IsZero() {
			accs = append(accs, map[string]any{"id": id, "expires_at": fold.Time(e, "expires_at"), "items": fold.Num(e, "items")})
		}
	}
	slices.SortFunc(accs, func(a, b map[string]any) int {
		return cmp.Or(fold.Time(a, "expires_at").Compare(fold.Time(b, "expires_at")), cmp.Compare(fold.Str(a, "id"), fold.Str(b, "id")))
	})
	list := func(xs []map[string]any) []any {
		out := []any{}
		for _, x := range xs[:min(len(xs), RiskSectionListed)] {
			out = append(out, x)
		}
		return out
	}
	return map[string]any{"open_risks": open, "top_risks": top, "kris_in_breach_total": int64(len(breach)), "kris_in_breach": list(breach),
		"active_acceptances_total": int64(len(accs)), "active_acceptances": list(accs)}
}

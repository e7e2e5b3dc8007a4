package platform

import (
	"time"

	"github.com/cspm-es/cspm-es/queries"
)

// The dashboard's risk section (projections/platform/dashboard_risk.go,
// docs/risk-management.md "Dashboard").

// RiskSection is the team's risk at a glance: its top open risks, its KRIs
// in breach and its risk acceptances expiring within 30 days of the
// request (or already past their expiry, which the scheduler is ending).
type RiskSection struct {
	OpenRisks            int64                `json:"open_risks"`
	TopRisks             []TopRisk            `json:"top_risks"`
	KRIsInBreach         int64                `json:"kris_in_breach"`
	KRIsInBreachListed   []KRIInBreach        `json:"kris_in_breach_listed"`
	ActiveAcceptances    int64                `json:"active_acceptances"`
	ExpiringWithin30Days int64                `json:"expiring_within_30_days"`
	Expiring             []ExpiringAcceptance `json:"expiring"`
}

// TopRisk is one of the top risks.
type TopRisk struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Level     string `json:"level,omitempty"`
	LevelRank int64  `json:"level_rank"`
}

// KRIInBreach is a KRI red at its latest measurement.
type KRIInBreach struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Value      float64   `json:"value"`
	MeasuredAt time.Time `json:"measured_at"`
}

// ExpiringAcceptance is an active acceptance expiring soon.
type ExpiringAcceptance struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	Items     int64     `json:"items"`
}

// riskSectionOf reads the section (nil: the team has no risk data).
func riskSectionOf(d map[string]any, now time.Time) *RiskSection {
	if d == nil {
		return nil
	}
	out := &RiskSection{OpenRisks: queries.Num(d, "open_risks"), TopRisks: []TopRisk{}, KRIsInBreach: queries.Num(d, "kris_in_breach_total"),
		KRIsInBreachListed: []KRIInBreach{}, ActiveAcceptances: queries.Num(d, "active_acceptances_total"), Expiring: []ExpiringAcceptance{}}
	for _, r := range queries.Objs(d, "top_risks") {
		out.TopRisks = append(out.TopRisks, TopRisk{ID: queries.Str(r, "id"), Title: queries.Str(r, "title"), Level: queries.Str(r, "level"), LevelRank: queries.Num(r, "level_rank")})
	}
	for _, k := range queries.Objs(d, "kris_in_breach") {
		v, _ := k["value"].(float64)
		if n, ok := k["value"].(int64); ok {
			v = float64(n)
		}
		out.KRIsInBreachListed = append(out.KRIsInBreachListed, KRIInBreach{ID: queries.Str(k, "id"), Name: queries.Str(k, "name"), Value: v, MeasuredAt: queries.When(k, "measured_at")})
	}
	limit := now.AddDate(0, 0, 30)
	for _, a := range queries.Objs(d, "active_acceptances") {
		if exp := queries.When(a, "expires_at"); !exp.After(limit) {
			out.ExpiringWithin30Days++
			out.Expiring = append(out.Expiring, ExpiringAcceptance{ID: queries.Str(a, "id"), ExpiresAt: exp, Items: queries.Num(a, "items")})
		}
	}
	return out
}

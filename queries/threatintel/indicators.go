package threatintel

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Indicator is one indicator of compromise of the caller's team.
type Indicator struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	Value          string    `json:"value"`     // normalised
	RawValue       string    `json:"raw_value"` // as given
	Confidence     int64     `json:"confidence"`
	Source         string    `json:"source"`
	Description    string    `json:"description,omitempty"`
	ValidFrom      time.Time `json:"valid_from"`
	ValidUntil     time.Time `json:"valid_until,omitzero"`
	Status         string    `json:"status"` // active, expired, revoked
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Observations   int64     `json:"observations"`
	LastObservedAt time.Time `json:"last_observed_at,omitzero"`
	EndedAt        time.Time `json:"ended_at,omitzero"`
	EndReason      string    `json:"end_reason,omitempty"`
}

// IndicatorList is one page of indicators, most recently created first.
type IndicatorList struct {
	Items      []Indicator `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// IndicatorFilter narrows ListIndicators.
type IndicatorFilter struct {
	Status string // active, expired, revoked
	Type   string // with Value: the value is normalised by this type
	Value  string
}

func indicatorOf(d readmodel.Doc) Indicator {
	return Indicator{ID: queries.Str(d, "indicator_id"), Type: queries.Str(d, "type"), Value: queries.Str(d, "value"),
		RawValue: queries.Str(d, "raw_value"), Confidence: queries.Num(d, "confidence"), Source: queries.Str(d, "source"),
		Description: queries.Str(d, "description"), ValidFrom: queries.When(d, "valid_from"), ValidUntil: queries.When(d, "valid_until"),
		Status: queries.Str(d, "status"), CreatedAt: queries.When(d, "created_at"), UpdatedAt: queries.When(d, "updated_at"),
		Observations: queries.Num(d, "observations"), LastObservedAt: queries.When(d, "last_observed_at"),
		EndedAt: queries.When(d, "ended_at"), EndReason: queries.Str(d, "end_reason")}
}

var indicatorStatuses = []string{"active", "expired", "revoked"}

// ListIndicators returns one page of the team's indicators.
func (s *Service) ListIndicators(ctx context.Context, team string, f IndicatorFilter, p queries.Page) (IndicatorList, error) {
	if team == "" {
		return IndicatorList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && !queries.OneOf(indicatorStatuses, status) {
		v.Add("status", "%q is not one of active, expired, revoked", f.Status)
	}
	value := ""
	if f.Value != "" || f.Type != "" {
		v.Check(f.Value != "" && f.Type != "", "value", "value and type go together (the value is normalised by its type)")
		if f.Value != "" && f.Type != "" {
			nv, err := ti.NormalizeIndicator(ti.IndicatorType(strings.ToLower(f.Type)), f.Value)
			if err != nil {
				v.Add("value", "%v", err)
			}
			value = nv
		}
	}
	if err := v.Err(); err != nil {
		return IndicatorList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "status", status)
	terms = queries.AppendEq(terms, "value", value)
	page, err := queries.Find(ctx, s.ti, indicatorsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: []readmodel.SortField{readmodel.Desc("created_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return IndicatorList{}, fmt.Errorf("list indicators: %w", err)
	}
	out := IndicatorList{Items: make([]Indicator, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = indicatorOf(d)
	}
	return out, nil
}

// GetIndicator returns the team's indicator; queries.ErrNotFound for
// another team's.
func (s *Service) GetIndicator(ctx context.Context, team, id string) (Indicator, error) {
	if team == "" {
		return Indicator{}, queries.ErrNoTeam
	}
	d, err := s.ti.Get(ctx, indicatorsCollection, team+"/"+id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return Indicator{}, queries.NotFound("indicator", id)
	case err != nil:
		return Indicator{}, fmt.Errorf("get indicator %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return Indicator{}, queries.NotFound("indicator", id)
	}
	return indicatorOf(d), nil
}

// DueIndicator is an active indicator whose valid_until has passed.
type DueIndicator struct {
	ID, TeamID string
	ValidUntil time.Time
}

// DueIndicatorList is one page of due indicators, soonest first.
type DueIndicatorList struct {
	Items      []DueIndicator
	NextCursor string
}

// DueIndicators lists the active indicators of every team whose
// valid_until is at or before now: what the expiry scheduler ends. A
// system query: never serve it to a caller.
func (s *Service) DueIndicators(ctx context.Context, now time.Time, p queries.Page) (DueIndicatorList, error) {
	var v domain.Validator
	p.Check(&v)
	v.Check(!now.IsZero(), "now", "is required")
	if err := v.Err(); err != nil {
		return DueIndicatorList{}, err
	}
	page, err := queries.Find(ctx, s.ti, indicatorsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("status", "active"), readmodel.Lte("valid_until", readmodel.NormalizeTime(now))),
		Sort:   []readmodel.SortField{readmodel.Asc("valid_until")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return DueIndicatorList{}, fmt.Errorf("due indicators: %w", err)
	}
	out := DueIndicatorList{NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		out.Items = append(out.Items, DueIndicator{ID: queries.Str(d, "indicator_id"), TeamID: queries.Str(d, "team_id"), ValidUntil: queries.When(d, "valid_until")})
	}
	return out, nil
}

// The correlation's read models (projections/threatintel, correlation.go).
const (
	observedValuesCollection = "observed_values"
	sightingsCollection      = "value_sightings"
)

// Sighting is one resource of the team where an indicator's value was seen.
type Sighting struct {
	Resource     string    `json:"resource"`
	ResourceName string    `json:"resource_name,omitempty"`
	AccountID    string    `json:"account_id,omitempty"`
	Region       string    `json:"region,omitempty"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
}

// IndicatorMatches is where an indicator's value was seen in the team's
// imported findings: the count and first/last sightings, then one page of
// sightings by resource.
type IndicatorMatches struct {
	IndicatorID string     `json:"indicator_id"`
	Value       string     `json:"value"`
	Sightings   int64      `json:"sightings"`
	FirstSeen   time.Time  `json:"first_seen,omitzero"`
	LastSeen    time.Time  `json:"last_seen,omitzero"`
	Items       []Sighting `json:"items"`
	NextCursor  string     `json:"next_cursor,omitempty"`
}

// IndicatorMatches returns the matches of the team's indicator: one read
// of the value's count, one page of its sightings (O(page), whatever the
// count). Exact values only (a cidr indicator matches its network
// address as written).
func (s *Service) IndicatorMatches(ctx context.Context, team, id string, p queries.Page) (IndicatorMatches, error) {
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return IndicatorMatches{}, err
	}
	ind, err := s.GetIndicator(ctx, team, id)
	if err != nil {
		return IndicatorMatches{}, err
	}
	out := IndicatorMatches{IndicatorID: ind.ID, Value: ind.Value, Items: []Sighting{}}
	d, err := s.ti.Get(ctx, observedValuesCollection, url.PathEscape(team)+"/"+ind.Value)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return out, nil
	case err != nil:
		return IndicatorMatches{}, fmt.Errorf("indicator %q matches: %w", id, err)
	}
	out.Sightings, out.FirstSeen, out.LastSeen = queries.Num(d, "sightings"), queries.When(d, "first_seen"), queries.When(d, "last_seen")
	page, err := queries.Find(ctx, s.ti, sightingsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("value", ind.Value)),
		Sort:   []readmodel.SortField{readmodel.Asc("resource")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return IndicatorMatches{}, fmt.Errorf("indicator %q sightings: %w", id, err)
	}
	out.NextCursor = page.NextCursor
	for _, sd := range page.Docs {
		out.Items = append(out.Items, Sighting{Resource: queries.Str(sd, "resource"), ResourceName: queries.Str(sd, "resource_name"),
			AccountID: queries.Str(sd, "account_id"), Region: queries.Str(sd, "region"),
			FirstSeen: queries.When(sd, "first_seen"), LastSeen: queries.When(sd, "last_seen")})
	}
	return out, nil
}

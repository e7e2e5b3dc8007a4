package threatintel

import (
	"context"
	"fmt"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the indicators projection and its collection.
const (
	IndicatorsName       = "threatintel.indicators"
	IndicatorsCollection = "indicators"
)

// Indicators keeps one document per indicator of a team (_id
// "<team>/<indicator id>"): type, normalised value, confidence, source,
// validity, status (active, expired, revoked), when it was last observed.
// Each indicator is one stream, applied in order; a redelivered event
// (position at or below updated_position) changes nothing.
type Indicators struct{}

var _ projections.Projection = Indicators{}

// NewIndicators returns the "threatintel.indicators" projection.
func NewIndicators() Indicators { return Indicators{} }

// Name implements projections.Projection.
func (Indicators) Name() string { return IndicatorsName }

// Database implements projections.Projection.
func (Indicators) Database() dbregistry.Constant { return dbregistry.THREAT_INTELLIGENCE }

// EventTypes implements projections.Projection.
func (Indicators) EventTypes() []string {
	return []string{ti.IndicatorCreated{}.EventType(), ti.IndicatorUpdated{}.EventType(), ti.IndicatorObserved{}.EventType(),
		ti.IndicatorExpired{}.EventType(), ti.IndicatorRevoked{}.EventType()}
}

// Collections implements projections.Projection.
func (Indicators) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: IndicatorsCollection, Indexes: []readmodel.Index{
		// GET /api/v1/indicators (?status=, ?type=), newest first.
		{Name: "by_team_created", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "created_at", Desc: true}}},
		{Name: "by_team_status_created", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "status"}, {Path: "created_at", Desc: true}}},
		// ?value= (normalised): a team's indicators of one value.
		{Name: "by_team_value", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "value"}}},
		// The expiry scheduler: active indicators whose valid_until has passed, any team.
		{Name: "by_status_valid_until", Fields: []readmodel.IndexField{{Path: "status"}, {Path: "valid_until"}}},
	}}}
}

// IndicatorDocID is the _id of a team's indicator.
func IndicatorDocID(team, id string) string { return team + "/" + id }

// Apply implements projections.Projection.
func (Indicators) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var id string
	switch e := fold.Value(ev.Data).(type) {
	case ti.IndicatorCreated:
		id = e.IndicatorID
	case ti.IndicatorUpdated:
		id = e.IndicatorID
	case ti.IndicatorObserved:
		id = e.IndicatorID
	case ti.IndicatorExpired:
		id = e.IndicatorID
	case ti.IndicatorRevoked:
		id = e.IndicatorID
	default:
		return nil
	}
	if team == "" || id == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, IndicatorsCollection, IndicatorDocID(team, id))
	if err != nil {
		return fmt.Errorf("%s: %w", IndicatorsName, err)
	}
	if found && fold.Num(d, "updated_position") >= ev.Position {
		return nil
	}
	if !found {
		d = readmodel.Doc{"_id": IndicatorDocID(team, id), "team_id": team, "indicator_id": id, "status": string(ti.IndicatorActive),
			"observations": int64(0), "last_observed_at": nil, "ended_at": nil, "end_reason": ""}
	}
	d["updated_position"] = ev.Position
	switch e := fold.Value(ev.Data).(type) {
	case ti.IndicatorCreated:
		d["type"], d["value"], d["raw_value"], d["confidence"] = string(e.Type), e.Value, e.RawValue, int64(e.Confidence)
		d["source"], d["description"], d["valid_from"], d["valid_until"] = e.Source, e.Description, e.ValidFrom, fold.TimeOrNil(e.ValidUntil)
		d["created_at"], d["updated_at"], d["created_by"] = e.CreatedAt, e.CreatedAt, ev.Metadata.Actor
	case ti.IndicatorUpdated:
		d["confidence"], d["source"], d["description"] = int64(e.Confidence), e.Source, e.Description
		d["valid_from"], d["valid_until"], d["updated_at"] = e.ValidFrom, fold.TimeOrNil(e.ValidUntil), e.UpdatedAt
	case ti.IndicatorObserved:
		d["valid_until"], d["last_observed_at"], d["updated_at"] = fold.TimeOrNil(e.ValidUntil), e.ObservedAt, e.ObservedAt
		d["observations"] = fold.Num(d, "observations") + 1
		d["status"], d["ended_at"] = string(ti.IndicatorActive), nil
	case ti.IndicatorExpired:
		d["status"], d["ended_at"], d["updated_at"] = string(ti.IndicatorInactive), e.ExpiredAt, e.ExpiredAt
	case ti.IndicatorRevoked:
		d["status"], d["ended_at"], d["end_reason"], d["updated_at"] = string(ti.IndicatorEnded), e.RevokedAt, e.Reason, e.RevokedAt
	}
	tx.Put(IndicatorsCollection, d)
	return nil
}

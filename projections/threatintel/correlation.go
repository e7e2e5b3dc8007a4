package threatintel

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the correlation projection and its collections.
const (
	CorrelationName          = "threatintel.correlation"
	ObservedValuesCollection = "observed_values" // per team and value: count, bounded sample
	SightingsCollection      = "value_sightings" // per team, value and resource: the paged list
)

// SampleSize bounds the sample an observed value keeps.
const SampleSize = 20

// Correlation keeps, per team and normalised value found in the team's
// imported findings (ti.ExtractValues over each result's resource uid and
// name), one observed_values document (sightings = distinct resources,
// first and last seen, the first SampleSize resources) and one
// value_sightings document per (value, resource). The sample is the
// SampleSize smallest resources, so that it does not depend on the order
// imports arrive in. An indicator's matches
// are the observed_values document of its value (one read) and a range of
// value_sightings (index team_id, value): O(matches), and a value seen on
// 100,000 resources is 100,000 small documents, never pairs with
// indicators. Results are applied in stream order; a resource seen again
// only moves last_seen.
type Correlation struct{}

var _ projections.Projection = Correlation{}

// NewCorrelation returns the "threatintel.correlation" projection.
func NewCorrelation() Correlation { return Correlation{} }

// Name implements projections.Projection.
func (Correlation) Name() string { return CorrelationName }

// Database implements projections.Projection.
func (Correlation) Database() dbregistry.Constant { return dbregistry.THREAT_INTELLIGENCE }

// EventTypes implements projections.Projection.
func (Correlation) EventTypes() []string { return []string{csdomain.ResultsRecorded{}.EventType()} }

// Collections implements projections.Projection.
func (Correlation) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: ObservedValuesCollection, Indexes: []readmodel.Index{
			{Name: "by_team_value", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "value"}}},
		}},
		{Name: SightingsCollection, Indexes: []readmodel.Index{
			// An indicator's matches page.
			{Name: "by_team_value_resource", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "value"}, {Path: "resource"}}},
		}},
	}
}

// ObservedValueDocID is the _id of a team's observed value.
func ObservedValueDocID(team, value string) string { return url.PathEscape(team) + "/" + value }

func sightingDocID(team, value, resource string) string {
	return url.PathEscape(team) + "/" + url.PathEscape(value) + "/" + url.PathEscape(resource)
}

// Apply implements projections.Projection.
func (Correlation) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	e, ok := fold.Value(ev.Data).(csdomain.ResultsRecorded)
	team := ev.Metadata.TeamID
	if !ok || team == "" {
		return nil
	}
	for _, r := range e.Results {
		for _, v := range ti.ExtractValues(r.Resource, r.ResourceName) {
			if err := sight(ctx, tx, team, v, r); err != nil {
				return fmt.Errorf("%s: %w", CorrelationName, err)
			}
		}
	}
	return nil
}

func sight(ctx context.Context, tx projections.Tx, team string, v ti.ObservedValue, r csdomain.CheckResult) error {
	seenAt := r.ObservedAt
	sid := sightingDocID(team, v.Value, r.Resource)
	s, found, err := fold.Get(ctx, tx, SightingsCollection, sid)
	if err != nil {
		return err
	}
	if found {
		if seenAt.After(fold.Time(s, "last_seen")) {
			s["last_seen"] = seenAt
			tx.Put(SightingsCollection, s)
		}
	} else {
		tx.Put(SightingsCollection, readmodel.Doc{"_id": sid, "team_id": team, "value": v.Value, "type": string(v.Type),
			"resource": r.Resource, "resource_name": r.ResourceName, "account_id": r.Account, "region": r.Region,
			"first_seen": seenAt, "last_seen": seenAt})
	}
	oid := ObservedValueDocID(team, v.Value)
	o, ofound, err := fold.Get(ctx, tx, ObservedValuesCollection, oid)
	if err != nil {
		return err
	}
	if !ofound {
		o = readmodel.Doc{"_id": oid, "team_id": team, "value": v.Value, "type": string(v.Type), "sightings": int64(0),
			"first_seen": seenAt, "last_seen": seenAt, "sample": []any{}}
	}
	changed := !ofound
	if !found {
		changed = true
		o["sightings"] = fold.Num(o, "sightings") + 1
		o["sample"] = addToSample(o["sample"], r.Resource)
	}
	if seenAt.Before(fold.Time(o, "first_seen")) {
		o["first_seen"], changed = seenAt, true
	}
	if seenAt.After(fold.Time(o, "last_seen")) {
		o["last_seen"], changed = seenAt, true
	}
	if changed {
		tx.Put(ObservedValuesCollection, o)
	}
	return nil
}

// addToSample keeps the SampleSize smallest resources, sorted.
func addToSample(v any, resource string) []any {
	sample, _ := v.([]any)
	out := make([]string, 0, len(sample)+1)
	for _, x := range sample {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	if i, found := slices.BinarySearch(out, resource); !found {
		out = slices.Insert(out, i, resource)
	}
	if len(out) > SampleSize {
		out = out[:SampleSize]
	}
	res := make([]any, len(out))
	for i, s := range out {
		res[i] = s
	}
	return res
}

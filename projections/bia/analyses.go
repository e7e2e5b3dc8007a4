// Package bia holds the business impact analysis projections, into
// cspm_bia: the BIAs as they are, every version of each (what the
// comparison of two dates reads, decision 73), and the exercises.
package bia

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the analyses projection and its collections.
const (
	AnalysesName       = "bia.analyses"
	AnalysesCollection = "bias"
	VersionsCollection = "bia_versions"
)

// Analyses keeps one document per BIA of a team (_id "<team>/<bia id>"):
// its details, status, revision, progress, approval and its whole state
// (field "state": the domain's bia.Snapshot as JSON text, processes
// included); and one document per version of it (_id
// "<team>/<bia id>/<position, 19 digits>"): the stream version, the
// event's type and time, and the state after it. Each BIA is one stream, applied in
// order; a redelivered event (position at or below updated_position)
// changes nothing, and its version document is the same document.
type Analyses struct{}

var _ projections.Projection = Analyses{}

// NewAnalyses returns the "bia.analyses" projection.
func NewAnalyses() Analyses { return Analyses{} }

// Name implements projections.Projection.
func (Analyses) Name() string { return AnalysesName }

// Database implements projections.Projection.
func (Analyses) Database() dbregistry.Constant { return dbregistry.BIA }

// EventTypes implements projections.Projection.
func (Analyses) EventTypes() []string { return append([]string(nil), bia.AnalysisEventTypes...) }

// Collections implements projections.Projection.
func (Analyses) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: AnalysesCollection, Indexes: []readmodel.Index{
			// GET /api/v1/bias (?status=), most recently changed first.
			{Name: "by_team_updated", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "updated_at", Desc: true}}},
			{Name: "by_team_status_updated", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "status"}, {Path: "updated_at", Desc: true}}},
		}},
		{Name: VersionsCollection, Indexes: []readmodel.Index{
			// GET /api/v1/bias/{id}/changes: the last version at or before a date.
			{Name: "by_team_bia_at", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "bia_id"}, {Path: "at", Desc: true}, {Path: "position", Desc: true}}},
		}},
	}
}

// AnalysisDocID is the _id of a team's BIA.
func AnalysisDocID(team, id string) string { return team + "/" + id }

// VersionDocID is the _id of the version of a team's BIA that the event
// at position made.
func VersionDocID(team, id string, position int64) string {
	return fmt.Sprintf("%s/%s/%019d", team, id, position)
}

// StateOf reads the state a document of either collection holds.
func StateOf(d readmodel.Doc) (bia.Snapshot, error) {
	var s bia.Snapshot
	if err := json.Unmarshal([]byte(fold.Str(d, "state")), &s); err != nil {
		return bia.Snapshot{}, fmt.Errorf("%s: state of %s: %w", AnalysesName, d.ID(), err)
	}
	return s, nil
}

// Apply implements projections.Projection.
func (Analyses) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	e, ok := fold.Value(ev.Data).(bia.Event)
	if !ok {
		return nil
	}
	team, id := ev.Metadata.TeamID, bia.AnalysisID(e)
	if team == "" || id == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, AnalysesCollection, AnalysisDocID(team, id))
	if err != nil {
		return fmt.Errorf("%s: %w", AnalysesName, err)
	}
	if found && fold.Num(d, "updated_position") >= ev.Position {
		return nil
	}
	var s bia.Snapshot
	if found {
		if s, err = StateOf(d); err != nil {
			return err
		}
	}
	s = bia.Fold(s, e)
	state, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("%s: %w", AnalysesName, err)
	}
	p := s.Progress()
	doc := readmodel.Doc{"_id": AnalysisDocID(team, id), "team_id": team, "bia_id": id, "title": s.Title, "description": s.Description,
		"owner": s.Owner, "due_date": fold.TimeOrNil(s.DueDate), "status": string(s.Status), "revision": int64(s.Revision),
		"processes": int64(p.Processes), "complete": int64(p.Complete), "percent": int64(p.Percent),
		"approved_by": nil, "approved_at": nil, "approved_revision": nil,
		"created_at": s.CreatedAt, "updated_at": s.UpdatedAt, "version": ev.Version, "updated_position": ev.Position, "state": string(state)}
	if s.Approval != nil {
		doc["approved_by"], doc["approved_at"], doc["approved_revision"] = s.Approval.By, s.Approval.At, int64(s.Approval.Revision)
	}
	if found {
		doc["created_by"] = d["created_by"]
	} else {
		doc["created_by"] = ev.Metadata.Actor
	}
	tx.Put(AnalysesCollection, doc)
	tx.Put(VersionsCollection, readmodel.Doc{"_id": VersionDocID(team, id, ev.Position), "team_id": team, "bia_id": id,
		"version": ev.Version, "position": ev.Position, "at": bia.EventTime(e), "event": ev.Type, "actor": ev.Metadata.Actor, "revision": int64(s.Revision),
		"status": string(s.Status), "state": string(state)})
	return nil
}

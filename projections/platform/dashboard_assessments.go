package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The dashboard's "assessments in progress" section (docs/assessments.md):
// per team, its open assessments with their progress and due date, in a
// document of its own (dashboard_assessments, _id the team), folded from
// the assessment events by the Dashboard projection. The query counts the
// overdue ones against the clock.

// DashboardAssessmentsCollection holds one document per team.
const DashboardAssessmentsCollection = "dashboard_assessments"

// DashboardAssessmentItems bounds the open assessments listed (soonest due
// first); the count is whole.
const DashboardAssessmentItems = 20

var assessmentEventTypes = []string{as.AssessmentCreated{}.EventType(), as.RequirementAnswered{}.EventType(),
	as.AssessmentRescheduled{}.EventType(), as.AssessmentClosed{}.EventType()}

func assessmentCollections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: DashboardAssessmentsCollection}}
}

type dashAssessment struct {
	Name         string    `json:"name"`
	Framework    string    `json:"framework"`
	Version      string    `json:"version"`
	Requirements int       `json:"requirements"`
	Answered     []string  `json:"answered,omitempty"`
	Due          time.Time `json:"due,omitzero"`
	UpdatedAt    time.Time `json:"updated_at"`
}

type dashAssessments struct {
	Open   map[string]*dashAssessment `json:"open"`
	Closed int64                      `json:"closed"`
}

// applyAssessments folds the assessment events; handled is false for others.
func applyAssessments(ctx context.Context, tx projections.Tx, ev projections.Event) (handled bool, err error) {
	team := ev.Metadata.TeamID
	if team == "" {
		return false, nil
	}
	var change func(*dashAssessments)
	switch e := fold.Value(ev.Data).(type) {
	case as.AssessmentCreated:
		change = func(s *dashAssessments) {
			s.Open[e.AssessmentID] = &dashAssessment{Name: e.Name, Framework: e.Framework.Framework, Version: e.Framework.Version,
				Requirements: len(e.Requirements), Due: e.DueDate, UpdatedAt: e.CreatedAt}
		}
	case as.RequirementAnswered:
		change = func(s *dashAssessments) {
			if a := s.Open[e.AssessmentID]; a != nil {
				if i, found := slices.BinarySearch(a.Answered, e.RequirementID); !found {
					a.Answered = slices.Insert(a.Answered, i, e.RequirementID)
				}
				a.UpdatedAt = fold.Later(a.UpdatedAt, e.AnsweredAt)
			}
		}
	case as.AssessmentRescheduled:
		change = func(s *dashAssessments) {
			if a := s.Open[e.AssessmentID]; a != nil {
				a.Due, a.UpdatedAt = e.DueDate, fold.Later(a.UpdatedAt, e.ChangedAt)
			}
		}
	case as.AssessmentClosed:
		change = func(s *dashAssessments) {
			if _, ok := s.Open[e.AssessmentID]; ok {
				delete(s.Open, e.AssessmentID)
				s.Closed++
			}
		}
	default:
		return false, nil
	}
	d, _, err := fold.Get(ctx, tx, DashboardAssessmentsCollection, team)
	if err != nil {
		return true, err
	}
	s := dashAssessments{Open: map[string]*dashAssessment{}}
	if raw := fold.Str(d, "state"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return true, fmt.Errorf("dashboard assessments of %s: %w", team, err)
		}
		if s.Open == nil {
			s.Open = map[string]*dashAssessment{}
		}
	}
	change(&s)
	raw, err := json.Marshal(s)
	if err != nil {
		return true, err
	}
	ids := slices.SortedFunc(maps.Keys(s.Open), func(a, b string) int {
		da, db := s.Open[a].Due, s.Open[b].Due
		switch {
		case da.IsZero() != db.IsZero():
			if da.IsZero() {
				return 1
			}
			return -1
		case !da.Equal(db):
			return da.Compare(db)
		}
		return strings.Compare(a, b)
	})
	items := make([]any, 0, min(len(ids), DashboardAssessmentItems))
	for _, id := range ids[:min(len(ids), DashboardAssessmentItems)] {
		a := s.Open[id]
		pct := int64(0)
		if a.Requirements > 0 {
			pct = int64(len(a.Answered) * 100 / a.Requirements)
		}
		items = append(items, map[string]any{"id": id, "name": a.Name, "framework": a.Framework, "version": a.Version,
			"requirements": int64(a.Requirements), "answered": int64(len(a.Answered)), "percent": pct,
			"due_date": fold.TimeOrNil(a.Due), "updated_at": a.UpdatedAt})
	}
	tx.Put(DashboardAssessmentsCollection, readmodel.Doc{"_id": team, "team_id": team, "in_progress": int64(len(s.Open)),
		"closed": s.Closed, "items": items, "state": string(raw)})
	return true, nil
}

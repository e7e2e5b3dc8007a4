package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// dashboardAssessmentsCollection is the dashboard's "assessments in
// progress" section, one document per team (projections/platform,
// dashboard_assessments.go).
const dashboardAssessmentsCollection = "dashboard_assessments"

// AssessmentsInProgress is the team's open assessments: how many, how many
// past their due date (against the clock), and the soonest due (at most 20).
type AssessmentsInProgress struct {
	InProgress int64                `json:"in_progress"`
	Overdue    int64                `json:"overdue"` // among the items listed
	Closed     int64                `json:"closed"`
	Items      []AssessmentProgress `json:"items"`
}

// AssessmentProgress is one open assessment on the dashboard.
type AssessmentProgress struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Framework    string     `json:"framework"`
	Version      string     `json:"version"`
	Requirements int64      `json:"requirements"`
	Answered     int64      `json:"answered"`
	Percent      int64      `json:"percent"`
	DueDate      *time.Time `json:"due_date"`
	Overdue      bool       `json:"overdue"`
}

// assessmentsInProgress reads the team's section (nil when it never had
// an assessment).
func (s *Service) assessmentsInProgress(ctx context.Context, team string, now time.Time) (*AssessmentsInProgress, error) {
	out := &AssessmentsInProgress{Items: []AssessmentProgress{}}
	d, err := s.platform.Get(ctx, dashboardAssessmentsCollection, team)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get dashboard assessments: %w", err)
	case queries.Str(d, "team_id") != team:
		return nil, nil
	}
	out.InProgress, out.Closed = queries.Num(d, "in_progress"), queries.Num(d, "closed")
	for _, m := range queries.Objs(d, "items") {
		a := AssessmentProgress{ID: queries.Str(m, "id"), Name: queries.Str(m, "name"), Framework: queries.Str(m, "framework"),
			Version: queries.Str(m, "version"), Requirements: queries.Num(m, "requirements"), Answered: queries.Num(m, "answered"),
			Percent: queries.Num(m, "percent")}
		if due := queries.When(m, "due_date"); !due.IsZero() {
			a.DueDate = &due
			a.Overdue = due.Before(now)
		}
		if a.Overdue {
			out.Overdue++
		}
		out.Items = append(out.Items, a)
	}
	return out, nil
}

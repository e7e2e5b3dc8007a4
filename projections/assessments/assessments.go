package assessments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the assessments projection and its collections.
const (
	AssessmentsName       = "assessments.assessments"
	FrameworksCollection  = "catalog_frameworks"   // public: one per framework, its versions
	VersionsCollection    = "catalog_versions"     // public: one per framework version, its requirements
	MappingsCollection    = "requirement_mappings" // public: one per mapping set
	AssessmentsCollection = "assessments"          // one per assessment (team's)
	AnswersCollection     = "assessment_answers"   // one per assessment: requirements, answers in force, progress
)

// Assessments keeps the catalogues (public data: no document carries a
// team) and the teams' assessments with their answers and progress.
type Assessments struct{}

var _ projections.Projection = Assessments{}

// NewAssessments returns the "assessments.assessments" projection.
func NewAssessments() Assessments { return Assessments{} }

// Name implements projections.Projection.
func (Assessments) Name() string { return AssessmentsName }

// Database implements projections.Projection.
func (Assessments) Database() dbregistry.Constant { return dbregistry.ASSESSMENTS }

// EventTypes implements projections.Projection.
func (Assessments) EventTypes() []string {
	return []string{as.FrameworkVersionLoaded{}.EventType(), as.RequirementMappingLoaded{}.EventType(),
		as.AssessmentCreated{}.EventType(), as.RequirementAnswered{}.EventType(), as.AssessmentRescheduled{}.EventType(),
		as.AssessmentClosed{}.EventType()}
}

// Collections implements projections.Projection.
func (Assessments) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		// GET /api/v1/catalogs: by name.
		{Name: FrameworksCollection, Indexes: []readmodel.Index{{Name: "by_name", Fields: []readmodel.IndexField{{Path: "name"}}}}},
		// GET /api/v1/frameworks/{id}/versions: a framework's versions, newest first.
		{Name: VersionsCollection, Indexes: []readmodel.Index{{Name: "by_framework_loaded",
			Fields: []readmodel.IndexField{{Path: "framework"}, {Path: "loaded_position", Desc: true}}}}},
		{Name: MappingsCollection},
		// GET /api/v1/assessments: the team's, most recently changed first; ?status=.
		{Name: AssessmentsCollection, Indexes: []readmodel.Index{
			{Name: "by_team_updated", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "updated_at", Desc: true}}},
			{Name: "by_team_status_updated", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "status"}, {Path: "updated_at", Desc: true}}},
		}},
		{Name: AnswersCollection},
	}
}

// answersState is an assessment's requirements and answers in force.
type answersState struct {
	Requirements []as.AssessedRequirement `json:"requirements"`
	Answers      map[string]as.Answer     `json:"answers"`
}

// Apply implements projections.Projection.
func (p Assessments) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case as.FrameworkVersionLoaded:
		err = p.version(ctx, tx, ev, e)
	case as.RequirementMappingLoaded:
		tx.Put(MappingsCollection, readmodel.Doc{"_id": e.MappingID, "name": e.Name, "source": fwDoc(e.Source), "target": fwDoc(e.Target),
			"pairs": int64(len(e.Pairs)), "content_hash": e.ContentHash, "loaded_at": e.LoadedAt})
	case as.AssessmentCreated:
		tx.Put(AssessmentsCollection, readmodel.Doc{"_id": e.AssessmentID, "team_id": ev.Metadata.TeamID, "name": e.Name,
			"description": e.Description, "framework": e.Framework.Framework, "version": e.Framework.Version,
			"scope": scopeDoc(e.Scope), "assignees": strs(e.Assignees), "due_date": fold.TimeOrNil(e.DueDate), "as_of": e.AsOf,
			"status": as.StatusOpen, "created_at": e.CreatedAt, "updated_at": e.CreatedAt})
		err = p.answers(ctx, tx, e.AssessmentID, e.CreatedAt, func(s *answersState) { s.Requirements = e.Requirements })
	case as.RequirementAnswered:
		err = p.answers(ctx, tx, e.AssessmentID, e.AnsweredAt, func(s *answersState) {
			s.Answers[e.RequirementID] = as.Answer{Status: e.Status, Comment: e.Comment, Evidence: e.Evidence, AnsweredBy: e.AnsweredBy, AnsweredAt: e.AnsweredAt}
		})
	case as.AssessmentRescheduled:
		err = p.update(ctx, tx, e.AssessmentID, e.ChangedAt, readmodel.Doc{"as_of": e.AsOf, "due_date": fold.TimeOrNil(e.DueDate),
			"scope": scopeDoc(e.Scope), "assignees": strs(e.Assignees)})
	case as.AssessmentClosed:
		err = p.update(ctx, tx, e.AssessmentID, e.ClosedAt, readmodel.Doc{"status": as.StatusClosed, "closed_at": e.ClosedAt, "closed_by": e.ClosedBy})
	}
	if err != nil {
		return fmt.Errorf("%s: %w", AssessmentsName, err)
	}
	return nil
}

func (p Assessments) version(ctx context.Context, tx projections.Tx, ev projections.Event, e as.FrameworkVersionLoaded) error {
	reqs, err := json.Marshal(e.Requirements)
	if err != nil {
		return err
	}
	assessable := 0
	for _, r := range e.Requirements {
		if r.Assessable {
			assessable++
		}
	}
	v := readmodel.Doc{"_id": e.Framework + "@" + e.Version, "framework": e.Framework, "version": e.Version, "name": e.Name,
		"description": e.Description, "provider": e.Provider, "source": e.Source, "locale": e.Locale, "published": e.Published,
		"copyright": e.Copyright, "content_hash": e.ContentHash, "file_name": e.FileName, "nodes": int64(len(e.Requirements)),
		"assessable": int64(assessable), "loaded_at": e.LoadedAt, "loaded_position": ev.Position, "requirements": string(reqs)}
	tx.Put(VersionsCollection, v)
	f, _, err := fold.Get(ctx, tx, FrameworksCollection, e.Framework)
	if err != nil {
		return err
	}
	if f == nil {
		f = readmodel.Doc{"_id": e.Framework, "versions": int64(0)}
	}
	f["versions"] = fold.Num(f, "versions") + 1
	if ev.Position >= fold.Num(f, "latest_position") {
		f["name"], f["source"], f["provider"], f["latest_version"], f["latest_position"] = e.Name, e.Source, e.Provider, e.Version, ev.Position
		f["assessable"], f["nodes"], f["loaded_at"] = int64(assessable), int64(len(e.Requirements)), e.LoadedAt
	}
	tx.Put(FrameworksCollection, f)
	return nil
}

func (p Assessments) update(ctx context.Context, tx projections.Tx, id string, at time.Time, fields readmodel.Doc) error {
	d, found, err := fold.Get(ctx, tx, AssessmentsCollection, id)
	if err != nil || !found {
		return err
	}
	for k, v := range fields {
		d[k] = v
	}
	d["updated_at"] = fold.Later(fold.Time(d, "updated_at"), at)
	tx.Put(AssessmentsCollection, d)
	return nil
}

// answers changes the answers document and the progress on the assessment.
func (p Assessments) answers(ctx context.Context, tx projections.Tx, id string, at time.Time, change func(*answersState)) error {
	var s answersState
	if _, err := getState(ctx, tx, AnswersCollection, id, &s); err != nil {
		return err
	}
	if s.Answers == nil {
		s.Answers = map[string]as.Answer{}
	}
	change(&s)
	pr := as.ComputeProgress(s.Requirements, s.Answers)
	b, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	team := ""
	if d, found, err := fold.Get(ctx, tx, AssessmentsCollection, id); err != nil {
		return err
	} else if found {
		team = fold.Str(d, "team_id")
	}
	if err := putState(tx, AnswersCollection, id, s, readmodel.Doc{"team_id": team, "progress": string(b)}); err != nil {
		return err
	}
	return p.update(ctx, tx, id, at, readmodel.Doc{"requirements": int64(pr.Requirements), "answered": int64(pr.Answered), "percent": int64(pr.Percent)})
}

func fwDoc(r as.FrameworkRef) map[string]any {
	return map[string]any{"framework": r.Framework, "version": r.Version}
}

func scopeDoc(s as.Scope) map[string]any {
	return map[string]any{"accounts": strs(s.Accounts), "assets": strs(s.Assets), "models": strs(s.Models)}
}

func strs(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

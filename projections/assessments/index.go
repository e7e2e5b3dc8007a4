package assessments

import (
	"context"
	"fmt"
	"time"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the unified index and its collections.
const (
	IndexName       = "assessments.index"
	IndexCollection = "assessments_index" // one per assessment of any module
	indexWork       = "index_compliance_work"
)

// Kinds of entries of the unified index (one per module's kind of assessment).
const (
	KindAssessment      = "assessment"       // this module's assessments (any framework: cloud, AI governance)
	KindCloudCompliance = "cloud_compliance" // an account's current compliance with a framework, from its latest import
	// KindAIRiskClassification is a model's EU AI Act risk classification
	// (the AI governance module; its status is the class, its scope the model).
	KindAIRiskClassification = "ai_risk_classification"
	// KindBIA is a business impact analysis (cspm_bia; index_bia.go): its
	// status is the BIA's (draft, in_review, approved), its progress the
	// percentage of complete processes.
	KindBIA = "bia"
)

// IndexEntry is one entry of the unified view, whatever its module.
// Another module's assessments are added by adding its events to
// Index.EventTypes and a case to Index.Apply that calls PutIndexEntry
// (decision 71).
type IndexEntry struct {
	ID        string // unique across modules: "<kind>/<module's id>"
	Team      string
	Kind      string
	Module    string // the module that owns it: assessments, cloudsecurity, bia...
	SourceID  string // the id in its module (assessment id, account, BIA id)
	Title     string
	Framework string // framework id or key, when there is one
	Version   string
	Status    string // open, closed, evaluated, draft...
	Scope     []string
	Progress  *int64 // percent answered, when the kind has answers
	Score     *float64
	DueDate   time.Time
	AsOf      time.Time // the date the entry is about
	UpdatedAt time.Time
	Seq       string // orders updates of the same entry (later wins)
}

// PutIndexEntry writes e unless the entry holds a later Seq already.
func PutIndexEntry(ctx context.Context, tx projections.Tx, e IndexEntry) error {
	cur, found, err := fold.Get(ctx, tx, IndexCollection, e.ID)
	if err != nil {
		return err
	}
	if found && fold.Str(cur, "seq") > e.Seq {
		return nil
	}
	d := readmodel.Doc{"_id": e.ID, "team_id": e.Team, "kind": e.Kind, "module": e.Module, "source_id": e.SourceID,
		"title": e.Title, "framework": e.Framework, "version": e.Version, "status": e.Status, "scope": strs(e.Scope),
		"due_date": fold.TimeOrNil(e.DueDate), "as_of": fold.TimeOrNil(e.AsOf), "updated_at": e.UpdatedAt, "seq": e.Seq}
	if e.Progress != nil {
		d["progress"] = *e.Progress
	}
	if e.Score != nil {
		d["score"] = *e.Score
	}
	tx.Put(IndexCollection, d)
	return nil
}

// Index is the unified view of every assessment across modules, one read
// model: this module's assessments (their status and progress) and each
// account's current compliance with each framework its imports map to
// (folded from the report imports with the compliance tally shared with
// the compliance projection), each model's EU AI Act classification, and
// each business impact analysis (KindBIA, index_bia.go).
type Index struct{}

var _ projections.Projection = Index{}

// NewIndex returns the "assessments.index" projection.
func NewIndex() Index { return Index{} }

// Name implements projections.Projection.
func (Index) Name() string { return IndexName }

// Database implements projections.Projection.
func (Index) Database() dbregistry.Constant { return dbregistry.ASSESSMENTS }

// EventTypes implements projections.Projection.
func (Index) EventTypes() []string {
	return append([]string{as.AssessmentCreated{}.EventType(), as.RequirementAnswered{}.EventType(), as.AssessmentRescheduled{}.EventType(),
		as.AssessmentClosed{}.EventType(),
		csdomain.ImportStarted{}.EventType(), csdomain.ChecksDescribed{}.EventType(), csdomain.ResultsRecorded{}.EventType(),
		csdomain.ImportCompleted{}.EventType(), ai.ModelRiskClassified{}.EventType()},
		biaEventTypes...)
}

func (Index) tally() fold.ComplianceTally { return fold.ComplianceTally{Work: indexWork} }

// Collections implements projections.Projection.
func (p Index) Collections() []readmodel.CollectionSpec {
	return append([]readmodel.CollectionSpec{
		// GET /api/v1/assessments/all: the team's, most recently changed first; ?kind=.
		{Name: IndexCollection, Indexes: []readmodel.Index{
			{Name: "by_team_updated", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "updated_at", Desc: true}}},
			{Name: "by_team_kind_updated", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "kind"}, {Path: "updated_at", Desc: true}}},
		}},
		{Name: indexStateCollection},
		{Name: indexBIACollection},
	}, p.tally().CollectionSpecs()...)
}

// indexStateCollection keeps what an assessment's entry is made of
// (its events arrive in stream order, so one document per assessment).
const indexStateCollection = "index_assessments"

type indexAsm struct {
	Name, Framework, Version, Status string
	Scope                            []string
	Reqs                             []as.AssessedRequirement
	Answers                          map[string]as.Answer
	Due, AsOf, Updated               time.Time
	Seq                              int64
}

// Apply implements projections.Projection.
func (p Index) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	if handled, err := applyBIA(ctx, tx, ev); handled { // index_bia.go
		if err != nil {
			return fmt.Errorf("%s: %w", IndexName, err)
		}
		return nil
	}
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case as.AssessmentCreated:
		err = p.assessment(ctx, tx, team, ev, e.AssessmentID, func(s *indexAsm) {
			s.Name, s.Framework, s.Version, s.Status = e.Name, e.Framework.Framework, e.Framework.Version, as.StatusOpen
			s.Scope, s.Reqs, s.Due, s.AsOf, s.Updated = scopeIDs(e.Scope), e.Requirements, e.DueDate, e.AsOf, e.CreatedAt
		})
	case as.RequirementAnswered:
		err = p.assessment(ctx, tx, team, ev, e.AssessmentID, func(s *indexAsm) {
			s.Answers[e.RequirementID] = as.Answer{Status: e.Status}
			s.Updated = fold.Later(s.Updated, e.AnsweredAt)
		})
	case as.AssessmentRescheduled:
		err = p.assessment(ctx, tx, team, ev, e.AssessmentID, func(s *indexAsm) {
			s.Scope, s.Due, s.AsOf, s.Updated = scopeIDs(e.Scope), e.DueDate, e.AsOf, fold.Later(s.Updated, e.ChangedAt)
		})
	case as.AssessmentClosed:
		err = p.assessment(ctx, tx, team, ev, e.AssessmentID, func(s *indexAsm) {
			s.Status, s.Updated = as.StatusClosed, fold.Later(s.Updated, e.ClosedAt)
		})
	case csdomain.ImportStarted:
		err = p.tally().Started(ctx, tx, team, e)
	case csdomain.ChecksDescribed:
		err = p.tally().Checks(ctx, tx, team, e)
	case csdomain.ResultsRecorded:
		_, err = p.tally().Results(ctx, tx, team, e)
	case csdomain.ImportCompleted:
		err = p.compliance(ctx, tx, team, e)
	case ai.ModelRiskClassified: // the model's current class (decision 77)
		err = PutIndexEntry(ctx, tx, IndexEntry{ID: KindAIRiskClassification + "/" + e.ModelID, Team: team, Kind: KindAIRiskClassification,
			Module: "aigovernance", SourceID: e.ModelID, Title: "EU AI Act risk classification", Framework: ai.EUAIActFramework,
			Status: string(e.RiskClass), Scope: []string{e.ModelID}, AsOf: e.ClassifiedAt, UpdatedAt: e.ClassifiedAt, Seq: fmt.Sprintf("%020d", ev.Position)})
	}
	if err != nil {
		return fmt.Errorf("%s: %w", IndexName, err)
	}
	return nil
}

func scopeIDs(s as.Scope) []string {
	out := append(append(append([]string{}, s.Accounts...), s.Assets...), s.Models...)
	return out
}

func (p Index) assessment(ctx context.Context, tx projections.Tx, team string, ev projections.Event, id string, change func(*indexAsm)) error {
	var s indexAsm
	if _, err := getState(ctx, tx, indexStateCollection, id, &s); err != nil {
		return err
	}
	if s.Answers == nil {
		s.Answers = map[string]as.Answer{}
	}
	change(&s)
	s.Seq = ev.Position
	if err := putState(tx, indexStateCollection, id, s, nil); err != nil {
		return err
	}
	if s.Framework == "" {
		return nil
	}
	pct := int64(as.ComputeProgress(s.Reqs, s.Answers).Percent)
	return PutIndexEntry(ctx, tx, IndexEntry{ID: KindAssessment + "/" + id, Team: team, Kind: KindAssessment, Module: "assessments",
		SourceID: id, Title: s.Name, Framework: s.Framework, Version: s.Version, Status: s.Status, Scope: s.Scope, Progress: &pct,
		DueDate: s.Due, AsOf: s.AsOf, UpdatedAt: s.Updated, Seq: fmt.Sprintf("%020d", ev.Position)})
}

// compliance turns an import's evaluations into the accounts' current
// compliance entries (the latest evaluation by time, then import id).
func (p Index) compliance(ctx context.Context, tx projections.Tx, team string, e csdomain.ImportCompleted) error {
	evals, err := p.tally().Completed(ctx, tx, e)
	if err != nil {
		return err
	}
	for _, c := range evals {
		entry := IndexEntry{ID: KindCloudCompliance + "/" + key(team, c.Account, c.Framework), Team: team, Kind: KindCloudCompliance,
			Module: "cloudsecurity", SourceID: c.Account, Title: c.Framework + " · " + c.Account, Framework: c.Framework,
			Status: "evaluated", Scope: []string{c.Account}, AsOf: c.At, UpdatedAt: c.At, Seq: c.Seq}
		if c.Score.Passed+c.Score.Failed > 0 {
			s := float64(c.Score.Passed) / float64(c.Score.Passed+c.Score.Failed)
			entry.Score = &s
		}
		if err := PutIndexEntry(ctx, tx, entry); err != nil {
			return err
		}
	}
	return nil
}

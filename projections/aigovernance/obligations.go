package aigovernance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the obligations projection and its collections.
const (
	ObligationsName       = "aigovernance.obligations"
	ObligationsCollection = "ai_model_obligations" // one per model: its class, regime, the assessment that answers it, what is open
	CatalogueCollection   = "ai_act_catalogue"     // public: one per EU AI Act version loaded (labels of its requirements), and "latest"
	oblModels             = "obl_models"           // internal: a model's class and transparency state
	oblAssessments        = "obl_assessments"      // internal: an EU AI Act assessment's requirements and answers
	oblLinks              = "obl_links"            // internal: the assessments whose scope names a model id
	oblHighRisk           = "obl_high_risk"        // internal: one document, the ids of the high-risk models (recomputed when a catalogue version arrives)
	LatestCatalogue       = "latest"
)

// Obligations folds each model's EU AI Act obligations (decision 77):
// its class (from the registry's events), and for a high-risk model the
// latest assessment of the EU AI Act framework (ai.EUAIActFramework)
// of the same team whose scope names the model: the requirements it
// leaves open (not answered compliant or not applicable); with none,
// every assessable requirement of the latest catalogue version. Every
// document is a pure function of the copies it keeps (models,
// assessments, links, the catalogue's versions), recomputed whenever one
// of its inputs changes, so that it does not depend on the order the
// catalogue, the models and the assessments arrive in. The catalogue's
// labels are read by the query from CatalogueCollection.
type Obligations struct{}

var _ projections.Projection = Obligations{}

// NewObligations returns the "aigovernance.obligations" projection.
func NewObligations() Obligations { return Obligations{} }

// Name implements projections.Projection.
func (Obligations) Name() string { return ObligationsName }

// Database implements projections.Projection.
func (Obligations) Database() dbregistry.Constant { return dbregistry.AI_GOVERNANCE }

// EventTypes implements projections.Projection.
func (Obligations) EventTypes() []string {
	return []string{ai.ModelRegistered{}.EventType(), ai.ModelRiskClassified{}.EventType(), ai.TransparencyDeclared{}.EventType(),
		ai.ModelRetired{}.EventType(), ai.ModelStatusChanged{}.EventType(),
		as.FrameworkVersionLoaded{}.EventType(), as.AssessmentCreated{}.EventType(), as.RequirementAnswered{}.EventType(),
		as.AssessmentRescheduled{}.EventType(), as.AssessmentClosed{}.EventType()}
}

// Collections implements projections.Projection.
func (Obligations) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		// GET /api/v1/ai/obligations: the team's models, most open first; ?risk_class=.
		{Name: ObligationsCollection, Indexes: []readmodel.Index{
			{Name: "by_team_open", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "open", Desc: true}, {Path: "name"}}},
			{Name: "by_team_class_open", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "risk_class"}, {Path: "open", Desc: true}, {Path: "name"}}},
		}},
		{Name: CatalogueCollection}, {Name: oblModels}, {Name: oblAssessments}, {Name: oblLinks}, {Name: oblHighRisk},
	}
}

type oblModel struct {
	Team, Name, Status string
	Class              ai.RiskClass
	Met, NA            []string
}

type oblAssessment struct {
	Team, Name, Version, Status string
	Models                      []string
	Reqs                        []string
	Answers                     map[string]string
	Created                     int64 // position of its creation: the latest wins
}

// CatalogueLabel is how the query names a requirement of the EU AI Act catalogue.
type CatalogueLabel struct {
	RefID   string `json:"ref_id"`
	Article string `json:"article,omitempty"`
	Name    string `json:"name,omitempty"`
}

// Apply implements projections.Projection.
func (p Obligations) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case ai.ModelRegistered:
		err = p.modelState(ctx, tx, e.ModelID, func(m *oblModel) { m.Team, m.Name, m.Status = team, e.Name, e.Status })
	case ai.ModelRiskClassified:
		err = p.modelState(ctx, tx, e.ModelID, func(m *oblModel) { m.Class = e.RiskClass })
	case ai.TransparencyDeclared:
		err = p.modelState(ctx, tx, e.ModelID, func(m *oblModel) { m.Met, m.NA = e.Met, e.NotApplicable })
	case ai.ModelStatusChanged:
		err = p.modelState(ctx, tx, e.ModelID, func(m *oblModel) { m.Status = e.To })
	case ai.ModelRetired:
		err = p.modelState(ctx, tx, e.ModelID, func(m *oblModel) { m.Status = ai.StatusRetired })
	case as.FrameworkVersionLoaded:
		if e.Framework == ai.EUAIActFramework {
			err = p.catalogue(ctx, tx, ev.Position, e)
		}
	case as.AssessmentCreated:
		if e.Framework.Framework != ai.EUAIActFramework {
			return nil
		}
		reqs := make([]string, len(e.Requirements))
		for i, r := range e.Requirements {
			reqs[i] = r.ID
		}
		err = p.assessment(ctx, tx, e.AssessmentID, true, func(a *oblAssessment) {
			a.Team, a.Name, a.Version, a.Status, a.Models, a.Reqs, a.Created = team, e.Name, e.Framework.Version, as.StatusOpen, e.Scope.Models, reqs, ev.Position
		})
	case as.RequirementAnswered:
		err = p.assessment(ctx, tx, e.AssessmentID, false, func(a *oblAssessment) { a.Answers[e.RequirementID] = string(e.Status) })
	case as.AssessmentRescheduled:
		err = p.assessment(ctx, tx, e.AssessmentID, false, func(a *oblAssessment) { a.Models = e.Scope.Models })
	case as.AssessmentClosed:
		err = p.assessment(ctx, tx, e.AssessmentID, false, func(a *oblAssessment) { a.Status = as.StatusClosed })
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ObligationsName, err)
	}
	return nil
}

func getJSON(ctx context.Context, tx projections.Tx, coll, id string, v any) (bool, error) {
	d, found, err := fold.Get(ctx, tx, coll, id)
	if err != nil || !found {
		return false, err
	}
	if err := json.Unmarshal([]byte(fold.Str(d, "state")), v); err != nil {
		return false, fmt.Errorf("%s/%s: %w", coll, id, err)
	}
	return true, nil
}

func putJSON(tx projections.Tx, coll, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tx.Put(coll, readmodel.Doc{"_id": id, "state": string(b)})
	return nil
}

func (p Obligations) modelState(ctx context.Context, tx projections.Tx, id string, change func(*oblModel)) error {
	var m oblModel
	if _, err := getJSON(ctx, tx, oblModels, id, &m); err != nil {
		return err
	}
	was := m.Class
	change(&m)
	if err := putJSON(tx, oblModels, id, m); err != nil {
		return err
	}
	if (was == ai.HighRisk) != (m.Class == ai.HighRisk) {
		var ids []string
		if _, err := getJSON(ctx, tx, oblHighRisk, oblHighRisk, &ids); err != nil {
			return err
		}
		ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
		if m.Class == ai.HighRisk {
			ids = union(ids, []string{id})
		}
		if err := putJSON(tx, oblHighRisk, oblHighRisk, ids); err != nil {
			return err
		}
	}
	return p.recompute(ctx, tx, id)
}

// assessment changes an EU AI Act assessment's state (one it never saw
// created is another framework's: ignored) and recomputes the models its
// scope names, before and after.
func (p Obligations) assessment(ctx context.Context, tx projections.Tx, id string, create bool, change func(*oblAssessment)) error {
	var a oblAssessment
	found, err := getJSON(ctx, tx, oblAssessments, id, &a)
	if err != nil || !found && !create {
		return err
	}
	if a.Answers == nil {
		a.Answers = map[string]string{}
	}
	before := slices.Clone(a.Models)
	change(&a)
	if err := putJSON(tx, oblAssessments, id, a); err != nil {
		return err
	}
	for _, m := range before {
		if !slices.Contains(a.Models, m) {
			if err := p.link(ctx, tx, m, id, false); err != nil {
				return err
			}
		}
	}
	for _, m := range a.Models {
		if err := p.link(ctx, tx, m, id, true); err != nil {
			return err
		}
	}
	for _, m := range union(before, a.Models) {
		if err := p.recompute(ctx, tx, m); err != nil {
			return err
		}
	}
	return nil
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func (p Obligations) link(ctx context.Context, tx projections.Tx, model, assessment string, on bool) error {
	var ids []string
	if _, err := getJSON(ctx, tx, oblLinks, model, &ids); err != nil {
		return err
	}
	has := slices.Contains(ids, assessment)
	switch {
	case on && !has:
		ids = append(ids, assessment)
		slices.Sort(ids)
	case !on && has:
		ids = slices.DeleteFunc(ids, func(s string) bool { return s == assessment })
	default:
		return nil
	}
	return putJSON(tx, oblLinks, model, ids)
}

// recompute writes a model's obligations document from its state and
// the latest assessment of its team that names it.
func (p Obligations) recompute(ctx context.Context, tx projections.Tx, id string) error {
	var m oblModel
	found, err := getJSON(ctx, tx, oblModels, id, &m)
	if err != nil || !found || m.Team == "" {
		return err // the model's registration has not arrived yet
	}
	class := string(m.Class)
	if class == "" {
		class = Unclassified
	}
	d := readmodel.Doc{"_id": id, "team_id": m.Team, "model_id": id, "name": m.Name, "status": m.Status, "risk_class": class,
		"regime": ai.Regime(m.Class), "deployable": m.Class != ai.Prohibited, "open": int64(0), "requirements": int64(0),
		"open_ids": []any{}, "assessment_id": "", "assessment_name": "", "assessment_status": "", "framework_version": ""}
	switch m.Class {
	case ai.HighRisk:
		var links []string
		if _, err := getJSON(ctx, tx, oblLinks, id, &links); err != nil {
			return err
		}
		var best *oblAssessment
		bestID := ""
		for _, aid := range links {
			var a oblAssessment
			if ok, err := getJSON(ctx, tx, oblAssessments, aid, &a); err != nil {
				return err
			} else if !ok || a.Team != m.Team {
				continue // another team's assessment naming this id: not this model's
			}
			if best == nil || a.Created > best.Created {
				best, bestID = &a, aid
			}
		}
		if best != nil {
			open := ai.OpenRequirements(best.Reqs, best.Answers)
			d["assessment_id"], d["assessment_name"], d["assessment_status"], d["framework_version"] = bestID, best.Name, best.Status, best.Version
			d["requirements"], d["open"], d["open_ids"] = int64(len(best.Reqs)), int64(len(open)), strs(open)
		} else if cat, found, err := fold.Get(ctx, tx, CatalogueCollection, LatestCatalogue); err != nil {
			return err
		} else if found { // not assessed yet: every requirement of the latest version is open
			var ids []string
			if err := json.Unmarshal([]byte(fold.Str(cat, "requirement_ids")), &ids); err != nil {
				return fmt.Errorf("%s/%s: %w", CatalogueCollection, LatestCatalogue, err)
			}
			d["framework_version"], d["requirements"], d["open"], d["open_ids"] = fold.Str(cat, "version"), int64(len(ids)), int64(len(ids)), strs(ids)
		}
	case ai.Limited:
		open := ai.OpenTransparency(m.Met, m.NA)
		ids := make([]string, len(open))
		for i, o := range open {
			ids[i] = o.ID
		}
		d["requirements"], d["open"], d["open_ids"] = int64(len(ai.TransparencyObligations)), int64(len(open)), strs(ids)
	}
	tx.Put(ObligationsCollection, d)
	return nil
}

// catalogue keeps the labels of a version of the EU AI Act catalogue
// (each requirement's ref id and article) and which version is the
// latest loaded (by position).
func (p Obligations) catalogue(ctx context.Context, tx projections.Tx, pos int64, e as.FrameworkVersionLoaded) error {
	byID := make(map[string]as.Requirement, len(e.Requirements))
	for _, r := range e.Requirements {
		byID[r.ID] = r
	}
	labels := map[string]CatalogueLabel{}
	var assessable []string
	for _, r := range e.Requirements {
		if !r.Assessable {
			continue
		}
		assessable = append(assessable, r.ID)
		l := CatalogueLabel{RefID: r.Label(), Name: strings.TrimSpace(r.Name)}
		for a := byID[r.Parent]; a.ID != ""; a = byID[a.Parent] {
			if strings.HasPrefix(strings.TrimSpace(a.Name), "Article ") {
				l.Article = strings.TrimSpace(a.Name)
				break
			}
		}
		labels[r.ID] = l
	}
	b, err := json.Marshal(labels)
	if err != nil {
		return err
	}
	ids, err := json.Marshal(assessable)
	if err != nil {
		return err
	}
	doc := readmodel.Doc{"_id": "v:" + e.Version, "version": e.Version, "assessable": int64(len(assessable)), "labels": string(b),
		"requirement_ids": string(ids), "position": pos, "loaded_at": e.LoadedAt}
	tx.Put(CatalogueCollection, doc)
	cur, found, err := fold.Get(ctx, tx, CatalogueCollection, LatestCatalogue)
	if err != nil {
		return err
	}
	if !found || fold.Num(cur, "position") <= pos {
		latest := readmodel.Doc{}
		for k, v := range doc {
			latest[k] = v
		}
		latest["_id"] = LatestCatalogue
		tx.Put(CatalogueCollection, latest)
		// The high-risk models not assessed owe this version now.
		var ids []string
		if _, err := getJSON(ctx, tx, oblHighRisk, oblHighRisk, &ids); err != nil {
			return err
		}
		for _, id := range ids {
			if err := p.recompute(ctx, tx, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Package aigovernance holds the AI governance module's queries over
// cspm_ai_governance: the team's models by EU AI Act risk class, a model
// with its classification history, the obligations open per model, bias
// test results over time (per run and per model version) and model
// incidents. docs/ai-governance.md.
package aigovernance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The read models projections/aigovernance writes.
const (
	modelsCollection          = "ai_models"
	classificationsCollection = "ai_model_classifications"
	biasTestsCollection       = "ai_bias_tests"
	biasRunsCollection        = "ai_bias_runs"
	incidentsCollection       = "ai_model_incidents"
	obligationsCollection     = "ai_model_obligations"
	catalogueCollection       = "ai_act_catalogue"
	latestCatalogue           = "latest"
	unclassified              = "unclassified"
)

// Service runs the AI governance queries.
type Service struct{ db queries.DocReader }

// New returns the queries over cspm_ai_governance; it panics on a nil
// store (a wiring mistake).
func New(store queries.DocReader) *Service {
	if store == nil {
		panic("aigovernance.New: a store is missing")
	}
	return &Service{db: store}
}

// Model is one model of the registry.
type Model struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Version        string     `json:"version"`
	Versions       []string   `json:"versions"`
	Provider       string     `json:"provider,omitempty"`
	Purpose        string     `json:"purpose,omitempty"`
	DataCategories []string   `json:"data_categories"`
	Owner          string     `json:"owner"`
	Status         string     `json:"status"`
	Assets         []string   `json:"assets"`
	RiskClass      string     `json:"risk_class"` // prohibited, high, limited, minimal, unclassified
	Rationale      string     `json:"rationale,omitempty"`
	ClassifiedAt   *time.Time `json:"classified_at,omitempty"`
	RegisteredAt   time.Time  `json:"registered_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	RetiredAt      *time.Time `json:"retired_at,omitempty"`
}

func strList(d map[string]any, key string) []string {
	raw, _ := d[key].([]any)
	out := make([]string, 0, len(raw))
	for _, x := range raw {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func timePtr(d map[string]any, key string) *time.Time {
	t := queries.When(d, key)
	if t.IsZero() {
		return nil
	}
	return &t
}

func modelOf(d readmodel.Doc) Model {
	return Model{ID: queries.Str(d, "_id"), Name: queries.Str(d, "name"), Version: queries.Str(d, "version"), Versions: strList(d, "versions"),
		Provider: queries.Str(d, "provider"), Purpose: queries.Str(d, "purpose"), DataCategories: strList(d, "data_categories"),
		Owner: queries.Str(d, "owner"), Status: queries.Str(d, "status"), Assets: strList(d, "assets"), RiskClass: queries.Str(d, "risk_class"),
		Rationale: queries.Str(d, "rationale"), ClassifiedAt: timePtr(d, "classified_at"), RegisteredAt: queries.When(d, "registered_at"),
		UpdatedAt: queries.When(d, "updated_at"), RetiredAt: timePtr(d, "retired_at")}
}

// ModelList is one page of models, by name.
type ModelList struct {
	Items      []Model `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

func checkClass(v *domain.Validator, class string) string {
	class = strings.ToLower(strings.TrimSpace(class))
	v.Check(class == "" || class == unclassified || queries.OneOf(ai.RiskClasses, class), "risk_class",
		"%q is not one of prohibited, high, limited, minimal, unclassified", class)
	return class
}

// ListModels lists the team's models by name (?risk_class=, ?status=).
func (s *Service) ListModels(ctx context.Context, team, class, status string, p queries.Page) (ModelList, error) {
	if team == "" {
		return ModelList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	class = checkClass(&v, class)
	status = strings.ToLower(strings.TrimSpace(status))
	v.Check(status == "" || status == ai.StatusRetired || slices.Contains(ai.DeploymentStatuses, status), "status",
		"%q is not one of development, staging, production, retired", status)
	if err := v.Err(); err != nil {
		return ModelList{}, err
	}
	terms := queries.AppendEq(queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "risk_class", class), "status", status)
	page, err := queries.Find(ctx, s.db, modelsCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Asc("name")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return ModelList{}, fmt.Errorf("list models: %w", err)
	}
	out := ModelList{Items: make([]Model, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = modelOf(d)
	}
	return out, nil
}

// ModelsByClass counts the team's models (retired ones left out) per
// risk class, every class named.
func (s *Service) ModelsByClass(ctx context.Context, team string) (map[string]int64, error) {
	if team == "" {
		return nil, queries.ErrNoTeam
	}
	out := map[string]int64{unclassified: 0}
	for _, c := range ai.RiskClasses {
		out[string(c)] = 0
	}
	cursor := ""
	for {
		page, err := queries.Find(ctx, s.db, modelsCollection, readmodel.FindOptions{Filter: readmodel.Eq("team_id", team),
			Sort: []readmodel.SortField{readmodel.Asc("name")}, Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("count models: %w", err)
		}
		for _, d := range page.Docs {
			if queries.Str(d, "status") != ai.StatusRetired {
				out[queries.Str(d, "risk_class")]++
			}
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// teamDoc reads a document of the team by id: another team's is not found.
func (s *Service) teamDoc(ctx context.Context, team, coll, what, id string) (readmodel.Doc, error) {
	if team == "" {
		return nil, queries.ErrNoTeam
	}
	d, err := s.db.Get(ctx, coll, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return nil, queries.NotFound(what, id)
	case err != nil:
		return nil, fmt.Errorf("get %s %q: %w", what, id, err)
	case queries.Str(d, "team_id") != team:
		return nil, queries.NotFound(what, id)
	}
	return d, nil
}

// Classification is one EU AI Act classification of a model.
type Classification struct {
	RiskClass     string    `json:"risk_class"`
	PreviousClass string    `json:"previous_class,omitempty"`
	Rationale     string    `json:"rationale"`
	ClassifiedBy  string    `json:"classified_by,omitempty"`
	ClassifiedAt  time.Time `json:"classified_at"`
}

// ModelDetail is a model with its classification history (oldest first).
type ModelDetail struct {
	Model
	Classifications []Classification `json:"classifications"`
}

// GetModel returns the team's model with its classification history.
func (s *Service) GetModel(ctx context.Context, team, id string) (ModelDetail, error) {
	d, err := s.teamDoc(ctx, team, modelsCollection, "model", id)
	if err != nil {
		return ModelDetail{}, err
	}
	out := ModelDetail{Model: modelOf(d), Classifications: []Classification{}}
	cursor := ""
	for {
		page, err := queries.Find(ctx, s.db, classificationsCollection, readmodel.FindOptions{Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("model_id", id)),
			Sort: []readmodel.SortField{readmodel.Asc("position")}, Limit: 500, Cursor: cursor})
		if err != nil {
			return ModelDetail{}, fmt.Errorf("classifications of %q: %w", id, err)
		}
		for _, c := range page.Docs {
			out.Classifications = append(out.Classifications, Classification{RiskClass: queries.Str(c, "risk_class"),
				PreviousClass: queries.Str(c, "previous_class"), Rationale: queries.Str(c, "rationale"),
				ClassifiedBy: queries.Str(c, "classified_by"), ClassifiedAt: queries.When(c, "classified_at")})
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// OpenObligation is one obligation a model has yet to meet.
type OpenObligation struct {
	ID      string `json:"id"`
	RefID   string `json:"ref_id,omitempty"`
	Article string `json:"article,omitempty"`
	Name    string `json:"name,omitempty"`
}

// ModelObligations is what a model owes under the EU AI Act: its
// regime, the assessment that answers it (high risk) and the
// obligations still open.
type ModelObligations struct {
	ModelID          string           `json:"model_id"`
	Name             string           `json:"name"`
	Status           string           `json:"status"`
	RiskClass        string           `json:"risk_class"`
	Regime           string           `json:"regime"` // unclassified, not_deployable, eu_ai_act_chapter3_section2, transparency_article50, none
	Deployable       bool             `json:"deployable"`
	Assessed         bool             `json:"assessed"` // high risk: an assessment of the EU AI Act names the model
	AssessmentID     string           `json:"assessment_id,omitempty"`
	AssessmentName   string           `json:"assessment_name,omitempty"`
	AssessmentStatus string           `json:"assessment_status,omitempty"`
	FrameworkVersion string           `json:"framework_version,omitempty"`
	Requirements     int64            `json:"requirements"`
	Open             int64            `json:"open"`
	OpenObligations  []OpenObligation `json:"open_obligations,omitempty"` // with details (GET of one model)
}

type catalogue struct {
	version    string
	assessable int64
	ids        []string
	labels     map[string]queryLabel
}

type queryLabel struct {
	RefID   string `json:"ref_id"`
	Article string `json:"article,omitempty"`
	Name    string `json:"name,omitempty"`
}

// catalogueOf reads a version of the EU AI Act catalogue ("" the latest);
// nil when none is loaded.
func (s *Service) catalogueOf(ctx context.Context, version string) (*catalogue, error) {
	id := latestCatalogue
	if version != "" {
		id = "v:" + version
	}
	d, err := s.db.Get(ctx, catalogueCollection, id)
	if errors.Is(err, readmodel.ErrNotFound) || errors.Is(err, readmodel.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("EU AI Act catalogue: %w", err)
	}
	c := &catalogue{version: queries.Str(d, "version"), assessable: queries.Num(d, "assessable")}
	if err := json.Unmarshal([]byte(queries.Str(d, "labels")), &c.labels); err != nil {
		return nil, fmt.Errorf("EU AI Act catalogue labels: %w", err)
	}
	if err := json.Unmarshal([]byte(queries.Str(d, "requirement_ids")), &c.ids); err != nil {
		return nil, fmt.Errorf("EU AI Act catalogue ids: %w", err)
	}
	return c, nil
}

// obligationsOf turns a document into the answer, each open obligation
// named from the catalogue when details are asked for.
func (s *Service) obligationsOf(ctx context.Context, d readmodel.Doc, details bool) (ModelObligations, error) {
	o := ModelObligations{ModelID: queries.Str(d, "model_id"), Name: queries.Str(d, "name"), Status: queries.Str(d, "status"),
		RiskClass: queries.Str(d, "risk_class"), Regime: queries.Str(d, "regime"), Deployable: d["deployable"] == true,
		AssessmentID: queries.Str(d, "assessment_id"), AssessmentName: queries.Str(d, "assessment_name"),
		AssessmentStatus: queries.Str(d, "assessment_status"), FrameworkVersion: queries.Str(d, "framework_version"),
		Requirements: queries.Num(d, "requirements"), Open: queries.Num(d, "open")}
	o.Assessed = o.AssessmentID != ""
	ids := strList(d, "open_ids")
	switch o.Regime {
	case ai.RegimeHighRisk:
		if details {
			cat, err := s.catalogueOf(ctx, o.FrameworkVersion)
			if err != nil {
				return o, err
			}
			o.OpenObligations = make([]OpenObligation, len(ids))
			for i, id := range ids {
				o.OpenObligations[i] = OpenObligation{ID: id}
				if cat != nil {
					l := cat.labels[id]
					o.OpenObligations[i].RefID, o.OpenObligations[i].Article, o.OpenObligations[i].Name = l.RefID, l.Article, l.Name
				}
			}
		}
	case ai.RegimeTransparency:
		if details {
			o.OpenObligations = make([]OpenObligation, 0, len(ids))
			for _, id := range ids {
				if t := ai.TransparencyObligation(id); t != nil {
					o.OpenObligations = append(o.OpenObligations, OpenObligation{ID: t.ID, RefID: t.RefID, Article: "Article 50", Name: t.Name})
				}
			}
		}
	}
	return o, nil
}

// ObligationList is the team's models with what they owe.
type ObligationList struct {
	Items      []ModelObligations `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// ListObligations lists the obligations open per model, the most open
// first (a high-risk model not assessed owes every requirement of the
// latest catalogue); ?risk_class=.
func (s *Service) ListObligations(ctx context.Context, team, class string, p queries.Page) (ObligationList, error) {
	if team == "" {
		return ObligationList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	class = checkClass(&v, class)
	if err := v.Err(); err != nil {
		return ObligationList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "risk_class", class)
	page, err := queries.Find(ctx, s.db, obligationsCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Desc("open"), readmodel.Asc("name")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return ObligationList{}, fmt.Errorf("list obligations: %w", err)
	}
	out := ObligationList{Items: make([]ModelObligations, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		if out.Items[i], err = s.obligationsOf(ctx, d, false); err != nil {
			return ObligationList{}, err
		}
	}
	return out, nil
}

// Obligations returns one model's obligations with each open one named.
func (s *Service) Obligations(ctx context.Context, team, id string) (ModelObligations, error) {
	d, err := s.teamDoc(ctx, team, obligationsCollection, "model", id)
	if err != nil {
		return ModelObligations{}, err
	}
	return s.obligationsOf(ctx, d, true)
}

// BiasTest is a bias test definition with its latest run.
type BiasTest struct {
	ID               string     `json:"id"`
	ModelID          string     `json:"model_id"`
	Name             string     `json:"name"`
	Metric           string     `json:"metric"`
	Attribute        string     `json:"attribute"`
	Groups           []string   `json:"groups"`
	Threshold        float64    `json:"threshold"`
	Direction        string     `json:"direction"`
	DefinedAt        time.Time  `json:"defined_at"`
	Runs             int64      `json:"runs"`
	LastRunAt        *time.Time `json:"last_run_at,omitempty"`
	LastValue        *float64   `json:"last_value,omitempty"`
	LastPassed       *bool      `json:"last_passed,omitempty"`
	LastModelVersion string     `json:"last_model_version,omitempty"`
}

func num(d map[string]any, key string) (float64, bool) {
	switch x := d[key].(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	}
	return 0, false
}

func biasTestOf(d readmodel.Doc) BiasTest {
	b := BiasTest{ID: queries.Str(d, "_id"), ModelID: queries.Str(d, "model_id"), Name: queries.Str(d, "name"), Metric: queries.Str(d, "metric"),
		Attribute: queries.Str(d, "attribute"), Groups: strList(d, "groups"), Direction: queries.Str(d, "direction"),
		DefinedAt: queries.When(d, "defined_at"), Runs: queries.Num(d, "runs"), LastRunAt: timePtr(d, "last_run_at"),
		LastModelVersion: queries.Str(d, "last_model_version")}
	b.Threshold, _ = num(d, "threshold")
	if x, ok := num(d, "last_value"); ok {
		b.LastValue = &x
	}
	if p, ok := d["last_passed"].(bool); ok {
		b.LastPassed = &p
	}
	return b
}

// BiasTestList is one page of bias tests.
type BiasTestList struct {
	Items      []BiasTest `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// ListBiasTests lists the team's bias tests by model and name (?model_id=).
func (s *Service) ListBiasTests(ctx context.Context, team, model string, p queries.Page) (BiasTestList, error) {
	if team == "" {
		return BiasTestList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	queries.CheckText(&v, "model_id", model)
	if err := v.Err(); err != nil {
		return BiasTestList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "model_id", model)
	page, err := queries.Find(ctx, s.db, biasTestsCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Asc("model_id"), readmodel.Asc("name")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return BiasTestList{}, fmt.Errorf("list bias tests: %w", err)
	}
	out := BiasTestList{Items: make([]BiasTest, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = biasTestOf(d)
	}
	return out, nil
}

// GroupResult is one group's result in a run.
type GroupResult struct {
	Group    string  `json:"group"`
	Positive int64   `json:"positive"`
	Total    int64   `json:"total"`
	Rate     float64 `json:"rate"`
	Gap      float64 `json:"gap"`
	Passed   bool    `json:"passed"`
}

// BiasRun is one run of a test.
type BiasRun struct {
	RunID        string        `json:"run_id"`
	ModelVersion string        `json:"model_version"`
	Dataset      string        `json:"dataset,omitempty"`
	Value        float64       `json:"value"`
	Passed       bool          `json:"passed"`
	Groups       []GroupResult `json:"groups"`
	RanAt        time.Time     `json:"ran_at"`
}

// VersionTrend is a model version's runs of the test: how many, how
// many passed, the latest value and the change from the version before.
type VersionTrend struct {
	ModelVersion string    `json:"model_version"`
	Runs         int64     `json:"runs"`
	Passed       int64     `json:"passed"`
	FirstRunAt   time.Time `json:"first_run_at"`
	LatestValue  float64   `json:"latest_value"`
	LatestPassed bool      `json:"latest_passed"`
	Change       *float64  `json:"change,omitempty"` // latest value minus the previous version's
	Trend        string    `json:"trend,omitempty"`  // improved, worsened, unchanged (by the test's direction)
}

// BiasResults are a test's results over time: every run in time order
// and the trend across model versions (in the order they were first run).
type BiasResults struct {
	Test     BiasTest       `json:"test"`
	Runs     []BiasRun      `json:"runs"`
	Versions []VersionTrend `json:"versions"`
}

// MaxBiasRuns bounds the runs a results answer holds (the latest kept).
const MaxBiasRuns = 1000

// BiasResults returns the team's test with its runs and trend.
func (s *Service) BiasResults(ctx context.Context, team, id string) (BiasResults, error) {
	d, err := s.teamDoc(ctx, team, biasTestsCollection, "bias test", id)
	if err != nil {
		return BiasResults{}, err
	}
	out := BiasResults{Test: biasTestOf(d), Runs: []BiasRun{}, Versions: []VersionTrend{}}
	cursor := ""
	for {
		page, err := queries.Find(ctx, s.db, biasRunsCollection, readmodel.FindOptions{Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("test_id", id)),
			Sort: []readmodel.SortField{readmodel.Asc("ran_at"), readmodel.Asc("position")}, Limit: 500, Cursor: cursor})
		if err != nil {
			return BiasResults{}, fmt.Errorf("runs of %q: %w", id, err)
		}
		for _, r := range page.Docs {
			run := BiasRun{RunID: queries.Str(r, "run_id"), ModelVersion: queries.Str(r, "model_version"), Dataset: queries.Str(r, "dataset"),
				Passed: r["passed"] == true, RanAt: queries.When(r, "ran_at"), Groups: []GroupResult{}}
			run.Value, _ = num(r, "value")
			for _, g := range queries.Objs(r, "groups") {
				gr := GroupResult{Group: queries.Str(g, "group"), Positive: queries.Num(g, "positive"), Total: queries.Num(g, "total"), Passed: g["passed"] == true}
				gr.Rate, _ = num(g, "rate")
				gr.Gap, _ = num(g, "gap")
				run.Groups = append(run.Groups, gr)
			}
			out.Runs = append(out.Runs, run)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	out.Versions = Trend(out.Runs, out.Test.Direction)
	if len(out.Runs) > MaxBiasRuns {
		out.Runs = out.Runs[len(out.Runs)-MaxBiasRuns:]
	}
	return out, nil
}

// Trend folds runs (in time order) per model version, in the order the
// versions were first run, with each version's change from the previous.
func Trend(runs []BiasRun, direction string) []VersionTrend {
	out := []VersionTrend{}
	at := map[string]int{}
	for _, r := range runs {
		i, ok := at[r.ModelVersion]
		if !ok {
			i = len(out)
			at[r.ModelVersion] = i
			out = append(out, VersionTrend{ModelVersion: r.ModelVersion, FirstRunAt: r.RanAt})
		}
		v := &out[i]
		v.Runs++
		if r.Passed {
			v.Passed++
		}
		v.LatestValue, v.LatestPassed = r.Value, r.Passed
	}
	for i := 1; i < len(out); i++ {
		c := roundDelta(out[i].LatestValue - out[i-1].LatestValue)
		out[i].Change = &c
		better := c < 0
		if direction == ai.HigherIsBetter {
			better = c > 0
		}
		switch {
		case c == 0:
			out[i].Trend = "unchanged"
		case better:
			out[i].Trend = "improved"
		default:
			out[i].Trend = "worsened"
		}
	}
	return out
}

func roundDelta(x float64) float64 {
	const k = 1e6
	if x < 0 {
		return -float64(int64(-x*k+0.5)) / k
	}
	return float64(int64(x*k+0.5)) / k
}

// Incident is a model incident.
type Incident struct {
	ID          string     `json:"id"`
	ModelID     string     `json:"model_id"`
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Severity    string     `json:"severity"`
	Status      string     `json:"status"`
	Note        string     `json:"note,omitempty"`
	ReportedBy  string     `json:"reported_by,omitempty"`
	ReportedAt  time.Time  `json:"reported_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
}

// IncidentList is one page of incidents, newest first.
type IncidentList struct {
	Items      []Incident `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// ListIncidents lists the team's model incidents (?model_id=, ?status=).
func (s *Service) ListIncidents(ctx context.Context, team, model, status string, p queries.Page) (IncidentList, error) {
	if team == "" {
		return IncidentList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	queries.CheckText(&v, "model_id", model)
	status = strings.ToLower(strings.TrimSpace(status))
	v.Check(status == "" || slices.Contains(ai.IncidentStatuses, status), "status", "%q is not one of open, mitigated, closed", status)
	if err := v.Err(); err != nil {
		return IncidentList{}, err
	}
	terms := queries.AppendEq(queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "model_id", model), "status", status)
	page, err := queries.Find(ctx, s.db, incidentsCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Desc("reported_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return IncidentList{}, fmt.Errorf("list incidents: %w", err)
	}
	out := IncidentList{Items: make([]Incident, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = Incident{ID: queries.Str(d, "_id"), ModelID: queries.Str(d, "model_id"), Title: queries.Str(d, "title"),
			Description: queries.Str(d, "description"), Severity: queries.Str(d, "severity"), Status: queries.Str(d, "status"),
			Note: queries.Str(d, "note"), ReportedBy: queries.Str(d, "reported_by"), ReportedAt: queries.When(d, "reported_at"),
			UpdatedAt: queries.When(d, "updated_at"), ClosedAt: timePtr(d, "closed_at")}
	}
	return out, nil
}

// Package assessments holds the assessments module's queries over
// cspm_assessments: the catalogues (public: every team reads the same),
// the team's assessments with their answers, progress and evidence, and
// the unified view of every assessment across modules.
package assessments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The read models projections/assessments writes.
const (
	frameworksCollection  = "catalog_frameworks"
	versionsCollection    = "catalog_versions"
	assessmentsCollection = "assessments"
	answersCollection     = "assessment_answers"
	evidenceCollection    = "assessment_evidence"
	indexCollection       = "assessments_index"
)

// Service runs the assessments queries.
type Service struct{ db queries.DocReader }

// New returns the queries over the assessments database; it panics on a
// nil store (a wiring mistake).
func New(store queries.DocReader) *Service {
	if store == nil {
		panic("assessments.New: a store is missing")
	}
	return &Service{db: store}
}

// Framework is a framework of the catalogue and its latest version.
type Framework struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Source        string    `json:"source"`
	Provider      string    `json:"provider,omitempty"`
	LatestVersion string    `json:"latest_version"`
	Versions      int64     `json:"versions"`
	Requirements  int64     `json:"requirements"` // nodes of the latest version
	Assessable    int64     `json:"assessable"`
	LoadedAt      time.Time `json:"loaded_at"`
}

// FrameworkList is one page of frameworks, by name.
type FrameworkList struct {
	Items      []Framework `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// ListFrameworks lists the catalogue's frameworks (public data).
func (s *Service) ListFrameworks(ctx context.Context, p queries.Page) (FrameworkList, error) {
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return FrameworkList{}, err
	}
	page, err := queries.Find(ctx, s.db, frameworksCollection, readmodel.FindOptions{
		Sort: []readmodel.SortField{readmodel.Asc("name")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return FrameworkList{}, fmt.Errorf("list frameworks: %w", err)
	}
	out := FrameworkList{Items: make([]Framework, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = Framework{ID: queries.Str(d, "_id"), Name: queries.Str(d, "name"), Source: queries.Str(d, "source"),
			Provider: queries.Str(d, "provider"), LatestVersion: queries.Str(d, "latest_version"), Versions: queries.Num(d, "versions"),
			Requirements: queries.Num(d, "nodes"), Assessable: queries.Num(d, "assessable"), LoadedAt: queries.When(d, "loaded_at")}
	}
	return out, nil
}

// FrameworkVersion is one version of a framework.
type FrameworkVersion struct {
	Framework    string           `json:"framework"`
	Version      string           `json:"version"`
	Name         string           `json:"name"`
	Source       string           `json:"source"`
	Provider     string           `json:"provider,omitempty"`
	Published    string           `json:"published,omitempty"`
	ContentHash  string           `json:"content_hash"`
	FileName     string           `json:"file_name,omitempty"`
	Requirements int64            `json:"requirements"`
	Assessable   int64            `json:"assessable"`
	LoadedAt     time.Time        `json:"loaded_at"`
	Nodes        []as.Requirement `json:"nodes,omitempty"` // with ?requirements=true
}

// VersionList is one page of a framework's versions, latest first.
type VersionList struct {
	Items      []FrameworkVersion `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// FrameworkVersions lists a framework's versions, the requirements
// included when withNodes; queries.ErrNotFound for an unknown framework.
func (s *Service) FrameworkVersions(ctx context.Context, framework string, withNodes bool, p queries.Page) (VersionList, error) {
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return VersionList{}, err
	}
	if _, err := s.db.Get(ctx, frameworksCollection, framework); err != nil {
		if errors.Is(err, readmodel.ErrNotFound) || errors.Is(err, readmodel.ErrInvalid) {
			return VersionList{}, queries.NotFound("framework", framework)
		}
		return VersionList{}, fmt.Errorf("get framework %q: %w", framework, err)
	}
	page, err := queries.Find(ctx, s.db, versionsCollection, readmodel.FindOptions{Filter: readmodel.Eq("framework", framework),
		Sort: []readmodel.SortField{readmodel.Desc("loaded_position")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return VersionList{}, fmt.Errorf("list versions of %q: %w", framework, err)
	}
	out := VersionList{Items: make([]FrameworkVersion, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		fv := FrameworkVersion{Framework: framework, Version: queries.Str(d, "version"), Name: queries.Str(d, "name"),
			Source: queries.Str(d, "source"), Provider: queries.Str(d, "provider"), Published: queries.Str(d, "published"),
			ContentHash: queries.Str(d, "content_hash"), FileName: queries.Str(d, "file_name"), Requirements: queries.Num(d, "nodes"),
			Assessable: queries.Num(d, "assessable"), LoadedAt: queries.When(d, "loaded_at")}
		if withNodes {
			if err := json.Unmarshal([]byte(queries.Str(d, "requirements")), &fv.Nodes); err != nil {
				return VersionList{}, fmt.Errorf("version %s of %q: %w", fv.Version, framework, err)
			}
		}
		out.Items[i] = fv
	}
	return out, nil
}

// Assessment is one of the team's assessments.
type Assessment struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	Framework    as.FrameworkRef `json:"framework"`
	Scope        as.Scope        `json:"scope"`
	Assignees    []string        `json:"assignees"`
	DueDate      *time.Time      `json:"due_date"`
	AsOf         time.Time       `json:"as_of"`
	Status       string          `json:"status"`
	Requirements int64           `json:"requirements"`
	Answered     int64           `json:"answered"`
	Percent      int64           `json:"percent"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	ClosedAt     *time.Time      `json:"closed_at,omitempty"`
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

func assessmentOf(d readmodel.Doc) Assessment {
	sc := queries.Obj(d, "scope")
	return Assessment{ID: queries.Str(d, "_id"), Name: queries.Str(d, "name"), Description: queries.Str(d, "description"),
		Framework: as.FrameworkRef{Framework: queries.Str(d, "framework"), Version: queries.Str(d, "version")},
		Scope:     as.Scope{Accounts: strList(sc, "accounts"), Assets: strList(sc, "assets"), Models: strList(sc, "models")},
		Assignees: strList(d, "assignees"), DueDate: timePtr(d, "due_date"), AsOf: queries.When(d, "as_of"),
		Status: queries.Str(d, "status"), Requirements: queries.Num(d, "requirements"), Answered: queries.Num(d, "answered"),
		Percent: queries.Num(d, "percent"), CreatedAt: queries.When(d, "created_at"), UpdatedAt: queries.When(d, "updated_at"),
		ClosedAt: timePtr(d, "closed_at")}
}

// AssessmentList is one page of assessments, most recently changed first.
type AssessmentList struct {
	Items      []Assessment `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// ListAssessments lists the team's assessments (?status=open|closed).
func (s *Service) ListAssessments(ctx context.Context, team, status string, p queries.Page) (AssessmentList, error) {
	if team == "" {
		return AssessmentList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	status = strings.ToLower(strings.TrimSpace(status))
	v.Check(status == "" || status == as.StatusOpen || status == as.StatusClosed, "status", "%q is not one of open, closed", status)
	if err := v.Err(); err != nil {
		return AssessmentList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "status", status)
	page, err := queries.Find(ctx, s.db, assessmentsCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Desc("updated_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return AssessmentList{}, fmt.Errorf("list assessments: %w", err)
	}
	out := AssessmentList{Items: make([]Assessment, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = assessmentOf(d)
	}
	return out, nil
}

// teamDoc reads a document of the team by id: another team's is not found.
func (s *Service) teamDoc(ctx context.Context, team, coll, id string) (readmodel.Doc, error) {
	if team == "" {
		return nil, queries.ErrNoTeam
	}
	d, err := s.db.Get(ctx, coll, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return nil, queries.NotFound("assessment", id)
	case err != nil:
		return nil, fmt.Errorf("get assessment %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return nil, queries.NotFound("assessment", id)
	}
	return d, nil
}

// RequirementAnswer is a requirement with its answer in force (none yet: nil).
type RequirementAnswer struct {
	RequirementID string     `json:"requirement_id"`
	Section       string     `json:"section,omitempty"`
	Answer        *as.Answer `json:"answer"`
}

// AssessmentDetail is an assessment with its answers and progress.
type AssessmentDetail struct {
	Assessment
	Progress as.Progress         `json:"progress"`
	Answers  []RequirementAnswer `json:"answers"`
}

type answersState struct {
	Requirements []as.AssessedRequirement `json:"requirements"`
	Answers      map[string]as.Answer     `json:"answers"`
}

// GetAssessment returns the team's assessment with its answers and progress.
func (s *Service) GetAssessment(ctx context.Context, team, id string) (AssessmentDetail, error) {
	d, err := s.teamDoc(ctx, team, assessmentsCollection, id)
	if err != nil {
		return AssessmentDetail{}, err
	}
	out := AssessmentDetail{Assessment: assessmentOf(d), Answers: []RequirementAnswer{}}
	st, pr, err := s.answers(ctx, team, id)
	if err != nil {
		return AssessmentDetail{}, err
	}
	out.Progress = pr
	for _, r := range st.Requirements {
		ra := RequirementAnswer{RequirementID: r.ID, Section: r.Section}
		if a, ok := st.Answers[r.ID]; ok {
			ra.Answer = &a
		}
		out.Answers = append(out.Answers, ra)
	}
	return out, nil
}

func (s *Service) answers(ctx context.Context, team, id string) (answersState, as.Progress, error) {
	var st answersState
	var pr as.Progress
	d, err := s.teamDoc(ctx, team, answersCollection, id)
	if err != nil {
		return st, pr, err
	}
	if err := json.Unmarshal([]byte(queries.Str(d, "state")), &st); err != nil {
		return st, pr, fmt.Errorf("answers of %q: %w", id, err)
	}
	if err := json.Unmarshal([]byte(queries.Str(d, "progress")), &pr); err != nil {
		return st, pr, fmt.Errorf("progress of %q: %w", id, err)
	}
	return st, pr, nil
}

// Progress returns the completion of the team's assessment by section.
func (s *Service) Progress(ctx context.Context, team, id string) (as.Progress, error) {
	_, pr, err := s.answers(ctx, team, id)
	return pr, err
}

// Evidence returns the evidence of the team's assessment as of its date.
func (s *Service) Evidence(ctx context.Context, team, id string) (as.EvidenceView, error) {
	d, err := s.teamDoc(ctx, team, evidenceCollection, id)
	if err != nil {
		return as.EvidenceView{}, err
	}
	var v as.EvidenceView
	if err := json.Unmarshal([]byte(queries.Str(d, "body")), &v); err != nil {
		return as.EvidenceView{}, fmt.Errorf("evidence of %q: %w", id, err)
	}
	return v, nil
}

// IndexEntry is one assessment of any module in the unified view.
type IndexEntry struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Module    string     `json:"module"`
	SourceID  string     `json:"source_id"`
	Title     string     `json:"title"`
	Framework string     `json:"framework,omitempty"`
	Version   string     `json:"version,omitempty"`
	Status    string     `json:"status"`
	Scope     []string   `json:"scope"`
	Progress  *int64     `json:"progress"`
	Score     *float64   `json:"score"`
	DueDate   *time.Time `json:"due_date"`
	AsOf      *time.Time `json:"as_of"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// IndexList is one page of the unified view, most recently changed first.
type IndexList struct {
	Items      []IndexEntry `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// IndexKinds are the kinds the unified view holds (bia: to come).
var IndexKinds = []string{"assessment", "cloud_compliance", "bia"}

// AllAssessments lists every assessment of the team across modules (?kind=).
func (s *Service) AllAssessments(ctx context.Context, team, kind string, p queries.Page) (IndexList, error) {
	if team == "" {
		return IndexList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	kind = strings.ToLower(strings.TrimSpace(kind))
	v.Check(kind == "" || queries.OneOf(IndexKinds, kind), "kind", "%q is not one of %s", kind, strings.Join(IndexKinds, ", "))
	if err := v.Err(); err != nil {
		return IndexList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "kind", kind)
	page, err := queries.Find(ctx, s.db, indexCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Desc("updated_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return IndexList{}, fmt.Errorf("list all assessments: %w", err)
	}
	out := IndexList{Items: make([]IndexEntry, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		e := IndexEntry{ID: queries.Str(d, "_id"), Kind: queries.Str(d, "kind"), Module: queries.Str(d, "module"),
			SourceID: queries.Str(d, "source_id"), Title: queries.Str(d, "title"), Framework: queries.Str(d, "framework"),
			Version: queries.Str(d, "version"), Status: queries.Str(d, "status"), Scope: strList(d, "scope"),
			DueDate: timePtr(d, "due_date"), AsOf: timePtr(d, "as_of"), UpdatedAt: queries.When(d, "updated_at")}
		if _, ok := d["progress"]; ok {
			n := queries.Num(d, "progress")
			e.Progress = &n
		}
		if f, ok := d["score"].(float64); ok {
			e.Score = &f
		}
		out.Items[i] = e
	}
	return out, nil
}

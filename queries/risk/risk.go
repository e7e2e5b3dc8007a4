// Package risk holds the risk-management queries over
// cspm_risk_management (docs/risk-management.md): the team's matrix and
// its versions, the register, KRIs and their series, risk acceptances.
package risk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The read models projections/risk writes.
const (
	matricesCollection      = "risk_matrices"
	risksCollection         = "risks"
	krisCollection          = "kris"
	measurementsCollection  = "kri_measurements"
	acceptancesCollection   = "risk_acceptances"
	acceptedItemsCollection = "accepted_items"
	kriPointsCollection     = "kri_points" // risk.kris: the computed KRIs' points
)

// Service runs the risk-management queries.
type Service struct {
	rm  queries.DocReader
	now func() time.Time
}

// New returns the queries over the risk-management database; now is the
// clock of "expiring within" answers. It panics on a nil store.
func New(store queries.DocReader, now func() time.Time) *Service {
	if store == nil || now == nil {
		panic("risk.New: a store or the clock is missing")
	}
	return &Service{rm: store, now: now}
}

// decode reads a stored document into out (its JSON shape).
func decode(d readmodel.Doc, out any) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

func (s *Service) get(ctx context.Context, coll, what, team, id string, out any) error {
	if team == "" {
		return queries.ErrNoTeam
	}
	d, err := s.rm.Get(ctx, coll, queries.TeamKey(team, id))
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return queries.NotFound(what, id)
	case err != nil:
		return fmt.Errorf("get %s %q: %w", what, id, err)
	case queries.Str(d, "team_id") != team:
		return queries.NotFound(what, id)
	}
	return decode(d, out)
}

// --- the matrix ---

// MatrixVersion is one version of a team's matrix.
type MatrixVersion struct {
	Version   int                `json:"version"`
	Matrix    rdomain.MatrixSpec `json:"matrix"`
	DefinedAt time.Time          `json:"defined_at,omitzero"`
	DefinedBy string             `json:"defined_by,omitempty"`
}

// Matrix is a team's matrix: the one in force and every version (version
// 0 is the default a team scores under before it defines one).
type Matrix struct {
	CurrentVersion int                `json:"current_version"`
	Current        rdomain.MatrixSpec `json:"current"`
	Versions       []MatrixVersion    `json:"versions"`
}

// GetMatrix returns the team's matrix and its versions.
func (s *Service) GetMatrix(ctx context.Context, team string) (Matrix, error) {
	var stored struct {
		Versions []MatrixVersion `json:"versions"`
	}
	err := s.get(ctx, matricesCollection, "risk matrix", team, "matrix", &stored)
	if err != nil && !errors.Is(err, queries.ErrNotFound) {
		return Matrix{}, err
	}
	m := Matrix{Versions: append([]MatrixVersion{{Version: 0, Matrix: rdomain.DefaultMatrix()}}, stored.Versions...)}
	last := m.Versions[len(m.Versions)-1]
	m.CurrentVersion, m.Current = last.Version, last.Matrix
	return m, nil
}

// --- risks ---

// Score is a stored score with the matrix version it was made under.
type Score struct {
	Likelihood    string    `json:"likelihood"`
	Impact        string    `json:"impact"`
	Level         string    `json:"level"`
	LevelRank     int       `json:"level_rank"`
	MatrixVersion int       `json:"matrix_version"`
	Note          string    `json:"note,omitempty"`
	ScoredAt      time.Time `json:"scored_at"`
}

// Task is a task of a plan.
type Task struct {
	TaskID string `json:"task_id"`
	Title  string `json:"title"`
	Status string `json:"status"`
}

// Plan is a treatment plan with its progress (done tasks over tasks not
// cancelled, percent).
type Plan struct {
	PlanID    string    `json:"plan_id"`
	Strategy  string    `json:"strategy"`
	Owner     string    `json:"owner"`
	DueDate   time.Time `json:"due_date"`
	Tasks     []Task    `json:"tasks"`
	Progress  int       `json:"progress"`
	PlannedAt time.Time `json:"planned_at"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Risk is a risk scenario of the register.
type Risk struct {
	ID           string           `json:"id"`
	Title        string           `json:"title"`
	Description  string           `json:"description,omitempty"`
	Owner        string           `json:"owner"`
	Links        rdomain.Links    `json:"links"`
	Status       string           `json:"status"` // open, closed
	Level        string           `json:"level,omitempty"`
	LevelRank    int              `json:"level_rank"`
	Scores       map[string]Score `json:"scores"`
	Plans        []Plan           `json:"plans"`
	IdentifiedAt time.Time        `json:"identified_at"`
	IdentifiedBy string           `json:"identified_by,omitempty"`
	UpdatedAt    time.Time        `json:"updated_at"`
	ClosedAt     time.Time        `json:"closed_at,omitzero"`
	CloseReason  string           `json:"close_reason,omitempty"`
	// Matrices are the matrix versions its scores were made under (GET
	// /risks/{id} only): each score stays explainable after a change.
	Matrices map[string]rdomain.MatrixSpec `json:"matrices,omitempty"`
}

type storedRisk struct {
	Risk
	RiskID string `json:"risk_id"`
}

func riskOf(d readmodel.Doc) (Risk, error) {
	var r storedRisk
	if err := decode(d, &r); err != nil {
		return Risk{}, err
	}
	r.Risk.ID = r.RiskID
	if r.Risk.Plans == nil {
		r.Risk.Plans = []Plan{}
	}
	if r.Risk.Scores == nil {
		r.Risk.Scores = map[string]Score{}
	}
	return r.Risk, nil
}

// RiskList is one page of risks.
type RiskList struct {
	Items      []Risk `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// RiskFilter narrows ListRisks: with Status, highest level first.
type RiskFilter struct {
	Status string // open, closed
}

// ListRisks returns one page of the team's register: newest first, or,
// with a status, highest level first.
func (s *Service) ListRisks(ctx context.Context, team string, f RiskFilter, p queries.Page) (RiskList, error) {
	if team == "" {
		return RiskList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	status := strings.ToLower(strings.TrimSpace(f.Status))
	v.Check(status == "" || status == "open" || status == "closed", "status", "must be open or closed")
	if err := v.Err(); err != nil {
		return RiskList{}, err
	}
	sort := []readmodel.SortField{readmodel.Desc("identified_at")}
	if status != "" {
		sort = []readmodel.SortField{readmodel.Desc("level_rank"), readmodel.Desc("identified_at")}
	}
	page, err := queries.Find(ctx, s.rm, risksCollection, readmodel.FindOptions{
		Filter: readmodel.And(queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "status", status)...),
		Sort:   sort, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return RiskList{}, fmt.Errorf("list risks: %w", err)
	}
	out := RiskList{Items: make([]Risk, 0, len(page.Docs)), NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		r, err := riskOf(d)
		if err != nil {
			return RiskList{}, err
		}
		out.Items = append(out.Items, r)
	}
	return out, nil
}

// GetRisk returns the team's risk with the matrix versions of its scores.
func (s *Service) GetRisk(ctx context.Context, team, id string) (Risk, error) {
	if team == "" {
		return Risk{}, queries.ErrNoTeam
	}
	d, err := s.rm.Get(ctx, risksCollection, queries.TeamKey(team, id))
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return Risk{}, queries.NotFound("risk", id)
	case err != nil:
		return Risk{}, fmt.Errorf("get risk %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return Risk{}, queries.NotFound("risk", id)
	}
	r, err := riskOf(d)
	if err != nil {
		return Risk{}, err
	}
	if len(r.Scores) > 0 {
		m, err := s.GetMatrix(ctx, team)
		if err != nil {
			return Risk{}, err
		}
		r.Matrices = map[string]rdomain.MatrixSpec{}
		for _, sc := range r.Scores {
			for _, v := range m.Versions {
				if v.Version == sc.MatrixVersion {
					r.Matrices[fmt.Sprint(v.Version)] = v.Matrix
				}
			}
		}
	}
	return r, nil
}

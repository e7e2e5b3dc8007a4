// Package bia holds the business impact analysis queries over cspm_bia:
// a team's BIAs, what changed in one between two dates (from the versions
// its projection keeps, decision 73), and its exercises.
package bia

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Store is what the BIA queries read: documents by id, pages, counts (a
// subset of readmodel.Store).
type Store interface {
	queries.DocReader
	Count(ctx context.Context, collection string, f readmodel.Filter) (int64, error)
}

// Service runs the BIA queries.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns the queries over the BIA database; it panics on a nil
// store or clock (a wiring mistake).
func New(store Store, now func() time.Time) *Service {
	if store == nil || now == nil {
		panic("bia.New: a store or the clock is missing")
	}
	return &Service{store: store, now: now}
}

// The read models projections/bia writes.
const (
	biasCollection      = "bias"
	versionsCollection  = "bia_versions"
	exercisesCollection = "bia_exercises"
)

// Duration is a duration in minutes with its text ("4h").
type Duration struct {
	Minutes int64  `json:"minutes"`
	Text    string `json:"text"`
}

func durationOf(m *bia.Minutes) *Duration {
	if m == nil {
		return nil
	}
	return &Duration{Minutes: *m, Text: bia.FormatDuration(*m)}
}

// Threshold is an impact threshold.
type Threshold struct {
	Category string   `json:"category"`
	After    Duration `json:"after"`
	Level    string   `json:"level"`
	Amount   *float64 `json:"amount,omitempty"`
	Unit     string   `json:"unit,omitempty"`
}

// Process is a business process of a BIA.
type Process struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Owner       string         `json:"owner"`
	Description string         `json:"description,omitempty"`
	Criticality string         `json:"criticality"`
	Impacts     []Threshold    `json:"impacts"`
	RTO         *Duration      `json:"rto,omitempty"`
	RPO         *Duration      `json:"rpo,omitempty"`
	MTD         *Duration      `json:"mtd,omitempty"`
	Complete    bool           `json:"complete"`
	Assets      []string       `json:"assets"`
	Suppliers   []bia.Supplier `json:"suppliers"`
}

// Approval is the last approval of a BIA.
type Approval struct {
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	Revision int       `json:"revision"`
	At       time.Time `json:"at"`
}

// Summary is a BIA in a list: what a view of assessments across modules
// shows of it (id, title, status, dates, owner, progress).
type Summary struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Owner       string       `json:"owner"`
	Status      string       `json:"status"` // draft, in_review, approved
	DueDate     time.Time    `json:"due_date,omitzero"`
	Revision    int64        `json:"revision"`
	Progress    bia.Progress `json:"progress"`
	ApprovedBy  string       `json:"approved_by,omitempty"`
	ApprovedAt  time.Time    `json:"approved_at,omitzero"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Description string       `json:"description,omitempty"`
}

// Analysis is a BIA with its processes.
type Analysis struct {
	Summary
	Approval  *Approval `json:"approval,omitempty"`
	Processes []Process `json:"processes"`
}

// List is one page of BIAs, most recently changed first.
type List struct {
	Items      []Summary `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

func summaryOf(d readmodel.Doc) Summary {
	return Summary{ID: queries.Str(d, "bia_id"), Title: queries.Str(d, "title"), Owner: queries.Str(d, "owner"),
		Description: queries.Str(d, "description"), Status: queries.Str(d, "status"), DueDate: queries.When(d, "due_date"),
		Revision: queries.Num(d, "revision"), Progress: bia.Progress{Processes: int(queries.Num(d, "processes")),
			Complete: int(queries.Num(d, "complete")), Percent: int(queries.Num(d, "percent"))},
		ApprovedBy: queries.Str(d, "approved_by"), ApprovedAt: queries.When(d, "approved_at"),
		CreatedAt: queries.When(d, "created_at"), UpdatedAt: queries.When(d, "updated_at")}
}

func stateOf(d readmodel.Doc) (bia.Snapshot, error) {
	var s bia.Snapshot
	if err := json.Unmarshal([]byte(queries.Str(d, "state")), &s); err != nil {
		return bia.Snapshot{}, fmt.Errorf("state of %s: %w", d.ID(), err)
	}
	return s, nil
}

func processOf(p bia.Process) Process {
	out := Process{ID: p.ProcessID, Name: p.Name, Owner: p.Owner, Description: p.Description, Criticality: string(p.Criticality),
		Impacts: []Threshold{}, RTO: durationOf(p.RTO), RPO: durationOf(p.RPO), MTD: durationOf(p.MTD), Complete: p.Complete(),
		Assets: append([]string{}, p.Assets...), Suppliers: append([]bia.Supplier{}, p.Suppliers...)}
	for _, t := range p.Impacts {
		out.Impacts = append(out.Impacts, Threshold{Category: string(t.Category), After: *durationOf(&t.After), Level: string(t.Level),
			Amount: t.Amount, Unit: t.Unit})
	}
	return out
}

var statuses = []string{string(bia.StatusDraft), string(bia.StatusInReview), string(bia.StatusApproved)}

// ListBIAs returns one page of the team's BIAs (status: one of draft,
// in_review, approved, or any).
func (s *Service) ListBIAs(ctx context.Context, team, status string, p queries.Page) (List, error) {
	if team == "" {
		return List{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	status = strings.ToLower(strings.TrimSpace(status))
	v.Check(status == "" || queries.OneOf(statuses, status), "status", "%q is not one of draft, in_review, approved", status)
	if err := v.Err(); err != nil {
		return List{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "status", status)
	page, err := queries.Find(ctx, s.store, biasCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Desc("updated_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return List{}, fmt.Errorf("list BIAs: %w", err)
	}
	out := List{Items: make([]Summary, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = summaryOf(d)
	}
	return out, nil
}

func (s *Service) get(ctx context.Context, team, id string) (readmodel.Doc, error) {
	if team == "" {
		return nil, queries.ErrNoTeam
	}
	d, err := s.store.Get(ctx, biasCollection, team+"/"+id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return nil, queries.NotFound("BIA", id)
	case err != nil:
		return nil, fmt.Errorf("get BIA %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return nil, queries.NotFound("BIA", id)
	}
	return d, nil
}

// GetBIA returns the team's BIA with its processes; queries.ErrNotFound
// for another team's.
func (s *Service) GetBIA(ctx context.Context, team, id string) (Analysis, error) {
	d, err := s.get(ctx, team, id)
	if err != nil {
		return Analysis{}, err
	}
	st, err := stateOf(d)
	if err != nil {
		return Analysis{}, fmt.Errorf("get BIA %q: %w", id, err)
	}
	out := Analysis{Summary: summaryOf(d), Processes: make([]Process, len(st.Processes))}
	for i, p := range st.Processes {
		out.Processes[i] = processOf(p)
	}
	if st.Approval != nil {
		a := Approval(*st.Approval)
		out.Approval = &a
	}
	return out, nil
}

// Version names one version of a BIA: the stream version, when, by which
// event, and the content revision.
type Version struct {
	Version  int64     `json:"version"`
	At       time.Time `json:"at"`
	Event    string    `json:"event"`
	Revision int64     `json:"revision"`
	Status   string    `json:"status"`
}

// Changes is what changed in a BIA between From and To: the versions in
// force then (From nil: the BIA did not exist yet) and the differences.
type Changes struct {
	BIAID    string    `json:"bia_id"`
	From     time.Time `json:"from,omitzero"` // absent: before the BIA existed
	To       time.Time `json:"to"`
	FromVer  *Version  `json:"from_version"`
	ToVer    *Version  `json:"to_version"`
	Versions int       `json:"versions"` // versions recorded after From, up to To
	bia.Changes
}

// at is the last version of the team's BIA at or before t (found false:
// none yet).
func (s *Service) at(ctx context.Context, team, id string, t time.Time) (readmodel.Doc, bool, error) {
	page, err := queries.Find(ctx, s.store, versionsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("bia_id", id), readmodel.Lte("at", readmodel.NormalizeTime(t))),
		Sort:   []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("position")}, Limit: 1})
	if err != nil {
		return nil, false, fmt.Errorf("BIA %q as of %v: %w", id, t, err)
	}
	if len(page.Docs) == 0 {
		return nil, false, nil
	}
	return page.Docs[0], true, nil
}

func versionOf(d readmodel.Doc) *Version {
	return &Version{Version: queries.Num(d, "version"), At: queries.When(d, "at"), Event: queries.Str(d, "event"),
		Revision: queries.Num(d, "revision"), Status: queries.Str(d, "status")}
}

// GetChanges says what changed in the team's BIA from from (zero: its
// last approval, or before it existed when it has none) to to (zero:
// now): processes added, removed and changed (fields, impact
// thresholds), and the BIA's own fields. queries.ErrNotFound for another
// team's BIA.
func (s *Service) GetChanges(ctx context.Context, team, id string, from, to time.Time) (Changes, error) {
	if to.IsZero() {
		to = s.now()
	}
	to = readmodel.NormalizeTime(to)
	var v domain.Validator
	v.Check(from.IsZero() || !to.Before(from), "to", "must not be before from")
	if err := v.Err(); err != nil {
		return Changes{}, err
	}
	d, err := s.get(ctx, team, id)
	if err != nil {
		return Changes{}, err
	}
	if from.IsZero() {
		from = queries.When(d, "approved_at")
	}
	if !from.IsZero() {
		from = readmodel.NormalizeTime(from)
	}
	out := Changes{BIAID: id, From: from, To: to}
	var a, b bia.Snapshot
	fd, found, err := s.at(ctx, team, id, from)
	if err != nil {
		return Changes{}, err
	}
	if found && !from.IsZero() {
		out.FromVer = versionOf(fd)
		if a, err = stateOf(fd); err != nil {
			return Changes{}, err
		}
	}
	td, found, err := s.at(ctx, team, id, to)
	if err != nil {
		return Changes{}, err
	}
	if found {
		out.ToVer = versionOf(td)
		if b, err = stateOf(td); err != nil {
			return Changes{}, err
		}
	}
	out.Changes = bia.Compare(a, b)
	if out.ToVer != nil {
		n, err := s.store.Count(ctx, versionsCollection, readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("bia_id", id),
			readmodel.Gt("at", from), readmodel.Lte("at", to)))
		if err != nil {
			return Changes{}, fmt.Errorf("BIA %q versions: %w", id, err)
		}
		out.Versions = int(n)
	}
	return out, nil
}

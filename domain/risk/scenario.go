package risk

import (
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// A risk scenario (stream "risk-<id>"): what could happen, to which assets,
// through which threats and findings or vulnerabilities, scored on the
// team's matrix three times: inherent (before any control), current (as it
// stands) and residual (expected once its treatment is done). Each score
// keeps the matrix version it was made under. Its treatment plans belong
// to it.

// Score kinds.
const (
	Inherent = "inherent"
	Current  = "current"
	Residual = "residual"
)

// ScoreKinds are the kinds, in order.
var ScoreKinds = []string{Inherent, Current, Residual}

// Treatment strategies.
const (
	StrategyAccept = "accept"
	Avoid          = "avoid"
	Mitigate       = "mitigate"
	Transfer       = "transfer"
)

// Strategies are the strategies a plan may have.
var Strategies = []string{StrategyAccept, Avoid, Mitigate, Transfer}

// Task statuses.
const (
	TaskTodo       = "todo"
	TaskInProgress = "in_progress"
	TaskDone       = "done"
	TaskCancelled  = "cancelled"
)

// TaskStatuses are the statuses a task may have.
var TaskStatuses = []string{TaskTodo, TaskInProgress, TaskDone, TaskCancelled}

// Limits.
const (
	MaxLinks = 1000 // ids across a risk's assets, threats, findings and vulnerabilities
	MaxTasks = 200
)

// Links are what a risk is about: asset ids (the cloud-assets module's),
// threats (free text labels), finding ids and vulnerability ids (CVE ids
// or occurrence ids).
type Links struct {
	Assets          []string `json:"assets,omitempty"`
	Threats         []string `json:"threats,omitempty"`
	Findings        []string `json:"findings,omitempty"`
	Vulnerabilities []string `json:"vulnerabilities,omitempty"`
}

// ScenarioSpec is what a person says a risk is.
type ScenarioSpec struct {
	Title       string
	Description string
	Owner       string
	Links       Links
}

// RiskIdentified: a risk scenario was entered in the register.
type RiskIdentified struct {
	RiskID       string    `json:"risk_id"`
	Title        string    `json:"title"`
	Description  string    `json:"description,omitempty"`
	Owner        string    `json:"owner"`
	Links        Links     `json:"links"`
	IdentifiedAt time.Time `json:"identified_at"`
}

// RiskDescribed: the risk's title, description, owner and links are these
// from ChangedAt.
type RiskDescribed struct {
	RiskID      string    `json:"risk_id"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Owner       string    `json:"owner"`
	Links       Links     `json:"links"`
	ChangedAt   time.Time `json:"changed_at"`
}

// RiskScored: the risk's inherent, current or residual score is Score
// (under the matrix version it names) from ScoredAt.
type RiskScored struct {
	RiskID   string    `json:"risk_id"`
	Kind     string    `json:"kind"`
	Score    Score     `json:"score"`
	Note     string    `json:"note,omitempty"`
	ScoredAt time.Time `json:"scored_at"`
}

// RiskClosed: the risk left the register (it no longer applies).
type RiskClosed struct {
	RiskID   string    `json:"risk_id"`
	Reason   string    `json:"reason"`
	ClosedAt time.Time `json:"closed_at"`
}

// Task is one step of a treatment plan.
type Task struct {
	TaskID string `json:"task_id"`
	Title  string `json:"title"`
	Status string `json:"status"`
}

// TreatmentPlanned: a plan to treat the risk.
type TreatmentPlanned struct {
	RiskID    string    `json:"risk_id"`
	PlanID    string    `json:"plan_id"`
	Strategy  string    `json:"strategy"`
	Owner     string    `json:"owner"`
	DueDate   time.Time `json:"due_date"`
	Tasks     []Task    `json:"tasks"`
	PlannedAt time.Time `json:"planned_at"`
}

// TreatmentTaskUpdated: a task of a plan has Status from UpdatedAt.
type TreatmentTaskUpdated struct {
	RiskID    string    `json:"risk_id"`
	PlanID    string    `json:"plan_id"`
	TaskID    string    `json:"task_id"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (RiskIdentified) EventType() string       { return "RiskIdentified" }
func (RiskDescribed) EventType() string        { return "RiskDescribed" }
func (RiskScored) EventType() string           { return "RiskScored" }
func (RiskClosed) EventType() string           { return "RiskClosed" }
func (TreatmentPlanned) EventType() string     { return "TreatmentPlanned" }
func (TreatmentTaskUpdated) EventType() string { return "TreatmentTaskUpdated" }

// Rule codes of risks.
const (
	CodeRiskUnknown   = "RISK_NOT_IDENTIFIED"
	CodeRiskClosed    = "RISK_CLOSED"
	CodePlanUnknown   = "TREATMENT_PLAN_NOT_FOUND"
	CodeTaskUnknown   = "TREATMENT_TASK_NOT_FOUND"
	CodeTaskUnchanged = "TREATMENT_TASK_UNCHANGED"
)

func cleanSet(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func checkScenario(s ScenarioSpec) (ScenarioSpec, error) {
	var v domain.Validator
	s.Title, s.Description, s.Owner = strings.TrimSpace(s.Title), strings.TrimSpace(s.Description), strings.TrimSpace(s.Owner)
	v.Check(s.Title != "", "title", "is required")
	v.Text("title", s.Title, domain.MaxTitle)
	v.MultilineText("description", s.Description, domain.MaxDescription)
	v.Check(s.Owner != "", "owner", "is required")
	v.Text("owner", s.Owner, domain.MaxShortText)
	l := s.Links
	l.Assets, l.Threats, l.Findings, l.Vulnerabilities = cleanSet(l.Assets), cleanSet(l.Threats), cleanSet(l.Findings), cleanSet(l.Vulnerabilities)
	v.Check(len(l.Assets)+len(l.Threats)+len(l.Findings)+len(l.Vulnerabilities) <= MaxLinks, "links", "must hold at most %d ids", MaxLinks)
	for _, f := range []struct {
		name string
		xs   []string
	}{{"links.assets", l.Assets}, {"links.threats", l.Threats}, {"links.findings", l.Findings}, {"links.vulnerabilities", l.Vulnerabilities}} {
		for _, x := range f.xs {
			var one domain.Validator
			if one.Text(f.name, x, domain.MaxReference); one.Err() != nil {
				v.Text(f.name, x, domain.MaxReference)
				break
			}
		}
	}
	s.Links = l
	return s, v.Err()
}

// IdentifyRisk decides a new risk, scored inherent when inherent is given
// (already placed on the matrix by ScoreOn).
func IdentifyRisk(id string, s ScenarioSpec, inherent *Score, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(id != "", "risk_id", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	s, err := checkScenario(s)
	if err != nil {
		return nil, err
	}
	out := []Event{RiskIdentified{RiskID: id, Title: s.Title, Description: s.Description, Owner: s.Owner, Links: s.Links, IdentifiedAt: at}}
	if inherent != nil {
		out = append(out, RiskScored{RiskID: id, Kind: Inherent, Score: *inherent, ScoredAt: at})
	}
	return out, nil
}

// Plan is a treatment plan as it stands.
type Plan struct {
	PlanID   string    `json:"plan_id"`
	Strategy string    `json:"strategy"`
	Owner    string    `json:"owner"`
	DueDate  time.Time `json:"due_date"`
	Tasks    []Task    `json:"tasks"`
}

// Progress is the share of a plan's tasks that are done, cancelled tasks
// left out: 0 to 100, rounded down; a plan without tasks (or with only
// cancelled ones) is 0.
func (p Plan) Progress() int {
	done, total := 0, 0
	for _, t := range p.Tasks {
		switch t.Status {
		case TaskCancelled:
			continue
		case TaskDone:
			done++
		}
		total++
	}
	if total == 0 {
		return 0
	}
	return done * 100 / total
}

// Risk is a risk scenario's state. Build it with RehydrateRisk.
type Risk struct {
	id      string
	created bool
	closed  bool
	spec    ScenarioSpec
	scores  map[string]Score
	plans   []Plan
	lastAt  time.Time
}

// RehydrateRisk rebuilds a risk from its events.
func RehydrateRisk(events ...Event) *Risk {
	r := &Risk{scores: map[string]Score{}}
	for _, e := range events {
		r.Apply(e)
	}
	return r
}

// Apply records one event's effect.
func (r *Risk) Apply(e Event) {
	switch e := e.(type) {
	case RiskIdentified:
		r.id, r.created, r.lastAt = e.RiskID, true, e.IdentifiedAt
		r.spec = ScenarioSpec{Title: e.Title, Description: e.Description, Owner: e.Owner, Links: e.Links}
	case RiskDescribed:
		r.spec = ScenarioSpec{Title: e.Title, Description: e.Description, Owner: e.Owner, Links: e.Links}
		r.lastAt = e.ChangedAt
	case RiskScored:
		r.scores[e.Kind], r.lastAt = e.Score, e.ScoredAt
	case RiskClosed:
		r.closed, r.lastAt = true, e.ClosedAt
	case TreatmentPlanned:
		r.plans = append(r.plans, Plan{PlanID: e.PlanID, Strategy: e.Strategy, Owner: e.Owner, DueDate: e.DueDate, Tasks: slices.Clone(e.Tasks)})
		r.lastAt = e.PlannedAt
	case TreatmentTaskUpdated:
		if p := r.plan(e.PlanID); p != nil {
			for i := range p.Tasks {
				if p.Tasks[i].TaskID == e.TaskID {
					p.Tasks[i].Status = e.Status
				}
			}
		}
		r.lastAt = e.UpdatedAt
	}
}

func (r *Risk) plan(id string) *Plan {
	for i := range r.plans {
		if r.plans[i].PlanID == id {
			return &r.plans[i]
		}
	}
	return nil
}

func (r *Risk) open() error {
	switch {
	case !r.created:
		return domain.Rule(CodeRiskUnknown, "the risk was never identified")
	case r.closed:
		return domain.Rule(CodeRiskClosed, "risk %s is closed", r.id)
	}
	return nil
}

func (r *Risk) at(t time.Time) time.Time {
	if t.Before(r.lastAt) {
		return r.lastAt
	}
	return t
}

// Describe decides the risk's new title, description, owner and links.
func (r *Risk) Describe(s ScenarioSpec, at time.Time) ([]Event, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	s, err := checkScenario(s)
	if err != nil {
		return nil, err
	}
	return []Event{RiskDescribed{RiskID: r.id, Title: s.Title, Description: s.Description, Owner: s.Owner, Links: s.Links, ChangedAt: r.at(at)}}, nil
}

// ScoreRisk decides a score of kind (inherent, current, residual), placed
// on the matrix by the caller (Matrix.Score).
func (r *Risk) ScoreRisk(kind string, s Score, note string, at time.Time) ([]Event, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(slices.Contains(ScoreKinds, kind), "kind", "must be one of %s", strings.Join(ScoreKinds, ", "))
	note = strings.TrimSpace(note)
	v.MultilineText("note", note, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{RiskScored{RiskID: r.id, Kind: kind, Score: s, Note: note, ScoredAt: r.at(at)}}, nil
}

// Close decides that the risk leaves the register.
func (r *Risk) Close(reason string, at time.Time) ([]Event, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	var v domain.Validator
	reason = strings.TrimSpace(reason)
	v.Check(reason != "", "reason", "is required")
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{RiskClosed{RiskID: r.id, Reason: reason, ClosedAt: r.at(at)}}, nil
}

// PlanTreatment decides a new plan (its id given by the caller); tasks
// without a status are todo; task ids are "1", "2"... when absent.
func (r *Risk) PlanTreatment(p Plan, at time.Time) ([]Event, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	var v domain.Validator
	p.Owner = strings.TrimSpace(p.Owner)
	v.Check(p.PlanID != "", "plan_id", "is required")
	v.Check(r.plan(p.PlanID) == nil, "plan_id", "is taken")
	v.Check(slices.Contains(Strategies, p.Strategy), "strategy", "must be one of %s", strings.Join(Strategies, ", "))
	v.Check(p.Owner != "", "owner", "is required")
	v.Text("owner", p.Owner, domain.MaxShortText)
	v.Check(!p.DueDate.IsZero(), "due_date", "is required")
	v.Check(len(p.Tasks) <= MaxTasks, "tasks", "must hold at most %d tasks", MaxTasks)
	tasks := make([]Task, len(p.Tasks))
	ids := map[string]bool{}
	for i, t := range p.Tasks {
		t.Title = strings.TrimSpace(t.Title)
		if t.TaskID == "" {
			t.TaskID = itoa(i + 1)
		}
		if t.Status == "" {
			t.Status = TaskTodo
		}
		f := "tasks[" + itoa(i) + "]"
		v.Check(t.Title != "", f+".title", "is required")
		v.Text(f+".title", t.Title, domain.MaxTitle)
		v.Text(f+".task_id", t.TaskID, domain.MaxShortText)
		v.Check(!ids[t.TaskID], f+".task_id", "is given twice")
		v.Check(slices.Contains(TaskStatuses, t.Status), f+".status", "must be one of %s", strings.Join(TaskStatuses, ", "))
		ids[t.TaskID] = true
		tasks[i] = t
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{TreatmentPlanned{RiskID: r.id, PlanID: p.PlanID, Strategy: p.Strategy, Owner: p.Owner, DueDate: p.DueDate, Tasks: tasks, PlannedAt: r.at(at)}}, nil
}

// UpdateTask decides a task's new status.
func (r *Risk) UpdateTask(planID, taskID, status string, at time.Time) ([]Event, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(slices.Contains(TaskStatuses, status), "status", "must be one of %s", strings.Join(TaskStatuses, ", "))
	if err := v.Err(); err != nil {
		return nil, err
	}
	p := r.plan(planID)
	if p == nil {
		return nil, domain.Rule(CodePlanUnknown, "risk %s has no treatment plan %q", r.id, planID)
	}
	i := slices.IndexFunc(p.Tasks, func(t Task) bool { return t.TaskID == taskID })
	if i < 0 {
		return nil, domain.Rule(CodeTaskUnknown, "treatment plan %s has no task %q", planID, taskID)
	}
	if p.Tasks[i].Status == status {
		return nil, domain.Rule(CodeTaskUnchanged, "task %s is already %s", taskID, status)
	}
	return []Event{TreatmentTaskUpdated{RiskID: r.id, PlanID: planID, TaskID: taskID, Status: status, UpdatedAt: r.at(at)}}, nil
}

// RiskState is a read-only view of a risk (audit replay, tests).
type RiskState struct {
	RiskID string           `json:"risk_id"`
	Spec   ScenarioSpec     `json:"spec"`
	Scores map[string]Score `json:"scores"`
	Plans  []Plan           `json:"plans"`
	Closed bool             `json:"closed"`
}

// View is the risk as it stands.
func (r *Risk) View() RiskState {
	plans := make([]Plan, len(r.plans))
	for i, p := range r.plans {
		p.Tasks = slices.Clone(p.Tasks)
		plans[i] = p
	}
	scores := map[string]Score{}
	for k, s := range r.scores {
		scores[k] = s
	}
	return RiskState{RiskID: r.id, Spec: r.spec, Scores: scores, Plans: plans, Closed: r.closed}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

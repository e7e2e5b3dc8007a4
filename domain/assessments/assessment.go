package assessments

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// An assessment is a team's own (stream "assessment-<id>"): a framework
// version, a scope (cloud accounts, assets, AI models: ids), assignees, a
// due date and the date its evidence is taken as of; one answer per
// assessable requirement; completion progress by section, derived from
// the answers. It is open until closed; a closed assessment takes no
// answer and no new date.

// AnswerStatus is the result an assessor gives a requirement.
type AnswerStatus string

// The answer statuses.
const (
	Compliant          AnswerStatus = "compliant"
	PartiallyCompliant AnswerStatus = "partially_compliant"
	NonCompliant       AnswerStatus = "non_compliant"
	NotApplicable      AnswerStatus = "not_applicable"
)

// AnswerStatuses lists them in the order the API documents them.
var AnswerStatuses = []AnswerStatus{Compliant, PartiallyCompliant, NonCompliant, NotApplicable}

// Rule codes of the module (HTTP 422).
const (
	CodeAssessmentClosed     = "ASSESSMENT_CLOSED"
	CodeAssessmentIncomplete = "ASSESSMENT_INCOMPLETE"
	CodeCatalogVersionExists = "CATALOG_VERSION_EXISTS"
	CodeCatalogMismatch      = "CATALOG_FRAMEWORK_MISMATCH"
)

// Assessment statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Limits of an assessment's inputs.
const (
	MaxName        = 200
	MaxComment     = 4000
	MaxEvidence    = 50
	MaxEvidenceRef = 500
	MaxScopeIDs    = 1000
	MaxAssignees   = 50
)

// Scope is what an assessment covers: ids of the team's cloud accounts,
// assets and AI models.
type Scope struct {
	Accounts []string `json:"accounts,omitempty"`
	Assets   []string `json:"assets,omitempty"`
	Models   []string `json:"models,omitempty"`
}

// AssessedRequirement is a requirement the assessment answers: its id and
// the section its progress counts in.
type AssessedRequirement struct {
	ID      string `json:"id"`
	Section string `json:"section,omitempty"`
}

// AssessedRequirements lists a catalogue's assessable requirements with
// their sections, in the catalogue's order.
func AssessedRequirements(reqs []Requirement) []AssessedRequirement {
	out := make([]AssessedRequirement, 0, len(reqs))
	for _, r := range reqs {
		if r.Assessable {
			out = append(out, AssessedRequirement{ID: r.ID, Section: r.Section})
		}
	}
	return out
}

// AssessmentSpec is what a new assessment is made of.
type AssessmentSpec struct {
	Name         string
	Description  string
	Framework    FrameworkRef
	Requirements []AssessedRequirement // from the catalogue version
	Scope        Scope
	Assignees    []string
	DueDate      time.Time // zero: none
	AsOf         time.Time // the date evidence is taken as of
}

// AssessmentCreated: a team started an assessment.
type AssessmentCreated struct {
	AssessmentID string                `json:"assessment_id"`
	Name         string                `json:"name"`
	Description  string                `json:"description,omitempty"`
	Framework    FrameworkRef          `json:"framework"`
	Requirements []AssessedRequirement `json:"requirements"`
	Scope        Scope                 `json:"scope"`
	Assignees    []string              `json:"assignees,omitempty"`
	DueDate      time.Time             `json:"due_date,omitzero"`
	AsOf         time.Time             `json:"as_of"`
	CreatedAt    time.Time             `json:"created_at"`
}

// RequirementAnswered: an assessor answered a requirement (a later answer
// replaces the earlier one).
type RequirementAnswered struct {
	AssessmentID  string       `json:"assessment_id"`
	RequirementID string       `json:"requirement_id"`
	Status        AnswerStatus `json:"status"`
	Comment       string       `json:"comment,omitempty"`
	Evidence      []string     `json:"evidence,omitempty"` // references: URLs, document ids, finding ids
	AnsweredBy    string       `json:"answered_by,omitempty"`
	AnsweredAt    time.Time    `json:"answered_at"`
}

// AssessmentRescheduled: the assessment's evidence date, due date, scope
// or assignees changed (the fields hold the new values).
type AssessmentRescheduled struct {
	AssessmentID string    `json:"assessment_id"`
	AsOf         time.Time `json:"as_of"`
	DueDate      time.Time `json:"due_date,omitzero"`
	Scope        Scope     `json:"scope"`
	Assignees    []string  `json:"assignees,omitempty"`
	ChangedAt    time.Time `json:"changed_at"`
}

// AssessmentClosed: the assessment is done; its answers are final.
type AssessmentClosed struct {
	AssessmentID string    `json:"assessment_id"`
	ClosedBy     string    `json:"closed_by,omitempty"`
	ClosedAt     time.Time `json:"closed_at"`
}

func (AssessmentCreated) EventType() string     { return "AssessmentCreated" }
func (RequirementAnswered) EventType() string   { return "RequirementAnswered" }
func (AssessmentRescheduled) EventType() string { return "AssessmentRescheduled" }
func (AssessmentClosed) EventType() string      { return "AssessmentClosed" }

// Answer is a requirement's answer in force.
type Answer struct {
	Status     AnswerStatus `json:"status"`
	Comment    string       `json:"comment,omitempty"`
	Evidence   []string     `json:"evidence,omitempty"`
	AnsweredBy string       `json:"answered_by,omitempty"`
	AnsweredAt time.Time    `json:"answered_at"`
}

// Assessment is the aggregate.
type Assessment struct {
	created   bool
	id        string
	status    string
	framework FrameworkRef
	reqs      []AssessedRequirement
	index     map[string]int
	answers   map[string]Answer
	scope     Scope
	assignees []string
	due, asOf time.Time
}

// RehydrateAssessment folds an assessment's events.
func RehydrateAssessment(events ...Event) *Assessment {
	a := &Assessment{answers: map[string]Answer{}, index: map[string]int{}}
	for _, e := range events {
		a.apply(e)
	}
	return a
}

func (a *Assessment) apply(e Event) {
	switch e := e.(type) {
	case AssessmentCreated:
		a.created, a.id, a.status, a.framework = true, e.AssessmentID, StatusOpen, e.Framework
		a.reqs = e.Requirements
		for i, r := range e.Requirements {
			a.index[r.ID] = i
		}
		a.scope, a.assignees, a.due, a.asOf = e.Scope, e.Assignees, e.DueDate, e.AsOf
	case RequirementAnswered:
		a.answers[e.RequirementID] = Answer{Status: e.Status, Comment: e.Comment, Evidence: e.Evidence, AnsweredBy: e.AnsweredBy, AnsweredAt: e.AnsweredAt}
	case AssessmentRescheduled:
		a.asOf, a.due, a.scope, a.assignees = e.AsOf, e.DueDate, e.Scope, e.Assignees
	case AssessmentClosed:
		a.status = StatusClosed
	}
}

// Status is open or closed.
func (a *Assessment) Status() string { return a.status }

// AsOf is the date its evidence is taken as of.
func (a *Assessment) AsOf() time.Time { return a.asOf }

// Answer is the answer in force for a requirement.
func (a *Assessment) Answer(id string) (Answer, bool) { ans, ok := a.answers[id]; return ans, ok }

// Progress is the completion by section of the assessment.
func (a *Assessment) Progress() Progress { return ComputeProgress(a.reqs, a.answers) }

func cleanIDs(v *domain.Validator, field string, ids []string, max int) []string {
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > MaxIDLen {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "must be 1-%d bytes", MaxIDLen)
			continue
		}
		out = append(out, id)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	v.Check(len(out) <= max, field, "at most %d", max)
	if len(out) == 0 {
		return nil
	}
	return out
}

func validScope(v *domain.Validator, s Scope) Scope {
	return Scope{Accounts: cleanIDs(v, "scope.accounts", s.Accounts, MaxScopeIDs),
		Assets: cleanIDs(v, "scope.assets", s.Assets, MaxScopeIDs), Models: cleanIDs(v, "scope.models", s.Models, MaxScopeIDs)}
}

// CreateAssessment decides a new assessment.
func CreateAssessment(id string, s AssessmentSpec, now time.Time) ([]Event, error) {
	var v domain.Validator
	name := strings.TrimSpace(s.Name)
	v.Check(name != "" && len(name) <= MaxName, "name", "is required (at most %d bytes)", MaxName)
	v.Check(len(s.Description) <= MaxComment, "description", "at most %d bytes", MaxComment)
	v.Check(ValidFramework(s.Framework.Framework), "framework", "%q is not a framework id", s.Framework.Framework)
	v.Check(s.Framework.Version != "", "version", "is required")
	v.Check(len(s.Requirements) > 0, "framework", "the version has no assessable requirement")
	scope := validScope(&v, s.Scope)
	assignees := cleanIDs(&v, "assignees", s.Assignees, MaxAssignees)
	asOf := s.AsOf
	if asOf.IsZero() {
		asOf = now
	}
	v.Check(s.DueDate.IsZero() || !s.DueDate.Before(now.Truncate(24*time.Hour)), "due_date", "is in the past")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{AssessmentCreated{AssessmentID: id, Name: name, Description: s.Description, Framework: s.Framework,
		Requirements: s.Requirements, Scope: scope, Assignees: assignees, DueDate: s.DueDate, AsOf: asOf, CreatedAt: now}}, nil
}

func (a *Assessment) open() error {
	if !a.created {
		return domain.ErrNotFound
	}
	if a.status == StatusClosed {
		return domain.Rule(CodeAssessmentClosed, "assessment %s is closed", a.id)
	}
	return nil
}

// AnswerRequirement decides an answer. The same answer again (status,
// comment, evidence) appends nothing.
func (a *Assessment) AnswerRequirement(requirement string, status AnswerStatus, comment string, evidence []string, by string, now time.Time) ([]Event, error) {
	if err := a.open(); err != nil {
		return nil, err
	}
	var v domain.Validator
	_, known := a.index[requirement]
	v.Check(requirement != "", "requirement_id", "is required")
	v.Check(requirement == "" || known, "requirement_id", "%q is not an assessable requirement of %s", requirement, a.framework)
	v.Check(slices.Contains(AnswerStatuses, status), "status", "%q is not one of compliant, partially_compliant, non_compliant, not_applicable", status)
	v.Check(len(comment) <= MaxComment, "comment", "at most %d bytes", MaxComment)
	v.Check(status != NonCompliant && status != PartiallyCompliant || strings.TrimSpace(comment) != "", "comment", "is required when the requirement is not (fully) met")
	refs := make([]string, 0, len(evidence))
	for i, e := range evidence {
		e = strings.TrimSpace(e)
		v.Check(e != "" && len(e) <= MaxEvidenceRef, fmt.Sprintf("evidence[%d]", i), "must be 1-%d bytes", MaxEvidenceRef)
		refs = append(refs, e)
	}
	v.Check(len(refs) <= MaxEvidence, "evidence", "at most %d references", MaxEvidence)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		refs = nil
	}
	if cur, ok := a.answers[requirement]; ok && cur.Status == status && cur.Comment == comment && slices.Equal(cur.Evidence, refs) {
		return nil, nil
	}
	return []Event{RequirementAnswered{AssessmentID: a.id, RequirementID: requirement, Status: status, Comment: comment,
		Evidence: refs, AnsweredBy: by, AnsweredAt: now}}, nil
}

// Reschedule decides a new evidence date, due date, scope or assignees
// (what is given replaces what was; nil keeps it). Nothing changed appends
// nothing.
func (a *Assessment) Reschedule(asOf, due *time.Time, scope *Scope, assignees *[]string, now time.Time) ([]Event, error) {
	if err := a.open(); err != nil {
		return nil, err
	}
	var v domain.Validator
	e := AssessmentRescheduled{AssessmentID: a.id, AsOf: a.asOf, DueDate: a.due, Scope: a.scope, Assignees: a.assignees, ChangedAt: now}
	if asOf != nil {
		v.Check(!asOf.IsZero(), "as_of", "must be a time")
		e.AsOf = *asOf
	}
	if due != nil {
		e.DueDate = *due
	}
	if scope != nil {
		e.Scope = validScope(&v, *scope)
	}
	if assignees != nil {
		e.Assignees = cleanIDs(&v, "assignees", *assignees, MaxAssignees)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if e.AsOf.Equal(a.asOf) && e.DueDate.Equal(a.due) && slices.Equal(e.Assignees, a.assignees) &&
		slices.Equal(e.Scope.Accounts, a.scope.Accounts) && slices.Equal(e.Scope.Assets, a.scope.Assets) && slices.Equal(e.Scope.Models, a.scope.Models) {
		return nil, nil
	}
	return []Event{e}, nil
}

// Close decides the end of the assessment: every requirement must have an
// answer (ASSESSMENT_INCOMPLETE names how many lack one).
func (a *Assessment) Close(by string, now time.Time) ([]Event, error) {
	if err := a.open(); err != nil {
		return nil, err
	}
	if p := a.Progress(); p.Answered < p.Requirements {
		return nil, domain.Rule(CodeAssessmentIncomplete, "%d of %d requirements have no answer", p.Requirements-p.Answered, p.Requirements)
	}
	return []Event{AssessmentClosed{AssessmentID: a.id, ClosedBy: by, ClosedAt: now}}, nil
}

// SectionProgress is the completion of one section.
type SectionProgress struct {
	Section      string               `json:"section"`
	Requirements int                  `json:"requirements"`
	Answered     int                  `json:"answered"`
	Percent      int                  `json:"percent"` // answered / requirements, rounded down
	ByStatus     map[AnswerStatus]int `json:"by_status"`
}

// Progress is an assessment's completion: overall and by section, in the
// catalogue's order of sections.
type Progress struct {
	Requirements int                  `json:"requirements"`
	Answered     int                  `json:"answered"`
	Percent      int                  `json:"percent"`
	ByStatus     map[AnswerStatus]int `json:"by_status"`
	Sections     []SectionProgress    `json:"sections"`
}

// ComputeProgress derives the progress from the requirements and the
// answers in force (an answer to a requirement not listed is ignored).
func ComputeProgress(reqs []AssessedRequirement, answers map[string]Answer) Progress {
	p := Progress{ByStatus: map[AnswerStatus]int{}}
	at := map[string]int{}
	for _, r := range reqs {
		i, ok := at[r.Section]
		if !ok {
			i = len(p.Sections)
			at[r.Section] = i
			p.Sections = append(p.Sections, SectionProgress{Section: r.Section, ByStatus: map[AnswerStatus]int{}})
		}
		s := &p.Sections[i]
		s.Requirements++
		p.Requirements++
		if ans, ok := answers[r.ID]; ok {
			s.Answered++
			p.Answered++
			s.ByStatus[ans.Status]++
			p.ByStatus[ans.Status]++
		}
	}
	pct := func(a, n int) int {
		if n == 0 {
			return 0
		}
		return a * 100 / n
	}
	p.Percent = pct(p.Answered, p.Requirements)
	for i := range p.Sections {
		p.Sections[i].Percent = pct(p.Sections[i].Answered, p.Sections[i].Requirements)
	}
	return p
}

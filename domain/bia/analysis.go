package bia

import (
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Status of a BIA.
type Status string

// The statuses: a draft is edited; in review it is frozen until approved
// or reopened; approved it is frozen until reopened (to change it).
const (
	StatusDraft    Status = "draft"
	StatusInReview Status = "in_review"
	StatusApproved Status = "approved"
)

// Progress is how far a BIA's analysis is: its processes, and how many of
// them are complete (three recovery objectives and an impact threshold).
// Every event that changes it carries it, so that a view of assessments
// across modules needs no fold of its own.
type Progress struct {
	Processes int `json:"processes"`
	Complete  int `json:"complete"`
	Percent   int `json:"percent"` // complete*100/processes, 0 without processes
}

// Details are a BIA's own fields.
type Details struct {
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Owner       string    `json:"owner"`
	DueDate     time.Time `json:"due_date,omitzero"` // when the analysis is due (approved)
}

// BIACreated: a draft BIA with these details exists from CreatedAt.
type BIACreated struct {
	BIAID string `json:"bia_id"`
	Details
	Status    Status    `json:"status"` // draft
	CreatedAt time.Time `json:"created_at"`
}

// BIADetailsChanged: the BIA's details are these from ChangedAt.
type BIADetailsChanged struct {
	BIAID string `json:"bia_id"`
	Details
	ChangedAt time.Time `json:"changed_at"`
}

// BusinessProcessAdded: the process is part of the BIA from AddedAt.
type BusinessProcessAdded struct {
	BIAID    string    `json:"bia_id"`
	Process  Process   `json:"process"`
	Progress Progress  `json:"progress"`
	AddedAt  time.Time `json:"added_at"`
}

// BusinessProcessChanged: the process is this (whole) from ChangedAt.
type BusinessProcessChanged struct {
	BIAID     string    `json:"bia_id"`
	Process   Process   `json:"process"`
	Progress  Progress  `json:"progress"`
	ChangedAt time.Time `json:"changed_at"`
}

// BusinessProcessRemoved: the process left the BIA at RemovedAt.
type BusinessProcessRemoved struct {
	BIAID     string    `json:"bia_id"`
	ProcessID string    `json:"process_id"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason,omitempty"`
	Progress  Progress  `json:"progress"`
	RemovedAt time.Time `json:"removed_at"`
}

// BIASubmittedForReview: the draft is complete and frozen for review.
type BIASubmittedForReview struct {
	BIAID       string    `json:"bia_id"`
	Revision    int       `json:"revision"`
	Progress    Progress  `json:"progress"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// BIAApproved: ApprovedBy approved the BIA's revision at ApprovedAt.
type BIAApproved struct {
	BIAID      string    `json:"bia_id"`
	Revision   int       `json:"revision"`
	ApprovedBy string    `json:"approved_by"`
	Comment    string    `json:"comment,omitempty"`
	ApprovedAt time.Time `json:"approved_at"`
}

// BIAReopened: the BIA went back to draft from From (a review returned,
// or an approved analysis to be changed).
type BIAReopened struct {
	BIAID      string    `json:"bia_id"`
	From       Status    `json:"from"`
	Reason     string    `json:"reason"`
	ReopenedAt time.Time `json:"reopened_at"`
}

func (BIACreated) EventType() string             { return "BIACreated" }
func (BIADetailsChanged) EventType() string      { return "BIADetailsChanged" }
func (BusinessProcessAdded) EventType() string   { return "BusinessProcessAdded" }
func (BusinessProcessChanged) EventType() string { return "BusinessProcessChanged" }
func (BusinessProcessRemoved) EventType() string { return "BusinessProcessRemoved" }
func (BIASubmittedForReview) EventType() string  { return "BIASubmittedForReview" }
func (BIAApproved) EventType() string            { return "BIAApproved" }
func (BIAReopened) EventType() string            { return "BIAReopened" }

// AnalysisEventTypes are the event types of a BIA stream.
var AnalysisEventTypes = []string{BIACreated{}.EventType(), BIADetailsChanged{}.EventType(), BusinessProcessAdded{}.EventType(),
	BusinessProcessChanged{}.EventType(), BusinessProcessRemoved{}.EventType(), BIASubmittedForReview{}.EventType(),
	BIAApproved{}.EventType(), BIAReopened{}.EventType()}

// Rule codes of BIAs.
const (
	CodeBIANotCreated    = "BIA_NOT_CREATED"
	CodeBIANotDraft      = "BIA_NOT_DRAFT"
	CodeBIANotInReview   = "BIA_NOT_IN_REVIEW"
	CodeBIAIncomplete    = "BIA_INCOMPLETE"
	CodeBIAAlreadyDraft  = "BIA_ALREADY_DRAFT"
	CodeProcessNotFound  = "BIA_PROCESS_NOT_FOUND"
	CodeProcessExists    = "BIA_PROCESS_EXISTS"
	CodeTooManyProcesses = "BIA_TOO_MANY_PROCESSES"
	CodeNothingChanged   = "BIA_NOTHING_CHANGED"
)

// Approval is who approved which revision, when.
type Approval struct {
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	Revision int       `json:"revision"`
	At       time.Time `json:"at"`
}

// Snapshot is a BIA's whole state after some event: what the read model
// keeps per version and what Compare compares.
type Snapshot struct {
	BIAID string `json:"bia_id"`
	Details
	Status Status `json:"status"`
	// Revision counts the changes of content (details, processes): an
	// approval names the revision it approved.
	Revision  int       `json:"revision"`
	Processes []Process `json:"processes"` // sorted by process id
	Approval  *Approval `json:"approval,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Progress of the snapshot's processes.
func (s Snapshot) Progress() Progress { return progressOf(s.Processes) }

func progressOf(ps []Process) Progress {
	p := Progress{Processes: len(ps)}
	for _, x := range ps {
		if x.Complete() {
			p.Complete++
		}
	}
	if p.Processes > 0 {
		p.Percent = p.Complete * 100 / p.Processes
	}
	return p
}

// Process returns the snapshot's process id.
func (s Snapshot) Process(id string) (Process, bool) {
	i := slices.IndexFunc(s.Processes, func(p Process) bool { return p.ProcessID == id })
	if i < 0 {
		return Process{}, false
	}
	return s.Processes[i], true
}

func (s *Snapshot) put(p Process) {
	i, found := slices.BinarySearchFunc(s.Processes, p.ProcessID, func(a Process, id string) int { return strings.Compare(a.ProcessID, id) })
	if found {
		s.Processes[i] = p
		return
	}
	s.Processes = slices.Insert(s.Processes, i, p)
}

// Fold applies e to s and returns the result (s is not changed). An event
// of another BIA, or of no BIA, changes nothing.
func Fold(s Snapshot, e Event) Snapshot {
	s.Processes = slices.Clone(s.Processes)
	switch e := e.(type) {
	case BIACreated:
		s = Snapshot{BIAID: e.BIAID, Details: e.Details, Status: StatusDraft, Revision: 1, Processes: []Process{},
			CreatedAt: e.CreatedAt, UpdatedAt: e.CreatedAt}
	case BIADetailsChanged:
		s.Details, s.UpdatedAt = e.Details, e.ChangedAt
		s.Revision++
	case BusinessProcessAdded:
		s.put(e.Process)
		s.UpdatedAt = e.AddedAt
		s.Revision++
	case BusinessProcessChanged:
		s.put(e.Process)
		s.UpdatedAt = e.ChangedAt
		s.Revision++
	case BusinessProcessRemoved:
		s.Processes = slices.DeleteFunc(s.Processes, func(p Process) bool { return p.ProcessID == e.ProcessID })
		s.UpdatedAt = e.RemovedAt
		s.Revision++
	case BIASubmittedForReview:
		s.Status, s.UpdatedAt = StatusInReview, e.SubmittedAt
	case BIAApproved:
		s.Status, s.UpdatedAt = StatusApproved, e.ApprovedAt
		s.Approval = &Approval{By: e.ApprovedBy, Comment: e.Comment, Revision: e.Revision, At: e.ApprovedAt}
	case BIAReopened:
		s.Status, s.UpdatedAt = StatusDraft, e.ReopenedAt
	}
	if s.Processes == nil {
		s.Processes = []Process{}
	}
	return s
}

// EventTime is when e happened (its own time field).
func EventTime(e Event) time.Time {
	switch e := e.(type) {
	case BIACreated:
		return e.CreatedAt
	case BIADetailsChanged:
		return e.ChangedAt
	case BusinessProcessAdded:
		return e.AddedAt
	case BusinessProcessChanged:
		return e.ChangedAt
	case BusinessProcessRemoved:
		return e.RemovedAt
	case BIASubmittedForReview:
		return e.SubmittedAt
	case BIAApproved:
		return e.ApprovedAt
	case BIAReopened:
		return e.ReopenedAt
	}
	return time.Time{}
}

// AnalysisID is the BIA id an event of a BIA stream is about ("" for
// another event).
func AnalysisID(e Event) string {
	switch e := e.(type) {
	case BIACreated:
		return e.BIAID
	case BIADetailsChanged:
		return e.BIAID
	case BusinessProcessAdded:
		return e.BIAID
	case BusinessProcessChanged:
		return e.BIAID
	case BusinessProcessRemoved:
		return e.BIAID
	case BIASubmittedForReview:
		return e.BIAID
	case BIAApproved:
		return e.BIAID
	case BIAReopened:
		return e.BIAID
	}
	return ""
}

// Analysis is a BIA aggregate. Build it with RehydrateAnalysis.
type Analysis struct {
	created bool
	s       Snapshot
}

// RehydrateAnalysis folds a BIA's events.
func RehydrateAnalysis(events ...Event) *Analysis {
	a := &Analysis{}
	for _, e := range events {
		if _, ok := e.(BIACreated); ok {
			a.created = true
		}
		a.s = Fold(a.s, e)
	}
	return a
}

// Snapshot is the BIA's state.
func (a *Analysis) Snapshot() Snapshot { return a.s }

func checkDetails(v *domain.Validator, d *Details) {
	d.Title, d.Description, d.Owner = strings.TrimSpace(d.Title), strings.TrimSpace(d.Description), strings.TrimSpace(d.Owner)
	v.Check(d.Title != "", "title", "is required")
	v.Text("title", d.Title, domain.MaxShortText)
	v.MultilineText("description", d.Description, domain.MaxDescription)
	v.Check(d.Owner != "", "owner", "is required")
	v.Text("owner", d.Owner, domain.MaxShortText)
}

// CreateAnalysis decides a new draft BIA with id at at.
func CreateAnalysis(id string, d Details, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(id != "", "bia_id", "is required")
	checkDetails(&v, &d)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{BIACreated{BIAID: id, Details: d, Status: StatusDraft, CreatedAt: at}}, nil
}

func (a *Analysis) draft() error {
	switch {
	case !a.created:
		return domain.Rule(CodeBIANotCreated, "the BIA does not exist")
	case a.s.Status != StatusDraft:
		return domain.Rule(CodeBIANotDraft, "the BIA %s is %s: reopen it to change it", a.s.BIAID, a.s.Status)
	}
	return nil
}

// ChangeDetails decides new details of a draft.
func (a *Analysis) ChangeDetails(d Details, at time.Time) ([]Event, error) {
	if err := a.draft(); err != nil {
		return nil, err
	}
	var v domain.Validator
	checkDetails(&v, &d)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if d == a.s.Details {
		return nil, domain.Rule(CodeNothingChanged, "the BIA %s has these details already", a.s.BIAID)
	}
	return []Event{BIADetailsChanged{BIAID: a.s.BIAID, Details: d, ChangedAt: at}}, nil
}

func (a *Analysis) nameFree(v *domain.Validator, p Process) {
	for _, q := range a.s.Processes {
		if q.ProcessID != p.ProcessID && strings.EqualFold(q.Name, p.Name) {
			v.Add("name", "the BIA has a process named %q already (%s)", q.Name, q.ProcessID)
		}
	}
}

// AddProcess decides a new process id of a draft.
func (a *Analysis) AddProcess(id string, spec ProcessSpec, at time.Time) ([]Event, error) {
	if err := a.draft(); err != nil {
		return nil, err
	}
	if _, ok := a.s.Process(id); ok {
		return nil, domain.Rule(CodeProcessExists, "the BIA %s has a process %s already", a.s.BIAID, id)
	}
	if len(a.s.Processes) >= MaxProcesses {
		return nil, domain.Rule(CodeTooManyProcesses, "a BIA holds at most %d processes", MaxProcesses)
	}
	p, err := NewProcess(id, spec)
	if err != nil {
		return nil, err
	}
	var v domain.Validator
	a.nameFree(&v, p)
	if err := v.Err(); err != nil {
		return nil, err
	}
	next := a.s
	next.Processes = slices.Clone(a.s.Processes)
	next.put(p)
	return []Event{BusinessProcessAdded{BIAID: a.s.BIAID, Process: p, Progress: next.Progress(), AddedAt: at}}, nil
}

// ChangeProcess decides the process id of a draft is spec from at.
func (a *Analysis) ChangeProcess(id string, spec ProcessSpec, at time.Time) ([]Event, error) {
	if err := a.draft(); err != nil {
		return nil, err
	}
	old, ok := a.s.Process(id)
	if !ok {
		return nil, domain.Rule(CodeProcessNotFound, "the BIA %s has no process %s", a.s.BIAID, id)
	}
	p, err := NewProcess(id, spec)
	if err != nil {
		return nil, err
	}
	var v domain.Validator
	a.nameFree(&v, p)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(ProcessChanges(old, p)) == 0 {
		return nil, domain.Rule(CodeNothingChanged, "the process %s is so already", id)
	}
	next := a.s
	next.Processes = slices.Clone(a.s.Processes)
	next.put(p)
	return []Event{BusinessProcessChanged{BIAID: a.s.BIAID, Process: p, Progress: next.Progress(), ChangedAt: at}}, nil
}

// RemoveProcess decides the process id leaves a draft.
func (a *Analysis) RemoveProcess(id, reason string, at time.Time) ([]Event, error) {
	if err := a.draft(); err != nil {
		return nil, err
	}
	old, ok := a.s.Process(id)
	if !ok {
		return nil, domain.Rule(CodeProcessNotFound, "the BIA %s has no process %s", a.s.BIAID, id)
	}
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	rest := slices.DeleteFunc(slices.Clone(a.s.Processes), func(p Process) bool { return p.ProcessID == id })
	return []Event{BusinessProcessRemoved{BIAID: a.s.BIAID, ProcessID: id, Name: old.Name, Reason: reason, Progress: progressOf(rest), RemovedAt: at}}, nil
}

// Submit decides a complete draft goes to review: it needs a process, and
// every process complete.
func (a *Analysis) Submit(at time.Time) ([]Event, error) {
	if err := a.draft(); err != nil {
		return nil, err
	}
	if len(a.s.Processes) == 0 {
		return nil, domain.Rule(CodeBIAIncomplete, "the BIA %s has no process", a.s.BIAID)
	}
	var missing []string
	for _, p := range a.s.Processes {
		if !p.Complete() {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return nil, domain.Rule(CodeBIAIncomplete, "processes without RTO, RPO, MTD or an impact threshold: %s", strings.Join(missing, ", "))
	}
	return []Event{BIASubmittedForReview{BIAID: a.s.BIAID, Revision: a.s.Revision, Progress: a.s.Progress(), SubmittedAt: at}}, nil
}

// Approve decides approver approves the BIA in review.
func (a *Analysis) Approve(approver, comment string, at time.Time) ([]Event, error) {
	if !a.created {
		return nil, domain.Rule(CodeBIANotCreated, "the BIA does not exist")
	}
	if a.s.Status != StatusInReview {
		return nil, domain.Rule(CodeBIANotInReview, "the BIA %s is %s: submit it for review first", a.s.BIAID, a.s.Status)
	}
	comment = strings.TrimSpace(comment)
	var v domain.Validator
	v.Check(approver != "", "approved_by", "is required")
	v.MultilineText("comment", comment, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{BIAApproved{BIAID: a.s.BIAID, Revision: a.s.Revision, ApprovedBy: approver, Comment: comment, ApprovedAt: at}}, nil
}

// Reopen decides a BIA in review or approved goes back to draft.
func (a *Analysis) Reopen(reason string, at time.Time) ([]Event, error) {
	if !a.created {
		return nil, domain.Rule(CodeBIANotCreated, "the BIA does not exist")
	}
	if a.s.Status == StatusDraft {
		return nil, domain.Rule(CodeBIAAlreadyDraft, "the BIA %s is a draft already", a.s.BIAID)
	}
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	v.Check(reason != "", "reason", "is required")
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{BIAReopened{BIAID: a.s.BIAID, From: a.s.Status, Reason: reason, ReopenedAt: at}}, nil
}

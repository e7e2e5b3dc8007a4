package aigovernance

import (
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Incident severities and statuses.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"

	IncidentOpen      = "open"
	IncidentMitigated = "mitigated"
	IncidentClosed    = "closed"
)

// Severities lists the severities, least first.
var Severities = []string{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// IncidentStatuses lists the statuses in their order.
var IncidentStatuses = []string{IncidentOpen, IncidentMitigated, IncidentClosed}

// ModelIncidentReported: an incident of a model was reported (stream "aiincident-<id>").
type ModelIncidentReported struct {
	IncidentID  string    `json:"incident_id"`
	ModelID     string    `json:"model_id"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Severity    string    `json:"severity"`
	ReportedBy  string    `json:"reported_by,omitempty"`
	ReportedAt  time.Time `json:"reported_at"`
}

// ModelIncidentStatusChanged: the incident was mitigated, closed or reopened.
type ModelIncidentStatusChanged struct {
	IncidentID string    `json:"incident_id"`
	ModelID    string    `json:"model_id"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Note       string    `json:"note,omitempty"`
	ChangedBy  string    `json:"changed_by,omitempty"`
	ChangedAt  time.Time `json:"changed_at"`
}

func (ModelIncidentReported) EventType() string      { return "ModelIncidentReported" }
func (ModelIncidentStatusChanged) EventType() string { return "ModelIncidentStatusChanged" }

// Incident is the aggregate of a model incident.
type Incident struct {
	reported bool
	id       string
	model    string
	status   string
}

// RehydrateIncident folds an incident's events.
func RehydrateIncident(events ...Event) *Incident {
	in := &Incident{}
	for _, e := range events {
		switch e := e.(type) {
		case ModelIncidentReported:
			in.reported, in.id, in.model, in.status = true, e.IncidentID, e.ModelID, IncidentOpen
		case ModelIncidentStatusChanged:
			in.status = e.To
		}
	}
	return in
}

// ReportIncident decides a new incident of modelID.
func ReportIncident(id, modelID, title, description, severity, by string, now time.Time) ([]Event, error) {
	var v domain.Validator
	title = strings.TrimSpace(title)
	v.Check(strings.TrimSpace(modelID) != "", "model_id", "is required")
	v.Check(title != "" && len(title) <= MaxName, "title", "is required (at most %d bytes)", MaxName)
	v.Check(len(description) <= MaxText, "description", "at most %d bytes", MaxText)
	v.Check(slices.Contains(Severities, severity), "severity", "%q is not one of low, medium, high, critical", severity)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{ModelIncidentReported{IncidentID: id, ModelID: strings.TrimSpace(modelID), Title: title, Description: description,
		Severity: severity, ReportedBy: by, ReportedAt: now}}, nil
}

// ChangeStatus decides a status: open → mitigated → closed, open →
// closed, mitigated → open (it came back). A closed incident is final
// (AI_INCIDENT_CLOSED); the same status appends nothing.
func (in *Incident) ChangeStatus(to, note, by string, now time.Time) ([]Event, error) {
	if !in.reported {
		return nil, domain.ErrNotFound
	}
	var v domain.Validator
	v.Check(slices.Contains(IncidentStatuses, to), "status", "%q is not one of open, mitigated, closed", to)
	v.Check(len(note) <= MaxText, "note", "at most %d bytes", MaxText)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.status == IncidentClosed {
		return nil, domain.Rule(CodeIncidentClosed, "incident %s is closed", in.id)
	}
	if to == in.status {
		return nil, nil
	}
	return []Event{ModelIncidentStatusChanged{IncidentID: in.id, ModelID: in.model, From: in.status, To: to, Note: note, ChangedBy: by, ChangedAt: now}}, nil
}

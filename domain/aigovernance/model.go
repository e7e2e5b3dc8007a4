// Package aigovernance is the AI governance module's domain: the model
// registry (a team's AI models, their versions, deployment status and
// linked cloud assets), the EU AI Act risk classification of each model
// and the obligations that follow from it, bias tests (definitions, runs
// with results per protected group, pass or fail) and model incidents.
// docs/ai-governance.md.
//
// Pure Go: no I/O, no clock (times are passed in).
package aigovernance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Event is what every event of the module has: its stored type name.
type Event interface{ EventType() string }

// Deployment statuses of a model.
const (
	StatusDevelopment = "development"
	StatusStaging     = "staging"
	StatusProduction  = "production"
	StatusRetired     = "retired"
)

// DeploymentStatuses are the statuses a model is set to (retired only by
// RetireModel).
var DeploymentStatuses = []string{StatusDevelopment, StatusStaging, StatusProduction}

// RiskClass is a model's EU AI Act risk class (Regulation (EU) 2024/1689).
type RiskClass string

// The risk classes.
const (
	Prohibited RiskClass = "prohibited" // Article 5: may not be placed on the market or put into service
	HighRisk   RiskClass = "high"       // Article 6: the requirements of Chapter III Section 2 (Articles 8-15)
	Limited    RiskClass = "limited"    // Article 50: transparency obligations
	Minimal    RiskClass = "minimal"    // no obligation of the Act
)

// RiskClasses lists them, strictest first.
var RiskClasses = []RiskClass{Prohibited, HighRisk, Limited, Minimal}

// Rule codes of the module (HTTP 422).
const (
	CodeProhibitedDeployment = "AI_PROHIBITED_DEPLOYMENT"
	CodeModelRetired         = "AI_MODEL_RETIRED"
	CodeVersionExists        = "AI_MODEL_VERSION_EXISTS"
	CodeIncidentClosed       = "AI_INCIDENT_CLOSED"
	CodeBiasGroups           = "AI_BIAS_GROUPS_MISMATCH"
)

// Limits of the module's inputs.
const (
	MaxName      = 200
	MaxText      = 4000
	MaxVersion   = 64
	MaxIDLen     = 300
	MaxList      = 50
	MaxAssets    = 1000
	MaxGroups    = 50
	MaxRationale = 8000
)

// ModelSpec is what a new model is registered with.
type ModelSpec struct {
	Name           string
	Version        string
	Provider       string
	Purpose        string
	DataCategories []string
	Owner          string
	Status         string // "" is development
	Assets         []string
}

// ModelRegistered: a team registered an AI model (stream "aimodel-<id>").
type ModelRegistered struct {
	ModelID        string    `json:"model_id"`
	Name           string    `json:"name"`
	Version        string    `json:"version"`
	Provider       string    `json:"provider,omitempty"`
	Purpose        string    `json:"purpose,omitempty"`
	DataCategories []string  `json:"data_categories,omitempty"`
	Owner          string    `json:"owner"`
	Status         string    `json:"status"`
	Assets         []string  `json:"assets,omitempty"`
	RegisteredAt   time.Time `json:"registered_at"`
}

// ModelVersionReleased: a new version of the model replaced the current one.
type ModelVersionReleased struct {
	ModelID         string    `json:"model_id"`
	Version         string    `json:"version"`
	PreviousVersion string    `json:"previous_version"`
	Notes           string    `json:"notes,omitempty"`
	ReleasedAt      time.Time `json:"released_at"`
}

// ModelStatusChanged: the model's deployment status changed.
type ModelStatusChanged struct {
	ModelID   string    `json:"model_id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	ChangedBy string    `json:"changed_by,omitempty"`
	ChangedAt time.Time `json:"changed_at"`
}

// ModelAssetsLinked: cloud assets (ids of the cloud assets module) now
// run or serve the model (the ids newly linked).
type ModelAssetsLinked struct {
	ModelID  string    `json:"model_id"`
	Assets   []string  `json:"assets"`
	LinkedAt time.Time `json:"linked_at"`
}

// ModelAssetsUnlinked: assets no longer linked to the model.
type ModelAssetsUnlinked struct {
	ModelID    string    `json:"model_id"`
	Assets     []string  `json:"assets"`
	UnlinkedAt time.Time `json:"unlinked_at"`
}

// ModelRetired: the model is out of service for good; it takes no command.
type ModelRetired struct {
	ModelID   string    `json:"model_id"`
	From      string    `json:"from"`
	Reason    string    `json:"reason,omitempty"`
	RetiredBy string    `json:"retired_by,omitempty"`
	RetiredAt time.Time `json:"retired_at"`
}

// ModelRiskClassified: the model was classified under the EU AI Act (a
// reclassification is another event: the history is kept).
type ModelRiskClassified struct {
	ModelID       string    `json:"model_id"`
	RiskClass     RiskClass `json:"risk_class"`
	PreviousClass RiskClass `json:"previous_class,omitempty"`
	Rationale     string    `json:"rationale"`
	ClassifiedBy  string    `json:"classified_by,omitempty"`
	ClassifiedAt  time.Time `json:"classified_at"`
}

// TransparencyDeclared: the state of a limited-risk model's transparency
// obligations (Article 50) as the team declares it: the obligations met
// and those not applicable (the fields hold the whole new state).
type TransparencyDeclared struct {
	ModelID       string    `json:"model_id"`
	Met           []string  `json:"met,omitempty"`
	NotApplicable []string  `json:"not_applicable,omitempty"`
	DeclaredBy    string    `json:"declared_by,omitempty"`
	DeclaredAt    time.Time `json:"declared_at"`
}

func (ModelRegistered) EventType() string      { return "ModelRegistered" }
func (ModelVersionReleased) EventType() string { return "ModelVersionReleased" }
func (ModelStatusChanged) EventType() string   { return "ModelStatusChanged" }
func (ModelAssetsLinked) EventType() string    { return "ModelAssetsLinked" }
func (ModelAssetsUnlinked) EventType() string  { return "ModelAssetsUnlinked" }
func (ModelRetired) EventType() string         { return "ModelRetired" }
func (ModelRiskClassified) EventType() string  { return "ModelRiskClassified" }
func (TransparencyDeclared) EventType() string { return "TransparencyDeclared" }

// Model is the registry's aggregate.
type Model struct {
	registered bool
	id         string
	version    string
	versions   []string
	status     string
	assets     []string
	class      RiskClass
	rationale  string
	met, na    []string
}

// RehydrateModel folds a model's events.
func RehydrateModel(events ...Event) *Model {
	m := &Model{}
	for _, e := range events {
		m.apply(e)
	}
	return m
}

func (m *Model) apply(e Event) {
	switch e := e.(type) {
	case ModelRegistered:
		m.registered, m.id, m.version, m.status, m.assets = true, e.ModelID, e.Version, e.Status, e.Assets
		m.versions = []string{e.Version}
	case ModelVersionReleased:
		m.version = e.Version
		m.versions = append(m.versions, e.Version)
	case ModelStatusChanged:
		m.status = e.To
	case ModelAssetsLinked:
		m.assets = union(m.assets, e.Assets)
	case ModelAssetsUnlinked:
		m.assets = slices.DeleteFunc(slices.Clone(m.assets), func(a string) bool { return slices.Contains(e.Assets, a) })
	case ModelRetired:
		m.status = StatusRetired
	case ModelRiskClassified:
		m.class, m.rationale = e.RiskClass, e.Rationale
	case TransparencyDeclared:
		m.met, m.na = e.Met, e.NotApplicable
	}
}

// ID is the model's id.
func (m *Model) ID() string { return m.id }

// Registered tells whether the model exists.
func (m *Model) Registered() bool { return m.registered }

// Version is the model's current version.
func (m *Model) Version() string { return m.version }

// Status is its deployment status.
func (m *Model) Status() string { return m.status }

// RiskClass is its current EU AI Act class ("" until classified).
func (m *Model) RiskClass() RiskClass { return m.class }

// Assets are the linked asset ids, sorted.
func (m *Model) Assets() []string { return m.assets }

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// cleanList trims, sorts and deduplicates ids or labels.
func cleanList(v *domain.Validator, field string, xs []string, maxLen, max int) []string {
	out := make([]string, 0, len(xs))
	for i, x := range xs {
		x = strings.TrimSpace(x)
		if x == "" || len(x) > maxLen {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "must be 1-%d bytes", maxLen)
			continue
		}
		out = append(out, x)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	v.Check(len(out) <= max, field, "at most %d", max)
	if len(out) == 0 {
		return nil
	}
	return out
}

func validVersion(v *domain.Validator, field, version string) string {
	version = strings.TrimSpace(version)
	v.Check(version != "" && len(version) <= MaxVersion && !strings.ContainsAny(version, " \t\n"), field,
		"is required (1-%d characters, no spaces)", MaxVersion)
	return version
}

// RegisterModel decides a new model.
func RegisterModel(id string, s ModelSpec, now time.Time) ([]Event, error) {
	var v domain.Validator
	name := strings.TrimSpace(s.Name)
	v.Check(name != "" && len(name) <= MaxName, "name", "is required (at most %d bytes)", MaxName)
	version := validVersion(&v, "version", s.Version)
	owner := strings.TrimSpace(s.Owner)
	v.Check(owner != "" && len(owner) <= MaxName, "owner", "is required (at most %d bytes)", MaxName)
	v.Check(len(s.Provider) <= MaxName, "provider", "at most %d bytes", MaxName)
	v.Check(len(s.Purpose) <= MaxText, "purpose", "at most %d bytes", MaxText)
	cats := cleanList(&v, "data_categories", s.DataCategories, MaxName, MaxList)
	assets := cleanList(&v, "assets", s.Assets, MaxIDLen, MaxAssets)
	status := s.Status
	if status == "" {
		status = StatusDevelopment
	}
	// An unclassified model may start in production: only the class
	// prohibited refuses it (ChangeStatus, Classify).
	v.Check(slices.Contains(DeploymentStatuses, status), "status", "%q is not one of development, staging, production", status)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{ModelRegistered{ModelID: id, Name: name, Version: version, Provider: strings.TrimSpace(s.Provider),
		Purpose: s.Purpose, DataCategories: cats, Owner: owner, Status: status, Assets: assets, RegisteredAt: now}}, nil
}

func (m *Model) live() error {
	if !m.registered {
		return domain.ErrNotFound
	}
	if m.status == StatusRetired {
		return domain.Rule(CodeModelRetired, "model %s is retired", m.id)
	}
	return nil
}

// ReleaseVersion decides a new current version; a version the model had
// already is AI_MODEL_VERSION_EXISTS.
func (m *Model) ReleaseVersion(version, notes string, now time.Time) ([]Event, error) {
	if err := m.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	version = validVersion(&v, "version", version)
	v.Check(len(notes) <= MaxText, "notes", "at most %d bytes", MaxText)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if slices.Contains(m.versions, version) {
		return nil, domain.Rule(CodeVersionExists, "model %s already had version %q", m.id, version)
	}
	return []Event{ModelVersionReleased{ModelID: m.id, Version: version, PreviousVersion: m.version, Notes: notes, ReleasedAt: now}}, nil
}

// ChangeStatus decides a deployment status. A model classified prohibited
// is never put in production (AI_PROHIBITED_DEPLOYMENT, EU AI Act Article
// 5). The same status appends nothing.
func (m *Model) ChangeStatus(status, by string, now time.Time) ([]Event, error) {
	if err := m.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(slices.Contains(DeploymentStatuses, status), "status", "%q is not one of development, staging, production (retire it with the retire command)", status)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if status == StatusProduction && m.class == Prohibited {
		return nil, domain.Rule(CodeProhibitedDeployment, "model %s is classified prohibited under the EU AI Act (Article 5): it cannot be deployed to production", m.id)
	}
	if status == m.status {
		return nil, nil
	}
	return []Event{ModelStatusChanged{ModelID: m.id, From: m.status, To: status, ChangedBy: by, ChangedAt: now}}, nil
}

// LinkAssets decides links to assets; those linked already are left out
// (none new appends nothing).
func (m *Model) LinkAssets(assets []string, now time.Time) ([]Event, error) {
	if err := m.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	ids := cleanList(&v, "assets", assets, MaxIDLen, MaxAssets)
	v.Check(len(assets) > 0, "assets", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	ids = slices.DeleteFunc(ids, func(a string) bool { return slices.Contains(m.assets, a) })
	if len(ids) == 0 {
		return nil, nil
	}
	v.Check(len(m.assets)+len(ids) <= MaxAssets, "assets", "a model links at most %d assets", MaxAssets)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{ModelAssetsLinked{ModelID: m.id, Assets: ids, LinkedAt: now}}, nil
}

// UnlinkAssets decides the end of links; ids not linked are ignored
// (none linked appends nothing).
func (m *Model) UnlinkAssets(assets []string, now time.Time) ([]Event, error) {
	if err := m.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	ids := cleanList(&v, "assets", assets, MaxIDLen, MaxAssets)
	v.Check(len(assets) > 0, "assets", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	ids = slices.DeleteFunc(ids, func(a string) bool { return !slices.Contains(m.assets, a) })
	if len(ids) == 0 {
		return nil, nil
	}
	return []Event{ModelAssetsUnlinked{ModelID: m.id, Assets: ids, UnlinkedAt: now}}, nil
}

// Retire decides the end of the model's service.
func (m *Model) Retire(reason, by string, now time.Time) ([]Event, error) {
	if err := m.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(len(reason) <= MaxText, "reason", "at most %d bytes", MaxText)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{ModelRetired{ModelID: m.id, From: m.status, Reason: reason, RetiredBy: by, RetiredAt: now}}, nil
}

// Classify decides the model's EU AI Act class with its rationale. A
// model in production is not classified prohibited: it is withdrawn
// first (AI_PROHIBITED_DEPLOYMENT), so that a prohibited model is never
// in production whatever the order of the commands. The same class and
// rationale again appends nothing. A retired model keeps its last class.
func (m *Model) Classify(class RiskClass, rationale, by string, now time.Time) ([]Event, error) {
	if err := m.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(slices.Contains(RiskClasses, class), "risk_class", "%q is not one of prohibited, high, limited, minimal", class)
	rationale = strings.TrimSpace(rationale)
	v.Check(rationale != "" && len(rationale) <= MaxRationale, "rationale", "is required (at most %d bytes)", MaxRationale)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if class == Prohibited && m.status == StatusProduction {
		return nil, domain.Rule(CodeProhibitedDeployment, "model %s is in production: withdraw it (status development or staging) or retire it before classifying it prohibited", m.id)
	}
	if class == m.class && rationale == m.rationale {
		return nil, nil
	}
	return []Event{ModelRiskClassified{ModelID: m.id, RiskClass: class, PreviousClass: m.class, Rationale: rationale, ClassifiedBy: by, ClassifiedAt: now}}, nil
}

// DeclareTransparency decides the state of the Article 50 transparency
// obligations (TransparencyObligations ids): those met and those not
// applicable; the rest stay open. The same state appends nothing.
func (m *Model) DeclareTransparency(met, notApplicable []string, by string, now time.Time) ([]Event, error) {
	if err := m.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	met = cleanList(&v, "met", met, MaxIDLen, len(TransparencyObligations))
	na := cleanList(&v, "not_applicable", notApplicable, MaxIDLen, len(TransparencyObligations))
	for i, id := range met {
		v.Check(TransparencyObligation(id) != nil, fmt.Sprintf("met[%d]", i), "%q is not a transparency obligation (%s)", id, transparencyIDs())
		v.Check(!slices.Contains(na, id), fmt.Sprintf("met[%d]", i), "%q is also not applicable", id)
	}
	for i, id := range na {
		v.Check(TransparencyObligation(id) != nil, fmt.Sprintf("not_applicable[%d]", i), "%q is not a transparency obligation (%s)", id, transparencyIDs())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if slices.Equal(met, m.met) && slices.Equal(na, m.na) {
		return nil, nil
	}
	return []Event{TransparencyDeclared{ModelID: m.id, Met: met, NotApplicable: na, DeclaredBy: by, DeclaredAt: now}}, nil
}

package aigovernance

import "slices"

// ModelState is a model as its events leave it (the audit replay).
type ModelState struct {
	ModelID                   string    `json:"model_id"`
	Version                   string    `json:"version"`
	Versions                  []string  `json:"versions"`
	Status                    string    `json:"status"`
	Assets                    []string  `json:"assets"`
	RiskClass                 RiskClass `json:"risk_class,omitempty"`
	Rationale                 string    `json:"rationale,omitempty"`
	TransparencyMet           []string  `json:"transparency_met,omitempty"`
	TransparencyNotApplicable []string  `json:"transparency_not_applicable,omitempty"`
}

// State is the model's state view.
func (m *Model) State() ModelState {
	return ModelState{ModelID: m.id, Version: m.version, Versions: slices.Clone(m.versions), Status: m.status, Assets: slices.Clone(m.assets),
		RiskClass: m.class, Rationale: m.rationale, TransparencyMet: slices.Clone(m.met), TransparencyNotApplicable: slices.Clone(m.na)}
}

// BiasTestState is a bias test as its events leave it.
type BiasTestState struct {
	Definition BiasTestDefined `json:"definition"`
	Runs       []string        `json:"runs"` // run ids, sorted
}

// State is the test's state view.
func (b *BiasTest) State() BiasTestState {
	runs := make([]string, 0, len(b.runs))
	for id := range b.runs {
		runs = append(runs, id)
	}
	slices.Sort(runs)
	return BiasTestState{Definition: b.def, Runs: runs}
}

// IncidentState is an incident as its events leave it.
type IncidentState struct {
	IncidentID string `json:"incident_id"`
	ModelID    string `json:"model_id"`
	Status     string `json:"status"`
}

// State is the incident's state view.
func (in *Incident) State() IncidentState {
	return IncidentState{IncidentID: in.id, ModelID: in.model, Status: in.status}
}

// Package aigovernance holds the AI governance module's command handlers:
// the team's AI models ("aimodel-<id>": registry, versions, deployment
// status, linked assets, EU AI Act classification, transparency), bias
// tests ("aibiastest-<id>": definition and runs) and model incidents
// ("aiincident-<id>"). docs/ai-governance.md.
package aigovernance

import (
	"context"
	"errors"
	"strings"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
)

// Stream types and id prefixes.
const (
	StreamTypeModel    = commands.StreamTypeAIModel
	StreamTypeBiasTest = commands.StreamTypeAIBiasTest
	StreamTypeIncident = commands.StreamTypeAIIncident
	modelPrefix        = "aimodel-"
	biasTestPrefix     = "aibiastest-"
	incidentPrefix     = "aiincident-"
)

// ModelStreamID is the stream of a model.
func ModelStreamID(id string) string { return modelPrefix + id }

// BiasTestStreamID is the stream of a bias test.
func BiasTestStreamID(id string) string { return biasTestPrefix + id }

// IncidentStreamID is the stream of a model incident.
func IncidentStreamID(id string) string { return incidentPrefix + id }

func modelCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: ModelStreamID(id), Type: StreamTypeModel}
}

func biasCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: BiasTestStreamID(id), Type: StreamTypeBiasTest}
}

func incidentCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: IncidentStreamID(id), Type: StreamTypeIncident}
}

// Handlers runs the AI governance commands. Safe for concurrent use.
type Handlers struct{ kit *commands.Kit }

// New returns the handlers; it panics on a nil kit (a wiring mistake).
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("aigovernance.New: nil kit")
	}
	return &Handlers{kit: kit}
}

// RegisterModel registers a model of the caller's team.
type RegisterModel struct {
	Name           string   `json:"name"`
	Version        string   `json:"version"`
	Provider       string   `json:"provider,omitempty"`
	Purpose        string   `json:"purpose,omitempty"`
	DataCategories []string `json:"data_categories,omitempty"`
	Owner          string   `json:"owner"`
	Status         string   `json:"status,omitempty"`
	Assets         []string `json:"assets,omitempty"`
}

// RegisterModel registers it under a new id (Result.ID).
func (h *Handlers) RegisterModel(ctx context.Context, meta commands.Meta, cmd RegisterModel) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := modelCall("RegisterModel", "", cmd)
	c.StreamID = ModelStreamID(id)
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]ai.Event, error) {
		return ai.RegisterModel(id, ai.ModelSpec{Name: cmd.Name, Version: cmd.Version, Provider: cmd.Provider, Purpose: cmd.Purpose,
			DataCategories: cmd.DataCategories, Owner: cmd.Owner, Status: cmd.Status, Assets: cmd.Assets}, h.kit.Now())
	})
	if err == nil {
		res.ID = id
	}
	return res, err
}

// ReleaseModelVersion makes a new version the model's current one.
type ReleaseModelVersion struct {
	ModelID string `json:"-"`
	Version string `json:"version"`
	Notes   string `json:"notes,omitempty"`
}

// ReleaseModelVersion records it.
func (h *Handlers) ReleaseModelVersion(ctx context.Context, meta commands.Meta, cmd ReleaseModelVersion) (commands.Result, error) {
	return h.onModel(ctx, meta, modelCall("ReleaseModelVersion", cmd.ModelID, cmd), func(m *ai.Model) ([]ai.Event, error) {
		return m.ReleaseVersion(cmd.Version, cmd.Notes, h.kit.Now())
	})
}

// ChangeModelStatus sets the deployment status.
type ChangeModelStatus struct {
	ModelID string `json:"-"`
	Status  string `json:"status"`
}

// ChangeModelStatus records it (a prohibited model is refused production).
func (h *Handlers) ChangeModelStatus(ctx context.Context, meta commands.Meta, cmd ChangeModelStatus) (commands.Result, error) {
	return h.onModel(ctx, meta, modelCall("ChangeModelStatus", cmd.ModelID, cmd), func(m *ai.Model) ([]ai.Event, error) {
		return m.ChangeStatus(cmd.Status, meta.Actor, h.kit.Now())
	})
}

// ModelAssets links or unlinks assets.
type ModelAssets struct {
	ModelID string   `json:"-"`
	Assets  []string `json:"assets"`
}

// LinkModelAssets links the assets not linked yet.
func (h *Handlers) LinkModelAssets(ctx context.Context, meta commands.Meta, cmd ModelAssets) (commands.Result, error) {
	return h.onModel(ctx, meta, modelCall("LinkModelAssets", cmd.ModelID, cmd), func(m *ai.Model) ([]ai.Event, error) {
		return m.LinkAssets(cmd.Assets, h.kit.Now())
	})
}

// UnlinkModelAssets unlinks the assets linked.
func (h *Handlers) UnlinkModelAssets(ctx context.Context, meta commands.Meta, cmd ModelAssets) (commands.Result, error) {
	return h.onModel(ctx, meta, modelCall("UnlinkModelAssets", cmd.ModelID, cmd), func(m *ai.Model) ([]ai.Event, error) {
		return m.UnlinkAssets(cmd.Assets, h.kit.Now())
	})
}

// RetireModel ends the model's service.
type RetireModel struct {
	ModelID string `json:"-"`
	Reason  string `json:"reason,omitempty"`
}

// RetireModel records it.
func (h *Handlers) RetireModel(ctx context.Context, meta commands.Meta, cmd RetireModel) (commands.Result, error) {
	return h.onModel(ctx, meta, modelCall("RetireModel", cmd.ModelID, cmd), func(m *ai.Model) ([]ai.Event, error) {
		return m.Retire(cmd.Reason, meta.Actor, h.kit.Now())
	})
}

// ClassifyModel classifies the model under the EU AI Act.
type ClassifyModel struct {
	ModelID   string       `json:"-"`
	RiskClass ai.RiskClass `json:"risk_class"`
	Rationale string       `json:"rationale"`
}

// ClassifyModel records the class (a reclassification keeps the history).
func (h *Handlers) ClassifyModel(ctx context.Context, meta commands.Meta, cmd ClassifyModel) (commands.Result, error) {
	return h.onModel(ctx, meta, modelCall("ClassifyModel", cmd.ModelID, cmd), func(m *ai.Model) ([]ai.Event, error) {
		return m.Classify(cmd.RiskClass, cmd.Rationale, meta.Actor, h.kit.Now())
	})
}

// DeclareTransparency states the Article 50 obligations met and not applicable.
type DeclareTransparency struct {
	ModelID       string   `json:"-"`
	Met           []string `json:"met"`
	NotApplicable []string `json:"not_applicable"`
}

// DeclareTransparency records the declaration.
func (h *Handlers) DeclareTransparency(ctx context.Context, meta commands.Meta, cmd DeclareTransparency) (commands.Result, error) {
	return h.onModel(ctx, meta, modelCall("DeclareTransparency", cmd.ModelID, cmd), func(m *ai.Model) ([]ai.Event, error) {
		return m.DeclareTransparency(cmd.Met, cmd.NotApplicable, meta.Actor, h.kit.Now())
	})
}

// model reads the caller's team's model: a *domain.ValidationError naming
// field when there is none (another team's is none).
func (h *Handlers) model(ctx context.Context, meta commands.Meta, field, id string) (*ai.Model, error) {
	var v domain.Validator
	id = strings.TrimSpace(id)
	v.Check(id != "", field, "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	recorded, err := h.kit.Load(ctx, meta, modelCall("ReadModel", id, nil))
	if errors.Is(err, domain.ErrNotFound) {
		v.Add(field, "%q is not a model of the team", id)
		return nil, v.Err()
	}
	if err != nil {
		return nil, err
	}
	events, err := commands.Decode[ai.Event](h.kit.Codec(), recorded)
	if err != nil {
		return nil, err
	}
	return ai.RehydrateModel(events...), nil
}

// DefineBiasTest defines a bias test of one of the team's models.
type DefineBiasTest struct {
	ModelID   string   `json:"model_id"`
	Name      string   `json:"name"`
	Metric    string   `json:"metric"`
	Attribute string   `json:"attribute"`
	Groups    []string `json:"groups"`
	Threshold float64  `json:"threshold"`
	Direction string   `json:"direction,omitempty"`
}

// DefineBiasTest records it under a new id (Result.ID).
func (h *Handlers) DefineBiasTest(ctx context.Context, meta commands.Meta, cmd DefineBiasTest) (commands.Result, error) {
	if _, err := h.model(ctx, meta, "model_id", cmd.ModelID); err != nil {
		return commands.Result{}, err
	}
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := biasCall("DefineBiasTest", "", cmd)
	c.StreamID = BiasTestStreamID(id)
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]ai.Event, error) {
		return ai.DefineBiasTest(id, ai.BiasTestSpec{ModelID: cmd.ModelID, Name: cmd.Name, Metric: cmd.Metric, Attribute: cmd.Attribute,
			Groups: cmd.Groups, Threshold: cmd.Threshold, Direction: cmd.Direction}, h.kit.Now())
	})
	if err == nil {
		res.ID = id
	}
	return res, err
}

// RecordBiasRun records a run of a bias test: counts per group.
type RecordBiasRun struct {
	TestID       string           `json:"-"`
	RunID        string           `json:"run_id"`
	ModelVersion string           `json:"model_version,omitempty"` // absent: the model's current version
	Dataset      string           `json:"dataset,omitempty"`
	Groups       []ai.GroupCounts `json:"groups"`
}

// RecordBiasRun evaluates and records the run (a run id recorded already
// appends nothing).
func (h *Handlers) RecordBiasRun(ctx context.Context, meta commands.Meta, cmd RecordBiasRun) (commands.Result, error) {
	version := strings.TrimSpace(cmd.ModelVersion)
	return decide(ctx, h.kit, meta, biasCall("RecordBiasRun", cmd.TestID, cmd), "test_id", func(history []ai.Event) ([]ai.Event, error) {
		b := ai.RehydrateBiasTest(history...)
		if version == "" {
			m, err := h.model(ctx, meta, "model_version", b.ModelID())
			if err != nil {
				return nil, err
			}
			version = m.Version()
		}
		return b.RecordRun(cmd.RunID, version, cmd.Dataset, cmd.Groups, h.kit.Now())
	})
}

// ReportIncident reports an incident of one of the team's models.
type ReportIncident struct {
	ModelID     string `json:"model_id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Severity    string `json:"severity"`
}

// ReportIncident records it under a new id (Result.ID).
func (h *Handlers) ReportIncident(ctx context.Context, meta commands.Meta, cmd ReportIncident) (commands.Result, error) {
	if _, err := h.model(ctx, meta, "model_id", cmd.ModelID); err != nil {
		return commands.Result{}, err
	}
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := incidentCall("ReportIncident", "", cmd)
	c.StreamID = IncidentStreamID(id)
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]ai.Event, error) {
		return ai.ReportIncident(id, cmd.ModelID, cmd.Title, cmd.Description, cmd.Severity, meta.Actor, h.kit.Now())
	})
	if err == nil {
		res.ID = id
	}
	return res, err
}

// ChangeIncidentStatus mitigates, closes or reopens an incident.
type ChangeIncidentStatus struct {
	IncidentID string `json:"-"`
	Status     string `json:"status"`
	Note       string `json:"note,omitempty"`
}

// ChangeIncidentStatus records it.
func (h *Handlers) ChangeIncidentStatus(ctx context.Context, meta commands.Meta, cmd ChangeIncidentStatus) (commands.Result, error) {
	return decide(ctx, h.kit, meta, incidentCall("ChangeIncidentStatus", cmd.IncidentID, cmd), "incident_id", func(history []ai.Event) ([]ai.Event, error) {
		return ai.RehydrateIncident(history...).ChangeStatus(cmd.Status, cmd.Note, meta.Actor, h.kit.Now())
	})
}

func (h *Handlers) onModel(ctx context.Context, meta commands.Meta, c commands.Call, do func(*ai.Model) ([]ai.Event, error)) (commands.Result, error) {
	return decide(ctx, h.kit, meta, c, "model_id", func(history []ai.Event) ([]ai.Event, error) {
		return do(ai.RehydrateModel(history...))
	})
}

// decide runs a command on an existing stream of the team; a decision
// that changes nothing appends nothing and answers the stream as it is
// (Result.EventIDs empty).
func decide(ctx context.Context, kit *commands.Kit, meta commands.Meta, c commands.Call, field string, do func([]ai.Event) ([]ai.Event, error)) (commands.Result, error) {
	if err := commands.RequireID(field, c.TargetID); err != nil {
		return commands.Result{}, err
	}
	res, err := commands.Update(ctx, kit, meta, c, func(history []ai.Event) ([]ai.Event, error) {
		events, err := do(history)
		if err == nil && len(events) == 0 {
			return nil, errNoChange
		}
		return events, err
	})
	if !errors.Is(err, errNoChange) {
		if err == nil {
			res.ID = c.TargetID
		}
		return res, err
	}
	recorded, err := kit.Load(ctx, meta, c)
	if err != nil {
		return commands.Result{}, err
	}
	last := recorded[len(recorded)-1]
	return commands.Result{ID: c.TargetID, StreamID: c.StreamID, Version: last.Version, Position: last.Position, EventIDs: []string{}}, nil
}

// errNoChange: the decision changes nothing; nothing is appended.
var errNoChange = errors.New("no change")

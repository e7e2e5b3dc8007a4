// Package aigovernance holds the AI governance module's projections, in
// cspm_ai_governance: the model registry with its classification
// history, bias tests and their runs, model incidents
// (aigovernance.registry), and each model's EU AI Act obligations, folded
// from the models and the assessments module's EU AI Act assessments
// that name them (aigovernance.obligations, decision 77).
// docs/ai-governance.md.
package aigovernance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the registry projection and its collections.
const (
	RegistryName              = "aigovernance.registry"
	ModelsCollection          = "ai_models"                // one per model
	ClassificationsCollection = "ai_model_classifications" // one per classification event: the history
	BiasTestsCollection       = "ai_bias_tests"            // one per test definition, its latest run
	BiasRunsCollection        = "ai_bias_runs"             // one per run
	IncidentsCollection       = "ai_model_incidents"       // one per incident
	Unclassified              = "unclassified"             // risk_class of a model never classified
)

// Registry folds the module's own streams: every document is made of the
// events of one stream, so the fold is order-independent across streams.
type Registry struct{}

var _ projections.Projection = Registry{}

// NewRegistry returns the "aigovernance.registry" projection.
func NewRegistry() Registry { return Registry{} }

// Name implements projections.Projection.
func (Registry) Name() string { return RegistryName }

// Database implements projections.Projection.
func (Registry) Database() dbregistry.Constant { return dbregistry.AI_GOVERNANCE }

// EventTypes implements projections.Projection.
func (Registry) EventTypes() []string {
	return []string{ai.ModelRegistered{}.EventType(), ai.ModelVersionReleased{}.EventType(), ai.ModelStatusChanged{}.EventType(),
		ai.ModelAssetsLinked{}.EventType(), ai.ModelAssetsUnlinked{}.EventType(), ai.ModelRetired{}.EventType(),
		ai.ModelRiskClassified{}.EventType(), ai.TransparencyDeclared{}.EventType(),
		ai.BiasTestDefined{}.EventType(), ai.BiasTestRunRecorded{}.EventType(),
		ai.ModelIncidentReported{}.EventType(), ai.ModelIncidentStatusChanged{}.EventType()}
}

func idx(name string, paths ...string) readmodel.Index {
	f := make([]readmodel.IndexField, len(paths))
	for i, p := range paths {
		f[i] = readmodel.IndexField{Path: p}
	}
	return readmodel.Index{Name: name, Fields: f}
}

// Collections implements projections.Projection.
func (Registry) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		// GET /api/v1/ai/models: the team's, by name; ?risk_class=, ?status=.
		{Name: ModelsCollection, Indexes: []readmodel.Index{idx("by_team_name", "team_id", "name"),
			idx("by_team_class_name", "team_id", "risk_class", "name"), idx("by_team_status_name", "team_id", "status", "name"),
			idx("by_team_class_status_name", "team_id", "risk_class", "status", "name")}},
		// GET /api/v1/ai/models/{id}: its classification history, oldest first.
		{Name: ClassificationsCollection, Indexes: []readmodel.Index{idx("by_team_model_position", "team_id", "model_id", "position")}},
		// GET /api/v1/ai/bias-tests: the team's, by model.
		{Name: BiasTestsCollection, Indexes: []readmodel.Index{idx("by_team_model", "team_id", "model_id", "name")}},
		// GET /api/v1/ai/bias-tests/{id}/results: a test's runs in time order.
		{Name: BiasRunsCollection, Indexes: []readmodel.Index{idx("by_team_test_ran", "team_id", "test_id", "ran_at", "position")}},
		// GET /api/v1/ai/incidents: the team's, newest first; ?model_id=, ?status=.
		{Name: IncidentsCollection, Indexes: []readmodel.Index{
			{Name: "by_team_reported", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "reported_at", Desc: true}}},
			{Name: "by_team_model_reported", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "model_id"}, {Path: "reported_at", Desc: true}}},
			{Name: "by_team_status_reported", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "status"}, {Path: "reported_at", Desc: true}}},
			{Name: "by_team_model_status_reported", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "model_id"}, {Path: "status"}, {Path: "reported_at", Desc: true}}},
		}},
	}
}

// Apply implements projections.Projection.
func (p Registry) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case ai.ModelRegistered:
		tx.Put(ModelsCollection, readmodel.Doc{"_id": e.ModelID, "team_id": team, "name": e.Name, "version": e.Version,
			"versions": strs([]string{e.Version}), "provider": e.Provider, "purpose": e.Purpose, "data_categories": strs(e.DataCategories),
			"owner": e.Owner, "status": e.Status, "assets": strs(e.Assets), "risk_class": Unclassified, "rationale": "",
			"classifications": int64(0), "registered_at": e.RegisteredAt, "updated_at": e.RegisteredAt})
	case ai.ModelVersionReleased:
		err = p.model(ctx, tx, e.ModelID, e.ReleasedAt, func(d readmodel.Doc) {
			d["version"], d["versions"] = e.Version, strs(append(fold.Strs(d, "versions"), e.Version))
		})
	case ai.ModelStatusChanged:
		err = p.model(ctx, tx, e.ModelID, e.ChangedAt, func(d readmodel.Doc) { d["status"] = e.To })
	case ai.ModelAssetsLinked:
		err = p.model(ctx, tx, e.ModelID, e.LinkedAt, func(d readmodel.Doc) {
			a := append(fold.Strs(d, "assets"), e.Assets...)
			slices.Sort(a)
			d["assets"] = strs(slices.Compact(a))
		})
	case ai.ModelAssetsUnlinked:
		err = p.model(ctx, tx, e.ModelID, e.UnlinkedAt, func(d readmodel.Doc) {
			d["assets"] = strs(slices.DeleteFunc(fold.Strs(d, "assets"), func(a string) bool { return slices.Contains(e.Assets, a) }))
		})
	case ai.ModelRetired:
		err = p.model(ctx, tx, e.ModelID, e.RetiredAt, func(d readmodel.Doc) {
			d["status"], d["retired_at"], d["retired_reason"] = ai.StatusRetired, e.RetiredAt, e.Reason
		})
	case ai.ModelRiskClassified:
		tx.Put(ClassificationsCollection, readmodel.Doc{"_id": key(e.ModelID, fmt.Sprint(ev.Position)), "team_id": team, "model_id": e.ModelID,
			"risk_class": string(e.RiskClass), "previous_class": string(e.PreviousClass), "rationale": e.Rationale,
			"classified_by": e.ClassifiedBy, "classified_at": e.ClassifiedAt, "position": ev.Position})
		err = p.model(ctx, tx, e.ModelID, e.ClassifiedAt, func(d readmodel.Doc) {
			d["risk_class"], d["rationale"], d["classified_at"] = string(e.RiskClass), e.Rationale, e.ClassifiedAt
			d["classifications"] = fold.Num(d, "classifications") + 1
		})
	case ai.TransparencyDeclared:
		err = p.model(ctx, tx, e.ModelID, e.DeclaredAt, func(d readmodel.Doc) {
			d["transparency_met"], d["transparency_not_applicable"] = strs(e.Met), strs(e.NotApplicable)
		})
	case ai.BiasTestDefined:
		tx.Put(BiasTestsCollection, readmodel.Doc{"_id": e.TestID, "team_id": team, "model_id": e.ModelID, "name": e.Name,
			"metric": e.Metric, "attribute": e.Attribute, "groups": strs(e.Groups), "threshold": e.Threshold, "direction": e.Direction,
			"defined_at": e.DefinedAt, "runs": int64(0)})
	case ai.BiasTestRunRecorded:
		groups := make([]any, len(e.Groups))
		for i, g := range e.Groups {
			groups[i] = map[string]any{"group": g.Group, "positive": g.Positive, "total": g.Total, "rate": g.Rate, "gap": g.Gap, "passed": g.Passed}
		}
		tx.Put(BiasRunsCollection, readmodel.Doc{"_id": key(e.TestID, e.RunID), "team_id": team, "test_id": e.TestID, "run_id": e.RunID,
			"model_id": e.ModelID, "model_version": e.ModelVersion, "dataset": e.Dataset, "metric": e.Metric, "threshold": e.Threshold,
			"direction": e.Direction, "value": e.Value, "passed": e.Passed, "groups": groups, "ran_at": e.RanAt, "position": ev.Position})
		var d readmodel.Doc
		var found bool
		if d, found, err = fold.Get(ctx, tx, BiasTestsCollection, e.TestID); err == nil && found {
			d["runs"] = fold.Num(d, "runs") + 1
			d["last_run_at"], d["last_value"], d["last_passed"], d["last_model_version"] = e.RanAt, e.Value, e.Passed, e.ModelVersion
			tx.Put(BiasTestsCollection, d)
		}
	case ai.ModelIncidentReported:
		tx.Put(IncidentsCollection, readmodel.Doc{"_id": e.IncidentID, "team_id": team, "model_id": e.ModelID, "title": e.Title,
			"description": e.Description, "severity": e.Severity, "status": ai.IncidentOpen, "reported_by": e.ReportedBy,
			"reported_at": e.ReportedAt, "updated_at": e.ReportedAt})
	case ai.ModelIncidentStatusChanged:
		var d readmodel.Doc
		var found bool
		if d, found, err = fold.Get(ctx, tx, IncidentsCollection, e.IncidentID); err == nil && found {
			d["status"], d["updated_at"], d["note"] = e.To, fold.Later(fold.Time(d, "updated_at"), e.ChangedAt), e.Note
			if e.To == ai.IncidentClosed {
				d["closed_at"] = e.ChangedAt
			}
			tx.Put(IncidentsCollection, d)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", RegistryName, err)
	}
	return nil
}

func (Registry) model(ctx context.Context, tx projections.Tx, id string, at time.Time, change func(readmodel.Doc)) error {
	d, found, err := fold.Get(ctx, tx, ModelsCollection, id)
	if err != nil || !found {
		return err
	}
	change(d)
	d["updated_at"] = fold.Later(fold.Time(d, "updated_at"), at)
	tx.Put(ModelsCollection, d)
	return nil
}

func strs(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// key is a fixed-length document id of its parts.
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0x1f})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

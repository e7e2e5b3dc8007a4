package platform

import (
	"context"
	"fmt"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// Module, type and relation names a reference row uses.
const (
	ModuleCloudSecurity = "cloud_security"
	ModuleOrchestration = "orchestration"
	TypeFinding         = "finding"
	TypeScan            = "scan"
	RelationRaisedIn    = "raised_in"
)

// CrossModuleReferences records one cross_module_references row per
// reference from a resource of one module to a resource of another: today
// every finding (cloud_security) → the scan that raised it (orchestration).
// A row is written by one event and never changed, so the collection is the
// same whatever order events arrive in.
type CrossModuleReferences struct{}

var _ projections.Projection = CrossModuleReferences{}

// NewCrossModuleReferences returns the "platform.cross_module_references"
// projection.
func NewCrossModuleReferences() CrossModuleReferences { return CrossModuleReferences{} }

// Name implements projections.Projection.
func (CrossModuleReferences) Name() string { return CrossModuleReferencesName }

// Database implements projections.Projection.
func (CrossModuleReferences) Database() dbregistry.Constant { return dbregistry.PLATFORM }

// EventTypes implements projections.Projection.
func (CrossModuleReferences) EventTypes() []string {
	return []string{csdomain.FindingRaised{}.EventType()}
}

// Collections implements projections.Projection: lookups by target ("what
// refers to this scan?") and by source ("what does this finding refer
// to?"), team first.
func (CrossModuleReferences) Collections() []readmodel.CollectionSpec {
	index := func(name, side string) readmodel.Index {
		return readmodel.Index{Name: name, Fields: []readmodel.IndexField{
			{Path: "team_id"}, {Path: side + "_module"}, {Path: side + "_type"}, {Path: side + "_id"},
		}}
	}
	return []readmodel.CollectionSpec{{
		Name:    ReferencesCollection,
		Indexes: []readmodel.Index{index("by_team_target", "target"), index("by_team_source", "source")},
	}}
}

// ReferenceID is the _id of the reference row from a finding to its scan.
func ReferenceID(team, findingID, scanID string) string {
	return Key(team, TypeFinding+":"+findingID+"->"+TypeScan+":"+scanID)
}

// Apply implements projections.Projection.
func (CrossModuleReferences) Apply(_ context.Context, tx projections.Tx, ev projections.Event) error {
	data, err := eventData(ev)
	if err != nil {
		return fmt.Errorf("%s: %w", CrossModuleReferencesName, err)
	}
	e, ok := data.(csdomain.FindingRaised)
	if !ok || e.FindingID == "" || e.ScanID == "" {
		return nil
	}
	team := ev.Metadata.TeamID
	tx.Put(ReferencesCollection, readmodel.Doc{
		"_id":           ReferenceID(team, e.FindingID, e.ScanID),
		"team_id":       team,
		"source_module": ModuleCloudSecurity,
		"source_type":   TypeFinding,
		"source_id":     e.FindingID,
		"target_module": ModuleOrchestration,
		"target_type":   TypeScan,
		"target_id":     e.ScanID,
		"relation":      RelationRaisedIn,
		"recorded_at":   readmodel.NormalizeTime(ev.RecordedAt),
		"position":      ev.Position,
	})
	return nil
}

package eventstore_test

import (
	"time"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
)

// aigovernanceEventSamples are the AI governance module's events with
// every field set (TestDomainCodecRoundTrip).
func aigovernanceEventSamples(when time.Time) []interface{ EventType() string } {
	return []interface{ EventType() string }{
		ai.ModelRegistered{ModelID: "m1", Name: "n", Version: "1", Provider: "p", Purpose: "pu", DataCategories: []string{"personal"},
			Owner: "o", Status: ai.StatusDevelopment, Assets: []string{"i-1"}, RegisteredAt: when},
		ai.ModelVersionReleased{ModelID: "m1", Version: "2", PreviousVersion: "1", Notes: "n", ReleasedAt: when},
		ai.ModelStatusChanged{ModelID: "m1", From: ai.StatusDevelopment, To: ai.StatusStaging, ChangedBy: "u", ChangedAt: when},
		ai.ModelAssetsLinked{ModelID: "m1", Assets: []string{"i-2"}, LinkedAt: when},
		ai.ModelAssetsUnlinked{ModelID: "m1", Assets: []string{"i-2"}, UnlinkedAt: when},
		ai.ModelRetired{ModelID: "m1", From: ai.StatusStaging, Reason: "r", RetiredBy: "u", RetiredAt: when},
		ai.ModelRiskClassified{ModelID: "m1", RiskClass: ai.HighRisk, PreviousClass: ai.Limited, Rationale: "r", ClassifiedBy: "u", ClassifiedAt: when},
		ai.TransparencyDeclared{ModelID: "m1", Met: []string{"art50-1"}, NotApplicable: []string{"art50-4"}, DeclaredBy: "u", DeclaredAt: when},
		ai.BiasTestDefined{TestID: "b1", ModelID: "m1", Name: "n", Metric: ai.DemographicParityDifference, Attribute: "sex",
			Groups: []string{"f", "m"}, Threshold: 0.1, Direction: ai.LowerIsBetter, DefinedAt: when},
		ai.BiasTestRunRecorded{TestID: "b1", RunID: "r1", ModelID: "m1", ModelVersion: "1", Dataset: "d", Metric: ai.DemographicParityDifference,
			Threshold: 0.1, Direction: ai.LowerIsBetter, Value: 0.05, Passed: true,
			Groups: []ai.GroupResult{{Group: "f", Positive: 45, Total: 100, Rate: 0.45, Gap: 0.05, Passed: true}}, RanAt: when},
		ai.ModelIncidentReported{IncidentID: "i1", ModelID: "m1", Title: "t", Description: "d", Severity: ai.SeverityHigh, ReportedBy: "u", ReportedAt: when},
		ai.ModelIncidentStatusChanged{IncidentID: "i1", ModelID: "m1", From: ai.IncidentOpen, To: ai.IncidentMitigated, Note: "n", ChangedBy: "u", ChangedAt: when},
	}
}

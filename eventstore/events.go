package eventstore

import (
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/domain/privacy"
	"github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/domain/vulnerabilities"
)

// domainEvent is what every domain event type has: its stored type name.
type domainEvent interface{ EventType() string }

// domainEvents lists every domain event at its current schema version, with
// the upcasters from older versions. A new event type, or a new schema
// version of one, is added here (events_test.go round-trips every entry).
var domainEvents = []struct {
	sample    domainEvent
	version   int
	upcasters map[int]Upcaster
}{
	{sample: orchestration.ScanRequested{}, version: 1},
	{sample: orchestration.ScanStarted{}, version: 1},
	{sample: orchestration.ScanCompleted{}, version: 1},
	{sample: orchestration.ScanFailed{}, version: 1},
	// Scan jobs (docs/scan-jobs.md): on the ScanRun stream of a run planned with jobs.
	{sample: orchestration.ScanJobsPlanned{}, version: 1},
	{sample: orchestration.ScanJobSplit{}, version: 1},
	{sample: orchestration.ScanJobDispatched{}, version: 1},
	{sample: orchestration.ScanJobStarted{}, version: 1},
	{sample: orchestration.ScanJobRetried{}, version: 1},
	{sample: orchestration.ScanJobHeartbeat{}, version: 1},
	{sample: orchestration.ScanJobSucceeded{}, version: 1},
	{sample: orchestration.ScanJobFailed{}, version: 1},
	{sample: orchestration.ScanJobTimedOut{}, version: 1},
	{sample: orchestration.ScanJobCancelled{}, version: 1},
	{sample: orchestration.ScanRunCancelled{}, version: 1},
	{sample: orchestration.ScanRunFinished{}, version: 1},
	{sample: cloudsecurity.FindingRaised{}, version: 1},
	{sample: cloudsecurity.FindingResolved{}, version: 1},
	{sample: cloudsecurity.FindingSuppressed{}, version: 1},
	{sample: cloudsecurity.ImportStarted{}, version: 1},
	{sample: cloudsecurity.ChecksDescribed{}, version: 1},
	{sample: cloudsecurity.ResultsRecorded{}, version: 1},
	{sample: cloudsecurity.ImportCompleted{}, version: 1},
	{sample: cloudsecurity.ImportRejected{}, version: 1},
	// Native scanners' certificates (docs/security-scans.md, decision 60).
	{sample: cloudsecurity.CertificatesObserved{}, version: 1},
	{sample: cloudsecurity.MutingRuleCreated{}, version: 1},
	{sample: cloudsecurity.MutingRuleChanged{}, version: 1},
	{sample: cloudsecurity.MutingRuleRemoved{}, version: 1},
	{sample: cloudsecurity.MutingRuleExpired{}, version: 1},
	// Cloud assets: inventory imports (docs/assets.md).
	{sample: cloudassets.InventoryStarted{}, version: 1},
	{sample: cloudassets.InventoryRecorded{}, version: 1},
	{sample: cloudassets.InventoryCompleted{}, version: 1},
	{sample: cloudassets.InventoryRejected{}, version: 1},
	// Cloud accounts (docs/accounts.md).
	{sample: cloudsecurity.CloudAccountRegistered{}, version: 1},
	{sample: cloudsecurity.CloudAccountRenamed{}, version: 1},
	{sample: cloudsecurity.CloudAccountTagged{}, version: 1},
	{sample: cloudsecurity.CloudAccountRetired{}, version: 1},
	{sample: access.APIKeyIssued{}, version: 1},
	{sample: access.APIKeyRevoked{}, version: 1},
	// Users of the legacy platform (cspm import-legacy, docs/legacy-import.md).
	{sample: access.UserImported{}, version: 1},
	// Vulnerabilities (Trivy imports, the catalog, image tags).
	{sample: vulnerabilities.ScanImportStarted{}, version: 1},
	{sample: vulnerabilities.ScanResultsRecorded{}, version: 1},
	{sample: vulnerabilities.ArtifactScanned{}, version: 1},
	{sample: vulnerabilities.ScanImportRejected{}, version: 1},
	{sample: vulnerabilities.VulnerabilityCataloged{}, version: 1},
	{sample: vulnerabilities.VulnerabilityUpdated{}, version: 1},
	{sample: vulnerabilities.ImageTagMoved{}, version: 1},

	// Threat intelligence: the KEV catalogue, indicators of compromise
	// (docs/threat-intelligence.md).
	{sample: threatintel.KEVEntryPublished{}, version: 1},
	{sample: threatintel.KEVEntryUpdated{}, version: 1},
	{sample: threatintel.KEVEntryWithdrawn{}, version: 1},
	{sample: threatintel.KEVCatalogueAccepted{}, version: 1},
	{sample: threatintel.KEVImportRejected{}, version: 1},
	{sample: threatintel.IndicatorCreated{}, version: 1},
	{sample: threatintel.IndicatorUpdated{}, version: 1},
	{sample: threatintel.IndicatorObserved{}, version: 1},
	{sample: threatintel.IndicatorExpired{}, version: 1},
	{sample: threatintel.IndicatorRevoked{}, version: 1},
	// SLA policies (docs/sla.md, decision 56).
	{sample: vulnerabilities.SLAPolicySet{}, version: 1},

	// Assessments: framework catalogues, requirement mappings, assessments
	// (docs/assessments.md, decisions 69-71).
	{sample: assessments.FrameworkVersionLoaded{}, version: 1},
	{sample: assessments.RequirementMappingLoaded{}, version: 1},
	{sample: assessments.AssessmentCreated{}, version: 1},
	{sample: assessments.RequirementAnswered{}, version: 1},
	{sample: assessments.AssessmentRescheduled{}, version: 1},
	{sample: assessments.AssessmentClosed{}, version: 1},
	// Business impact analysis: BIAs and their exercises (docs/bia.md,
	// decisions 72-73).
	{sample: bia.BIACreated{}, version: 1},
	{sample: bia.BIADetailsChanged{}, version: 1},
	{sample: bia.BusinessProcessAdded{}, version: 1},
	{sample: bia.BusinessProcessChanged{}, version: 1},
	{sample: bia.BusinessProcessRemoved{}, version: 1},
	{sample: bia.BIASubmittedForReview{}, version: 1},
	{sample: bia.BIAApproved{}, version: 1},
	{sample: bia.BIAReopened{}, version: 1},
	{sample: bia.ExercisePlanned{}, version: 1},
	{sample: bia.ExerciseRun{}, version: 1},
	{sample: bia.ExerciseCancelled{}, version: 1},
	{sample: bia.LessonLearnedRecorded{}, version: 1},
	{sample: bia.LessonLearnedUpdated{}, version: 1},
	// Risk management: the matrix, risks and their treatment, KRIs, risk
	// acceptances (docs/risk-management.md, decisions 66-68).
	{sample: risk.RiskMatrixDefined{}, version: 1},
	{sample: risk.RiskIdentified{}, version: 1},
	{sample: risk.RiskDescribed{}, version: 1},
	{sample: risk.RiskScored{}, version: 1},
	{sample: risk.RiskClosed{}, version: 1},
	{sample: risk.TreatmentPlanned{}, version: 1},
	{sample: risk.TreatmentTaskUpdated{}, version: 1},
	{sample: risk.KRIDefined{}, version: 1},
	{sample: risk.KRIMeasured{}, version: 1},
	{sample: risk.KRIRetired{}, version: 1},
	{sample: risk.ComputedKRIObserved{}, version: 1},
	{sample: risk.RiskAccepted{}, version: 1},
	{sample: risk.RiskAcceptanceRevoked{}, version: 1},
	{sample: risk.RiskAcceptanceExpired{}, version: 1},
	{sample: risk.AcceptedItemFixed{}, version: 1},
	// Integrations: definitions (secrets sealed), health checks, wizard
	// sessions, webhook deliveries, SLA breaches (docs/integrations.md).
	{sample: integrations.IntegrationCreated{}, version: 1},
	{sample: integrations.IntegrationChanged{}, version: 1},
	{sample: integrations.IntegrationRemoved{}, version: 1},
	{sample: integrations.IntegrationHealthChecked{}, version: 1},
	{sample: integrations.WizardStarted{}, version: 1},
	{sample: integrations.WizardStepSaved{}, version: 1},
	{sample: integrations.WizardCompleted{}, version: 1},
	{sample: integrations.WizardExpired{}, version: 1},
	{sample: integrations.WebhookDeliveryFailed{}, version: 1},
	{sample: integrations.WebhookDelivered{}, version: 1},
	{sample: integrations.SLABreachRecorded{}, version: 1},

	// AI governance: the model registry, EU AI Act classification, bias
	// tests, model incidents (docs/ai-governance.md, decisions 77-78).
	{sample: aigovernance.ModelRegistered{}, version: 1},
	{sample: aigovernance.ModelVersionReleased{}, version: 1},
	{sample: aigovernance.ModelStatusChanged{}, version: 1},
	{sample: aigovernance.ModelAssetsLinked{}, version: 1},
	{sample: aigovernance.ModelAssetsUnlinked{}, version: 1},
	{sample: aigovernance.ModelRetired{}, version: 1},
	{sample: aigovernance.ModelRiskClassified{}, version: 1},
	{sample: aigovernance.TransparencyDeclared{}, version: 1},
	{sample: aigovernance.BiasTestDefined{}, version: 1},
	{sample: aigovernance.BiasTestRunRecorded{}, version: 1},
	{sample: aigovernance.ModelIncidentReported{}, version: 1},
	{sample: aigovernance.ModelIncidentStatusChanged{}, version: 1},

	// Crypto-shredding: a data subject's key was destroyed (docs/privacy.md,
	// decisions 91-93).
	{sample: privacy.SubjectForgotten{}, version: 1},
}

// NewDomainCodec returns a codec that knows every domain event type under
// its stored name (EventType) at its current schema version.
func NewDomainCodec() *Codec {
	c := NewCodec()
	for _, e := range domainEvents {
		c.Register(e.sample.EventType(), e.sample, e.version, e.upcasters)
	}
	for _, p := range personalFields {
		c.RegisterPersonal(p.sample.EventType(), p.fields...)
	}
	return c
}

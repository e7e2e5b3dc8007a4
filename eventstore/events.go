package eventstore

import (
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/orchestration"
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
}

// NewDomainCodec returns a codec that knows every domain event type under
// its stored name (EventType) at its current schema version.
func NewDomainCodec() *Codec {
	c := NewCodec()
	for _, e := range domainEvents {
		c.Register(e.sample.EventType(), e.sample, e.version, e.upcasters)
	}
	return c
}

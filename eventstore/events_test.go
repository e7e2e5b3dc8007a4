package eventstore_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
)

// TestDomainCodecRoundTrip encodes every domain event with every field set,
// stores it the way adapters do (canonical JSON) and decodes it back.
func TestDomainCodecRoundTrip(t *testing.T) {
	t.Parallel()
	when := time.Date(2025, 3, 1, 12, 30, 15, 123456789, time.UTC)
	events := []interface{ EventType() string }{
		orchestration.ScanRequested{ScanID: "s1", AccountID: "acc-1", Provider: orchestration.ProviderGCP, Tool: "prowler", Target: "project-x", RequestedAt: when},
		orchestration.ScanStarted{ScanID: "s1", StartedAt: when},
		orchestration.ScanCompleted{ScanID: "s1", CompletedAt: when, ResourceCount: 7},
		orchestration.ScanFailed{ScanID: "s1", Reason: "timeout", FailedAt: when},
		cloudsecurity.FindingRaised{
			FindingID: "f1", ScanID: "s1", AccountID: "acc-1", CheckID: "c1", Title: "Open port", Severity: cloudsecurity.SeverityCritical,
			ResourceID: "r1", Region: "us-east-1", Description: "Port 22 is open to the world <0.0.0.0/0> & more", RaisedAt: when,
		},
		cloudsecurity.FindingResolved{FindingID: "f1", Reason: "closed", ResolvedAt: when},
		cloudsecurity.FindingSuppressed{FindingID: "f1", Reason: "accepted", Until: when.Add(time.Hour), SuppressedAt: when},
		access.APIKeyIssued{
			KeyID: "abcdefghijklmnop", Name: "ci <pipeline> & co", TeamID: "team-a", Role: access.Analyst,
			Salt: "000102030405060708090a0b0c0d0e0f", Hash: "3c7a0b4d", IssuedAt: when,
		},
		access.APIKeyRevoked{KeyID: "abcdefghijklmnop", Reason: "leaked", RevokedAt: when},
		cloudsecurity.ImportStarted{ImportID: "imp-1", ScanID: "s1", Format: "prowler-ocsf", Tool: "prowler", ToolVersion: "5.34.0",
			ContentHash: "ab", Size: 10, FileName: "scan.ocsf.json", StartedAt: when},
		cloudsecurity.ChecksDescribed{ImportID: "imp-1", EvaluatedAt: when, Checks: []cloudsecurity.CheckInfo{{
			CheckID: "c1", Title: "Trail <on>", Service: "cloudtrail", Severity: cloudsecurity.SeverityHigh, Description: "d", Risk: "r",
			Remediation: "fix", References: []string{"https://x"}, Compliance: map[string][]string{"CIS-3.0": {"3.1"}}, Categories: []string{"logging"},
		}}},
		cloudsecurity.ResultsRecorded{ImportID: "imp-1", ScanID: "s1", EvaluatedAt: when, IdentityRule: cloudsecurity.IdentityProwlerV1,
			Results: []cloudsecurity.CheckResult{{Provider: "aws", Account: "123", Region: "eu-west-1", Check: "c1", Resource: "arn:x",
				ResourceName: "x", ResourceType: "T", Tags: map[string]string{"env": "prod"}, Result: cloudsecurity.ResultFail,
				Severity: cloudsecurity.SeverityHigh, Muted: true, Detail: "d", ToolUID: "u", ObservedAt: when}}},
		cloudsecurity.ImportCompleted{ImportID: "imp-1", ScanID: "s1", EvaluatedAt: when, IdentityRule: cloudsecurity.IdentityProwlerV1,
			ObservedFrom: when, ObservedTo: when, Scopes: []cloudsecurity.EvaluatedScope{{Provider: "aws", Account: "123", Regions: []string{"eu-west-1"}, Checks: []string{"c1"}}},
			Counts: cloudsecurity.ImportCounts{Results: 1, ByResult: map[cloudsecurity.Result]int{cloudsecurity.ResultFail: 1},
				FailBySev: map[cloudsecurity.Severity]int{cloudsecurity.SeverityHigh: 1}, Checks: 1, Resources: 1, Accounts: 1, Chunks: 1, CheckInfos: 1},
			CompletedAt: when},
		cloudsecurity.ImportRejected{ImportID: "imp-2", Format: "prowler-csv", ContentHash: "cd", Size: 3, Reason: "line 2: bad", RejectedAt: when},
		cloudsecurity.CertificatesObserved{ImportID: "imp-3", ScanID: "scn-3", Tool: "sslyze", EvaluatedAt: when,
			Certificates: []cloudsecurity.CertificateSeen{{Target: "example.com:443", Cert: "cert1", Subject: "CN=example.com", NotBefore: when, NotAfter: when, FingerprintSHA256: "ab"}}},
		cloudassets.InventoryStarted{ImportID: "inv-1", Format: "steampipe-json", Tool: "steampipe", Table: "aws_s3_bucket", Sync: "complete", ContentHash: "ab", Size: 2, StartedAt: when},
		cloudassets.InventoryRecorded{ImportID: "inv-1", ObservedAt: when, IdentityRule: "asset/v1", Records: []cloudassets.Record{{AssetID: "ast-1", Key: "arn:aws:s3:::x", Type: "aws_s3_bucket", Provider: "aws", Hash: "h", Tags: map[string]string{"a": "b"}, Raw: []byte(`{"arn":"arn:aws:s3:::x"}`)}}},
		cloudassets.InventoryCompleted{ImportID: "inv-1", ObservedAt: when, IdentityRule: "asset/v1", Sync: "complete", Scopes: []cloudassets.Scope{{Provider: "aws", Account: "1", Region: "r", Type: "aws_s3_bucket"}}, Records: 1, Assets: 1, Chunks: 1, CompletedAt: when},
		cloudassets.InventoryRejected{ImportID: "inv-2", Format: "steampipe-json", Sync: "partial", ContentHash: "cd", Size: 3, Reason: "row 0: bad", RejectedAt: when},
		cloudsecurity.MutingRuleCreated{RuleID: "r1", Name: "dev", Reason: "sandbox <x>", Owner: "alice", Match: cloudsecurity.MuteMatch{
			FindingIDs: []string{"fnd-1"}, Checks: []string{"c"}, Resources: []string{"arn:r"}, Accounts: []string{"111"},
			Regions: []string{"eu-west-1"}, Tags: map[string]string{"env": "dev"}}, ExpiresAt: when.Add(time.Hour), CreatedAt: when},
		cloudsecurity.MutingRuleChanged{RuleID: "r1", Name: "dev", Reason: "r", Owner: "bob", Match: cloudsecurity.MuteMatch{Checks: []string{"c"}}, ChangedAt: when},
		cloudsecurity.MutingRuleRemoved{RuleID: "r1", Reason: "done", RemovedAt: when},
		cloudsecurity.MutingRuleExpired{RuleID: "r1", ExpiredAt: when},
		cloudsecurity.CloudAccountRegistered{AccountID: "acc-1", Provider: "aws", UID: "123456789012", Name: "prod", Organization: "o-1",
			Tags: map[string]string{"env": "prod"}, RegisteredAt: when},
		cloudsecurity.CloudAccountRenamed{AccountID: "acc-1", Name: "production", RenamedAt: when},
		cloudsecurity.CloudAccountTagged{AccountID: "acc-1", Tags: map[string]string{"kubernetes.io/cluster/x": "owned"}, TaggedAt: when},
		cloudsecurity.CloudAccountRetired{AccountID: "acc-1", Reason: "closed", RetiredAt: when},
		// Vulnerabilities.
		vulnerabilities.ScanImportStarted{ImportID: "vim-1", Format: "trivy-json", Tool: "trivy", ContentHash: "ab", Size: 10,
			ArtifactID: "art-1", Identity: vulnerabilities.ArtifactIdentity{Kind: vulnerabilities.ArtifactImage, Basis: vulnerabilities.BasisImageID, Key: "sha256:ab"},
			ScannedAt: when, StartedAt: when},
		vulnerabilities.ScanResultsRecorded{ImportID: "vim-1", ArtifactID: "art-1", IdentityRule: vulnerabilities.IdentityTrivyV1, ScannedAt: when,
			Occurrences: []vulnerabilities.Occurrence{{VulnerabilityID: "CVE-2019-1549", Package: vulnerabilities.Package{Class: vulnerabilities.ClassOS,
				Type: "alpine", Name: "libssl1.1", InstalledVersion: "1.1.1c-r0", Target: "alpine:3.10"}, FixedVersions: []string{"1.1.1d-r0"},
				Status: vulnerabilities.StatusFixed, Severity: vulnerabilities.SeverityMedium}},
			Secrets: []vulnerabilities.Secret{{RuleID: "aws-access-key-id", Severity: vulnerabilities.SeverityCritical, Target: ".env"}}},
		vulnerabilities.ArtifactScanned{ImportID: "vim-1", ArtifactID: "art-1", Artifact: vulnerabilities.Artifact{Kind: vulnerabilities.ArtifactImage,
			Name: "alpine:3.10", Tags: []string{"alpine:3.10"}, OS: vulnerabilities.OS{Family: "alpine", Name: "3.10.2", EOSL: true}},
			IdentityRule: vulnerabilities.IdentityTrivyV1, ScannedAt: when, Counts: vulnerabilities.ScanCounts{Occurrences: 1, Chunks: 1}, CompletedAt: when},
		vulnerabilities.ScanImportRejected{ImportID: "vim-2", ContentHash: "cd", Size: 3, Reason: "empty report", RejectedAt: when},
		vulnerabilities.VulnerabilityCataloged{Record: vulnerabilities.Record{ID: "CVE-2019-1549", Title: "t", Severity: vulnerabilities.SeverityMedium,
			CVSS: map[string]vulnerabilities.CVSS{"nvd": {V3Vector: "CVSS:3.1/AV:N", V3Score: 5.3}}}, ImportID: "vim-1", CatalogAt: when, ReportedAt: when},
		vulnerabilities.VulnerabilityUpdated{Record: vulnerabilities.Record{ID: "CVE-2019-1549", Title: "t2", Severity: vulnerabilities.SeverityMedium},
			Changed: []string{"title"}, ImportID: "vim-3", UpdatedAt: when, ReportedAt: when},
		vulnerabilities.ImageTagMoved{Tag: "alpine:3.10", From: "art-0", To: "art-1", ImportID: "vim-1", MovedAt: when},
		// Threat intelligence.
		threatintel.KEVEntryPublished{ImportID: "kev-1", CatalogueVersion: "2025.06.09", Entry: kevEntry(when), PublishedAt: when},
		threatintel.KEVEntryUpdated{ImportID: "kev-1", CatalogueVersion: "2025.06.09", Entry: kevEntry(when),
			Changed: []string{"knownRansomwareCampaignUse"}, RansomwareConfirmed: true, UpdatedAt: when},
		threatintel.KEVEntryWithdrawn{ImportID: "kev-1", CatalogueVersion: "2025.06.09", CVEID: "CVE-2025-4664", Entry: kevEntry(when), WithdrawnAt: when},
		threatintel.KEVCatalogueAccepted{ImportID: "kev-1", Format: "kev-json", FileHash: "sha256:ab", Size: 9, FileName: "kev.json",
			CatalogueVersion: "2025.06.09", ReleasedAt: when, ContentHash: "sha256:cd", Entries: 23, Published: 9, Updated: 9,
			Withdrawn: 1, Unchanged: 5, Forced: true, AcceptedAt: when},
		threatintel.KEVImportRejected{ImportID: "kev-2", Format: "kev-csv", FileHash: "sha256:ef", Size: 3, FileName: "k.csv", Reason: "truncated", RejectedAt: when},
		threatintel.IndicatorCreated{IndicatorID: "i1", Type: threatintel.TypeDomain, Value: "evil.example", RawValue: "Evil.Example.",
			Confidence: 80, Source: "feed <x>", Description: "d", ValidFrom: when, ValidUntil: when.Add(time.Hour), CreatedAt: when},
		threatintel.IndicatorUpdated{IndicatorID: "i1", Confidence: 70, Source: "s", Description: "d", ValidFrom: when, ValidUntil: when.Add(time.Hour), UpdatedAt: when},
		threatintel.IndicatorObserved{IndicatorID: "i1", Source: "sensor", ObservedAt: when, ValidUntil: when.Add(time.Hour)},
		threatintel.IndicatorExpired{IndicatorID: "i1", ExpiredAt: when},
		threatintel.IndicatorRevoked{IndicatorID: "i1", Reason: "fp", RevokedAt: when},
		// SLA policies.
		vulnerabilities.SLAPolicySet{Policy: vulnerabilities.SLAPolicy{Days: vulnerabilities.DefaultSLAPolicy().Days,
			Modules: map[string]vulnerabilities.SLADays{vulnerabilities.SLAModuleCloudFindings: {}}}, SetAt: when},
	}
	events = append(events, knowledgeBaseSamples(when)...) // events_knowledgebase_test.go
	codec := eventstore.NewDomainCodec()

	var names []string
	for _, ev := range events {
		names = append(names, ev.EventType())
	}
	sort.Strings(names)
	require.Equal(t, codec.Types(), names, "every registered event type has a sample here, and no other")

	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	for _, ev := range events {
		t.Run(ev.EventType(), func(t *testing.T) {
			t.Parallel()
			ne, err := codec.Encode(ev)
			require.NoError(t, err)
			assert.Equal(t, ev.EventType(), ne.Type)
			assert.Equal(t, 1, ne.SchemaVersion)

			var fields map[string]any
			require.NoError(t, json.Unmarshal(ne.Data, &fields))
			for name := range fields {
				assert.Regexp(t, snake, name, "stored field names are snake_case")
			}

			data, err := eventstore.CanonicalJSON(ne.Data)
			require.NoError(t, err)
			got, err := codec.Decode(eventstore.RecordedEvent{
				EventID: "e1", StreamID: "x", Version: 1, Type: ne.Type, SchemaVersion: ne.SchemaVersion, Data: data,
			})
			require.NoError(t, err)
			assert.Equal(t, ev, got)
		})
	}
}

func TestDomainCodecOptionalFieldsOmitted(t *testing.T) {
	t.Parallel()
	ne, err := eventstore.NewDomainCodec().Encode(cloudsecurity.FindingSuppressed{FindingID: "f1", Reason: "accepted"})
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(ne.Data, &fields))
	assert.NotContains(t, fields, "until", "a suppression with no end stores no until")
}

func kevEntry(when time.Time) threatintel.KEVEntry {
	day := time.Date(when.Year(), when.Month(), when.Day(), 0, 0, 0, 0, time.UTC)
	return threatintel.KEVEntry{CVEID: "CVE-2025-4664", VendorProject: "Google", Product: "Chromium", VulnerabilityName: "n",
		DateAdded: day, ShortDescription: "s", RequiredAction: "a", DueDate: day, Ransomware: threatintel.RansomwareKnown,
		Notes: "https://x", CWEs: []string{"CWE-346"}, ForensicTriage: "f"}
}

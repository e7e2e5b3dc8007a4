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
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/domain/privacy"
	"github.com/cspm-es/cspm-es/domain/risk"
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
		orchestration.ScanJobsPlanned{ScanID: "r1", MaxAttempts: 3, PlannedAt: when, Jobs: []orchestration.PlannedJob{{JobID: "j0001", Tool: "nuclei", Target: "https://a.example"}}},
		orchestration.ScanJobSplit{ScanID: "r1", JobID: "j0001", SplitAt: when, SubJobs: []orchestration.PlannedJob{{JobID: "j0001.1", Tool: "nuclei", Target: "https://a.example", Region: "eu", ParentID: "j0001"}}},
		orchestration.ScanJobDispatched{ScanID: "r1", JobID: "j0001", DispatchedAt: when},
		orchestration.ScanJobStarted{ScanID: "r1", JobID: "j0001", Attempt: 1, Worker: "w1", StartedAt: when},
		orchestration.ScanJobRetried{ScanID: "r1", JobID: "j0001", Attempt: 2, Reason: "lease expired", RetriedAt: when},
		orchestration.ScanJobHeartbeat{ScanID: "r1", JobID: "j0001", Attempt: 2, Progress: 50, BeatAt: when},
		orchestration.ScanJobSucceeded{ScanID: "r1", JobID: "j0001", Attempt: 2, ImportID: "imp-1", ReportScanID: "scn-1", SucceededAt: when},
		orchestration.ScanJobFailed{ScanID: "r1", JobID: "j0002", Attempt: 1, Reason: "exit 2", FailedAt: when},
		orchestration.ScanJobTimedOut{ScanID: "r1", JobID: "j0003", Attempt: 1, Reason: "ran over 5m", TimedOutAt: when},
		orchestration.ScanJobCancelled{ScanID: "r1", JobID: "j0004", CancelledAt: when},
		orchestration.ScanRunCancelled{ScanID: "r1", Reason: "operator", CancelledAt: when},
		orchestration.ScanRunFinished{ScanID: "r1", Outcome: orchestration.StatusPartial, Succeeded: 1, Failed: 2, Cancelled: 1, FinishedAt: when},
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
		access.UserImported{UserID: "usr-1", TeamID: "team-a", Email: "a@example.com", Name: "A <b> & c", Role: access.Admin,
			LegacyRole: "admin", Active: true, CreatedAt: when, LastLoginAt: when.Add(time.Hour)},
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
		// Business impact analysis.
		bia.BIACreated{BIAID: "b1", Details: biaDetails(when), Status: bia.StatusDraft, CreatedAt: when},
		bia.BIADetailsChanged{BIAID: "b1", Details: biaDetails(when), ChangedAt: when},
		bia.BusinessProcessAdded{BIAID: "b1", Process: biaProcess(), Progress: bia.Progress{Processes: 1, Complete: 1, Percent: 100}, AddedAt: when},
		bia.BusinessProcessChanged{BIAID: "b1", Process: biaProcess(), Progress: bia.Progress{Processes: 1, Complete: 1, Percent: 100}, ChangedAt: when},
		bia.BusinessProcessRemoved{BIAID: "b1", ProcessID: "p1", Name: "Payroll", Reason: "gone", Progress: bia.Progress{}, RemovedAt: when},
		bia.BIASubmittedForReview{BIAID: "b1", Revision: 3, Progress: bia.Progress{Processes: 1, Complete: 1, Percent: 100}, SubmittedAt: when},
		bia.BIAApproved{BIAID: "b1", Revision: 3, ApprovedBy: "key:k1", Comment: "ok", ApprovedAt: when},
		bia.BIAReopened{BIAID: "b1", From: bia.StatusApproved, Reason: "change", ReopenedAt: when},
		bia.ExercisePlanned{ExerciseID: "x1", BIAID: "b1", Title: "DR", Scenario: "outage", Owner: "it", PlannedFor: when, ProcessIDs: []string{"p1"}, PlannedAt: when},
		bia.ExerciseRun{ExerciseID: "x1", BIAID: "b1", StartedAt: when, EndedAt: when, Results: []bia.ProcessResult{{ProcessID: "p1", Name: "Payroll",
			RTO: biaMinutes(240), Recovery: 180, RTOMet: biaBool(true), RPO: biaMinutes(60), DataLoss: biaMinutes(90), RPOMet: biaBool(false), Notes: "n"}},
			Met: 1, Missed: 1, Outcome: bia.OutcomeFailed, Notes: "n", RecordedAt: when},
		bia.ExerciseCancelled{ExerciseID: "x1", Reason: "budget", CancelledAt: when},
		bia.LessonLearnedRecorded{ExerciseID: "x1", LessonID: "l1", Title: "t", Owner: "o", ProcessID: "p1", DueDate: when, Status: bia.LessonOpen,
			Progress: bia.LessonProgress{Lessons: 1}, RecordedAt: when},
		bia.LessonLearnedUpdated{ExerciseID: "x1", LessonID: "l1", Owner: "o", Status: bia.LessonDone, Progress: bia.LessonProgress{Lessons: 1, Done: 1}, UpdatedAt: when},
		// Risk management.
		risk.RiskMatrixDefined{Version: 1, Matrix: risk.DefaultMatrix(), DefinedAt: when},
		risk.RiskIdentified{RiskID: "r1", Title: "t", Owner: "o", Links: risk.Links{Assets: []string{"a"}}, IdentifiedAt: when},
		risk.RiskDescribed{RiskID: "r1", Title: "t", Owner: "o", ChangedAt: when},
		risk.RiskScored{RiskID: "r1", Kind: risk.Current, Score: risk.Score{Likelihood: "rare", Impact: "minor", Level: "low", LevelRank: 1}, ScoredAt: when},
		risk.RiskClosed{RiskID: "r1", Reason: "gone", ClosedAt: when},
		risk.TreatmentPlanned{RiskID: "r1", PlanID: "p1", Strategy: risk.Mitigate, Owner: "o", DueDate: when, Tasks: []risk.Task{{TaskID: "1", Title: "t", Status: risk.TaskTodo}}, PlannedAt: when},
		risk.TreatmentTaskUpdated{RiskID: "r1", PlanID: "p1", TaskID: "1", Status: risk.TaskDone, UpdatedAt: when},
		risk.KRIDefined{KRIID: "k1", Spec: risk.KRISpec{Name: "n", Unit: "u", Direction: risk.HigherIsWorse, Amber: 1, Red: 2, Source: risk.SourceManual}, DefinedAt: when},
		risk.KRIMeasured{KRIID: "k1", Value: 1.5, MeasuredAt: when},
		risk.KRIRetired{KRIID: "k1", RetiredAt: when},
		risk.ComputedKRIObserved{KRIID: "k1", Value: 3, State: risk.Red, MeasuredAt: when, ObservedAt: when},
		risk.RiskAccepted{AcceptanceID: "a1", Scope: risk.Scope{FindingIDs: []string{"f"}}, Reason: "r", Approver: "c", ExpiresAt: when, AcceptedAt: when},
		risk.RiskAcceptanceRevoked{AcceptanceID: "a1", RevokedAt: when},
		risk.RiskAcceptanceExpired{AcceptanceID: "a1", ExpiredAt: when},
		risk.AcceptedItemFixed{AcceptanceID: "a1", ItemID: "f", Module: risk.ModuleFindings, FixedAt: when},
		// Integrations (secrets only sealed).
		integrations.IntegrationCreated{IntegrationID: "i1", Name: "pager", Kind: integrations.KindWebhook, Config: map[string]string{"url": "https://h.example"},
			EventKinds: []integrations.EventKind{integrations.EventScanFailed}, Secret: integrations.Sealed{KeyID: "k1", Ciphertext: "Y3Q="}, CreatedAt: when},
		integrations.IntegrationChanged{IntegrationID: "i1", Name: "pager 2", Config: map[string]string{"url": "https://h.example"},
			EventKinds: []integrations.EventKind{integrations.EventSLABreach}, Secret: integrations.Sealed{KeyID: "k2", Ciphertext: "Y3Q="}, ChangedAt: when},
		integrations.IntegrationRemoved{IntegrationID: "i1", RemovedAt: when},
		integrations.IntegrationHealthChecked{IntegrationID: "i1", Result: integrations.HealthDown, LatencyMS: 1.25, Error: "refused", Method: "tcp_connect", CheckedAt: when},
		integrations.WizardStarted{WizardID: "w1", Kind: integrations.KindChat, Steps: []string{"basics"}, StartedAt: when, ExpiresAt: when},
		integrations.WizardStepSaved{WizardID: "w1", Step: "basics", Data: map[string]string{"name": "n"}, SavedAt: when, ExpiresAt: when},
		integrations.WizardCompleted{WizardID: "w1", IntegrationID: "w1", CompletedAt: when},
		integrations.WizardExpired{WizardID: "w1", ExpiredAt: when},
		integrations.WebhookDeliveryFailed{DeliveryID: "whd-1", IntegrationID: "i1", EventID: "e1", Attempt: 1, StatusCode: 503, Error: "e", LatencyMS: 2.5, AttemptedAt: when, NextAttemptAt: when},
		integrations.WebhookDelivered{DeliveryID: "whd-1", IntegrationID: "i1", EventID: "e1", Attempt: 2, StatusCode: 204, LatencyMS: 2.5, DeliveredAt: when},
		integrations.SLABreachRecorded{BreachID: "slb-1", ClockID: "c", Module: "vulnerabilities", Severity: "high", VulnerabilityID: "CVE-1",
			ArtifactID: "a", Check: "k", Resource: "r", KEV: true, DueAt: when, RecordedAt: when},
	}
	events = append(events, assessmentEventSamples(when)...)
	events = append(events, aigovernanceEventSamples(when)...)
	events = append(events, knowledgeBaseSamples(when)...) // events_knowledgebase_test.go
	events = append(events, privacy.SubjectForgotten{SubjectID: "0123456789abcdef0123456789abcdef01234567", KeyExisted: true, ForgottenAt: when})
	events = append(events, retentionSamples(when)...) // events_retention_test.go
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

func biaDetails(when time.Time) bia.Details {
	return bia.Details{Title: "Finance", Description: "d", Owner: "cfo", DueDate: when}
}

func biaMinutes(m bia.Minutes) *bia.Minutes { return &m }

func biaBool(b bool) *bool { return &b }

func biaProcess() bia.Process {
	amount := 1000.5
	p := bia.Process{ProcessID: "p1", Name: "Payroll", Owner: "hr", Description: "d", Criticality: bia.CriticalityHigh,
		Impacts: []bia.Threshold{{Category: bia.Financial, After: 60, Level: bia.LevelLow, Amount: &amount, Unit: "EUR"}}}
	p.RTO, p.RPO, p.MTD = biaMinutes(240), biaMinutes(0), biaMinutes(1440)
	p.Assets, p.Suppliers = []string{"a1"}, []bia.Supplier{{Name: "PayCo", Service: "s"}}
	return p
}

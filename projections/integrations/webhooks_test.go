package integrations_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cs "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	orch "github.com/cspm-es/cspm-es/domain/orchestration"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/projections"
	inproj "github.com/cspm-es/cspm-es/projections/integrations"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// ev is one event of team at position pos, with a unique id.
func ev(team string, pos int64, data pt.EventData) projections.Event {
	return projections.Event{RecordedEvent: eventstore.RecordedEvent{EventID: "ev-" + itoa(pos), Type: data.EventType(), Position: pos,
		Metadata: eventstore.Metadata{TeamID: team}, RecordedAt: pt.At(time.Duration(pos) * time.Second)}, Data: data}
}

func itoa(n int64) string { return fmt.Sprintf("%03d", n) }

func hook(id string, kinds ...in.EventKind) in.IntegrationCreated {
	return in.IntegrationCreated{IntegrationID: id, Name: id, Kind: in.KindWebhook, Config: map[string]string{"url": "https://h.example"},
		EventKinds: kinds, Secret: in.Sealed{KeyID: "k", Ciphertext: "c"}, CreatedAt: pt.T0}
}

type payload struct {
	DeliveryID string         `json:"delivery_id"`
	EventKind  string         `json:"event_kind"`
	EventID    string         `json:"event_id"`
	TeamID     string         `json:"team_id"`
	Data       map[string]any `json:"data"`
}

// deliveries lists the outbox's deliveries by integration, with payloads.
func deliveries(t *testing.T, tx *pt.MemTx) map[string][]payload {
	t.Helper()
	out := map[string][]payload{}
	for id, d := range tx.Colls[inproj.DeliveriesCollection] {
		var p payload
		require.NoError(t, json.Unmarshal([]byte(d["body"].(string)), &p))
		assert.Equal(t, id, p.DeliveryID)
		out[d["integration_id"].(string)] = append(out[d["integration_id"].(string)], p)
	}
	return out
}

func TestWebhooks_ScanFailedGoesToTheTeamsSubscribersAsOfTheEvent(t *testing.T) {
	t.Parallel()
	p := inproj.NewWebhooks()
	tx := pt.Apply(t, p,
		ev("team-a", 1, orch.ScanFailed{ScanID: "before", Reason: "r", FailedAt: pt.T0}), // before any subscription
		ev("team-a", 2, hook("h1", in.EventScanFailed)),
		ev("team-a", 3, hook("h2", in.EventSLABreach)),  // another kind
		ev("team-b", 4, hook("hb", in.EventScanFailed)), // another team
		ev("team-a", 5, orch.ScanFailed{ScanID: "s1", Reason: "crashed", FailedAt: pt.T0}),
		ev("team-a", 6, in.IntegrationRemoved{IntegrationID: "h1", RemovedAt: pt.T0}),
		ev("team-a", 7, orch.ScanFailed{ScanID: "after", Reason: "r", FailedAt: pt.T0}),
	)
	got := deliveries(t, tx)
	require.Len(t, got["h1"], 1)
	assert.Empty(t, got["h2"])
	assert.Empty(t, got["hb"])
	assert.Equal(t, "scan_run_failed", got["h1"][0].EventKind)
	assert.Equal(t, "s1", got["h1"][0].Data["scan_id"])
	assert.Equal(t, "team-a", got["h1"][0].TeamID)
	d := tx.Doc(t, inproj.DeliveriesCollection, in.DeliveryID("h1", "ev-005"))
	assert.Equal(t, "pending", d["status"])

	// The attempts fold back into the delivery; after the acknowledgement
	// nothing changes it.
	id := in.DeliveryID("h1", "ev-005")
	failed := in.WebhookDeliveryFailed{DeliveryID: id, IntegrationID: "h1", EventID: "ev-005", Attempt: 1, StatusCode: 503, Error: "receiver answered 503", AttemptedAt: pt.At(10 * time.Second), NextAttemptAt: pt.At(15 * time.Second)}
	ok := in.WebhookDelivered{DeliveryID: id, IntegrationID: "h1", EventID: "ev-005", Attempt: 2, StatusCode: 204, DeliveredAt: pt.At(20 * time.Second)}
	require.NoError(t, p.Apply(t.Context(), tx, ev("team-a", 8, failed)))
	d = tx.Doc(t, inproj.DeliveriesCollection, id)
	assert.Equal(t, "pending", d["status"])
	assert.EqualValues(t, 1, d["attempts"])
	assert.Equal(t, pt.At(15*time.Second), d["next_attempt_at"])
	require.NoError(t, p.Apply(t.Context(), tx, ev("team-a", 9, ok)))
	require.NoError(t, p.Apply(t.Context(), tx, ev("team-a", 10, failed)))
	d = tx.Doc(t, inproj.DeliveriesCollection, id)
	assert.Equal(t, "delivered", d["status"])
	assert.EqualValues(t, 2, d["attempts"])
	assert.EqualValues(t, 204, d["last_status_code"])
}

func TestWebhooks_CriticalFindingRaisedOnceUntilItPasses(t *testing.T) {
	t.Parallel()
	res := func(result cs.Result, sev cs.Severity, muted bool) cs.ResultsRecorded {
		return cs.ResultsRecorded{ImportID: "imp", ScanID: "s", EvaluatedAt: pt.T0, IdentityRule: cs.IdentityProwlerV1, Results: []cs.CheckResult{
			{Provider: "aws", Account: "1", Region: "eu-west-1", Check: "c", Resource: "arn:r", Result: result, Severity: sev, Muted: muted, ObservedAt: pt.T0}}}
	}
	tx := pt.Apply(t, inproj.NewWebhooks(),
		ev("team-a", 1, hook("h", in.EventCriticalFinding)),
		ev("team-a", 2, res(cs.ResultFail, cs.SeverityCritical, false)), // raised
		ev("team-a", 3, res(cs.ResultFail, cs.SeverityCritical, false)), // still failing: nothing
		ev("team-a", 4, res(cs.ResultFail, cs.SeverityHigh, false)),     // not critical
		ev("team-a", 5, res(cs.ResultPass, cs.SeverityCritical, false)), // fixed
		ev("team-a", 6, res(cs.ResultFail, cs.SeverityCritical, true)),  // muted by the tool
		ev("team-a", 7, res(cs.ResultFail, cs.SeverityCritical, false)), // raised again
		ev("team-a", 8, cs.FindingRaised{FindingID: "f-api", Severity: cs.SeverityCritical, CheckID: "c", Title: "t", ResourceID: "r", RaisedAt: pt.T0}),
		ev("team-a", 9, cs.FindingRaised{FindingID: "f-low", Severity: cs.SeverityLow, CheckID: "c", Title: "t", ResourceID: "r", RaisedAt: pt.T0}),
	)
	got := deliveries(t, tx)["h"]
	var refs []string
	for _, p := range got {
		refs = append(refs, p.EventID)
		assert.Equal(t, "critical_finding_raised", p.EventKind)
	}
	assert.ElementsMatch(t, []string{"ev-002#0", "ev-007#0", "ev-008"}, refs)
}

func TestWebhooks_KEVOccurrenceFlaggedInEitherOrder(t *testing.T) {
	t.Parallel()
	occ := vuln.ScanResultsRecorded{ImportID: "imp", ArtifactID: "art-1", ScannedAt: pt.T0, Occurrences: []vuln.Occurrence{
		{VulnerabilityID: "CVE-2024-3094", Package: vuln.Package{Name: "xz-libs"}, Severity: vuln.SeverityCritical},
		{VulnerabilityID: "CVE-2024-3094", Package: vuln.Package{Name: "xz"}, Severity: vuln.SeverityCritical}, // the same CVE twice: one flag
		{VulnerabilityID: "CVE-2000-0001", Package: vuln.Package{Name: "other"}, Severity: vuln.SeverityLow}}}
	kev := ti.KEVEntryPublished{ImportID: "k", Entry: ti.KEVEntry{CVEID: "CVE-2024-3094", VendorProject: "Tukaani", Product: "xz",
		VulnerabilityName: "backdoor", Ransomware: ti.RansomwareUnknown, DueDate: pt.T0}, PublishedAt: pt.T0}
	for name, order := range map[string][]pt.EventData{
		"KEV first":        {kev, occ, occ},
		"occurrence first": {occ, kev, occ},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			events := []projections.Event{ev("team-a", 1, hook("h", in.EventKEVOccurrence)), ev("team-b", 2, hook("hb", in.EventKEVOccurrence))}
			for i, d := range order {
				team := "team-a"
				if _, isKEV := d.(ti.KEVEntryPublished); isKEV {
					team = "team-admin"
				}
				events = append(events, ev(team, int64(3+i), d))
			}
			got := deliveries(t, pt.Apply(t, inproj.NewWebhooks(), events...))
			require.Len(t, got["h"], 1, "one flag per team and CVE")
			assert.Empty(t, got["hb"], "team B has no occurrence")
			p := got["h"][0]
			assert.Equal(t, "CVE-2024-3094", p.Data["cve_id"])
			assert.Equal(t, "xz-libs", p.Data["package"])
			assert.Equal(t, "backdoor", p.Data["kev"].(map[string]any)["vulnerability_name"])
		})
	}
}

func TestWebhooks_SLABreach(t *testing.T) {
	t.Parallel()
	got := deliveries(t, pt.Apply(t, inproj.NewWebhooks(),
		ev("team-a", 1, hook("h", in.EventSLABreach, in.EventScanFailed)),
		ev("team-a", 2, in.SLABreachRecorded{BreachID: "b", ClockID: "clk", Module: "vulnerabilities", Severity: "high", DueAt: pt.T0, RecordedAt: pt.T0}),
	))
	require.Len(t, got["h"], 1)
	assert.Equal(t, "sla_breached", got["h"][0].EventKind)
	assert.Equal(t, "clk", got["h"][0].Data["clock_id"])
}

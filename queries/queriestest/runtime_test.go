package queriestest

import (
	"context"
	"fmt"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	indomain "github.com/cspm-es/cspm-es/domain/integrations"
	kbdomain "github.com/cspm-es/cspm-es/domain/knowledgebase"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	riskdomain "github.com/cspm-es/cspm-es/domain/risk"
	tidomain "github.com/cspm-es/cspm-es/domain/threatintel"
	vulndomain "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// TestReadModelsThroughTheRuntime stores the test world in a real event
// store and rebuilds every projection with the projector runtime (real
// codec, batch Tx, shadow collections and swap). The read models must
// equal the ones Env.Seed builds through the map-backed Tx from the same
// recorded events, so the query tests hold for what the runtime builds; a
// second rebuild must change nothing (rebuild equivalence).
func TestReadModelsThroughTheRuntime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	events, codec := worldStore(t, dir)
	recorded, err := events.ReadAll(ctx, 0, 100000)
	require.NoError(t, err)
	var decoded []projections.Event
	for _, rec := range recorded {
		data, err := codec.Decode(rec)
		require.NoError(t, err)
		decoded = append(decoded, projections.Event{RecordedEvent: rec, Data: data})
	}
	want := NewEnv(t, decoded)

	got := OpenEnv(t, filepath.Join(dir, "runtime"))
	t.Cleanup(func() { got.Close(t) })
	stores := map[dbregistry.Constant]readmodel.Store{}
	for c, s := range got.Stores {
		stores[c] = s
	}
	rt := projections.NewRuntime(projections.RuntimeConfig{RebuildBatch: 37},
		projections.RuntimeDeps{Events: events, Codec: codec, Stores: stores, Logger: slog.New(slog.DiscardHandler)})
	for _, p := range AllProjections() {
		rt.Register(p)
	}
	require.NoError(t, rt.RebuildAll(ctx, nil))
	requireSameReadModels(t, want, got)
	require.NoError(t, rt.RebuildAll(ctx, nil))
	requireSameReadModels(t, want, got)
	// Across the archive boundary: the same log, archived, rebuilds the same (runtime_archive_test.go).
	requireSameAfterArchiving(t, events, codec, want, filepath.Join(dir, "archived"))
	// The KEV join flagged the alpine image's CVE-2019-1549 (listed before the import).
	flagged, err := got.Stores[dbregistry.VULNERABILITIES].Count(ctx, "occurrences", readmodel.Eq("kev", true))
	require.NoError(t, err)
	require.EqualValues(t, 2, flagged, "libcrypto1.1 and libssl1.1")
}

// appendWorld appends the rebuild-equivalence world to events: every
// module's projections get documents in every collection.
// worldStore is an event store in dir holding the test world, and its codec.
func worldStore(t *testing.T, dir string) (*sqlite.Store, *eventstore.Codec) {
	t.Helper()
	events, err := sqlite.Open(context.Background(), filepath.Join(dir, "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, events.Close()) })
	codec := eventstore.NewDomainCodec()
	appendWorld(t, events, codec)
	return events, codec
}

func appendWorld(t testing.TB, events eventstore.Store, codec *eventstore.Codec) {
	t.Helper()
	ctx := context.Background()
	world := WorldEvents().Events
	// Imports, in a team of their own so the other tests' world is the same:
	// every collection of the import folds gets documents.
	// A muting rule there too, before the imports: the muting collections
	// (muting_rules, muting_index, the deltas' rules) get documents.
	rule := csdomain.MutingRuleCreated{RuleID: "rule-1", Name: "bedrock", Reason: "planned", Owner: "o",
		Match: csdomain.MuteMatch{Checks: []string{"cloudtrail_bedrock_logging_enabled"}}, CreatedAt: pt.T0}
	world = append(world, projections.Event{RecordedEvent: eventstore.RecordedEvent{Metadata: eventstore.Metadata{TeamID: "team-imports"}}, Data: rule})
	// The checks map to CIS-5.0 (the compliance collections get
	// documents), and an import is under way (its working document).
	mapped := func(imp []pt.EventData) []pt.EventData {
		out := slices.Clone(imp)
		for i, d := range out {
			if cd, ok := d.(csdomain.ChecksDescribed); ok {
				cd.Checks = slices.Clone(cd.Checks)
				for j := range cd.Checks {
					cd.Checks[j].Compliance = map[string][]string{"CIS-5.0": {fmt.Sprintf("3.%d", j%3+1)}}
				}
				out[i] = cd
			}
		}
		return out
	}
	underway := csdomain.ChecksDescribed{ImportID: "imp-underway", EvaluatedAt: pt.T0,
		Checks: []csdomain.CheckInfo{{CheckID: "c", Compliance: map[string][]string{"CIS-5.0": {"1.1"}}}}}
	// A third import whose resource names a domain: the correlation's
	// collections get documents.
	scan3 := pt.ImportEvents("scan-3", 3, 4, pt.Result("route53_dangling_ip_subdomain_takeover", "us-east-1",
		"arn:aws:route53:::hostedzone/Z1/Evil.Example.COM", csdomain.ResultFail, csdomain.SeverityHigh))
	for _, imp := range [][]pt.EventData{mapped(pt.PairScan1()), mapped(pt.PairScan2()), {underway}, scan3} {
		for _, d := range imp {
			world = append(world, projections.Event{RecordedEvent: eventstore.RecordedEvent{Metadata: eventstore.Metadata{TeamID: "team-imports"}}, Data: d})
		}
	}
	// A native scanner's import (testssl.sh-shaped, with a certificate and
	// a scan problem): the security-scans collections get documents.
	for _, d := range securityScanWorld() {
		world = append(world, projections.Event{RecordedEvent: eventstore.RecordedEvent{Metadata: eventstore.Metadata{TeamID: "team-scans"}}, Data: d})
	}
	// Two complete inventory syncs (the second no longer lists the
	// bucket): the assets projection's collections get documents, and the
	// real trail is one asset with the findings on it.
	world = append(world, inventoryWorld("team-imports")...)
	// The KEV catalogue (two imports: published, updated, withdrawn) and an
	// indicator: the threat-intelligence collections get documents.
	for _, d := range threatIntelWorld(t) {
		world = append(world, projections.Event{RecordedEvent: eventstore.RecordedEvent{Metadata: eventstore.Metadata{TeamID: "team-imports"}}, Data: d})
	}
	// Two teams' knowledge-base documents sharing a chunk text, one
	// updated, a third removed, and a vector of the shared text: the
	// knowledge base's collections get documents.
	world = append(world, knowledgeBaseWorld(t)...)
	for _, ev := range world {
		streamID, streamType := "finding-", "Finding"
		switch d := ev.Data.(type) {
		case orchdomain.ScanRequested:
			streamID, streamType = "scan-"+d.ScanID, "ScanRun"
		case orchdomain.ScanStarted:
			streamID, streamType = "scan-"+d.ScanID, "ScanRun"
		case orchdomain.ScanCompleted:
			streamID, streamType = "scan-"+d.ScanID, "ScanRun"
		case orchdomain.ScanFailed:
			streamID, streamType = "scan-"+d.ScanID, "ScanRun"
		case csdomain.FindingRaised:
			streamID += d.FindingID
		case csdomain.FindingResolved:
			streamID += d.FindingID
		case csdomain.FindingSuppressed:
			streamID += d.FindingID
		case csdomain.MutingRuleCreated:
			streamID, streamType = "mutingrule-"+d.RuleID, "MutingRule"
		case csdomain.ChecksDescribed:
			streamID, streamType = "import-"+d.ImportID, "Import"
		case csdomain.ImportStarted:
			streamID, streamType = "import-"+d.ImportID, "Import"
		case csdomain.CertificatesObserved:
			streamID, streamType = "import-"+d.ImportID, "Import"
		case csdomain.ResultsRecorded:
			streamID, streamType = "import-"+d.ImportID, "Import"
		case csdomain.ImportCompleted:
			streamID, streamType = "import-"+d.ImportID, "Import"
		case cadomain.InventoryRecorded:
			streamID, streamType = "inventory-"+d.ImportID, "Inventory"
		case cadomain.InventoryCompleted:
			streamID, streamType = "inventory-"+d.ImportID, "Inventory"
		case tidomain.KEVEntryPublished, tidomain.KEVEntryUpdated, tidomain.KEVEntryWithdrawn, tidomain.KEVCatalogueAccepted:
			streamID, streamType = "kev-catalogue", "KEVCatalogue"
		case tidomain.IndicatorCreated:
			streamID, streamType = "indicator-"+d.IndicatorID, "Indicator"
		case tidomain.IndicatorObserved:
			streamID, streamType = "indicator-"+d.IndicatorID, "Indicator"
		case kbdomain.DocumentAdded:
			streamID, streamType = "kbdoc-"+d.DocumentID, "KnowledgeDocument"
		case kbdomain.DocumentUpdated:
			streamID, streamType = "kbdoc-"+d.DocumentID, "KnowledgeDocument"
		case kbdomain.DocumentRemoved:
			streamID, streamType = "kbdoc-"+d.DocumentID, "KnowledgeDocument"
		case kbdomain.EmbeddingRecorded:
			streamID, streamType = "embedding-"+d.ContentHash, "Embedding"
		}
		ne, err := codec.Encode(ev.Data)
		require.NoError(t, err)
		_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: streamID, StreamType: streamType, Expected: eventstore.Any,
			Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: ev.Metadata.TeamID}})
		require.NoError(t, err)
	}
	// The scan-engine world (a run with jobs running, failed, timed out and
	// split; certificates from testssl.sh, SSLyze and the TLS probe): the
	// scan-job and dashboard scan-engine collections get documents.
	for _, st := range ScanEngineWorld() {
		for _, d := range st.Data {
			ne, err := codec.Encode(d)
			require.NoError(t, err)
			_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: st.StreamID, StreamType: st.StreamType, Expected: eventstore.Any,
				Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: "team-engine"}})
			require.NoError(t, err)
		}
	}
	// Trivy imports (vulnerabilities, container registries): an image
	// from a registry, then an fs scan with misconfigurations and secrets,
	// as the command appends them.
	// The Trivy team's webhook, listening to every kind (the outbox keeps
	// its occurrences' CVEs; the KEV entry below flags one).
	hookEvent, err := codec.Encode(indomain.IntegrationCreated{IntegrationID: "int-1", Name: "hook", Kind: indomain.KindWebhook,
		Config: map[string]string{"url": "https://hooks.example"}, EventKinds: indomain.EventKinds, Secret: indomain.Sealed{KeyID: "k1", Ciphertext: "c2VhbGVk"}, CreatedAt: pt.T0})
	require.NoError(t, err)
	_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: "integration-int-1", StreamType: "Integration", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{hookEvent}, Metadata: eventstore.Metadata{TeamID: "team-trivy", Actor: "test", CommandID: "hook"}})
	require.NoError(t, err)
	var reports []TrivyImport
	for _, name := range []string{"trivy_image_alpine-3.10_registry_with_repodigests.json", "trivy_fs_misconfig_secrets_defectdojo.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "trivy", "testdata", name))
		require.NoError(t, err)
		reports = append(reports, TrivyImport{Team: "team-trivy", Report: b})
	}
	for _, ev := range TrivyEvents(t, reports...) {
		_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: ev.StreamID, StreamType: ev.StreamType, Expected: eventstore.Any,
			Events: []eventstore.NewEvent{{Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.RecordedEvent.Data}}, Metadata: ev.Metadata})
		require.NoError(t, err)
	}
	// SLA clocks: the Trivy team's policy, then a KEV entry for one of
	// its CVEs (its clocks recomputed in the KEV event's pass).
	days := func(n int) *int { return &n }
	for _, d := range []struct {
		stream, typ, team string
		data              pt.EventData
	}{
		{"slapolicy-team-trivy", "SLAPolicySet", "team-trivy", vulndomain.SLAPolicySet{Policy: vulndomain.SLAPolicy{Days: vulndomain.SLADays{Critical: days(3), Medium: days(20)}}, SetAt: pt.T0}},
		// Integrations: a check of the Trivy team's webhook, a wizard, a
		// critical finding and a recorded SLA breach.
		{"integrationhealth-int-1-d", "IntegrationHealth", "team-trivy", indomain.IntegrationHealthChecked{IntegrationID: "int-1", Result: indomain.HealthUp, LatencyMS: 1.5, Method: "tcp_connect", CheckedAt: pt.T0}},
		{"wizard-w-1", "IntegrationWizard", "team-trivy", indomain.WizardStarted{WizardID: "w-1", Kind: indomain.KindChat, Steps: indomain.Steps(indomain.KindChat), StartedAt: pt.T0, ExpiresAt: pt.T0.Add(indomain.WizardTTL)}},
		{"finding-crit-1", "Finding", "team-trivy", csdomain.FindingRaised{FindingID: "crit-1", ScanID: "s", AccountID: "a", CheckID: "c", Title: "t", Severity: csdomain.SeverityCritical, ResourceID: "r", RaisedAt: pt.T0}},
		{"slabreach-b-1", "SLABreach", "team-trivy", indomain.SLABreachRecorded{BreachID: "b-1", ClockID: "clk", Module: "vulnerabilities", Severity: "high", DueAt: pt.T0, RecordedAt: pt.T0}},
		{"kev-catalogue", "KEVCatalogue", "team-admin", tidomain.KEVEntryPublished{ImportID: "kev-sla", Entry: tidomain.KEVEntry{CVEID: "CVE-2019-1549",
			VendorProject: "OpenSSL", Product: "OpenSSL", VulnerabilityName: "n", DateAdded: pt.T0, DueDate: pt.T0.AddDate(0, 0, 14)}, PublishedAt: pt.T0.Add(time.Hour)}},
	} {
		ne, err := codec.Encode(d.data)
		require.NoError(t, err)
		_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: d.stream, StreamType: d.typ, Expected: eventstore.Any,
			Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: d.team, Actor: "test", CommandID: "sla-" + d.typ}})
		require.NoError(t, err)
	}
	// Assessments: catalogues, a mapping, assessments over the imports' account.
	for _, d := range AssessmentsWorld(t) {
		ne, err := codec.Encode(d.Data)
		require.NoError(t, err)
		_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: d.Stream, StreamType: d.Type, Expected: eventstore.Any,
			Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: d.Team, Actor: "test", CommandID: "assess-" + d.Data.EventType()}})
		require.NoError(t, err)
	}
	// Business impact analysis: a BIA and an exercise (runtime_bia_test.go).
	biaStreams, biaEvents := biaWorld(t)
	for _, stream := range biaStreams {
		for _, d := range biaEvents[stream] {
			ne, err := codec.Encode(d)
			require.NoError(t, err)
			_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "BIA", Expected: eventstore.Any,
				Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: "team-bia", Actor: "test"}})
			require.NoError(t, err)
		}
	}
	// Risk management: a matrix, a risk with a plan, a KRI measured, an
	// acceptance of a Trivy occurrence id, revoked, and one by rule (the
	// register and the SLA clocks' acceptance documents get documents).
	for _, d := range []struct {
		stream, typ string
		data        pt.EventData
	}{
		{"riskmatrix-team-trivy", "RiskMatrix", riskdomain.RiskMatrixDefined{Version: 1, Matrix: riskdomain.DefaultMatrix(), DefinedAt: pt.T0}},
		{"risk-r1", "Risk", riskdomain.RiskIdentified{RiskID: "r1", Title: "t", Owner: "o", IdentifiedAt: pt.T0}},
		{"risk-r1", "Risk", riskdomain.TreatmentPlanned{RiskID: "r1", PlanID: "p1", Strategy: riskdomain.Mitigate, Owner: "o", DueDate: pt.T0,
			Tasks: []riskdomain.Task{{TaskID: "1", Title: "t", Status: riskdomain.TaskTodo}}, PlannedAt: pt.T0}},
		{"kri-k1", "KRI", riskdomain.KRIDefined{KRIID: "k1", Spec: riskdomain.KRISpec{Name: "n", Unit: "u", Direction: riskdomain.HigherIsWorse,
			Amber: 1, Red: 2, Source: riskdomain.SourceManual}, DefinedAt: pt.T0}},
		{"kri-k1", "KRI", riskdomain.KRIMeasured{KRIID: "k1", Value: 3, MeasuredAt: pt.T0}},
		{"riskacceptance-a1", "RiskAcceptance", riskdomain.RiskAccepted{AcceptanceID: "a1", Scope: riskdomain.Scope{OccurrenceIDs: []string{"occ-x"}},
			Reason: "r", Approver: "c", ExpiresAt: pt.T0.AddDate(0, 1, 0), AcceptedAt: pt.T0}},
		{"riskacceptance-a1", "RiskAcceptance", riskdomain.RiskAcceptanceRevoked{AcceptanceID: "a1", RevokedAt: pt.T0.Add(time.Hour)}},
		// An acceptance by rule of a Trivy CVE (sla_acceptance_rules; the clocks it matches paused).
		{"riskacceptance-a2", "RiskAcceptance", riskdomain.RiskAccepted{AcceptanceID: "a2", Scope: riskdomain.Scope{Rule: &riskdomain.AcceptanceRule{
			Module: riskdomain.ModuleVulnerabilities, VulnerabilityIDs: []string{"CVE-2019-1551"}}}, Reason: "r", Approver: "c", ExpiresAt: pt.T0.AddDate(0, 1, 0), AcceptedAt: pt.T0}},
	} {
		ne, err := codec.Encode(d.data)
		require.NoError(t, err)
		_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: d.stream, StreamType: d.typ, Expected: eventstore.Any,
			Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: "team-trivy", Actor: "test", CommandID: "risk-" + d.typ}})
		require.NoError(t, err)
	}
	// AI governance: the EU AI Act catalogue, models, an assessment naming one, bias runs, an incident.
	for _, d := range AIGovernanceWorld(t) {
		ne, err := codec.Encode(d.Data)
		require.NoError(t, err)
		_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: d.Stream, StreamType: d.Type, Expected: eventstore.Any,
			Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: d.Team, Actor: "test", CommandID: "aigov-" + d.Stream + d.Data.EventType()}})
		require.NoError(t, err)
	}
}

func requireSameReadModels(t *testing.T, want, got *Env) {
	t.Helper()
	ctx := context.Background()
	for _, p := range AllProjections() {
		for _, spec := range p.Collections() {
			w, err := dump(ctx, want.Stores[p.Database()], spec.Name)
			require.NoError(t, err)
			g, err := dump(ctx, got.Stores[p.Database()], spec.Name)
			require.NoError(t, err)
			require.NotEmpty(t, w, spec.Name)
			require.Equal(t, w, g, "%s: %s", p.Name(), spec.Name)
		}
	}
}

// dump reads a whole collection, in _id order.
func dump(ctx context.Context, s readmodel.Store, coll string) ([]readmodel.Doc, error) {
	var out []readmodel.Doc
	opts := readmodel.FindOptions{Limit: readmodel.MaxLimit}
	for {
		page, err := s.Find(ctx, coll, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Docs...)
		if page.NextCursor == "" {
			return out, nil
		}
		opts.Cursor = page.NextCursor
	}
}

// knowledgeBaseWorld: team-kb and team-kb2 hold documents sharing a
// chunk text (one of team-kb's updated, another removed), and the shared
// text has a vector.
func knowledgeBaseWorld(t testing.TB) []projections.Event {
	t.Helper()
	var out []projections.Event
	put := func(team string, evs []kbdomain.Event, err error) []kbdomain.Event {
		require.NoError(t, err)
		for _, e := range evs {
			out = append(out, projections.Event{RecordedEvent: eventstore.RecordedEvent{Metadata: eventstore.Metadata{TeamID: team, Actor: "kb"}}, Data: e})
		}
		return evs
	}
	shared := "Rotate access keys every 90 days (iam_rotate_access_key_90_days, CIS-5.0 3.1)."
	evs, err := kbdomain.AddDocument("d1", kbdomain.DocumentSpec{Title: "Keys", Format: kbdomain.FormatMarkdown,
		Text: "# Keys\n\n" + shared + "\n\n# CVE\n\nPatch CVE-2024-3094."}, kbdomain.DefaultChunking, pt.T0)
	d1 := put("team-kb", evs, err)
	evs, err = kbdomain.RehydrateDocument(d1...).Update(kbdomain.DocumentSpec{Title: "Keys v2", Text: shared + "\n\nAnd MFA."}, kbdomain.DefaultChunking, pt.T0.Add(time.Minute))
	put("team-kb", evs, err)
	evs, err = kbdomain.AddDocument("d2", kbdomain.DocumentSpec{Title: "Gone", Text: "temporary"}, kbdomain.DefaultChunking, pt.T0)
	d2 := put("team-kb", evs, err)
	evs, err = kbdomain.RehydrateDocument(d2...).Remove(pt.T0.Add(time.Hour))
	put("team-kb", evs, err)
	evs, err = kbdomain.AddDocument("d3", kbdomain.DocumentSpec{Title: "Same", Text: shared}, kbdomain.DefaultChunking, pt.T0)
	put("team-kb2", evs, err)
	evs, err = kbdomain.RecordEmbedding("m1", kbdomain.TextHash(shared), []float32{0.5, -0.25, 1}, pt.T0)
	put("system", evs, err)
	return out
}

// inventoryWorld is two complete syncs of team's trails and buckets.
func inventoryWorld(team string) []projections.Event {
	rec := func(uid, typ, region string, v int) cadomain.Record {
		key := cadomain.Key("aws", pt.PairAccount, region, typ, uid)
		return cadomain.Record{AssetID: cadomain.AssetID(team, cadomain.CurrentRule, key), Key: key, Type: typ, Provider: "aws",
			Account: pt.PairAccount, Region: region, Name: uid, Hash: fmt.Sprintf("h%d", v), Raw: []byte(`{"v":1}`)}
	}
	trail := rec(pt.RealTrail, "aws_cloudtrail_trail", "eu-north-1", 1)
	bucket := rec("arn:aws:s3:::logs", "aws_s3_bucket", "eu-north-1", 1)
	var out []projections.Event
	for i, recs := range [][]cadomain.Record{{trail, bucket}, {rec(pt.RealTrail, "aws_cloudtrail_trail", "eu-north-1", 2)}} {
		id := fmt.Sprintf("inv-world-%d", i)
		at := pt.T0.Add(time.Duration(i+1) * time.Hour)
		scopes := []cadomain.Scope{trail.Scope(), bucket.Scope()}
		for _, d := range []pt.EventData{
			cadomain.InventoryRecorded{ImportID: id, ObservedAt: at, IdentityRule: cadomain.CurrentRule, Records: recs},
			cadomain.InventoryCompleted{ImportID: id, ObservedAt: at, IdentityRule: cadomain.CurrentRule, Sync: cadomain.SyncComplete, Scopes: scopes, Records: len(recs), Assets: len(recs), Chunks: 1, CompletedAt: at},
		} {
			out = append(out, projections.Event{RecordedEvent: eventstore.RecordedEvent{Metadata: eventstore.Metadata{TeamID: team}}, Data: d})
		}
	}
	return out
}

// threatIntelWorld: two KEV imports (A, B published; then A updated, B
// withdrawn, C published) and an indicator observed once.
func threatIntelWorld(t testing.TB) []pt.EventData {
	t.Helper()
	day := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	entry := func(cve, ransomware string) tidomain.KEVEntry {
		return tidomain.KEVEntry{CVEID: cve, VendorProject: "Acme", Product: "Widget", VulnerabilityName: "n", DateAdded: day,
			ShortDescription: "s", RequiredAction: "a", DueDate: day.AddDate(0, 0, 21), Ransomware: tidomain.Ransomware(ransomware)}
	}
	cats := []tidomain.Catalogue{
		// CVE-2019-1549 is in the Trivy alpine image: the KEV join flags it (decision 55).
		{Version: "1", Count: 3, Entries: []tidomain.KEVEntry{entry("CVE-2025-0001", "Unknown"), entry("CVE-2025-0002", "Unknown"), entry("CVE-2019-1549", "Unknown")}},
		{Version: "2", Count: 3, Entries: []tidomain.KEVEntry{entry("CVE-2025-0001", "Known"), entry("CVE-2025-0003", "Unknown"), entry("CVE-2019-1549", "Known")}},
	}
	var history []tidomain.Event
	var out []pt.EventData
	for i, c := range cats {
		evs, _, err := tidomain.RehydrateKEVCatalogue(history...).Accept(c, tidomain.KEVImport{ImportID: "kev-" + c.Version}, pt.T0.Add(time.Duration(i)*time.Hour))
		require.NoError(t, err)
		history = append(history, evs...)
		for _, e := range evs {
			out = append(out, e)
		}
	}
	ind, err := tidomain.CreateIndicator("ind-1", tidomain.IndicatorSpec{Type: tidomain.TypeIPv4, Value: "192.0.2.1", Confidence: 50,
		Source: "feed", ValidUntil: pt.T0.Add(time.Hour)}, pt.T0)
	require.NoError(t, err)
	out = append(out, ind[0], tidomain.IndicatorObserved{IndicatorID: "ind-1", ObservedAt: pt.T0.Add(time.Minute), ValidUntil: pt.T0.Add(2 * time.Hour)})
	return out
}

// securityScanWorld is a testssl.sh import as the command appends it: two
// targets, one failing result, a certificate, a FATAL row on a third.
func securityScanWorld() []pt.EventData {
	at := pt.T0.Add(4 * time.Hour)
	res := func(target, check string, r csdomain.Result, sev csdomain.Severity) csdomain.CheckResult {
		return csdomain.CheckResult{Provider: "tls", Account: target, Check: check, Resource: target + "/192.0.2.1", Result: r, Severity: sev, ObservedAt: at}
	}
	results := []csdomain.CheckResult{res("a.example:443", "TLS1", csdomain.ResultFail, csdomain.SeverityLow),
		res("a.example:443", "heartbleed", csdomain.ResultPass, ""), res("b.example:443", "TLS1", csdomain.ResultPass, "")}
	var scope csdomain.ImportScope
	for _, r := range results {
		scope.Add(r)
	}
	return []pt.EventData{
		csdomain.ImportStarted{ImportID: "imp-tls", ScanID: "scan-tls", Format: "testssl-json", Tool: "testssl", ToolVersion: "3.2", StartedAt: at},
		csdomain.CertificatesObserved{ImportID: "imp-tls", ScanID: "scan-tls", Tool: "testssl", EvaluatedAt: at,
			Certificates: []csdomain.CertificateSeen{{Target: "a.example:443", Cert: "cert1", NotAfter: at.AddDate(0, 2, 0)}}},
		csdomain.ResultsRecorded{ImportID: "imp-tls", ScanID: "scan-tls", EvaluatedAt: at, IdentityRule: csdomain.IdentityTestsslV1, Results: results},
		csdomain.ImportCompleted{ImportID: "imp-tls", ScanID: "scan-tls", EvaluatedAt: at, IdentityRule: csdomain.IdentityTestsslV1, Scopes: scope.Scopes(),
			Problems: []csdomain.ScanProblem{{Target: "c.example:443", Check: "scanProblem", Level: "FATAL", Message: "Can't connect"}}, CompletedAt: at},
	}
}

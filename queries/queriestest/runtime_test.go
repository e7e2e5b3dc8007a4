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
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
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
	events, err := sqlite.Open(ctx, filepath.Join(dir, "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, events.Close()) })
	codec := eventstore.NewDomainCodec()
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
	for _, imp := range [][]pt.EventData{mapped(pt.PairScan1()), mapped(pt.PairScan2()), {underway}} {
		for _, d := range imp {
			world = append(world, projections.Event{RecordedEvent: eventstore.RecordedEvent{Metadata: eventstore.Metadata{TeamID: "team-imports"}}, Data: d})
		}
	}
	// Two complete inventory syncs (the second no longer lists the
	// bucket): the assets projection's collections get documents, and the
	// real trail is one asset with the findings on it.
	world = append(world, inventoryWorld("team-imports")...)
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
		case csdomain.ResultsRecorded:
			streamID, streamType = "import-"+d.ImportID, "Import"
		case csdomain.ImportCompleted:
			streamID, streamType = "import-"+d.ImportID, "Import"
		case cadomain.InventoryRecorded:
			streamID, streamType = "inventory-"+d.ImportID, "Inventory"
		case cadomain.InventoryCompleted:
			streamID, streamType = "inventory-"+d.ImportID, "Inventory"
		}
		ne, err := codec.Encode(ev.Data)
		require.NoError(t, err)
		_, err = events.Append(ctx, eventstore.AppendRequest{StreamID: streamID, StreamType: streamType, Expected: eventstore.Any,
			Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: ev.Metadata.TeamID}})
		require.NoError(t, err)
	}
	// Trivy imports (vulnerabilities, container registries): an image
	// from a registry, then an fs scan with misconfigurations and secrets,
	// as the command appends them.
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

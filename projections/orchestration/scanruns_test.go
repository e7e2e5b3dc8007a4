package orchestration_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/orchestration"
)

var (
	requested = orchdomain.ScanRequested{ScanID: "s1", AccountID: "acc-1", Provider: orchdomain.ProviderAWS, Tool: "prowler", Target: "eu-west-1", RequestedAt: t0}
	started   = orchdomain.ScanStarted{ScanID: "s1", StartedAt: at(time.Minute)}
	completed = orchdomain.ScanCompleted{ScanID: "s1", CompletedAt: at(time.Hour), ResourceCount: 42}
	failed    = orchdomain.ScanFailed{ScanID: "s1", Reason: "credentials expired", FailedAt: at(2 * time.Minute)}
)

// runDoc is the scan_runs document of s1 in team-a, changed by change.
func runDoc(change func(readmodel.Doc)) readmodel.Doc {
	d := readmodel.Doc{
		"_id": "s1", "team_id": "team-a", "account_id": "acc-1", "provider": "aws", "tool": "prowler",
		"target": "eu-west-1", "status": "requested", "requested_at": t0, "started_at": nil,
		"completed_at": nil, "failed_at": nil, "finished_at": nil, "failure_reason": "",
		"resource_count": int64(0), "updated_position": int64(1),
	}
	change(d)
	return d
}

func TestScanRunsContract(t *testing.T) {
	t.Parallel()
	p := orchestration.NewScanRuns()
	assert.Equal(t, "orchestration.scan_runs", p.Name())
	assert.Equal(t, dbregistry.ORCHESTRATION, p.Database())
	assert.ElementsMatch(t, []string{"ScanRequested", "ScanStarted", "ScanCompleted", "ScanFailed", "ScanJobsPlanned", "ScanRunFinished"}, p.EventTypes())
	assertSpecs(t, p)
}

// assertSpecs checks the collection specs are valid and that every index
// except a TTL index starts with team_id (invariant 9).
func assertSpecs(t *testing.T, p projections.Projection) {
	t.Helper()
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
		for _, ix := range spec.Indexes {
			if ix.TTL > 0 {
				assert.Equal(t, orchestration.ResultTTL, ix.TTL, "%s.%s", spec.Name, ix.Name)
				continue
			}
			assert.Equal(t, "team_id", ix.Fields[0].Path, "%s.%s must start with team_id", spec.Name, ix.Name)
		}
	}
}

func TestScanRunsLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []eventData
		then  readmodel.Doc
	}{
		{
			name:  "requested",
			given: []eventData{requested},
			then:  runDoc(func(readmodel.Doc) {}),
		},
		{
			name:  "running",
			given: []eventData{requested, started},
			then: runDoc(func(d readmodel.Doc) {
				d["status"], d["started_at"], d["updated_position"] = "running", at(time.Minute), int64(2)
			}),
		},
		{
			name:  "completed",
			given: []eventData{requested, started, completed},
			then: runDoc(func(d readmodel.Doc) {
				d["status"], d["started_at"], d["updated_position"] = "completed", at(time.Minute), int64(3)
				d["completed_at"], d["finished_at"], d["resource_count"] = at(time.Hour), at(time.Hour), int64(42)
			}),
		},
		{
			name:  "failed while running",
			given: []eventData{requested, started, failed},
			then: runDoc(func(d readmodel.Doc) {
				d["status"], d["started_at"], d["updated_position"] = "failed", at(time.Minute), int64(3)
				d["failed_at"], d["finished_at"], d["failure_reason"] = at(2*time.Minute), at(2*time.Minute), "credentials expired"
			}),
		},
		{
			name:  "failed before starting",
			given: []eventData{requested, failed},
			then: runDoc(func(d readmodel.Doc) {
				d["status"], d["updated_position"] = "failed", int64(2)
				d["failed_at"], d["finished_at"], d["failure_reason"] = at(2*time.Minute), at(2*time.Minute), "credentials expired"
			}),
		},
		{
			name:  "a step seen before the request merges with it (defensive)",
			given: []eventData{started, requested},
			then: runDoc(func(d readmodel.Doc) {
				d["status"], d["started_at"], d["updated_position"] = "running", at(time.Minute), int64(2)
			}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := []int64{1, 2, 3, 4}[:len(tc.given)]
			tx := apply(t, orchestration.NewScanRuns(), stream("team-a", ps, tc.given...)...)
			assert.Equal(t, tc.then, tx.Doc(t, orchestration.ScanRunsCollection, "s1"))
			assert.Len(t, tx.Colls[orchestration.ScanRunsCollection], 1)
		})
	}
}

func TestScanRunsIgnoresOtherEventsAndRejectsMismatchedData(t *testing.T) {
	t.Parallel()
	p := orchestration.NewScanRuns()
	tx := newMemTx()
	ctx := context.Background()
	ev := stream("team-a", positions(1), requested)[0]

	other := ev
	other.Type = "SomethingElse"
	other.Data = struct{}{}
	require.NoError(t, p.Apply(ctx, tx, other))

	noID := stream("team-a", positions(1), orchdomain.ScanStarted{StartedAt: t0})[0]
	require.NoError(t, p.Apply(ctx, tx, noID))
	assert.Empty(t, tx.Colls)

	pointer := ev
	pointer.Data = &requested
	require.NoError(t, p.Apply(ctx, tx, pointer))
	assert.Equal(t, runDoc(func(readmodel.Doc) {}), tx.Doc(t, orchestration.ScanRunsCollection, "s1"))

	bad := ev
	bad.Data = "not a ScanRequested"
	require.ErrorContains(t, p.Apply(ctx, tx, bad), "unexpected data string")
}

func TestScanRunsTeamIsolation(t *testing.T) {
	t.Parallel()
	s2 := orchdomain.ScanRequested{ScanID: "s2", AccountID: "acc-b", Provider: orchdomain.ProviderGCP, Tool: "scout", RequestedAt: t0}
	tx := apply(t, orchestration.NewScanRuns(), append(
		stream("team-a", positions(1, 2), requested, started),
		stream("team-b", positions(3), s2)...)...)
	assert.Equal(t, "team-a", tx.Doc(t, orchestration.ScanRunsCollection, "s1")["team_id"])
	assert.Equal(t, "team-b", tx.Doc(t, orchestration.ScanRunsCollection, "s2")["team_id"])
	assert.Equal(t, "acc-b", tx.Doc(t, orchestration.ScanRunsCollection, "s2")["account_id"])
}

func TestScanRunsOrderIndependent(t *testing.T) {
	t.Parallel()
	scan := func(id string, p0 int64, team string) []projections.Event {
		return stream(team, positions(p0, p0+1, p0+2),
			orchdomain.ScanRequested{ScanID: id, AccountID: "acc", Provider: orchdomain.ProviderAWS, Tool: "prowler", RequestedAt: t0},
			orchdomain.ScanStarted{ScanID: id, StartedAt: at(time.Minute)},
			orchdomain.ScanCompleted{ScanID: id, CompletedAt: at(time.Hour), ResourceCount: int(p0)})
	}
	assertOrderIndependent(t, orchestration.NewScanRuns(), [][]projections.Event{
		scan("s1", 1, "team-a"), scan("s2", 10, "team-a"), scan("s3", 20, "team-b"),
	})
}

package orchestration_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
)

// A create whose chosen id is another team's stream fails with an
// *IDInUseError that names the caller's field and nothing of the stream,
// the same whatever state the other team's aggregate is in; the caller's
// own stream is the store's conflict with its version. Nothing is appended.

// teamAScans creates team A's scans in every state, by chosen id.
func teamAScans(t *testing.T, d *deps) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	request := func(id string) {
		_, err := d.h.RequestScan(ctx, ct.TeamA, orchestration.RequestScan{ScanID: id, AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
		require.NoError(t, err)
	}
	start := func(id string) {
		_, err := d.h.StartScan(ctx, ct.TeamA, orchestration.StartScan{ScanID: id})
		require.NoError(t, err)
	}
	request("a-requested")
	request("a-started")
	start("a-started")
	request("a-completed")
	start("a-completed")
	_, err := d.h.CompleteScan(ctx, ct.TeamA, orchestration.CompleteScan{ScanID: "a-completed", ResourceCount: 3})
	require.NoError(t, err)
	request("a-failed")
	start("a-failed")
	_, err = d.h.FailScan(ctx, ct.TeamA, orchestration.FailScan{ScanID: "a-failed", Reason: "crashed"})
	require.NoError(t, err)
	return map[string]int64{"a-requested": 1, "a-started": 2, "a-completed": 3, "a-failed": 3}
}

func TestRequestScanWithAnotherTeamsID(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	versions := teamAScans(t, d)
	head := d.Head(t)

	for id, version := range versions {
		_, err := d.h.RequestScan(t.Context(), ct.TeamB, orchestration.RequestScan{ScanID: id, AccountID: "acc-9", Provider: "gcp", Tool: "trivy"})
		ct.RequireInUse(t, err, "scan_id", id)
		assert.Equal(t, fmt.Sprintf("RequestScan: scan_id %q is already in use", id), err.Error(), "the same error in every state")

		// Team A itself learns the version of its own scan.
		_, err = d.h.RequestScan(t.Context(), ct.TeamA, orchestration.RequestScan{ScanID: id, AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
		var ce *eventstore.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, version, ce.Current, id)
	}
	assert.Equal(t, head, d.Head(t), "nothing appended")
}

package commands_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
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
		_, err := d.h.RequestScan(ctx, teamA, commands.RequestScan{ScanID: id, AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
		require.NoError(t, err)
	}
	start := func(id string) {
		_, err := d.h.StartScan(ctx, teamA, commands.StartScan{ScanID: id})
		require.NoError(t, err)
	}
	request("a-requested")
	request("a-started")
	start("a-started")
	request("a-completed")
	start("a-completed")
	_, err := d.h.CompleteScan(ctx, teamA, commands.CompleteScan{ScanID: "a-completed", ResourceCount: 3})
	require.NoError(t, err)
	request("a-failed")
	start("a-failed")
	_, err = d.h.FailScan(ctx, teamA, commands.FailScan{ScanID: "a-failed", Reason: "crashed"})
	require.NoError(t, err)
	return map[string]int64{"a-requested": 1, "a-started": 2, "a-completed": 3, "a-failed": 3}
}

// teamAFindings raises team A's findings in every state, by chosen id.
func teamAFindings(t *testing.T, d *deps) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	scan := d.runningScan(t, teamA)
	var in []commands.FindingInput
	for _, id := range []string{"f-open", "f-resolved", "f-suppressed"} {
		in = append(in, commands.FindingInput{FindingID: id, CheckID: "c", Title: "t", Severity: "high", ResourceID: "r-" + id})
	}
	_, err := d.h.RaiseFindings(ctx, teamA, commands.RaiseFindings{ScanID: scan, Findings: in})
	require.NoError(t, err)
	_, err = d.h.ResolveFinding(ctx, teamA, commands.ResolveFinding{FindingID: "f-resolved", Reason: "fixed"})
	require.NoError(t, err)
	_, err = d.h.SuppressFinding(ctx, teamA, commands.SuppressFinding{FindingID: "f-suppressed", Reason: "accepted"})
	require.NoError(t, err)
	return map[string]int64{"f-open": 1, "f-resolved": 2, "f-suppressed": 2}
}

func requireInUse(t *testing.T, err error, field, id string) {
	t.Helper()
	var inUse *commands.IDInUseError
	require.ErrorAs(t, err, &inUse, "%v", err)
	assert.Equal(t, commands.IDInUseError{Field: field, ID: id}, *inUse)
	assert.NotErrorIs(t, err, eventstore.ErrConflict, "nothing of the other stream's version travels")
	var ce *eventstore.ConflictError
	assert.False(t, errors.As(err, &ce))
}

func TestRequestScanWithAnotherTeamsID(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	versions := teamAScans(t, d)
	head := d.head(t)

	for id, version := range versions {
		_, err := d.h.RequestScan(t.Context(), teamB, commands.RequestScan{ScanID: id, AccountID: "acc-9", Provider: "gcp", Tool: "trivy"})
		requireInUse(t, err, "scan_id", id)
		assert.Equal(t, fmt.Sprintf("RequestScan: scan_id %q is already in use", id), err.Error(), "the same error in every state")

		// Team A itself learns the version of its own scan.
		_, err = d.h.RequestScan(t.Context(), teamA, commands.RequestScan{ScanID: id, AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
		var ce *eventstore.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, version, ce.Current, id)
	}
	assert.Equal(t, head, d.head(t), "nothing appended")
}

func TestRaiseFindingsWithAnotherTeamsID(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	versions := teamAFindings(t, d)
	scanA := d.runningScan(t, teamA)
	scanB := d.runningScan(t, teamB)
	head := d.head(t)

	for id, version := range versions {
		batch := []commands.FindingInput{
			{FindingID: "b-new-" + id, CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
			{FindingID: id, CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
		}
		_, err := d.h.RaiseFindings(t.Context(), teamB, commands.RaiseFindings{ScanID: scanB, Findings: batch})
		requireInUse(t, err, "findings[1].finding_id", id)
		assert.Equal(t, fmt.Sprintf("RaiseFindings: findings[1].finding_id %q is already in use", id), err.Error())

		_, err = d.h.RaiseFindings(t.Context(), teamA, commands.RaiseFindings{ScanID: scanA, Findings: batch})
		var ce *eventstore.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, version, ce.Current, id)
	}
	assert.Equal(t, head, d.head(t), "nothing appended")
}

// TestRaiseFindingsRaceWithAnotherTeam: a finding id another team takes
// between the batch's check and its append is an *IDInUseError too.
func TestRaiseFindingsRaceWithAnotherTeam(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	teamAFindings(t, d)
	scanB := d.runningScan(t, teamB)
	head := d.head(t)

	// The check before the appends does not see f-resolved yet.
	h := d.with(&hidingStore{EventStore: d.store, hide: "finding-f-resolved", times: 1})
	_, err := h.RaiseFindings(t.Context(), teamB, commands.RaiseFindings{ScanID: scanB, Findings: []commands.FindingInput{
		{FindingID: "f-resolved", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
	}})
	requireInUse(t, err, "findings[0].finding_id", "f-resolved")
	assert.Equal(t, head, d.head(t), "nothing appended")
}

// hidingStore answers the first times reads of stream hide as if it did
// not exist (another team's create racing the command's check).
type hidingStore struct {
	commands.EventStore
	hide  string
	mu    sync.Mutex
	times int
}

func (s *hidingStore) ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	s.mu.Lock()
	hidden := streamID == s.hide && s.times > 0
	if hidden {
		s.times--
	}
	s.mu.Unlock()
	if hidden {
		return nil, nil
	}
	return s.EventStore.ReadStream(ctx, streamID, opts)
}

package cloudsecurity_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/eventstore"
)

// A create whose chosen id is another team's stream fails with an
// *IDInUseError that names the caller's field and nothing of the stream,
// the same whatever state the other team's aggregate is in; the caller's
// own stream is the store's conflict with its version. Nothing is appended.

// teamAFindings raises team A's findings in every state, by chosen id.
func teamAFindings(t *testing.T, d *deps) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	scan := d.RunningScan(t, ct.TeamA)
	var in []cloudsecurity.FindingInput
	for _, id := range []string{"f-open", "f-resolved", "f-suppressed"} {
		in = append(in, cloudsecurity.FindingInput{FindingID: id, CheckID: "c", Title: "t", Severity: "high", ResourceID: "r-" + id})
	}
	_, err := d.h.RaiseFindings(ctx, ct.TeamA, cloudsecurity.RaiseFindings{ScanID: scan, Findings: in})
	require.NoError(t, err)
	_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: "f-resolved", Reason: "fixed"})
	require.NoError(t, err)
	_, err = d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: "f-suppressed", Reason: "accepted"})
	require.NoError(t, err)
	return map[string]int64{"f-open": 1, "f-resolved": 2, "f-suppressed": 2}
}

func TestRaiseFindingsWithAnotherTeamsID(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	versions := teamAFindings(t, d)
	scanA := d.RunningScan(t, ct.TeamA)
	scanB := d.RunningScan(t, ct.TeamB)
	head := d.Head(t)

	for id, version := range versions {
		batch := []cloudsecurity.FindingInput{
			{FindingID: "b-new-" + id, CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
			{FindingID: id, CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
		}
		_, err := d.h.RaiseFindings(t.Context(), ct.TeamB, cloudsecurity.RaiseFindings{ScanID: scanB, Findings: batch})
		ct.RequireInUse(t, err, "findings[1].finding_id", id)
		assert.Equal(t, fmt.Sprintf("RaiseFindings: findings[1].finding_id %q is already in use", id), err.Error())

		_, err = d.h.RaiseFindings(t.Context(), ct.TeamA, cloudsecurity.RaiseFindings{ScanID: scanA, Findings: batch})
		var ce *eventstore.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, version, ce.Current, id)
	}
	assert.Equal(t, head, d.Head(t), "nothing appended")
}

// TestRaiseFindingsRaceWithAnotherTeam: a finding id another team takes
// between the batch's check and its append is an *IDInUseError too; the
// caller's own team's is the store's conflict. On a store with
// AppendBatch (every store of the product; decision 106) the batch is one
// atomic append, so the finding before the raced one is not raised
// either; appended one by one (a store without it), it is.
func TestRaiseFindingsRaceWithAnotherTeam(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		batch   bool
		team    commands.Meta
		appends int64 // events appended by the failed batch
		check   func(t *testing.T, err error)
	}{
		"another team's, atomic batch": {batch: true, team: ct.TeamB, appends: 0, check: func(t *testing.T, err error) {
			ct.RequireInUse(t, err, "findings[1].finding_id", "f-resolved")
		}},
		"another team's, one by one": {batch: false, team: ct.TeamB, appends: 1, check: func(t *testing.T, err error) {
			ct.RequireInUse(t, err, "findings[1].finding_id", "f-resolved")
		}},
		"the team's own, atomic batch": {batch: true, team: ct.TeamA, appends: 0, check: func(t *testing.T, err error) {
			var ce *eventstore.ConflictError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "finding-f-resolved", ce.StreamID)
			assert.Equal(t, int64(2), ce.Current)
			assert.Contains(t, err.Error(), "findings[1]")
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := newDeps(t)
			teamAFindings(t, d)
			scan := d.RunningScan(t, tc.team)
			head := d.Head(t)

			// The check before the append does not see f-resolved yet.
			hiding := &hidingStore{EventStore: d.Store, hide: "finding-f-resolved", times: 1}
			h := d.with(hiding)
			if tc.batch {
				h = d.with(hidingBatchStore{hidingStore: hiding, batch: d.Store})
			}
			_, err := h.RaiseFindings(t.Context(), tc.team, cloudsecurity.RaiseFindings{ScanID: scan, Findings: []cloudsecurity.FindingInput{
				{FindingID: "f-new", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
				{FindingID: "f-resolved", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
			}})
			tc.check(t, err)
			assert.Equal(t, head+tc.appends, d.Head(t))
		})
	}
}

// hidingBatchStore is a hidingStore with the real store's AppendBatch.
type hidingBatchStore struct {
	*hidingStore
	batch commands.BatchStore
}

func (s hidingBatchStore) AppendBatch(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error) {
	return s.batch.AppendBatch(ctx, reqs)
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

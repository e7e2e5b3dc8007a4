package cloudsecurity_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
)

func finding(check string) cloudsecurity.FindingInput {
	return cloudsecurity.FindingInput{CheckID: check, Title: "Problem " + check, Severity: "medium", ResourceID: "res-" + check}
}

func findings(n int) []cloudsecurity.FindingInput {
	out := make([]cloudsecurity.FindingInput, n)
	for i := range out {
		out[i] = finding(fmt.Sprint("c", i))
	}
	return out
}

func TestRaiseFindings(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	scanID := d.RunningScan(t, ct.TeamA)
	d.Clock.Advance(time.Minute)

	explicit := cloudsecurity.FindingInput{
		FindingID: "f-explicit", CheckID: "s3_public", Title: "Bucket is public", Severity: "CRITICAL",
		ResourceID: "arn:aws:s3:::b", Region: "eu-west-1", Description: "Anyone can read it",
	}
	batch := cloudsecurity.RaiseFindings{ScanID: scanID, Findings: []cloudsecurity.FindingInput{explicit, finding("a"), finding("b")}}
	res, err := d.h.RaiseFindings(t.Context(), ct.TeamA, batch)
	require.NoError(t, err)

	require.Len(t, res.Items, 3)
	assert.False(t, res.Duplicate)
	assert.Equal(t, "finding-f-explicit", res.Items[0].StreamID)
	assert.Equal(t, d.Head(t), res.Position)
	var commandID string
	for i, item := range res.Items {
		assert.Equal(t, int64(1), item.Version)
		assert.Len(t, item.EventIDs, 1)
		if i > 0 {
			ct.AssertUUIDv7(t, strings.TrimPrefix(item.StreamID, "finding-"))
		}
		events := d.Stream(t, item.StreamID)
		require.Len(t, events, 1)
		assert.Equal(t, commands.StreamTypeFinding, events[0].StreamType)
		assert.Equal(t, "FindingRaised", events[0].Type)
		ct.AssertMetadata(t, ct.TeamA, events...)
		if commandID == "" {
			commandID = events[0].Metadata.CommandID
		}
		assert.Equal(t, commandID, events[0].Metadata.CommandID, "one command_id for the batch")
	}
	assert.Equal(t, []any{csdomain.FindingRaised{
		FindingID: "f-explicit", ScanID: scanID, AccountID: "acc-1", CheckID: "s3_public", Title: "Bucket is public",
		Severity: csdomain.SeverityCritical, ResourceID: "arn:aws:s3:::b", Region: "eu-west-1",
		Description: "Anyone can read it", RaisedAt: ct.T0.Add(time.Minute),
	}}, d.Decoded(t, "finding-f-explicit"))

	// Findings may also be raised once the scan has completed.
	_, err = d.Scans.CompleteScan(t.Context(), ct.TeamA, orchcmd.CompleteScan{ScanID: scanID})
	require.NoError(t, err)
	res, err = d.h.RaiseFindings(t.Context(), ct.TeamA, cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(1)})
	require.NoError(t, err)
	assert.Len(t, res.Items, 1)

	// A full batch is accepted.
	res, err = d.h.RaiseFindings(t.Context(), ct.TeamA, cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(cloudsecurity.MaxFindingsPerBatch)})
	require.NoError(t, err)
	assert.Len(t, res.Items, cloudsecurity.MaxFindingsPerBatch)
}

// TestRaiseFindingsBadInputAppendsNothing: whatever is wrong with a batch,
// nothing of it is appended.
func TestRaiseFindingsBadInputAppendsNothing(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	running := d.RunningScan(t, ct.TeamA)
	requested := d.RequestScan(t, ct.TeamA)
	_, err := d.h.RaiseFindings(t.Context(), ct.TeamA, cloudsecurity.RaiseFindings{
		ScanID: running, Findings: []cloudsecurity.FindingInput{{FindingID: "taken", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"}},
	})
	require.NoError(t, err)
	head := d.Head(t)

	invalid := findings(5)
	invalid[1].Title = ""
	invalid[3].Severity = "severe"
	invalid[4].FindingID, invalid[2].FindingID = "dup", "dup"

	tests := []struct {
		name  string
		meta  commands.Meta
		cmd   cloudsecurity.RaiseFindings
		check func(t *testing.T, err error)
	}{
		{
			name: "invalid findings are named by their JSON path",
			meta: ct.TeamA,
			cmd:  cloudsecurity.RaiseFindings{ScanID: running, Findings: invalid},
			check: func(t *testing.T, err error) {
				ct.RequireFields(t, err, "findings[1].title", "findings[3].severity", "findings[4].finding_id")
			},
		},
		{
			name:  "empty batch",
			meta:  ct.TeamA,
			cmd:   cloudsecurity.RaiseFindings{ScanID: running},
			check: func(t *testing.T, err error) { ct.RequireFields(t, err, "findings") },
		},
		{
			name:  "batch over the limit",
			meta:  ct.TeamA,
			cmd:   cloudsecurity.RaiseFindings{ScanID: running, Findings: findings(cloudsecurity.MaxFindingsPerBatch + 1)},
			check: func(t *testing.T, err error) { ct.RequireFields(t, err, "findings") },
		},
		{
			name:  "missing scan id",
			meta:  ct.TeamA,
			cmd:   cloudsecurity.RaiseFindings{Findings: findings(1)},
			check: func(t *testing.T, err error) { ct.RequireFields(t, err, "scan_id") },
		},
		{
			name:  "unknown scan",
			meta:  ct.TeamA,
			cmd:   cloudsecurity.RaiseFindings{ScanID: "nope", Findings: findings(1)},
			check: func(t *testing.T, err error) { require.ErrorIs(t, err, domain.ErrNotFound) },
		},
		{
			name:  "another team's scan",
			meta:  ct.TeamB,
			cmd:   cloudsecurity.RaiseFindings{ScanID: running, Findings: findings(1)},
			check: func(t *testing.T, err error) { require.ErrorIs(t, err, domain.ErrNotFound) },
		},
		{
			name:  "a scan that has not started",
			meta:  ct.TeamA,
			cmd:   cloudsecurity.RaiseFindings{ScanID: requested, Findings: findings(1)},
			check: func(t *testing.T, err error) { ct.RequireRule(t, err, orchdomain.CodeScanNotAccepting) },
		},
		{
			name: "a finding id in use, last in the batch",
			meta: ct.TeamA,
			cmd: cloudsecurity.RaiseFindings{ScanID: running, Findings: append(findings(3),
				cloudsecurity.FindingInput{FindingID: "taken", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"})},
			check: func(t *testing.T, err error) {
				require.ErrorIs(t, err, eventstore.ErrConflict)
				var ce *eventstore.ConflictError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, "finding-taken", ce.StreamID)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.h.RaiseFindings(t.Context(), tc.meta, tc.cmd)
			tc.check(t, err)
			assert.Equal(t, head, d.Head(t), "nothing appended")
		})
	}
}

func TestRaiseFindingsIdempotency(t *testing.T) {
	t.Parallel()

	t.Run("a retried batch returns the same result and appends nothing", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.RunningScan(t, ct.TeamA)
		meta := ct.WithKey(ct.TeamA, "batch-1")
		cmd := cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(3)}
		first, err := d.h.RaiseFindings(t.Context(), meta, cmd)
		require.NoError(t, err)
		head := d.Head(t)

		again, err := d.h.RaiseFindings(t.Context(), meta, cmd)
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.Position, again.Position)
		require.Len(t, again.Items, 3)
		for i := range first.Items {
			assert.True(t, again.Items[i].Duplicate)
			again.Items[i].Duplicate = false
		}
		assert.Equal(t, first.Items, again.Items, "the generated finding ids are the first ones")
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("the same key with another batch is a mismatch", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.RunningScan(t, ct.TeamA)
		meta := ct.WithKey(ct.TeamA, "batch-1")
		_, err := d.h.RaiseFindings(t.Context(), meta, cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(2)})
		require.NoError(t, err)
		head := d.Head(t)

		_, err = d.h.RaiseFindings(t.Context(), meta, cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(3)})
		require.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("a retry after a failure midway appends only what is missing", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.RunningScan(t, ct.TeamA)
		meta := ct.WithKey(ct.TeamA, "batch-1")
		cmd := cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(4)}

		appends := 0
		broken := d.with(&ct.HookedStore{
			EventStore: d.Store,
			BeforeAppend: func(eventstore.AppendRequest) error {
				if appends++; appends == 3 {
					return errors.New("disk on fire")
				}
				return nil
			},
		})
		_, err := broken.RaiseFindings(t.Context(), meta, cmd)
		require.Error(t, err)
		head := d.Head(t)

		res, err := d.h.RaiseFindings(t.Context(), meta, cmd)
		require.NoError(t, err)
		assert.False(t, res.Duplicate, "something was appended")
		require.Len(t, res.Items, 4)
		assert.True(t, res.Items[0].Duplicate)
		assert.True(t, res.Items[1].Duplicate)
		assert.False(t, res.Items[2].Duplicate)
		assert.False(t, res.Items[3].Duplicate)
		assert.Equal(t, head+2, d.Head(t))
		assert.Equal(t, d.Head(t), res.Position)

		again, err := d.h.RaiseFindings(t.Context(), meta, cmd)
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, res.Position, again.Position)
	})
}

func TestFindingCommands(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	ctx := t.Context()
	scanID := d.RunningScan(t, ct.TeamA)
	raise := func(t *testing.T) string {
		t.Helper()
		res, err := d.h.RaiseFindings(ctx, ct.TeamA, cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(1)})
		require.NoError(t, err)
		return strings.TrimPrefix(res.Items[0].StreamID, "finding-")
	}

	t.Run("suppress, then resolve", func(t *testing.T) {
		id := raise(t)
		d.Clock.Advance(time.Minute)
		until := ct.T0.Add(48 * time.Hour)
		res, err := d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: id, Reason: "accepted risk", Until: &until})
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Version)

		d.Clock.Advance(time.Minute)
		res, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: id, Reason: "fixed"})
		require.NoError(t, err)
		assert.Equal(t, int64(3), res.Version)

		events := d.Stream(t, "finding-"+id)
		ct.AssertMetadata(t, ct.TeamA, events...)
		state, err := commands.State(d.Codec, events)
		require.NoError(t, err)
		s, ok := state.(csdomain.FindingState)
		require.True(t, ok, "state is %T", state)
		assert.Equal(t, csdomain.StatusResolved, s.Status)
		assert.Equal(t, until, s.SuppressedUntil)
		assert.Equal(t, "fixed", s.ResolutionReason)
	})

	t.Run("rules and validation", func(t *testing.T) {
		id := raise(t)
		head := d.Head(t)
		past := d.Clock.Now().Add(-time.Hour)
		_, err := d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: id, Until: &past})
		ct.RequireFields(t, err, "reason", "until")
		_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{})
		ct.RequireFields(t, err, "finding_id")
		_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: "nope"})
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = d.h.ResolveFinding(ctx, ct.TeamB, cloudsecurity.ResolveFinding{FindingID: id})
		require.ErrorIs(t, err, domain.ErrNotFound, "another team's finding")
		_, err = d.h.SuppressFinding(ctx, ct.TeamB, cloudsecurity.SuppressFinding{FindingID: id, Reason: "mine now"})
		require.ErrorIs(t, err, domain.ErrNotFound, "another team's finding")
		assert.Equal(t, head, d.Head(t))

		_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: id})
		require.NoError(t, err)
		_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: id})
		ct.RequireRule(t, err, csdomain.CodeFindingAlreadyResolved)
		_, err = d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: id, Reason: "too late"})
		ct.RequireRule(t, err, csdomain.CodeFindingAlreadyResolved)
	})

	t.Run("a retried ResolveFinding is a duplicate", func(t *testing.T) {
		id := raise(t)
		meta := ct.WithKey(ct.TeamA, "resolve-"+id)
		first, err := d.h.ResolveFinding(ctx, meta, cloudsecurity.ResolveFinding{FindingID: id})
		require.NoError(t, err)
		again, err := d.h.ResolveFinding(ctx, meta, cloudsecurity.ResolveFinding{FindingID: id})
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.EventIDs, again.EventIDs)
	})
}

// TestRaiseFindingsIsOneAtomicAppend: on a store with AppendBatch the
// batch is one append (decision 106): a failed one appends nothing and
// its retry appends every finding, at consecutive positions; nothing goes
// through the one-by-one Append.
func TestRaiseFindingsIsOneAtomicAppend(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	scanID := d.RunningScan(t, ct.TeamA)
	meta := ct.WithKey(ct.TeamA, "batch-1")
	cmd := cloudsecurity.RaiseFindings{ScanID: scanID, Findings: findings(4)}

	store := &countingBatchStore{HookedStore: &ct.HookedStore{EventStore: d.Store}, batch: d.Store, failNext: true}
	store.BeforeAppend = func(eventstore.AppendRequest) error { store.appends++; return nil }
	h := d.with(store)
	head := d.Head(t)
	_, err := h.RaiseFindings(t.Context(), meta, cmd)
	require.EqualError(t, err, "RaiseFindings: append 4 findings: disk on fire")
	assert.Equal(t, head, d.Head(t), "nothing appended")

	res, err := h.RaiseFindings(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.False(t, res.Duplicate)
	require.Len(t, res.Items, 4)
	for i, item := range res.Items {
		assert.False(t, item.Duplicate)
		assert.Equal(t, head+int64(i)+1, item.Position, "consecutive positions, in the batch's order")
	}
	assert.Equal(t, head+4, d.Head(t))
	assert.Equal(t, head+4, res.Position)
	assert.Equal(t, 2, store.batches)
	assert.Zero(t, store.appends, "no one-by-one appends")

	again, err := h.RaiseFindings(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, res.Position, again.Position)
	assert.Equal(t, head+4, d.Head(t))
}

// countingBatchStore is a HookedStore with the real store's AppendBatch,
// counted; failNext fails the next batch before it reaches the store.
type countingBatchStore struct {
	*ct.HookedStore
	batch    commands.BatchStore
	failNext bool
	batches  int
	appends  int
}

func (s *countingBatchStore) AppendBatch(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error) {
	s.batches++
	if s.failNext {
		s.failNext = false
		return nil, errors.New("disk on fire")
	}
	return s.batch.AppendBatch(ctx, reqs)
}

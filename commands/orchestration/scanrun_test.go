package orchestration_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
)

func TestRequestScan(t *testing.T) {
	t.Parallel()

	t.Run("generates a UUIDv7 scan id and stamps metadata", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		res, err := d.h.RequestScan(t.Context(), ct.TeamA, orchestration.RequestScan{AccountID: "acc-1", Provider: "AWS", Tool: "prowler", Target: "prod"})
		require.NoError(t, err)

		require.Regexp(t, `^scan-`, res.StreamID)
		scanID := res.StreamID[len("scan-"):]
		ct.AssertUUIDv7(t, scanID)
		assert.Equal(t, int64(1), res.Version)
		assert.Equal(t, d.Head(t), res.Position)
		assert.False(t, res.Duplicate)

		events := d.Stream(t, res.StreamID)
		require.Len(t, events, 1)
		assert.Equal(t, []string{events[0].EventID}, res.EventIDs)
		assert.Equal(t, "ScanRequested", events[0].Type)
		assert.Equal(t, commands.StreamTypeScanRun, events[0].StreamType)
		ct.AssertMetadata(t, ct.TeamA, events...)
		assert.Equal(t, []any{orchdomain.ScanRequested{
			ScanID: scanID, AccountID: "acc-1", Provider: orchdomain.ProviderAWS, Tool: "prowler", Target: "prod", RequestedAt: ct.T0,
		}}, d.Decoded(t, res.StreamID))
	})

	t.Run("a caller-chosen scan id already in use is a conflict", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		cmd := orchestration.RequestScan{ScanID: "scan-42", AccountID: "acc-1", Provider: "gcp", Tool: "trivy"}
		res, err := d.h.RequestScan(t.Context(), ct.TeamA, cmd)
		require.NoError(t, err)
		assert.Equal(t, "scan-scan-42", res.StreamID)

		_, err = d.h.RequestScan(t.Context(), ct.TeamA, cmd)
		require.ErrorIs(t, err, eventstore.ErrConflict)
		var ce *eventstore.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, int64(1), ce.Current, "the caller's own scan: its version")
		assert.Len(t, d.Stream(t, res.StreamID), 1)
	})

	t.Run("bad input names every field and appends nothing", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		_, err := d.h.RequestScan(t.Context(), ct.TeamA, orchestration.RequestScan{ScanID: "a b", Provider: "oracle"})
		ct.RequireFields(t, err, "scan_id", "account_id", "provider", "tool")
		assert.Zero(t, d.Head(t))
	})

	t.Run("a meta without a team is refused", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		_, err := d.h.RequestScan(t.Context(), commands.Meta{}, orchestration.RequestScan{AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
		require.Error(t, err)
		assert.Zero(t, d.Head(t))
	})
}

func TestScanLifecycle(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	ctx := t.Context()
	scanID := d.RequestScan(t, ct.TeamA)

	d.Clock.Advance(time.Minute)
	started, err := d.h.StartScan(ctx, ct.TeamA, orchestration.StartScan{ScanID: scanID})
	require.NoError(t, err)
	assert.Equal(t, int64(2), started.Version)

	completedAt := ct.T0.Add(time.Hour)
	completed, err := d.h.CompleteScan(ctx, ct.TeamA, orchestration.CompleteScan{ScanID: scanID, CompletedAt: &completedAt, ResourceCount: 12})
	require.NoError(t, err)
	assert.Equal(t, int64(3), completed.Version)
	assert.Greater(t, completed.Position, started.Position)

	events := d.Stream(t, "scan-"+scanID)
	require.Len(t, events, 3)
	ct.AssertMetadata(t, ct.TeamA, events...)
	commandIDs := map[string]bool{}
	for _, e := range events {
		commandIDs[e.Metadata.CommandID] = true
	}
	assert.Len(t, commandIDs, 3, "each command has its own command_id")

	state, err := commands.State(d.Codec, events)
	require.NoError(t, err)
	assert.Equal(t, orchdomain.ScanRunState{
		ScanID: scanID, AccountID: "acc-1", Provider: orchdomain.ProviderAWS, Tool: "prowler",
		Status: orchdomain.StatusCompleted, RequestedAt: ct.T0, StartedAt: ct.T0.Add(time.Minute),
		CompletedAt: completedAt, ResourceCount: 12,
	}, state)

	_, err = d.h.FailScan(ctx, ct.TeamA, orchestration.FailScan{ScanID: scanID, Reason: "late"})
	ct.RequireRule(t, err, orchdomain.CodeScanAlreadyCompleted)
	assert.Len(t, d.Stream(t, "scan-"+scanID), 3)
}

func TestScanCommandErrors(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	ctx := t.Context()
	requested := d.RequestScan(t, ct.TeamA)
	running := d.RunningScan(t, ct.TeamA)
	before := d.Head(t)

	t.Run("completing a scan that never started", func(t *testing.T) {
		_, err := d.h.CompleteScan(ctx, ct.TeamA, orchestration.CompleteScan{ScanID: requested})
		ct.RequireRule(t, err, orchdomain.CodeScanNotRunning)
	})
	t.Run("starting twice", func(t *testing.T) {
		_, err := d.h.StartScan(ctx, ct.TeamA, orchestration.StartScan{ScanID: running})
		ct.RequireRule(t, err, orchdomain.CodeScanAlreadyStarted)
	})
	t.Run("a start time before the request", func(t *testing.T) {
		early := ct.T0.Add(-time.Hour)
		_, err := d.h.StartScan(ctx, ct.TeamA, orchestration.StartScan{ScanID: requested, StartedAt: &early})
		ct.RequireRule(t, err, orchdomain.CodeTimestampOutOfOrder)
	})
	t.Run("failing without a reason", func(t *testing.T) {
		_, err := d.h.FailScan(ctx, ct.TeamA, orchestration.FailScan{ScanID: running})
		ct.RequireFields(t, err, "reason")
	})
	t.Run("a missing scan id", func(t *testing.T) {
		_, err := d.h.StartScan(ctx, ct.TeamA, orchestration.StartScan{})
		ct.RequireFields(t, err, "scan_id")
	})
	t.Run("an unknown scan", func(t *testing.T) {
		_, err := d.h.StartScan(ctx, ct.TeamA, orchestration.StartScan{ScanID: "nope"})
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("another team's scan is not found", func(t *testing.T) {
		_, err := d.h.StartScan(ctx, ct.TeamB, orchestration.StartScan{ScanID: requested})
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = d.h.FailScan(ctx, ct.TeamB, orchestration.FailScan{ScanID: running, Reason: "sabotage"})
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
	assert.Equal(t, before, d.Head(t), "no failed command appended anything")
}

// TestStartScanRace: two StartScan commands both load the requested scan
// before either appends. One wins; the other gets a conflict from the store,
// reloads, and decides again: the scan has started.
func TestStartScanRace(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	scanID := d.RequestScan(t, ct.TeamA)

	var reads, conflicts atomic.Int32
	bothLoaded := make(chan struct{})
	store := &ct.HookedStore{
		EventStore: d.Store,
		AfterRead: func(string) {
			switch reads.Add(1) {
			case 1:
				<-bothLoaded
			case 2:
				close(bothLoaded)
			}
		},
		AfterAppend: func(err error) {
			if errors.Is(err, eventstore.ErrConflict) {
				conflicts.Add(1)
			}
		},
	}
	h := d.with(store)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = h.StartScan(t.Context(), ct.TeamA, orchestration.StartScan{ScanID: scanID})
		})
	}
	wg.Wait()

	var won, rejected int
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		ct.RequireRule(t, err, orchdomain.CodeScanAlreadyStarted)
		rejected++
	}
	assert.Equal(t, 1, won)
	assert.Equal(t, 1, rejected)
	assert.Equal(t, int32(1), conflicts.Load(), "the store refused the loser's first append")
	assert.Equal(t, int32(3), reads.Load(), "the loser reloaded once")
	assert.Len(t, d.Stream(t, "scan-"+scanID), 2)
}

// TestConflictRetriesAreBounded: a stream that keeps changing under the
// command makes it give up with the store's conflict after three retries.
func TestConflictRetriesAreBounded(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	scanID := d.RequestScan(t, ct.TeamA)

	var appends atomic.Int32
	h := d.with(&ct.HookedStore{
		EventStore: d.Store,
		BeforeAppend: func(req eventstore.AppendRequest) error {
			appends.Add(1)
			return &eventstore.ConflictError{StreamID: req.StreamID, Expected: req.Expected, Current: 99}
		},
	})
	_, err := h.StartScan(t.Context(), ct.TeamA, orchestration.StartScan{ScanID: scanID})
	require.ErrorIs(t, err, eventstore.ErrConflict)
	var ce *eventstore.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, int64(99), ce.Current)
	assert.Equal(t, int32(4), appends.Load(), "one try and three retries")
}

func TestScanIdempotency(t *testing.T) {
	t.Parallel()

	t.Run("a retried RequestScan returns the first result and appends nothing", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		meta := ct.WithKey(ct.TeamA, "req-1")
		cmd := orchestration.RequestScan{AccountID: "acc-1", Provider: "aws", Tool: "prowler"}
		first, err := d.h.RequestScan(t.Context(), meta, cmd)
		require.NoError(t, err)
		head := d.Head(t)

		d.Clock.Advance(time.Minute)
		again, err := d.h.RequestScan(t.Context(), meta, cmd)
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		again.Duplicate = false
		assert.Equal(t, first, again)
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("a retried StartScan returns the first result without deciding again", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.RequestScan(t, ct.TeamA)
		meta := ct.WithKey(ct.TeamA, "start-1")
		first, err := d.h.StartScan(t.Context(), meta, orchestration.StartScan{ScanID: scanID})
		require.NoError(t, err)
		head := d.Head(t)

		again, err := d.h.StartScan(t.Context(), meta, orchestration.StartScan{ScanID: scanID})
		require.NoError(t, err, "deciding again would say SCAN_ALREADY_STARTED")
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.EventIDs, again.EventIDs)
		assert.Equal(t, first.Position, again.Position)
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("the same key with another body is a mismatch", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		meta := ct.WithKey(ct.TeamA, "req-1")
		_, err := d.h.RequestScan(t.Context(), meta, orchestration.RequestScan{AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
		require.NoError(t, err)
		head := d.Head(t)

		_, err = d.h.RequestScan(t.Context(), meta, orchestration.RequestScan{AccountID: "acc-2", Provider: "aws", Tool: "prowler"})
		require.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("the same key for another scan is a mismatch", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		one, two := d.RequestScan(t, ct.TeamA), d.RequestScan(t, ct.TeamA)
		meta := ct.WithKey(ct.TeamA, "start")
		_, err := d.h.StartScan(t.Context(), meta, orchestration.StartScan{ScanID: one})
		require.NoError(t, err)

		_, err = d.h.StartScan(t.Context(), meta, orchestration.StartScan{ScanID: two})
		require.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)
		assert.Len(t, d.Stream(t, "scan-"+two), 1)
	})

	t.Run("keys are scoped by command and by team", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.RequestScan(t, ct.TeamA)
		_, err := d.h.StartScan(t.Context(), ct.WithKey(ct.TeamA, "k"), orchestration.StartScan{ScanID: scanID})
		require.NoError(t, err)
		res, err := d.h.CompleteScan(t.Context(), ct.WithKey(ct.TeamA, "k"), orchestration.CompleteScan{ScanID: scanID})
		require.NoError(t, err)
		assert.False(t, res.Duplicate)

		cmd := orchestration.RequestScan{AccountID: "acc-1", Provider: "aws", Tool: "prowler"}
		a, err := d.h.RequestScan(t.Context(), ct.WithKey(ct.TeamA, "same"), cmd)
		require.NoError(t, err)
		b, err := d.h.RequestScan(t.Context(), ct.WithKey(ct.TeamB, "same"), cmd)
		require.NoError(t, err)
		assert.False(t, b.Duplicate)
		assert.NotEqual(t, a.StreamID, b.StreamID)
	})
}

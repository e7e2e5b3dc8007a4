package commands_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
)

func finding(check string) commands.FindingInput {
	return commands.FindingInput{CheckID: check, Title: "Problem " + check, Severity: "medium", ResourceID: "res-" + check}
}

func findings(n int) []commands.FindingInput {
	out := make([]commands.FindingInput, n)
	for i := range out {
		out[i] = finding(fmt.Sprint("c", i))
	}
	return out
}

func TestRaiseFindings(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	scanID := d.runningScan(t, teamA)
	d.clock.Advance(time.Minute)

	explicit := commands.FindingInput{
		FindingID: "f-explicit", CheckID: "s3_public", Title: "Bucket is public", Severity: "CRITICAL",
		ResourceID: "arn:aws:s3:::b", Region: "eu-west-1", Description: "Anyone can read it",
	}
	batch := commands.RaiseFindings{ScanID: scanID, Findings: []commands.FindingInput{explicit, finding("a"), finding("b")}}
	res, err := d.h.RaiseFindings(t.Context(), teamA, batch)
	require.NoError(t, err)

	require.Len(t, res.Items, 3)
	assert.False(t, res.Duplicate)
	assert.Equal(t, "finding-f-explicit", res.Items[0].StreamID)
	assert.Equal(t, d.head(t), res.Position)
	var commandID string
	for i, item := range res.Items {
		assert.Equal(t, int64(1), item.Version)
		assert.Len(t, item.EventIDs, 1)
		if i > 0 {
			assertUUIDv7(t, strings.TrimPrefix(item.StreamID, "finding-"))
		}
		events := d.stream(t, item.StreamID)
		require.Len(t, events, 1)
		assert.Equal(t, commands.StreamTypeFinding, events[0].StreamType)
		assert.Equal(t, "FindingRaised", events[0].Type)
		assertMetadata(t, teamA, events...)
		if commandID == "" {
			commandID = events[0].Metadata.CommandID
		}
		assert.Equal(t, commandID, events[0].Metadata.CommandID, "one command_id for the batch")
	}
	assert.Equal(t, []any{cloudsecurity.FindingRaised{
		FindingID: "f-explicit", ScanID: scanID, AccountID: "acc-1", CheckID: "s3_public", Title: "Bucket is public",
		Severity: cloudsecurity.SeverityCritical, ResourceID: "arn:aws:s3:::b", Region: "eu-west-1",
		Description: "Anyone can read it", RaisedAt: t0.Add(time.Minute),
	}}, d.decoded(t, "finding-f-explicit"))

	// Findings may also be raised once the scan has completed.
	_, err = d.h.CompleteScan(t.Context(), teamA, commands.CompleteScan{ScanID: scanID})
	require.NoError(t, err)
	res, err = d.h.RaiseFindings(t.Context(), teamA, commands.RaiseFindings{ScanID: scanID, Findings: findings(1)})
	require.NoError(t, err)
	assert.Len(t, res.Items, 1)

	// A full batch is accepted.
	res, err = d.h.RaiseFindings(t.Context(), teamA, commands.RaiseFindings{ScanID: scanID, Findings: findings(commands.MaxFindingsPerBatch)})
	require.NoError(t, err)
	assert.Len(t, res.Items, commands.MaxFindingsPerBatch)
}

// TestRaiseFindingsBadInputAppendsNothing: whatever is wrong with a batch,
// nothing of it is appended.
func TestRaiseFindingsBadInputAppendsNothing(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	running := d.runningScan(t, teamA)
	requested := d.requestScan(t, teamA)
	_, err := d.h.RaiseFindings(t.Context(), teamA, commands.RaiseFindings{
		ScanID: running, Findings: []commands.FindingInput{{FindingID: "taken", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"}},
	})
	require.NoError(t, err)
	head := d.head(t)

	invalid := findings(5)
	invalid[1].Title = ""
	invalid[3].Severity = "severe"
	invalid[4].FindingID, invalid[2].FindingID = "dup", "dup"

	tests := []struct {
		name  string
		meta  commands.Meta
		cmd   commands.RaiseFindings
		check func(t *testing.T, err error)
	}{
		{
			name: "invalid findings are named by their JSON path",
			meta: teamA,
			cmd:  commands.RaiseFindings{ScanID: running, Findings: invalid},
			check: func(t *testing.T, err error) {
				requireFields(t, err, "findings[1].title", "findings[3].severity", "findings[4].finding_id")
			},
		},
		{
			name:  "empty batch",
			meta:  teamA,
			cmd:   commands.RaiseFindings{ScanID: running},
			check: func(t *testing.T, err error) { requireFields(t, err, "findings") },
		},
		{
			name:  "batch over the limit",
			meta:  teamA,
			cmd:   commands.RaiseFindings{ScanID: running, Findings: findings(commands.MaxFindingsPerBatch + 1)},
			check: func(t *testing.T, err error) { requireFields(t, err, "findings") },
		},
		{
			name:  "missing scan id",
			meta:  teamA,
			cmd:   commands.RaiseFindings{Findings: findings(1)},
			check: func(t *testing.T, err error) { requireFields(t, err, "scan_id") },
		},
		{
			name:  "unknown scan",
			meta:  teamA,
			cmd:   commands.RaiseFindings{ScanID: "nope", Findings: findings(1)},
			check: func(t *testing.T, err error) { require.ErrorIs(t, err, domain.ErrNotFound) },
		},
		{
			name:  "another team's scan",
			meta:  teamB,
			cmd:   commands.RaiseFindings{ScanID: running, Findings: findings(1)},
			check: func(t *testing.T, err error) { require.ErrorIs(t, err, domain.ErrNotFound) },
		},
		{
			name:  "a scan that has not started",
			meta:  teamA,
			cmd:   commands.RaiseFindings{ScanID: requested, Findings: findings(1)},
			check: func(t *testing.T, err error) { requireRule(t, err, orchestration.CodeScanNotAccepting) },
		},
		{
			name: "a finding id in use, last in the batch",
			meta: teamA,
			cmd: commands.RaiseFindings{ScanID: running, Findings: append(findings(3),
				commands.FindingInput{FindingID: "taken", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"})},
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
			assert.Equal(t, head, d.head(t), "nothing appended")
		})
	}
}

func TestRaiseFindingsIdempotency(t *testing.T) {
	t.Parallel()

	t.Run("a retried batch returns the same result and appends nothing", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.runningScan(t, teamA)
		meta := withKey(teamA, "batch-1")
		cmd := commands.RaiseFindings{ScanID: scanID, Findings: findings(3)}
		first, err := d.h.RaiseFindings(t.Context(), meta, cmd)
		require.NoError(t, err)
		head := d.head(t)

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
		assert.Equal(t, head, d.head(t))
	})

	t.Run("the same key with another batch is a mismatch", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.runningScan(t, teamA)
		meta := withKey(teamA, "batch-1")
		_, err := d.h.RaiseFindings(t.Context(), meta, commands.RaiseFindings{ScanID: scanID, Findings: findings(2)})
		require.NoError(t, err)
		head := d.head(t)

		_, err = d.h.RaiseFindings(t.Context(), meta, commands.RaiseFindings{ScanID: scanID, Findings: findings(3)})
		require.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)
		assert.Equal(t, head, d.head(t))
	})

	t.Run("a retry after a failure midway appends only what is missing", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		scanID := d.runningScan(t, teamA)
		meta := withKey(teamA, "batch-1")
		cmd := commands.RaiseFindings{ScanID: scanID, Findings: findings(4)}

		appends := 0
		broken := d.with(&hookedStore{
			EventStore: d.store,
			beforeAppend: func(eventstore.AppendRequest) error {
				if appends++; appends == 3 {
					return errors.New("disk on fire")
				}
				return nil
			},
		})
		_, err := broken.RaiseFindings(t.Context(), meta, cmd)
		require.Error(t, err)
		head := d.head(t)

		res, err := d.h.RaiseFindings(t.Context(), meta, cmd)
		require.NoError(t, err)
		assert.False(t, res.Duplicate, "something was appended")
		require.Len(t, res.Items, 4)
		assert.True(t, res.Items[0].Duplicate)
		assert.True(t, res.Items[1].Duplicate)
		assert.False(t, res.Items[2].Duplicate)
		assert.False(t, res.Items[3].Duplicate)
		assert.Equal(t, head+2, d.head(t))
		assert.Equal(t, d.head(t), res.Position)

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
	scanID := d.runningScan(t, teamA)
	raise := func(t *testing.T) string {
		t.Helper()
		res, err := d.h.RaiseFindings(ctx, teamA, commands.RaiseFindings{ScanID: scanID, Findings: findings(1)})
		require.NoError(t, err)
		return strings.TrimPrefix(res.Items[0].StreamID, "finding-")
	}

	t.Run("suppress, then resolve", func(t *testing.T) {
		id := raise(t)
		d.clock.Advance(time.Minute)
		until := t0.Add(48 * time.Hour)
		res, err := d.h.SuppressFinding(ctx, teamA, commands.SuppressFinding{FindingID: id, Reason: "accepted risk", Until: &until})
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Version)

		d.clock.Advance(time.Minute)
		res, err = d.h.ResolveFinding(ctx, teamA, commands.ResolveFinding{FindingID: id, Reason: "fixed"})
		require.NoError(t, err)
		assert.Equal(t, int64(3), res.Version)

		events := d.stream(t, "finding-"+id)
		assertMetadata(t, teamA, events...)
		state, err := commands.State(d.codec, events)
		require.NoError(t, err)
		s, ok := state.(cloudsecurity.FindingState)
		require.True(t, ok, "state is %T", state)
		assert.Equal(t, cloudsecurity.StatusResolved, s.Status)
		assert.Equal(t, until, s.SuppressedUntil)
		assert.Equal(t, "fixed", s.ResolutionReason)
	})

	t.Run("rules and validation", func(t *testing.T) {
		id := raise(t)
		head := d.head(t)
		past := d.clock.Now().Add(-time.Hour)
		_, err := d.h.SuppressFinding(ctx, teamA, commands.SuppressFinding{FindingID: id, Until: &past})
		requireFields(t, err, "reason", "until")
		_, err = d.h.ResolveFinding(ctx, teamA, commands.ResolveFinding{})
		requireFields(t, err, "finding_id")
		_, err = d.h.ResolveFinding(ctx, teamA, commands.ResolveFinding{FindingID: "nope"})
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = d.h.ResolveFinding(ctx, teamB, commands.ResolveFinding{FindingID: id})
		require.ErrorIs(t, err, domain.ErrNotFound, "another team's finding")
		_, err = d.h.SuppressFinding(ctx, teamB, commands.SuppressFinding{FindingID: id, Reason: "mine now"})
		require.ErrorIs(t, err, domain.ErrNotFound, "another team's finding")
		assert.Equal(t, head, d.head(t))

		_, err = d.h.ResolveFinding(ctx, teamA, commands.ResolveFinding{FindingID: id})
		require.NoError(t, err)
		_, err = d.h.ResolveFinding(ctx, teamA, commands.ResolveFinding{FindingID: id})
		requireRule(t, err, cloudsecurity.CodeFindingAlreadyResolved)
		_, err = d.h.SuppressFinding(ctx, teamA, commands.SuppressFinding{FindingID: id, Reason: "too late"})
		requireRule(t, err, cloudsecurity.CodeFindingAlreadyResolved)
	})

	t.Run("a retried ResolveFinding is a duplicate", func(t *testing.T) {
		id := raise(t)
		meta := withKey(teamA, "resolve-"+id)
		first, err := d.h.ResolveFinding(ctx, meta, commands.ResolveFinding{FindingID: id})
		require.NoError(t, err)
		again, err := d.h.ResolveFinding(ctx, meta, commands.ResolveFinding{FindingID: id})
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.EventIDs, again.EventIDs)
	})
}

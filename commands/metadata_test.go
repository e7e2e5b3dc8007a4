package commands_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/eventstore"
)

// TestMetadataForTheAuditLog: every event of an accepted command carries
// the team, actor, correlation id, route and idempotency key of the
// command and one command id shared by all its events (across streams);
// an idempotent retry appends nothing, so it leaves no trace.
func TestMetadataForTheAuditLog(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	ctx := t.Context()
	scanID := d.runningScan(t, teamA)

	meta := withKey(teamA, "batch-1")
	meta.Route = "POST /api/v1/scans/:id/findings"
	meta.CorrelationID = "corr-batch"
	batch := commands.RaiseFindings{ScanID: scanID, Findings: []commands.FindingInput{
		{CheckID: "c1", Title: "t", Severity: "high", ResourceID: "r1"},
		{CheckID: "c2", Title: "t", Severity: "low", ResourceID: "r2"},
		{CheckID: "c3", Title: "t", Severity: "medium", ResourceID: "r3"},
	}}
	res, err := d.h.RaiseFindings(ctx, meta, batch)
	require.NoError(t, err)
	var events []eventstore.RecordedEvent
	for _, item := range res.Items {
		events = append(events, d.stream(t, item.StreamID)...)
	}
	require.Len(t, events, 3)
	assertMetadata(t, meta, events...)
	for _, e := range events {
		assert.Equal(t, events[0].Metadata.CommandID, e.Metadata.CommandID, "one command id for the whole batch")
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash, "route and idempotency key are hashed")
	}

	head := d.head(t)
	again, err := d.h.RaiseFindings(ctx, meta, batch)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, head, d.head(t), "an idempotent retry appends nothing")

	// Without a key: no idempotency_key; the route is what the caller said.
	cli := commands.Meta{TeamID: "team-a", Actor: "cli", Route: "cli scans complete"}
	done, err := d.h.CompleteScan(ctx, cli, commands.CompleteScan{ScanID: scanID})
	require.NoError(t, err)
	last := d.stream(t, done.StreamID)
	assertMetadata(t, cli, last[len(last)-1])
	assert.NotEqual(t, events[0].Metadata.CommandID, last[len(last)-1].Metadata.CommandID)
}

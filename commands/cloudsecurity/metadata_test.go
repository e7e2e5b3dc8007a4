package cloudsecurity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
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
	scanID := d.RunningScan(t, ct.TeamA)

	meta := ct.WithKey(ct.TeamA, "batch-1")
	meta.Route = "POST /api/v1/scans/:id/findings"
	meta.CorrelationID = "corr-batch"
	batch := cloudsecurity.RaiseFindings{ScanID: scanID, Findings: []cloudsecurity.FindingInput{
		{CheckID: "c1", Title: "t", Severity: "high", ResourceID: "r1"},
		{CheckID: "c2", Title: "t", Severity: "low", ResourceID: "r2"},
		{CheckID: "c3", Title: "t", Severity: "medium", ResourceID: "r3"},
	}}
	res, err := d.h.RaiseFindings(ctx, meta, batch)
	require.NoError(t, err)
	var events []eventstore.RecordedEvent
	for _, item := range res.Items {
		events = append(events, d.Stream(t, item.StreamID)...)
	}
	require.Len(t, events, 3)
	ct.AssertMetadata(t, meta, events...)
	for _, e := range events {
		assert.Equal(t, events[0].Metadata.CommandID, e.Metadata.CommandID, "one command id for the whole batch")
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash, "route and idempotency key are hashed")
	}

	head := d.Head(t)
	again, err := d.h.RaiseFindings(ctx, meta, batch)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, head, d.Head(t), "an idempotent retry appends nothing")

	// Without a key: no idempotency_key; the route is what the caller said.
	cli := commands.Meta{TeamID: "team-a", Actor: "cli", Route: "cli scans complete"}
	done, err := d.Scans.CompleteScan(ctx, cli, orchcmd.CompleteScan{ScanID: scanID})
	require.NoError(t, err)
	last := d.Stream(t, done.StreamID)
	ct.AssertMetadata(t, cli, last[len(last)-1])
	assert.NotEqual(t, events[0].Metadata.CommandID, last[len(last)-1].Metadata.CommandID)
}

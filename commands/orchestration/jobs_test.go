package orchestration_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
)

func TestScanJobCommands(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	ctx := t.Context()
	res, err := d.h.PlanScan(ctx, ct.TeamA, orchestration.PlanScan{ScanID: "run-1", AccountID: "web", Provider: "other",
		Tools: []string{"nuclei", "testssl"}, Targets: []string{"https://a.example"}})
	require.NoError(t, err)
	assert.Equal(t, "scan-run-1", res.StreamID)

	ref := func(job string) orchestration.JobRef { return orchestration.JobRef{ScanID: "run-1", JobID: job} }
	// A redelivered dispatch with the same idempotency key appends nothing.
	keyed := ct.TeamA
	keyed.IdempotencyKey = "dispatch-run-1-j0001"
	_, err = d.h.DispatchJob(ctx, keyed, orchestration.DispatchJob{JobRef: ref("j0001")})
	require.NoError(t, err)
	again, err := d.h.DispatchJob(ctx, keyed, orchestration.DispatchJob{JobRef: ref("j0001")})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)

	_, err = d.h.StartJob(ctx, ct.TeamA, orchestration.StartJob{JobRef: ref("j0001"), Attempt: 1, Worker: "w1"})
	require.NoError(t, err)
	d.Clock.Advance(time.Minute)
	_, err = d.h.StartJob(ctx, ct.TeamA, orchestration.StartJob{JobRef: ref("j0001"), Attempt: 2, Worker: "w2"})
	require.NoError(t, err, "a later delivery takes over the job")
	_, err = d.h.SucceedJob(ctx, ct.TeamA, orchestration.SucceedJob{JobRef: ref("j0001"), Attempt: 1, ImportID: "imp-x"})
	var re *domain.RuleError
	require.True(t, errors.As(err, &re), "%v", err)
	assert.Equal(t, orchdomain.CodeJobAttemptStale, re.Code, "the worker that lost its lease cannot report")
	_, err = d.h.SucceedJob(ctx, ct.TeamA, orchestration.SucceedJob{JobRef: ref("j0001"), Attempt: 2, ImportID: "imp-1"})
	require.NoError(t, err)
	_, err = d.h.StartJob(ctx, ct.TeamA, orchestration.StartJob{JobRef: ref("j0002"), Attempt: 1, Worker: "w1"})
	require.NoError(t, err)
	_, err = d.h.FailJob(ctx, ct.TeamA, orchestration.FailJob{JobRef: ref("j0002"), Attempt: 1, Reason: "tool ran over 1s", TimedOut: true})
	require.NoError(t, err)

	var types []string
	for _, e := range d.Stream(t, commands.ScanStreamID("run-1")) {
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{"ScanRequested", "ScanJobsPlanned", "ScanJobDispatched", "ScanStarted", "ScanJobStarted",
		"ScanJobRetried", "ScanJobStarted", "ScanJobSucceeded", "ScanJobStarted", "ScanJobTimedOut", "ScanRunFinished"}, types)
	last := d.Decoded(t, commands.ScanStreamID("run-1"))
	assert.Equal(t, orchdomain.StatusPartial, last[len(last)-1].(orchdomain.ScanRunFinished).Outcome)

	// Another team cannot cancel the run.
	_, err = d.h.CancelScan(ctx, ct.TeamB, orchestration.CancelScan{ScanID: "run-1"})
	require.Error(t, err)
}

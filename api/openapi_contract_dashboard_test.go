package api_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/access"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// dashboardScanEngineContract reads the dashboard's scan-engine section
// through the contract (called by TestOpenAPIContract after the security
// scans' imports): a run whose jobs run and fail, appended as the job
// commands append them, and the certificates of the SSLyze and testssl.sh
// imports (expired long ago: expired now); another team sees none of it.
func dashboardScanEngineContract(t *testing.T, c *contract, env *contractEnv) {
	t.Helper()
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	now := time.Now().UTC().Truncate(time.Second)
	codec := eventstore.NewDomainCodec()
	var evs []eventstore.NewEvent
	for _, d := range []any{
		orchdomain.ScanRequested{ScanID: "dash-run", AccountID: "web", Provider: orchdomain.ProviderOther, Tool: "nuclei,zap", RequestedAt: now},
		orchdomain.ScanJobsPlanned{ScanID: "dash-run", MaxAttempts: 1, PlannedAt: now, Jobs: []orchdomain.PlannedJob{
			{JobID: "j0001", Tool: "nuclei", Target: "https://shop.example.com"}, {JobID: "j0002", Tool: "zap", Target: "https://shop.example.com"}}},
		orchdomain.ScanJobDispatched{ScanID: "dash-run", JobID: "j0001", DispatchedAt: now},
		orchdomain.ScanJobDispatched{ScanID: "dash-run", JobID: "j0002", DispatchedAt: now},
		orchdomain.ScanJobStarted{ScanID: "dash-run", JobID: "j0001", Attempt: 1, Worker: "w1", StartedAt: now},
		orchdomain.ScanJobStarted{ScanID: "dash-run", JobID: "j0002", Attempt: 1, Worker: "w2", StartedAt: now},
		orchdomain.ScanJobTimedOut{ScanID: "dash-run", JobID: "j0002", Attempt: 1, Reason: "killed after 30m0s", TimedOutAt: now},
	} {
		ne, err := codec.Encode(d)
		require.NoError(t, err)
		evs = append(evs, ne)
	}
	res, err := env.store.Append(context.Background(), eventstore.AppendRequest{StreamID: "scan-dash-run", StreamType: "ScanRun",
		Expected: eventstore.Any, Events: evs, Metadata: eventstore.Metadata{TeamID: "team-a"}})
	require.NoError(t, err)
	pos := strconv.FormatInt(res.LastPosition(), 10)

	d := data[platformquery.Dashboard](t, c.send(t, request{Method: "GET", Path: "/api/v1/dashboard/summary?min_position=" + pos, Header: viewer}, 200, docValid))
	jobs := d.ScanEngine.Jobs
	assert.Equal(t, int64(1), jobs.RunningTotal)
	require.Len(t, jobs.Running, 1)
	assert.Equal(t, "nuclei", jobs.Running[0].Tool)
	assert.Equal(t, platformquery.FailedJobCounts{TimedOut: 1}, jobs.FailedByStatus)
	require.Len(t, jobs.Failed, 1)
	assert.Equal(t, "killed after 30m0s", jobs.Failed[0].Error)
	certs := d.ScanEngine.Certificates
	assert.Positive(t, certs.ExpiredTotal, "the samples' certificates expired years ago")
	require.NotEmpty(t, certs.Expired)
	assert.Equal(t, "expired", certs.Expired[0].Status)

	b := data[platformquery.Dashboard](t, c.send(t, request{Method: "GET", Path: "/api/v1/dashboard/summary", Header: viewerB}, 200, docValid))
	assert.Zero(t, b.ScanEngine.Jobs.RunningTotal+b.ScanEngine.Jobs.FailedTotal)
	assert.Empty(t, b.ScanEngine.Certificates.Expired)
}

package platform_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// TestDashboardScanEngine: the scan-engine world (queriestest.ScanEngineWorld)
// of team-a, read at several clocks. The jobs: j0002 running and j0004.2
// queued (the longest first), j0004.1 timed out then j0001 failed (the
// latest first). The certificates, judged against the request's clock:
// at T0, d.example expired (at its scan already) and a.example (+10 days,
// seen by testssl and SSLyze: one certificate) then b.example (+20 days,
// the built-in probe) expiring, soonest first; at T0+15 days a.example has
// expired since it was scanned; e.example counts by its newer scan
// (+300 days), never by the older one (-1 day). Another team sees nothing.
func TestDashboardScanEngine(t *testing.T) {
	t.Parallel()
	streams, _ := qt.ScanEngineEvents("team-a", 1)
	env := qt.NewEnv(t, slices.Concat(streams...))
	ctx := t.Context()
	day := 24 * time.Hour
	read := func(now time.Time, team string) platform.DashboardScanEngine {
		d, err := platform.New(platform.Stores{Platform: env.Stores[dbregistry.PLATFORM]}).WithClock(func() time.Time { return now }).DashboardSummary(ctx, team)
		require.NoError(t, err)
		return d.ScanEngine
	}

	s := read(pt.T0, "team-a")
	j := s.Jobs
	assert.Equal(t, int64(2), j.RunningTotal)
	assert.Equal(t, platform.RunningJobCounts{Dispatched: 1, Running: 1}, j.RunningByStatus)
	require.Len(t, j.Running, 2)
	assert.Equal(t, []string{"j0004.2", "j0002"}, []string{j.Running[0].JobID, j.Running[1].JobID}, "the longest running (or queued) first")
	r := j.Running[1]
	assert.Equal(t, platform.DashboardJob{ScanID: qt.ScanEngineRun, JobID: "j0002", Tool: "testssl", Target: "a.example:443", Status: "running",
		Attempt: 1, Progress: 50, Worker: "w2", Since: pt.At(2 * time.Minute), LastBeatAt: pt.At(3 * time.Minute)}, r)
	assert.Equal(t, "j0004", j.Running[0].ParentID)
	assert.Equal(t, "us-east-1", j.Running[0].Region)
	assert.Equal(t, int64(2), j.FailedTotal)
	assert.Equal(t, platform.FailedJobCounts{Failed: 1, TimedOut: 1}, j.FailedByStatus)
	require.Len(t, j.Failed, 2)
	assert.Equal(t, platform.DashboardJob{ScanID: qt.ScanEngineRun, JobID: "j0004.1", ParentID: "j0004", Tool: "prowler", Target: "123456789012",
		Region: "eu-west-1", Status: "timed_out", Attempt: 1, Worker: "w3", Since: pt.At(34 * time.Minute), LastBeatAt: pt.At(4 * time.Minute),
		Error: "killed after 30m0s", EndedAt: pt.At(34 * time.Minute)}, j.Failed[0], "the latest failure first")
	assert.Equal(t, "nuclei: exit status 2", j.Failed[1].Error)
	assert.Equal(t, "https://a.example", j.Failed[1].Target)

	type cert struct {
		Target, Status string
		NotAfter       time.Time
		SinceScan      bool
		Tools          []string
	}
	certs := func(l []platform.DashboardCertificate) []cert {
		out := []cert{}
		for _, c := range l {
			out = append(out, cert{c.Target, c.Status, c.NotAfter, c.ExpiredSinceScan, c.Tools})
		}
		return out
	}
	c := s.Certificates
	assert.Equal(t, int64(1), c.ExpiredTotal)
	assert.Equal(t, int64(2), c.ExpiringTotal)
	assert.Equal(t, []cert{{"a.example:443", "expiring", pt.T0.Add(10 * day), false, []string{"sslyze", "testssl"}},
		{"b.example:443", "expiring", pt.T0.Add(20 * day), false, []string{"cspm-probe"}}}, certs(c.Expiring), "soonest first")
	assert.Equal(t, []cert{{"d.example:443", "expired", pt.T0.Add(-5 * day), false, []string{"sslyze"}}}, certs(c.Expired))
	assert.Equal(t, "CN=a.example:443", c.Expiring[0].Subject)
	assert.NotEmpty(t, c.Expiring[0].TargetID)

	later := read(pt.T0.Add(15*day), "team-a").Certificates
	assert.Equal(t, int64(2), later.ExpiredTotal)
	assert.Equal(t, int64(1), later.ExpiringTotal)
	assert.Equal(t, []cert{{"a.example:443", "expired", pt.T0.Add(10 * day), true, []string{"sslyze", "testssl"}},
		{"d.example:443", "expired", pt.T0.Add(-5 * day), false, []string{"sslyze"}}}, certs(later.Expired), "the most recently expired first")
	assert.Equal(t, []cert{{"b.example:443", "expiring", pt.T0.Add(20 * day), false, []string{"cspm-probe"}}}, certs(later.Expiring))

	// Exactly at not_after: expired; 30 days before: expiring (the
	// statuses of domain/securityscans.CertificateStatus).
	// Within the day a certificate expires: an hour before, expiring; an
	// hour after, expired.
	before := read(pt.T0.Add(10*day-time.Hour), "team-a").Certificates
	assert.Equal(t, []int64{1, 2}, []int64{before.ExpiredTotal, before.ExpiringTotal})
	after := read(pt.T0.Add(10*day+time.Hour), "team-a").Certificates
	assert.Equal(t, []int64{2, 1}, []int64{after.ExpiredTotal, after.ExpiringTotal})
	// The horizon's day: b.example (+20 days) is expiring from 30 days
	// before it, to the second.
	// (d.example, -5 days, and a.example, +10 days, are expiring then too.)
	assert.Equal(t, int64(2), read(pt.T0.Add(-10*day-time.Second), "team-a").Certificates.ExpiringTotal, "not b.example yet")
	assert.Equal(t, int64(3), read(pt.T0.Add(-10*day), "team-a").Certificates.ExpiringTotal, "and b.example")
	edge := read(pt.T0.Add(20*day), "team-a").Certificates
	assert.Equal(t, int64(3), edge.ExpiredTotal, "a, b (at its not_after), d")
	far := read(pt.T0.Add(270*day), "team-a").Certificates
	assert.Equal(t, int64(1), far.ExpiringTotal, "e.example at +300 days, 30 days ahead")
	assert.Equal(t, int64(3), far.ExpiredTotal)
	long := read(pt.T0.Add(800*day), "team-a").Certificates
	assert.Equal(t, int64(5), long.ExpiredTotal, "every certificate kept, never e.example's older one twice")

	// Another team sees none of it.
	b := read(pt.T0, "team-b")
	assert.Equal(t, noScanEngine, b)
}

// The section's lists are bounded: TopJobs running and failed jobs,
// TopCertificates certificates of each kind; the totals count them all.
func TestDashboardScanEngine_Bounded(t *testing.T) {
	t.Parallel()
	events := scanEngineLoad("team-a", 3, 40, 30, 0)
	env := qt.NewEnv(t, events)
	d, err := platform.New(platform.Stores{Platform: env.Stores[dbregistry.PLATFORM]}).WithClock(func() time.Time { return pt.T0 }).DashboardSummary(t.Context(), "team-a")
	require.NoError(t, err)
	s := d.ScanEngine
	assert.Len(t, s.Jobs.Running, platform.TopJobs)
	assert.Len(t, s.Jobs.Failed, platform.TopJobs)
	assert.Equal(t, s.Jobs.RunningTotal, s.Jobs.RunningByStatus.Dispatched+s.Jobs.RunningByStatus.Running)
	assert.Greater(t, s.Jobs.RunningTotal, int64(platform.TopJobs))
	assert.Greater(t, s.Jobs.FailedTotal, int64(platform.TopJobs))
	assert.Len(t, s.Certificates.Expiring, platform.TopCertificates)
	assert.Len(t, s.Certificates.Expired, platform.TopCertificates)
	assert.Equal(t, int64(40), s.Certificates.ExpiringTotal)
	assert.Equal(t, int64(30), s.Certificates.ExpiredTotal)
	for i := 1; i < len(s.Certificates.Expiring); i++ {
		assert.False(t, s.Certificates.Expiring[i].NotAfter.Before(s.Certificates.Expiring[i-1].NotAfter), "soonest first")
	}
	for i := 1; i < len(s.Jobs.Failed); i++ {
		assert.False(t, s.Jobs.Failed[i].EndedAt.After(s.Jobs.Failed[i-1].EndedAt), "latest first")
	}
}

package platform_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries/queriestest"
)

const day = 24 * time.Hour

func planJobs(scan string, jobs ...string) orchdomain.ScanJobsPlanned {
	e := orchdomain.ScanJobsPlanned{ScanID: scan, MaxAttempts: 3, PlannedAt: t0}
	for _, j := range jobs {
		e.Jobs = append(e.Jobs, orchdomain.PlannedJob{JobID: j, Tool: "nuclei", Target: "https://" + j + ".example"})
	}
	return e
}

func dispatched(scan, job string, d time.Duration) orchdomain.ScanJobDispatched {
	return orchdomain.ScanJobDispatched{ScanID: scan, JobID: job, DispatchedAt: at(d)}
}

func started(scan, job string, attempt int, d time.Duration) orchdomain.ScanJobStarted {
	return orchdomain.ScanJobStarted{ScanID: scan, JobID: job, Attempt: attempt, Worker: fmt.Sprintf("w%d", attempt), StartedAt: at(d)}
}

func jobFailed(scan, job string, d time.Duration) orchdomain.ScanJobFailed {
	return orchdomain.ScanJobFailed{ScanID: scan, JobID: job, Attempt: 1, Reason: "exit status 2", FailedAt: at(d)}
}

func certsSeen(tool, scan string, evaluated time.Time, certs ...csdomain.CertificateSeen) csdomain.CertificatesObserved {
	return csdomain.CertificatesObserved{ImportID: "imp-" + scan, ScanID: scan, Tool: tool, EvaluatedAt: evaluated, Certificates: certs}
}

func certOf(target, n string, notAfter time.Time) csdomain.CertificateSeen {
	return csdomain.CertificateSeen{Target: target, Cert: n, Subject: "CN=" + target, NotAfter: notAfter, FingerprintSHA256: "fp-" + n}
}

func probeCert(scan, target string, evaluated, notAfter time.Time) csdomain.ResultsRecorded {
	return csdomain.ResultsRecorded{ImportID: "imp-" + scan, ScanID: scan, EvaluatedAt: evaluated, IdentityRule: csdomain.IdentityProbeV1,
		Results: []csdomain.CheckResult{{Provider: "tls", Account: target, Check: "cert_expiry", Resource: target, Result: csdomain.ResultFail,
			Severity: csdomain.SeverityMedium, ObservedAt: evaluated, Tags: map[string]string{"not_after": notAfter.Format(time.RFC3339)}}}}
}

// certRows are the dashboard_certificates rows as "target@not_after: tools".
func certRows(tx *pt.MemTx) []string {
	var out []string
	for _, d := range tx.Colls[platform.DashboardCertificatesCollection] {
		tools := []string{}
		for _, t := range d["tools"].([]any) {
			tools = append(tools, t.(string))
		}
		out = append(out, fmt.Sprintf("%s@%s %v", d["target"], d["not_after"].(time.Time).Format(time.DateOnly), tools))
	}
	slices.Sort(out)
	return out
}

// The job rows and the team's counts: given a run's job events (one
// stream, in order), then the counts by state and status, and each job's
// state.
func TestDashboardScanEngine_Jobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		given  []eventData
		counts map[string]any
		states map[string]string // job → state/status
	}{
		{
			name:   "planned jobs are neither running nor failed",
			given:  []eventData{planJobs("r1", "j1", "j2")},
			counts: map[string]any{"other": map[string]any{"planned": int64(2)}},
			states: map[string]string{"j1": "other/planned", "j2": "other/planned"},
		},
		{
			name:   "dispatched and started jobs run",
			given:  []eventData{planJobs("r1", "j1", "j2"), dispatched("r1", "j1", time.Second), dispatched("r1", "j2", time.Second), started("r1", "j1", 1, time.Minute)},
			counts: map[string]any{"active": map[string]any{"dispatched": int64(1), "running": int64(1)}},
			states: map[string]string{"j1": "active/running", "j2": "active/dispatched"},
		},
		{
			name: "failed and timed out end a job for good; a later event changes nothing",
			given: []eventData{planJobs("r1", "j1", "j2"), dispatched("r1", "j1", time.Second), started("r1", "j1", 1, time.Minute),
				jobFailed("r1", "j1", 2*time.Minute), started("r1", "j1", 2, 3*time.Minute),
				dispatched("r1", "j2", time.Second), orchdomain.ScanJobTimedOut{ScanID: "r1", JobID: "j2", Reason: "no lease", TimedOutAt: at(time.Hour)}},
			counts: map[string]any{"failed": map[string]any{"failed": int64(1), "timed_out": int64(1)}},
			states: map[string]string{"j1": "failed/failed", "j2": "failed/timed_out"},
		},
		{
			name: "a retried job keeps running under its new attempt; success and cancel leave the lists",
			given: []eventData{planJobs("r1", "j1", "j2"), dispatched("r1", "j1", time.Second), started("r1", "j1", 1, time.Minute),
				orchdomain.ScanJobRetried{ScanID: "r1", JobID: "j1", Attempt: 2, Reason: "lease expired", RetriedAt: at(2 * time.Minute)},
				started("r1", "j1", 2, 3*time.Minute), orchdomain.ScanJobSucceeded{ScanID: "r1", JobID: "j1", Attempt: 2, SucceededAt: at(4 * time.Minute)},
				dispatched("r1", "j2", time.Second), orchdomain.ScanJobCancelled{ScanID: "r1", JobID: "j2", CancelledAt: at(time.Minute)}},
			counts: map[string]any{"other": map[string]any{"succeeded": int64(1), "cancelled": int64(1)}},
			states: map[string]string{"j1": "other/succeeded", "j2": "other/cancelled"},
		},
		{
			name: "a split job is not listed; its sub-jobs are",
			given: []eventData{planJobs("r1", "j1"), orchdomain.ScanJobSplit{ScanID: "r1", JobID: "j1", SplitAt: at(time.Second),
				SubJobs: []orchdomain.PlannedJob{{JobID: "j1.1", Tool: "prowler", Target: "acc", Region: "eu-west-1", ParentID: "j1"}}},
				dispatched("r1", "j1.1", 2*time.Second)},
			counts: map[string]any{"other": map[string]any{"split": int64(1)}, "active": map[string]any{"dispatched": int64(1)}},
			states: map[string]string{"j1": "other/split", "j1.1": "active/dispatched"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tx := apply(t, platform.NewDashboardScanEngine(), stream("team-a", seq(len(tc.given)), tc.given...)...)
			team := tx.Doc(t, platform.DashboardScanEngineCollection, "team-a")
			assert.Equal(t, tc.counts, team["jobs"])
			for job, want := range tc.states {
				d := tx.Doc(t, platform.DashboardScanJobsCollection, platform.Key("team-a", "r1/"+job))
				assert.Equal(t, want, fmt.Sprintf("%s/%s", d["state"], d["status"]), job)
			}
		})
	}
}

func seq(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// An event of a job never planned projects nothing (as
// orchestration.scan_jobs does).
func TestDashboardScanEngine_UnplannedJob(t *testing.T) {
	t.Parallel()
	tx := apply(t, platform.NewDashboardScanEngine(), stream("team-a", seq(2), dispatched("r1", "j9", time.Second), jobFailed("r1", "j9", time.Minute))...)
	for c, docs := range tx.Colls {
		assert.Empty(t, docs, c)
	}
}

// A failed job's row says what the dashboard lists: run, tool, target,
// error, when; a running one since when, its attempt, worker and progress.
func TestDashboardScanEngine_JobRows(t *testing.T) {
	t.Parallel()
	tx := apply(t, platform.NewDashboardScanEngine(), stream("team-a", seq(7),
		planJobs("r1", "j1", "j2"), dispatched("r1", "j1", time.Second), dispatched("r1", "j2", time.Second), started("r1", "j1", 1, time.Minute),
		started("r1", "j2", 1, time.Minute), orchdomain.ScanJobHeartbeat{ScanID: "r1", JobID: "j2", Attempt: 1, Progress: 40, BeatAt: at(2 * time.Minute)},
		jobFailed("r1", "j1", 5*time.Minute))...)
	f := tx.Doc(t, platform.DashboardScanJobsCollection, platform.Key("team-a", "r1/j1"))
	assert.Equal(t, "r1", f["scan_id"])
	assert.Equal(t, "nuclei", f["tool"])
	assert.Equal(t, "https://j1.example", f["target"])
	assert.Equal(t, "exit status 2", f["reason"])
	assert.Equal(t, at(5*time.Minute), f["ended_at"])
	assert.Equal(t, at(5*time.Minute), f["since"])
	r := tx.Doc(t, platform.DashboardScanJobsCollection, platform.Key("team-a", "r1/j2"))
	assert.Equal(t, at(time.Minute), r["since"])
	assert.Equal(t, int64(40), r["progress"])
	assert.Equal(t, "w1", r["worker"])
	assert.Equal(t, at(2*time.Minute), r["last_beat_at"])
	assert.Nil(t, r["ended_at"])
}

// Certificates: given observations, then the rows (target, expiry, tools).
// Each case holds in both orders of its streams (each observation is its
// own import stream).
func TestDashboardScanEngine_Certificates(t *testing.T) {
	t.Parallel()
	a := "a.example:443"
	for _, tc := range []struct {
		name  string
		given []eventData // each its own stream
		then  []string
	}{
		{
			name:  "a tool's certificates of a target are rows",
			given: []eventData{certsSeen("testssl", "s1", t0, certOf(a, "cert1", t0.Add(10*day)), certOf(a, "cert2", t0.Add(400*day)))},
			then:  []string{"a.example:443@2025-03-11 [testssl]", "a.example:443@2026-04-05 [testssl]"},
		},
		{
			name: "the same certificate seen by three tools is one row",
			given: []eventData{certsSeen("testssl", "s1", t0, certOf(a, "cert1", t0.Add(10*day))),
				certsSeen("sslyze", "s2", t0.Add(time.Hour), certOf(a, "0", t0.Add(10*day))),
				probeCert("s3", a, t0.Add(2*time.Hour), t0.Add(10*day))},
			then: []string{"a.example:443@2025-03-11 [cspm-probe sslyze testssl]"},
		},
		{
			name: "a tool's newer observation replaces its older one, whatever order they come in",
			given: []eventData{certsSeen("testssl", "s1", t0, certOf(a, "cert1", t0.Add(-day))),
				certsSeen("testssl", "s2", t0.Add(day), certOf(a, "cert1", t0.Add(300*day)))},
			then: []string{"a.example:443@2025-12-26 [testssl]"},
		},
		{
			name: "a certificate another tool still holds stays when one tool's word moves on",
			given: []eventData{certsSeen("testssl", "s1", t0, certOf(a, "cert1", t0.Add(10*day))),
				certsSeen("sslyze", "s2", t0, certOf(a, "0", t0.Add(10*day))),
				certsSeen("testssl", "s3", t0.Add(day), certOf(a, "cert1", t0.Add(100*day)))},
			then: []string{"a.example:443@2025-03-11 [sslyze]", "a.example:443@2025-06-09 [testssl]"},
		},
		{
			name: "a probe result without not_after and other tools' results say nothing",
			given: []eventData{
				csdomain.ResultsRecorded{ImportID: "i", ScanID: "s1", EvaluatedAt: t0, IdentityRule: csdomain.IdentityProbeV1,
					Results: []csdomain.CheckResult{{Provider: "tls", Account: a, Check: "cert_expiry", Resource: a, Result: csdomain.ResultPass}}},
				csdomain.ResultsRecorded{ImportID: "j", ScanID: "s2", EvaluatedAt: t0, IdentityRule: csdomain.IdentityTestsslV1,
					Results: []csdomain.CheckResult{{Provider: "tls", Account: a, Check: "cert_expiry", Resource: a, Result: csdomain.ResultFail,
						Tags: map[string]string{"not_after": t0.Format(time.RFC3339)}}}}},
			then: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var streams [][]projections.Event
			for i, d := range tc.given {
				streams = append(streams, stream("team-a", positions(int64(i+1)), d))
			}
			tx := apply(t, platform.NewDashboardScanEngine(), slices.Concat(streams...)...)
			assert.Equal(t, tc.then, certRows(tx), "in order")
			reversed := slices.Clone(streams)
			slices.Reverse(reversed)
			rtx := apply(t, platform.NewDashboardScanEngine(), slices.Concat(reversed...)...)
			assert.Equal(t, tc.then, certRows(rtx), "reversed")
			assert.Equal(t, tx.Colls, rtx.Colls, "the same documents")
			// The team's day cells count the rows by UTC day of not_after.
			days := map[string]any{}
			for _, d := range tx.Colls[platform.DashboardCertificatesCollection] {
				day := platform.CertDay(d["not_after"].(time.Time))
				n, _ := days[day].(int64)
				days[day] = n + 1
			}
			team := tx.Colls[platform.DashboardScanEngineCollection]["team-a"]
			if len(days) == 0 {
				assert.Nil(t, team["cert_days"], "no cells")
			} else {
				assert.Equal(t, days, team["cert_days"])
			}
		})
	}
}

// The whole scan-engine world (queriestest.ScanEngineWorld: a run's jobs,
// five imports) builds the same documents in every interleaving of its
// streams, two teams' worlds apart; events without a team count nowhere.
func TestDashboardScanEngine_OrderIndependentAndPerTeam(t *testing.T) {
	t.Parallel()
	a, next := queriestest.ScanEngineEvents("team-a", 1)
	b, _ := queriestest.ScanEngineEvents("team-b", next)
	p := platform.NewDashboardScanEngine()
	streams := pt.OnlyStreams(p, slices.Concat(a, b))
	assertOrderIndependent(t, p, streams)

	tx := apply(t, p, slices.Concat(streams...)...)
	for _, team := range []string{"team-a", "team-b"} {
		d := tx.Doc(t, platform.DashboardScanEngineCollection, team)
		assert.Equal(t, map[string]any{"dispatched": int64(1), "running": int64(1)}, d["jobs"].(map[string]any)["active"], team)
		assert.Equal(t, map[string]any{"failed": int64(1), "timed_out": int64(1)}, d["jobs"].(map[string]any)["failed"], team)
	}
	rows := map[string]int{}
	for _, d := range tx.Colls[platform.DashboardCertificatesCollection] {
		rows[d["team_id"].(string)]++
	}
	// a@+10d (testssl, sslyze), a@+400d, d@-5d, b@+20d, e@+300d.
	assert.Equal(t, map[string]int{"team-a": 5, "team-b": 5}, rows)

	var noTeam []projections.Event
	for _, ev := range slices.Concat(streams...) {
		ev.Metadata.TeamID = ""
		noTeam = append(noTeam, ev)
	}
	empty := apply(t, p, noTeam...)
	for c, docs := range empty.Colls {
		assert.Empty(t, docs, c)
	}
}

// The collections' names and indexes validate.
func TestDashboardScanEngine_Collections(t *testing.T) {
	t.Parallel()
	for _, c := range platform.NewDashboardScanEngine().Collections() {
		require.NoError(t, c.Validate(), c.Name)
	}
}

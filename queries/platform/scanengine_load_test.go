package platform_test

import (
	"fmt"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// scanEngineLoad is a team's scan-engine events at scale: runs of 20 jobs
// each (per run: 2 running, 8 queued, 5 failed, 3 timed out, 2
// succeeded), and one testssl.sh import per target with one certificate:
// expiring targets expire within 30 days of pt.T0, expired ones before it,
// valid ones 100 days and more after it.
func scanEngineLoad(team string, runs, expiring, expired, valid int) []projections.Event {
	var out []projections.Event
	pos := int64(1)
	add := func(data ...pt.EventData) {
		ps := make([]int64, len(data))
		for i := range ps {
			ps[i] = pos
			pos++
		}
		out = append(out, pt.Stream(team, ps, data...)...)
	}
	for r := range runs {
		run := fmt.Sprintf("run-%05d", r)
		base := pt.T0.Add(-time.Duration(runs-r) * time.Hour)
		at := func(d time.Duration) time.Time { return base.Add(d) }
		plan := orchdomain.ScanJobsPlanned{ScanID: run, MaxAttempts: 1, PlannedAt: base}
		for j := 1; j <= 20; j++ {
			plan.Jobs = append(plan.Jobs, orchdomain.PlannedJob{JobID: fmt.Sprintf("j%04d", j), Tool: "nuclei", Target: fmt.Sprintf("https://h%d-%d.example", r, j)})
		}
		data := []pt.EventData{plan}
		for j := 1; j <= 20; j++ {
			data = append(data, orchdomain.ScanJobDispatched{ScanID: run, JobID: fmt.Sprintf("j%04d", j), DispatchedAt: at(time.Duration(j) * time.Second)})
		}
		for j := 1; j <= 12; j++ {
			data = append(data, orchdomain.ScanJobStarted{ScanID: run, JobID: fmt.Sprintf("j%04d", j), Attempt: 1, Worker: "w", StartedAt: at(time.Minute + time.Duration(j)*time.Second)})
		}
		for j := 1; j <= 10; j++ {
			id, end := fmt.Sprintf("j%04d", j), at(10*time.Minute+time.Duration(j)*time.Second)
			switch {
			case j <= 5:
				data = append(data, orchdomain.ScanJobFailed{ScanID: run, JobID: id, Attempt: 1, Reason: "exit status 1", FailedAt: end})
			case j <= 8:
				data = append(data, orchdomain.ScanJobTimedOut{ScanID: run, JobID: id, Attempt: 1, Reason: "killed after 30m0s", TimedOutAt: end})
			default:
				data = append(data, orchdomain.ScanJobSucceeded{ScanID: run, JobID: id, Attempt: 1, SucceededAt: end})
			}
		}
		add(data...)
	}
	n := 0
	cert := func(notAfter time.Time) {
		n++
		target := fmt.Sprintf("host%06d.example:443", n)
		add(csdomain.CertificatesObserved{ImportID: fmt.Sprintf("imp-%06d", n), ScanID: fmt.Sprintf("scan-%06d", n), Tool: "testssl", EvaluatedAt: pt.T0.Add(-time.Hour),
			Certificates: []csdomain.CertificateSeen{{Target: target, Cert: "cert1", Subject: "CN=" + target, NotAfter: notAfter}}})
	}
	for i := range expiring {
		cert(pt.T0.Add(time.Hour + time.Duration(i)*(29*24*time.Hour)/time.Duration(max(expiring, 1))))
	}
	for i := range expired {
		cert(pt.T0.Add(-time.Duration(i+1) * time.Hour))
	}
	for i := range valid {
		cert(pt.T0.Add(100*24*time.Hour + time.Duration(i)*time.Minute))
	}
	return out
}

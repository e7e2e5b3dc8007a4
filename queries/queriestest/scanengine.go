package queriestest

import (
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// The scan-engine world (the dashboard's scan-engine section, decision
// 79), at pt.T0 = 2025-03-01 12:00 UTC:
//
//   - run "run-web" plans j0001 nuclei https://a.example, j0002 testssl
//     a.example:443, j0003 cspm-probe b.example:443 and j0004 prowler
//     123456789012, split into j0004.1 (eu-west-1) and j0004.2
//     (us-east-1). j0001 fails (attempt 1), j0004.1 times out, j0003
//     succeeds; j0002 is running (progress 50), j0004.2 dispatched. So:
//     running 2 (1 dispatched, 1 running), failed 2 (1 failed, 1 timed out).
//   - certificates: testssl saw a.example:443 expiring at T0+10d (and one
//     at T0+400d); SSLyze saw the same a.example:443 instant (one
//     certificate, two tools) and d.example:443 expired at T0-5d; the
//     built-in TLS probe saw b.example:443 expiring at T0+20d; testssl saw
//     e.example:443 expiring at T0+300d at T0 after, at T0-30d, one
//     expiring at T0-1d (the newer word wins, whatever order they come in).
//
// Against a clock at T0: expired 1 (d), expiring 2 (a at +10d, b at
// +20d). At T0+15d: expired 2 (a, valid when scanned; d), expiring 1 (b).

// ScanEngineStream is one stream of the scan-engine world.
type ScanEngineStream struct {
	StreamID, StreamType string
	Data                 []pt.EventData
}

// ScanEngineRun is the run id of the scan-engine world.
const ScanEngineRun = "run-web"

// ScanEngineWorld returns the scan-engine world's streams, in order.
func ScanEngineWorld() []ScanEngineStream {
	t0, at := pt.T0, pt.At
	day := 24 * time.Hour
	run := ScanEngineRun
	job := func(id, tool, target, region, parent string) orchdomain.PlannedJob {
		return orchdomain.PlannedJob{JobID: id, Tool: tool, Target: target, Region: region, ParentID: parent}
	}
	jobs := ScanEngineStream{StreamID: "scan-" + run, StreamType: "ScanRun", Data: []pt.EventData{
		orchdomain.ScanRequested{ScanID: run, AccountID: "web", Provider: orchdomain.ProviderOther, Tool: "nuclei,testssl,cspm-probe,prowler", RequestedAt: t0},
		orchdomain.ScanJobsPlanned{ScanID: run, MaxAttempts: 1, PlannedAt: t0, Jobs: []orchdomain.PlannedJob{
			job("j0001", "nuclei", "https://a.example", "", ""), job("j0002", "testssl", "a.example:443", "", ""),
			job("j0003", "cspm-probe", "b.example:443", "", ""), job("j0004", "prowler", "123456789012", "", "")}},
		orchdomain.ScanJobSplit{ScanID: run, JobID: "j0004", SplitAt: at(time.Second), SubJobs: []orchdomain.PlannedJob{
			job("j0004.1", "prowler", "123456789012", "eu-west-1", "j0004"), job("j0004.2", "prowler", "123456789012", "us-east-1", "j0004")}},
		orchdomain.ScanJobDispatched{ScanID: run, JobID: "j0001", DispatchedAt: at(time.Second)},
		orchdomain.ScanJobDispatched{ScanID: run, JobID: "j0002", DispatchedAt: at(2 * time.Second)},
		orchdomain.ScanJobDispatched{ScanID: run, JobID: "j0003", DispatchedAt: at(3 * time.Second)},
		orchdomain.ScanJobDispatched{ScanID: run, JobID: "j0004.1", DispatchedAt: at(4 * time.Second)},
		orchdomain.ScanJobDispatched{ScanID: run, JobID: "j0004.2", DispatchedAt: at(5 * time.Second)},
		orchdomain.ScanStarted{ScanID: run, StartedAt: at(time.Minute)},
		orchdomain.ScanJobStarted{ScanID: run, JobID: "j0001", Attempt: 1, Worker: "w1", StartedAt: at(time.Minute)},
		orchdomain.ScanJobStarted{ScanID: run, JobID: "j0002", Attempt: 1, Worker: "w2", StartedAt: at(2 * time.Minute)},
		orchdomain.ScanJobStarted{ScanID: run, JobID: "j0003", Attempt: 1, Worker: "w1", StartedAt: at(3 * time.Minute)},
		orchdomain.ScanJobHeartbeat{ScanID: run, JobID: "j0002", Attempt: 1, Progress: 50, BeatAt: at(3 * time.Minute)},
		orchdomain.ScanJobStarted{ScanID: run, JobID: "j0004.1", Attempt: 1, Worker: "w3", StartedAt: at(4 * time.Minute)},
		orchdomain.ScanJobFailed{ScanID: run, JobID: "j0001", Attempt: 1, Reason: "nuclei: exit status 2", FailedAt: at(5 * time.Minute)},
		orchdomain.ScanJobSucceeded{ScanID: run, JobID: "j0003", Attempt: 1, ImportID: "imp-probe", ReportScanID: "scan-probe", SucceededAt: at(6 * time.Minute)},
		orchdomain.ScanJobTimedOut{ScanID: run, JobID: "j0004.1", Attempt: 1, Reason: "killed after 30m0s", TimedOutAt: at(34 * time.Minute)},
	}}
	imp := func(id, scan, tool string, rule csdomain.IdentityRule, evaluated time.Time, certs []csdomain.CertificateSeen, results ...csdomain.CheckResult) ScanEngineStream {
		data := []pt.EventData{csdomain.ImportStarted{ImportID: id, ScanID: scan, Format: tool + "-json", Tool: tool, ToolVersion: "1", StartedAt: evaluated}}
		if len(certs) > 0 {
			data = append(data, csdomain.CertificatesObserved{ImportID: id, ScanID: scan, Tool: tool, EvaluatedAt: evaluated, Certificates: certs})
		}
		var scope csdomain.ImportScope
		if len(results) > 0 {
			for _, r := range results {
				scope.Add(r)
			}
			data = append(data, csdomain.ResultsRecorded{ImportID: id, ScanID: scan, EvaluatedAt: evaluated, IdentityRule: rule, Results: results})
		}
		data = append(data, csdomain.ImportCompleted{ImportID: id, ScanID: scan, EvaluatedAt: evaluated, IdentityRule: rule, Scopes: scope.Scopes(), CompletedAt: evaluated})
		return ScanEngineStream{StreamID: "import-" + id, StreamType: "Import", Data: data}
	}
	cert := func(target, n string, notAfter time.Time) csdomain.CertificateSeen {
		return csdomain.CertificateSeen{Target: target, Cert: n, Subject: "CN=" + target, NotBefore: notAfter.Add(-90 * day), NotAfter: notAfter,
			FingerprintSHA256: "ab" + n}
	}
	probeAt := at(6 * time.Minute)
	probe := csdomain.CheckResult{Provider: "tls", Account: "b.example:443", Check: "cert_expiry", Resource: "b.example:443",
		ResourceName: "b.example:443", Result: csdomain.ResultFail, Severity: csdomain.SeverityMedium, ObservedAt: probeAt,
		Tags: map[string]string{"not_after": t0.Add(20 * day).Format(time.RFC3339)}}
	return []ScanEngineStream{jobs,
		imp("imp-tls-1", "scan-tls-1", "testssl", csdomain.IdentityTestsslV1, t0,
			[]csdomain.CertificateSeen{cert("a.example:443", "cert1", t0.Add(10*day)), cert("a.example:443", "cert2", t0.Add(400*day))}),
		imp("imp-ssl-1", "scan-ssl-1", "sslyze", csdomain.IdentitySSLyzeV1, at(time.Hour),
			[]csdomain.CertificateSeen{cert("a.example:443", "0", t0.Add(10*day)), cert("d.example:443", "0", t0.Add(-5*day))}),
		imp("imp-probe", "scan-probe", "cspm-probe", csdomain.IdentityProbeV1, probeAt, nil, probe),
		imp("imp-tls-e2", "scan-e-2", "testssl", csdomain.IdentityTestsslV1, t0,
			[]csdomain.CertificateSeen{cert("e.example:443", "cert1", t0.Add(300*day))}),
		imp("imp-tls-e1", "scan-e-1", "testssl", csdomain.IdentityTestsslV1, t0.Add(-30*day),
			[]csdomain.CertificateSeen{cert("e.example:443", "cert1", t0.Add(-day))}),
	}
}

// ScanEngineEvents returns the scan-engine world as events of team, one
// slice per stream, at positions from first on; next is the position
// after the last.
func ScanEngineEvents(team string, first int64) (streams [][]projections.Event, next int64) {
	for _, s := range ScanEngineWorld() {
		ps := make([]int64, len(s.Data))
		for i := range ps {
			ps[i] = first + int64(i)
		}
		evs := pt.Stream(team, ps, s.Data...)
		for i := range evs {
			evs[i].StreamID, evs[i].StreamType = s.StreamID, s.StreamType
			evs[i].RecordedEvent.Metadata = eventstore.Metadata{TeamID: team}
		}
		streams = append(streams, evs)
		first += int64(len(s.Data))
	}
	return streams, first
}

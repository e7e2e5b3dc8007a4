package platform

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	ssdomain "github.com/cspm-es/cspm-es/domain/securityscans"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The dashboard's scan-engine section (decision 79): the team's running
// and failed scan jobs, and the TLS certificates its scans saw, for the
// query to judge against the clock ("expiring within 30 days", "expired").
//
// It is its own projection, platform.dashboard_scan_engine, folding into
// cspm_platform:
//
//   - the scan-job events (domain/orchestration): one row per job in
//     dashboard_scan_jobs (run, job, tool, target, status, attempt,
//     progress, since, reason, ended), its state "active" (dispatched or
//     running, not ended), "failed" (failed or timed out: final) or
//     "other" (planned, split, succeeded, cancelled), indexed by (team,
//     state, since) and (team, state, ended_at desc); and per team in
//     dashboard_scan_engine the counts of the rows by state and status,
//     moved by each row's change (the row is what the counts hold for it);
//   - the certificates: CertificatesObserved of the testssl.sh and SSLyze
//     imports, and the cert_expiry results of the built-in TLS probe
//     (ResultsRecorded of cspm-probe/v1, tags.not_after). A tool's latest
//     observation of a target (by evaluation time, then scan id) is its
//     word on that target's certificates; dashboard_cert_sets keeps, per
//     team, tool and target, that observation and the expiry instants it
//     holds. A certificate is a target's expiry instant (target, not_after
//     in whole seconds), one row in dashboard_certificates listing the
//     tools whose latest word holds it, so one certificate seen by three
//     tools counts once; a row no tool holds any more is deleted. The rows
//     are indexed by (team, not_after) for the query's lists; the team's
//     document counts them per UTC day of not_after (cert_days), so the
//     query counts expired and expiring against its clock by walking the
//     day cells, reading only the rows of the two days the clock and the
//     30-day horizon fall in.
const (
	DashboardScanEngineName = "platform.dashboard_scan_engine"

	DashboardScanEngineCollection   = "dashboard_scan_engine"  // _id: the team
	DashboardScanJobsCollection     = "dashboard_scan_jobs"    // _id: Key(team, "<run>/<job>")
	DashboardCertificatesCollection = "dashboard_certificates" // _id: Key(team, "<target>@<not_after unix>")
	dashboardCertSetsCollection     = "dashboard_cert_sets"    // _id: Key(team, "<tool>/<target>")
)

// Job row states.
const (
	JobStateActive = "active" // dispatched or running, not ended
	JobStateFailed = "failed" // failed or timed out (final)
	JobStateOther  = "other"  // planned, split, succeeded, cancelled
)

// probeCertCheck is the built-in TLS probe's expiry check; its results
// carry the leaf's not_after in tags (decision 65).
const probeCertCheck = "cert_expiry"

// DashboardScanEngine is the projection.
type DashboardScanEngine struct{}

var _ projections.Projection = DashboardScanEngine{}

// NewDashboardScanEngine returns the "platform.dashboard_scan_engine" projection.
func NewDashboardScanEngine() DashboardScanEngine { return DashboardScanEngine{} }

func (DashboardScanEngine) Name() string                  { return DashboardScanEngineName }
func (DashboardScanEngine) Database() dbregistry.Constant { return dbregistry.PLATFORM }

// EventTypes: the job events, the certificates observed, the results (the
// probe's cert_expiry).
func (DashboardScanEngine) EventTypes() []string {
	return []string{
		orchdomain.ScanJobsPlanned{}.EventType(), orchdomain.ScanJobSplit{}.EventType(),
		orchdomain.ScanJobDispatched{}.EventType(), orchdomain.ScanJobStarted{}.EventType(),
		orchdomain.ScanJobRetried{}.EventType(), orchdomain.ScanJobHeartbeat{}.EventType(),
		orchdomain.ScanJobSucceeded{}.EventType(), orchdomain.ScanJobFailed{}.EventType(),
		orchdomain.ScanJobTimedOut{}.EventType(), orchdomain.ScanJobCancelled{}.EventType(),
		csdomain.CertificatesObserved{}.EventType(), csdomain.ResultsRecorded{}.EventType(),
	}
}

// Collections: the team counts by _id; the job rows by (team, state,
// since) for the running jobs, longest first, and (team, state, ended_at
// desc) for the latest failures, ended rows expiring RowTTL after they
// ended; the certificates by (team, not_after).
func (DashboardScanEngine) Collections() []readmodel.CollectionSpec {
	f := func(p string) readmodel.IndexField { return readmodel.IndexField{Path: p} }
	return []readmodel.CollectionSpec{
		{Name: DashboardScanEngineCollection},
		{Name: DashboardScanJobsCollection, Indexes: []readmodel.Index{
			{Name: "by_team_state_since", Fields: []readmodel.IndexField{f("team_id"), f("state"), f("since")}},
			{Name: "by_team_state_ended", Fields: []readmodel.IndexField{f("team_id"), f("state"), {Path: "ended_at", Desc: true}}},
			{Name: "expire_ended", Fields: []readmodel.IndexField{f("ended_at")}, TTL: RowTTL},
		}},
		{Name: DashboardCertificatesCollection, Indexes: []readmodel.Index{
			{Name: "by_team_not_after", Fields: []readmodel.IndexField{f("team_id"), f("not_after")}},
		}},
		{Name: dashboardCertSetsCollection},
	}
}

// Apply implements projections.Projection. Events without a team belong
// to no dashboard.
func (DashboardScanEngine) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	if team == "" {
		return nil
	}
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case orchdomain.ScanJobsPlanned:
		for _, p := range e.Jobs {
			if err = applyJob(ctx, tx, team, e.ScanID, p.JobID, true, planned(p)); err != nil {
				break
			}
		}
	case orchdomain.ScanJobSplit:
		if err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, status(orchdomain.JobSplit)); err != nil {
			break
		}
		for _, p := range e.SubJobs {
			if err = applyJob(ctx, tx, team, e.ScanID, p.JobID, true, planned(p)); err != nil {
				break
			}
		}
	case orchdomain.ScanJobDispatched:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, func(d readmodel.Doc) {
			d["dispatched_at"] = readmodel.NormalizeTime(e.DispatchedAt)
			status(orchdomain.JobDispatched)(d)
		})
	case orchdomain.ScanJobStarted:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, func(d readmodel.Doc) {
			at := readmodel.NormalizeTime(e.StartedAt)
			if int64(e.Attempt) >= fold.Num(d, "attempt") {
				d["attempt"], d["worker"], d["started_at"] = int64(e.Attempt), e.Worker, at
			}
			d["last_beat_at"] = fold.TimeOrNil(fold.Later(fold.Time(d, "last_beat_at"), at))
			status(orchdomain.JobRunning)(d)
		})
	case orchdomain.ScanJobRetried:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, func(d readmodel.Doc) {
			d["retries"] = fold.Num(d, "retries") + 1
		})
	case orchdomain.ScanJobHeartbeat:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, func(d readmodel.Doc) {
			d["progress"] = max(fold.Num(d, "progress"), int64(e.Progress))
			d["last_beat_at"] = fold.TimeOrNil(fold.Later(fold.Time(d, "last_beat_at"), readmodel.NormalizeTime(e.BeatAt)))
		})
	case orchdomain.ScanJobSucceeded:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, ended(orchdomain.JobSucceeded, e.SucceededAt, e.Attempt, ""))
	case orchdomain.ScanJobFailed:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, ended(orchdomain.JobFailed, e.FailedAt, e.Attempt, e.Reason))
	case orchdomain.ScanJobTimedOut:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, ended(orchdomain.JobTimedOut, e.TimedOutAt, e.Attempt, e.Reason))
	case orchdomain.ScanJobCancelled:
		err = applyJob(ctx, tx, team, e.ScanID, e.JobID, false, ended(orchdomain.JobCancelled, e.CancelledAt, 0, ""))
	case csdomain.CertificatesObserved:
		byTarget := map[string][]certSeen{}
		for _, c := range e.Certificates {
			if c.Target == "" || c.NotAfter.IsZero() {
				continue
			}
			byTarget[c.Target] = append(byTarget[c.Target], certSeen{cert: c.Cert, subject: c.Subject,
				fingerprint: c.FingerprintSHA256, notAfter: readmodel.NormalizeTime(c.NotAfter)})
		}
		for _, target := range slices.Sorted(maps.Keys(byTarget)) {
			if err = observeCerts(ctx, tx, team, e.Tool, target, e.EvaluatedAt, e.ScanID, byTarget[target]); err != nil {
				break
			}
		}
	case csdomain.ResultsRecorded:
		if e.IdentityRule != csdomain.IdentityProbeV1 {
			return nil
		}
		byTarget := map[string][]certSeen{}
		for _, r := range e.Results {
			if r.Check != probeCertCheck || r.Account == "" {
				continue
			}
			na, perr := time.Parse(time.RFC3339, r.Tags["not_after"])
			if perr != nil {
				continue // no certificate read: nothing said of its expiry
			}
			byTarget[r.Account] = append(byTarget[r.Account], certSeen{cert: "leaf", notAfter: readmodel.NormalizeTime(na)})
		}
		for _, target := range slices.Sorted(maps.Keys(byTarget)) {
			if err = observeCerts(ctx, tx, team, "cspm-probe", target, e.EvaluatedAt, e.ScanID, byTarget[target]); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", DashboardScanEngineName, err)
	}
	return nil
}

// Jobs.

var jobRank = map[orchdomain.JobStatus]int{orchdomain.JobPlanned: 0, orchdomain.JobDispatched: 1, orchdomain.JobRunning: 2, orchdomain.JobSplit: 2}

// status moves the row's status forward: an ended status is final, and
// otherwise planned < dispatched < running, split.
func status(st orchdomain.JobStatus) func(readmodel.Doc) {
	return func(d readmodel.Doc) {
		cur := orchdomain.JobStatus(fold.Str(d, "status"))
		if cur.Ended() {
			return
		}
		if st.Ended() || cur == "" || jobRank[st] >= jobRank[cur] {
			d["status"] = string(st)
		}
	}
}

func planned(p orchdomain.PlannedJob) func(readmodel.Doc) {
	return func(d readmodel.Doc) {
		d["tool"], d["target"], d["region"], d["parent_id"] = p.Tool, p.Target, p.Region, p.ParentID
		status(orchdomain.JobPlanned)(d)
	}
}

func ended(st orchdomain.JobStatus, at time.Time, attempt int, reason string) func(readmodel.Doc) {
	return func(d readmodel.Doc) {
		if orchdomain.JobStatus(fold.Str(d, "status")).Ended() {
			return // ended once: the first end is the job's
		}
		d["ended_at"] = readmodel.NormalizeTime(at)
		if attempt > 0 {
			d["attempt"] = max(fold.Num(d, "attempt"), int64(attempt))
		}
		if reason != "" {
			d["reason"] = cutText(reason, maxReason)
		}
		status(st)(d)
	}
}

// maxReason cuts a failure's reason on the dashboard.
const maxReason = 512

func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// stateOf is the job row's state for its status.
func stateOf(st orchdomain.JobStatus) string {
	switch st {
	case orchdomain.JobDispatched, orchdomain.JobRunning:
		return JobStateActive
	case orchdomain.JobFailed, orchdomain.JobTimedOut:
		return JobStateFailed
	}
	return JobStateOther
}

// applyJob changes the job's row and moves the team's counts from what the
// row held to what it holds now. Only a plan creates a row: an event of a
// job never planned projects nothing (as orchestration.scan_jobs).
func applyJob(ctx context.Context, tx projections.Tx, team, scanID, jobID string, create bool, change func(readmodel.Doc)) error {
	if scanID == "" || jobID == "" {
		return nil
	}
	id := Key(team, scanID+"/"+jobID)
	d, found, err := fold.Get(ctx, tx, DashboardScanJobsCollection, id)
	if err != nil {
		return err
	}
	if !found && !create {
		return nil
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "scan_id": scanID, "job_id": jobID, "status": "",
			"attempt": int64(0), "progress": int64(0), "retries": int64(0)}
	}
	was := orchdomain.JobStatus(fold.Str(d, "status"))
	change(d)
	now := orchdomain.JobStatus(fold.Str(d, "status"))
	d["state"] = stateOf(now)
	// since: when the job became what it is, for the running list.
	switch now {
	case orchdomain.JobRunning:
		d["since"] = fold.TimeOrNil(fold.Time(d, "started_at"))
	case orchdomain.JobDispatched:
		d["since"] = fold.TimeOrNil(fold.Time(d, "dispatched_at"))
	default:
		d["since"] = fold.TimeOrNil(fold.Time(d, "ended_at"))
	}
	if _, ok := d["ended_at"]; !ok {
		d["ended_at"] = nil
	}
	tx.Put(DashboardScanJobsCollection, d)
	if was == now {
		return nil
	}
	t, tfound, err := fold.Get(ctx, tx, DashboardScanEngineCollection, team)
	if err != nil {
		return err
	}
	if !tfound {
		t = readmodel.Doc{"_id": team, "team_id": team}
	}
	if found && was != "" {
		add(t, []string{"jobs", stateOf(was), string(was)}, -1)
	}
	add(t, []string{"jobs", stateOf(now), string(now)}, 1)
	tx.Put(DashboardScanEngineCollection, t)
	return nil
}

// Certificates.

type certSeen struct {
	cert, subject, fingerprint string
	notAfter                   time.Time
}

// certKey is a certificate's identity on the dashboard: its target and
// expiry instant in whole seconds.
func certKey(target string, notAfter time.Time) string {
	return target + "@" + strconv.FormatInt(notAfter.Unix(), 10)
}

// observeCerts makes certs the tool's word on target if the observation
// is its latest (by evaluation time, then scan id; the same one again
// changes nothing), and moves the certificate rows accordingly.
func observeCerts(ctx context.Context, tx projections.Tx, team, tool, target string, at time.Time, scanID string, certs []certSeen) error {
	at = readmodel.NormalizeTime(at)
	setID := Key(team, tool+"/"+target)
	set, found, err := fold.Get(ctx, tx, dashboardCertSetsCollection, setID)
	if err != nil {
		return err
	}
	if found {
		cur, curScan := fold.Time(set, "observed_at"), fold.Str(set, "scan_id")
		if c := at.Compare(cur); c < 0 || (c == 0 && scanID < curScan) {
			return nil // an older word than the one kept
		}
	}
	slices.SortFunc(certs, func(a, b certSeen) int {
		return cmp.Or(a.notAfter.Compare(b.notAfter), cmp.Compare(a.cert, b.cert))
	})
	next := map[string]certSeen{}
	for _, c := range certs {
		k := certKey(target, c.notAfter)
		if _, dup := next[k]; !dup { // the tool's first certificate of that instant
			next[k] = c
		}
	}
	prev := fold.Strs(set, "keys")
	keys := slices.Sorted(maps.Keys(next))
	for _, k := range prev {
		if _, kept := next[k]; !kept {
			if err := holdCert(ctx, tx, team, tool, target, k, nil, at, scanID); err != nil {
				return err
			}
		}
	}
	for _, k := range keys {
		c := next[k]
		if err := holdCert(ctx, tx, team, tool, target, k, &c, at, scanID); err != nil {
			return err
		}
	}
	list := make([]any, len(keys))
	for i, k := range keys {
		list[i] = k
	}
	tx.Put(dashboardCertSetsCollection, readmodel.Doc{"_id": setID, "team_id": team, "tool": tool, "target": target,
		"observed_at": at, "scan_id": scanID, "keys": list})
	return nil
}

// holdCert sets (c) or drops (nil) the tool's word on the certificate row
// key, and derives the row's fields from the tools holding it (in tool
// order, so the row is the same whatever order the words came in); a row
// no tool holds is deleted.
func holdCert(ctx context.Context, tx projections.Tx, team, tool, target, key string, c *certSeen, at time.Time, scanID string) error {
	id := Key(team, key)
	d, found, err := fold.Get(ctx, tx, DashboardCertificatesCollection, id)
	if err != nil {
		return err
	}
	seen := fold.Obj(d, "seen_by")
	if seen == nil {
		seen = map[string]any{}
	}
	if c == nil {
		delete(seen, tool)
	} else {
		seen[tool] = map[string]any{"cert": c.cert, "subject": c.subject, "fingerprint_sha256": c.fingerprint,
			"observed_at": at, "scan_id": scanID, "not_after": c.notAfter}
	}
	if len(seen) == 0 {
		if found {
			tx.Delete(DashboardCertificatesCollection, id)
			return countCertDay(ctx, tx, team, fold.Time(d, "not_after"), -1)
		}
		return nil
	}
	tools := slices.Sorted(maps.Keys(seen))
	var subject, fingerprint string
	var last time.Time
	var notAfter time.Time
	for _, t := range tools {
		m, _ := seen[t].(map[string]any)
		if subject == "" {
			subject = fold.Str(m, "subject")
		}
		if fingerprint == "" {
			fingerprint = fold.Str(m, "fingerprint_sha256")
		}
		last = fold.Later(last, fold.Time(m, "observed_at"))
		if notAfter.IsZero() {
			notAfter = fold.Time(m, "not_after")
		}
	}
	toolList := make([]any, len(tools))
	for i, t := range tools {
		toolList[i] = t
	}
	tx.Put(DashboardCertificatesCollection, readmodel.Doc{"_id": id, "team_id": team, "target": target,
		"target_id": ssdomain.TargetID(target), "not_after": notAfter, "subject": subject, "fingerprint_sha256": fingerprint,
		"tools": toolList, "last_observed_at": last, "seen_by": seen})
	if !found {
		return countCertDay(ctx, tx, team, notAfter, 1)
	}
	return nil
}

// CertDay is the cell of the team's cert_days a certificate expiring at
// notAfter counts in: its UTC day.
func CertDay(notAfter time.Time) string { return notAfter.UTC().Format(time.DateOnly) }

// countCertDay adds n to the team's count of certificates expiring on
// notAfter's UTC day (cells that fall to zero are dropped).
func countCertDay(ctx context.Context, tx projections.Tx, team string, notAfter time.Time, n int64) error {
	t, found, err := fold.Get(ctx, tx, DashboardScanEngineCollection, team)
	if err != nil {
		return err
	}
	if !found {
		t = readmodel.Doc{"_id": team, "team_id": team}
	}
	add(t, []string{"cert_days", CertDay(notAfter)}, n)
	tx.Put(DashboardScanEngineCollection, t)
	return nil
}

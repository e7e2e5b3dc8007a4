package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	ssdomain "github.com/cspm-es/cspm-es/domain/securityscans"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The dashboard's scan-engine section (decision 79), from
// projections/platform's platform.dashboard_scan_engine: the team's job
// counts and certificates per UTC day of expiry (one document by _id), its
// running jobs and latest failures (two indexed reads of at most TopJobs
// rows), and its certificates expired and expiring within 30 days of the
// request's clock (the day cells walked, the rows of at most two days
// read, and two indexed reads of at most TopCertificates rows over (team,
// not_after)).

// Collections, as projections/platform writes them (a test checks the names agree).
const (
	dashboardScanEngineCollection = "dashboard_scan_engine"
	dashboardScanJobsCollection   = "dashboard_scan_jobs"
	dashboardCertsCollection      = "dashboard_certificates"
)

// How many jobs and certificates the section lists.
const (
	TopJobs         = 10
	TopCertificates = 20
)

// DashboardScanEngine is the dashboard's scan-engine section.
type DashboardScanEngine struct {
	Jobs         DashboardJobs         `json:"jobs"`
	Certificates DashboardCertificates `json:"certificates"`
}

// DashboardJobs are the team's scan jobs running now and failed.
type DashboardJobs struct {
	// RunningTotal counts the jobs dispatched or running and not ended.
	RunningTotal    int64            `json:"running_total"`
	RunningByStatus RunningJobCounts `json:"running_by_status"`
	// Running: at most TopJobs of them, the longest running (or queued) first.
	Running []DashboardJob `json:"running"`
	// FailedTotal counts the jobs that failed or timed out for good (over
	// the time the job rows are kept, 180 days after they ended).
	FailedTotal    int64           `json:"failed_total"`
	FailedByStatus FailedJobCounts `json:"failed_by_status"`
	// Failed: the latest TopJobs failures, latest first.
	Failed []DashboardJob `json:"failed"`
}

// RunningJobCounts counts the running jobs by status.
type RunningJobCounts struct {
	Dispatched int64 `json:"dispatched"` // on the work queue, no worker yet
	Running    int64 `json:"running"`
}

// FailedJobCounts counts the failed jobs by status.
type FailedJobCounts struct {
	Failed   int64 `json:"failed"`
	TimedOut int64 `json:"timed_out"`
}

// DashboardJob is one scan job on the dashboard.
type DashboardJob struct {
	ScanID     string    `json:"scan_id"` // the run
	JobID      string    `json:"job_id"`
	ParentID   string    `json:"parent_id,omitempty"`
	Tool       string    `json:"tool"`
	Target     string    `json:"target"`
	Region     string    `json:"region,omitempty"`
	Status     string    `json:"status"`
	Attempt    int64     `json:"attempt"`
	Retries    int64     `json:"retries"`
	Progress   int64     `json:"progress"`
	Worker     string    `json:"worker,omitempty"`
	Since      time.Time `json:"since,omitzero"` // dispatched, started or ended at
	LastBeatAt time.Time `json:"last_beat_at,omitzero"`
	Error      string    `json:"error,omitempty"` // why it failed or timed out
	EndedAt    time.Time `json:"ended_at,omitzero"`
}

// DashboardCertificates are the TLS certificates the team's latest scans
// of its targets saw (testssl.sh, SSLyze, the built-in TLS probe), judged
// against the request's clock: a certificate valid when it was scanned
// that has since expired is expired.
type DashboardCertificates struct {
	ExpiredTotal  int64 `json:"expired_total"`
	ExpiringTotal int64 `json:"expiring_total"` // within 30 days, not expired
	// Expiring: at most TopCertificates, soonest first.
	Expiring []DashboardCertificate `json:"expiring"`
	// Expired: at most TopCertificates, the most recently expired first.
	Expired []DashboardCertificate `json:"expired"`
}

// DashboardCertificate is a target's certificate expiring at NotAfter.
type DashboardCertificate struct {
	Target            string    `json:"target"`
	TargetID          string    `json:"target_id"`
	Subject           string    `json:"subject,omitempty"`
	FingerprintSHA256 string    `json:"fingerprint_sha256,omitempty"`
	NotAfter          time.Time `json:"not_after"`
	Status            string    `json:"status"` // expired or expiring
	// ExpiredSinceScan: valid when last scanned, expired now (the clock's word).
	ExpiredSinceScan bool      `json:"expired_since_scan"`
	Tools            []string  `json:"tools"`
	LastObservedAt   time.Time `json:"last_observed_at,omitzero"`
}

func emptyScanEngine() DashboardScanEngine {
	return DashboardScanEngine{
		Jobs:         DashboardJobs{Running: []DashboardJob{}, Failed: []DashboardJob{}},
		Certificates: DashboardCertificates{Expiring: []DashboardCertificate{}, Expired: []DashboardCertificate{}},
	}
}

// dashboardScanEngine reads the section as of now.
func (s *Service) dashboardScanEngine(ctx context.Context, team string, now time.Time) (DashboardScanEngine, error) {
	out := emptyScanEngine()
	d, err := s.platform.Get(ctx, dashboardScanEngineCollection, team)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid), err == nil && queries.Str(d, "team_id") != team:
		d = nil
	case err != nil:
		return out, fmt.Errorf("get %s: %w", dashboardScanEngineCollection, err)
	}
	jobs := queries.Obj(d, "jobs")
	active, failed := queries.Obj(jobs, "active"), queries.Obj(jobs, "failed")
	j := &out.Jobs
	j.RunningByStatus = RunningJobCounts{Dispatched: queries.Num(active, "dispatched"), Running: queries.Num(active, "running")}
	j.RunningTotal = j.RunningByStatus.Dispatched + j.RunningByStatus.Running
	j.FailedByStatus = FailedJobCounts{Failed: queries.Num(failed, "failed"), TimedOut: queries.Num(failed, "timed_out")}
	j.FailedTotal = j.FailedByStatus.Failed + j.FailedByStatus.TimedOut
	if j.RunningTotal > 0 {
		if j.Running, err = s.dashboardJobs(ctx, team, "active", readmodel.Asc("since")); err != nil {
			return out, err
		}
	}
	if j.FailedTotal > 0 {
		if j.Failed, err = s.dashboardJobs(ctx, team, "failed", readmodel.Desc("ended_at")); err != nil {
			return out, err
		}
	}
	c, err := s.dashboardCertificates(ctx, team, queries.Obj(d, "cert_days"), readmodel.NormalizeTime(now))
	if err != nil {
		return out, err
	}
	out.Certificates = c
	return out, nil
}

func (s *Service) dashboardJobs(ctx context.Context, team, state string, sort readmodel.SortField) ([]DashboardJob, error) {
	page, err := s.platform.Find(ctx, dashboardScanJobsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("state", state)),
		Sort:   []readmodel.SortField{sort},
		Limit:  TopJobs,
	})
	if err != nil {
		return nil, fmt.Errorf("find %s jobs: %w", state, err)
	}
	out := make([]DashboardJob, 0, len(page.Docs))
	for _, m := range page.Docs {
		out = append(out, DashboardJob{
			ScanID: queries.Str(m, "scan_id"), JobID: queries.Str(m, "job_id"), ParentID: queries.Str(m, "parent_id"),
			Tool: queries.Str(m, "tool"), Target: queries.Str(m, "target"), Region: queries.Str(m, "region"),
			Status: queries.Str(m, "status"), Attempt: queries.Num(m, "attempt"), Retries: queries.Num(m, "retries"),
			Progress: queries.Num(m, "progress"), Worker: queries.Str(m, "worker"), Since: queries.When(m, "since"),
			LastBeatAt: queries.When(m, "last_beat_at"), Error: queries.Str(m, "reason"), EndedAt: queries.When(m, "ended_at"),
		})
	}
	return out, nil
}

// dashboardCertificates counts and lists the team's certificates expired
// at now (not_after ≤ now) and expiring within 30 days (now < not_after ≤
// now + 30 days): the statuses of domain/securityscans.CertificateStatus.
// The counts walk the team's cells of certificates per UTC day of
// not_after (cert_days): a day before now's is expired, a day between
// now's and the horizon's is expiring, and the rows of those two days are
// read and judged one by one. The lists are two bounded reads from now,
// one each way.
func (s *Service) dashboardCertificates(ctx context.Context, team string, days map[string]any, now time.Time) (DashboardCertificates, error) {
	out := DashboardCertificates{Expiring: []DashboardCertificate{}, Expired: []DashboardCertificate{}}
	horizon := now.Add(ssdomain.ExpiringWithin)
	today, last := certDay(now), certDay(horizon)
	for day := range days {
		n := queries.Num(days, day)
		switch {
		case n <= 0:
		case day < today:
			out.ExpiredTotal += n
		case day > today && day < last:
			out.ExpiringTotal += n
		case day == today: // expired up to now, expiring after
			expired, err := s.upTo(ctx, team, day, n, now)
			if err != nil {
				return out, err
			}
			out.ExpiredTotal += expired
			out.ExpiringTotal += n - expired
		case day == last: // expiring up to the horizon
			expiring, err := s.upTo(ctx, team, day, n, horizon)
			if err != nil {
				return out, err
			}
			out.ExpiringTotal += expiring
		}
	}
	toCert := func(m map[string]any) DashboardCertificate {
		na, seen := queries.When(m, "not_after"), queries.When(m, "last_observed_at")
		return DashboardCertificate{
			Target: queries.Str(m, "target"), TargetID: queries.Str(m, "target_id"), Subject: queries.Str(m, "subject"),
			FingerprintSHA256: queries.Str(m, "fingerprint_sha256"), NotAfter: na, Status: ssdomain.CertificateStatus(na, now),
			ExpiredSinceScan: ssdomain.ExpiredSinceScan(na, seen, now), Tools: strsOf(m, "tools"), LastObservedAt: seen,
		}
	}
	if out.ExpiringTotal > 0 {
		page, err := s.platform.Find(ctx, dashboardCertsCollection, readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Gt("not_after", now)),
			Sort:   []readmodel.SortField{readmodel.Asc("not_after")}, Limit: TopCertificates,
		})
		if err != nil {
			return out, fmt.Errorf("find expiring certificates: %w", err)
		}
		for _, m := range page.Docs {
			if queries.When(m, "not_after").After(horizon) {
				break
			}
			out.Expiring = append(out.Expiring, toCert(m))
		}
	}
	if out.ExpiredTotal > 0 {
		page, err := s.platform.Find(ctx, dashboardCertsCollection, readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Lte("not_after", now)),
			Sort:   []readmodel.SortField{readmodel.Desc("not_after")}, Limit: TopCertificates,
		})
		if err != nil {
			return out, fmt.Errorf("find expired certificates: %w", err)
		}
		for _, m := range page.Docs {
			out.Expired = append(out.Expired, toCert(m))
		}
	}
	return out, nil
}

// certDay is the cell a time falls in (projections/platform.CertDay).
func certDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// upTo counts the certificates of day (n of them) whose not_after is at
// or before cutoff: the rows of the day are read in not_after order from
// its start (pages of at most readmodel.MaxLimit) until one is after the
// cutoff.
func (s *Service) upTo(ctx context.Context, team, day string, n int64, cutoff time.Time) (int64, error) {
	from, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0, nil // not a cell the projection writes
	}
	opts := readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Gte("not_after", from)),
		Sort:   []readmodel.SortField{readmodel.Asc("not_after")}, Limit: int(min(n, readmodel.MaxLimit)),
	}
	var counted int64
	for {
		page, err := s.platform.Find(ctx, dashboardCertsCollection, opts)
		if err != nil {
			return 0, fmt.Errorf("find certificates of %s: %w", day, err)
		}
		for _, m := range page.Docs {
			if na := queries.When(m, "not_after"); na.After(cutoff) || certDay(na) != day {
				return counted, nil
			}
			counted++
		}
		if counted >= n || page.NextCursor == "" || len(page.Docs) == 0 {
			return counted, nil
		}
		opts.Cursor, opts.Limit = page.NextCursor, int(min(n-counted, readmodel.MaxLimit))
	}
}

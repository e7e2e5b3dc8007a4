package queries_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// The on-the-fly baseline: what answering without the cross-module read
// models would take. It reads raw findings from cspm_cloud_security and
// scans from cspm_orchestration (a query-time join across the databases)
// and aggregates in Go. The benchmarks compare it with the read models; a
// test checks both give the same answers.

// baselineDashboard computes the team's dashboard from scan_runs and findings.
func baselineDashboard(ctx context.Context, orch, cloud readmodel.Store, team string) (platformquery.Dashboard, error) {
	out := platformquery.Dashboard{TeamID: team, RecentScans: []platformquery.RecentScan{}}
	err := each(ctx, orch, "scan_runs", team, []readmodel.SortField{readmodel.Desc("requested_at")}, func(d readmodel.Doc) {
		out.Scans.Total++
		addScanStatus(&out.Scans.ByStatus, str(d, "status"))
		if requested, ok := d["requested_at"].(time.Time); ok && len(out.RecentScans) < 10 {
			// scan_runs come sorted like the dashboard's list: requested_at, then id, descending
			out.RecentScans = append(out.RecentScans, platformquery.RecentScan{
				ID: d.ID(), Status: str(d, "status"), Tool: str(d, "tool"), AccountID: str(d, "account_id"), RequestedAt: requested,
			})
		}
		out.UpdatedPosition = max(out.UpdatedPosition, num(d, "updated_position"))
	})
	if err != nil {
		return platformquery.Dashboard{}, err
	}
	// Walk in the order of an index that starts with team_id (by_team_raised),
	// so that every page is one index range.
	err = each(ctx, cloud, "findings", team, []readmodel.SortField{readmodel.Desc("raised_at")}, func(d readmodel.Doc) {
		out.Findings.Total++
		sev, status := str(d, "severity"), str(d, "status")
		qt.AddSeverity(&out.Findings.BySeverity, sev, 1)
		addFindingStatus(&out.Findings.ByStatus, status)
		if status == "open" {
			qt.AddSeverity(&out.Findings.OpenBySeverity, sev, 1)
		}
		out.UpdatedPosition = max(out.UpdatedPosition, num(d, "updated_position"))
	})
	if err != nil {
		return platformquery.Dashboard{}, err
	}
	// The posture of a world without imports: the API findings' open ones.
	out.Posture = platformquery.Posture{ByAccount: []platformquery.AccountPosture{}, TopFailingChecks: []platformquery.CheckCount{},
		OpenFindings: platformquery.OpenFindings{Total: out.Findings.OpenBySeverity.Sum(), BySeverity: out.Findings.OpenBySeverity}}
	return out, nil
}

// baselineScan computes GetScan: the scan run, then its findings from the
// other database.
func baselineScan(ctx context.Context, orch, cloud readmodel.Store, team, id string) (orchquery.FindingCounts, error) {
	run, err := orch.Get(ctx, "scan_runs", id)
	if err != nil {
		return orchquery.FindingCounts{}, fmt.Errorf("get scan: %w", err)
	}
	if str(run, "team_id") != team {
		return orchquery.FindingCounts{}, queries.ErrNotFound
	}
	var c orchquery.FindingCounts
	f := readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("scan_id", id))
	err = eachWhere(ctx, cloud, "findings", f, []readmodel.SortField{readmodel.Desc("raised_at")}, func(d readmodel.Doc) {
		c.Total++
		qt.AddSeverity(&c.BySeverity, str(d, "severity"), 1)
		addFindingStatus(&c.ByStatus, str(d, "status"))
	})
	return c, err
}

// baselineScanCountBy is the cheapest on-the-fly variant: the database
// groups and counts (two CountBy over the scan's findings).
func baselineScanCountBy(ctx context.Context, orch, cloud readmodel.Store, team, id string) (orchquery.FindingCounts, error) {
	run, err := orch.Get(ctx, "scan_runs", id)
	if err != nil {
		return orchquery.FindingCounts{}, fmt.Errorf("get scan: %w", err)
	}
	if str(run, "team_id") != team {
		return orchquery.FindingCounts{}, queries.ErrNotFound
	}
	f := readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("scan_id", id))
	bySev, err := cloud.CountBy(ctx, "findings", f, "severity")
	if err != nil {
		return orchquery.FindingCounts{}, err
	}
	byStatus, err := cloud.CountBy(ctx, "findings", f, "status")
	if err != nil {
		return orchquery.FindingCounts{}, err
	}
	var c orchquery.FindingCounts
	for sev, n := range bySev {
		c.Total += n
		qt.AddSeverity(&c.BySeverity, sev, n)
	}
	c.ByStatus = queries.FindingStatusCounts{Open: byStatus["open"], Resolved: byStatus["resolved"], Suppressed: byStatus["suppressed"]}
	return c, nil
}

func each(ctx context.Context, s readmodel.Store, coll, team string, sort []readmodel.SortField, fn func(readmodel.Doc)) error {
	return eachWhere(ctx, s, coll, readmodel.Eq("team_id", team), sort, fn)
}

func eachWhere(ctx context.Context, s readmodel.Store, coll string, f readmodel.Filter, sort []readmodel.SortField, fn func(readmodel.Doc)) error {
	opts := readmodel.FindOptions{Filter: f, Sort: sort, Limit: readmodel.MaxLimit}
	for {
		page, err := s.Find(ctx, coll, opts)
		if err != nil {
			return fmt.Errorf("find %s: %w", coll, err)
		}
		for _, d := range page.Docs {
			fn(d)
		}
		if page.NextCursor == "" {
			return nil
		}
		opts.Cursor = page.NextCursor
	}
}

func str(d readmodel.Doc, k string) string { s, _ := d[k].(string); return s }

func num(d readmodel.Doc, k string) int64 { n, _ := d[k].(int64); return n }

func addScanStatus(c *queries.ScanStatusCounts, status string) {
	switch status {
	case "requested":
		c.Requested++
	case "running":
		c.Running++
	case "completed":
		c.Completed++
	case "failed":
		c.Failed++
	}
}

func addFindingStatus(c *queries.FindingStatusCounts, status string) {
	switch status {
	case "open":
		c.Open++
	case "resolved":
		c.Resolved++
	case "suppressed":
		c.Suppressed++
	}
}

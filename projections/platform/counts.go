package platform

import (
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
)

// severityCounts counts findings per severity. A severity outside the five
// (which the domain never produces) counts in the totals only.
type severityCounts struct {
	Critical      int64
	High          int64
	Medium        int64
	Low           int64
	Informational int64
}

func (c *severityCounts) add(severity string, n int64) {
	switch csdomain.Severity(severity) {
	case csdomain.SeverityCritical:
		c.Critical += n
	case csdomain.SeverityHigh:
		c.High += n
	case csdomain.SeverityMedium:
		c.Medium += n
	case csdomain.SeverityLow:
		c.Low += n
	case csdomain.SeverityInformational:
		c.Informational += n
	}
}

func severityCountsFrom(m map[string]any) severityCounts {
	return severityCounts{
		Critical: num(m, "critical"), High: num(m, "high"), Medium: num(m, "medium"),
		Low: num(m, "low"), Informational: num(m, "informational"),
	}
}

func (c severityCounts) doc() map[string]any {
	return map[string]any{
		"critical": c.Critical, "high": c.High, "medium": c.Medium, "low": c.Low, "informational": c.Informational,
	}
}

// findingStatusCounts counts findings per status.
type findingStatusCounts struct {
	Open       int64
	Resolved   int64
	Suppressed int64
}

func (c *findingStatusCounts) add(status csdomain.Status, n int64) {
	switch status {
	case csdomain.StatusOpen:
		c.Open += n
	case csdomain.StatusResolved:
		c.Resolved += n
	case csdomain.StatusSuppressed:
		c.Suppressed += n
	}
}

func findingStatusCountsFrom(m map[string]any) findingStatusCounts {
	return findingStatusCounts{Open: num(m, "open"), Resolved: num(m, "resolved"), Suppressed: num(m, "suppressed")}
}

func (c findingStatusCounts) doc() map[string]any {
	return map[string]any{"open": c.Open, "resolved": c.Resolved, "suppressed": c.Suppressed}
}

// scanStatusCounts counts scans per status.
type scanStatusCounts struct {
	Requested int64
	Running   int64
	Completed int64
	Failed    int64
}

func (c *scanStatusCounts) add(status orchdomain.Status, n int64) {
	switch status {
	case orchdomain.StatusRequested:
		c.Requested += n
	case orchdomain.StatusRunning:
		c.Running += n
	case orchdomain.StatusCompleted:
		c.Completed += n
	case orchdomain.StatusFailed:
		c.Failed += n
	}
}

func scanStatusCountsFrom(m map[string]any) scanStatusCounts {
	return scanStatusCounts{
		Requested: num(m, "requested"), Running: num(m, "running"),
		Completed: num(m, "completed"), Failed: num(m, "failed"),
	}
}

func (c scanStatusCounts) doc() map[string]any {
	return map[string]any{"requested": c.Requested, "running": c.Running, "completed": c.Completed, "failed": c.Failed}
}

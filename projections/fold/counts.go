package fold

import (
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
)

// SeverityCounts counts findings per severity. A severity outside the five
// (which the domain never produces) is not counted.
type SeverityCounts struct {
	Critical      int64
	High          int64
	Medium        int64
	Low           int64
	Informational int64
}

// Add adds n to severity's count.
func (c *SeverityCounts) Add(severity string, n int64) {
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

// SeverityCountsFrom reads counts stored by Doc.
func SeverityCountsFrom(m map[string]any) SeverityCounts {
	return SeverityCounts{
		Critical: Num(m, "critical"), High: Num(m, "high"), Medium: Num(m, "medium"),
		Low: Num(m, "low"), Informational: Num(m, "informational"),
	}
}

// Doc is the stored form.
func (c SeverityCounts) Doc() map[string]any {
	return map[string]any{
		"critical": c.Critical, "high": c.High, "medium": c.Medium, "low": c.Low, "informational": c.Informational,
	}
}

// FindingStatusCounts counts findings per status.
type FindingStatusCounts struct {
	Open       int64
	Resolved   int64
	Suppressed int64
}

// Add adds n to status's count.
func (c *FindingStatusCounts) Add(status csdomain.Status, n int64) {
	switch status {
	case csdomain.StatusOpen:
		c.Open += n
	case csdomain.StatusResolved:
		c.Resolved += n
	case csdomain.StatusSuppressed:
		c.Suppressed += n
	}
}

// FindingStatusCountsFrom reads counts stored by Doc.
func FindingStatusCountsFrom(m map[string]any) FindingStatusCounts {
	return FindingStatusCounts{Open: Num(m, "open"), Resolved: Num(m, "resolved"), Suppressed: Num(m, "suppressed")}
}

// Doc is the stored form.
func (c FindingStatusCounts) Doc() map[string]any {
	return map[string]any{"open": c.Open, "resolved": c.Resolved, "suppressed": c.Suppressed}
}

// ScanStatusCounts counts scans per status.
type ScanStatusCounts struct {
	Requested int64
	Running   int64
	Completed int64
	Failed    int64
}

// Add adds n to status's count.
func (c *ScanStatusCounts) Add(status orchdomain.Status, n int64) {
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

// ScanStatusCountsFrom reads counts stored by Doc.
func ScanStatusCountsFrom(m map[string]any) ScanStatusCounts {
	return ScanStatusCounts{
		Requested: Num(m, "requested"), Running: Num(m, "running"),
		Completed: Num(m, "completed"), Failed: Num(m, "failed"),
	}
}

// Doc is the stored form.
func (c ScanStatusCounts) Doc() map[string]any {
	return map[string]any{"requested": c.Requested, "running": c.Running, "completed": c.Completed, "failed": c.Failed}
}

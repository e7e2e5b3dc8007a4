package queries

// The counts several modules' answers carry: a scan's findings
// (queries/orchestration) and a team's dashboard (queries/platform).

// SeverityCounts counts findings per severity.
type SeverityCounts struct {
	Critical      int64 `json:"critical"`
	High          int64 `json:"high"`
	Medium        int64 `json:"medium"`
	Low           int64 `json:"low"`
	Informational int64 `json:"informational"`
}

// Minus is c less o, severity by severity, never below zero.
func (c SeverityCounts) Minus(o SeverityCounts) SeverityCounts {
	sub := func(a, b int64) int64 { return max(0, a-b) }
	return SeverityCounts{Critical: sub(c.Critical, o.Critical), High: sub(c.High, o.High), Medium: sub(c.Medium, o.Medium),
		Low: sub(c.Low, o.Low), Informational: sub(c.Informational, o.Informational)}
}

// FindingStatusCounts counts findings per status.
type FindingStatusCounts struct {
	Open       int64 `json:"open"`
	Resolved   int64 `json:"resolved"`
	Suppressed int64 `json:"suppressed"`
}

// ScanStatusCounts counts scans per status.
type ScanStatusCounts struct {
	Requested int64 `json:"requested"`
	Running   int64 `json:"running"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
}

// SeverityCountsOf reads the severity counts a read model embeds.
func SeverityCountsOf(m map[string]any) SeverityCounts {
	return SeverityCounts{
		Critical: Num(m, "critical"), High: Num(m, "high"), Medium: Num(m, "medium"),
		Low: Num(m, "low"), Informational: Num(m, "informational"),
	}
}

// FindingStatusCountsOf reads the finding status counts a read model embeds.
func FindingStatusCountsOf(m map[string]any) FindingStatusCounts {
	return FindingStatusCounts{Open: Num(m, "open"), Resolved: Num(m, "resolved"), Suppressed: Num(m, "suppressed")}
}

// ScanStatusCountsOf reads the scan status counts a read model embeds.
func ScanStatusCountsOf(m map[string]any) ScanStatusCounts {
	return ScanStatusCounts{
		Requested: Num(m, "requested"), Running: Num(m, "running"),
		Completed: Num(m, "completed"), Failed: Num(m, "failed"),
	}
}

// Sum is the count over every severity.
func (c SeverityCounts) Sum() int64 {
	return c.Critical + c.High + c.Medium + c.Low + c.Informational
}

package queries

import (
	"strconv"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// SLA counts (decision 56, docs/sla.md), shared by GET /api/v1/sla/summary
// (queries/vulnerabilities, over vulnerabilities.sla's sla_summaries) and
// the dashboard (queries/platform, over platform.dashboard_vulnerabilities'
// copy of the same fold, decision 57): one counting, so both give the same
// numbers.

// SLADueSoonWindow is "due soon": due within 7 days of now.
const SLADueSoonWindow = 7 * 24 * time.Hour

// SLACounts are the counts of one slice of a team's clocks.
type SLACounts struct {
	Open          int64 `json:"open"`
	Breached      int64 `json:"breached"`        // open, past due
	DueIn7Days    int64 `json:"due_in_7_days"`   // open, due within SLADueSoonWindow
	NoDeadline    int64 `json:"no_deadline"`     // open without a deadline
	Met           int64 `json:"met"`             // resolved by the due date
	Missed        int64 `json:"missed"`          // resolved after it
	ResolvedNoSLA int64 `json:"resolved_no_sla"` // resolved, without a deadline
}

// SLASummaryCounts counts an SLA summary document as of now: its open
// cells (module, severity, due time in unix seconds or "none") and its
// resolved ones (module, outcome, severity), in total, by module and by
// severity. The work is one pass over the document's cells: the distinct
// (module, severity, due time) of the team's open clocks, never the clocks.
func SLASummaryCounts(d map[string]any, now time.Time) (total SLACounts, byModule, bySeverity map[string]SLACounts) {
	byModule, bySeverity = map[string]SLACounts{}, map[string]SLACounts{}
	add := func(module, sev string, f func(*SLACounts)) {
		f(&total)
		m, sv := byModule[module], bySeverity[sev]
		f(&m)
		f(&sv)
		byModule[module], bySeverity[sev] = m, sv
	}
	soon := now.Add(SLADueSoonWindow)
	for module, bySev := range Obj(d, "open") {
		for sev, byDue := range slaObj(bySev) {
			for key, n := range slaObj(byDue) {
				c := slaNum(n)
				add(module, sev, func(x *SLACounts) {
					x.Open += c
					if key == "none" {
						x.NoDeadline += c
						return
					}
					sec, _ := strconv.ParseInt(key, 10, 64)
					due := time.Unix(sec, 0).UTC()
					switch {
					case due.Before(now):
						x.Breached += c
					case due.Before(soon):
						x.DueIn7Days += c
					}
				})
			}
		}
	}
	for module, byOutcome := range Obj(d, "resolved") {
		for outcome, bySev := range slaObj(byOutcome) {
			for sev, n := range slaObj(bySev) {
				c := slaNum(n)
				add(module, sev, func(x *SLACounts) {
					switch outcome {
					case "met":
						x.Met += c
					case "missed":
						x.Missed += c
					default:
						x.ResolvedNoSLA += c
					}
				})
			}
		}
	}
	return total, byModule, bySeverity
}

func slaObj(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case readmodel.Doc:
		return m
	}
	return nil
}

func slaNum(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

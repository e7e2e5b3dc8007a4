package platform

import (
	"cmp"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries"
)

// Posture is the dashboard's view of what the imports say of the team's
// cloud security (docs/accounts.md, "The dashboard's posture").
type Posture struct {
	// OpenFindings counts the team's open findings: imported ones (the
	// lifecycle's open) and those raised through the API.
	OpenFindings OpenFindings `json:"open_findings"`
	// ByAccount is the open imported findings of each account that has
	// any, most first.
	ByAccount []AccountPosture `json:"by_account"`
	// LastScan is what the team's latest imported scan (by evaluation
	// time) changed; nil before any.
	LastScan *ScanChanges `json:"last_scan"`
	// Last7Days and Last30Days sum the changes of the scans evaluated in
	// the last 7 and 30 UTC days (today included).
	Last7Days  ChangeCounts `json:"last_7_days"`
	Last30Days ChangeCounts `json:"last_30_days"`
	// TopFailingChecks are the TopChecks checks with the most open
	// imported findings (ties: by check id).
	TopFailingChecks []CheckCount `json:"top_failing_checks"`
	// Muted counts the open imported findings the tool muted. Findings
	// muted by the team's muting rules are counted in the findings list
	// (muted=true), not here.
	Muted MutedCounts `json:"muted"`
	// Compliance is the team's current compliance per framework, the
	// figures GET /api/v1/compliance gives; null before any evaluation.
	Compliance *Compliance `json:"compliance"`
}

// Compliance is the dashboard's compliance per framework, with the score's
// formula.
type Compliance struct {
	Formula    string                `json:"formula"`
	Frameworks []FrameworkCompliance `json:"frameworks"`
}

// FrameworkCompliance is a team's current compliance in one framework:
// its accounts' current evaluations counted together (a requirement counts
// once per account), the score passed / (passed + failed) (null when
// nothing passed or failed), and when the latest of them was evaluated.
type FrameworkCompliance struct {
	Framework       string           `json:"framework"`
	Accounts        int64            `json:"accounts"`
	Counts          ComplianceCounts `json:"counts"`
	Score           *float64         `json:"score"`
	LastEvaluatedAt time.Time        `json:"last_evaluated_at"`
}

// ComplianceCounts counts requirements by status (MutedFail: the failed
// ones whose every failure the tool muted, counted in Failed too).
type ComplianceCounts struct {
	Requirements int64 `json:"requirements"`
	Passed       int64 `json:"passed"`
	Failed       int64 `json:"failed"`
	Manual       int64 `json:"manual"`
	NotEvaluated int64 `json:"not_evaluated"`
	MutedFail    int64 `json:"muted_fail"`
}

func complianceOf(p map[string]any) *Compliance {
	fws := queries.Objs(p, "compliance")
	if len(fws) == 0 {
		return nil
	}
	out := &Compliance{Formula: csdomain.ScoreFormula, Frameworks: make([]FrameworkCompliance, 0, len(fws))}
	for _, f := range fws {
		c := queries.Obj(f, "counts")
		fc := FrameworkCompliance{Framework: queries.Str(f, "framework"), Accounts: queries.Num(f, "accounts"),
			Counts: ComplianceCounts{Requirements: queries.Num(c, "requirements"), Passed: queries.Num(c, "passed"),
				Failed: queries.Num(c, "failed"), Manual: queries.Num(c, "manual"), NotEvaluated: queries.Num(c, "not_evaluated"),
				MutedFail: queries.Num(c, "muted_fail")},
			LastEvaluatedAt: queries.When(f, "last_evaluated_at")}
		if n := fc.Counts.Passed + fc.Counts.Failed; n > 0 { // the formula, from the counts (as stored)
			v := float64(fc.Counts.Passed) / float64(n)
			fc.Score = &v
		}
		out.Frameworks = append(out.Frameworks, fc)
	}
	return out
}

// OpenFindings counts open findings.
type OpenFindings struct {
	Total      int64                  `json:"total"`
	BySeverity queries.SeverityCounts `json:"by_severity"`
}

// AccountPosture is one account's open imported findings.
type AccountPosture struct {
	AccountID  string                 `json:"account_id"`
	Provider   string                 `json:"provider"`
	UID        string                 `json:"uid"`
	Total      int64                  `json:"total"`
	BySeverity queries.SeverityCounts `json:"by_severity"`
}

// ChangeCounts counts findings a scan (or the scans of a period) made new,
// reopened or fixed.
type ChangeCounts struct {
	New      int64 `json:"new"`
	Reopened int64 `json:"reopened"`
	Fixed    int64 `json:"fixed"`
}

// ScanChanges is what one scan changed.
type ScanChanges struct {
	ScanID string    `json:"scan_id"`
	At     time.Time `json:"at"`
	ChangeCounts
}

// CheckCount is a check and its open imported findings.
type CheckCount struct {
	CheckID string `json:"check_id"`
	Open    int64  `json:"open"`
}

// MutedCounts counts muted open findings.
type MutedCounts struct {
	ByTool int64 `json:"by_tool"`
}

// TopChecks is how many failing checks the dashboard ranks.
const TopChecks = 10

func changesOf(m map[string]any) ChangeCounts {
	return ChangeCounts{New: queries.Num(m, "new"), Reopened: queries.Num(m, "reopened"), Fixed: queries.Num(m, "fixed")}
}

// postureOf reads the dashboard document's posture section, with the API
// findings' open counts, as of now.
func postureOf(p map[string]any, apiOpen queries.SeverityCounts, now time.Time) Posture {
	imported := queries.SeverityCountsOf(queries.Obj(p, "open_by_severity"))
	out := Posture{
		OpenFindings: OpenFindings{Total: queries.Num(p, "open_total") + apiOpen.Sum(), BySeverity: plus(imported, apiOpen)},
		ByAccount:    []AccountPosture{}, TopFailingChecks: []CheckCount{},
		Muted:      MutedCounts{ByTool: queries.Num(p, "open_muted_by_tool")},
		Compliance: complianceOf(p),
	}
	for _, a := range queries.Objs(p, "by_account") {
		out.ByAccount = append(out.ByAccount, AccountPosture{AccountID: queries.Str(a, "account_id"), Provider: queries.Str(a, "provider"),
			UID: queries.Str(a, "uid"), Total: queries.Num(a, "open_total"), BySeverity: queries.SeverityCountsOf(queries.Obj(a, "open_by_severity"))})
	}
	slices.SortStableFunc(out.ByAccount, func(a, b AccountPosture) int { return cmp.Compare(b.Total, a.Total) })
	for _, c := range queries.Objs(p, "by_check") {
		out.TopFailingChecks = append(out.TopFailingChecks, CheckCount{CheckID: queries.Str(c, "check_id"), Open: queries.Num(c, "open")})
	}
	slices.SortStableFunc(out.TopFailingChecks, func(a, b CheckCount) int { return cmp.Compare(b.Open, a.Open) })
	if len(out.TopFailingChecks) > TopChecks {
		out.TopFailingChecks = out.TopFailingChecks[:TopChecks]
	}
	if l := queries.Obj(p, "last_scan"); l != nil {
		out.LastScan = &ScanChanges{ScanID: queries.Str(l, "scan_id"), At: queries.When(l, "at"), ChangeCounts: changesOf(l)}
	}
	today := now.UTC().Truncate(24 * time.Hour)
	from7, from30 := today.AddDate(0, 0, -6).Format(time.DateOnly), today.AddDate(0, 0, -29).Format(time.DateOnly)
	for _, d := range queries.Objs(p, "days") {
		day, c := queries.Str(d, "day"), changesOf(d)
		if day >= from30 {
			out.Last30Days = out.Last30Days.plus(c)
		}
		if day >= from7 {
			out.Last7Days = out.Last7Days.plus(c)
		}
	}
	return out
}

func (c ChangeCounts) plus(o ChangeCounts) ChangeCounts {
	return ChangeCounts{New: c.New + o.New, Reopened: c.Reopened + o.Reopened, Fixed: c.Fixed + o.Fixed}
}

// emptyPosture is the posture of a team without findings.
func emptyPosture() Posture {
	return Posture{ByAccount: []AccountPosture{}, TopFailingChecks: []CheckCount{}}
}

func plus(a, b queries.SeverityCounts) queries.SeverityCounts {
	return queries.SeverityCounts{Critical: a.Critical + b.Critical, High: a.High + b.High, Medium: a.Medium + b.Medium,
		Low: a.Low + b.Low, Informational: a.Informational + b.Informational}
}

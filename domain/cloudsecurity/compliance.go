package cloudsecurity

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

// Compliance. A scanner maps each of its checks to requirements of
// frameworks (Prowler: OCSF unmapped.compliance, CSV COMPLIANCE, kept in
// CheckInfo.Compliance). The results of one evaluation of an account give
// each mapped requirement a status:
//
//   - fail: at least one result of its checks failed, muted or not (muting
//     hides a finding from triage; it never makes a requirement pass);
//   - pass: no result failed and at least one passed;
//   - manual: its checks only gave manual results (a person must decide);
//   - not_evaluated: none of its checks gave a result in that account.
//
// score = passed / (passed + failed), over the requirements of the
// framework; manual and not evaluated requirements are counted apart and
// never as passed; with nothing passed nor failed there is no score.

// ScoreFormula states the rule in words, as the API answers it.
const ScoreFormula = "a requirement passes when every evaluated result of its checks passes and fails when any fails (a muted failure too); score = passed / (passed + failed); manual and not_evaluated requirements are shown apart, never as passed; no score when nothing passed or failed"

// RequirementStatus is a requirement's status in one evaluation.
type RequirementStatus string

// The statuses.
const (
	RequirementPass         RequirementStatus = "pass"
	RequirementFail         RequirementStatus = "fail"
	RequirementManual       RequirementStatus = "manual"
	RequirementNotEvaluated RequirementStatus = "not_evaluated"
)

// ParseRequirementStatus reads a stored status ("" and unknown: not_evaluated).
func ParseRequirementStatus(s string) RequirementStatus {
	switch RequirementStatus(s) {
	case RequirementPass, RequirementFail, RequirementManual:
		return RequirementStatus(s)
	}
	return RequirementNotEvaluated
}

// RequirementTally counts the results of a requirement's checks in one
// account and evaluation. MutedFail counts the failures the tool muted
// (they are in Fail too).
type RequirementTally struct {
	Pass      int `json:"pass"`
	Fail      int `json:"fail"`
	MutedFail int `json:"muted_fail"`
	Manual    int `json:"manual"`
}

// Add counts one result.
func (t *RequirementTally) Add(r Result, muted bool) {
	switch r {
	case ResultPass:
		t.Pass++
	case ResultFail:
		t.Fail++
		if muted {
			t.MutedFail++
		}
	case ResultManual:
		t.Manual++
	}
}

// Merge adds o's counts.
func (t *RequirementTally) Merge(o RequirementTally) {
	t.Pass += o.Pass
	t.Fail += o.Fail
	t.MutedFail += o.MutedFail
	t.Manual += o.Manual
}

// Status is the requirement's status under the rule above.
func (t RequirementTally) Status() RequirementStatus {
	switch {
	case t.Fail > 0:
		return RequirementFail
	case t.Pass > 0:
		return RequirementPass
	case t.Manual > 0:
		return RequirementManual
	}
	return RequirementNotEvaluated
}

// OnlyMutedFailures reports a failing requirement whose every failure was
// muted by the tool: it still fails, and is shown as muted_fail beside.
func (t RequirementTally) OnlyMutedFailures() bool { return t.Fail > 0 && t.Fail == t.MutedFail }

// ComplianceMapping maps a check to its frameworks' requirements:
// check -> framework -> requirement ids.
type ComplianceMapping map[string]map[string][]string

// MappingOf is the mapping the checks of an import describe.
func MappingOf(checks []CheckInfo) ComplianceMapping {
	m := ComplianceMapping{}
	m.Add(checks)
	return m
}

// Add adds checks' mappings (a check described twice keeps the last).
func (m ComplianceMapping) Add(checks []CheckInfo) {
	for _, c := range checks {
		if len(c.Compliance) == 0 {
			continue
		}
		fws := make(map[string][]string, len(c.Compliance))
		for fw, ids := range c.Compliance {
			fws[fw] = slices.Compact(slices.Sorted(slices.Values(ids)))
		}
		m[c.CheckID] = fws
	}
}

// CheckMapping is one check's frameworks and requirements.
type CheckMapping struct {
	Check      string
	Frameworks map[string][]string
}

// Checks lists the mapping's checks, sorted.
func (m ComplianceMapping) Checks() []CheckMapping {
	out := make([]CheckMapping, 0, len(m))
	for _, c := range slices.Sorted(maps.Keys(m)) {
		out = append(out, CheckMapping{Check: c, Frameworks: m[c]})
	}
	return out
}

// Frameworks lists the mapped frameworks, sorted.
func (m ComplianceMapping) Frameworks() []string {
	set := map[string]bool{}
	for _, fws := range m {
		for fw := range fws {
			set[fw] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Requirements is framework -> requirement id -> the checks mapped to it.
func (m ComplianceMapping) Requirements() map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, check := range slices.Sorted(maps.Keys(m)) {
		for fw, ids := range m[check] {
			reqs := out[fw]
			if reqs == nil {
				reqs = map[string][]string{}
				out[fw] = reqs
			}
			for _, id := range ids {
				reqs[id] = append(reqs[id], check)
			}
		}
	}
	return out
}

// FrameworkEvaluation is one framework in one account as one evaluation
// found it: every requirement the evaluation's checks map to, with the
// tally of their results (zero: not evaluated).
type FrameworkEvaluation struct {
	Framework    string
	Requirements map[string]*RequirementTally
}

// EvaluateCompliance folds the results of one evaluation of an account into
// its frameworks' requirements under mapping. Every requirement mapping
// names is present (not_evaluated when none of its checks reported).
func EvaluateCompliance(mapping ComplianceMapping, results []CheckResult) map[string]*FrameworkEvaluation {
	out := map[string]*FrameworkEvaluation{}
	for fw, reqs := range mapping.Requirements() {
		e := &FrameworkEvaluation{Framework: fw, Requirements: make(map[string]*RequirementTally, len(reqs))}
		for id := range reqs {
			e.Requirements[id] = &RequirementTally{}
		}
		out[fw] = e
	}
	for _, r := range results {
		for fw, ids := range mapping[r.Check] {
			for _, id := range ids {
				out[fw].Requirements[id].Add(r.Result, r.Muted)
			}
		}
	}
	return out
}

// ComplianceScore counts a framework's requirements by status.
type ComplianceScore struct {
	Requirements int `json:"requirements"`
	Passed       int `json:"passed"`
	Failed       int `json:"failed"`
	Manual       int `json:"manual"`
	NotEvaluated int `json:"not_evaluated"`
	// MutedFail: failed requirements whose every failure the tool muted
	// (counted in Failed).
	MutedFail int `json:"muted_fail"`
}

// Count adds one requirement.
func (s *ComplianceScore) Count(status RequirementStatus, onlyMuted bool) {
	s.Requirements++
	switch status {
	case RequirementPass:
		s.Passed++
	case RequirementFail:
		s.Failed++
		if onlyMuted {
			s.MutedFail++
		}
	case RequirementManual:
		s.Manual++
	default:
		s.NotEvaluated++
	}
}

// Add adds o's counts.
func (s *ComplianceScore) Add(o ComplianceScore) {
	s.Requirements += o.Requirements
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.Manual += o.Manual
	s.NotEvaluated += o.NotEvaluated
	s.MutedFail += o.MutedFail
}

// Sub removes o's counts.
func (s *ComplianceScore) Sub(o ComplianceScore) {
	s.Requirements -= o.Requirements
	s.Passed -= o.Passed
	s.Failed -= o.Failed
	s.Manual -= o.Manual
	s.NotEvaluated -= o.NotEvaluated
	s.MutedFail -= o.MutedFail
}

// Score is passed / (passed + failed); ok is false when nothing passed
// or failed.
func (s ComplianceScore) Score() (score float64, ok bool) {
	if s.Passed+s.Failed == 0 {
		return 0, false
	}
	return float64(s.Passed) / float64(s.Passed+s.Failed), true
}

// Score of an evaluation.
func (e FrameworkEvaluation) Score() ComplianceScore {
	var s ComplianceScore
	for _, t := range e.Requirements {
		s.Count(t.Status(), t.OnlyMutedFailures())
	}
	return s
}

// AccountFrameworkScore is one account's score in one framework (its latest
// evaluation, or the one as of a time).
type AccountFrameworkScore struct {
	Account   string
	Framework string
	Score     ComplianceScore
}

// FrameworkSummary is a team's compliance in one framework: the
// requirements of all its accounts counted together (a requirement counts
// once per account), and how many accounts were evaluated.
type FrameworkSummary struct {
	Framework string          `json:"framework"`
	Accounts  int             `json:"accounts"`
	Counts    ComplianceScore `json:"counts"`
	// Score is Counts.Score() (nil when it has none).
	Score *float64 `json:"score"`
}

// SummarizeCompliance sums a team's per-account scores per framework,
// sorted by framework: what a dashboard shows as "compliance per
// framework". The score of the sum is passed / (passed + failed) over
// every account's requirements, not an average of the accounts' scores.
func SummarizeCompliance(scores []AccountFrameworkScore) []FrameworkSummary {
	by := map[string]*FrameworkSummary{}
	accounts := map[string]map[string]bool{}
	for _, s := range scores {
		f := by[s.Framework]
		if f == nil {
			f = &FrameworkSummary{Framework: s.Framework}
			by[s.Framework] = f
			accounts[s.Framework] = map[string]bool{}
		}
		f.Counts.Add(s.Score)
		accounts[s.Framework][s.Account] = true
	}
	out := make([]FrameworkSummary, 0, len(by))
	for _, fw := range slices.Sorted(maps.Keys(by)) {
		f := by[fw]
		f.Accounts = len(accounts[fw])
		if v, ok := f.Counts.Score(); ok {
			f.Score = &v
		}
		out = append(out, *f)
	}
	return out
}

// RequirementState is a requirement's status and tally in one evaluation.
type RequirementState struct {
	ID     string
	Status RequirementStatus
	Tally  RequirementTally
}

// RequirementChange is a requirement whose status differs between two
// evaluations (or two reports of one).
type RequirementChange struct {
	Requirement string            `json:"requirement"`
	From        RequirementStatus `json:"from"`
	To          RequirementStatus `json:"to"`
}

// CompareRequirements lists the requirements whose status differs from a
// to b, sorted by id (both sorted by id; a requirement missing from one
// side is not_evaluated there). It stops after limit changes (limit <= 0:
// all) and returns the id of the last requirement it looked at, so the
// next page starts after it.
func CompareRequirements(a, b []RequirementState, after string, limit int) (changes []RequirementChange, last string, more bool) {
	i, j := 0, 0
	skip := func(l []RequirementState, k int) int {
		for k < len(l) && after != "" && l[k].ID <= after {
			k++
		}
		return k
	}
	i, j = skip(a, i), skip(b, j)
	for i < len(a) || j < len(b) {
		var id string
		from, to := RequirementNotEvaluated, RequirementNotEvaluated
		switch {
		case j >= len(b) || (i < len(a) && a[i].ID < b[j].ID):
			id, from = a[i].ID, a[i].Status
			i++
		case i >= len(a) || b[j].ID < a[i].ID:
			id, to = b[j].ID, b[j].Status
			j++
		default:
			id, from, to = a[i].ID, a[i].Status, b[j].Status
			i++
			j++
		}
		if from == to {
			continue
		}
		if limit > 0 && len(changes) == limit {
			return changes, last, true
		}
		changes = append(changes, RequirementChange{Requirement: id, From: from, To: to})
		last = id
	}
	return changes, last, false
}

// SortRequirements sorts states by id.
func SortRequirements(s []RequirementState) {
	slices.SortFunc(s, func(x, y RequirementState) int { return cmp.Compare(x.ID, y.ID) })
}

// ComplianceSnapshotID is the id of the compliance of framework in
// account as import evaluated it.
func ComplianceSnapshotID(team, importID, account, framework string) string {
	return "cmp-" + digest(team, "compliance", importID, account, framework)
}

// ComplianceFailingID is the id of the list of the findings of check that
// import reported failing in account.
func ComplianceFailingID(team, importID, account, check string) string {
	return "cfl-" + digest(team, "failing", importID, account, check)
}

// ComplianceReportFormat is the format of Prowler's own compliance
// reports (one CSV per framework); an import of one is a compliance
// report, of any other format a findings report.
const ComplianceReportFormat = "prowler-compliance-csv"

// Sources of a compliance evaluation.
const (
	ComplianceFromFindings = "findings"          // derived from a findings report's results
	ComplianceFromReport   = "compliance_report" // the tool's own compliance report
)

// SameScanWindow bounds how far apart a findings report and a compliance
// report of one scan may be dated: Prowler writes the compliance CSV's
// date in the scanning machine's local time without a zone, while OCSF
// carries UTC; the widest offset is 14 hours.
const SameScanWindow = 14 * time.Hour

// ComplianceSourceOf is the source an import of format is.
func ComplianceSourceOf(format string) string {
	if format == ComplianceReportFormat {
		return ComplianceFromReport
	}
	return ComplianceFromFindings
}

// ComplianceTimelineID is the id of the list of the evaluations of
// framework in account, in time order.
func ComplianceTimelineID(team, account, framework string) string {
	return "ctl-" + digest(team, "timeline", account, framework)
}

// ComplianceTeamFrameworkID is the id of a team's current compliance in
// framework across its accounts.
func ComplianceTeamFrameworkID(team, framework string) string {
	return "ctf-" + digest(team, "framework", framework)
}

// ComplianceOverviewID is the id of a team's compliance overview.
func ComplianceOverviewID(team string) string { return "cov-" + digest(team, "overview") }

// ReportFramework names the framework of a compliance report as findings
// name it ("<Framework>-<Version>", Prowler's unmapped.compliance keys):
// a report whose rows name no version (Prowler's CIS reports say "CIS")
// takes it from the report's file name, which Prowler writes as
// "<output>_<framework>_<version>_<provider>.csv" ("..._cis_5.0_aws.csv").
// Any other name is kept.
func ReportFramework(framework, fileName string) string {
	if framework == "" || fileName == "" || hasVersion(framework) {
		return framework
	}
	base := strings.ToLower(fileName)
	if i := strings.LastIndexAny(base, "/\\"); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ".csv")
	key := "_" + strings.ReplaceAll(strings.ToLower(framework), "-", "_") + "_"
	i := strings.LastIndex("_"+base, key)
	if i < 0 {
		return framework
	}
	rest := ("_" + base)[i+len(key):]
	v, _, _ := strings.Cut(rest, "_")
	if !hasVersion(v) || strings.Trim(v, "0123456789.") != "" {
		return framework
	}
	return framework + "-" + v
}

// hasVersion reports a name ending in a version ("CIS-5.0", "2.0").
func hasVersion(s string) bool {
	i := strings.LastIndexAny(s, "-_ ")
	v := s[i+1:]
	return v != "" && v[0] >= '0' && v[0] <= '9' && strings.Contains(v, ".")
}

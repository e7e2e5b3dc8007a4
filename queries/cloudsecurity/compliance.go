package cloudsecurity

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The compliance queries (docs/compliance.md). Every answer is bounded:
// the overview is one document per team plus a page of accounts; a
// framework page is one evaluation (one indexed read) and its
// requirements (one document), paged; the changes are two evaluations
// compared requirement by requirement, paged, and the findings that moved
// one requirement, paged. None grows with the team's findings.

// The read models projections/cloudsecurity's compliance projection writes.
const (
	complianceScoresCollection       = "compliance_scores"
	complianceRequirementsCollection = "compliance_requirements"
	complianceFailingCollection      = "compliance_failing"
	complianceTeamCollection         = "compliance_team_frameworks"
	complianceOverviewCollection     = "compliance_overviews"
)

// Compliance page sizes: small by default.
const (
	DefaultCompliancePage   = 20
	DefaultRequirementsPage = 50
)

// ComplianceCounts counts a framework's requirements by status.
type ComplianceCounts struct {
	Requirements int64 `json:"requirements"`
	Passed       int64 `json:"passed"`
	Failed       int64 `json:"failed"`
	Manual       int64 `json:"manual"`
	NotEvaluated int64 `json:"not_evaluated"`
	MutedFail    int64 `json:"muted_fail"`
}

func countsOf(m map[string]any) ComplianceCounts {
	return ComplianceCounts{Requirements: queries.Num(m, "requirements"), Passed: queries.Num(m, "passed"),
		Failed: queries.Num(m, "failed"), Manual: queries.Num(m, "manual"), NotEvaluated: queries.Num(m, "not_evaluated"),
		MutedFail: queries.Num(m, "muted_fail")}
}

func scoreOf(d map[string]any) *float64 {
	if v, ok := d["score"].(float64); ok {
		return &v
	}
	return nil
}

// FrameworkScore is a team's current compliance in one framework over its
// accounts (a requirement counts once per account).
type FrameworkScore struct {
	Framework string           `json:"framework"`
	Accounts  int64            `json:"accounts"`
	Counts    ComplianceCounts `json:"counts"`
	Score     *float64         `json:"score"`
}

// Evaluation is one account's compliance in one framework as one import
// evaluated it, valid from At until ValidTo (absent while current).
type Evaluation struct {
	Account   string     `json:"account"`
	Provider  string     `json:"provider,omitempty"`
	Framework string     `json:"framework"`
	ScanID    string     `json:"scan_id"`
	ImportID  string     `json:"import_id"`
	Source    string     `json:"source"` // findings or compliance_report
	At        time.Time  `json:"at"`
	ValidTo   *time.Time `json:"valid_to,omitempty"`
	Current   bool       `json:"current"`
	paired    bool
	Counts    ComplianceCounts `json:"counts"`
	Score     *float64         `json:"score"`
	id        string
}

func evaluationOf(d readmodel.Doc) Evaluation {
	e := Evaluation{Account: queries.Str(d, "account_id"), Provider: queries.Str(d, "provider"), Framework: queries.Str(d, "framework"),
		ScanID: queries.Str(d, "scan_id"), ImportID: queries.Str(d, "import_id"), Source: queries.Str(d, "source"),
		At: queries.When(d, "at"), Counts: countsOf(queries.Obj(d, "counts")), Score: scoreOf(d), id: d.ID()}
	e.Current, _ = d["current"].(bool)
	e.paired, _ = d["paired"].(bool)
	if t := queries.When(d, "valid_to"); !t.IsZero() {
		e.ValidTo = &t
	}
	return e
}

// ComplianceOverview is a team's current compliance: per framework, and a
// page of its accounts' current evaluations.
type ComplianceOverview struct {
	Formula    string           `json:"formula"`
	Frameworks []FrameworkScore `json:"frameworks"`
	Accounts   []Evaluation     `json:"accounts"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// GetComplianceOverview answers GET /api/v1/compliance: the team's
// frameworks (one document) and a page of current evaluations per account
// (framework, then account; only framework's when given).
func (s *Service) GetComplianceOverview(ctx context.Context, team, framework string, p queries.Page) (ComplianceOverview, error) {
	if team == "" {
		return ComplianceOverview{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	queries.CheckText(&v, "framework", framework)
	if err := v.Err(); err != nil {
		return ComplianceOverview{}, err
	}
	out := ComplianceOverview{Formula: csdomain.ScoreFormula, Frameworks: []FrameworkScore{}, Accounts: []Evaluation{}}
	d, err := s.cloudSecurity.Get(ctx, complianceOverviewCollection, csdomain.ComplianceOverviewID(team))
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
	case err != nil:
		return ComplianceOverview{}, fmt.Errorf("get compliance overview: %w", err)
	case queries.Str(d, "team_id") == team:
		for _, f := range queries.Objs(d, "frameworks") {
			if framework != "" && queries.Str(f, "framework") != framework {
				continue
			}
			out.Frameworks = append(out.Frameworks, FrameworkScore{Framework: queries.Str(f, "framework"),
				Accounts: queries.Num(f, "accounts"), Counts: countsOf(queries.Obj(f, "counts")), Score: scoreOf(f)})
		}
	}
	terms := []readmodel.Filter{readmodel.Eq("team_id", team), readmodel.Eq("current", true)}
	terms = queries.AppendEq(terms, "framework", framework)
	limit := p.Limit
	if limit == 0 {
		limit = DefaultCompliancePage
	}
	sort := []readmodel.SortField{readmodel.Asc("framework"), readmodel.Asc("account_id")}
	if framework != "" {
		sort = sort[1:] // by account within the framework (the index's next key)
	}
	page, err := queries.Find(ctx, s.cloudSecurity, complianceScoresCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: sort, Limit: limit, Cursor: p.Cursor,
	})
	if err != nil {
		return ComplianceOverview{}, fmt.Errorf("list current compliance: %w", err)
	}
	for _, d := range page.Docs {
		out.Accounts = append(out.Accounts, evaluationOf(d))
	}
	out.NextCursor = page.NextCursor
	return out, nil
}

// FrameworkQuery selects a framework's compliance: of one account (its
// current evaluation, or as of a time, or of a scan) or, with no account,
// the team's current one over its accounts.
type FrameworkQuery struct {
	Framework string
	Account   string
	AsOf      time.Time
	ScanID    string
	Page      queries.Page
}

// Requirement is one requirement's status in an evaluation, with the tally
// of its checks' results there (Accounts instead, for the team).
type Requirement struct {
	ID        string            `json:"id"`
	Status    string            `json:"status"`
	Pass      int64             `json:"pass"`
	Fail      int64             `json:"fail"`
	MutedFail int64             `json:"muted_fail"`
	Manual    int64             `json:"manual"`
	Checks    []string          `json:"checks,omitempty"`
	Accounts  *AccountsByStatus `json:"accounts,omitempty"`
}

// AccountsByStatus counts a team's accounts by a requirement's status.
type AccountsByStatus struct {
	Pass         int64 `json:"pass"`
	Fail         int64 `json:"fail"`
	Manual       int64 `json:"manual"`
	NotEvaluated int64 `json:"not_evaluated"`
	MutedFail    int64 `json:"muted_fail"`
}

// Difference is a requirement a findings report and a compliance report of
// the same account and time disagree on.
type Difference struct {
	Requirement    string `json:"requirement"`
	Findings       string `json:"findings"`          // status derived from the findings report
	Report         string `json:"compliance_report"` // status in the tool's compliance report
	ReportImportID string `json:"compliance_report_import_id"`
}

// FrameworkCompliance is a framework's page.
type FrameworkCompliance struct {
	Formula      string           `json:"formula"`
	Framework    string           `json:"framework"`
	Scope        string           `json:"scope"` // account or team
	Evaluation   *Evaluation      `json:"evaluation,omitempty"`
	Accounts     int64            `json:"accounts,omitempty"`
	Counts       ComplianceCounts `json:"counts"`
	Score        *float64         `json:"score"`
	Requirements []Requirement    `json:"requirements"`
	NextCursor   string           `json:"next_cursor,omitempty"`
	// ComparedWith is the evaluation of the other source of the same scan
	// (a findings report beside the tool's compliance report), when there
	// is one; Differences the requirements they disagree on (at most
	// maxDifferences; empty: they agree).
	ComparedWith *Evaluation  `json:"compared_with,omitempty"`
	Differences  []Difference `json:"differences,omitempty"`
}

const maxDifferences = 100

func checkFramework(v *domain.Validator, fw string) {
	v.Check(fw != "", "framework", "is required")
	queries.CheckText(v, "framework", fw)
}

// GetFrameworkCompliance answers GET /api/v1/compliance/{framework}.
func (s *Service) GetFrameworkCompliance(ctx context.Context, team string, q FrameworkQuery) (FrameworkCompliance, error) {
	if team == "" {
		return FrameworkCompliance{}, queries.ErrNoTeam
	}
	var v domain.Validator
	q.Page.Check(&v)
	checkFramework(&v, q.Framework)
	queries.CheckText(&v, "account", q.Account)
	queries.CheckText(&v, "scan_id", q.ScanID)
	v.Check(q.AsOf.IsZero() || q.ScanID == "", "as_of", "cannot be given with scan_id")
	v.Check(q.AsOf.IsZero() || q.Account != "", "account", "is required with as_of (the team's compliance as of a time is not kept; see docs/compliance.md)")
	after, err := decodeReqCursor(q.Page.Cursor)
	if err != nil {
		v.Add("cursor", "is not a cursor of this list")
	}
	if err := v.Err(); err != nil {
		return FrameworkCompliance{}, err
	}
	limit := q.Page.Limit
	if limit == 0 {
		limit = DefaultRequirementsPage
	}
	out := FrameworkCompliance{Formula: csdomain.ScoreFormula, Framework: q.Framework, Requirements: []Requirement{}}
	if q.Account == "" && q.ScanID == "" {
		return s.teamFramework(ctx, team, out, after, limit)
	}
	ev, err := s.evaluation(ctx, team, q.Framework, q.Account, q.AsOf, q.ScanID, "")
	if err != nil {
		return FrameworkCompliance{}, err
	}
	if ev == nil {
		return FrameworkCompliance{}, queries.NotFound("compliance", q.Framework)
	}
	out.Scope, out.Evaluation, out.Counts, out.Score = "account", ev, ev.Counts, ev.Score
	rows, err := s.requirementRows(ctx, team, ev.id)
	if err != nil {
		return FrameworkCompliance{}, err
	}
	i := startAfter(rows, after, func(r csdomain.RequirementRow) string { return r.ID })
	for _, r := range rows[i:min(i+limit, len(rows))] {
		out.Requirements = append(out.Requirements, requirementOf(r))
	}
	if i+limit < len(rows) {
		out.NextCursor = encodeReqCursor(rows[i+limit-1].ID)
	}
	other, diffs, err := s.differences(ctx, team, ev, rows)
	if other != nil {
		out.ComparedWith, out.Differences = other, diffs
	}
	return out, err
}

func (s *Service) teamFramework(ctx context.Context, team string, out FrameworkCompliance, after string, limit int) (FrameworkCompliance, error) {
	out.Scope = "team"
	d, err := s.cloudSecurity.Get(ctx, complianceTeamCollection, csdomain.ComplianceTeamFrameworkID(team, out.Framework))
	switch {
	case errors.Is(err, readmodel.ErrNotFound), err == nil && queries.Str(d, "team_id") != team:
		return FrameworkCompliance{}, queries.NotFound("compliance", out.Framework)
	case err != nil:
		return FrameworkCompliance{}, fmt.Errorf("get team compliance: %w", err)
	}
	out.Accounts = queries.Num(d, "accounts")
	rows := csdomain.DecodeTeamRows(queries.Str(d, "requirements"))
	var sum ComplianceCounts
	for _, r := range rows {
		sum.Requirements += int64(r.Pass + r.Fail + r.Manual + r.NotEvaluated)
		sum.Passed += int64(r.Pass)
		sum.Failed += int64(r.Fail)
		sum.Manual += int64(r.Manual)
		sum.NotEvaluated += int64(r.NotEvaluated)
		sum.MutedFail += int64(r.MutedFail)
	}
	out.Counts = sum
	if sum.Passed+sum.Failed > 0 {
		v := float64(sum.Passed) / float64(sum.Passed+sum.Failed)
		out.Score = &v
	}
	i := startAfter(rows, after, func(r csdomain.TeamRequirementRow) string { return r.ID })
	for _, r := range rows[i:min(i+limit, len(rows))] {
		a := AccountsByStatus{Pass: int64(r.Pass), Fail: int64(r.Fail), Manual: int64(r.Manual), NotEvaluated: int64(r.NotEvaluated), MutedFail: int64(r.MutedFail)}
		// Over the accounts, the same rule: any failing account fails it.
		t := csdomain.RequirementTally{Pass: r.Pass, Fail: r.Fail, Manual: r.Manual}
		out.Requirements = append(out.Requirements, Requirement{ID: r.ID, Status: string(t.Status()), Accounts: &a})
	}
	if i+limit < len(rows) {
		out.NextCursor = encodeReqCursor(rows[i+limit-1].ID)
	}
	return out, nil
}

// evaluation finds one evaluation: of a scan (the account inferred when
// the scan evaluated one account), as of a time, or the current one.
// field names the parameter a scan id came from in errors. nil: none.
func (s *Service) evaluation(ctx context.Context, team, fw, account string, asOf time.Time, scanID, field string) (*Evaluation, error) {
	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}
	var sort []readmodel.SortField
	limit := 1
	switch {
	case scanID != "":
		terms = append(terms, readmodel.Eq("scan_id", scanID), readmodel.Eq("framework", fw))
		terms = queries.AppendEq(terms, "account_id", account)
		sort = []readmodel.SortField{readmodel.Asc("account_id")}
		limit = 2
	default:
		terms = append(terms, readmodel.Eq("account_id", account), readmodel.Eq("framework", fw))
		if !asOf.IsZero() {
			terms = append(terms, readmodel.Lte("at", readmodel.NormalizeTime(asOf)))
		}
		sort = []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("seq")}
	}
	page, err := queries.Find(ctx, s.cloudSecurity, complianceScoresCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: sort, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("find compliance evaluation: %w", err)
	}
	if len(page.Docs) == 0 {
		return nil, nil
	}
	if len(page.Docs) > 1 && queries.Str(page.Docs[0], "account_id") != queries.Str(page.Docs[1], "account_id") {
		var v domain.Validator
		if field == "" {
			field = "scan_id"
		}
		v.Add("account", "is required: scan %q (%s) evaluated several accounts", scanID, field)
		return nil, v.Err()
	}
	e := evaluationOf(page.Docs[0])
	return &e, nil
}

func (s *Service) requirementRows(ctx context.Context, team, id string) ([]csdomain.RequirementRow, error) {
	d, err := s.cloudSecurity.Get(ctx, complianceRequirementsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get compliance requirements: %w", err)
	case queries.Str(d, "team_id") != team:
		return nil, nil
	}
	return csdomain.DecodeRequirementRows(queries.Str(d, "requirements")), nil
}

// differences compares ev with the report of the other source of its
// account and framework that evaluated the same scan: the same scan id,
// else the nearest in time within csdomain.SameScanWindow (a findings report beside
// a compliance report).
func (s *Service) differences(ctx context.Context, team string, ev *Evaluation, rows []csdomain.RequirementRow) (*Evaluation, []Difference, error) {
	if !ev.paired { // the projection pairs evaluations of one scan
		return nil, nil, nil
	}
	base := []readmodel.Filter{readmodel.Eq("team_id", team), readmodel.Eq("account_id", ev.Account), readmodel.Eq("framework", ev.Framework)}
	page, err := queries.Find(ctx, s.cloudSecurity, complianceScoresCollection, readmodel.FindOptions{
		Filter: readmodel.And(append(base, readmodel.Gte("at", readmodel.NormalizeTime(ev.At.Add(-csdomain.SameScanWindow))),
			readmodel.Lte("at", readmodel.NormalizeTime(ev.At.Add(csdomain.SameScanWindow))))...),
		Sort: []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("seq")}, Limit: 8})
	if err != nil {
		return nil, nil, fmt.Errorf("find reports of the same scan: %w", err)
	}
	var other *Evaluation
	for _, d := range page.Docs {
		o := evaluationOf(d)
		if o.id == ev.id || o.Source == ev.Source {
			continue
		}
		switch {
		case other == nil, o.ScanID == ev.ScanID && other.ScanID != ev.ScanID:
			other = &o
		case (o.ScanID == ev.ScanID) == (other.ScanID == ev.ScanID) && absDur(o.At.Sub(ev.At)) < absDur(other.At.Sub(ev.At)):
			other = &o
		}
	}
	if other == nil {
		return nil, nil, nil
	}
	otherRows, err := s.requirementRows(ctx, team, other.id)
	if err != nil {
		return nil, nil, err
	}
	findings, report, reportImport := rows, otherRows, other.ImportID
	if ev.Source == csdomain.ComplianceFromReport {
		findings, report, reportImport = otherRows, rows, ev.ImportID
	}
	changes, _, _ := csdomain.CompareRequirements(states(findings), states(report), "", maxDifferences)
	out := make([]Difference, len(changes))
	for i, c := range changes {
		out[i] = Difference{Requirement: c.Requirement, Findings: string(c.From), Report: string(c.To), ReportImportID: reportImport}
	}
	return other, out, nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func states(rows []csdomain.RequirementRow) []csdomain.RequirementState {
	out := make([]csdomain.RequirementState, len(rows))
	for i, r := range rows {
		out[i] = csdomain.RequirementState{ID: r.ID, Status: r.Status}
	}
	return out
}

func requirementOf(r csdomain.RequirementRow) Requirement {
	return Requirement{ID: r.ID, Status: string(r.Status), Pass: int64(r.Tally.Pass), Fail: int64(r.Tally.Fail),
		MutedFail: int64(r.Tally.MutedFail), Manual: int64(r.Tally.Manual), Checks: r.Checks}
}

// findRow is the row of requirement id (rows sorted by id).
func findRow(rows []csdomain.RequirementRow, id string) (csdomain.RequirementRow, bool) {
	i, found := slices.BinarySearchFunc(rows, id, func(r csdomain.RequirementRow, id string) int { return strings.Compare(r.ID, id) })
	if !found {
		return csdomain.RequirementRow{}, false
	}
	return rows[i], true
}

// startAfter is the index of the first row after id (rows sorted by id).
func startAfter[R any](rows []R, after string, idOf func(R) string) int {
	if after == "" {
		return 0
	}
	i, found := slices.BinarySearchFunc(rows, after, func(r R, id string) int { return strings.Compare(idOf(r), id) })
	if found {
		i++
	}
	return i
}

func encodeReqCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("r:" + id))
}

func decodeReqCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "r:") {
		return "", errors.New("not a cursor")
	}
	return string(b[2:]), nil
}

// ChangesQuery asks what changed in a framework between two evaluations:
// From and To are each an RFC3339 time or a scan id (the account inferred
// when the scan evaluated one); Account is required unless To is a scan
// id. To absent: the current evaluation; From absent: the one before To.
// With Requirement, the findings that moved that requirement.
type ChangesQuery struct {
	Framework   string
	Account     string
	From, To    string
	Requirement string
	Page        queries.Page
}

// RequirementMove is a requirement whose status changed.
type RequirementMove struct {
	Requirement string `json:"requirement"`
	From        string `json:"from"`
	To          string `json:"to"`
	FailFrom    int64  `json:"fail_from"` // failing results of its checks then
	FailTo      int64  `json:"fail_to"`
}

// MovedFinding is a finding of a requirement's checks that failed at one
// end and not at the other.
type MovedFinding struct {
	FindingID string `json:"finding_id"`
	Check     string `json:"check_id"`
	From      string `json:"from"` // failing or not_failing
	To        string `json:"to"`
}

// ComplianceChanges is one page of changes.
type ComplianceChanges struct {
	Framework    string            `json:"framework"`
	From         *Evaluation       `json:"from"`
	To           *Evaluation       `json:"to"`
	Requirements []RequirementMove `json:"requirements,omitempty"`
	Requirement  string            `json:"requirement,omitempty"`
	Findings     []MovedFinding    `json:"findings,omitempty"`
	NextCursor   string            `json:"next_cursor,omitempty"`
}

// GetComplianceChanges answers GET /api/v1/compliance/{framework}/changes.
func (s *Service) GetComplianceChanges(ctx context.Context, team string, q ChangesQuery) (ComplianceChanges, error) {
	if team == "" {
		return ComplianceChanges{}, queries.ErrNoTeam
	}
	var v domain.Validator
	q.Page.Check(&v)
	checkFramework(&v, q.Framework)
	queries.CheckText(&v, "account", q.Account)
	queries.CheckText(&v, "requirement", q.Requirement)
	end := func(field, s string) (time.Time, string) {
		queries.CheckText(&v, field, s)
		if s == "" {
			return time.Time{}, ""
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, ""
		}
		return time.Time{}, s
	}
	fromAt, fromScan := end("from", q.From)
	toAt, toScan := end("to", q.To)
	after, err := decodeReqCursor(q.Page.Cursor)
	if err != nil {
		v.Add("cursor", "is not a cursor of this list")
	}
	if err := v.Err(); err != nil {
		return ComplianceChanges{}, err
	}
	if q.Account == "" && toScan == "" {
		// Which account's changes? The framework must be the team's
		// first (another team's answers as a missing one).
		if _, err := s.teamFramework(ctx, team, FrameworkCompliance{Framework: q.Framework}, "", 1); err != nil {
			return ComplianceChanges{}, err
		}
		v.Add("account", "is required unless to is a scan id")
		return ComplianceChanges{}, v.Err()
	}
	out := ComplianceChanges{Framework: q.Framework}
	if out.To, err = s.evaluation(ctx, team, q.Framework, q.Account, toAt, toScan, "to"); err != nil {
		return ComplianceChanges{}, err
	}
	if out.To == nil {
		return ComplianceChanges{}, queries.NotFound("compliance", q.Framework)
	}
	switch {
	case fromScan != "" || !fromAt.IsZero():
		out.From, err = s.evaluation(ctx, team, q.Framework, out.To.Account, fromAt, fromScan, "from")
	default: // the evaluation before to
		out.From, err = s.previous(ctx, team, out.To)
	}
	if err != nil {
		return ComplianceChanges{}, err
	}
	if out.From != nil && out.From.Account != out.To.Account {
		v.Add("to", "evaluated account %q, from evaluated %q", out.To.Account, out.From.Account)
		return ComplianceChanges{}, v.Err()
	}
	limit := q.Page.Limit
	if limit == 0 {
		limit = DefaultCompliancePage
	}
	var fromRows []csdomain.RequirementRow
	if out.From != nil {
		if fromRows, err = s.requirementRows(ctx, team, out.From.id); err != nil {
			return ComplianceChanges{}, err
		}
	}
	toRows, err := s.requirementRows(ctx, team, out.To.id)
	if err != nil {
		return ComplianceChanges{}, err
	}
	if q.Requirement != "" {
		return s.movedFindings(ctx, team, out, q.Requirement, fromRows, toRows, after, limit)
	}
	changes, last, more := csdomain.CompareRequirements(states(fromRows), states(toRows), after, limit)
	fails := func(rows []csdomain.RequirementRow, id string) int64 {
		r, _ := findRow(rows, id)
		return int64(r.Tally.Fail)
	}
	out.Requirements = make([]RequirementMove, len(changes))
	for i, c := range changes {
		out.Requirements[i] = RequirementMove{Requirement: c.Requirement, From: string(c.From), To: string(c.To),
			FailFrom: fails(fromRows, c.Requirement), FailTo: fails(toRows, c.Requirement)}
	}
	if more {
		out.NextCursor = encodeReqCursor(last)
	}
	return out, nil
}

// previous is the evaluation of ev's account and framework before it
// (nil: none).
func (s *Service) previous(ctx context.Context, team string, ev *Evaluation) (*Evaluation, error) {
	d, err := s.cloudSecurity.Get(ctx, complianceScoresCollection, ev.id)
	if err != nil {
		return nil, fmt.Errorf("get compliance evaluation: %w", err)
	}
	page, err := queries.Find(ctx, s.cloudSecurity, complianceScoresCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("account_id", ev.Account),
			readmodel.Eq("framework", ev.Framework), readmodel.Lte("at", readmodel.NormalizeTime(ev.At)),
			readmodel.Lt("seq", queries.Str(d, "seq"))),
		Sort: []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("seq")}, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("find the previous compliance evaluation: %w", err)
	}
	if len(page.Docs) == 0 {
		return nil, nil
	}
	e := evaluationOf(page.Docs[0])
	return &e, nil
}

// movedFindings lists the findings of requirement's checks failing at one
// end and not at the other, by finding id.
func (s *Service) movedFindings(ctx context.Context, team string, out ComplianceChanges, req string, fromRows, toRows []csdomain.RequirementRow, after string, limit int) (ComplianceChanges, error) {
	out.Requirement = req
	out.Findings = []MovedFinding{}
	checks := map[string]bool{}
	for _, rows := range [][]csdomain.RequirementRow{fromRows, toRows} {
		if r, found := findRow(rows, req); found {
			for _, c := range r.Checks {
				checks[c] = true
			}
		}
	}
	// failing is the sorted ids of the findings ev reported failing on check.
	failing := func(ev *Evaluation, check string) ([]string, error) {
		if ev == nil {
			return nil, nil
		}
		d, err := s.cloudSecurity.Get(ctx, complianceFailingCollection, csdomain.ComplianceFailingID(team, ev.ImportID, ev.Account, check))
		switch {
		case errors.Is(err, readmodel.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("get failing findings: %w", err)
		}
		ids := queries.Str(d, "findings")
		if ids == "" {
			return nil, nil
		}
		l := strings.Split(ids, "\n")
		slices.Sort(l)
		return l, nil
	}
	var moved []MovedFinding
	for _, c := range slices.Sorted(maps.Keys(checks)) {
		a, err := failing(out.From, c)
		if err != nil {
			return ComplianceChanges{}, err
		}
		b, err := failing(out.To, c)
		if err != nil {
			return ComplianceChanges{}, err
		}
		// The sorted lists merged: in one and not the other.
		for i, j := 0, 0; i < len(a) || j < len(b); {
			switch {
			case j == len(b) || (i < len(a) && a[i] < b[j]):
				moved = append(moved, MovedFinding{FindingID: a[i], Check: c, From: "failing", To: "not_failing"})
				i++
			case i == len(a) || b[j] < a[i]:
				moved = append(moved, MovedFinding{FindingID: b[j], Check: c, From: "not_failing", To: "failing"})
				j++
			default:
				i++
				j++
			}
		}
	}
	byKey := func(m MovedFinding, id, check string) int {
		return cmp.Or(strings.Compare(m.FindingID, id), strings.Compare(m.Check, check))
	}
	if len(checks) > 1 {
		slices.SortFunc(moved, func(x, y MovedFinding) int { return byKey(x, y.FindingID, y.Check) })
	}
	i := 0
	if after != "" {
		id, check, _ := strings.Cut(after, "|")
		i, _ = slices.BinarySearchFunc(moved, after, func(m MovedFinding, _ string) int { return byKey(m, id, check) })
		for i < len(moved) && byKey(moved[i], id, check) <= 0 {
			i++
		}
	}
	end := min(i+limit, len(moved))
	out.Findings = append(out.Findings, moved[i:end]...)
	if end < len(moved) {
		out.NextCursor = encodeReqCursor(moved[end-1].FindingID + "|" + moved[end-1].Check)
	}
	return out, nil
}

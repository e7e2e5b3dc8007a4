package cloudsecurity

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// An import brings one scanner report in. Its stream holds either one
// ImportRejected (the report did not parse or broke a rule: nothing else
// is recorded) or ImportStarted, the checks the report describes, its
// results in chunks, and ImportCompleted. The results are the facts; the
// findings, their lifecycle and the scan's delta are folds over them (see
// lifecycle.go), so a better identity or scope rule is a replay.
//
// An import's id is derived from the team and the report's content hash:
// the same report imported twice is the same import, and the second time
// changes nothing.

// ImportID is the id of the import of a report with content hash sum
// (hex sha256) in team.
func ImportID(team, sum string) string { return "imp-" + digest(team, "import", sum) }

// ScanIDForImport is the id of the scan run an import creates when it is
// not attached to a requested one.
func ScanIDForImport(team, sum string) string { return "scn-" + digest(team, "scan", sum) }

// ImportStarted: a report was accepted; its results follow.
type ImportStarted struct {
	ImportID    string    `json:"import_id"`
	ScanID      string    `json:"scan_id"`
	Format      string    `json:"format"`
	Tool        string    `json:"tool"`
	ToolVersion string    `json:"tool_version,omitempty"`
	ContentHash string    `json:"content_hash"` // hex sha256 of the report as received
	Size        int64     `json:"size"`
	FileName    string    `json:"file_name,omitempty"`
	StartedAt   time.Time `json:"started_at"`
}

// CheckInfo is what a report says of one check: its texts, once per
// import rather than once per result.
type CheckInfo struct {
	CheckID     string              `json:"check_id"`
	Title       string              `json:"title,omitempty"`
	Service     string              `json:"service,omitempty"`
	Severity    Severity            `json:"severity,omitempty"`
	Description string              `json:"description,omitempty"`
	Risk        string              `json:"risk,omitempty"`
	Remediation string              `json:"remediation,omitempty"`
	References  []string            `json:"references,omitempty"`
	Compliance  map[string][]string `json:"compliance,omitempty"`
	Categories  []string            `json:"categories,omitempty"`
}

// ChecksDescribed: the checks of a report (a chunk of them), as the scan at
// EvaluatedAt described them.
type ChecksDescribed struct {
	ImportID    string      `json:"import_id"`
	EvaluatedAt time.Time   `json:"evaluated_at"`
	Checks      []CheckInfo `json:"checks"`
}

// CheckResult is one result of a report: what a check concluded on a
// resource, compact (the check's texts are in ChecksDescribed).
type CheckResult struct {
	Provider     string            `json:"provider"`
	Account      string            `json:"account"`
	Region       string            `json:"region,omitempty"`
	Check        string            `json:"check"`
	Resource     string            `json:"resource"`
	ResourceName string            `json:"resource_name,omitempty"`
	ResourceType string            `json:"resource_type,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Result       Result            `json:"result"`
	Severity     Severity          `json:"severity,omitempty"`
	Muted        bool              `json:"muted,omitempty"` // muted by the tool itself
	Detail       string            `json:"detail,omitempty"`
	ToolUID      string            `json:"tool_uid,omitempty"` // the tool's own id of the result
	ObservedAt   time.Time         `json:"observed_at"`
}

// Identity is the result's finding identity under rule.
func (r CheckResult) Identity(rule IdentityRule) Identity {
	return Identity{Rule: rule, Scope: Scope{Provider: r.Provider, Account: r.Account, Region: r.Region, Check: r.Check}, Resource: r.Resource}
}

// ResultsRecorded: a chunk of a report's results, all of one evaluation
// (the scan at EvaluatedAt).
type ResultsRecorded struct {
	ImportID     string        `json:"import_id"`
	ScanID       string        `json:"scan_id"`
	EvaluatedAt  time.Time     `json:"evaluated_at"`
	IdentityRule IdentityRule  `json:"identity_rule"`
	Results      []CheckResult `json:"results"`
}

// Step is the evaluation the results belong to.
func (e ResultsRecorded) Step() Step { return Step{At: e.EvaluatedAt, Scan: e.ScanID} }

// EvaluatedScope is what a completed import evaluated in one account: every
// check it reports in every region it reports (any result counts: a check
// that ran and found nothing to report in a region evaluated that region).
type EvaluatedScope struct {
	Provider string   `json:"provider"`
	Account  string   `json:"account"`
	Regions  []string `json:"regions"`
	Checks   []string `json:"checks"`
}

// Scopes lists the scopes: every region × every check.
func (s EvaluatedScope) Scopes() []Scope {
	out := make([]Scope, 0, len(s.Regions)*len(s.Checks))
	for _, r := range s.Regions {
		for _, c := range s.Checks {
			out = append(out, Scope{Provider: s.Provider, Account: s.Account, Region: r, Check: c})
		}
	}
	return out
}

// ImportCounts are the counts of a report's results.
type ImportCounts struct {
	Results    int              `json:"results"`
	ByResult   map[Result]int   `json:"by_result"`
	FailBySev  map[Severity]int `json:"fail_by_severity"`
	Muted      int              `json:"muted"` // failing results the tool muted
	Checks     int              `json:"checks"`
	Resources  int              `json:"resources"`
	Accounts   int              `json:"accounts"`
	Chunks     int              `json:"chunks"` // ResultsRecorded events
	CheckInfos int              `json:"check_chunks"`
}

// ImportCompleted: every result of the report is recorded; the scan
// evaluated Scopes at EvaluatedAt.
type ImportCompleted struct {
	ImportID     string           `json:"import_id"`
	ScanID       string           `json:"scan_id"`
	EvaluatedAt  time.Time        `json:"evaluated_at"`
	IdentityRule IdentityRule     `json:"identity_rule"`
	ObservedFrom time.Time        `json:"observed_from"`
	ObservedTo   time.Time        `json:"observed_to"`
	Scopes       []EvaluatedScope `json:"scopes"`
	// Accounts are the accounts the report named, as it described them
	// (absent from imports recorded before accounts existed).
	Accounts    []AccountSeen `json:"accounts,omitempty"`
	Counts      ImportCounts  `json:"counts"`
	CompletedAt time.Time     `json:"completed_at"`
	// Problems are the scan problems the report recorded (native
	// scanners: unreachable targets, FATAL rows...; decision 59), at most
	// MaxScanProblems; ProblemsCount counts them all. They fix nothing.
	Problems      []ScanProblem `json:"problems,omitempty"`
	ProblemsCount int           `json:"problems_count,omitempty"`
}

// Step is the evaluation the import completed.
func (e ImportCompleted) Step() Step { return Step{At: e.EvaluatedAt, Scan: e.ScanID} }

// ImportRejected: a report was refused whole; nothing of it is recorded.
type ImportRejected struct {
	ImportID    string    `json:"import_id"`
	Format      string    `json:"format,omitempty"`
	ContentHash string    `json:"content_hash"`
	Size        int64     `json:"size"`
	FileName    string    `json:"file_name,omitempty"`
	Reason      string    `json:"reason"`
	RejectedAt  time.Time `json:"rejected_at"`
}

func (ImportStarted) EventType() string   { return "ImportStarted" }
func (ChecksDescribed) EventType() string { return "ChecksDescribed" }
func (ResultsRecorded) EventType() string { return "ResultsRecorded" }
func (ImportCompleted) EventType() string { return "ImportCompleted" }
func (ImportRejected) EventType() string  { return "ImportRejected" }

// ResultOf turns an observation into a result, checking it against the
// domain's rules (the fields an identity needs, text limits). Texts of the
// check go to CheckInfoOf.
func ResultOf(o Observation) (CheckResult, error) {
	var v domain.Validator
	provider := strings.ToLower(strings.TrimSpace(o.Provider))
	resource := o.ResourceUID
	if resource == "" {
		resource = o.ResourceName
	}
	v.Check(provider != "", "provider", "is required")
	v.Text("provider", provider, domain.MaxShortText)
	v.Check(o.AccountUID != "", "account", "is required")
	v.Text("account", o.AccountUID, domain.MaxShortText)
	v.Text("region", o.Region, domain.MaxShortText)
	v.Check(o.CheckID != "", "check_id", "is required")
	v.Text("check_id", o.CheckID, domain.MaxShortText)
	v.Check(resource != "", "resource", "is required")
	v.Text("resource", resource, domain.MaxReference)
	v.Text("resource_name", o.ResourceName, domain.MaxReference)
	v.Text("resource_type", o.ResourceType, domain.MaxShortText)
	v.MultilineText("status_detail", o.StatusDetail, domain.MaxReason)
	v.Text("finding_uid", o.FindingUID, domain.MaxReference)
	switch o.Result {
	case ResultFail, ResultPass, ResultManual:
	default:
		v.Add("result", "must be fail, pass or manual (got %q)", o.Result)
	}
	if o.Severity != "" {
		_, ok := ParseSeverity(string(o.Severity))
		v.Check(ok, "severity", "must be one of critical, high, medium, low, informational (got %q)", o.Severity)
	}
	v.Check(len(o.ResourceTags) <= maxTags, "resource_tags", "must hold at most %d tags", maxTags)
	for k, val := range o.ResourceTags {
		v.Text("resource_tags", k, domain.MaxShortText)
		v.Text("resource_tags", val, domain.MaxReference)
	}
	v.Check(!o.ObservedAt.IsZero(), "observed_at", "is required")
	if err := v.Err(); err != nil {
		return CheckResult{}, err
	}
	return CheckResult{
		Provider: provider, Account: o.AccountUID, Region: o.Region, Check: o.CheckID,
		Resource: resource, ResourceName: o.ResourceName, ResourceType: o.ResourceType, Tags: o.ResourceTags,
		Result: o.Result, Severity: o.Severity, Muted: o.Muted, Detail: o.StatusDetail, ToolUID: o.FindingUID,
		ObservedAt: o.ObservedAt.UTC(),
	}, nil
}

// maxTags bounds a resource's tags in one result.
const maxTags = 64

// CheckInfoOf is what an observation says of its check.
func CheckInfoOf(o Observation) (CheckInfo, error) {
	var v domain.Validator
	v.Text("check_title", o.CheckTitle, domain.MaxTitle)
	v.Text("service", o.Service, domain.MaxShortText)
	v.MultilineText("description", o.Description, domain.MaxDescription)
	v.MultilineText("risk", o.Risk, domain.MaxDescription)
	v.MultilineText("remediation", o.Remediation, domain.MaxDescription)
	v.Check(len(o.References) <= 32, "references", "must hold at most 32 URLs")
	for _, r := range o.References {
		v.Text("references", r, domain.MaxReference)
	}
	n := 0
	for fw, ids := range o.Compliance {
		v.Text("compliance", fw, domain.MaxShortText)
		for _, id := range ids {
			v.Text("compliance", id, domain.MaxShortText)
		}
		n += len(ids)
	}
	v.Check(n <= 1024, "compliance", "must map to at most 1024 requirements")
	v.Check(len(o.Categories) <= 32, "categories", "must hold at most 32 categories")
	for _, c := range o.Categories {
		v.Text("categories", c, domain.MaxShortText)
	}
	if err := v.Err(); err != nil {
		return CheckInfo{}, err
	}
	return CheckInfo{
		CheckID: o.CheckID, Title: o.CheckTitle, Service: o.Service, Severity: o.Severity,
		Description: o.Description, Risk: o.Risk, Remediation: o.Remediation,
		References: o.References, Compliance: o.Compliance, Categories: o.Categories,
	}, nil
}

// ImportScope accumulates what an import evaluated, per account.
type ImportScope struct {
	accounts map[[2]string]*scopeSets
}

type scopeSets struct {
	regions, checks map[string]bool
	seen            AccountSeen // the account as the report describes it
}

// Add records that the import evaluated r's check in r's region.
func (s *ImportScope) Add(r CheckResult) {
	if s.accounts == nil {
		s.accounts = map[[2]string]*scopeSets{}
	}
	k := [2]string{r.Provider, r.Account}
	a := s.accounts[k]
	if a == nil {
		a = &scopeSets{regions: map[string]bool{}, checks: map[string]bool{}}
		s.accounts[k] = a
	}
	a.regions[r.Region] = true
	a.checks[r.Check] = true
}

// Scopes lists the evaluated scopes, sorted.
// Describe records what a result says of its account (SeenAccount):
// the first name and organization given, and the tags (the first value of
// a key stands).
func (s *ImportScope) Describe(d AccountSeen) {
	a := s.accounts[[2]string{d.Provider, d.UID}]
	if a == nil {
		return // Add comes first
	}
	if a.seen.Name == "" {
		a.seen.Name = d.Name
	}
	if a.seen.Organization == "" {
		a.seen.Organization = d.Organization
	}
	for k, v := range d.Tags {
		if a.seen.Tags == nil {
			a.seen.Tags = map[string]string{}
		}
		if _, ok := a.seen.Tags[k]; !ok {
			a.seen.Tags[k] = v
		}
	}
}

// Accounts lists the accounts the results named, as they described them,
// ordered by provider and uid.
func (s *ImportScope) Accounts() []AccountSeen {
	out := make([]AccountSeen, 0, len(s.accounts))
	for k, a := range s.accounts {
		d := a.seen
		d.Provider, d.UID = k[0], k[1]
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b AccountSeen) int {
		return strings.Compare(a.Provider+"\x00"+a.UID, b.Provider+"\x00"+b.UID)
	})
	return out
}

func (s *ImportScope) Scopes() []EvaluatedScope {
	out := make([]EvaluatedScope, 0, len(s.accounts))
	for k, a := range s.accounts {
		out = append(out, EvaluatedScope{Provider: k[0], Account: k[1], Regions: sortedKeys(a.regions), Checks: sortedKeys(a.checks)})
	}
	slices.SortFunc(out, func(a, b EvaluatedScope) int {
		return strings.Compare(a.Provider+"\x00"+a.Account, b.Provider+"\x00"+b.Account)
	})
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Rule codes of imports.
const (
	CodeReportRejected = "REPORT_REJECTED"
)

// RejectionError is a report refused whole, with the reason the import
// records.
type RejectionError struct {
	ImportID string
	Reason   string
}

func (e *RejectionError) Error() string { return fmt.Sprintf("report rejected: %s", e.Reason) }

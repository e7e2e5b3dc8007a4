package vulnerabilities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// SLA queries (decision 56, docs/sla.md) over projections/vulnerabilities'
// vulnerabilities.sla: a team's policy, its breaches (open clocks past due,
// most overdue first) and its summary (one document read).

// Collections, as projections/vulnerabilities writes them.
const (
	slaClocksCollection   = "sla_clocks"
	slaSummaryCollection  = "sla_summaries"
	slaPoliciesCollection = "sla_policies"
)

// DueSoonWindow is "due soon" in the summary.
const DueSoonWindow = queries.SLADueSoonWindow

// SLAService runs the SLA queries; safe for concurrent use.
type SLAService struct {
	db  queries.DocReader
	now func() time.Time
}

// NewSLA returns the SLA queries; now is the clock breaches are measured
// against. It panics on a nil dependency (a wiring mistake).
func NewSLA(db queries.DocReader, now func() time.Time) *SLAService {
	if db == nil || now == nil {
		panic("vulnerabilities.NewSLA: nil dependency")
	}
	return &SLAService{db: db, now: now}
}

// SLAPolicyView is a team's policy in force.
type SLAPolicyView struct {
	Policy  vuln.SLAPolicy `json:"policy"`
	Default bool           `json:"default"` // the team never set one
	SetAt   time.Time      `json:"set_at,omitzero"`
}

// GetPolicy returns the team's policy (the default when never set).
func (s *SLAService) GetPolicy(ctx context.Context, team string) (SLAPolicyView, error) {
	if team == "" {
		return SLAPolicyView{}, queries.ErrNoTeam
	}
	d, err := s.db.Get(ctx, slaPoliciesCollection, team)
	if errors.Is(err, readmodel.ErrNotFound) || (err == nil && queries.Str(d, "policy") == "") {
		return SLAPolicyView{Policy: vuln.DefaultSLAPolicy(), Default: true}, nil
	}
	if err != nil {
		return SLAPolicyView{}, fmt.Errorf("get sla policy: %w", err)
	}
	var p vuln.SLAPolicy
	if err := json.Unmarshal([]byte(queries.Str(d, "policy")), &p); err != nil {
		return SLAPolicyView{}, fmt.Errorf("get sla policy: %w", err)
	}
	out := SLAPolicyView{Policy: p}
	if vs := queries.Objs(d, "versions"); len(vs) > 0 {
		out.SetAt = queries.When(vs[len(vs)-1], "at")
	}
	return out, nil
}

// Breach is an open item past its due date.
type Breach struct {
	ID               string `json:"id"`
	Module           string `json:"module"`
	VulnerabilityID  string `json:"vulnerability_id,omitempty"`
	ArtifactID       string `json:"artifact_id,omitempty"`
	PackageName      string `json:"package_name,omitempty"`
	InstalledVersion string `json:"installed_version,omitempty"`
	// Cloud findings: the scope and resource of the imported finding.
	Provider    string    `json:"provider,omitempty"`
	Account     string    `json:"account,omitempty"`
	Region      string    `json:"region,omitempty"`
	Check       string    `json:"check,omitempty"`
	Resource    string    `json:"resource,omitempty"`
	Severity    string    `json:"severity"`
	KEV         bool      `json:"kev"`
	FirstSeen   time.Time `json:"first_seen"`
	DueAt       time.Time `json:"due_at"`
	DueSource   string    `json:"due_source"` // policy, kev
	OverdueDays int64     `json:"overdue_days"`
}

// BreachList is one page of breaches, most overdue first.
type BreachList struct {
	AsOf       time.Time `json:"as_of"`
	Items      []Breach  `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// BreachFilter narrows the breaches.
type BreachFilter struct {
	Module   string
	Severity string
	KEV      *bool
}

var slaSeverities = []string{"critical", "high", "medium", "low", "informational", "unknown"}

// ListBreaches returns one page of the team's open items past due, most
// overdue first.
func (s *SLAService) ListBreaches(ctx context.Context, team string, f BreachFilter, p queries.Page) (BreachList, error) {
	if team == "" {
		return BreachList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	module := strings.ToLower(strings.TrimSpace(f.Module))
	if module != "" && !queries.OneOf(vuln.SLAModules, module) {
		v.Add("module", "%q is not one of vulnerabilities, cloud_findings", f.Module)
	}
	sev := strings.ToLower(strings.TrimSpace(f.Severity))
	if sev != "" && !queries.OneOf(slaSeverities, sev) {
		v.Add("severity", "%q is not one of critical, high, medium, low, informational, unknown", f.Severity)
	}
	p.Check(&v)
	if err := v.Err(); err != nil {
		return BreachList{}, err
	}
	now := readmodel.NormalizeTime(s.now())
	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}
	terms = queries.AppendEq(terms, "module", module)
	terms = queries.AppendEq(terms, "severity", sev)
	if f.KEV != nil {
		terms = append(terms, readmodel.Eq("kev", *f.KEV))
	}
	terms = append(terms, readmodel.Eq("status", "open"), readmodel.Lt("due_at", now))
	page, err := queries.Find(ctx, s.db, slaClocksCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: []readmodel.SortField{readmodel.Asc("due_at")},
		Limit: p.Size(), Cursor: p.Cursor,
	})
	if err != nil {
		return BreachList{}, fmt.Errorf("list sla breaches: %w", err)
	}
	out := BreachList{AsOf: now, Items: make([]Breach, 0, len(page.Docs)), NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		due := queries.When(d, "due_at")
		out.Items = append(out.Items, Breach{ID: queries.Str(d, "_id"), Module: queries.Str(d, "module"),
			VulnerabilityID: queries.Str(d, "vulnerability_id"), ArtifactID: queries.Str(d, "artifact_id"),
			PackageName: queries.Str(d, "package"), InstalledVersion: queries.Str(d, "installed_version"),
			Provider: queries.Str(d, "provider"), Account: queries.Str(d, "account"), Region: queries.Str(d, "region"),
			Check: queries.Str(d, "check"), Resource: queries.Str(d, "resource"),
			Severity: queries.Str(d, "severity"), KEV: flag(d, "kev"), FirstSeen: queries.When(d, "first_seen"),
			DueAt: due, DueSource: queries.Str(d, "due_source"), OverdueDays: int64(now.Sub(due) / (24 * time.Hour))})
	}
	return out, nil
}

// SLACounts are the counts of one slice of a team's clocks (queries.SLACounts:
// the dashboard counts with the same code, decision 57).
type SLACounts = queries.SLACounts

// SLASummary is a team's counts, overall, by module and by severity.
type SLASummary struct {
	// AsOf is the time the counts are measured at (the request's). It is
	// not in the answer: the same data gives the same answer until a due
	// date passes.
	AsOf       time.Time            `json:"-"`
	Total      SLACounts            `json:"total"`
	ByModule   map[string]SLACounts `json:"by_module"`
	BySeverity map[string]SLACounts `json:"by_severity"`
}

// Summary counts the team's clocks from its summary document (open clocks
// are kept by due time, so breached and due soon are counted as of now).
func (s *SLAService) Summary(ctx context.Context, team string) (SLASummary, error) {
	if team == "" {
		return SLASummary{}, queries.ErrNoTeam
	}
	now := readmodel.NormalizeTime(s.now())
	out := SLASummary{AsOf: now, ByModule: map[string]SLACounts{}, BySeverity: map[string]SLACounts{}}
	d, err := s.db.Get(ctx, slaSummaryCollection, team)
	if errors.Is(err, readmodel.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return SLASummary{}, fmt.Errorf("get sla summary: %w", err)
	}
	out.Total, out.ByModule, out.BySeverity = queries.SLASummaryCounts(d, now)
	return out, nil
}

// Package securityscans holds the queries of the native security scans
// (Nuclei, ZAP, testssl.sh, SSLyze) over cspm_security_scans: a team's
// targets, and the latest results of every tool for one target with its
// open findings and its certificates judged by the clock (decision 60;
// docs/security-scans.md).
package securityscans

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	ssdomain "github.com/cspm-es/cspm-es/domain/securityscans"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The read models projections/securityscans writes.
const (
	targetResultsCollection = "target_results"
	targetsCollection       = "targets"
)

// Service runs the queries.
type Service struct {
	store queries.DocReader
	now   func() time.Time
}

// New returns the queries over the security-scans database; now is the
// clock certificates are judged by. It panics on a nil store or clock.
func New(store queries.DocReader, now func() time.Time) *Service {
	if store == nil || now == nil {
		panic("securityscans.New: a store or the clock is missing")
	}
	return &Service{store: store, now: now}
}

// ToolSummary is what one tool last said of a target.
type ToolSummary struct {
	Tool        string    `json:"tool"`
	EvaluatedAt time.Time `json:"evaluated_at,omitzero"`
	ScanID      string    `json:"scan_id,omitempty"`
	Failing     int64     `json:"failing"`
	Problems    int64     `json:"problems"`
}

// Target is a scanned target of the team.
type Target struct {
	ID              string        `json:"id"` // tgt-...: the {target} of /api/v1/targets/{target}/results
	Target          string        `json:"target"`
	Provider        string        `json:"provider"` // web, tls
	LastEvaluatedAt time.Time     `json:"last_evaluated_at,omitzero"`
	Failing         int64         `json:"failing"`
	Tools           []ToolSummary `json:"tools"`
}

// TargetList is one page of targets, by target.
type TargetList struct {
	Items      []Target `json:"items"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// Result is one result of a tool's latest evaluation of a target.
type Result struct {
	Check        string    `json:"check"`
	Resource     string    `json:"resource"`
	ResourceName string    `json:"resource_name,omitempty"`
	Result       string    `json:"result"` // fail, pass, manual
	Severity     string    `json:"severity,omitempty"`
	Muted        bool      `json:"muted,omitempty"`
	Detail       string    `json:"detail,omitempty"` // text, never HTML to render; raw requests capped at 1 KiB
	FindingID    string    `json:"finding_id,omitempty"`
	ObservedAt   time.Time `json:"observed_at"`
}

// Problem is a scan problem a tool reported on the target.
type Problem struct {
	Check   string `json:"check,omitempty"`
	Level   string `json:"level,omitempty"`
	Message string `json:"message"`
}

// Certificate is a certificate a tool saw on the target, judged now.
type Certificate struct {
	Tool              string    `json:"tool"`
	Cert              string    `json:"cert"`
	Subject           string    `json:"subject,omitempty"`
	NotBefore         time.Time `json:"not_before,omitzero"`
	NotAfter          time.Time `json:"not_after"`
	FingerprintSHA256 string    `json:"fingerprint_sha256,omitempty"`
	ObservedAt        time.Time `json:"observed_at"`
	Status            string    `json:"status"` // valid, expiring (30 days), expired: at the time of the query
	DaysLeft          int64     `json:"days_left"`
	// ExpiredSinceScan: valid when scanned, expired now (the clock's finding).
	ExpiredSinceScan bool `json:"expired_since_scan"`
}

// ToolResults is a tool's latest evaluation of the target.
type ToolResults struct {
	Tool        string           `json:"tool"`
	ToolVersion string           `json:"tool_version,omitempty"`
	Format      string           `json:"format,omitempty"`
	ImportID    string           `json:"import_id,omitempty"`
	ScanID      string           `json:"scan_id,omitempty"`
	EvaluatedAt time.Time        `json:"evaluated_at,omitzero"`
	Counts      map[string]int64 `json:"counts"`
	Truncated   bool             `json:"truncated,omitempty"`
	Results     []Result         `json:"results"`
	Problems    []Problem        `json:"problems"`
	ProblemsAt  time.Time        `json:"problems_at,omitzero"`
}

// OpenFinding is a finding open on the target: a failing result of a
// tool's latest evaluation, or a certificate the clock says has expired.
type OpenFinding struct {
	FindingID string `json:"finding_id,omitempty"` // /api/v1/findings/{id} (absent for the clock's findings)
	Tool      string `json:"tool"`
	Check     string `json:"check"`
	Resource  string `json:"resource"`
	Severity  string `json:"severity,omitempty"`
	Source    string `json:"source"` // scan, clock
}

// TargetResults is every tool's latest results for a target.
type TargetResults struct {
	ID           string        `json:"id"`
	Target       string        `json:"target"`
	Provider     string        `json:"provider"`
	AsOf         time.Time     `json:"as_of"`
	Tools        []ToolResults `json:"tools"`
	OpenFindings []OpenFinding `json:"open_findings"`
	Certificates []Certificate `json:"certificates"`
}

// ListTargets lists the team's targets, by target; provider ("web",
// "tls") narrows it.
func (s *Service) ListTargets(ctx context.Context, team, provider string, p queries.Page) (TargetList, error) {
	if team == "" {
		return TargetList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	v.Check(provider == "" || provider == "web" || provider == "tls", "provider", "must be web or tls")
	if err := v.Err(); err != nil {
		return TargetList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "provider", provider)
	page, err := queries.Find(ctx, s.store, targetsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: []readmodel.SortField{readmodel.Asc("target")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return TargetList{}, fmt.Errorf("list targets: %w", err)
	}
	out := TargetList{Items: make([]Target, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = targetOf(d)
	}
	return out, nil
}

func targetOf(d readmodel.Doc) Target {
	t := Target{ID: queries.Str(d, "target_id"), Target: queries.Str(d, "target"), Provider: queries.Str(d, "provider"),
		LastEvaluatedAt: queries.When(d, "last_evaluated_at"), Failing: queries.Num(d, "failing"), Tools: []ToolSummary{}}
	tools := queries.Obj(d, "tools")
	for _, name := range slices.Sorted(mapsKeys(tools)) {
		m, _ := tools[name].(map[string]any)
		t.Tools = append(t.Tools, ToolSummary{Tool: name, EvaluatedAt: queries.When(m, "evaluated_at"), ScanID: queries.Str(m, "scan_id"),
			Failing: queries.Num(m, "failing"), Problems: queries.Num(m, "problems")})
	}
	return t
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// GetTargetResults returns the latest results of every tool for the
// team's target; queries.ErrNotFound when the team has none.
func (s *Service) GetTargetResults(ctx context.Context, team, target string) (TargetResults, error) {
	if team == "" {
		return TargetResults{}, queries.ErrNoTeam
	}
	var t readmodel.Doc
	var err error
	if strings.HasPrefix(target, "tgt-") { // by its id
		var page readmodel.Page
		page, err = queries.Find(ctx, s.store, targetsCollection, readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("target_id", target)), Limit: 1})
		if err == nil && len(page.Docs) == 0 {
			err = readmodel.ErrNotFound
		}
		if err == nil {
			t = page.Docs[0]
		}
	} else {
		t, err = s.store.Get(ctx, targetsCollection, team+"/"+target)
	}
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return TargetResults{}, queries.NotFound("target", target)
	case err != nil:
		return TargetResults{}, fmt.Errorf("get target %q: %w", target, err)
	case queries.Str(t, "team_id") != team:
		return TargetResults{}, queries.NotFound("target", target)
	}
	now := s.now().UTC()
	target = queries.Str(t, "target")
	out := TargetResults{ID: queries.Str(t, "target_id"), Target: target, Provider: queries.Str(t, "provider"), AsOf: now,
		Tools: []ToolResults{}, OpenFindings: []OpenFinding{}, Certificates: []Certificate{}}
	cursor := ""
	for {
		page, err := queries.Find(ctx, s.store, targetResultsCollection, readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("target", target)),
			Sort:   []readmodel.SortField{readmodel.Asc("tool")}, Limit: 50, Cursor: cursor})
		if err != nil {
			return TargetResults{}, fmt.Errorf("target results %q: %w", target, err)
		}
		for _, d := range page.Docs {
			s.addTool(&out, d, now)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	slices.SortFunc(out.Tools, func(a, b ToolResults) int { return cmp.Compare(a.Tool, b.Tool) })
	return out, nil
}

func (s *Service) addTool(out *TargetResults, d readmodel.Doc, now time.Time) {
	tool := queries.Str(d, "tool")
	tr := ToolResults{Tool: tool, ToolVersion: queries.Str(d, "tool_version"), Format: queries.Str(d, "format"),
		ImportID: queries.Str(d, "import_id"), ScanID: queries.Str(d, "scan_id"), EvaluatedAt: queries.When(d, "evaluated_at"),
		Counts: map[string]int64{}, Truncated: d["truncated"] == true, Results: []Result{}, Problems: []Problem{},
		ProblemsAt: queries.When(d, "problems_at")}
	for k, v := range queries.Obj(d, "counts") {
		tr.Counts[k] = queries.Num(map[string]any{"n": v}, "n")
	}
	for _, r := range queries.Objs(d, "results") {
		res := Result{Check: queries.Str(r, "check"), Resource: queries.Str(r, "resource"), ResourceName: queries.Str(r, "resource_name"),
			Result: queries.Str(r, "result"), Severity: queries.Str(r, "severity"), Muted: r["muted"] == true,
			Detail: queries.Str(r, "detail"), FindingID: queries.Str(r, "finding_id"), ObservedAt: queries.When(r, "observed_at")}
		tr.Results = append(tr.Results, res)
		if res.Result == "fail" && !res.Muted {
			out.OpenFindings = append(out.OpenFindings, OpenFinding{FindingID: res.FindingID, Tool: tool, Check: res.Check,
				Resource: res.Resource, Severity: res.Severity, Source: "scan"})
		}
	}
	for _, p := range queries.Objs(d, "problems") {
		tr.Problems = append(tr.Problems, Problem{Check: queries.Str(p, "check"), Level: queries.Str(p, "level"), Message: queries.Str(p, "message")})
	}
	seenAt := queries.When(d, "certificates_at")
	for _, c := range queries.Objs(d, "certificates") {
		na := queries.When(c, "not_after")
		cert := Certificate{Tool: tool, Cert: queries.Str(c, "cert"), Subject: queries.Str(c, "subject"), NotBefore: queries.When(c, "not_before"),
			NotAfter: na, FingerprintSHA256: queries.Str(c, "fingerprint_sha256"), ObservedAt: seenAt,
			Status: ssdomain.CertificateStatus(na, now), DaysLeft: int64(na.Sub(now) / (24 * time.Hour)),
			ExpiredSinceScan: ssdomain.ExpiredSinceScan(na, seenAt, now)}
		out.Certificates = append(out.Certificates, cert)
		if cert.ExpiredSinceScan {
			out.OpenFindings = append(out.OpenFindings, OpenFinding{Tool: tool, Check: "certificate-expired", Resource: out.Target + "#" + cert.Cert,
				Severity: "high", Source: "clock"})
		}
	}
	out.Tools = append(out.Tools, tr)
}

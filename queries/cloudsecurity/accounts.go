package cloudsecurity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// accountsCollection is the accounts read model (cspm_cloud_security):
// the only collection of accounts the queries read (docs/accounts.md).
const accountsCollection = "enhanced_cloud_accounts"

// accountStatuses are the statuses of an account (a test checks they are
// the domain's).
var accountStatuses = []string{"active", "retired"}

// Account is one cloud account of a team.
type Account struct {
	ID           string            `json:"id"`
	Provider     string            `json:"provider"`
	UID          string            `json:"uid"`
	Name         string            `json:"name"`
	Organization string            `json:"organization,omitempty"`
	Tags         map[string]string `json:"tags"`
	// Status is active or retired; Registered whether a person registered
	// it (else it was first seen in an import).
	Status       string    `json:"status"`
	Registered   bool      `json:"registered"`
	RegisteredAt time.Time `json:"registered_at,omitzero"`
	RetiredAt    time.Time `json:"retired_at,omitzero"`
	// FirstSeen and LastSeen are the evaluation times of its first and
	// latest imported scans (absent before any).
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	LastScan  *ScanRef  `json:"last_scan,omitempty"`
	// OpenFindings counts its open findings (imported and raised through
	// the API).
	OpenFindings OpenFindings `json:"open_findings"`
	// Trend is, for each of its last 30 scans (oldest first), how many of
	// its findings the scan reported failing.
	Trend []TrendPoint `json:"trend"`
}

// ScanRef names a scan and when it evaluated.
type ScanRef struct {
	ScanID string    `json:"scan_id"`
	At     time.Time `json:"at"`
}

// OpenFindings counts open findings: in all, by severity, and how many of
// them the tool muted.
type OpenFindings struct {
	Total       int64            `json:"total"`
	BySeverity  map[string]int64 `json:"by_severity"`
	MutedByTool int64            `json:"muted_by_tool"`
}

// TrendPoint is one scan of an account's trend.
type TrendPoint struct {
	ScanID  string    `json:"scan_id"`
	At      time.Time `json:"at"`
	Failing int64     `json:"failing"`
}

// AccountList is one page of accounts, by name (then id).
type AccountList struct {
	Items      []Account `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// AccountFilter narrows ListAccounts; empty fields do not filter.
type AccountFilter struct {
	Provider string // lower case (any case accepted)
	Status   string // active or retired
}

// ListAccounts returns one page of the team's accounts, by name.
func (s *Service) ListAccounts(ctx context.Context, team string, f AccountFilter, p queries.Page) (AccountList, error) {
	if team == "" {
		return AccountList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	provider := strings.ToLower(strings.TrimSpace(f.Provider))
	queries.CheckText(&v, "provider", provider)
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && !queries.OneOf(accountStatuses, status) {
		v.Add("status", "%q is not one of active, retired", f.Status)
	}
	p.Check(&v)
	if err := v.Err(); err != nil {
		return AccountList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "provider", provider)
	terms = queries.AppendEq(terms, "status", status)
	page, err := queries.Find(ctx, s.cloudSecurity, accountsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Asc("name")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return AccountList{}, fmt.Errorf("list accounts: %w", err)
	}
	out := AccountList{Items: make([]Account, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = accountOf(d)
	}
	return out, nil
}

// GetAccount returns the team's account id; queries.ErrNotFound when the
// team has no such account (another team's included).
func (s *Service) GetAccount(ctx context.Context, team, id string) (Account, error) {
	if team == "" {
		return Account{}, queries.ErrNoTeam
	}
	d, err := s.cloudSecurity.Get(ctx, accountsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return Account{}, queries.NotFound("account", id)
	case err != nil:
		return Account{}, fmt.Errorf("get account %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return Account{}, queries.NotFound("account", id)
	}
	return accountOf(d), nil
}

// KnownAccount reports whether the team has account id, and its name: what
// the account commands ask before changing an account seen only in
// imports.
func (s *Service) KnownAccount(ctx context.Context, team, id string) (string, bool, error) {
	a, err := s.GetAccount(ctx, team, id)
	if errors.Is(err, queries.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return a.Name, true, nil
}

func accountOf(d readmodel.Doc) Account {
	a := Account{
		ID: queries.Str(d, "_id"), Provider: queries.Str(d, "provider"), UID: queries.Str(d, "uid"),
		Name: queries.Str(d, "name"), Organization: queries.Str(d, "organization"), Tags: map[string]string{},
		Status: queries.Str(d, "status"), RegisteredAt: queries.When(d, "registered_at"), RetiredAt: queries.When(d, "retired_at"),
		FirstSeen: queries.When(d, "first_seen"), LastSeen: queries.When(d, "last_seen"), Trend: []TrendPoint{},
	}
	a.Registered, _ = d["registered"].(bool)
	for _, t := range queries.Objs(d, "tags") {
		a.Tags[queries.Str(t, "key")] = queries.Str(t, "value")
	}
	if scan := queries.Str(d, "last_scan_scan"); scan != "" {
		a.LastScan = &ScanRef{ScanID: scan, At: queries.When(d, "last_scan_at")}
	}
	sev := queries.Obj(d, "open_by_severity")
	a.OpenFindings = OpenFindings{Total: queries.Num(d, "open_total"), MutedByTool: queries.Num(d, "open_muted_by_tool"),
		BySeverity: map[string]int64{}}
	for _, k := range []string{"critical", "high", "medium", "low", "informational"} {
		a.OpenFindings.BySeverity[k] = queries.Num(sev, k)
	}
	for _, p := range queries.Objs(d, "trend") {
		a.Trend = append(a.Trend, TrendPoint{ScanID: queries.Str(p, "scan_id"), At: queries.When(p, "at"), Failing: queries.Num(p, "failing")})
	}
	return a
}
